//! Strict JSON: serde_json, except that no object may repeat a key, at any depth.
//!
//! serde_json keeps the last of repeated keys in maps and [`serde_json::Value`] (it refuses them
//! only for a struct's own fields), and other parsers keep the first or refuse: the same bytes
//! would then mean different things to the signer, this crate and whoever reads them next. Every
//! JSON input this crate parses goes through here, and so should the inputs of tools built on it.
//!
//! A first pass walks the document with a serde visitor that remembers each object's keys and
//! stops at the first repeat; the second is serde_json's own parse into the requested type. Both
//! keep serde_json's nesting limit (128), so neither recurses without bound.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::fmt;

use serde::de::{self, DeserializeOwned, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// Why bytes were refused as strict JSON.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Not JSON, nested deeper than 128, or not of the requested type (serde_json's message, with
    /// its line and column).
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    /// An object repeats a key. `pointer` is the JSON Pointer (RFC 6901) of the repeated member.
    #[error(
        "duplicate key {key:?} at {pointer} (line {line}, column {column}): a JSON object may not repeat a key"
    )]
    DuplicateKey { key: String, pointer: String, line: usize, column: usize },
}

impl Error {
    /// The 1-based line of the error (0 when serde_json gives none, e.g. for a type error after
    /// the whole input was read).
    pub fn line(&self) -> usize {
        match self {
            Error::Json(err) => err.line(),
            Error::DuplicateKey { line, .. } => *line,
        }
    }

    /// The 1-based column of the error (0 when serde_json gives none).
    pub fn column(&self) -> usize {
        match self {
            Error::Json(err) => err.column(),
            Error::DuplicateKey { column, .. } => *column,
        }
    }
}

/// Deserialize `T` from JSON bytes, refusing repeated object keys anywhere in them.
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    check_unique_keys(bytes)?;
    Ok(serde_json::from_slice(bytes)?)
}

/// [`from_slice`] for text.
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, Error> {
    from_slice(text.as_bytes())
}

/// Any JSON value, refusing repeated object keys anywhere in it.
pub fn value_from_slice(bytes: &[u8]) -> Result<serde_json::Value, Error> {
    from_slice(bytes)
}

/// Walk the whole document once; `Ok` when it is JSON and no object repeats a key.
fn check_unique_keys(bytes: &[u8]) -> Result<(), Error> {
    let duplicate = RefCell::new(None);
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let walked = UniqueKeys { duplicate: &duplicate }.deserialize(&mut deserializer);
    match walked.and_then(|()| deserializer.end()) {
        Ok(()) => Ok(()),
        Err(err) => Err(match duplicate.into_inner() {
            Some(Duplicate { key, mut path }) => {
                path.reverse();
                Error::DuplicateKey { key, pointer: pointer(&path), line: err.line(), column: err.column() }
            }
            None => Error::Json(err),
        }),
    }
}

/// One step of a path into a document.
enum Segment {
    Key(String),
    Index(usize),
}

/// The repeated key, and the path to it, innermost segment first (it is built while the error
/// unwinds, so the walk costs nothing for paths until a duplicate is found).
struct Duplicate {
    key: String,
    path: Vec<Segment>,
}

/// RFC 6901: `/`-separated segments, `~` escaped as `~0` and `/` as `~1`.
fn pointer(path: &[Segment]) -> String {
    let mut out = String::new();
    for segment in path {
        out.push('/');
        match segment {
            Segment::Key(key) => out.push_str(&key.replace('~', "~0").replace('/', "~1")),
            Segment::Index(index) => out.push_str(&index.to_string()),
        }
    }
    out
}

/// The visitor of the first pass: accepts any value, refuses a repeated key.
#[derive(Clone, Copy)]
struct UniqueKeys<'s> {
    duplicate: &'s RefCell<Option<Duplicate>>,
}

impl UniqueKeys<'_> {
    /// On the way out of a failed walk, record where it was, if it failed on a duplicate.
    fn within(&self, segment: Segment) {
        if let Some(duplicate) = self.duplicate.borrow_mut().as_mut() {
            duplicate.path.push(segment);
        }
    }
}

impl<'de> DeserializeSeed<'de> for UniqueKeys<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for UniqueKeys<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0;
        loop {
            match seq.next_element_seed(self) {
                Ok(Some(())) => index += 1,
                Ok(None) => return Ok(()),
                Err(err) => {
                    self.within(Segment::Index(index));
                    return Err(err);
                }
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = BTreeSet::new();
        // Keys as serde_json unescapes them: `"a"` and `"\u0061"` are the same key.
        while let Some(key) = map.next_key::<String>()? {
            if seen.contains(&key) {
                *self.duplicate.borrow_mut() =
                    Some(Duplicate { key: key.clone(), path: vec![Segment::Key(key)] });
                return Err(de::Error::custom("duplicate key"));
            }
            if let Err(err) = map.next_value_seed(self) {
                self.within(Segment::Key(key));
                return Err(err);
            }
            seen.insert(key);
        }
        Ok(())
    }
}
