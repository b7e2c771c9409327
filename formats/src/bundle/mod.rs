//! The evidence bundle v1, and the other evidence encodings readers accept.
//!
//! A bundle is everything `evidence collect` gathers inside a CVM, as one JSON file that can be
//! saved, moved and verified elsewhere. [`wire`] is the JSON exactly as written (its docs are the
//! schema); [`EvidenceBundle`] is the decoded form the rest of the code works with. Keeping the two
//! apart keeps encoding decisions (base64, hex, key order) out of the appraisal code.
//!
//! [`detect()`] tells apart everything `evidence show` accepts; [`EvidenceBundle::from_coco_json`]
//! turns the Confidential Containers `az-snp-vtpm` / `az-tdx-vtpm` evidence JSON into a bundle.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::thim::pem_certificate_count;

mod coco;
mod detect;
mod maa;
pub mod wire;

pub use detect::{ACCEPTED, EvidenceKind, detect};
pub use maa::MaaRequest;

/// The `format` value of every bundle.
pub const FORMAT: &str = "cvm-attest-evidence";

/// The bundle version this crate reads and writes.
pub const VERSION: u32 = 1;

const BUNDLE: &str = "evidence bundle";
const COCO_SNP: &str = "Confidential Containers az-snp-vtpm evidence";
const COCO_TDX: &str = "Confidential Containers az-tdx-vtpm evidence";

/// Why evidence could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Not JSON, a field has the wrong JSON type, or an object repeats a key.
    #[error("{document}: {source}")]
    Json { document: &'static str, source: crate::json::Error },

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
    /// The vTPM evidence; `None` only for evidence from an MAA SevSnpVm or TdxVm request.
    pub tpm: Option<TpmEvidence>,
    /// The TCG event log.
    pub event_log: Option<Vec<u8>>,
    /// The guest OS, as the collector read it. Nothing signs it, so appraisal makes no claim of it.
    pub os: Option<OsInfo>,
    /// Collateral carried with the evidence, by name (see [`crate::appraise::collateral`]).
    pub collateral: BTreeMap<String, Vec<u8>>,
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

/// The guest OS, as the collector read it: unverified, since no signature covers it.
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
            crate::json::from_slice::<serde::de::IgnoredAny>(json).map_err(json_error)?;
            return Err(Error::Format { reason: "the JSON is not an object".to_owned() });
        }
        let header: Header = crate::json::from_slice(json).map_err(json_error)?;
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
        let wire: wire::BundleV1 = crate::json::from_slice(json).map_err(json_error)?;
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

    /// Read an MAA request body: `AzureGuest` (of a Trusted Launch VM or a CVM), `SevSnpVm` or
    /// `TdxVm` (see `maa.rs`; a request's hardware report and runtime claims are put back into an
    /// HCL report). It carries no time: `received_at` stands in. The nonce is the one the request
    /// names (AzureGuest `ClientPayload.nonce`, SevSnpVm/TdxVm `nonce`): unverified, as in a bundle.
    pub fn from_maa_request(kind: MaaRequest, json: &[u8], received_at: Timestamp) -> Result<Self, Error> {
        maa::read(kind, json, received_at)
    }

    fn from_wire(w: wire::BundleV1) -> Result<Self, Error> {
        let collected_at = Timestamp::parse(&w.collected_at)
            .map_err(|err| Error::field(BUNDLE, "collected_at", err.to_string()))?;
        if let Some(chain) = &w.vcek_chain
            && pem_certificate_count(chain) == 0
        {
            return Err(Error::field(BUNDLE, "vcek_chain", "expected PEM certificates, found none"));
        }
        let tpm = w.tpm.map(tpm_from_wire).transpose()?;
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
            collateral: w
                .collateral
                .unwrap_or_default()
                .iter()
                .map(|(name, text)| {
                    let field = format!("collateral.{name}");
                    if !crate::appraise::collateral::NAMES.contains(&name.as_str()) {
                        let known = crate::appraise::collateral::NAMES.join(", ");
                        return Err(Error::field(
                            BUNDLE,
                            field,
                            format!("unknown collateral; expected one of {known}"),
                        ));
                    }
                    Ok((name.clone(), base64_field(&field, text)?))
                })
                .collect::<Result<_, Error>>()?,
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
            tpm: self.tpm.as_ref().map(tpm_to_wire),
            event_log: self.event_log.as_deref().map(b64),
            os: self.os.as_ref().map(|os| wire::Os {
                os_type: os.os_type.clone(),
                distro: os.distro.clone(),
                version_major: os.version_major,
                version_minor: os.version_minor,
            }),
            collateral: (!self.collateral.is_empty())
                .then(|| self.collateral.iter().map(|(name, data)| (name.clone(), b64(data))).collect()),
        }
    }
}

fn tpm_from_wire(w: wire::Tpm) -> Result<TpmEvidence, Error> {
    let bank = PcrBank::from_name(&w.pcr_bank).ok_or_else(|| {
        Error::field(BUNDLE, "tpm.pcr_bank", format!("expected \"sha256\", found {:?}", w.pcr_bank))
    })?;
    let mut values = BTreeMap::new();
    for (index, text) in &w.pcrs {
        let value = hex::decode(text).map_err(|err| {
            Error::field(BUNDLE, format!("tpm.pcrs.{index}"), format!("invalid hex: {err}"))
        })?;
        values.insert(*index, value);
    }
    Ok(TpmEvidence {
        ak_public: base64_field("tpm.ak_public", &w.ak_public)?,
        ak_cert: w.ak_cert.as_deref().map(|text| base64_field("tpm.ak_cert", text)).transpose()?,
        quote: base64_field("tpm.quote", &w.quote)?,
        quote_signature: base64_field("tpm.quote_signature", &w.quote_signature)?,
        pcrs: Pcrs::new(bank, values)?,
        ephemeral_key: w
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
    })
}

fn tpm_to_wire(tpm: &TpmEvidence) -> wire::Tpm {
    let b64 = |bytes: &[u8]| STANDARD.encode(bytes);
    wire::Tpm {
        ak_public: b64(&tpm.ak_public),
        ak_cert: tpm.ak_cert.as_deref().map(b64),
        quote: b64(&tpm.quote),
        quote_signature: b64(&tpm.quote_signature),
        pcr_bank: tpm.pcrs.bank().name().to_owned(),
        pcrs: tpm.pcrs.values().iter().map(|(&index, value)| (index, hex::encode(value))).collect(),
        ephemeral_key: tpm.ephemeral_key.as_ref().map(|key| wire::EphemeralKey {
            public: b64(&key.public),
            certify_info: b64(&key.certify_info),
            certify_signature: b64(&key.certify_signature),
        }),
    }
}

fn base64_field(field: &str, text: &str) -> Result<Vec<u8>, Error> {
    STANDARD
        .decode(text.as_bytes())
        .map_err(|err| Error::field(BUNDLE, field, format!("invalid base64 (standard, padded): {err}")))
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
}
