//! The encrypted token MAA answers an AzureGuest request with (docs/protocol.md §10.5): base64url of
//! a JSON envelope whose `Jwt` is the compact JWS encrypted with AES-GCM under an inner key, and whose
//! `EncryptedInnerKey` is that key encrypted (RSAES-PKCS1-v1_5) to the request's PCR-bound ephemeral
//! key. [`Envelope::parse`] reads it; the vTPM unwraps the inner key
//! ([`crate::evidence::vtpm::Vtpm::decrypt_with_ephemeral_key`]); [`Envelope::open`] decrypts the
//! token with it.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes128Gcm, Aes256Gcm, Nonce};
use serde::Deserialize;

/// The additional authenticated data of every envelope: the 13 ASCII bytes `Transport Key`.
pub const AAD: &[u8] = b"Transport Key";
const IV_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// Why an envelope cannot be read or opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Not base64url of a JSON envelope of the expected shape.
    #[error("MAA's encrypted token is not the envelope MAA sends (docs/protocol.md §10.5): {0}")]
    Malformed(String),
    /// Parameters other than AES-GCM with a 12-byte IV and a 16-byte tag.
    #[error("MAA's encrypted token uses {0}, but only AES-GCM (128 or 256 bits, 12-byte IV) is defined")]
    Unsupported(String),
    /// The tag does not verify: the token, the tag or the inner key is not what MAA sent.
    #[error(
        "MAA's encrypted token does not decrypt: its authentication tag does not verify, so the envelope \
         was altered in transit or the inner key is wrong"
    )]
    Tag,
    /// Decrypted, but not a compact JWS.
    #[error("MAA's decrypted token is not a compact JWS (header.payload.signature)")]
    NotAJws,
}

/// A parsed envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    ciphertext: Vec<u8>,
    encrypted_inner_key: Vec<u8>,
    iv: [u8; IV_LEN],
    tag: [u8; TAG_LEN],
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Wire {
    jwt: String,
    encrypted_inner_key: String,
    encryption_params: Params,
    authentication_data: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Params {
    block_mode: String,
    cipher: String,
    iv: String,
}

impl Envelope {
    /// Read the `token` member of MAA's AzureGuest answer.
    pub fn parse(token: &str) -> Result<Envelope, Error> {
        let json = decode("token", token.trim())?;
        let wire: Wire = cvm_attest_formats::json::from_slice(&json)
            .map_err(|e| Error::Malformed(format!("the envelope JSON: {e}")))?;
        let params = &wire.encryption_params;
        if params.cipher != "AES" || params.block_mode != "ChainingModeGCM" {
            return Err(Error::Unsupported(format!("{} in {}", params.cipher, params.block_mode)));
        }
        let iv = decode("EncryptionParams.Iv", &params.iv)?;
        let tag = decode("AuthenticationData", &wire.authentication_data)?;
        Ok(Envelope {
            ciphertext: decode("Jwt", &wire.jwt)?,
            encrypted_inner_key: decode("EncryptedInnerKey", &wire.encrypted_inner_key)?,
            iv: iv.try_into().map_err(|iv: Vec<u8>| Error::Unsupported(format!("a {}-byte IV", iv.len())))?,
            tag: tag.try_into().map_err(|tag: Vec<u8>| {
                Error::Unsupported(format!("a {}-byte authentication tag", tag.len()))
            })?,
        })
    }

    /// The inner key as encrypted to the ephemeral key, for the vTPM to unwrap.
    pub fn encrypted_inner_key(&self) -> &[u8] {
        &self.encrypted_inner_key
    }

    /// Decrypt the token with the unwrapped inner key (32 bytes, or 16 as some clients also accept).
    pub fn open(&self, inner_key: &[u8]) -> Result<String, Error> {
        let mut sealed = self.ciphertext.clone();
        sealed.extend_from_slice(&self.tag);
        let payload = Payload { msg: &sealed, aad: AAD };
        let nonce = Nonce::from_slice(&self.iv);
        let plaintext = match inner_key.len() {
            32 => Aes256Gcm::new_from_slice(inner_key).map_err(|_| Error::Tag)?.decrypt(nonce, payload),
            16 => Aes128Gcm::new_from_slice(inner_key).map_err(|_| Error::Tag)?.decrypt(nonce, payload),
            other => return Err(Error::Unsupported(format!("a {other}-byte inner key"))),
        }
        .map_err(|_| Error::Tag)?;
        let token = String::from_utf8(plaintext).map_err(|_| Error::NotAJws)?;
        let token = token.trim().to_owned();
        if token.split('.').count() != 3 || !token.is_ascii() {
            return Err(Error::NotAJws);
        }
        Ok(token)
    }
}

/// Base64 in either alphabet, padded or not: clients and MAA differ (docs/protocol.md §10.5).
fn decode(name: &str, text: &str) -> Result<Vec<u8>, Error> {
    cvm_attest_formats::encoding::base64_any(text)
        .ok_or_else(|| Error::Malformed(format!("{name} is not base64")))
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    use serde_json::{Value, json};

    use super::*;

    const EXAMPLE: &str = include_str!("../../../formats/testdata/maa-rest-spec/AttestAzureGuestVm.json");
    const JWS: &str = "eyJhbGciOiJSUzI1NiJ9.eyJ4IjoxfQ.c2ln";

    /// An envelope sealed here the way MAA seals one.
    fn sealed(key: &[u8; 32], iv: [u8; 12], token: &str) -> Value {
        let cipher = Aes256Gcm::new_from_slice(key).expect("key");
        let mut out = cipher
            .encrypt(Nonce::from_slice(&iv), Payload { msg: token.as_bytes(), aad: AAD })
            .expect("sealed");
        let tag = out.split_off(out.len() - TAG_LEN);
        json!({
            "Jwt": STANDARD.encode(out),
            "EncryptedInnerKey": STANDARD.encode([7; 256]),
            "EncryptionParams": {"BlockMode": "ChainingModeGCM", "BlockPadding": "PKCS7", "Cipher": "AES",
                                 "KeySizeInBits": 256, "Iv": STANDARD.encode(iv)},
            "AuthenticationData": STANDARD.encode(tag),
        })
    }

    fn token(envelope: &Value) -> String {
        URL_SAFE_NO_PAD.encode(envelope.to_string())
    }

    #[test]
    fn the_real_answer_parses_to_a_256_byte_inner_key() {
        let example: Value = serde_json::from_str(EXAMPLE).expect("JSON");
        let token = example["responses"]["200"]["body"]["token"].as_str().expect("token");
        let envelope = Envelope::parse(token).expect("MAA's own envelope");
        assert_eq!(envelope.encrypted_inner_key().len(), 256);
        assert!(!envelope.ciphertext.is_empty());
        // Its inner key is sealed to a TPM we do not have: any other key fails the tag.
        assert!(matches!(envelope.open(&[0; 32]), Err(Error::Tag)));
    }

    #[test]
    fn a_sealed_envelope_opens_and_every_alteration_fails_the_tag() {
        let key = [0x42; 32];
        let envelope = sealed(&key, [9; 12], JWS);
        assert_eq!(Envelope::parse(&token(&envelope)).expect("parse").open(&key).expect("open"), JWS);
        assert!(matches!(
            Envelope::parse(&token(&envelope)).expect("parse").open(&[0x43; 32]),
            Err(Error::Tag)
        ));
        for member in ["Jwt", "AuthenticationData"] {
            let mut altered = envelope.clone();
            let mut bytes = STANDARD.decode(altered[member].as_str().expect("text")).expect("base64");
            bytes[0] ^= 1;
            altered[member] = STANDARD.encode(bytes).into();
            let opened = Envelope::parse(&token(&altered)).expect("parse").open(&key);
            assert!(matches!(opened, Err(Error::Tag)), "{member}");
        }
        let mut other_iv = envelope.clone();
        other_iv["EncryptionParams"]["Iv"] = STANDARD.encode([8; 12]).into();
        assert!(matches!(Envelope::parse(&token(&other_iv)).expect("parse").open(&key), Err(Error::Tag)));
    }

    #[test]
    fn malformed_and_unsupported_envelopes_are_refused() {
        let envelope = sealed(&[1; 32], [2; 12], JWS);
        assert!(matches!(Envelope::parse("not base64!"), Err(Error::Malformed(_))));
        assert!(matches!(Envelope::parse(&URL_SAFE_NO_PAD.encode("{}")), Err(Error::Malformed(_))));
        let mut cbc = envelope.clone();
        cbc["EncryptionParams"]["BlockMode"] = "ChainingModeCBC".into();
        assert!(matches!(Envelope::parse(&token(&cbc)), Err(Error::Unsupported(_))));
        let mut short_iv = envelope.clone();
        short_iv["EncryptionParams"]["Iv"] = STANDARD.encode([2; 8]).into();
        assert!(Envelope::parse(&token(&short_iv)).expect_err("refused").to_string().contains("8-byte IV"));
        let not_jws = sealed(&[1; 32], [2; 12], "plain text");
        assert!(matches!(
            Envelope::parse(&token(&not_jws)).expect("parse").open(&[1; 32]),
            Err(Error::NotAJws)
        ));
    }
}
