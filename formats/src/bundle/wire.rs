//! The evidence bundle v1 as JSON. These types are the reference; `docs/schemas/evidence-bundle-v1.schema.json`
//! says the same for other languages (a test holds them together).
//!
//! ```json
//! { "format": "cvm-attest-evidence", "version": 1, "platform": "azure-sev-snp",
//!   "collected_at": "2026-11-27T21:31:00Z", "nonce": null,
//!   "hcl_report": "SENMQQ...", "vcek_chain": "-----BEGIN CERTIFICATE-----\n...", "td_quote": null,
//!   "tpm": { "ak_public": "...", "ak_cert": "...", "quote": "...", "quote_signature": "...",
//!            "pcr_bank": "sha256", "pcrs": { "0": "e15c...", "1": "..." },
//!            "ephemeral_key": null },
//!   "event_log": null, "os": null, "collateral": null }
//! ```
//!
//! * Byte strings are standard base64 with padding (RFC 4648 §4). PCR values are lower-case hex
//!   (readers accept either case).
//! * Writers emit every key, in the order declared here, with `null` for absent values; readers
//!   treat a missing optional key as `null` and ignore keys they do not know, so a later v1
//!   writer may add keys. Anything that changes the meaning of an existing key is version 2.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Platform;

/// The bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleV1 {
    /// Always `"cvm-attest-evidence"`.
    pub format: String,
    /// Always `1`. Readers refuse versions they do not know.
    pub version: u32,
    /// `"azure-sev-snp"`, `"azure-tdx"` or `"azure-trusted-launch"`.
    pub platform: Platform,
    /// When the evidence was collected, RFC 3339.
    pub collected_at: String,
    /// The user's nonce, base64, or `null` when none was bound.
    #[serde(default)]
    pub nonce: Option<String>,
    /// The whole HCL report NV index (0x01400001) content, base64.
    pub hcl_report: String,
    /// SNP: PEM text of the VCEK, ASK and ARK (THIM `vcekCert` + `certificateChain`); `null`
    /// otherwise.
    #[serde(default)]
    pub vcek_chain: Option<String>,
    /// TDX: the TD quote from IMDS `/acc/tdquote`, base64; `null` otherwise.
    #[serde(default)]
    pub td_quote: Option<String>,
    /// The vTPM evidence; `null` only for evidence read from an MAA SevSnpVm or TdxVm request,
    /// which has none (`evidence collect` always writes it).
    #[serde(default)]
    pub tpm: Option<Tpm>,
    /// The TCG event log (`binary_bios_measurements`), base64, or `null`.
    #[serde(default)]
    pub event_log: Option<String>,
    /// The guest OS, or `null`. Informational: no signature covers it, so verifiers must not treat
    /// it as attested.
    #[serde(default)]
    pub os: Option<Os>,
    /// Endorsements the verifier may need, carried with the evidence so that it can be appraised
    /// elsewhere: collateral name (`tdx-tcb-info`, `amd-crl`, … as for `--collateral`) to the
    /// file's bytes, base64; `null` when none. They are as trustworthy as their signatures: the
    /// verifier checks each against its pinned roots, and an operator's file of the same name
    /// replaces the bundle's.
    #[serde(default)]
    pub collateral: Option<BTreeMap<String, String>>,
}

/// The vTPM evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tpm {
    /// TPM2B_PUBLIC of the AK (0x81000003), base64. Empty when converted from a format that
    /// does not carry it (the HCL runtime claims' `HCLAkPub` then stands for it).
    pub ak_public: String,
    /// The AK certificate (NV 0x01C101D0), DER, base64, or `null`.
    #[serde(default)]
    pub ak_cert: Option<String>,
    /// TPMS_ATTEST of the quote (no TPM2B size prefix), base64.
    pub quote: String,
    /// The quote's raw RSASSA signature (no TPMT_SIGNATURE header), base64.
    pub quote_signature: String,
    /// The PCR bank quoted: `"sha256"`.
    pub pcr_bank: String,
    /// PCR index (decimal string, 0 to 23) to its value, hex.
    pub pcrs: BTreeMap<u8, String>,
    /// The PCR-bound ephemeral key certified by the AK, or `null`.
    #[serde(default)]
    pub ephemeral_key: Option<EphemeralKey>,
}

/// The ephemeral key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EphemeralKey {
    /// TPM2B_PUBLIC, base64.
    pub public: String,
    /// TPMS_ATTEST from TPM2_Certify, base64.
    pub certify_info: String,
    /// Raw RSASSA signature over `certify_info`, base64.
    pub certify_signature: String,
}

/// The guest OS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Os {
    /// `"Linux"` or `"Windows"`.
    #[serde(rename = "type")]
    pub os_type: String,
    /// Distribution, e.g. `"Ubuntu"`.
    pub distro: String,
    /// Major version, a number.
    pub version_major: u32,
    /// Minor version, a number.
    pub version_minor: u32,
}
