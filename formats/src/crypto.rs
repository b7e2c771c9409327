//! Public-key signature verification: every signature the appraisal checks goes through [`verify`],
//! and a [`Provider`] does the arithmetic.
//!
//! The default provider is pure Rust (`p256`, `p384`, `rsa`), which builds everywhere. A program may
//! [`install`] another once, as rustls lets one choose its crypto provider: the host installs AWS-LC,
//! and the sandboxed `offline` verifier installs the host's `crypto` interface, because the same
//! arithmetic compiled to wasm32 runs several times slower than native (`p384` picks 32-bit limbs
//! there). Callers parse and validate keys and signatures with their own error messages first; the
//! provider only answers whether a well-formed signature verifies.

use std::sync::OnceLock;

use rsa::RsaPublicKey;
use rsa::traits::PublicKeyParts;

/// A hash function a signature scheme uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

/// The signature schemes appraisal meets: ECDSA for AMD's VCEK and Intel's certificates, quotes and
/// collateral; RSASSA-PKCS1-v1_5 for the vTPM; RSASSA-PSS for AMD's certificates and CRLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// ECDSA P-256/SHA-256; the signature is r ‖ s, 32 bytes each, big-endian.
    EcdsaP256Sha256,
    /// ECDSA P-384/SHA-384; the signature is r ‖ s, 48 bytes each, big-endian.
    EcdsaP384Sha384,
    /// RSASSA-PKCS1-v1_5 with this hash.
    RsaPkcs1v15(Hash),
    /// RSASSA-PSS with this hash, MGF1 with the same hash, a salt as long as the hash.
    RsaPss(Hash),
}

/// A public key as the schemes take it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublicKey<'a> {
    /// An uncompressed SEC1 point (0x04 ‖ x ‖ y).
    EcPoint(&'a [u8]),
    /// Modulus and public exponent, big-endian.
    Rsa { modulus: &'a [u8], exponent: &'a [u8] },
}

/// Signature verification. Implementations must be pure: no state, no I/O.
pub trait Provider: Send + Sync {
    /// Whether `signature` is `key`'s signature over `message` under `scheme` (the provider hashes
    /// `message`). False for anything malformed as well as for a wrong signature.
    fn verify(&self, scheme: Scheme, key: PublicKey<'_>, message: &[u8], signature: &[u8]) -> bool;
}

static INSTALLED: OnceLock<&'static dyn Provider> = OnceLock::new();

/// Make `provider` the one [`verify`] uses from now on. Only the first call takes effect (it returns
/// false for later ones), so the provider cannot change between two signatures of one appraisal.
pub fn install(provider: &'static dyn Provider) -> bool {
    INSTALLED.set(provider).is_ok()
}

/// [`Provider::verify`] with the installed provider, or [`RustCrypto`].
pub fn verify(scheme: Scheme, key: PublicKey<'_>, message: &[u8], signature: &[u8]) -> bool {
    INSTALLED.get().copied().unwrap_or(&RustCrypto).verify(scheme, key, message, signature)
}

/// [`verify`] for a parsed P-256 key and signature.
pub(crate) fn verify_p256(
    key: &p256::ecdsa::VerifyingKey,
    message: &[u8],
    signature: &p256::ecdsa::Signature,
) -> bool {
    let point = key.to_encoded_point(false);
    verify(Scheme::EcdsaP256Sha256, PublicKey::EcPoint(point.as_bytes()), message, &signature.to_bytes())
}

/// [`verify`] for a parsed P-384 key and signature.
pub(crate) fn verify_p384(
    key: &p384::ecdsa::VerifyingKey,
    message: &[u8],
    signature: &p384::ecdsa::Signature,
) -> bool {
    let point = key.to_encoded_point(false);
    verify(Scheme::EcdsaP384Sha384, PublicKey::EcPoint(point.as_bytes()), message, &signature.to_bytes())
}

/// [`verify`] for a parsed RSA key.
pub(crate) fn verify_rsa(scheme: Scheme, key: &RsaPublicKey, message: &[u8], signature: &[u8]) -> bool {
    let (modulus, exponent) = (key.n().to_bytes_be(), key.e().to_bytes_be());
    verify(scheme, PublicKey::Rsa { modulus: &modulus, exponent: &exponent }, message, signature)
}

/// The pure-Rust provider (RustCrypto), the default.
#[derive(Debug, Clone, Copy)]
pub struct RustCrypto;

impl Provider for RustCrypto {
    fn verify(&self, scheme: Scheme, key: PublicKey<'_>, message: &[u8], signature: &[u8]) -> bool {
        use rsa::signature::Verifier as _;
        match (scheme, key) {
            (Scheme::EcdsaP256Sha256, PublicKey::EcPoint(point)) => {
                let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(point);
                let signature = p256::ecdsa::Signature::from_slice(signature);
                matches!((key, signature), (Ok(key), Ok(sig)) if key.verify(message, &sig).is_ok())
            }
            (Scheme::EcdsaP384Sha384, PublicKey::EcPoint(point)) => {
                let key = p384::ecdsa::VerifyingKey::from_sec1_bytes(point);
                let signature = p384::ecdsa::Signature::from_slice(signature);
                matches!((key, signature), (Ok(key), Ok(sig)) if key.verify(message, &sig).is_ok())
            }
            (Scheme::RsaPkcs1v15(hash) | Scheme::RsaPss(hash), PublicKey::Rsa { modulus, exponent }) => {
                let Ok(key) = RsaPublicKey::new(
                    rsa::BigUint::from_bytes_be(modulus),
                    rsa::BigUint::from_bytes_be(exponent),
                ) else {
                    return false;
                };
                let pss = matches!(scheme, Scheme::RsaPss(_));
                rsa_verify(&key, pss, hash, message, signature)
            }
            _ => false,
        }
    }
}

fn rsa_verify(key: &RsaPublicKey, pss: bool, hash: Hash, message: &[u8], signature: &[u8]) -> bool {
    use rsa::signature::Verifier as _;
    use sha2::{Sha256, Sha384, Sha512};
    fn run<D>(key: &RsaPublicKey, pss: bool, message: &[u8], signature: &[u8]) -> bool
    where
        D: sha2::Digest + x509_cert::der::oid::AssociatedOid + sha2::digest::FixedOutputReset,
    {
        if signature.len() != key.size() {
            return false;
        }
        if pss {
            let Ok(signature) = rsa::pss::Signature::try_from(signature) else { return false };
            // PSS with the salt as long as the hash, as AMD signs and as the WIT contract says.
            let salt = <D as sha2::Digest>::output_size();
            rsa::pss::VerifyingKey::<D>::new_with_salt_len(key.clone(), salt)
                .verify(message, &signature)
                .is_ok()
        } else {
            let Ok(signature) = rsa::pkcs1v15::Signature::try_from(signature) else { return false };
            rsa::pkcs1v15::VerifyingKey::<D>::new(key.clone()).verify(message, &signature).is_ok()
        }
    }
    match hash {
        Hash::Sha256 => run::<Sha256>(key, pss, message, signature),
        Hash::Sha384 => run::<Sha384>(key, pss, message, signature),
        Hash::Sha512 => run::<Sha512>(key, pss, message, signature),
    }
}
