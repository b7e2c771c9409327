//! The host side of the WIT `crypto` interface: a plugin's signature checks run natively, with AWS-LC
//! ([`crate::crypto`]), the same as the host's own. Pure computation on what the plugin passes in: it
//! keeps nothing and reaches nothing, which is why it is granted by default (`grant` can withhold it).

use cvm_attest_formats::crypto::{Hash, Provider, PublicKey, Scheme};

use super::bindings::crypto::{self, HashAlgorithm, SignatureScheme};
use super::sandbox::State;

impl crypto::Host for State {
    fn verify(
        &mut self,
        scheme: SignatureScheme,
        key: crypto::PublicKey,
        message: Vec<u8>,
        signature: Vec<u8>,
    ) -> bool {
        let key = match &key {
            crypto::PublicKey::EcPoint(point) => PublicKey::EcPoint(point),
            crypto::PublicKey::Rsa(rsa) => PublicKey::Rsa { modulus: &rsa.modulus, exponent: &rsa.exponent },
        };
        crate::crypto::AwsLc.verify(scheme_of(scheme), key, &message, &signature)
    }
}

fn scheme_of(scheme: SignatureScheme) -> Scheme {
    let hash = |hash| match hash {
        HashAlgorithm::Sha256 => Hash::Sha256,
        HashAlgorithm::Sha384 => Hash::Sha384,
        HashAlgorithm::Sha512 => Hash::Sha512,
    };
    match scheme {
        SignatureScheme::EcdsaP256Sha256 => Scheme::EcdsaP256Sha256,
        SignatureScheme::EcdsaP384Sha384 => Scheme::EcdsaP384Sha384,
        SignatureScheme::RsaPkcs1v15(h) => Scheme::RsaPkcs1v15(hash(h)),
        SignatureScheme::RsaPss(h) => Scheme::RsaPss(hash(h)),
    }
}
