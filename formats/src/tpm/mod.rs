//! TPM 2.0 structures carried by vTPM evidence: keys (TPM2B_PUBLIC / TPMT_PUBLIC), attestations
//! (TPMS_ATTEST from TPM2_Quote and TPM2_Certify), RSASSA signatures, PCR selections and digests, and
//! the az-cvm-vtpm `Quote` that Confidential Containers evidence embeds.
//!
//! TPM 2.0 marshals integers big-endian (TCG TPM 2.0 Library, Part 2). Parsed values keep the exact
//! bytes that signatures and names are computed over: [`Attest::bytes`] is what the AK signed and
//! [`Public::tpmt_bytes`] is what a TPM name hashes. Nothing is re-encoded before it is checked.
//!
//! * [`Public`]: an RSA key (the AK, the ephemeral encryption key), its [name](Public::name) and its
//!   [`rsa::RsaPublicKey`].
//! * [`Attest`]: a quote ([`QuoteInfo`]) or a certification ([`CertifyInfo`]).
//! * [`Signature`], [`verify_rsassa`], [`verify_rsassa_sha256`]: RSASSA-PKCS1-v1_5 checks.
//! * [`PcrSelection`], [`pcr_digest`]: which PCRs a quote covers and the digest it signs;
//!   [`policy_pcr`]: the authPolicy that binds a key to PCR values.
//! * [`CocoQuote`]: the Confidential Containers encodings (bincode and hex JSON).
//!
//! The modules follow the chapters of the specification's Part 2, as tss-esapi's do: `algorithm`
//! (TPM_ALG_ID and hashes), `public` (TPMA_OBJECT, TPMT_PUBLIC), `attest` (TPMS_ATTEST), `pcr`
//! (TPMS_PCR_SELECTION, PCR and policy digests), `signature` (TPMT_SIGNATURE, RSASSA), and `coco`
//! (the Confidential Containers quote). Everything is used from here, `crate::tpm::…`.

mod algorithm;
mod attest;
mod coco;
mod pcr;
mod public;
mod signature;

pub use algorithm::{AlgorithmId, HashAlg};
pub use attest::{
    Attest, Attested, CertifyInfo, ClockInfo, QuoteInfo, TPM_GENERATED_VALUE, TPM_ST_ATTEST_CERTIFY,
    TPM_ST_ATTEST_QUOTE,
};
pub use coco::{CocoQuote, CocoQuoteHex};
pub use pcr::{PcrSelection, TPM_CC_POLICY_PCR, pcr_digest, policy_pcr};
pub use public::{ObjectAttributes, Public, RsaScheme, SymmetricDefinition};
pub use signature::{Signature, SignatureError, verify_rsassa, verify_rsassa_sha256};
