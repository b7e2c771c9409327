//! The AzureGuest token envelope (docs/protocol.md §10.5): the JWT encrypted with a fresh AES-256
//! key under AES-256-GCM (12-byte IV, AAD the 13 bytes `Transport Key`), that key encrypted
//! RSAES-PKCS1-v1_5 to the request's ephemeral key, all in a JSON object whose member names, order
//! and encodings are those of MAA's real response (`formats/testdata/maa-rest-spec/
//! AttestAzureGuestVm.json`): standard padded base64 inside, the whole object base64url unpadded as
//! the response's `token`.
//!
//! [`seal`] is what the service does. Opening is the client's job: the tests open envelopes with
//! cvm-attest's own `cvm_attest::maa::envelope`, not a second implementation here.

use aes_gcm::aead::{AeadInPlace, KeyInit, OsRng, rand_core::RngCore};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rsa::{Pkcs1v15Encrypt, RsaPublicKey};
use serde::{Deserialize, Serialize};

/// The additional authenticated data of every envelope.
pub const AAD: &[u8] = b"Transport Key";
const IV_LEN: usize = 12;
const KEY_LEN: usize = 32;

/// The envelope as JSON, members in the real response's order.
#[derive(Debug, Serialize, Deserialize)]
struct Wire {
    #[serde(rename = "Jwt")]
    jwt: String,
    #[serde(rename = "EncryptedInnerKey")]
    encrypted_inner_key: String,
    #[serde(rename = "EncryptionParams")]
    encryption_params: Params,
    #[serde(rename = "AuthenticationData")]
    authentication_data: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Params {
    block_mode: String,
    /// Nominal: GCM has no padding, but MAA says PKCS7.
    block_padding: String,
    cipher: String,
    key_size_in_bits: u32,
    iv: String,
}

/// Why an envelope could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    #[error("encrypting the inner key to the ephemeral key: {0}")]
    Rsa(#[from] rsa::Error),
    #[error("AES-256-GCM encryption failed")]
    Encryption,
    #[error("writing the envelope: {0}")]
    Format(String),
}

/// Encrypt `jwt` to `recipient`: the `token` value of MAA's AzureGuest response. With
/// `tamper_tag` one bit of the GCM tag is flipped (fault injection).
pub fn seal(jwt: &str, recipient: &RsaPublicKey, tamper_tag: bool) -> Result<String, EnvelopeError> {
    let mut key = [0u8; KEY_LEN];
    let mut iv = [0u8; IV_LEN];
    OsRng.fill_bytes(&mut key);
    OsRng.fill_bytes(&mut iv);
    let mut ciphertext = jwt.as_bytes().to_vec();
    let tag = Aes256Gcm::new(&key.into())
        .encrypt_in_place_detached(Nonce::from_slice(&iv), AAD, &mut ciphertext)
        .map_err(|_| EnvelopeError::Encryption)?;
    let mut tag: [u8; 16] = tag.into();
    if tamper_tag {
        tag[0] ^= 0x01;
    }
    let encrypted_key = recipient.encrypt(&mut OsRng, Pkcs1v15Encrypt, &key)?;
    let wire = Wire {
        jwt: STANDARD.encode(&ciphertext),
        encrypted_inner_key: STANDARD.encode(&encrypted_key),
        encryption_params: Params {
            block_mode: "ChainingModeGCM".to_owned(),
            block_padding: "PKCS7".to_owned(),
            cipher: "AES".to_owned(),
            key_size_in_bits: 256,
            iv: STANDARD.encode(iv),
        },
        authentication_data: STANDARD.encode(tag),
    };
    let json = serde_json::to_vec(&wire).map_err(|e| EnvelopeError::Format(e.to_string()))?;
    Ok(URL_SAFE_NO_PAD.encode(json))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes_gcm::Tag;
    use rsa::RsaPrivateKey;
    use rsa::pkcs8::DecodePrivateKey;

    /// A real RSA-2048 key (the test MAA signing key) stands in for an ephemeral key.
    fn key() -> RsaPrivateKey {
        RsaPrivateKey::from_pkcs8_pem(crate::pki::MAA_SIGNING_KEY).expect("the test key loads")
    }

    const JWT: &str = "eyJhbGciOiJSUzI1NiJ9.eyJ4IjoxfQ.c2ln";

    #[test]
    fn seals_in_the_real_shape() {
        let key = key();
        let token = seal(JWT, &key.to_public_key(), false).expect("sealed");
        assert!(!token.contains(['=', '+', '/']), "base64url unpadded: {token}");
        let json = URL_SAFE_NO_PAD.decode(&token).expect("base64url");
        let value: serde_json::Value = serde_json::from_slice(&json).expect("JSON");
        let text = String::from_utf8(json).expect("UTF-8");
        assert!(!text.contains([' ', '\n']), "compact, as MAA's: {text}");
        assert_eq!(value["EncryptionParams"]["BlockMode"], "ChainingModeGCM");
        assert_eq!(value["EncryptionParams"]["BlockPadding"], "PKCS7");
        assert_eq!(value["EncryptionParams"]["Cipher"], "AES");
        assert_eq!(value["EncryptionParams"]["KeySizeInBits"], 256);
        let iv = STANDARD.decode(value["EncryptionParams"]["Iv"].as_str().expect("Iv")).expect("base64");
        assert_eq!(iv.len(), 12);
        let tag = STANDARD.decode(value["AuthenticationData"].as_str().expect("tag")).expect("base64");
        assert_eq!(tag.len(), 16);
        let inner = STANDARD.decode(value["EncryptedInnerKey"].as_str().expect("key")).expect("base64");
        assert_eq!(inner.len(), 256, "RSA-2048 ciphertext");
        let ciphertext = STANDARD.decode(value["Jwt"].as_str().expect("Jwt")).expect("base64");
        assert_eq!(ciphertext.len(), JWT.len(), "GCM ciphertext without the tag");
        assert_ne!(ciphertext, JWT.as_bytes());
    }

    #[test]
    fn the_aad_is_transport_key() {
        // Decrypt by hand with the AAD the clients use: a different AAD must fail.
        let key = key();
        let token = seal(JWT, &key.to_public_key(), false).expect("sealed");
        let wire: Wire = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&token).expect("b64")).expect("JSON");
        let inner = key
            .decrypt(Pkcs1v15Encrypt, &STANDARD.decode(&wire.encrypted_inner_key).expect("b64"))
            .expect("RSAES-PKCS1-v1_5");
        assert_eq!(inner.len(), 32, "an AES-256 key");
        let cipher = Aes256Gcm::new_from_slice(&inner).expect("key");
        let iv = STANDARD.decode(&wire.encryption_params.iv).expect("b64");
        let tag = STANDARD.decode(&wire.authentication_data).expect("b64");
        let ciphertext = STANDARD.decode(&wire.jwt).expect("b64");
        for (aad, ok) in [(&b"Transport Key"[..], true), (&b"Transport Key\0"[..], false), (&b""[..], false)]
        {
            let mut buffer = ciphertext.clone();
            let result = cipher.decrypt_in_place_detached(
                Nonce::from_slice(&iv),
                aad,
                &mut buffer,
                Tag::from_slice(&tag),
            );
            assert_eq!(result.is_ok(), ok, "AAD {aad:?}");
            if ok {
                assert_eq!(buffer, JWT.as_bytes());
            }
        }
    }

    #[test]
    fn tamper_tag_flips_one_bit_of_the_tag_and_nothing_else() {
        let key = key();
        let tampered = seal(JWT, &key.to_public_key(), true).expect("sealed");
        let wire: Wire =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&tampered).expect("b64")).expect("JSON");
        let inner = key
            .decrypt(Pkcs1v15Encrypt, &STANDARD.decode(&wire.encrypted_inner_key).expect("b64"))
            .expect("the inner key is intact");
        let mut tag = STANDARD.decode(&wire.authentication_data).expect("b64");
        let ciphertext = STANDARD.decode(&wire.jwt).expect("b64");
        let iv = STANDARD.decode(&wire.encryption_params.iv).expect("b64");
        let cipher = Aes256Gcm::new_from_slice(&inner).expect("key");
        let decrypt = |tag: &[u8]| {
            let mut buffer = ciphertext.clone();
            cipher
                .decrypt_in_place_detached(Nonce::from_slice(&iv), AAD, &mut buffer, Tag::from_slice(tag))
                .map(|()| buffer)
        };
        assert!(decrypt(&tag).is_err(), "the tampered tag does not authenticate");
        tag[0] ^= 0x01;
        assert_eq!(decrypt(&tag).expect("the original tag does"), JWT.as_bytes());
    }

    /// The member names of a JSON text in the order written (the envelope's values are base64, which
    /// has no `"`).
    fn member_order(text: &str) -> Vec<&str> {
        text.split('"')
            .collect::<Vec<_>>()
            .windows(2)
            .filter(|w| w[1].starts_with(':'))
            .map(|w| w[0])
            .collect()
    }

    #[test]
    fn members_names_and_order_are_those_of_maa_s_real_envelope() {
        let spec: serde_json::Value = serde_json::from_str(include_str!(
            "../../../../formats/testdata/maa-rest-spec/AttestAzureGuestVm.json"
        ))
        .expect("JSON");
        let token = spec["responses"]["200"]["body"]["token"].as_str().expect("a token");
        let real = String::from_utf8(URL_SAFE_NO_PAD.decode(token).expect("base64url")).expect("UTF-8");
        let ours = seal(JWT, &key().to_public_key(), false).expect("sealed");
        let ours = String::from_utf8(URL_SAFE_NO_PAD.decode(ours).expect("base64url")).expect("UTF-8");
        assert_eq!(
            member_order(&real),
            [
                "Jwt",
                "EncryptedInnerKey",
                "EncryptionParams",
                "BlockMode",
                "BlockPadding",
                "Cipher",
                "KeySizeInBits",
                "Iv",
                "AuthenticationData"
            ]
        );
        assert_eq!(member_order(&ours), member_order(&real));
        // The real one parses as an envelope too (its key is not ours, so it cannot be opened).
        let wire: Wire = serde_json::from_str(&real).expect("our shape");
        assert_eq!(STANDARD.decode(&wire.encryption_params.iv).expect("b64").len(), 12);
        assert_eq!(STANDARD.decode(&wire.authentication_data).expect("b64").len(), 16);
        assert_eq!(STANDARD.decode(&wire.encrypted_inner_key).expect("b64").len(), 256);
    }
}
