//! Certificate revocation lists (RFC 5280 §5) as the AMD and Intel PKIs publish them, and the time
//! helpers certificate validity is judged with.
//!
//! A CRL is used only when all of these hold, in this order, so that the first failure names the
//! most useful fix: its issuer name is the subject of the CA whose CRL is needed (a CRL of another
//! CA says nothing about this certificate), it has no critical extension this verifier does not
//! process (RFC 5280 §5.2 forbids using such a CRL), it is signed with the issuer's algorithm and
//! the signature verifies with the issuer's key over the exact bytes received, and it is current at
//! the time judged at (`thisUpdate ≤ at ≤ nextUpdate`). An expired CRL is refused, never silently
//! used: whatever was revoked after its nextUpdate would be missed. Only then is the certificate's
//! serial looked up.
//!
//! AMD signs its CRLs with RSASSA-PSS/SHA-384 (MGF1-SHA-384, 48-byte salt) by the ARK; Intel signs
//! with ECDSA P-256/SHA-256.

use std::fmt;

use x509_cert::Certificate;
use x509_cert::crl::CertificateList;
use x509_cert::der::Decode;
use x509_cert::der::asn1::ObjectIdentifier;
use x509_cert::der::referenced::OwnedToRef;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::Time;

use super::cert::{Cert, common_name, instant, signed_part};
use super::error::{CertError, RevocationError};
use crate::time::DateTime;

/// ecdsa-with-SHA256 (RFC 5758).
const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
/// id-RSASSA-PSS (RFC 4055).
const RSASSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
/// The CRL extensions whose meaning does not change which certificates the CRL covers: cRLNumber
/// and authorityKeyIdentifier. Any other extension marked critical makes the CRL unusable here.
const UNDERSTOOD_EXTENSIONS: [ObjectIdentifier; 2] =
    [ObjectIdentifier::new_unwrap("2.5.29.20"), ObjectIdentifier::new_unwrap("2.5.29.35")];

/// How a CRL's issuer signs: chosen by the caller from the PKI, never taken from the CRL itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CrlAlgorithm {
    /// ECDSA P-256 with SHA-256: the Intel SGX Root CA and the PCK Platform/Processor CAs.
    EcdsaP256Sha256,
    /// RSASSA-PSS with SHA-384, MGF1-SHA-384 and a 48-byte salt: AMD's ARKs.
    RsaPssSha384,
}

impl CrlAlgorithm {
    fn oid(self) -> ObjectIdentifier {
        match self {
            CrlAlgorithm::EcdsaP256Sha256 => ECDSA_WITH_SHA256,
            CrlAlgorithm::RsaPssSha384 => RSASSA_PSS,
        }
    }

    fn name(self) -> &'static str {
        match self {
            CrlAlgorithm::EcdsaP256Sha256 => "ecdsa-with-SHA256",
            CrlAlgorithm::RsaPssSha384 => "RSASSA-PSS with SHA-384",
        }
    }
}

/// A parsed CRL, with the DER it arrived as (its signature covers those bytes).
#[derive(Debug, Clone)]
pub struct Crl {
    der: Vec<u8>,
    list: CertificateList,
}

impl Crl {
    /// Parse a DER `CertificateList`. Never panics, whatever the bytes.
    pub fn from_der(der: &[u8]) -> Result<Self, RevocationError> {
        let list = CertificateList::from_der(der)
            .map_err(|err| RevocationError::NotCrl { reason: err.to_string() })?;
        Ok(Crl { der: der.to_vec(), list })
    }

    /// The issuer's common name (`ARK-Milan`, `Intel SGX PCK Platform CA`), or the whole name.
    pub fn issuer(&self) -> String {
        common_name(&self.list.tbs_cert_list.issuer)
    }

    /// How many certificates the CRL lists.
    pub fn entries(&self) -> usize {
        self.list.tbs_cert_list.revoked_certificates.as_ref().map_or(0, Vec::len)
    }

    /// When the CRL was issued.
    pub fn this_update(&self) -> Result<DateTime, RevocationError> {
        instant(self.list.tbs_cert_list.this_update).ok_or(RevocationError::TimeOutOfRange)
    }

    /// Until when the CRL may be relied on.
    pub fn next_update(&self) -> Result<DateTime, RevocationError> {
        let next = self.list.tbs_cert_list.next_update.ok_or(RevocationError::NoNextUpdate)?;
        instant(next).ok_or(RevocationError::TimeOutOfRange)
    }

    /// When the certificate with this serial was revoked, if the CRL lists it.
    fn revocation_of(&self, serial: &SerialNumber) -> Option<Time> {
        let entries = self.list.tbs_cert_list.revoked_certificates.as_deref().unwrap_or_default();
        entries
            .iter()
            .find(|entry| entry.serial_number.as_bytes() == serial.as_bytes())
            .map(|entry| entry.revocation_date)
    }

    /// The TBSCertList exactly as received (the first element of the outer SEQUENCE).
    fn signed_part(&self) -> Result<&[u8], RevocationError> {
        signed_part(&self.der).map_err(|err| RevocationError::NotCrl { reason: err.to_string() })
    }

    fn check_extensions(&self) -> Result<(), RevocationError> {
        let extensions = self.list.tbs_cert_list.crl_extensions.iter().flatten();
        match extensions.filter(|ext| ext.critical).find(|ext| !UNDERSTOOD_EXTENSIONS.contains(&ext.extn_id))
        {
            Some(ext) => Err(RevocationError::CriticalExtension { oid: ext.extn_id.to_string() }),
            None => Ok(()),
        }
    }

    fn check_algorithm(&self, algorithm: CrlAlgorithm) -> Result<(), RevocationError> {
        let outer = &self.list.signature_algorithm;
        let inner = &self.list.tbs_cert_list.signature;
        if outer != inner {
            return Err(RevocationError::AlgorithmMismatch {
                outer: outer.oid.to_string(),
                inner: inner.oid.to_string(),
            });
        }
        if outer.oid != algorithm.oid() {
            return Err(RevocationError::UnsupportedAlgorithm {
                found: outer.oid.to_string(),
                expected: algorithm.name(),
            });
        }
        Ok(())
    }

    /// Whether `issuer`'s key made the CRL's signature.
    fn check_signature(&self, issuer: &Certificate, algorithm: CrlAlgorithm) -> Result<(), RevocationError> {
        let signed = self.signed_part()?;
        let signature =
            self.list.signature.as_bytes().ok_or_else(|| RevocationError::MalformedSignature {
                reason: "the signature BIT STRING has unused bits".to_owned(),
            })?;
        let verified = match algorithm {
            CrlAlgorithm::EcdsaP256Sha256 => verify_ecdsa_p256(issuer, signed, signature)?,
            CrlAlgorithm::RsaPssSha384 => verify_rsa_pss_sha384(issuer, signed, signature)?,
        };
        if verified {
            Ok(())
        } else {
            Err(RevocationError::Signature { issuer: common_name(&issuer.tbs_certificate.subject) })
        }
    }

    /// `thisUpdate ≤ at ≤ nextUpdate`.
    fn check_current(&self, at: &DateTime) -> Result<(DateTime, DateTime), RevocationError> {
        let (this_update, next_update) = (self.this_update()?, self.next_update()?);
        if *at < this_update {
            return Err(RevocationError::NotYetIssued { this_update, at: at.clone() });
        }
        if *at > next_update {
            return Err(RevocationError::Expired { next_update, at: at.clone() });
        }
        Ok((this_update, next_update))
    }
}

/// A CRL that was checked and does not list the certificate. Its `Display` is a step detail.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CrlCheck {
    /// The CRL issuer's common name.
    pub issuer: String,
    /// The common name of the certificate looked up.
    pub subject: String,
    /// Its serial number, hex.
    pub serial: String,
    pub entries: usize,
    pub this_update: DateTime,
    pub next_update: DateTime,
}

impl fmt::Display for CrlCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let CrlCheck { issuer, subject, serial, entries, this_update, next_update } = self;
        write!(
            f,
            "{issuer}'s CRL ({entries} entries, current from {this_update} to {next_update}) is signed by \
             {issuer} and does not list {subject} (serial {serial})"
        )
    }
}

/// [`check`] on DER certificates: `crl` is `issuer`'s CRL, current at `at`, and does not list
/// `subject`. For callers outside the appraisal steps (and tests).
pub fn check_der(
    crl: &[u8],
    issuer: &[u8],
    subject: &[u8],
    algorithm: CrlAlgorithm,
    at: &DateTime,
) -> Result<CrlCheck, RevocationError> {
    let parse = |what, der: &[u8]| {
        let x509 = Certificate::from_der(der).map_err(|err| RevocationError::Certificate {
            what,
            error: CertError::NotX509 { reason: err.to_string() },
        })?;
        Ok::<_, RevocationError>(Cert { der: der.to_vec(), x509 })
    };
    check(
        crl,
        &parse("CRL issuer certificate", issuer)?,
        &parse("certificate to look up", subject)?,
        algorithm,
        at,
    )
}

/// Check that `crl` (DER) is `issuer`'s, signed with `algorithm` by its key, current at `at`, and
/// that it does not list `subject`'s serial.
pub(crate) fn check(
    crl: &[u8],
    issuer: &Cert,
    subject: &Cert,
    algorithm: CrlAlgorithm,
    at: &DateTime,
) -> Result<CrlCheck, RevocationError> {
    let crl = Crl::from_der(crl)?;
    if crl.list.tbs_cert_list.issuer != issuer.x509.tbs_certificate.subject {
        return Err(RevocationError::IssuerMismatch {
            crl_issuer: crl.issuer(),
            expected: issuer.common_name(),
            subject: subject.common_name(),
        });
    }
    crl.check_extensions()?;
    crl.check_algorithm(algorithm)?;
    crl.check_signature(&issuer.x509, algorithm)?;
    let (this_update, next_update) = crl.check_current(at)?;
    let serial = &subject.x509.tbs_certificate.serial_number;
    if let Some(date) = crl.revocation_of(serial) {
        return Err(RevocationError::Revoked {
            subject: subject.common_name(),
            serial: hex::encode(serial.as_bytes()),
            revoked_on: instant(date).ok_or(RevocationError::TimeOutOfRange)?,
            issuer: issuer.common_name(),
        });
    }
    Ok(CrlCheck {
        issuer: issuer.common_name(),
        subject: subject.common_name(),
        serial: hex::encode(serial.as_bytes()),
        entries: crl.entries(),
        this_update,
        next_update,
    })
}

/// ECDSA P-256/SHA-256 over `signed`, with the DER signature `signature`.
fn verify_ecdsa_p256(issuer: &Certificate, signed: &[u8], signature: &[u8]) -> Result<bool, RevocationError> {
    use p256::ecdsa::{Signature, VerifyingKey};
    let malformed = |reason: &str| RevocationError::MalformedSignature { reason: reason.to_owned() };
    let public_key = issuer.tbs_certificate.subject_public_key_info.subject_public_key.raw_bytes();
    let key = VerifyingKey::from_sec1_bytes(public_key)
        .map_err(|_| malformed("the issuer's public key is not a P-256 point"))?;
    let signature = Signature::from_der(signature)
        .map_err(|_| malformed("the signature is not a DER ECDSA signature"))?;
    Ok(crate::crypto::verify_p256(&key, signed, &signature))
}

/// RSASSA-PSS/SHA-384 (MGF1-SHA-384, 48-byte salt: AMD's parameters) over `signed`. A CRL whose
/// parameters name another hash does not verify.
fn verify_rsa_pss_sha384(
    issuer: &Certificate,
    signed: &[u8],
    signature: &[u8],
) -> Result<bool, RevocationError> {
    use crate::crypto::{self, Hash, Scheme};
    let spki = issuer.tbs_certificate.subject_public_key_info.owned_to_ref();
    let key = rsa::RsaPublicKey::try_from(spki).map_err(|err| RevocationError::MalformedSignature {
        reason: format!("the issuer's public key is not an RSA key ({err})"),
    })?;
    Ok(crypto::verify_rsa(Scheme::RsaPss(Hash::Sha384), &key, signed, signature))
}
