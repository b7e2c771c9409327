//! Tokens as MAA issues them (docs/protocol.md §11.4): RS256 compact JWS with the header
//! `{"alg":"RS256","jku":"<base>/certs","kid":…,"typ":"JWT"}`, and the standard claims every MAA token
//! carries; the signing key's `/certs` (JWKS) entry and the OpenID metadata that name it.
//!
//! Compared with the real tokens (`formats/testdata/maa/`, the REST examples): the header's members
//! and their order are the same; `iss` is the instance's base URL, `nbf` = `iat`, `exp` = `iat` + 8
//! hours, `jti` 64 hex digits, `x-ms-ver` "1.0", and members sorted by name, as MAA sorts them. The
//! `kid` is ours: base64 of the SHA-256 of the certificate (how MAA derives its own is not known; it is
//! 32 bytes in base64 on the shared instances too). `x-ms-policy-hash` is MAA's formula,
//! BASE64URL(SHA-256(BASE64URL(policy text))), over [`POLICY`], the policy this simulator applies.

use aes_gcm::aead::{OsRng, rand_core::RngCore};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rsa::RsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer as _};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::error::Error;

/// How long a token is valid, as MAA's (8 hours, `exp` = `iat` + 28800 in every sample).
pub const LIFETIME_SECONDS: i64 = 8 * 60 * 60;

/// An RS256 token signing key and, when it is published, its certificate.
pub(super) struct Signer {
    key: SigningKey<Sha256>,
    /// DER of the self-signed certificate served in `/certs`.
    certificate: Vec<u8>,
    kid: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl Signer {
    /// A key (PKCS#8 PEM) with its certificate (PEM).
    pub fn load(key_pem: &str, certificate_pem: &str) -> Result<Self, Error> {
        let key = RsaPrivateKey::from_pkcs8_pem(key_pem)
            .map_err(|e| Error::Pki { what: "token signing key", reason: e.to_string() })?;
        let certificate = CertificateDer::from_pem_slice(certificate_pem.as_bytes())
            .map_err(|e| Error::Pki { what: "token signing certificate", reason: e.to_string() })?
            .to_vec();
        let kid = STANDARD.encode(Sha256::digest(&certificate));
        Ok(Signer { key: SigningKey::new(key), certificate, kid })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The compact JWS of `header` and `claims`, signed RSASSA-PKCS1-v1_5 with SHA-256.
    pub fn sign(&self, header: &Value, claims: &Value) -> Result<String, rsa::signature::Error> {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self.key.try_sign(input.as_bytes())?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes())))
    }

    /// This key's entry in `/certs`, in the shape of MAA's `Get_Certs` example.
    pub fn jwk(&self) -> Value {
        json!({
            "alg": "RS256",
            "kid": self.kid,
            "kty": "RSA",
            "use": "sig",
            "x5c": [STANDARD.encode(&self.certificate)],
        })
    }
}

/// The JOSE header of a token signed with the key named `kid`, published at `base_url`.
pub(super) fn header(base_url: &str, kid: &str) -> Value {
    json!({ "alg": "RS256", "jku": format!("{base_url}/certs"), "kid": kid, "typ": "JWT" })
}

/// Add the claims every MAA token carries: `iss`, `iat` = `nbf`, `exp`, a random `jti`,
/// `x-ms-policy-hash`, `x-ms-ver`.
pub(super) fn add_standard_claims(claims: &mut Map<String, Value>, issuer: &str, issued_at: i64) {
    let mut jti = [0u8; 32];
    OsRng.fill_bytes(&mut jti);
    claims.insert("iss".into(), issuer.into());
    claims.insert("iat".into(), issued_at.into());
    claims.insert("nbf".into(), issued_at.into());
    claims.insert("exp".into(), (issued_at + LIFETIME_SECONDS).into());
    claims.insert("jti".into(), hex::encode(jti).into());
    claims.insert("x-ms-policy-hash".into(), policy_hash(super::POLICY).into());
    claims.insert("x-ms-ver".into(), "1.0".into());
}

/// MAA's `x-ms-policy-hash` of a policy text.
pub fn policy_hash(policy: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(URL_SAFE_NO_PAD.encode(policy)))
}

/// `/.well-known/openid-configuration`: the members of a real shared instance's, for this instance.
pub(super) fn openid_configuration(base_url: &str) -> Value {
    json!({
        "response_types_supported": ["token", "none"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "revocation_endpoint": format!("{base_url}/revoke"),
        "issuer": base_url,
        "jwks_uri": format!("{base_url}/certs"),
        "claims_supported": [
            "cnf", "nonce", "x-ms-ver", "x-ms-attestation-type", "x-ms-policy-hash", "x-ms-runtime",
            "x-ms-isolation-tee", "x-ms-compliance-status", "x-ms-azurevm-vmid", "secureboot",
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki;
    use rsa::pkcs1v15::{Signature, VerifyingKey};
    use rsa::signature::Verifier;

    fn signer() -> Signer {
        Signer::load(pki::MAA_SIGNING_KEY, pki::MAA_SIGNING_PEM).expect("the test key loads")
    }

    #[test]
    fn signs_rs256_over_header_and_payload() {
        let signer = signer();
        let header = header("https://127.0.0.1:1", signer.kid());
        let token = signer.sign(&header, &json!({"a": 1})).expect("signed");
        let parts: Vec<&str> = token.split('.').collect();
        let [head, payload, signature] = parts[..] else { panic!("three parts: {token}") };
        assert_eq!(
            URL_SAFE_NO_PAD.decode(head).expect("b64url"),
            format!(
                r#"{{"alg":"RS256","jku":"https://127.0.0.1:1/certs","kid":"{}","typ":"JWT"}}"#,
                signer.kid()
            )
            .as_bytes()
        );
        let key = RsaPrivateKey::from_pkcs8_pem(pki::MAA_SIGNING_KEY).expect("loads").to_public_key();
        let signature = Signature::try_from(URL_SAFE_NO_PAD.decode(signature).expect("b64url").as_slice())
            .expect("a signature");
        let verifier = VerifyingKey::<Sha256>::new(key);
        verifier.verify(format!("{head}.{payload}").as_bytes(), &signature).expect("verifies");
        assert!(verifier.verify(format!("{head}.{payload}x").as_bytes(), &signature).is_err());
    }

    #[test]
    fn kid_is_the_certificate_hash_and_the_jwk_carries_the_certificate() {
        let signer = signer();
        let jwk = signer.jwk();
        let der = STANDARD.decode(jwk["x5c"][0].as_str().expect("x5c[0]")).expect("base64");
        assert_eq!(signer.kid(), STANDARD.encode(Sha256::digest(&der)));
        assert_eq!(signer.kid().len(), 44, "32 bytes in padded base64, as MAA's kids");
        let mut members: Vec<&String> = jwk.as_object().expect("object").keys().collect();
        members.sort();
        assert_eq!(members, ["alg", "kid", "kty", "use", "x5c"], "Get_Certs's members");
    }

    #[test]
    fn standard_claims_as_maa() {
        let mut claims = Map::new();
        add_standard_claims(&mut claims, "https://i", 1_000);
        assert_eq!(claims["iat"], 1_000);
        assert_eq!(claims["nbf"], 1_000);
        assert_eq!(claims["exp"], 1_000 + 28_800);
        let jti = claims["jti"].as_str().expect("jti");
        assert!(jti.len() == 64 && jti.bytes().all(|b| b.is_ascii_hexdigit()), "{jti}");
        assert_eq!(claims["x-ms-policy-hash"].as_str().map(str::len), Some(43), "b64url of 32 bytes");
        let mut other = Map::new();
        add_standard_claims(&mut other, "https://i", 1_000);
        assert_ne!(claims["jti"], other["jti"], "jti is random");
    }

    #[test]
    fn policy_hash_formula() {
        // BASE64URL(SHA-256(BASE64URL("a"))): BASE64URL("a") = "YQ".
        assert_eq!(policy_hash("a"), URL_SAFE_NO_PAD.encode(Sha256::digest(b"YQ")));
    }
}
