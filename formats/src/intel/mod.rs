//! Intel's collateral for TDX: TCB Info and TD_QE identity documents with their signatures, the TCB
//! signing chain to the pinned Intel SGX root, and the SGX extension of PCK certificates.
//!
//! This is the material of `tdx-tcb-status`; the TCB level matching itself is not here yet.
//!
//! * [`Signed`] ([`SignedTcbInfo`], [`SignedQeIdentity`]): a document parsed as Intel's PCS
//!   serves it, keeping the inner object's exact bytes; [`Signed::verify`] checks its ECDSA
//!   signature with a [`TcbSigningChain`], [`Signed::check_dates`] its `issueDate`/`nextUpdate`.
//! * [`PckExtensions`]: FMSPC, PCE ID, SGX TCB component SVNs, PCESVN and CPUSVN of a PCK leaf.
//! * [`DateTime`]: comparable RFC 3339 instants.

pub mod collateral;
pub mod pck;

pub use crate::time::DateTime;
pub use collateral::{
    Document, EnclaveIdentity, IsvSvn, IsvTcbLevel, Signed, SignedQeIdentity, SignedTcbInfo, TCB_SIGNING_CN,
    TcbComponent, TcbInfo, TcbLevel, TcbSigningChain, TcbStatus, TdxModule, TdxModuleIdentity, TdxTcb,
};
pub use pck::{PckExtensions, SGX_EXTENSIONS};

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
