//! `vtpm-ak-cert`: the AK certificate chains through Azure's vTPM intermediates to a trusted vTPM
//! root (RSA PKCS#1 v1.5 with SHA-2), every certificate is valid at the time judged at, and it
//! certifies the AK that signs the quote.

use rsa::RsaPublicKey;
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::traits::PublicKeyParts;
use x509_cert::der::Decode;
use x509_cert::der::asn1::ObjectIdentifier;
use x509_cert::der::oid::AssociatedOid;
use x509_cert::ext::pkix::BasicConstraints;

use super::VtpmError;
use super::anchors::{AZURE_VTPM_INTERMEDIATE, AZURE_VTPM_ROOT, TrustAnchors};
use super::cert::Cert;
use crate::time::DateTime;
use crate::tpm::{HashAlg, verify_rsassa};

/// The longest run of intermediates between an AK certificate and its root that is followed.
const MAX_INTERMEDIATES: usize = 4;

/// rsaEncryption (RFC 8017 A.1): the key type of every certificate of the vTPM PKI.
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// The PKCS#1 v1.5 signature algorithms (RFC 8017 A.2.4) Azure's vTPM PKI signs with, by hash.
const RSA_SIGNATURES: [(ObjectIdentifier, HashAlg); 3] = [
    (ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11"), HashAlg::Sha256),
    (ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12"), HashAlg::Sha384),
    (ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13"), HashAlg::Sha512),
];

/// The `vtpm-ak-cert` check: `ak_cert_der` (the vTPM's AK certificate, DER) chains through trusted
/// Azure vTPM intermediates to a trusted root, every certificate of the chain is valid at `at`, and
/// it certifies `ak`, the key that signs the quote. Azure's PKI thereby vouches for the AK as a key
/// of an Azure vTPM.
pub fn ak_certificate(
    ak_cert_der: &[u8],
    ak: &RsaPublicKey,
    ak_name: &'static str,
    anchors: &TrustAnchors,
    at: &DateTime,
) -> Result<String, VtpmError> {
    let leaf = Cert::from_der(ak_cert_der.to_vec()).map_err(VtpmError::AkCertificate)?;
    let roots = vtpm_anchors(AZURE_VTPM_ROOT, anchors.azure_vtpm_roots())?;
    let intermediates = vtpm_anchors(AZURE_VTPM_INTERMEDIATE, anchors.azure_vtpm_intermediates())?;
    let issuers = chain(&leaf, &roots, &intermediates)?;
    // Judged from the root down, so that the failure named is the one nearest the anchor.
    for cert in issuers.iter().rev().copied().chain([&leaf]) {
        cert.valid_at(at)?;
    }
    let bits = check_certified_key(&leaf, ak)?;
    let path: Vec<String> = issuers.iter().map(|cert| cert.common_name()).collect();
    Ok(format!(
        "{} → {} (trusted root): each signature verifies and each certificate is valid at {at}; it certifies \
         {ak_name} (RSA-{bits}), the key that signs the quote",
        leaf.common_name(),
        path.join(" → ")
    ))
}

/// The trusted certificates of one kind (`name`), parsed.
fn vtpm_anchors(name: &'static str, pems: &[String]) -> Result<Vec<Cert>, VtpmError> {
    pems.iter()
        .map(|pem| Cert::from_pem(pem).map_err(|error| VtpmError::VtpmAnchor { name, error }))
        .collect()
}

/// The issuers of `leaf`, nearest first and ending in a root: each verified to sign the one below
/// it and to be a CA allowed to.
fn chain<'a>(
    leaf: &'a Cert,
    roots: &'a [Cert],
    intermediates: &'a [Cert],
) -> Result<Vec<&'a Cert>, VtpmError> {
    if roots.is_empty() {
        return Err(VtpmError::NoVtpmRoot { subject: leaf.common_name() });
    }
    let mut issuers: Vec<&Cert> = Vec::new();
    let mut current = leaf;
    loop {
        if let Some(root) = issued_by(current, roots)? {
            check_may_issue(root, current, issuers.len())?;
            issuers.push(root);
            return Ok(issuers);
        }
        if issuers.len() == MAX_INTERMEDIATES {
            return Err(VtpmError::ChainTooLong { subject: leaf.common_name(), max: MAX_INTERMEDIATES });
        }
        let Some(issuer) = issued_by(current, intermediates)? else {
            let names = |certs: &[Cert]| certs.iter().map(Cert::common_name).collect();
            return Err(VtpmError::IssuerNotTrusted {
                subject: current.common_name(),
                issuer: current.x509.tbs_certificate.issuer.to_string(),
                intermediates: names(intermediates),
                roots: names(roots),
            });
        };
        check_may_issue(issuer, current, issuers.len())?;
        issuers.push(issuer);
        current = issuer;
    }
}

/// The candidate named as `cert`'s issuer whose key made its signature; `None` when no candidate
/// has that name, the first signature failure when some have it but none signed. Names are compared
/// as text, so that a PrintableString and a UTF8String of the same characters match (RFC 5280
/// §7.1); the signature is what proves the issuer.
fn issued_by<'a>(cert: &Cert, candidates: &'a [Cert]) -> Result<Option<&'a Cert>, VtpmError> {
    let issuer = cert.x509.tbs_certificate.issuer.to_string();
    let mut failure = None;
    for candidate in candidates.iter().filter(|c| c.x509.tbs_certificate.subject.to_string() == issuer) {
        match rsa_pkcs1_signs(candidate, cert) {
            Ok(()) => return Ok(Some(candidate)),
            Err(error) => {
                failure.get_or_insert(error);
            }
        }
    }
    failure.map_or(Ok(None), Err)
}

/// `issuer` must be a CA (basicConstraints cA) whose pathLenConstraint allows the `below`
/// intermediates between it and the AK certificate.
fn check_may_issue(issuer: &Cert, subject: &Cert, below: usize) -> Result<(), VtpmError> {
    let refuse = |reason: String| VtpmError::IssuerNotCa {
        subject: subject.common_name(),
        issuer: issuer.common_name(),
        reason,
    };
    let constraints = issuer
        .extension(BasicConstraints::OID)
        .map(BasicConstraints::from_der)
        .transpose()
        .map_err(|err| refuse(format!("its basicConstraints do not parse ({err})")))?;
    match constraints {
        Some(BasicConstraints { ca: true, path_len_constraint }) => match path_len_constraint {
            Some(limit) if usize::from(limit) < below => Err(refuse(format!(
                "its pathLenConstraint {limit} allows fewer than the {below} intermediates below it"
            ))),
            _ => Ok(()),
        },
        _ => Err(refuse("its basicConstraints do not say cA".to_owned())),
    }
}

/// Whether `issuer`'s key made `subject`'s RSA PKCS#1 v1.5 signature with the SHA-2 hash its
/// signatureAlgorithm names. Other algorithms are refused, not skipped.
pub(super) fn rsa_pkcs1_signs(issuer: &Cert, subject: &Cert) -> Result<(), VtpmError> {
    let algorithm = &subject.x509.signature_algorithm.oid;
    let Some(&(_, hash)) = RSA_SIGNATURES.iter().find(|(oid, _)| oid == algorithm) else {
        return Err(VtpmError::CertAlgorithm {
            subject: subject.common_name(),
            algorithm: algorithm.to_string(),
        });
    };
    let key = rsa_key(issuer)?;
    let message = subject.signed_part().map_err(|err| VtpmError::CertSignedPart {
        subject: subject.common_name(),
        reason: err.to_string(),
    })?;
    verify_rsassa(&key, hash, message, subject.x509.signature.raw_bytes()).map_err(|error| {
        VtpmError::CertSignature { subject: subject.common_name(), issuer: issuer.common_name(), error }
    })
}

/// A certificate's RSA public key.
fn rsa_key(cert: &Cert) -> Result<RsaPublicKey, VtpmError> {
    let spki = &cert.x509.tbs_certificate.subject_public_key_info;
    let unusable = |reason: String| VtpmError::CertKey { subject: cert.common_name(), reason };
    if spki.algorithm.oid != RSA_ENCRYPTION {
        return Err(unusable(format!("its algorithm is {}, not rsaEncryption", spki.algorithm.oid)));
    }
    RsaPublicKey::from_pkcs1_der(spki.subject_public_key.raw_bytes()).map_err(|err| unusable(err.to_string()))
}

/// The AK certificate must certify the AK that signs the quote (modulus and exponent); returns
/// the key's size in bits.
fn check_certified_key(leaf: &Cert, ak: &RsaPublicKey) -> Result<usize, VtpmError> {
    let certified = rsa_key(leaf)?;
    if certified.n() != ak.n() || certified.e() != ak.e() {
        return Err(VtpmError::AkCertKeyMismatch {
            subject: leaf.common_name(),
            cert_modulus: certified.n().to_bytes_be(),
            cert_exponent: certified.e().to_string(),
            ak_modulus: ak.n().to_bytes_be(),
            ak_exponent: ak.e().to_string(),
        });
    }
    Ok(certified.n().bits())
}
