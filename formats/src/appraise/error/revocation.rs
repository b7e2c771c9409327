//! Failures shared by the SEV-SNP and TDX chains: a certificate used outside its validity window
//! (`snp-vcek-chain`, `tdx-pck-chain`), and a CRL that cannot be used or that revokes a certificate
//! (`snp-revocation`, `tdx-revocation`).

use super::CertError;
use crate::time::DateTime;

/// What the time to judge at can be changed with, for every "not at this time" error.
const AT_FIX: &str = "verify as of a time inside it with `--at RFC3339`";

/// Why a certificate is not valid at the time appraisal judges at. Times are RFC 3339, UTC.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidityError {
    #[error(
        "{subject} is not valid until {not_before} (valid from {not_before} to {not_after}; judged at {at}); \
         use a certificate valid then, or {AT_FIX}"
    )]
    NotYetValid { subject: String, not_before: String, not_after: String, at: String },

    #[error(
        "{subject} expired on {not_after} (valid from {not_before} to {not_after}; judged at {at}); use a \
         current certificate, or {AT_FIX}"
    )]
    Expired { subject: String, not_before: String, not_after: String, at: String },

    /// A validity bound that RFC 3339 cannot write (outside the years 0000–9999; X.509 cannot
    /// encode such a time either, so this is a malformed certificate).
    #[error("{subject} has a validity bound outside the years 0000–9999")]
    TimeOutOfRange { subject: String },
}

/// Why a CRL cannot be used, or what it revokes. The message completes "the CRL `NAME` …" (or
/// "the CRL …" where no collateral name applies).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RevocationError {
    /// The bytes are not a DER `CertificateList`.
    #[error(
        "is not a DER X.509 CRL ({reason}); supply the CRL as DER (convert PEM with `openssl crl -outform DER`)"
    )]
    NotCrl { reason: String },

    /// A certificate handed to the check (`what`) is not one.
    #[error("cannot be checked: the {what} is {error}")]
    Certificate { what: &'static str, error: CertError },

    /// The CRL's issuer name is not the subject of the CA whose CRL is needed.
    #[error(
        "is issued by {crl_issuer}, not by {expected}, which issued {subject}; supply the CRL of {expected}"
    )]
    IssuerMismatch { crl_issuer: String, expected: String, subject: String },

    /// The CRL is signed with another algorithm (its OID) than its issuer uses.
    #[error("is signed with algorithm {found}, expected {expected}")]
    UnsupportedAlgorithm { found: String, expected: &'static str },

    /// The outer signatureAlgorithm and the one inside the signed part differ (RFC 5280 §5.1.1.2).
    #[error("names signature algorithm {outer} outside its signed part but {inner} inside it")]
    AlgorithmMismatch { outer: String, inner: String },

    /// The signature is not an encoding the algorithm allows, or the issuer's key is not its kind.
    #[error("cannot be verified: {reason}")]
    MalformedSignature { reason: String },

    /// The signature does not verify with the issuer's key.
    #[error(
        "is not signed by {issuer}: its signature does not verify with that key, so it was altered or comes \
         from another CA"
    )]
    Signature { issuer: String },

    /// A critical CRL extension that this verifier does not process (RFC 5280 §5.2: such a CRL must
    /// not be used). Delta CRLs and partitioned CRLs (issuing distribution point) are among them.
    #[error(
        "has critical extension {oid}, which this verifier does not process; supply the issuer's complete CRL"
    )]
    CriticalExtension { oid: String },

    /// No nextUpdate: how long the CRL may be relied on is not said.
    #[error("has no nextUpdate, so whether it is current cannot be judged; supply a CRL that has one")]
    NoNextUpdate,

    /// `at` is before the CRL was issued (thisUpdate).
    #[error(
        "was issued at {this_update} (thisUpdate), after {at}; supply a CRL current at {at}, or {AT_FIX}"
    )]
    NotYetIssued { this_update: DateTime, at: DateTime },

    /// `at` is after the CRL's nextUpdate: it is expired and never used.
    #[error(
        "expired at its nextUpdate {next_update}, before {at}; fetch the current CRL from its issuer, or \
         {AT_FIX}"
    )]
    Expired { next_update: DateTime, at: DateTime },

    /// A thisUpdate or nextUpdate that RFC 3339 cannot write.
    #[error("has a thisUpdate or nextUpdate outside the years 0000–9999")]
    TimeOutOfRange,

    /// The CRL lists the certificate: its issuer revoked it.
    #[error(
        "lists {subject} (serial {serial}) as revoked on {revoked_on}: {issuer} withdrew it, so nothing it \
         signed is trusted"
    )]
    Revoked { subject: String, serial: String, revoked_on: DateTime, issuer: String },
}
