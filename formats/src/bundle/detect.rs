//! Telling the evidence encodings apart by content: [`detect`], [`EvidenceKind`], [`ACCEPTED`].

use std::fmt;

use super::coco::coco_kind;
use super::{COCO_SNP, COCO_TDX, FORMAT, MaaRequest, Platform};

/// What a file given as evidence holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EvidenceKind {
    /// A cvm-attest evidence bundle (JSON with `"format": "cvm-attest-evidence"`, any version:
    /// [`EvidenceBundle::from_json`](super::EvidenceBundle::from_json) says whether it is a version
    /// this crate reads).
    Bundle,
    /// Confidential Containers `az-snp-vtpm` evidence JSON.
    CocoSnp,
    /// Confidential Containers `az-tdx-vtpm` evidence JSON.
    CocoTdx,
    /// An MAA request body: `AzureGuest` (`{"AttestationInfo": …}`), `SevSnpVm` (`{"report",
    /// "runtimeData"}`) or `TdxVm` (`{"quote", "runtimeData"}`).
    Maa(MaaRequest),
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
            EvidenceKind::Maa(request) => f.write_str(request.document()),
            EvidenceKind::HclReport => f.write_str("HCL report"),
            EvidenceKind::SnpReport => f.write_str("SEV-SNP attestation report"),
            EvidenceKind::TdQuote => f.write_str("TD quote"),
            EvidenceKind::Unknown { reason } => write!(f, "unknown evidence: {reason}"),
        }
    }
}

/// What [`detect`] accepts, for error messages.
pub const ACCEPTED: &str = "accepted: a cvm-attest evidence bundle (JSON, \"format\": \"cvm-attest-evidence\"), \
     Confidential Containers az-snp-vtpm or az-tdx-vtpm evidence JSON, an MAA AzureGuest, SevSnpVm or TdxVm request body, a raw HCL report (starts with \"HCLA\"), \
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
        let value = match crate::json::value_from_slice(bytes) {
            Ok(value) => value,
            Err(err) => return unknown(&format!("JSON that does not parse ({err})")),
        };
        if value.get("format").and_then(serde_json::Value::as_str) == Some(FORMAT) {
            return EvidenceKind::Bundle;
        }
        if let Some(request) = MaaRequest::detect(&value) {
            return EvidenceKind::Maa(request);
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
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        return unknown("a UTF-8 byte-order mark, then text: save the file without one (UTF-8 without BOM)");
    }
    if let Ok(value) = crate::json::value_from_slice(bytes) {
        let what = match value {
            serde_json::Value::Array(_) => "an array",
            serde_json::Value::String(_) => "a string",
            serde_json::Value::Number(_) => "a number",
            serde_json::Value::Bool(_) => "a boolean",
            serde_json::Value::Null | serde_json::Value::Object(_) => "null",
        };
        return unknown(&format!("JSON that is {what}, not an object"));
    }
    unknown(&format!("{} bytes that are neither JSON nor a known binary encoding", bytes.len()))
}
