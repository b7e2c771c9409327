//! A token as received: the compact JWS (RFC 7515 §7.1), found in what the user gave — the token,
//! or MAA's answer `{"token": "…"}` — and split into its header, claims and signature. Nothing here
//! is trusted: the header and claims are JSON objects with no repeated key (so the bytes mean one
//! thing to everyone who reads them), nothing more.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Map, Value};

use super::error::Malformed;

/// A compact JWS, decoded but not verified.
#[derive(Debug, Clone)]
pub struct Jws {
    header: Map<String, Value>,
    claims: Map<String, Value>,
    /// `BASE64URL(header) . BASE64URL(payload)`, exactly as received: what the signature covers.
    signing_input: String,
    signature: Vec<u8>,
}

impl Jws {
    /// Parse a compact JWS (surrounding whitespace ignored).
    pub fn parse(token: &str) -> Result<Jws, Malformed> {
        let token = token.trim();
        let parts: Vec<&str> = token.split('.').collect();
        match parts.as_slice() {
            [header, payload, signature] => {
                let header_json = decode(header, "header")?;
                let claims = decode(payload, "payload")?;
                Ok(Jws {
                    header: object(&header_json, "header")?,
                    claims: object(&claims, "payload")?,
                    signing_input: format!("{header}.{payload}"),
                    signature: decode(signature, "signature")?,
                })
            }
            [""] => Err(Malformed::Empty),
            [_, _, _, _, _] => Err(Malformed::Jwe),
            parts => Err(Malformed::Parts(parts.len())),
        }
    }

    pub fn header(&self) -> &Map<String, Value> {
        &self.header
    }

    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }

    pub fn signing_input(&self) -> &[u8] {
        self.signing_input.as_bytes()
    }

    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// The header and the claims, taken out.
    pub fn into_parts(self) -> (Map<String, Value>, Map<String, Value>) {
        (self.header, self.claims)
    }
}

/// The compact JWS in `input`: the token itself, or MAA's answer `{"token": "<JWT>"}`; surrounding
/// whitespace ignored. MAA's encrypted AzureGuest answer is named as such.
pub fn extract(input: &str) -> Result<String, Malformed> {
    let input = input.trim();
    if input.is_empty() {
        return Err(Malformed::Empty);
    }
    let token = if input.starts_with('{') {
        let body =
            cvm_attest_formats::json::value_from_slice(input.as_bytes()).map_err(|_| Malformed::Body)?;
        body.get("token").and_then(Value::as_str).ok_or(Malformed::Body)?.trim().to_owned()
    } else {
        input.to_owned()
    };
    if !token.contains('.') && is_envelope(&token) {
        return Err(Malformed::Envelope);
    }
    Ok(token)
}

/// Whether `text` is the AzureGuest answer's token: base64url of a JSON envelope whose `Jwt` is
/// encrypted to the VM's ephemeral key (docs/protocol.md §10.5).
fn is_envelope(text: &str) -> bool {
    let Ok(bytes) = URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).or_else(|_| STANDARD.decode(text))
    else {
        return false;
    };
    serde_json::from_slice::<Map<String, Value>>(&bytes)
        .is_ok_and(|envelope| envelope.contains_key("Jwt") && envelope.contains_key("EncryptedInnerKey"))
}

/// A part's bytes: base64url without padding (RFC 7515 §2), canonical.
fn decode(part: &str, name: &'static str) -> Result<Vec<u8>, Malformed> {
    URL_SAFE_NO_PAD.decode(part).map_err(|_| Malformed::Base64 { part: name })
}

/// A JSON object with no repeated key, at any depth.
fn object(bytes: &[u8], part: &'static str) -> Result<Map<String, Value>, Malformed> {
    match cvm_attest_formats::json::value_from_slice(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(Malformed::Json { part, reason: "not an object".into() }),
        Err(e) => Err(Malformed::Json { part, reason: e.to_string() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(text: &str) -> String {
        URL_SAFE_NO_PAD.encode(text)
    }

    #[test]
    fn parses_a_compact_jws_and_keeps_the_signing_input() {
        let token = format!("{}.{}.{}", b64(r#"{"alg":"RS256"}"#), b64(r#"{"iss":"x"}"#), b64("sig"));
        let jws = Jws::parse(&format!("  {token}\n")).expect("valid");
        assert_eq!(jws.header()["alg"], "RS256");
        assert_eq!(jws.claims()["iss"], "x");
        assert_eq!(jws.signature(), b"sig");
        assert_eq!(jws.signing_input(), token.rsplit_once('.').expect("dot").0.as_bytes());
    }

    #[test]
    fn refuses_what_is_not_a_compact_jws() {
        let (h, p) = (b64(r#"{"alg":"RS256"}"#), b64("{}"));
        assert!(matches!(Jws::parse(""), Err(Malformed::Empty)));
        assert!(matches!(Jws::parse(&format!("{h}.{p}")), Err(Malformed::Parts(2))));
        assert!(matches!(Jws::parse(&format!("{h}.{p}.a.b.c")), Err(Malformed::Jwe)));
        assert!(matches!(Jws::parse(&format!("{h}=.{p}.")), Err(Malformed::Base64 { part: "header" })));
        assert!(matches!(
            Jws::parse(&format!("{h}.{}.", b64("[1]"))),
            Err(Malformed::Json { part: "payload", .. })
        ));
        // Repeated keys would let two readers see different claims.
        let twice = b64(r#"{"iss":"a","iss":"b"}"#);
        let err = Jws::parse(&format!("{h}.{twice}.")).unwrap_err();
        assert!(err.to_string().contains("duplicate key"), "{err}");
    }

    #[test]
    fn finds_the_token_in_maa_answers() {
        assert_eq!(extract(" a.b.c\n").expect("token"), "a.b.c");
        assert_eq!(extract(r#"{"token": "a.b.c"}"#).expect("body"), "a.b.c");
        assert!(matches!(extract(r#"{"token": 1}"#), Err(Malformed::Body)));
        assert!(matches!(extract(r#"{"token": "a", "token": "b"}"#), Err(Malformed::Body)));
        assert!(matches!(extract("\n"), Err(Malformed::Empty)));
        let envelope = b64(r#"{"Jwt":"x","EncryptedInnerKey":"y","EncryptionParams":{}}"#);
        let err = extract(&format!(r#"{{"token": "{envelope}"}}"#)).unwrap_err();
        assert!(matches!(err, Malformed::Envelope), "{err}");
    }
}
