//! The few certificate operations Intel's collateral needs: PEM chains, the exact signed bytes of a
//! certificate, and ECDSA P-256/SHA-256 verification.
//!
//! `appraise` has the same operations for the PCK chain, but private to it (and typed with its
//! step errors); these are the collateral's, until both move to one shared home.

use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use x509_cert::Certificate;
use x509_cert::der::asn1::ObjectIdentifier;
use x509_cert::der::{Decode, Header, Reader, SliceReader, pem};

/// id-at-commonName.
const COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
/// ecdsa-with-SHA256 (RFC 5758).
const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");

const PEM_BEGIN: &str = "-----BEGIN CERTIFICATE-----";
const PEM_END: &str = "-----END CERTIFICATE-----";

/// A certificate with the DER it arrived as.
pub(crate) struct IntelCert {
    pub(crate) der: Vec<u8>,
    pub(crate) x509: Certificate,
}

impl IntelCert {
    /// One PEM certificate; the error says what the text is instead.
    pub(crate) fn from_pem(text: &str) -> Result<Self, String> {
        let (label, der) = pem::decode_vec(text.as_bytes()).map_err(|err| format!("not PEM ({err})"))?;
        if label != "CERTIFICATE" {
            return Err(format!("a PEM `{label}`, not a CERTIFICATE"));
        }
        Self::from_der(der)
    }

    pub(crate) fn from_der(der: Vec<u8>) -> Result<Self, String> {
        let x509 = Certificate::from_der(&der).map_err(|err| format!("not an X.509 certificate ({err})"))?;
        Ok(IntelCert { der, x509 })
    }

    /// `CN=…` of the subject, or the whole subject.
    pub(crate) fn subject(&self) -> String {
        let subject = &self.x509.tbs_certificate.subject;
        subject
            .0
            .iter()
            .flat_map(|rdn| rdn.0.iter())
            .find(|atv| atv.oid == COMMON_NAME)
            .map(ToString::to_string)
            .unwrap_or_else(|| subject.to_string())
    }

    /// The value of the extension `oid`, if present.
    pub(crate) fn extension(&self, oid: ObjectIdentifier) -> Option<&[u8]> {
        let extensions = self.x509.tbs_certificate.extensions.as_deref()?;
        extensions.iter().find(|ext| ext.extn_id == oid).map(|ext| ext.extn_value.as_bytes())
    }

    /// The same certificate, or another issuance with the same key (Intel reissued its root so).
    pub(crate) fn same_key_as(&self, other: &IntelCert) -> bool {
        self.der == other.der
            || self.x509.tbs_certificate.subject_public_key_info
                == other.x509.tbs_certificate.subject_public_key_info
    }

    /// The subject's P-256 key.
    pub(crate) fn key(&self) -> Result<VerifyingKey, String> {
        let spki = &self.x509.tbs_certificate.subject_public_key_info;
        VerifyingKey::from_sec1_bytes(spki.subject_public_key.raw_bytes())
            .map_err(|_| format!("the key of {} is not an ECDSA P-256 key", self.subject()))
    }

    /// Check that `issuer`'s key signed this certificate (ECDSA P-256/SHA-256 over the
    /// TBSCertificate exactly as received).
    pub(crate) fn verify_signed_by(&self, issuer: &IntelCert) -> Result<(), String> {
        let algorithm = &self.x509.signature_algorithm.oid;
        if *algorithm != ECDSA_WITH_SHA256 {
            return Err(format!("{} is signed with {algorithm}, not ecdsa-with-SHA256", self.subject()));
        }
        let signature = Signature::from_der(self.x509.signature.raw_bytes())
            .map_err(|_| format!("the signature of {} is not a DER ECDSA signature", self.subject()))?;
        let tbs = || -> x509_cert::der::Result<&[u8]> {
            let mut reader = SliceReader::new(&self.der)?;
            Header::decode(&mut reader)?;
            reader.tlv_bytes()
        };
        let tbs =
            tbs().map_err(|err| format!("the signed part of {} is unreadable ({err})", self.subject()))?;
        issuer
            .key()?
            .verify(tbs, &signature)
            .map_err(|_| format!("{} is not signed by {}", self.subject(), issuer.subject()))
    }
}

/// The PEM certificate blocks of `text`, in order; an unterminated block ends the list.
pub(crate) fn pem_blocks(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(PEM_BEGIN) {
        let Some(after) = rest.get(start..) else { break };
        let Some(end) = after.find(PEM_END) else { break };
        let block_end = end + PEM_END.len();
        if let Some(block) = after.get(..block_end) {
            out.push(block);
        }
        rest = after.get(block_end..).unwrap_or_default();
    }
    out
}
