//! Signature verification with AWS-LC (the library rustls already brings): the host's provider for
//! `cvm_attest_formats::crypto`, and what the plugins' `crypto` import runs.

use aws_lc_rs::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey, VerificationAlgorithm};
use cvm_attest_formats::crypto::{Hash, Provider, PublicKey, Scheme};

/// The native provider.
#[derive(Debug, Clone, Copy)]
pub struct AwsLc;

impl Provider for AwsLc {
    fn verify(&self, scheme: Scheme, key: PublicKey<'_>, message: &[u8], signature: &[u8]) -> bool {
        match (algorithm(scheme), key) {
            (Algorithm::Ecdsa(algorithm), PublicKey::EcPoint(point)) => {
                UnparsedPublicKey::new(algorithm, point).verify(message, signature).is_ok()
            }
            (Algorithm::Rsa(algorithm), PublicKey::Rsa { modulus, exponent }) => {
                RsaPublicKeyComponents { n: modulus, e: exponent }
                    .verify(algorithm, message, signature)
                    .is_ok()
            }
            _ => false,
        }
    }
}

/// Use AWS-LC for every signature the appraisal checks in this process (see
/// `cvm_attest_formats::crypto::install`; later calls change nothing).
pub fn install() {
    cvm_attest_formats::crypto::install(&AwsLc);
}

enum Algorithm {
    Ecdsa(&'static dyn VerificationAlgorithm),
    Rsa(&'static signature::RsaParameters),
}

fn algorithm(scheme: Scheme) -> Algorithm {
    match scheme {
        Scheme::EcdsaP256Sha256 => Algorithm::Ecdsa(&signature::ECDSA_P256_SHA256_FIXED),
        Scheme::EcdsaP384Sha384 => Algorithm::Ecdsa(&signature::ECDSA_P384_SHA384_FIXED),
        Scheme::RsaPkcs1v15(Hash::Sha256) => Algorithm::Rsa(&signature::RSA_PKCS1_2048_8192_SHA256),
        Scheme::RsaPkcs1v15(Hash::Sha384) => Algorithm::Rsa(&signature::RSA_PKCS1_2048_8192_SHA384),
        Scheme::RsaPkcs1v15(Hash::Sha512) => Algorithm::Rsa(&signature::RSA_PKCS1_2048_8192_SHA512),
        Scheme::RsaPss(Hash::Sha256) => Algorithm::Rsa(&signature::RSA_PSS_2048_8192_SHA256),
        Scheme::RsaPss(Hash::Sha384) => Algorithm::Rsa(&signature::RSA_PSS_2048_8192_SHA384),
        Scheme::RsaPss(Hash::Sha512) => Algorithm::Rsa(&signature::RSA_PSS_2048_8192_SHA512),
    }
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::rsa::KeySize;
    use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair, RsaEncoding, RsaKeyPair};
    use cvm_attest_formats::crypto::{Hash, Provider, PublicKey, RustCrypto, Scheme};
    use rsa::pkcs1::DecodeRsaPublicKey;
    use rsa::traits::PublicKeyParts;

    use super::AwsLc;

    const MESSAGE: &[u8] = b"the signed bytes";

    /// Both providers answer `expected` for this signature, and false once one bit of the message or
    /// of the signature flips, or for a scheme it was not made with.
    fn both(scheme: Scheme, other: Scheme, key: PublicKey<'_>, signature: &[u8]) {
        for provider in [&AwsLc as &dyn Provider, &RustCrypto] {
            assert!(provider.verify(scheme, key, MESSAGE, signature), "{scheme:?} verifies");
            assert!(!provider.verify(scheme, key, b"the signed bytez", signature), "{scheme:?}: message");
            let mut tampered = signature.to_vec();
            if let Some(last) = tampered.last_mut() {
                *last ^= 1;
            }
            assert!(!provider.verify(scheme, key, MESSAGE, &tampered), "{scheme:?}: signature");
            assert!(!provider.verify(other, key, MESSAGE, signature), "{scheme:?} is not {other:?}");
        }
    }

    #[test]
    fn aws_lc_and_rust_crypto_agree_on_ecdsa() {
        let rng = SystemRandom::new();
        for (signing, scheme, other) in [
            (&signature::ECDSA_P256_SHA256_FIXED_SIGNING, Scheme::EcdsaP256Sha256, Scheme::EcdsaP384Sha384),
            (&signature::ECDSA_P384_SHA384_FIXED_SIGNING, Scheme::EcdsaP384Sha384, Scheme::EcdsaP256Sha256),
        ] {
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(signing, &rng).expect("key");
            let pair = EcdsaKeyPair::from_pkcs8(signing, pkcs8.as_ref()).expect("key");
            let signature = pair.sign(&rng, MESSAGE).expect("sign");
            both(scheme, other, PublicKey::EcPoint(pair.public_key().as_ref()), signature.as_ref());
        }
    }

    #[test]
    fn aws_lc_and_rust_crypto_agree_on_rsa() {
        let rng = SystemRandom::new();
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).expect("key");
        // The public key is PKCS#1 RSAPublicKey DER.
        let public = rsa::RsaPublicKey::from_pkcs1_der(pair.public_key().as_ref()).expect("RSAPublicKey");
        let (modulus, exponent) = (public.n().to_bytes_be(), public.e().to_bytes_be());
        let key = PublicKey::Rsa { modulus: &modulus, exponent: &exponent };
        let (pkcs1, pss) = (Scheme::RsaPkcs1v15, Scheme::RsaPss);
        let cases: [(&'static dyn RsaEncoding, Scheme, Scheme); 6] = [
            (&signature::RSA_PKCS1_SHA256, pkcs1(Hash::Sha256), pss(Hash::Sha256)),
            (&signature::RSA_PKCS1_SHA384, pkcs1(Hash::Sha384), pkcs1(Hash::Sha256)),
            (&signature::RSA_PKCS1_SHA512, pkcs1(Hash::Sha512), pss(Hash::Sha512)),
            (&signature::RSA_PSS_SHA256, pss(Hash::Sha256), pkcs1(Hash::Sha256)),
            (&signature::RSA_PSS_SHA384, pss(Hash::Sha384), pss(Hash::Sha512)),
            (&signature::RSA_PSS_SHA512, pss(Hash::Sha512), pkcs1(Hash::Sha512)),
        ];
        for (encoding, scheme, other) in cases {
            let mut signature = vec![0; pair.public_modulus_len()];
            pair.sign(encoding, &rng, MESSAGE, &mut signature).expect("sign");
            both(scheme, other, key, &signature);
        }
    }
}
