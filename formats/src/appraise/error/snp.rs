//! Failures of the SEV-SNP checks: `snp-vcek-chain`, `snp-revocation`, `snp-chip-id`, `snp-tcb`,
//! `snp-report-signature` and `snp-policy`.

use super::{CertError, RevocationError, ValidityError};
use crate::appraise::show::short_hex;
use crate::appraise::snp::{SIGNATURE_RESERVED, describe_policy};
use crate::snp::{Generation, GuestPolicy, REPORT_SIZE, Tcb};

/// Why an SEV-SNP report or its VCEK chain was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SnpError {
    // snp-vcek-chain
    /// The evidence carries no VCEK.
    #[error(
        "the evidence has no VCEK certificate; collect it with the report (IMDS THIM \
         /metadata/THIM/amd/certification on the VM, or AMD KDS by chip_id and reported_tcb)"
    )]
    MissingVcek,

    /// A `BEGIN CERTIFICATE` line of the VCEK chain (counted from 1) without its `END` line.
    #[error("certificate {position} of the VCEK chain has no `-----END CERTIFICATE-----`")]
    UnterminatedCertificate { position: usize },

    /// A certificate of the VCEK chain (counted from 1) that is not one.
    #[error("certificate {position} of the VCEK chain is {error}")]
    ChainCertificate { position: usize, error: CertError },

    /// The chain holds no certificate, or more than VCEK, ASK and ARK.
    #[error(
        "the VCEK chain holds {count} PEM certificates; expected the VCEK, optionally followed by \
         its ASK and the ARK"
    )]
    ChainLength { count: usize },

    /// A pinned AMD root (`role` is `ARK` or `ASK`) is not a certificate.
    #[error(
        "the pinned {generation} {role} (amd-{}-{}) is {error}",
        .role.to_lowercase(),
        .generation.name().to_lowercase()
    )]
    PinnedCertificate { generation: Generation, role: &'static str, error: CertError },

    /// The evidence's ARK (named by its common name) is not the pinned one.
    #[error(
        "the evidence's ARK ({evidence}) is not the pinned {pinned} byte for byte; remove it from the chain or \
         trust the roots it belongs to"
    )]
    ArkNotPinned { evidence: String, pinned: String },

    /// A link of the chain: `issuer` did not make `subject`'s RSA-PSS/SHA-384 signature.
    #[error("{subject} is not signed by {issuer} ({reason})")]
    NotSignedBy { subject: String, issuer: String, reason: String },

    /// The report's CPUID names a generation whose roots are not trusted.
    #[error(
        "the report's CPUID says {generation}, but no {generation} roots are trusted; add the \
         amd-ark-{key} and amd-ask-{key} anchors",
        key = .generation.name().to_lowercase()
    )]
    GenerationNotTrusted { generation: Generation },

    /// The chain does not verify to the roots of the generation the report's CPUID names.
    #[error("VCEK chain to {generation}: {error}")]
    ChainToGeneration { generation: Generation, error: Box<SnpError> },

    /// No AMD root is trusted at all.
    #[error("no AMD roots are trusted; add amd-ark-<generation> and amd-ask-<generation> anchors")]
    NoAmdRoots,

    /// A report without CPUID whose VCEK chains to none of the trusted generations; why not, for each.
    #[error(
        "the VCEK chains to none of the trusted AMD roots (the report has no CPUID, so each was tried): {}",
        .attempts.iter().map(|(generation, why)| format!("{generation}: {why}")).collect::<Vec<_>>().join("; ")
    )]
    NoGenerationChains { attempts: Vec<(Generation, SnpError)> },

    /// A certificate of the verified chain (VCEK, ASK or ARK) is not valid at the time judged at.
    #[error(transparent)]
    NotValid(#[from] ValidityError),

    // snp-revocation
    /// AMD's CRL (`crl` is its collateral name) cannot be used, or it revokes the ASK.
    #[error("the CRL `{crl}` {error}")]
    Revocation { crl: &'static str, error: Box<RevocationError> },

    // snp-chip-id
    /// The VCEK's hwID extension is not the report's chip_id.
    #[error(
        "the VCEK's hwID {} is not the report's chip_id {}: the VCEK belongs to another chip; supply \
         this chip's VCEK (IMDS THIM on the VM, or AMD KDS by chip_id)",
        short_hex(.hw_id),
        short_hex(.chip_id)
    )]
    ChipIdMismatch { hw_id: Vec<u8>, chip_id: Vec<u8> },

    /// The VCEK has no hwID (a VLEK, or another key).
    #[error("the VCEK has no hwID extension (1.3.6.1.4.1.3704.1.4); VLEK-signed reports are not supported")]
    MissingHwId,

    /// The VCEK's hwID is not 64 bytes.
    #[error("the VCEK's hwID is {len} bytes, expected 64")]
    HwIdLength { len: usize },

    // snp-tcb
    /// The TCB the VCEK certifies is not the report's reported_tcb.
    #[error(
        "the VCEK's TCB ({vcek}) is not the report's reported_tcb ({reported}); supply the VCEK \
         issued for this reported_tcb"
    )]
    TcbMismatch { vcek: Tcb, reported: Tcb },

    /// A VCEK SPL extension (`name`, its OID) that is not a small INTEGER.
    #[error("the VCEK's {name} ({oid}) is not a small INTEGER: {reason}")]
    InvalidSpl { name: &'static str, oid: String, reason: String },

    /// A required VCEK SPL extension is missing.
    #[error("the VCEK has no {name} extension ({oid})")]
    MissingSpl { name: &'static str, oid: String },

    // snp-report-signature
    /// The report's SIGNATURE_ALGO is not ECDSA P-384 with SHA-384 (1).
    #[error("the report's signature_algo is {found}, expected 1 (ECDSA P-384 with SHA-384)")]
    UnsupportedSignatureAlgorithm { found: u32 },

    /// The report was signed by a key other than the VCEK (key_info SIGNING_KEY).
    #[error(
        "the report's key_info says SIGNING_KEY {found}, not 0 (VCEK); only VCEK-signed reports \
         are supported"
    )]
    UnsupportedSigningKey { found: u32 },

    /// The VCEK's public key is not a P-384 point.
    #[error("the VCEK's public key ({len} bytes) is not a P-384 point")]
    VcekKeyNotP384 { len: usize },

    /// The report's signature does not verify with the VCEK.
    #[error(
        "the report's ECDSA P-384/SHA-384 signature over bytes [0, 0x2A0) does not verify with the VCEK: \
         the report was altered, or signed by another chip or TCB"
    )]
    ReportSignature,

    /// The report is too short to hold its signature.
    #[error("the report is {len} bytes, too short for its signature")]
    ReportTooShort { len: usize },

    /// The SIGNATURE field is too short for r and s.
    #[error("the signature field is cut short")]
    SignatureFieldShort,

    /// A high byte of r or s (`scalar`) is not zero: a second encoding of the same signature.
    #[error(
        "the report's signature is non-canonical: byte {byte} of {scalar} is {value:#04x}, but bytes 48..72 of its \
         72-byte little-endian field must be zero for P-384"
    )]
    NonCanonicalScalar { scalar: &'static str, byte: usize, value: u8 },

    /// A reserved byte of the SIGNATURE field (at report `offset`) is not zero.
    #[error(
        "the report's signature is non-canonical: its reserved bytes (report offset {start:#x}..{end:#x}) \
         must be zero, but offset {offset:#x} is not",
        start = SIGNATURE_RESERVED,
        end = REPORT_SIZE
    )]
    NonZeroReserved { offset: usize },

    /// r or s is zero or not below the group order.
    #[error("the report's signature is non-canonical: r or s is zero or not below the P-384 group order")]
    ScalarOutOfRange,

    // snp-policy
    /// The guest policy allows debugging.
    #[error(
        "{}: debugging is allowed (policy bit 19), so the hypervisor can read and write guest \
         memory; launch the VM with a policy that clears it",
        describe_policy(*.policy, *.vmpl)
    )]
    DebugAllowed { policy: GuestPolicy, vmpl: u32 },

    /// The report was requested at a VMPL other than the paravisor's 0.
    #[error(
        "{}: the report was requested at VMPL {vmpl}, not by the paravisor at VMPL 0; appraise the \
         HCL report from vTPM NV index 0x01400001",
        describe_policy(*.policy, *.vmpl)
    )]
    NotVmpl0 { policy: GuestPolicy, vmpl: u32 },
}
