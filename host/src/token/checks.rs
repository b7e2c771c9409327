//! The checks of one token, each on its own: the header's algorithm, the issuer, the signature, the
//! lifetime and the nonce (docs/protocol.md §11.4).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use cvm_attest_formats::time::DateTime;
use serde_json::{Map, Value};

use super::error::{Rejection, quote};
use super::issuer::Issuer;
use super::jwks::VerifyingKey;
use super::jws::Jws;

/// Where an `azurevm` (AzureGuest) token echoes the nonce: base64 of its bytes, as sent in the
/// request's `ClientPayload` (docs/protocol.md §9).
pub const GUEST_NONCE_CLAIM: &str = "x-ms-runtime.client-payload.nonce";
/// Where a platform token (`sevsnpvm`, `tdxvm`, and MAA's other `/attest/*` APIs) echoes it: the
/// request's `nonce` string.
pub const PLATFORM_NONCE_CLAIM: &str = "nonce";

/// The `kid` of a header that may be verified: `alg` RS256, no `crit`. Whatever the header says
/// about where keys are (`jku`, `x5u`, `x5c`, `jwk`) is ignored: keys come from the expected issuer.
pub fn header(header: &Map<String, Value>) -> Result<&str, Rejection> {
    match header.get("alg") {
        Some(Value::String(alg)) if alg == "RS256" => {}
        Some(Value::String(alg)) => return Err(Rejection::Algorithm { alg: alg.clone() }),
        Some(other) => return Err(Rejection::Algorithm { alg: other.to_string() }),
        None => return Err(Rejection::NoAlgorithm),
    }
    // RFC 7515 §4.1.11: an extension the verifier does not understand must fail it.
    if header.contains_key("crit") {
        return Err(Rejection::Critical);
    }
    match header.get("kid").and_then(Value::as_str) {
        Some(kid) if !kid.is_empty() => Ok(kid),
        _ => Err(Rejection::NoKeyId),
    }
}

pub fn issuer(claims: &Map<String, Value>, expected: &Issuer) -> Result<(), Rejection> {
    match claims.get("iss") {
        Some(Value::String(iss)) if expected.matches(iss) => Ok(()),
        Some(Value::String(iss)) => {
            Err(Rejection::Issuer { found: iss.clone(), expected: expected.as_str().to_owned() })
        }
        Some(other) => {
            Err(Rejection::Issuer { found: other.to_string(), expected: expected.as_str().to_owned() })
        }
        None => Err(Rejection::NoIssuer),
    }
}

/// RSASSA-PKCS1-v1_5 with SHA-256 (RS256, RFC 7518 §3.3) over the signing input as received.
pub fn signature(key: &VerifyingKey, jws: &Jws) -> bool {
    key.verify(jws.signing_input(), jws.signature())
}

/// `exp` (required), `nbf` and `iat` against `at` (Unix seconds), each allowed `skew` seconds of
/// clock difference between the issuer and this machine.
pub fn lifetime(claims: &Map<String, Value>, at: i64, skew: u64) -> Result<(), Rejection> {
    let skew_s = i64::try_from(skew).unwrap_or(i64::MAX);
    let when = || time_text(at);
    let exp = numeric_date(claims, "exp")?.ok_or(Rejection::NoExpiry)?;
    if at >= exp.saturating_add(skew_s) {
        return Err(Rejection::Expired { exp: time_text(exp), at: when(), skew });
    }
    if let Some(nbf) = numeric_date(claims, "nbf")?
        && at.saturating_add(skew_s) < nbf
    {
        return Err(Rejection::NotYetValid { nbf: time_text(nbf), at: when(), skew });
    }
    if let Some(iat) = numeric_date(claims, "iat")?
        && iat > at.saturating_add(skew_s)
    {
        return Err(Rejection::IssuedInFuture { iat: time_text(iat), at: when(), skew });
    }
    Ok(())
}

/// A NumericDate claim (RFC 7519 §2) in whole seconds, within the years RFC 3339 can write.
pub fn numeric_date(claims: &Map<String, Value>, claim: &'static str) -> Result<Option<i64>, Rejection> {
    match claims.get(claim) {
        None => Ok(None),
        Some(value) => match value.as_i64() {
            Some(seconds) if DateTime::from_unix_seconds(seconds).is_some() => Ok(Some(seconds)),
            _ => Err(Rejection::BadTime { claim }),
        },
    }
}

/// `seconds` as RFC 3339 (or the number, outside the years 0-9999).
pub fn time_text(seconds: i64) -> String {
    DateTime::from_unix_seconds(seconds).map_or_else(|| seconds.to_string(), |t| t.as_str().to_owned())
}

/// The claim that echoes the nonce in tokens of this kind.
pub fn nonce_claim(claims: &Map<String, Value>) -> &'static str {
    match claims.get("x-ms-attestation-type").and_then(Value::as_str) {
        Some("azurevm") => GUEST_NONCE_CLAIM,
        _ => PLATFORM_NONCE_CLAIM,
    }
}

/// The token echoes `expected`: for a guest token, base64 of its bytes in the client payload (any
/// base64 flavour, as clients differ); for others, the `nonce` string's bytes.
pub fn nonce(claims: &Map<String, Value>, expected: &[u8]) -> Result<(), Rejection> {
    let claim = nonce_claim(claims);
    let found = if claim == GUEST_NONCE_CLAIM {
        claims.get("x-ms-runtime").and_then(|r| r.get("client-payload")).and_then(|p| p.get("nonce"))
    } else {
        claims.get(PLATFORM_NONCE_CLAIM)
    };
    let found = found.ok_or(Rejection::NoNonce { claim })?;
    let Some(text) = found.as_str() else {
        return Err(Rejection::Nonce {
            claim,
            found: found.to_string(),
            expected: describe(expected, claim),
        });
    };
    let bytes = if claim == GUEST_NONCE_CLAIM {
        cvm_attest_formats::encoding::base64_any(text)
    } else {
        Some(text.as_bytes().to_vec())
    };
    if bytes.as_deref() == Some(expected) {
        Ok(())
    } else {
        Err(Rejection::Nonce { claim, found: text.to_owned(), expected: describe(expected, claim) })
    }
}

/// The expected nonce as a person would recognise it: as text when it is, else hex; with the base64
/// a guest token would carry.
fn describe(nonce: &[u8], claim: &str) -> String {
    let shown = match std::str::from_utf8(nonce) {
        Ok(text) if !text.chars().any(char::is_control) => quote(text),
        _ => format!("(hex) {}", hex::encode(nonce)),
    };
    if claim == GUEST_NONCE_CLAIM { format!("{shown} (base64 {})", STANDARD.encode(nonce)) } else { shown }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn map(value: Value) -> Map<String, Value> {
        value.as_object().cloned().expect("object")
    }

    #[test]
    fn only_rs256_without_crit_and_with_a_kid() {
        assert_eq!(
            header(&map(json!({"alg": "RS256", "kid": "k", "jku": "https://evil/"}))).expect("ok"),
            "k"
        );
        for alg in ["none", "HS256", "ES256", "PS256", "RS384", "rs256"] {
            let err = header(&map(json!({"alg": alg, "kid": "k"}))).unwrap_err();
            assert!(matches!(err, Rejection::Algorithm { .. }), "{alg}: {err}");
        }
        assert!(matches!(header(&map(json!({"alg": ["RS256"]}))), Err(Rejection::Algorithm { .. })));
        assert!(matches!(header(&map(json!({"kid": "k"}))), Err(Rejection::NoAlgorithm)));
        assert!(matches!(
            header(&map(json!({"alg": "RS256", "kid": "k", "crit": ["b64"]}))),
            Err(Rejection::Critical)
        ));
        assert!(matches!(header(&map(json!({"alg": "RS256", "kid": ""}))), Err(Rejection::NoKeyId)));
    }

    #[test]
    fn lifetime_with_skew() {
        let claims = map(json!({"iat": 1000, "nbf": 1000, "exp": 2000}));
        assert!(lifetime(&claims, 1500, 0).is_ok());
        assert!(lifetime(&claims, 1999, 0).is_ok());
        assert!(matches!(lifetime(&claims, 2000, 0), Err(Rejection::Expired { .. })), "exp is exclusive");
        assert!(lifetime(&claims, 2059, 60).is_ok());
        assert!(matches!(lifetime(&claims, 2060, 60), Err(Rejection::Expired { .. })));
        assert!(matches!(lifetime(&claims, 939, 60), Err(Rejection::NotYetValid { .. })));
        assert!(lifetime(&claims, 940, 60).is_ok());
        let future = map(json!({"iat": 1100, "exp": 2000}));
        assert!(matches!(lifetime(&future, 1000, 60), Err(Rejection::IssuedInFuture { .. })));
        assert!(matches!(lifetime(&map(json!({"iat": 1})), 2, 0), Err(Rejection::NoExpiry)));
        for bad in [json!("2000"), json!(2000.5), json!(i64::MAX), json!(-1e20)] {
            let err = lifetime(&map(json!({"exp": bad})), 1, 0).unwrap_err();
            assert!(matches!(err, Rejection::BadTime { claim: "exp" }), "{err}");
        }
        let err = lifetime(&claims, 2000, 0).unwrap_err().to_string();
        assert_eq!(
            err,
            "exp 1970-01-01T00:33:20Z: the token had expired at 1970-01-01T00:33:20Z (clock skew allowed: 0 s)"
        );
    }

    #[test]
    fn guest_tokens_echo_the_nonce_in_base64_platform_tokens_as_is() {
        let guest = map(json!({"x-ms-attestation-type": "azurevm",
            "x-ms-runtime": {"client-payload": {"nonce": "QURFMDEwMQ=="}}}));
        assert!(nonce(&guest, b"ADE0101").is_ok());
        let err = nonce(&guest, b"ADE0102").unwrap_err().to_string();
        assert!(err.contains("x-ms-runtime.client-payload.nonce") && err.contains("QURFMDEwMg=="), "{err}");
        let unpadded = map(json!({"x-ms-attestation-type": "azurevm",
            "x-ms-runtime": {"client-payload": {"nonce": "QURFMDEwMQ"}}}));
        assert!(nonce(&unpadded, b"ADE0101").is_ok());
        let none = map(json!({"x-ms-attestation-type": "azurevm", "nonce": "ADE0101"}));
        assert!(matches!(nonce(&none, b"ADE0101"), Err(Rejection::NoNonce { claim: GUEST_NONCE_CLAIM })));

        let platform = map(json!({"x-ms-attestation-type": "sevsnpvm", "nonce": "noncesevsnp987"}));
        assert!(nonce(&platform, b"noncesevsnp987").is_ok());
        assert!(matches!(nonce(&platform, b"other"), Err(Rejection::Nonce { claim: "nonce", .. })));
        let err = nonce(&map(json!({"x-ms-attestation-type": "tdxvm"})), b"n").unwrap_err();
        assert!(matches!(err, Rejection::NoNonce { claim: "nonce" }), "{err}");
        let err = nonce(&platform, &[0, 255]).unwrap_err().to_string();
        assert!(err.contains("(hex) 00ff"), "{err}");
    }
}
