//! Claims read where they lie: the text is checked once and only its top level is indexed, so a
//! check that reads eight claims does not build a tree of the hundred it ignores.

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use crate::json;

/// A claim set (the JSON payload of an attestation token), read with JSON Pointers.
#[derive(Debug)]
pub struct Claims<'a> {
    /// The top-level members in order; a repeated name counts once, with its last value (as
    /// `serde_json::Value` would keep it).
    members: Members<'a>,
    /// The members of each nested object read so far, by the address of its text: each object on
    /// a pointer's way is scanned once, however many claims are read from it.
    objects: RefCell<Vec<(usize, Members<'a>)>>,
}

type Members<'a> = Vec<(Cow<'a, str>, &'a RawValue)>;

/// Claims that are not a JSON object.
#[derive(Debug)]
pub struct ClaimsError(pub String);

impl<'a> Claims<'a> {
    /// Parse claims as handed over by the host.
    pub fn parse(text: &'a str) -> Result<Self, ClaimsError> {
        match json::from_str::<Object<'a>>(text) {
            Ok(Object(members)) => Ok(Claims { members, objects: RefCell::default() }),
            Err(e) if e.is_data() => Err(ClaimsError("claims must be a JSON object".into())),
            Err(e) => Err(ClaimsError(format!("claims are not valid JSON: {e}"))),
        }
    }

    /// The claim at a JSON Pointer such as `/x-ms-isolation-tee/x-ms-attestation-type`, with the
    /// meaning of `serde_json::Value::pointer` (`""` is not a claim: the set is not one).
    pub fn get(&self, pointer: &str) -> Option<json::Value> {
        json::from_str(self.raw(pointer)?.get()).ok()
    }

    /// The claim at `pointer` when it is a string.
    pub fn str(&self, pointer: &str) -> Option<String> {
        json::from_str(self.raw(pointer)?.get()).ok()
    }

    /// The claim at `pointer` when it is `true` or `false`.
    pub fn bool(&self, pointer: &str) -> Option<bool> {
        json::from_str(self.raw(pointer)?.get()).ok()
    }

    /// The claim at `pointer` when it is a whole number from 0 to 2^64 - 1 (an SVN, a time).
    pub fn u64(&self, pointer: &str) -> Option<u64> {
        json::from_str(self.raw(pointer)?.get()).ok()
    }

    /// The claim at `pointer` for display: a string as it is, anything else as JSON.
    pub fn text(&self, pointer: &str) -> Option<String> {
        let value = self.get(pointer)?;
        Some(value.as_str().map_or_else(|| value.to_string(), str::to_owned))
    }

    /// The JSON text of the claim at `pointer`, as the token has it.
    pub fn raw(&self, pointer: &str) -> Option<&'a RawValue> {
        let mut tokens = pointer.strip_prefix('/')?.split('/').map(unescape);
        let first = tokens.next()?;
        let mut value = member(&self.members, &first)?;
        for token in tokens {
            value = match value.get().as_bytes().first()? {
                b'{' => self.member_of(value, &token)?,
                b'[' => element(value, index(&token)?)?,
                _ => return None,
            };
        }
        Some(value)
    }

    /// The member `name` of a nested object, whose members are indexed on first use.
    fn member_of(&self, object: &'a RawValue, name: &str) -> Option<&'a RawValue> {
        let key = object.get().as_ptr() as usize;
        let mut objects = self.objects.borrow_mut();
        let at = match objects.iter().position(|(k, _)| *k == key) {
            Some(at) => at,
            None => {
                let Object(members) = json::from_str(object.get()).ok()?;
                objects.push((key, members));
                objects.len() - 1
            }
        };
        member(&objects[at].1, name)
    }

    /// The top-level claims, their names and JSON text, in the token's order (a repeated name
    /// each time it appears).
    pub fn members(&self) -> impl Iterator<Item = (&str, &'a RawValue)> {
        self.members.iter().map(|(name, value)| (name.as_ref(), *value))
    }
}

/// A reference token with `~1` and `~0` decoded (RFC 6901).
fn unescape(token: &str) -> Cow<'_, str> {
    if token.contains('~') { token.replace("~1", "/").replace("~0", "~").into() } else { token.into() }
}

/// The last member called `name`.
fn member<'a>(members: &Members<'a>, name: &str) -> Option<&'a RawValue> {
    members.iter().rev().find(|(n, _)| n == name).map(|(_, value)| *value)
}

/// The element at `index` of an array.
fn element(array: &RawValue, index: usize) -> Option<&RawValue> {
    json::Deserializer::from_str(array.get()).deserialize_seq(Element(index)).ok()?
}

/// An array index as RFC 6901 writes it: digits, no sign, no leading zero.
fn index(token: &str) -> Option<usize> {
    if token.starts_with('+') || (token.starts_with('0') && token.len() > 1) {
        return None;
    }
    token.parse().ok()
}

/// The members of an object, their values unread.
struct Object<'a>(Members<'a>);

impl<'de> de::Deserialize<'de> for Object<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Collect;
        impl<'de> Visitor<'de> for Collect {
            type Value = Object<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object of claims")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                let mut members = Vec::new();
                while let Some(Name(name)) = map.next_key()? {
                    members.push((name, map.next_value()?));
                }
                Ok(Object(members))
            }
        }
        deserializer.deserialize_map(Collect)
    }
}

/// A member name, borrowed from the text unless it had escapes.
struct Name<'a>(Cow<'a, str>);

impl<'de> de::Deserialize<'de> for Name<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Text;
        impl<'de> Visitor<'de> for Text {
            type Value = Name<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Self::Value, E> {
                Ok(Name(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
                Ok(Name(Cow::Owned(s.to_owned())))
            }
        }
        deserializer.deserialize_str(Text)
    }
}

/// Finds one element of an array, skipping the others unread.
struct Element(usize);

impl<'de> Visitor<'de> for Element {
    type Value = Option<&'de RawValue>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array")
    }
    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Self::Value, S::Error> {
        let mut found = None;
        let mut i = 0;
        loop {
            if i == self.0 {
                found = seq.next_element()?;
                if found.is_none() {
                    break;
                }
            } else if seq.next_element::<IgnoredAny>()?.is_none() {
                break;
            }
            i += 1;
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Pointers into `value`: every path in it, and near misses of each.
    fn pointers(value: &json::Value, at: String, out: &mut Vec<String>) {
        out.push(at.clone());
        out.push(format!("{at}/missing"));
        match value {
            json::Value::Object(map) => {
                for (k, v) in map {
                    pointers(v, format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")), out);
                }
            }
            json::Value::Array(items) => {
                out.push(format!("{at}/{}", items.len()));
                out.push(format!("{at}/00"));
                out.push(format!("{at}/+0"));
                for (i, v) in items.iter().enumerate() {
                    pointers(v, format!("{at}/{i}"), out);
                }
            }
            _ => {}
        }
    }

    /// `Claims` answers as `serde_json::Value::pointer` does, for every pointer into `text`.
    fn agrees(text: &str) {
        let value: json::Value = json::from_str(text).unwrap();
        let claims = Claims::parse(text).unwrap();
        let mut all = vec!["".to_owned(), "x".to_owned(), "/".to_owned()];
        pointers(&value, String::new(), &mut all);
        for p in all.iter().filter(|p| !p.is_empty()) {
            let want = value.pointer(p);
            assert_eq!(claims.get(p).as_ref(), want, "pointer {p:?} in {text}");
            assert_eq!(claims.bool(p), want.and_then(json::Value::as_bool), "bool at {p:?} in {text}");
            assert_eq!(claims.u64(p), want.and_then(json::Value::as_u64), "u64 at {p:?} in {text}");
            assert_eq!(
                claims.str(p).as_deref(),
                want.and_then(json::Value::as_str),
                "str at {p:?} in {text}"
            );
        }
        assert_eq!(claims.get(""), None, "the set itself is not a claim");
    }

    #[test]
    fn reads_real_maa_claims_as_serde_json_does() {
        let token = include_str!("../testdata/sevsnpvm-claims.json");
        agrees(token);
        let claims = Claims::parse(token).unwrap();
        assert_eq!(claims.str("/x-ms-isolation-tee/x-ms-attestation-type").as_deref(), Some("sevsnpvm"));
        assert_eq!(claims.get("/secureboot"), Some(json::Value::Bool(true)));
        assert_eq!(claims.bool("/secureboot"), Some(true));
        assert_eq!(claims.u64("/x-ms-isolation-tee/x-ms-sevsnpvm-snpfw-svn"), Some(8));
    }

    #[test]
    fn escapes_repeats_and_indices() {
        agrees(r#"{"a/b":1,"m~n":2,"e\u0073c":{"q\"":[10,[20,21],{"":3}]},"d":1,"d":{"x":2}}"#);
        let claims = Claims::parse(r#"{"d":1,"d":{"x":2},"s":"\u00e9\n"}"#).unwrap();
        assert_eq!(claims.get("/d/x"), Some(json::json!(2)), "the last of a repeated name counts");
        assert_eq!(claims.str("/s").as_deref(), Some("é\n"));
        assert_eq!(claims.str("/d"), None, "not a string");
        assert_eq!(claims.text("/s").as_deref(), Some("é\n"));
        assert_eq!(claims.text("/d").as_deref(), Some(r#"{"x":2}"#));
        let names: Vec<&str> = claims.members().map(|(name, _)| name).collect();
        assert_eq!(names, ["d", "d", "s"]);
    }

    #[test]
    fn rejects_what_is_not_an_object_of_claims() {
        for (text, why) in [
            ("[1]", "must be a JSON object"),
            ("\"x\"", "must be a JSON object"),
            ("{\"a\":}", "not valid JSON"),
            ("{\"a\":1} x", "not valid JSON"),
            ("{\"a\":[1,}", "not valid JSON"),
            ("", "not valid JSON"),
        ] {
            let e = Claims::parse(text).unwrap_err();
            assert!(e.0.contains(why), "{text:?}: {}", e.0);
        }
    }

    fn any_json() -> impl Strategy<Value = json::Value> {
        let leaf = prop_oneof![
            Just(json::Value::Null),
            any::<bool>().prop_map(json::Value::from),
            any::<i64>().prop_map(json::Value::from),
            any::<u64>().prop_map(json::Value::from),
            (-1e6f64..1e6).prop_map(json::Value::from),
            "[a-z~/\"\\\\é ]{0,6}".prop_map(json::Value::from),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(json::Value::Array),
                prop::collection::btree_map("[a-z~/0-9]{0,4}", inner, 0..6)
                    .prop_map(|m| json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn agrees_with_serde_json(members in prop::collection::btree_map("[a-z~/0-9]{0,4}", any_json(), 0..6)) {
            agrees(&json::Value::Object(members.into_iter().collect()).to_string());
        }

        #[test]
        fn never_panics(text in "[{}\\[\\]\",:0-9a-z\\\\ ]{0,64}") {
            if let Ok(claims) = Claims::parse(&text) {
                let _ = claims.get("/a/0/b");
            }
        }
    }
}
