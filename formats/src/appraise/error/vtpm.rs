//! Failures of the vTPM checks: `vtpm-ak-public`, `vtpm-ak-cert`, `vtpm-quote-signature`,
//! `vtpm-quote-structure`, `vtpm-quote-nonce`, `vtpm-pcr-digest`, `vtpm-ephemeral-key` and
//! `eventlog-replay`.

use std::collections::BTreeSet;
use std::fmt;

use super::{CertError, ValidityError};
use crate::ParseError;
use crate::appraise::show::{describe_selections, hex_prefix, pcr_list, show_bytes, show_digest};
use crate::eventlog::{EventType, ReplayError};
use crate::hcl::AK_KID;
use crate::tpm::{
    AlgorithmId, HashAlg, ObjectAttributes, PcrSelection, SignatureError, TPM_ST_ATTEST_CERTIFY,
    TPM_ST_ATTEST_QUOTE,
};

/// Why the vTPM evidence was rejected. `HCLAkPub` is the AK of the runtime claims, which the
/// hardware report vouches for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VtpmError {
    // vtpm-ak-public
    /// A Trusted Launch VM's evidence has no AK public area, the only AK it could have.
    #[error(
        "the evidence carries no AK public area (TPM2B_PUBLIC); a Trusted Launch VM's AK is the one its certificate vouches for"
    )]
    MissingAkPublic,
    /// A Trusted Launch VM's evidence has no AK certificate: nothing would vouch for its AK.
    #[error(
        "the evidence carries no AK certificate; a Trusted Launch VM has no hardware report, so only Azure's vTPM CA \
         can vouch for its AK"
    )]
    MissingAkCert,
    /// The runtime claims have no `HCLAkPub` key.
    #[error("the runtime claims have no {kid} key", kid = AK_KID)]
    MissingAk,

    /// `HCLAkPub` is not an RSA key.
    #[error("{kid} has kty {kty:?}, expected \"RSA\"", kid = AK_KID)]
    AkNotRsa { kty: String },

    /// `HCLAkPub` lacks `n` or `e`.
    #[error("{kid} lacks its modulus n or exponent e", kid = AK_KID)]
    AkIncomplete,

    /// `HCLAkPub`'s `n` and `e` do not make an RSA key.
    #[error("{kid} is not a usable RSA key: {reason}", kid = AK_KID)]
    AkUnusable { reason: String },

    /// The bundle's AK public area (TPM2B_PUBLIC) does not parse.
    #[error("the bundle's AK public area does not parse: {0}")]
    AkPublic(ParseError),

    /// The bundle's AK has another modulus than `HCLAkPub` (both big-endian).
    #[error(
        "the bundle's AK modulus ({}…) differs from {kid}'s ({}…)",
        hex_prefix(.bundle),
        hex_prefix(.hcl),
        kid = AK_KID
    )]
    AkModulusMismatch { bundle: Vec<u8>, hcl: Vec<u8> },

    /// The bundle's AK has another exponent than `HCLAkPub` (in decimal).
    #[error("the bundle's AK exponent {bundle} differs from {kid}'s {hcl}", kid = AK_KID)]
    AkExponentMismatch { bundle: u32, hcl: String },

    /// The bundle's AK could sign outside messages, or decrypt.
    #[error("the bundle's AK is not a restricted signing key: {attributes:?}")]
    AkNotRestrictedSigning { attributes: ObjectAttributes },

    // vtpm-ak-cert
    /// The AK certificate is not a DER X.509 certificate.
    #[error("the AK certificate is {0}")]
    AkCertificate(CertError),

    /// A trusted vTPM anchor (`azure-vtpm-root`, `azure-vtpm-intermediate`) is not a certificate.
    #[error("the trusted {name} is {error}")]
    VtpmAnchor { name: &'static str, error: CertError },

    /// No Azure vTPM root is trusted, so no AK certificate can chain.
    #[error(
        "no Azure vTPM root is trusted, so the AK certificate {subject} cannot be chained; add \
         `--trust-anchor azure-vtpm-root=FILE`"
    )]
    NoVtpmRoot { subject: String },

    /// No trusted certificate has the issuer's name (or none of those that have it is a CA).
    #[error(
        "{subject} is issued by `{issuer}`, which is neither a trusted Azure vTPM intermediate ({}) nor a \
         trusted root ({}); if Azure issued it, trust its CA with `--trust-anchor azure-vtpm-intermediate=FILE` \
         beside the other anchors",
        list(.intermediates),
        list(.roots)
    )]
    IssuerNotTrusted { subject: String, issuer: String, intermediates: Vec<String>, roots: Vec<String> },

    /// The chain passes more intermediates than allowed without reaching a root.
    #[error("{subject}'s chain passes {max} intermediates without reaching a trusted Azure vTPM root")]
    ChainTooLong { subject: String, max: usize },

    /// A certificate is signed with something other than RSA PKCS#1 v1.5 with SHA-2.
    #[error(
        "{subject} is signed with algorithm {algorithm}; only sha256-, sha384- and sha512WithRSAEncryption \
         (RSA PKCS#1 v1.5) are supported"
    )]
    CertAlgorithm { subject: String, algorithm: String },

    /// A certificate's key is not a usable RSA key.
    #[error("{subject}'s public key is not a usable RSA key: {reason}")]
    CertKey { subject: String, reason: String },

    /// A certificate's signed part (TBSCertificate) cannot be located.
    #[error("{subject}'s signed part (TBSCertificate) cannot be read: {reason}")]
    CertSignedPart { subject: String, reason: String },

    /// `issuer` has `subject`'s issuer name, but its key did not make `subject`'s signature.
    #[error(
        "{subject}'s signature does not verify with the key of {issuer} ({error}): the certificate was altered, \
         or another CA of that name issued it"
    )]
    CertSignature { subject: String, issuer: String, error: SignatureError },

    /// A certificate that signed another is not a CA, or its path length forbids the chain.
    #[error("{issuer} signed {subject} but may not issue it: {reason}")]
    IssuerNotCa { subject: String, issuer: String, reason: String },

    /// A certificate of the chain is not valid yet at the time judged at.
    /// A certificate of the AK's chain is not valid at the time judged at.
    #[error(transparent)]
    NotValid(#[from] ValidityError),

    /// The AK certificate certifies another key than the AK that signs the quote (`HCLAkPub`).
    #[error(
        "the AK certificate {subject} certifies another key (modulus {}…, exponent {cert_exponent}) than the AK \
         that signs the quote (modulus {}…, exponent {ak_exponent}): it was issued to another vTPM",
        hex_prefix(.cert_modulus),
        hex_prefix(.ak_modulus)
    )]
    AkCertKeyMismatch {
        subject: String,
        cert_modulus: Vec<u8>,
        cert_exponent: String,
        ak_modulus: Vec<u8>,
        ak_exponent: String,
    },

    // vtpm-quote-signature, and the certification of vtpm-ephemeral-key
    /// The signature over `what` (`quote`, `certification`) does not verify with the AK (`ak`:
    /// `HCLAkPub`, or the certified AK of a Trusted Launch VM).
    #[error("the {what} signature does not verify with {ak}: {error}")]
    Signature { what: &'static str, ak: &'static str, error: SignatureError },

    // vtpm-quote-structure
    /// The quote is not a TPMS_ATTEST.
    #[error("the quote is not a TPM quote: {0}")]
    Quote(ParseError),

    /// The attestation is of another type than TPM_ST_ATTEST_QUOTE.
    #[error(
        "the attestation has type 0x{found:04x}, expected TPM_ST_ATTEST_QUOTE 0x{expected:04x}",
        expected = TPM_ST_ATTEST_QUOTE
    )]
    NotAQuote { found: u16 },

    /// The quote selects something other than PCRs of the SHA-256 bank alone.
    #[error("the quote selects {}, expected PCRs of the SHA-256 bank alone", describe_selections(.selections))]
    QuoteSelection { selections: Vec<PcrSelection> },

    // vtpm-quote-nonce
    /// extraData is not the nonce as bound.
    #[error(
        "the quote's extraData is {}, expected the bound nonce {}",
        show_bytes(.found),
        show_bytes(.expected)
    )]
    NonceMismatch { found: Vec<u8>, expected: Vec<u8> },

    // vtpm-pcr-digest
    /// The supplied PCRs are of another bank than the quoted ones.
    #[error("the supplied PCRs are of the {supplied} bank, the quote's of {quoted}")]
    PcrBankMismatch { supplied: HashAlg, quoted: AlgorithmId },

    /// The supplied PCRs are not the quoted ones.
    #[error(
        "the quote selects PCRs {quoted:?}, the evidence supplies {supplied:?} (missing {:?}, not quoted {:?})",
        .quoted.difference(.supplied).collect::<Vec<_>>(),
        .supplied.difference(.quoted).collect::<Vec<_>>()
    )]
    PcrSetMismatch { quoted: BTreeSet<u32>, supplied: BTreeSet<u32> },

    /// The digest of the supplied values is not the quote's pcrDigest.
    #[error(
        "the quote's pcrDigest is {}, but {bank} of the supplied values of PCRs {} is {}",
        hex::encode(.quoted),
        pcr_list(.pcrs.iter().copied()),
        hex::encode(.computed)
    )]
    PcrDigestMismatch { quoted: Vec<u8>, bank: HashAlg, pcrs: Vec<u32>, computed: Vec<u8> },

    // vtpm-ephemeral-key
    /// The certification is not a TPMS_ATTEST.
    #[error("the certification is not a TPM attestation: {0}")]
    Certification(ParseError),

    /// The certification is of another type than TPM_ST_ATTEST_CERTIFY.
    #[error(
        "the certification has type 0x{found:04x}, expected TPM_ST_ATTEST_CERTIFY 0x{expected:04x}",
        expected = TPM_ST_ATTEST_CERTIFY
    )]
    NotACertification { found: u16 },

    /// The ephemeral key's public area (TPM2B_PUBLIC) does not parse.
    #[error("the ephemeral key's public area does not parse: {0}")]
    EphemeralPublic(ParseError),

    /// The certification names another object than the ephemeral key.
    #[error(
        "the certification names {}, but the ephemeral key's name (nameAlg ‖ {name_alg}(TPMT_PUBLIC)) is {}",
        hex::encode(.certified),
        hex::encode(.name)
    )]
    CertifiedNameMismatch { certified: Vec<u8>, name_alg: HashAlg, name: Vec<u8> },

    /// The ephemeral key can sign, or is restricted, or cannot decrypt.
    #[error("the ephemeral key is not an unrestricted decryption key: {attributes:?}")]
    EphemeralNotDecryption { attributes: ObjectAttributes },

    /// The ephemeral key's authValue alone would unlock it.
    #[error(
        "the ephemeral key has userWithAuth ({attributes:?}): its authValue unlocks it whatever the PCRs"
    )]
    EphemeralUserWithAuth { attributes: ObjectAttributes },

    /// The ephemeral key's authPolicy is not PolicyPCR over the quoted values.
    #[error(
        "the ephemeral key's authPolicy is {}, but PolicyPCR ({name_alg}) over the quoted values of PCRs {} \
         is {} (only the quoted selection is tried: the evidence does not say which PCRs the policy covers)",
        show_digest(.found),
        pcr_list(.pcrs.iter().copied()),
        hex::encode(.expected)
    )]
    AuthPolicyMismatch { found: Vec<u8>, name_alg: HashAlg, pcrs: Vec<u32>, expected: Vec<u8> },

    // eventlog-replay
    /// The event log does not parse.
    #[error("the event log does not parse: {0}")]
    EventLog(ParseError),

    /// The event log does not replay.
    #[error("the event log does not replay: {0}")]
    Replay(ReplayError),

    /// An event (by its index in the log) extends a quoted PCR without a SHA-256 digest; `more`
    /// such events follow it.
    #[error(
        "event {event} ({event_type}, PCR {pcr}) has no SHA-256 digest, yet extends a quoted PCR: replaying the quoted \
         bank would skip it, so nothing checks it{}",
        if *.more == 0 { String::new() } else { format!(" (and {} more such events)", .more) }
    )]
    EventWithoutDigest { event: usize, event_type: EventType, pcr: u32, more: usize },

    /// Replaying the log gives other values than the quoted ones.
    #[error(
        "replaying the event log's SHA-256 bank does not give {}",
        .mismatches.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
    )]
    ReplayMismatch { mismatches: Vec<PcrMismatch> },

    /// The log extends none of the quoted PCRs (it extends `extended`).
    #[error("the event log extends none of the quoted PCRs (it extends PCRs {extended:?})")]
    NoQuotedPcrExtended { extended: Vec<u32> },
}

/// Common names, comma-separated, or `none`.
fn list(names: &[String]) -> String {
    if names.is_empty() { "none".to_owned() } else { names.join(", ") }
}

/// A PCR whose replayed value is not the quoted one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcrMismatch {
    pub pcr: u32,
    pub log: Vec<u8>,
    pub quoted: Vec<u8>,
}

impl fmt::Display for PcrMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PCR {} (log {}, quoted {})", self.pcr, hex::encode(&self.log), hex::encode(&self.quoted))
    }
}
