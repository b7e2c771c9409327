//! Failures of the TDX checks: `tdx-pck-chain`, `tdx-revocation`, `tdx-qe-report-signature`, `tdx-qe-binding`,
//! `tdx-quote-signature`, `tdx-td-report-match`, `tdx-td-attributes` and `tdx-tcb-status`.

use std::sync::Arc;

use super::{CertError, RevocationError, ValidityError};
use crate::appraise::tdx::{UNDER_DEBUG, attribute_names, debug_reason, other_attributes};
use crate::intel::{CollateralError, TcbError};

/// Why a TD quote was rejected. Certificates are named by their subject (`CN=…`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TdxError {
    // tdx-pck-chain
    /// The quote's PCK chain does not hold PCK, intermediate CA and optionally the root.
    #[error("the PCK chain holds {count} certificate(s), expected 2 or 3 (PCK, intermediate CA, root)")]
    PckChainLength { count: usize },

    /// A certificate (`what`: "PCK chain certificate 1 (PCK)", "pinned Intel root 1" …) that is not one.
    #[error("{what} is {error}")]
    Certificate { what: String, error: CertError },

    /// The intermediate CA may not sign certificates (basicConstraints).
    #[error("{subject} is not a CA certificate (basicConstraints)")]
    NotCa { subject: String },

    /// A certificate signed with an algorithm other than ecdsa-with-SHA256 (its OID).
    #[error("{subject} is signed with algorithm {algorithm}, expected ecdsa-with-SHA256")]
    UnsupportedCertificateAlgorithm { subject: String, algorithm: String },

    /// A certificate's signature is not a DER ECDSA signature.
    #[error("the signature of {subject} is not a DER ECDSA signature")]
    MalformedCertificateSignature { subject: String },

    /// A link of the chain: `subject`'s signature does not verify with `issuer`'s key.
    #[error("the signature of {subject} does not verify with the key of {issuer}")]
    CertificateSignature { subject: String, issuer: String },

    /// A certificate's public key is not a P-256 point.
    #[error("the public key of {subject} is not a P-256 point")]
    KeyNotP256 { subject: String },

    /// The TBSCertificate of a certificate cannot be delimited.
    #[error("cannot find the signed part of {subject}: {reason}")]
    NoSignedPart { subject: String, reason: String },

    /// No Intel root is trusted at all.
    #[error("no Intel root is trusted: the trust anchors hold no `intel-sgx-root`")]
    NoIntelRoots,

    /// A pinned root that is not the one the quote's chain ends in (another public key).
    #[error("{root} has another public key")]
    RootKeyDiffers { root: String },

    /// The intermediate CA chains to none of the pinned roots; why not, for each.
    #[error(
        "{intermediate} does not chain to any of the {pinned} pinned Intel roots{}: {}",
        .chain_root.as_ref().map_or_else(String::new, |root| format!(" (the chain ends in {root})")),
        .failures.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
    )]
    NoPinnedRoot { intermediate: String, pinned: usize, chain_root: Option<String>, failures: Vec<TdxError> },

    /// A certificate of the verified chain (PCK, PCK CA or the pinned root) is not valid at the time
    /// judged at.
    #[error(transparent)]
    NotValid(#[from] ValidityError),

    // tdx-revocation
    /// An Intel CRL (`crl` is its collateral name) cannot be used, or it revokes the PCK CA or PCK.
    #[error("the CRL `{crl}` {error}")]
    Revocation { crl: &'static str, error: Box<RevocationError> },

    // tdx-qe-report-signature
    /// The QE report signature is not r ‖ s of a P-256 signature.
    #[error("the QE report signature is not a valid ECDSA P-256 signature (r ‖ s)")]
    MalformedQeReportSignature,

    /// The QE report signature does not verify with the PCK key.
    #[error(
        "the QE report signature does not verify with the PCK certificate's key over the 384-byte QE report"
    )]
    QeReportSignature,

    // tdx-qe-binding
    /// The QE report's `report_data[..32]` is not SHA-256(attestation key ‖ QE auth data).
    #[error(
        "QE report_data[..32] is {}, expected SHA-256(attestation key ‖ QE auth data) = {}",
        hex::encode(.found),
        hex::encode(.expected)
    )]
    QeBindingMismatch { found: Vec<u8>, expected: Vec<u8> },

    /// The QE report's `report_data[32..]` is not zero.
    #[error("QE report_data[32..] must be zero, found {}", hex::encode(.found))]
    QeReportDataPadding { found: Vec<u8> },

    // tdx-quote-signature
    /// The quote's attestation key is not a P-256 point.
    #[error("the attestation key is not a P-256 point")]
    AttestationKeyNotP256,

    /// The quote signature is not r ‖ s of a P-256 signature.
    #[error("the quote signature is not a valid ECDSA P-256 signature (r ‖ s)")]
    MalformedQuoteSignature,

    /// The quote signature does not verify over the `signed_len` bytes of header and body.
    #[error(
        "the quote signature does not verify with the attestation key over the {signed_len}-byte header and body"
    )]
    QuoteSignature { signed_len: usize },

    // tdx-td-report-match
    /// A field (`report_data`, `MRTD`, `RTMR0`…`RTMR3`) differs between the quote and the TD report.
    #[error(
        "quote {field} {} differs from the TD report's {}",
        hex::encode(.quote),
        hex::encode(.report)
    )]
    TdReportMismatch { field: &'static str, quote: Vec<u8>, report: Vec<u8> },

    // tdx-td-attributes
    /// The TD attributes mark a TD under debug (bits 7:0).
    #[error(
        "TD attributes {attributes:#x}: {} set: {}; launch the TD without debug. Other bits set: {}",
        attribute_names(*.attributes & UNDER_DEBUG),
        debug_reason(*.attributes),
        other_attributes(*.attributes)
    )]
    UnderDebug { attributes: u64 },

    // tdx-tcb-status
    /// TCB Info was supplied without the signing chain or the TD_QE identity it must be judged with:
    /// a verifier does not half-evaluate TCB status. `missing` are collateral names.
    #[error(
        "`tdx-tcb-info` was supplied without {}, and TCB status is judged with all three of `tdx-tcb-info`, \
         `intel-tcb-signing-chain` and `tdx-qe-identity` or not at all; supply {}",
        .missing.iter().map(|name| format!("`{name}`")).collect::<Vec<_>>().join(" and "),
        .missing.iter().map(|name| format!("`--collateral {name}=FILE`")).collect::<Vec<_>>().join(" and ")
    )]
    IncompleteTcbCollateral { missing: Vec<&'static str> },

    /// A collateral document (`name`: `tdx-tcb-info`, `tdx-qe-identity`, `intel-tcb-signing-chain`)
    /// does not parse, is not signed by the pinned Intel root's TCB signing key, or is not current.
    #[error("collateral `{name}`: {error}{}", collateral_fix(.error))]
    TcbCollateral { name: &'static str, error: Arc<CollateralError> },

    /// A certificate of `intel-tcb-signing-chain` is not valid at the time judged at.
    #[error("collateral `intel-tcb-signing-chain`: {0}")]
    TcbSigningChainNotValid(ValidityError),

    /// The platform's TCB could not be placed in the verified collateral, or is revoked.
    #[error(transparent)]
    Tcb(#[from] TcbError),
}

/// What to do about collateral that is not current.
fn collateral_fix(error: &CollateralError) -> &'static str {
    match error {
        CollateralError::Expired { .. } | CollateralError::NotYetIssued { .. } => {
            "; fetch current collateral from Intel's PCS, or verify as of a time inside it with `--at RFC3339`"
        }
        _ => "",
    }
}
