//! X.509 certificates as appraisal uses them: parsed once, with the DER they arrived as (signatures
//! cover those bytes, and pinned certificates are compared by them).

use x509_cert::Certificate;
use x509_cert::der::asn1::ObjectIdentifier;
use x509_cert::der::{Decode, Header, Reader, SliceReader, pem};
use x509_cert::name::Name;

use x509_cert::time::Time;

use super::{CertError, ValidityError};
use crate::time::DateTime;

/// id-at-commonName.
const COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");

#[derive(Debug, Clone)]
pub(crate) struct Cert {
    pub(crate) der: Vec<u8>,
    pub(crate) x509: Certificate,
}

impl Cert {
    /// One PEM `CERTIFICATE`. The error's message completes "… is" (e.g. "not PEM (…)").
    pub(crate) fn from_pem(text: &str) -> Result<Self, CertError> {
        let (label, der) =
            pem::decode_vec(text.as_bytes()).map_err(|err| CertError::NotPem { reason: err.to_string() })?;
        if label != "CERTIFICATE" {
            return Err(CertError::NotCertificate { label: label.to_owned() });
        }
        let x509 =
            Certificate::from_der(&der).map_err(|err| CertError::NotX509 { reason: err.to_string() })?;
        Ok(Cert { der, x509 })
    }

    /// The subject's common name (`ARK-Milan`, `Intel SGX Root CA`), or the whole subject.
    pub(crate) fn common_name(&self) -> String {
        common_name(&self.x509.tbs_certificate.subject)
    }

    /// One DER certificate, as evidence carries the AK certificate. The error's message completes "… is".
    pub(crate) fn from_der(der: Vec<u8>) -> Result<Self, CertError> {
        let x509 =
            Certificate::from_der(&der).map_err(|err| CertError::NotX509 { reason: err.to_string() })?;
        Ok(Cert { der, x509 })
    }

    /// The TBSCertificate exactly as received (the first element of the outer SEQUENCE): the bytes
    /// the signature covers, which re-encoding the parsed certificate need not reproduce.
    pub(crate) fn signed_part(&self) -> x509_cert::der::Result<&[u8]> {
        signed_part(&self.der)
    }

    /// The value of the extension `oid`, if present.
    pub(crate) fn extension(&self, oid: ObjectIdentifier) -> Option<&[u8]> {
        let extensions = self.x509.tbs_certificate.extensions.as_deref()?;
        extensions.iter().find(|ext| ext.extn_id == oid).map(|ext| ext.extn_value.as_bytes())
    }
}

/// Validity: certificates are judged as of the appraisal's time, like CRLs. An expired CA's key may
/// no longer be protected, and its issuer no longer lists it on a CRL once expired.
impl Cert {
    /// `notBefore ≤ at ≤ notAfter`; the error names the certificate, its window and `at`.
    pub(crate) fn valid_at(&self, at: &DateTime) -> Result<(), ValidityError> {
        let validity = &self.x509.tbs_certificate.validity;
        let window = instant(validity.not_before).zip(instant(validity.not_after));
        let (not_before, not_after) =
            window.ok_or_else(|| ValidityError::TimeOutOfRange { subject: self.common_name() })?;
        let (subject, at_text) = (self.common_name(), at.to_string());
        let (not_before_text, not_after_text) = (not_before.to_string(), not_after.to_string());
        if *at < not_before {
            Err(ValidityError::NotYetValid {
                subject,
                not_before: not_before_text,
                not_after: not_after_text,
                at: at_text,
            })
        } else if *at > not_after {
            Err(ValidityError::Expired {
                subject,
                not_before: not_before_text,
                not_after: not_after_text,
                at: at_text,
            })
        } else {
            Ok(())
        }
    }
}

/// An X.509 time as an instant; `None` only outside the years 0000–9999, which X.509 cannot encode.
pub(crate) fn instant(time: Time) -> Option<DateTime> {
    let seconds = i64::try_from(time.to_unix_duration().as_secs()).ok()?;
    DateTime::from_unix_seconds(seconds)
}

/// The common name in `name` (`ARK-Milan`), or the whole name.
pub(crate) fn common_name(name: &Name) -> String {
    name.0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .find(|atv| atv.oid == COMMON_NAME)
        .and_then(|atv| atv.to_string().strip_prefix("CN=").map(str::to_owned))
        .unwrap_or_else(|| name.to_string())
}

/// The first element of a signed structure's outer SEQUENCE exactly as received: the TBSCertificate
/// or TBSCertList, the bytes the signature covers, which re-encoding the parsed value need not
/// reproduce.
pub(crate) fn signed_part(der: &[u8]) -> x509_cert::der::Result<&[u8]> {
    let mut reader = SliceReader::new(der)?;
    Header::decode(&mut reader)?;
    reader.tlv_bytes()
}
