//! Signatures (Part 2 §11.3, TPMT_SIGNATURE): RSASSA-PKCS1-v1_5, the scheme of the Azure vTPM
//! attestation key, and its verification.

use rsa::traits::{PublicKeyParts, SignatureScheme};
use rsa::{Pkcs1v15Sign, RsaPublicKey};

use super::algorithm::{AlgorithmId, HashAlg, read_hash_alg};
use super::public::Public;
use crate::ParseError;
use crate::crypto::{self, Hash, Scheme};
use crate::reader::Reader;

/// Why a signature did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The TPM key is not a usable RSA public key (modulus too large, exponent out of range).
    #[error("the RSA public key is not usable: {reason}")]
    InvalidKey { reason: String },
    /// An RSASSA signature is exactly as long as the modulus; this one is not.
    #[error("RSASSA signature is {found} bytes, the key's modulus is {expected} bytes")]
    Length { expected: usize, found: usize },
    /// The signature does not match the message under this key: wrong key, or altered message or
    /// signature.
    #[error("RSASSA-PKCS1-v1_5/{hash} signature does not verify with the key")]
    Mismatch { hash: HashAlg },
}

/// Verify an RSASSA-PKCS1-v1_5 signature with `hash` over `message` (the exact signed bytes).
/// The key is an [`RsaPublicKey`] because Azure publishes the AK both as a TPM key
/// ([`Public::rsa_public_key`]) and as the HCL report's `HCLAkPub` JWK.
pub fn verify_rsassa(
    key: &RsaPublicKey,
    hash: HashAlg,
    message: &[u8],
    signature: &[u8],
) -> Result<(), SignatureError> {
    if signature.len() != key.size() {
        return Err(SignatureError::Length { expected: key.size(), found: signature.len() });
    }
    let verified = match hash {
        HashAlg::Sha256 => crypto::verify_rsa(Scheme::RsaPkcs1v15(Hash::Sha256), key, message, signature),
        HashAlg::Sha384 => crypto::verify_rsa(Scheme::RsaPkcs1v15(Hash::Sha384), key, message, signature),
        HashAlg::Sha512 => crypto::verify_rsa(Scheme::RsaPkcs1v15(Hash::Sha512), key, message, signature),
        // SHA-1 is not among the providers' schemes (no Azure key signs with it): pure Rust.
        HashAlg::Sha1 => {
            let scheme =
                Pkcs1v15Sign { hash_len: Some(hash.digest_size()), prefix: hash.digest_info_prefix().into() };
            scheme.verify(key, &hash.digest(message), signature).is_ok()
        }
    };
    if verified { Ok(()) } else { Err(SignatureError::Mismatch { hash }) }
}

/// Verify an RSASSA-PKCS1-v1_5 / SHA-256 signature by a TPM key, the scheme of the Azure vTPM
/// attestation key.
pub fn verify_rsassa_sha256(public: &Public, message: &[u8], signature: &[u8]) -> Result<(), SignatureError> {
    verify_rsassa(&public.rsa_public_key()?, HashAlg::Sha256, message, signature)
}

/// An RSASSA signature. Evidence usually carries only the raw signature (the `sig` buffer of
/// TPMT_SIGNATURE, as the AzureGuest request and the Confidential Containers quote do); tss-esapi
/// hands out the marshalled TPMT_SIGNATURE, which [`Signature::parse_tpmt`] reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    hash: HashAlg,
    bytes: Vec<u8>,
}

impl Signature {
    /// A raw RSASSA signature made with `hash`.
    pub fn rsassa(hash: HashAlg, bytes: Vec<u8>) -> Self {
        Signature { hash, bytes }
    }

    /// A raw RSASSA-SHA256 signature, the form Azure evidence carries.
    pub fn rsassa_sha256(bytes: Vec<u8>) -> Self {
        Self::rsassa(HashAlg::Sha256, bytes)
    }

    /// Parse a marshalled TPMT_SIGNATURE (sigAlg, hash, TPM2B signature). Only RSASSA is
    /// implemented. The whole input must be this one structure.
    pub fn parse_tpmt(bytes: &[u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new("TPMT_SIGNATURE", bytes);
        let alg_offset = r.offset();
        let sig_alg = AlgorithmId(r.u16_be("sigAlg")?);
        if sig_alg != AlgorithmId::RSASSA {
            return Err(r.unsupported("sigAlg", alg_offset, sig_alg.to_string(), "rsassa (0x0014)"));
        }
        let hash = read_hash_alg(&mut r, "signature.hash")?;
        let bytes = r.tpm2b("signature.sig")?.to_vec();
        r.finish()?;
        Ok(Signature { hash, bytes })
    }

    /// The hash the signature was made with.
    pub fn hash(&self) -> HashAlg {
        self.hash
    }
    /// The raw signature, as long as the key's modulus.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Verify the signature over `message` with `key`.
    pub fn verify(&self, key: &RsaPublicKey, message: &[u8]) -> Result<(), SignatureError> {
        verify_rsassa(key, self.hash, message, &self.bytes)
    }
}
