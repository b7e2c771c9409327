//! JSON Web Key Sets (RFC 7517 §5) as MAA serves them at `/certs`: RSA keys named by `kid`, each
//! carried as the certificate `x5c[0]` (MAA's shape) and/or as `n`/`e` (the usual JWK shape). Every
//! entry is read once, when the set is, so that verifying a token is a map lookup; an entry that
//! cannot be used is kept with the reason, which only a token naming its `kid` sees.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use rsa::traits::PublicKeyParts;
use std::sync::Arc;

use aws_lc_rs::signature::{ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
use rsa::pkcs1::EncodeRsaPublicKey;
use rsa::{BigUint, RsaPublicKey};
use serde_json::{Map, Value};
use x509_cert::der::Decode;
use x509_cert::der::referenced::OwnedToRef as _;

/// The smallest RSA modulus accepted for a token signing key.
pub const MIN_RSA_BITS: usize = 2048;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwksError {
    #[error("not a JSON Web Key Set {{\"keys\": [...]}}: {0}")]
    NotJwks(String),
    #[error("kid {} names {count} keys, so which one signs is ambiguous", super::error::quote(kid))]
    DuplicateKid { kid: String, count: usize },
    #[error("key {}: {reason}", super::error::quote(kid))]
    Key { kid: String, reason: String },
}

/// The usable keys of a JWKS, by `kid`.
#[derive(Debug, Clone)]
pub struct KeySet {
    /// Each entry's key, or why it cannot be used; a list because a `kid` may repeat.
    keys: HashMap<String, Vec<Result<VerifyingKey, String>>>,
}

/// An RS256 verification key, parsed once for AWS-LC (whose RSA is 20 times faster than the `rsa`
/// crate's, and faster again with the key's Montgomery constants kept).
#[derive(Clone)]
pub struct VerifyingKey {
    rsa: RsaPublicKey,
    parsed: Arc<ParsedPublicKey>,
}

impl std::fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("VerifyingKey").field(&self.rsa).finish()
    }
}

impl PartialEq for VerifyingKey {
    fn eq(&self, other: &Self) -> bool {
        self.rsa == other.rsa
    }
}

impl VerifyingKey {
    fn new(key: &RsaPublicKey) -> Result<VerifyingKey, String> {
        let der = key.to_pkcs1_der().map_err(|e| format!("cannot encode the key: {e}"))?;
        ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, der.as_bytes())
            .map(|parsed| VerifyingKey { rsa: key.clone(), parsed: Arc::new(parsed) })
            .map_err(|e| format!("not an RS256 key: {e}"))
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256 over `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        self.parsed.verify_sig(message, signature).is_ok()
    }

    /// The key's modulus and exponent.
    pub fn rsa(&self) -> &RsaPublicKey {
        &self.rsa
    }
}

impl KeySet {
    /// Read a JWKS (no repeated JSON keys). Entries without a `kid` are left out: a token names its key.
    pub fn parse(bytes: &[u8]) -> Result<KeySet, JwksError> {
        let value = cvm_attest_formats::json::value_from_slice(bytes)
            .map_err(|e| JwksError::NotJwks(e.to_string()))?;
        let entries = value
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| JwksError::NotJwks("no \"keys\" array".into()))?;
        let mut keys: HashMap<String, Vec<_>> = HashMap::new();
        for entry in entries {
            let Some(entry) = entry.as_object() else {
                return Err(JwksError::NotJwks("a key is not a JSON object".into()));
            };
            if let Some(kid) = entry.get("kid").and_then(Value::as_str) {
                keys.entry(kid.to_owned())
                    .or_default()
                    .push(rsa_key(entry).and_then(|key| VerifyingKey::new(&key)));
            }
        }
        Ok(KeySet { keys })
    }

    /// How many named keys the set has (usable or not).
    pub fn len(&self) -> usize {
        self.keys.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The verification key named `kid`; `None` when the set has no such key.
    pub fn key(&self, kid: &str) -> Result<Option<&VerifyingKey>, JwksError> {
        match self.keys.get(kid).map(Vec::as_slice) {
            None | Some([]) => Ok(None),
            Some([Ok(key)]) => Ok(Some(key)),
            Some([Err(reason)]) => Err(JwksError::Key { kid: kid.to_owned(), reason: reason.clone() }),
            Some(many) => Err(JwksError::DuplicateKid { kid: kid.to_owned(), count: many.len() }),
        }
    }
}

/// The RSA signing key of one JWK: the public key of `x5c[0]`, or `n`/`e`; when both are given they
/// must be the same key, so that no reader can pick a different one.
fn rsa_key(jwk: &Map<String, Value>) -> Result<RsaPublicKey, String> {
    let member = |name: &str| jwk.get(name).and_then(Value::as_str);
    if member("kty") != Some("RSA") {
        return Err("kty is not RSA".into());
    }
    if jwk.get("use").is_some_and(|u| u != "sig") {
        return Err("its use is not sig".into());
    }
    if jwk.get("alg").is_some_and(|a| a != "RS256") {
        return Err("its alg is not RS256".into());
    }
    let from_cert = match jwk.get("x5c") {
        Some(chain) => Some(certificate_key(chain)?),
        None => None,
    };
    let from_jwk = match (member("n"), member("e")) {
        (Some(n), Some(e)) => Some(modulus_key(n, e)?),
        (None, None) => None,
        _ => return Err("it has only one of n and e".into()),
    };
    let key = match (from_cert, from_jwk) {
        (Some(cert), Some(jwk)) if cert != jwk => return Err("n and e are not the key of x5c[0]".into()),
        (Some(key), _) | (None, Some(key)) => key,
        (None, None) => return Err("it has neither x5c nor n and e".into()),
    };
    let bits = key.n().bits();
    if bits < MIN_RSA_BITS {
        return Err(format!("the RSA key has {bits} bits, fewer than {MIN_RSA_BITS}"));
    }
    Ok(key)
}

/// The public key of the first certificate of `x5c` (base64 DER, RFC 7517 §4.7). The certificate is
/// a container for the key: MAA's signing certificates are self-issued, and what vouches for them is
/// that the set came from the issuer over TLS (or from the operator).
fn certificate_key(chain: &Value) -> Result<RsaPublicKey, String> {
    let first =
        chain.as_array().and_then(|c| c.first()).and_then(Value::as_str).ok_or("x5c has no certificate")?;
    let der = STANDARD
        .decode(first)
        .or_else(|_| STANDARD_NO_PAD.decode(first))
        .map_err(|_| "x5c[0] is not base64")?;
    let cert =
        x509_cert::Certificate::from_der(&der).map_err(|e| format!("x5c[0] is not a certificate ({e})"))?;
    RsaPublicKey::try_from(cert.tbs_certificate.subject_public_key_info.owned_to_ref())
        .map_err(|e| format!("x5c[0] does not hold an RSA key ({e})"))
}

fn modulus_key(n: &str, e: &str) -> Result<RsaPublicKey, String> {
    let number = |text: &str, name: &str| {
        URL_SAFE_NO_PAD
            .decode(text)
            .map(|b| BigUint::from_bytes_be(&b))
            .map_err(|_| format!("{name} is not base64url"))
    };
    RsaPublicKey::new(number(n, "n")?, number(e, "e")?)
        .map_err(|e| format!("n and e are not a usable RSA key ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHAREDWUS: &[u8] = include_bytes!("../../testdata/token/sharedwus-certs-2022-05-31.json");
    const KID: &str = "XxRc2vLh1E5FrsNawnRH3PzuFgqg3q7NvCdnjoJHBGE=";

    fn sharedwus_entry() -> Map<String, Value> {
        let set: Value = serde_json::from_slice(SHAREDWUS).expect("JSON");
        let keys = set["keys"].as_array().expect("keys");
        keys.iter().find(|k| k["kid"] == KID).and_then(Value::as_object).cloned().expect("the signing key")
    }

    fn set_of(entries: &[Value]) -> Vec<u8> {
        serde_json::json!({ "keys": entries }).to_string().into_bytes()
    }

    #[test]
    fn reads_maa_certs_by_kid() {
        let set = KeySet::parse(SHAREDWUS).expect("MAA's /certs");
        assert_eq!(set.len(), 3);
        assert_eq!(set.key(KID).expect("usable").expect("present").rsa().n().bits(), 2048);
        assert!(set.key("D5DR62_fG0AlpALMbsP-wriTWjU").expect("usable").is_some(), "x5c chains use x5c[0]");
        assert!(set.key("nope").expect("no error").is_none());
    }

    #[test]
    fn n_and_e_must_be_the_key_of_the_certificate() {
        let key = KeySet::parse(SHAREDWUS).expect("set").key(KID).expect("ok").expect("key").clone();
        let mut entry = sharedwus_entry();
        entry.insert("n".into(), URL_SAFE_NO_PAD.encode(key.rsa().n().to_bytes_be()).into());
        entry.insert("e".into(), URL_SAFE_NO_PAD.encode(key.rsa().e().to_bytes_be()).into());
        let set = KeySet::parse(&set_of(&[Value::Object(entry.clone())])).expect("set");
        assert_eq!(set.key(KID).expect("agree").expect("present"), &key);

        let mut other = key.rsa().n().to_bytes_be();
        other[200] ^= 1;
        entry.insert("n".into(), URL_SAFE_NO_PAD.encode(other).into());
        let set = KeySet::parse(&set_of(&[Value::Object(entry)])).expect("set");
        let err = set.key(KID).unwrap_err();
        assert!(err.to_string().contains("not the key of x5c[0]"), "{err}");
    }

    #[test]
    fn unusable_entries_fail_only_for_their_kid() {
        let small =
            RsaPublicKey::new(BigUint::from_bytes_be(&[0xc5; 128]), BigUint::from(65537u32)).expect("key");
        let entries = [
            serde_json::json!({ "kid": "small", "kty": "RSA", "n": URL_SAFE_NO_PAD.encode(small.n().to_bytes_be()), "e": "AQAB" }),
            serde_json::json!({ "kid": "ec", "kty": "EC", "crv": "P-256" }),
            serde_json::json!({ "kid": "enc", "kty": "RSA", "use": "enc", "e": "AQAB" }),
            serde_json::json!({ "kid": "half", "kty": "RSA", "e": "AQAB" }),
            serde_json::json!({ "kid": "twice", "kty": "RSA" }),
            serde_json::json!({ "kid": "twice", "kty": "RSA" }),
            Value::Object(sharedwus_entry()),
        ];
        let set = KeySet::parse(&set_of(&entries)).expect("set");
        let reason = |kid: &str| set.key(kid).unwrap_err().to_string();
        assert!(reason("small").contains("1024 bits, fewer than 2048"), "{}", reason("small"));
        assert!(reason("ec").contains("kty is not RSA"));
        assert!(reason("enc").contains("use is not sig"));
        assert!(reason("half").contains("only one of n and e"));
        assert!(reason("twice").contains("ambiguous"));
        assert!(set.key(KID).expect("the good one still works").is_some());
    }

    #[test]
    fn refuses_what_is_not_a_jwks() {
        for bad in
            [&b"[]"[..], b"{\"keys\": {}}", b"{\"keys\": [1]}", b"{\"keys\": [], \"keys\": []}", b"not json"]
        {
            assert!(
                matches!(KeySet::parse(bad), Err(JwksError::NotJwks(_))),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
