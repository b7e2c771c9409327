//! Why an appraisal step failed: one variant per way a check can fail, grouped by section.
//!
//! The `Display` of every error is the failed step's `detail`, word for word; the variants say what
//! failed (a signature, a link of a chain, a field whose two values differ, a version or algorithm
//! that is not supported …) and carry the values compared, so that callers can act on a failure
//! (map it to an error code, say) without reading the message. [`Step::error`](super::Step::error)
//! keeps the error of a failed step.

mod revocation;
mod snp;
mod tdx;
mod vtpm;

pub use revocation::{RevocationError, ValidityError};
pub use snp::SnpError;
pub use tdx::TdxError;
pub use vtpm::{PcrMismatch, VtpmError};

use crate::ParseError;
use crate::hcl::{BindingError, ReportType};

/// Why an appraisal step failed. Its `Display` is the step's detail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AppraisalError {
    /// A structure of the evidence (the HCL report, its TD report or runtime claims, the TD quote)
    /// does not parse.
    #[error(transparent)]
    Parse(#[from] ParseError),

    /// The hardware report's `report_data` does not hold the hash of the runtime claims.
    #[error(transparent)]
    Binding(#[from] BindingError),

    /// A TDX platform's evidence without the TD quote that vouches for the TD report.
    #[error("the evidence has no TD quote (from IMDS /acc/tdquote)")]
    MissingTdQuote,

    /// A Trusted Launch VM: nothing hardware-signed to appraise.
    #[error("a Trusted Launch VM has no hardware (TEE) report: there is nothing to appraise offline")]
    NoHardwareReport,

    /// The bundle's platform and the HCL report's type disagree.
    #[error("the evidence says {platform} but the HCL report is {report_type}")]
    PlatformMismatch { platform: &'static str, report_type: ReportType },

    /// A nonce is expected but nothing binds one: no vTPM quote, and no user data in the runtime
    /// claims.
    #[error(
        "nothing binds the expected nonce: the evidence has no vTPM quote and its runtime claims carry \
         no user data; attest with the nonce in the report's user data (`evidence collect --nonce`)"
    )]
    NonceUnbound,

    /// The fresh HCL report's user data is not the expected nonce.
    #[error("user-data {} is not the expected nonce", hex::encode(.found))]
    UserDataMismatch { found: Vec<u8> },

    /// A check of the SEV-SNP report or its VCEK chain.
    #[error(transparent)]
    Snp(#[from] SnpError),

    /// A check of the TD quote, its QE report or PCK chain.
    #[error(transparent)]
    Tdx(#[from] TdxError),

    /// A check of the vTPM quote, ephemeral key or event log.
    #[error(transparent)]
    Vtpm(#[from] VtpmError),
}

/// Why text is not one PEM X.509 certificate. The message completes "… is", as in "certificate 2 of
/// the VCEK chain is not PEM (…)".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertError {
    /// Not PEM at all.
    #[error("not PEM ({reason})")]
    NotPem { reason: String },
    /// PEM, but of something else (a key, a CRL …).
    #[error("a PEM `{label}`, not a CERTIFICATE")]
    NotCertificate { label: String },
    /// A PEM certificate whose DER is not an X.509 certificate.
    #[error("not an X.509 certificate ({reason})")]
    NotX509 { reason: String },
}
