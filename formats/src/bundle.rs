//! The evidence bundle v1, and the other evidence encodings readers accept.
//!
//! A bundle is everything `evidence collect` gathers inside a CVM, as one JSON file that can be
//! saved, moved and verified elsewhere. [`wire`] is the JSON exactly as written (its docs are the
//! schema); [`EvidenceBundle`] is the decoded form the rest of the code works with. Keeping the two
//! apart keeps encoding decisions (base64, hex, key order) out of the appraisal code.
//!
//! [`detect`] tells apart everything `evidence show` accepts; [`EvidenceBundle::from_coco_json`]
//! turns the Confidential Containers `az-snp-vtpm` / `az-tdx-vtpm` evidence JSON into a bundle.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::thim::pem_certificate_count;

/// The `format` value of every bundle.
pub const FORMAT: &str = "cvm-attest-evidence";

/// The bundle version this crate reads and writes.
pub const VERSION: u32 = 1;

const BUNDLE: &str = "evidence bundle";
const COCO_SNP: &str = "Confidential Containers az-snp-vtpm evidence";
const COCO_TDX: &str = "Confidential Containers az-tdx-vtpm evidence";
const COCO: &str = "Confidential Containers evidence";

/// Why evidence could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Not JSON, or a field has the wrong JSON type.
    #[error("{document}: {source}")]
    Json { document: &'static str, source: serde_json::Error },

    /// JSON, but not a cvm-attest evidence bundle.
    #[error(
        "not a cvm-attest evidence bundle: {reason} (expected a JSON object with \"format\": \"{FORMAT}\")"
    )]
    Format { reason: String },

    /// A version this crate does not read.
    #[error("{document}: unknown version {found}, supported {supported}")]
    UnsupportedVersion { document: &'static str, found: String, supported: &'static str },

    /// A field whose value is impossible.
    #[error("{document}: invalid {field}: {reason}")]
    Field { document: &'static str, field: String, reason: String },
}

impl Error {
    fn field(document: &'static str, field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Field { document, field: field.into(), reason: reason.into() }
    }
}

/// Which kind of Azure VM the evidence comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Platform {
    /// `"azure-sev-snp"`: an AMD SEV-SNP confidential VM.
    #[serde(rename = "azure-sev-snp")]
    AzureSevSnp,
    /// `"azure-tdx"`: an Intel TDX confidential VM.
    #[serde(rename = "azure-tdx")]
    AzureTdx,
    /// `"azure-trusted-launch"`: a Trusted Launch VM (vTPM, no TEE).
    #[serde(rename = "azure-trusted-launch")]
    AzureTrustedLaunch,
}

impl Platform {
    /// The name in the bundle.
    pub fn name(self) -> &'static str {
        match self {
            Platform::AzureSevSnp => "azure-sev-snp",
            Platform::AzureTdx => "azure-tdx",
            Platform::AzureTrustedLaunch => "azure-trusted-launch",
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An RFC 3339 date and time (`2026-11-27T21:31:00Z`, optionally with a fraction and an offset).
/// The text is kept as written; this crate has no clock and does no time arithmetic.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Timestamp(String);

/// A string that is not an RFC 3339 date and time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an RFC 3339 date and time (YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)): {0:?}")]
pub struct InvalidTimestamp(pub String);

impl Timestamp {
    /// Check the RFC 3339 `date-time` syntax and field ranges.
    pub fn parse(text: &str) -> Result<Self, InvalidTimestamp> {
        if is_rfc3339(text.as_bytes()) {
            Ok(Timestamp(text.to_owned()))
        } else {
            Err(InvalidTimestamp(text.to_owned()))
        }
    }

    /// The text as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Evidence collected in one Azure VM, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceBundle {
    /// The kind of VM.
    pub platform: Platform,
    /// When the evidence was collected.
    pub collected_at: Timestamp,
    /// The nonce as the user gave it (before any hashing to 64 bytes), if one was bound.
    pub nonce: Option<Vec<u8>>,
    /// The whole HCL report NV index content (see [`crate::hcl`]).
    pub hcl_report: Vec<u8>,
    /// SNP: VCEK, ASK and ARK as PEM text (from THIM). May hold the VCEK alone (see
    /// [`EvidenceBundle::from_coco_json`]); a verifier then adds its pinned ASK and ARK.
    pub vcek_chain: Option<String>,
    /// TDX: the TD quote from IMDS.
    pub td_quote: Option<Vec<u8>>,
    /// The vTPM evidence.
    pub tpm: TpmEvidence,
    /// The TCG event log.
    pub event_log: Option<Vec<u8>>,
    /// The guest OS.
    pub os: Option<OsInfo>,
}

/// The vTPM part of a bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TpmEvidence {
    /// TPM2B_PUBLIC of the AK (persistent handle 0x81000003). Empty when the source format does
    /// not carry it; the runtime claims' `HCLAkPub` then stands for it.
    pub ak_public: Vec<u8>,
    /// The AK certificate, DER (NV index 0x01C101D0).
    pub ak_cert: Option<Vec<u8>>,
    /// TPMS_ATTEST of the PCR quote.
    pub quote: Vec<u8>,
    /// The quote's raw RSASSA signature bytes.
    pub quote_signature: Vec<u8>,
    /// The PCR values the quote covers.
    pub pcrs: Pcrs,
    /// The PCR-bound ephemeral key MAA encrypts its answer to.
    pub ephemeral_key: Option<EphemeralKey>,
}

/// The ephemeral key and its certification by the AK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EphemeralKey {
    /// TPM2B_PUBLIC of the key.
    pub public: Vec<u8>,
    /// TPMS_ATTEST from TPM2_Certify.
    pub certify_info: Vec<u8>,
    /// The raw RSASSA signature over `certify_info`.
    pub certify_signature: Vec<u8>,
}

/// The guest OS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OsInfo {
    /// `Linux` or `Windows`.
    pub os_type: String,
    /// Distribution name, e.g. `Ubuntu`.
    pub distro: String,
    /// Major version.
    pub version_major: u32,
    /// Minor version.
    pub version_minor: u32,
}

/// A PCR bank.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PcrBank {
    /// The SHA-256 bank, the only one Azure attestation uses.
    Sha256,
}

impl PcrBank {
    /// The name in the bundle.
    pub fn name(self) -> &'static str {
        match self {
            PcrBank::Sha256 => "sha256",
        }
    }

    /// Size of each PCR value.
    pub fn digest_size(self) -> usize {
        match self {
            PcrBank::Sha256 => 32,
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        match name {
            "sha256" => Some(PcrBank::Sha256),
            _ => None,
        }
    }
}

/// PCR values of one bank: indices 0 to 23, each value as long as the bank's digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pcrs {
    bank: PcrBank,
    values: BTreeMap<u8, Vec<u8>>,
}

/// The highest PCR index.
pub const MAX_PCR: u8 = 23;

impl Pcrs {
    /// Check indices and digest sizes.
    pub fn new(bank: PcrBank, values: BTreeMap<u8, Vec<u8>>) -> Result<Self, Error> {
        for (&index, value) in &values {
            if index > MAX_PCR {
                return Err(Error::field(
                    BUNDLE,
                    format!("tpm.pcrs.{index}"),
                    "PCR index out of range 0..=23",
                ));
            }
            if value.len() != bank.digest_size() {
                return Err(Error::field(
                    BUNDLE,
                    format!("tpm.pcrs.{index}"),
                    format!("a {} PCR is {} bytes, found {}", bank.name(), bank.digest_size(), value.len()),
                ));
            }
        }
        Ok(Pcrs { bank, values })
    }

    /// The bank.
    pub fn bank(&self) -> PcrBank {
        self.bank
    }

    /// The value of PCR `index`.
    pub fn get(&self, index: u8) -> Option<&[u8]> {
        self.values.get(&index).map(Vec::as_slice)
    }

    /// All values, by ascending index.
    pub fn values(&self) -> &BTreeMap<u8, Vec<u8>> {
        &self.values
    }
}

pub mod wire {
    //! The evidence bundle v1 as JSON. These types are the schema.
    //!
    //! ```json
    //! { "format": "cvm-attest-evidence", "version": 1, "platform": "azure-sev-snp",
    //!   "collected_at": "2026-11-27T21:31:00Z", "nonce": null,
    //!   "hcl_report": "SENMQQ...", "vcek_chain": "-----BEGIN CERTIFICATE-----\n...", "td_quote": null,
    //!   "tpm": { "ak_public": "...", "ak_cert": "...", "quote": "...", "quote_signature": "...",
    //!            "pcr_bank": "sha256", "pcrs": { "0": "e15c...", "1": "..." },
    //!            "ephemeral_key": null },
    //!   "event_log": null, "os": null }
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
        /// The vTPM evidence.
        pub tpm: Tpm,
        /// The TCG event log (`binary_bios_measurements`), base64, or `null`.
        #[serde(default)]
        pub event_log: Option<String>,
        /// The guest OS, or `null`.
        #[serde(default)]
        pub os: Option<Os>,
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
}

/// Just enough of a document to check what it is before reading all of it.
#[derive(Deserialize)]
struct Header {
    #[serde(default)]
    format: Option<serde_json::Value>,
    #[serde(default)]
    version: Option<serde_json::Value>,
}

impl EvidenceBundle {
    /// Read a bundle. Refuses other JSON and versions other than 1, saying which.
    pub fn from_json(json: &[u8]) -> Result<Self, Error> {
        let json_error = |source| Error::Json { document: BUNDLE, source };
        if !json.trim_ascii_start().starts_with(b"{") {
            serde_json::from_slice::<serde::de::IgnoredAny>(json).map_err(json_error)?;
            return Err(Error::Format { reason: "the JSON is not an object".to_owned() });
        }
        let header: Header = serde_json::from_slice(json).map_err(json_error)?;
        match &header.format {
            Some(serde_json::Value::String(format)) if format == FORMAT => {}
            Some(other) => return Err(Error::Format { reason: format!("\"format\" is {other}") }),
            None => return Err(Error::Format { reason: "no \"format\" key".to_owned() }),
        }
        match &header.version {
            Some(version) if version.as_u64() == Some(u64::from(VERSION)) => {}
            Some(other) => {
                return Err(Error::UnsupportedVersion {
                    document: BUNDLE,
                    found: other.to_string(),
                    supported: "1",
                });
            }
            None => {
                return Err(Error::UnsupportedVersion {
                    document: BUNDLE,
                    found: "missing".to_owned(),
                    supported: "1",
                });
            }
        }
        let wire: wire::BundleV1 = serde_json::from_slice(json).map_err(json_error)?;
        Self::from_wire(wire)
    }

    /// Write the bundle: pretty JSON, keys in schema order, PCRs by ascending index, so the same
    /// bundle always gives the same text.
    pub fn to_json(&self) -> String {
        // Serialising these types cannot fail: every map key is a string or an integer, and no
        // Serialize implementation returns an error.
        serde_json::to_string_pretty(&self.to_wire())
            .expect("the evidence bundle wire types always serialise")
    }

    /// Read Confidential Containers `az-snp-vtpm` / `az-tdx-vtpm` evidence JSON (trustee's
    /// encodings v0, v1 and v2, as produced by the guest-components attester).
    ///
    /// Those files carry less than a bundle, so the result:
    /// * has `collected_at` from the caller (the files have no time) and no nonce (it is bound in
    ///   the TPM quote's qualifying data and the runtime claims' `user-data`; the verifier brings
    ///   the expected value);
    /// * for SNP has `vcek_chain` holding the VCEK alone (PEM): the ASK and ARK are missing, and
    ///   a verifier adds its pinned AMD certificates for the VCEK's product;
    /// * has an empty `tpm.ak_public` and no AK certificate: the AK public key is the runtime
    ///   claims' `HCLAkPub` in the HCL report;
    /// * has PCRs 0 to 23 of the SHA-256 bank (the quote's PCR list, by position), no ephemeral
    ///   key, event log or OS information.
    pub fn from_coco_json(json: &[u8], collected_at: Timestamp) -> Result<Self, Error> {
        coco::read(json, collected_at)
    }

    fn from_wire(w: wire::BundleV1) -> Result<Self, Error> {
        let collected_at = Timestamp::parse(&w.collected_at)
            .map_err(|err| Error::field(BUNDLE, "collected_at", err.to_string()))?;
        if let Some(chain) = &w.vcek_chain
            && pem_certificate_count(chain) == 0
        {
            return Err(Error::field(BUNDLE, "vcek_chain", "expected PEM certificates, found none"));
        }
        let bank = PcrBank::from_name(&w.tpm.pcr_bank).ok_or_else(|| {
            Error::field(BUNDLE, "tpm.pcr_bank", format!("expected \"sha256\", found {:?}", w.tpm.pcr_bank))
        })?;
        let mut values = BTreeMap::new();
        for (index, text) in &w.tpm.pcrs {
            let value = hex::decode(text).map_err(|err| {
                Error::field(BUNDLE, format!("tpm.pcrs.{index}"), format!("invalid hex: {err}"))
            })?;
            values.insert(*index, value);
        }
        let tpm = TpmEvidence {
            ak_public: base64_field("tpm.ak_public", &w.tpm.ak_public)?,
            ak_cert: w.tpm.ak_cert.as_deref().map(|text| base64_field("tpm.ak_cert", text)).transpose()?,
            quote: base64_field("tpm.quote", &w.tpm.quote)?,
            quote_signature: base64_field("tpm.quote_signature", &w.tpm.quote_signature)?,
            pcrs: Pcrs::new(bank, values)?,
            ephemeral_key: w
                .tpm
                .ephemeral_key
                .map(|key| {
                    Ok::<_, Error>(EphemeralKey {
                        public: base64_field("tpm.ephemeral_key.public", &key.public)?,
                        certify_info: base64_field("tpm.ephemeral_key.certify_info", &key.certify_info)?,
                        certify_signature: base64_field(
                            "tpm.ephemeral_key.certify_signature",
                            &key.certify_signature,
                        )?,
                    })
                })
                .transpose()?,
        };
        Ok(EvidenceBundle {
            platform: w.platform,
            collected_at,
            nonce: w.nonce.as_deref().map(|text| base64_field("nonce", text)).transpose()?,
            hcl_report: base64_field("hcl_report", &w.hcl_report)?,
            vcek_chain: w.vcek_chain,
            td_quote: w.td_quote.as_deref().map(|text| base64_field("td_quote", text)).transpose()?,
            tpm,
            event_log: w.event_log.as_deref().map(|text| base64_field("event_log", text)).transpose()?,
            os: w.os.map(|os| OsInfo {
                os_type: os.os_type,
                distro: os.distro,
                version_major: os.version_major,
                version_minor: os.version_minor,
            }),
        })
    }

    fn to_wire(&self) -> wire::BundleV1 {
        let b64 = |bytes: &[u8]| STANDARD.encode(bytes);
        wire::BundleV1 {
            format: FORMAT.to_owned(),
            version: VERSION,
            platform: self.platform,
            collected_at: self.collected_at.as_str().to_owned(),
            nonce: self.nonce.as_deref().map(b64),
            hcl_report: b64(&self.hcl_report),
            vcek_chain: self.vcek_chain.clone(),
            td_quote: self.td_quote.as_deref().map(b64),
            tpm: wire::Tpm {
                ak_public: b64(&self.tpm.ak_public),
                ak_cert: self.tpm.ak_cert.as_deref().map(b64),
                quote: b64(&self.tpm.quote),
                quote_signature: b64(&self.tpm.quote_signature),
                pcr_bank: self.tpm.pcrs.bank().name().to_owned(),
                pcrs: self
                    .tpm
                    .pcrs
                    .values()
                    .iter()
                    .map(|(&index, value)| (index, hex::encode(value)))
                    .collect(),
                ephemeral_key: self.tpm.ephemeral_key.as_ref().map(|key| wire::EphemeralKey {
                    public: b64(&key.public),
                    certify_info: b64(&key.certify_info),
                    certify_signature: b64(&key.certify_signature),
                }),
            },
            event_log: self.event_log.as_deref().map(b64),
            os: self.os.as_ref().map(|os| wire::Os {
                os_type: os.os_type.clone(),
                distro: os.distro.clone(),
                version_major: os.version_major,
                version_minor: os.version_minor,
            }),
        }
    }
}

fn base64_field(field: &str, text: &str) -> Result<Vec<u8>, Error> {
    STANDARD
        .decode(text.as_bytes())
        .map_err(|err| Error::field(BUNDLE, field, format!("invalid base64 (standard, padded): {err}")))
}

/// The Confidential Containers (trustee / guest-components) evidence encodings.
///
/// * v0 (no `version` key): SNP `{quote, report, vcek}`, TDX `{tpm_quote, hcl_report, td_quote}`;
///   byte strings are JSON arrays of numbers, the SNP `vcek` is PEM text.
/// * v1 and v2 (`"version": 1 | 2`, same shape; v2 fills the runtime claims' `user-data`):
///   `{version, tpm_quote, hcl_report, vcek | td_quote}`; `hcl_report`, `vcek` (DER) and
///   `td_quote` are base64url (padded or not), the quote's fields are hex.
/// * The quote is az-cvm-vtpm's `Quote`: `signature` (raw RSASSA), `message` (TPMS_ATTEST) and
///   `pcrs` (the 24 SHA-256 PCR values, PCR 0 first).
mod coco {
    use super::*;

    const BASE64URL: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );

    #[derive(Deserialize)]
    struct QuoteV0 {
        signature: Vec<u8>,
        message: Vec<u8>,
        pcrs: Vec<Vec<u8>>,
    }

    #[derive(Deserialize)]
    struct SnpV0 {
        quote: QuoteV0,
        report: Vec<u8>,
        vcek: String,
    }

    #[derive(Deserialize)]
    struct TdxV0 {
        tpm_quote: QuoteV0,
        hcl_report: Vec<u8>,
        td_quote: Vec<u8>,
    }

    #[derive(Deserialize)]
    struct QuoteV1 {
        signature: String,
        message: String,
        pcrs: Vec<String>,
    }

    #[derive(Deserialize)]
    struct SnpV1 {
        tpm_quote: QuoteV1,
        hcl_report: String,
        vcek: String,
    }

    #[derive(Deserialize)]
    struct TdxV1 {
        tpm_quote: QuoteV1,
        hcl_report: String,
        td_quote: String,
    }

    /// The raw items of either platform, decoded.
    struct Items {
        platform: Platform,
        /// `quote` (SNP v0) or `tpm_quote`, for error messages.
        quote_key: &'static str,
        hcl_report: Vec<u8>,
        vcek_pem: Option<String>,
        td_quote: Option<Vec<u8>>,
        signature: Vec<u8>,
        message: Vec<u8>,
        pcrs: Vec<Vec<u8>>,
    }

    pub(super) fn read(json: &[u8], collected_at: Timestamp) -> Result<EvidenceBundle, Error> {
        let value: serde_json::Value =
            serde_json::from_slice(json).map_err(|source| Error::Json { document: COCO, source })?;
        let items = match super::coco_kind(&value) {
            Some(Platform::AzureSevSnp) => read_snp(value)?,
            Some(Platform::AzureTdx) => read_tdx(value)?,
            _ => {
                return Err(Error::field(
                    COCO,
                    "keys",
                    "expected {quote, report, vcek}, {tpm_quote, hcl_report, vcek} (az-snp-vtpm) or \
                     {tpm_quote, hcl_report, td_quote} (az-tdx-vtpm)",
                ));
            }
        };
        let document = document(items.platform);
        let bank = PcrBank::Sha256;
        let mut values = BTreeMap::new();
        for (position, value) in items.pcrs.into_iter().enumerate() {
            let field = || format!("{}.pcrs[{position}]", items.quote_key);
            let index = u8::try_from(position)
                .ok()
                .filter(|&index| index <= MAX_PCR)
                .ok_or_else(|| Error::field(document, field(), "more than 24 PCR values"))?;
            if value.len() != bank.digest_size() {
                return Err(Error::field(
                    document,
                    field(),
                    format!("a {} PCR is {} bytes, found {}", bank.name(), bank.digest_size(), value.len()),
                ));
            }
            values.insert(index, value);
        }
        let pcrs = Pcrs::new(bank, values)?;
        Ok(EvidenceBundle {
            platform: items.platform,
            collected_at,
            nonce: None,
            hcl_report: items.hcl_report,
            vcek_chain: items.vcek_pem,
            td_quote: items.td_quote,
            tpm: TpmEvidence {
                ak_public: Vec::new(),
                ak_cert: None,
                quote: items.message,
                quote_signature: items.signature,
                pcrs,
                ephemeral_key: None,
            },
            event_log: None,
            os: None,
        })
    }

    fn document(platform: Platform) -> &'static str {
        match platform {
            Platform::AzureTdx => COCO_TDX,
            _ => COCO_SNP,
        }
    }

    /// `None` for v0 (no version key), else the version, which must be 1 or 2.
    fn version(value: &serde_json::Value, document: &'static str) -> Result<Option<u64>, Error> {
        match value.get("version") {
            None => Ok(None),
            Some(version) => match version.as_u64() {
                Some(v @ (1 | 2)) => Ok(Some(v)),
                _ => Err(Error::UnsupportedVersion {
                    document,
                    found: version.to_string(),
                    supported: "0 (no version key), 1, 2",
                }),
            },
        }
    }

    fn from_value<T: for<'de> Deserialize<'de>>(
        value: serde_json::Value,
        document: &'static str,
    ) -> Result<T, Error> {
        serde_json::from_value(value).map_err(|source| Error::Json { document, source })
    }

    fn read_snp(value: serde_json::Value) -> Result<Items, Error> {
        let document = COCO_SNP;
        if version(&value, document)?.is_none() {
            let v0: SnpV0 = from_value(value, document)?;
            if pem_certificate_count(&v0.vcek) != 1 {
                return Err(Error::field(document, "vcek", "expected one PEM certificate"));
            }
            return Ok(Items {
                platform: Platform::AzureSevSnp,
                quote_key: "quote",
                hcl_report: v0.report,
                vcek_pem: Some(v0.vcek),
                td_quote: None,
                signature: v0.quote.signature,
                message: v0.quote.message,
                pcrs: v0.quote.pcrs,
            });
        }
        let v1: SnpV1 = from_value(value, document)?;
        let vcek = base64url(document, "vcek", &v1.vcek)?;
        let (signature, message, pcrs) = quote_v1(document, v1.tpm_quote)?;
        Ok(Items {
            platform: Platform::AzureSevSnp,
            quote_key: "tpm_quote",
            hcl_report: base64url(document, "hcl_report", &v1.hcl_report)?,
            vcek_pem: Some(der_to_pem(&vcek)),
            td_quote: None,
            signature,
            message,
            pcrs,
        })
    }

    fn read_tdx(value: serde_json::Value) -> Result<Items, Error> {
        let document = COCO_TDX;
        if version(&value, document)?.is_none() {
            let v0: TdxV0 = from_value(value, document)?;
            return Ok(Items {
                platform: Platform::AzureTdx,
                quote_key: "tpm_quote",
                hcl_report: v0.hcl_report,
                vcek_pem: None,
                td_quote: Some(v0.td_quote),
                signature: v0.tpm_quote.signature,
                message: v0.tpm_quote.message,
                pcrs: v0.tpm_quote.pcrs,
            });
        }
        let v1: TdxV1 = from_value(value, document)?;
        let (signature, message, pcrs) = quote_v1(document, v1.tpm_quote)?;
        Ok(Items {
            platform: Platform::AzureTdx,
            quote_key: "tpm_quote",
            hcl_report: base64url(document, "hcl_report", &v1.hcl_report)?,
            vcek_pem: None,
            td_quote: Some(base64url(document, "td_quote", &v1.td_quote)?),
            signature,
            message,
            pcrs,
        })
    }

    type QuoteParts = (Vec<u8>, Vec<u8>, Vec<Vec<u8>>);

    fn quote_v1(document: &'static str, quote: QuoteV1) -> Result<QuoteParts, Error> {
        let hex_field = |field: &str, text: &str| {
            hex::decode(text).map_err(|err| Error::field(document, field, format!("invalid hex: {err}")))
        };
        let pcrs = quote
            .pcrs
            .iter()
            .enumerate()
            .map(|(i, text)| hex_field(&format!("tpm_quote.pcrs[{i}]"), text))
            .collect::<Result<_, _>>()?;
        Ok((
            hex_field("tpm_quote.signature", &quote.signature)?,
            hex_field("tpm_quote.message", &quote.message)?,
            pcrs,
        ))
    }

    fn base64url(document: &'static str, field: &str, text: &str) -> Result<Vec<u8>, Error> {
        BASE64URL
            .decode(text.as_bytes())
            .map_err(|err| Error::field(document, field, format!("invalid base64url: {err}")))
    }

    /// A DER certificate as PEM text (64-character lines, final newline).
    pub(super) fn der_to_pem(der: &[u8]) -> String {
        let encoded = STANDARD.encode(der);
        let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
        for line in encoded.as_bytes().chunks(64) {
            out.push_str(&String::from_utf8_lossy(line));
            out.push('\n');
        }
        out.push_str("-----END CERTIFICATE-----\n");
        out
    }
}

/// Which Confidential Containers evidence a JSON object is, by its keys.
fn coco_kind(value: &serde_json::Value) -> Option<Platform> {
    let has = |key: &str| value.get(key).is_some();
    if has("vcek") && (has("report") || has("hcl_report")) {
        Some(Platform::AzureSevSnp)
    } else if has("td_quote") && has("hcl_report") {
        Some(Platform::AzureTdx)
    } else {
        None
    }
}

/// What a file given as evidence holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EvidenceKind {
    /// A cvm-attest evidence bundle (JSON with `"format": "cvm-attest-evidence"`, any version:
    /// [`EvidenceBundle::from_json`] says whether it is a version this crate reads).
    Bundle,
    /// Confidential Containers `az-snp-vtpm` evidence JSON.
    CocoSnp,
    /// Confidential Containers `az-tdx-vtpm` evidence JSON.
    CocoTdx,
    /// A raw HCL report (starts with `"HCLA"`).
    HclReport,
    /// A raw 1184-byte SEV-SNP attestation report.
    SnpReport,
    /// A raw TD quote (version 4 or 5, TEE type 0x81).
    TdQuote,
    /// None of these; the reason says what was seen and what is accepted.
    Unknown {
        /// What was seen and what is accepted.
        reason: String,
    },
}

impl fmt::Display for EvidenceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EvidenceKind::Bundle => f.write_str("cvm-attest evidence bundle"),
            EvidenceKind::CocoSnp => f.write_str(COCO_SNP),
            EvidenceKind::CocoTdx => f.write_str(COCO_TDX),
            EvidenceKind::HclReport => f.write_str("HCL report"),
            EvidenceKind::SnpReport => f.write_str("SEV-SNP attestation report"),
            EvidenceKind::TdQuote => f.write_str("TD quote"),
            EvidenceKind::Unknown { reason } => write!(f, "unknown evidence: {reason}"),
        }
    }
}

/// What [`detect`] accepts, for error messages.
pub const ACCEPTED: &str = "accepted: a cvm-attest evidence bundle (JSON, \"format\": \"cvm-attest-evidence\"), \
     Confidential Containers az-snp-vtpm or az-tdx-vtpm evidence JSON, a raw HCL report (starts with \"HCLA\"), \
     a raw 1184-byte SEV-SNP attestation report, or a raw TD quote (version 4 or 5, TEE type 0x81)";

/// Tell the evidence encodings apart by their content (never by file name).
pub fn detect(bytes: &[u8]) -> EvidenceKind {
    let unknown = |seen: &str| EvidenceKind::Unknown { reason: format!("{seen}; {ACCEPTED}") };
    if bytes.starts_with(&crate::hcl::SIGNATURE) {
        return EvidenceKind::HclReport;
    }
    if let [v0, v1, _, _, t0, t1, t2, t3, ..] = *bytes
        && matches!(u16::from_le_bytes([v0, v1]), 4 | 5)
        && u32::from_le_bytes([t0, t1, t2, t3]) == 0x81
    {
        return EvidenceKind::TdQuote;
    }
    if let [a, b, c, d, ..] = *bytes
        && bytes.len() == crate::snp::REPORT_SIZE
        && matches!(u32::from_le_bytes([a, b, c, d]), 1..=5)
    {
        return EvidenceKind::SnpReport;
    }
    if bytes.trim_ascii_start().starts_with(b"{") {
        let value: serde_json::Value = match serde_json::from_slice(bytes) {
            Ok(value) => value,
            Err(err) => return unknown(&format!("JSON that does not parse ({err})")),
        };
        if value.get("format").and_then(serde_json::Value::as_str) == Some(FORMAT) {
            return EvidenceKind::Bundle;
        }
        return match coco_kind(&value) {
            Some(Platform::AzureSevSnp) => EvidenceKind::CocoSnp,
            Some(_) => EvidenceKind::CocoTdx,
            None => unknown(&match value.get("format") {
                Some(format) => format!("JSON whose \"format\" is {format}"),
                None => {
                    "a JSON object that is neither an evidence bundle nor Confidential Containers evidence"
                        .to_owned()
                }
            }),
        };
    }
    unknown(&format!("{} bytes of unrecognised binary data", bytes.len()))
}

/// RFC 3339 `date-time`: `YYYY-MM-DD`, `T`, `HH:MM:SS`, an optional fraction, then `Z` or an offset.
fn is_rfc3339(text: &[u8]) -> bool {
    fn number(digits: &[u8]) -> Option<u32> {
        digits.iter().try_fold(0u32, |acc, &d| d.is_ascii_digit().then(|| acc * 10 + u32::from(d - b'0')))
    }
    let [
        y0,
        y1,
        y2,
        y3,
        b'-',
        m0,
        m1,
        b'-',
        d0,
        d1,
        b'T' | b't',
        h0,
        h1,
        b':',
        n0,
        n1,
        b':',
        s0,
        s1,
        rest @ ..,
    ] = text
    else {
        return false;
    };
    let (Some(year), Some(month), Some(day), Some(hour), Some(minute), Some(second)) = (
        number(&[*y0, *y1, *y2, *y3]),
        number(&[*m0, *m1]),
        number(&[*d0, *d1]),
        number(&[*h0, *h1]),
        number(&[*n0, *n1]),
        number(&[*s0, *s1]),
    ) else {
        return false;
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    if day == 0 || day > days || hour > 23 || minute > 59 || second > 60 {
        return false;
    }
    let offset = match rest {
        [b'.', fraction @ ..] => {
            let digits = fraction.iter().take_while(|d| d.is_ascii_digit()).count();
            if digits == 0 {
                return false;
            }
            fraction.get(digits..).unwrap_or_default()
        }
        _ => rest,
    };
    match offset {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', h0, h1, b':', m0, m1] => {
            matches!((number(&[*h0, *h1]), number(&[*m0, *m1])), (Some(h), Some(m)) if h <= 23 && m <= 59)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_rfc3339_date_times() {
        for ok in ["2026-11-27T21:31:00Z", "2024-02-29T23:59:60.123456+09:00", "1999-12-31t00:00:00-05:30"] {
            assert!(Timestamp::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_malformed_date_times() {
        for bad in [
            "",
            "2026-11-27",
            "2026-11-27 21:31:00Z",
            "2026-11-27T21:31:00",
            "2026-13-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2026-11-27T24:00:00Z",
            "2026-11-27T21:31:00.Z",
            "2026-11-27T21:31:00+0900",
            "2026-11-27T21:31:00+24:00",
            "２026-11-27T21:31:00Z",
        ] {
            assert!(Timestamp::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn der_to_pem_wraps_at_64_columns() {
        let pem = coco::der_to_pem(&[0xAB; 100]);
        let lines: Vec<&str> = pem.lines().collect();
        assert_eq!(lines.first(), Some(&"-----BEGIN CERTIFICATE-----"));
        assert_eq!(lines.get(1).map(|l| l.len()), Some(64));
        assert_eq!(lines.last(), Some(&"-----END CERTIFICATE-----"));
        assert!(pem.ends_with('\n'));
        assert_eq!(pem_certificate_count(&pem), 1);
    }
}
