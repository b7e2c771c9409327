//! Intel's collateral for TDX: TCB Info and TD_QE identity documents with their signatures, the TCB
//! signing chain to the pinned Intel SGX root, and the SGX extension of PCK certificates.
//!
//! This is the material of `tdx-tcb-status`, and [`tcb`] its evaluation as Intel's QVL does it.
//!
//! * [`Signed`] ([`SignedTcbInfo`], [`SignedQeIdentity`]): a document parsed as Intel's PCS
//!   serves it, keeping the inner object's exact bytes; [`Signed::verify`] checks its ECDSA
//!   signature with a [`TcbSigningChain`], [`Signed::check_dates`] its `issueDate`/`nextUpdate`.
//! * [`PckExtensions`]: FMSPC, PCE ID, SGX TCB component SVNs, PCESVN and CPUSVN of a PCK leaf.
//! * [`tcb`]: the TCB level the platform is at, with the TDX module's and the TD_QE's, converged
//!   into one [`TcbVerdict`].
//! * [`DateTime`]: comparable RFC 3339 instants.

pub mod collateral;
pub mod pck;
pub mod tcb;

pub use crate::time::DateTime;
pub use collateral::{
    Document, EnclaveIdentity, IsvSvn, IsvTcbLevel, Level, Signed, SignedQeIdentity, SignedTcbInfo,
    TCB_SIGNING_CN, TcbComponent, TcbInfo, TcbLevel, TcbSigningChain, TcbStatus, TdxModule,
    TdxModuleIdentity, TdxTcb,
};
pub use pck::{PckExtensions, SGX_EXTENSIONS};
pub use tcb::{IsvTcb, PlatformMatch, PlatformTcb, TcbVerdict};

/// Why a collateral document or its signing chain was refused. Each variant names the document
/// (`TDX TCB Info`, `TD_QE identity`) or the certificate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CollateralError {
    /// Not strict JSON, or a field has the wrong type or value.
    #[error("{document}: {source}")]
    Json { document: &'static str, source: crate::json::Error },
    #[error("{document}: not a JSON object")]
    NotAnObject { document: &'static str },
    #[error("{document}: no `{member}` member")]
    MissingMember { document: &'static str, member: &'static str },
    /// A member besides the signed object and its signature, which nothing would vouch for.
    #[error("{document}: unexpected member `{member}` (expected only the signed object and `signature`)")]
    UnexpectedMember { document: &'static str, member: String },
    #[error("{document}: the signature is not 64 bytes of hex r ‖ s ({reason})")]
    MalformedSignature { document: &'static str, reason: String },
    /// The signature does not verify over the inner object's bytes.
    #[error("{document}: the signature does not verify with the key of {signer}")]
    Signature { document: &'static str, signer: String },
    #[error("{document} was issued at {issue_date}, after {at}")]
    NotYetIssued { document: &'static str, issue_date: String, at: String },
    #[error("{document} expired: its nextUpdate {next_update} is before {at}")]
    Expired { document: &'static str, next_update: String, at: String },

    #[error(
        "the TCB signing chain holds {count} PEM certificates; expected the Intel SGX TCB Signing certificate \
         and the root"
    )]
    ChainLength { count: usize },
    #[error("certificate {position} of the TCB signing chain is {reason}")]
    ChainCertificate { position: usize, reason: String },
    #[error("the first certificate of the TCB signing chain is {subject}, not CN=Intel SGX TCB Signing")]
    NotTcbSigner { subject: String },
    #[error("no Intel SGX root is trusted")]
    NoIntelRoots,
    #[error("pinned Intel root {position} is {reason}")]
    PinnedRoot { position: usize, reason: String },
    /// The chain's root is not a pinned Intel root, or no pinned root signed the TCB signing
    /// certificate.
    #[error("the TCB signing chain (root {root}) does not lead to a pinned Intel SGX root: {}", failures.join("; "))]
    Untrusted { root: String, failures: Vec<String> },
}

/// Compared by variant and message, since the JSON parser's error that `Json` carries cannot be
/// compared itself; this lets appraisal errors, which are compared in tests, carry these.
impl PartialEq for CollateralError {
    fn eq(&self, other: &Self) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other) && self.to_string() == other.to_string()
    }
}

impl Eq for CollateralError {}

/// Why the SGX extension of a PCK certificate could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PckError {
    #[error("no PCK certificate")]
    NoPckCertificate,
    #[error("the PCK certificate is {0}")]
    Certificate(String),
    #[error("the PCK certificate has no SGX extensions (OID 1.2.840.113741.1.13.1)")]
    NoSgxExtensions,
    #[error("the PCK certificate's SGX extensions have no {field}")]
    Missing { field: &'static str },
    #[error("the PCK certificate's SGX TCB has no component {index} SVN")]
    MissingComponent { index: usize },
    #[error("the PCK certificate's SGX extension {field} is malformed: {reason}")]
    Malformed { field: &'static str, reason: String },
}

/// Why a TD quote's TCB could not be placed in Intel's verified TCB Info and TD_QE identity, or was
/// placed at a revoked level. The messages name the values compared and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TcbError {
    #[error(transparent)]
    Pck(#[from] PckError),
    /// An SGX TCB Info, or a TDX one of another version, where TDX TCB Info v3 is needed.
    #[error(
        "the TCB Info is `{id}` version {version}, not TDX version 3; supply Intel's TDX TCB Info \
         (`/tdx/certification/v4/tcb?fmspc=…`)"
    )]
    NotTdxTcbInfo { id: String, version: u32 },
    #[error(
        "the TCB Info is for FMSPC {}, but the PCK certificate's is {}; supply the TDX TCB Info for FMSPC {}",
        hex::encode(.tcb_info), hex::encode(.pck), hex::encode(.pck)
    )]
    FmspcMismatch { tcb_info: [u8; 6], pck: [u8; 6] },
    #[error(
        "the TCB Info is for PCE ID {}, but the PCK certificate's is {}",
        hex::encode(.tcb_info), hex::encode(.pck)
    )]
    PceIdMismatch { tcb_info: [u8; 2], pck: [u8; 2] },
    /// The platform is below every level of the TCB Info: Intel no longer rates it at all.
    #[error(
        "no TCB level matches the platform (PCK SGX TCB components {}, PCESVN {pcesvn}; quote TEE_TCB_SVN {}): \
         at the lowest level, {unmet}; the platform is below every TCB Intel rates: update its firmware and \
         microcode",
        sgx_tcb_components.map(|svn| svn.to_string()).join(","),
        hex::encode(.tee_tcb_svn)
    )]
    NoTcbLevel { sgx_tcb_components: [u8; 16], pcesvn: u16, tee_tcb_svn: [u8; 16], unmet: String },
    /// The quote's TDX module version has no identity in a TCB Info that lists module identities.
    #[error(
        "the quote's TDX module {id} (TEE_TCB_SVN[1]) has no identity in the TCB Info, which lists {}",
        if .available.is_empty() { "none".to_owned() } else { .available.join(", ") }
    )]
    NoModuleIdentity { id: String, available: Vec<String> },
    /// The quote's MRSIGNERSEAM or SEAMATTRIBUTES are not those of the TDX module identity `id`.
    #[error("the quote's {field} is {found}, but TDX module identity {id} expects {expected}")]
    ModuleMismatch { id: String, field: &'static str, expected: String, found: String },
    #[error(
        "the TDX module's SVN (TEE_TCB_SVN[0]) {isvsvn} is below every level of {id}{}",
        .lowest.map(|svn| format!(" (the lowest needs {svn})")).unwrap_or_default()
    )]
    ModuleSvnTooLow { id: String, isvsvn: u8, lowest: Option<u16> },
    /// An identity other than the TD quoting enclave's (the SGX `QE`, say).
    #[error(
        "the QE identity is `{id}` version {version}, not `TD_QE` version 2 or later; supply Intel's TD_QE \
         identity (`/tdx/certification/v4/qe/identity`)"
    )]
    NotTdQeIdentity { id: String, version: u32 },
    /// A field of the quote's QE report (`MRSIGNER`, `ISVPRODID`, `MISCSELECT`, `ATTRIBUTES`) is not
    /// what the TD_QE identity says.
    #[error("the QE report's {field} is {found}, but the TD_QE identity expects {expected}")]
    QeMismatch { field: &'static str, expected: String, found: String },
    #[error(
        "the QE report's ISVSVN {isvsvn} is below every level of the TD_QE identity{}",
        .lowest.map(|svn| format!(" (the lowest needs {svn})")).unwrap_or_default()
    )]
    QeSvnTooLow { isvsvn: u16, lowest: Option<u16> },
    /// Intel revoked the TCB the platform, its TDX module or its QE is at.
    #[error(
        "Revoked: {what} is revoked by Intel (advisories {}); the platform cannot be trusted until it is updated",
        if .advisory_ids.is_empty() { "none".to_owned() } else { .advisory_ids.join(", ") }
    )]
    Revoked { what: &'static str, advisory_ids: Vec<String> },
}
