//! The HCL report: what Azure's paravisor (the "HCL") publishes in vTPM NV index `0x01400001`.
//!
//! Layout (little-endian; see docs/protocol.md §3.1):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0x000 | 32 | header: `"HCLA"`, version, report_size, request_type, status, 12 reserved |
//! | 0x020 | 1184 | hardware report: SNP `ATTESTATION_REPORT`, or TDX `TDREPORT` + 160 zero bytes |
//! | 0x4C0 | 20 | runtime-claims header: data_size, version, report_type, hash_type, variable_data_size |
//! | 0x4D4 | n | runtime claims: UTF-8 JSON, hashed into the hardware report's `report_data` |
//!
//! The NV index is larger than `report_size` (2600 bytes on newer hosts, 2048 on older ones) and
//! zero-padded; the padding is kept with the source bytes but not interpreted, since nothing signs
//! or hashes it.
//!
//! The runtime claims are kept as their exact bytes: the binding ([`HclReport::verify_binding`]) is a
//! hash over them, and re-serialising the JSON would change it. Their typed view
//! ([`HclReport::runtime_claims`]) is parsed on request, so the binding can still be checked (and
//! the report shown) when the JSON is not what this crate expects.

use std::fmt;
use std::ops::Range;

use base64::Engine;
use serde::{Deserialize, Deserializer};

use crate::ParseError;
use crate::reader::Reader;
use crate::snp::{self, SnpReport};
use crate::tpm::HashAlg;

/// The header signature, `"HCLA"`.
pub const SIGNATURE: [u8; 4] = *b"HCLA";

const STRUCTURE: &str = "HCL report";
const HEADER_SIZE: usize = 0x20;
/// `request_type` of every report seen (`AkCertRequest`), and so of assembled ones.
const ASSEMBLED_REQUEST_TYPE: u32 = 2;
const HARDWARE_REPORT_SIZE: usize = snp::REPORT_SIZE;
const RUNTIME_HEADER_OFFSET: usize = 0x4C0;
const RUNTIME_HEADER_SIZE: u32 = 20;
const RUNTIME_CLAIMS_OFFSET: u32 = 0x4D4;
const TD_REPORT_SIZE: usize = 1024;
const TD_REPORT_DATA_OFFSET: usize = 0x80;
const TD_REPORT_TYPE_TDX: u8 = 0x81;

/// A parsed HCL report with its exact source bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HclReport {
    bytes: Vec<u8>,
    header: HclHeader,
    hardware_report: HardwareReport,
    runtime_header: RuntimeClaimsHeader,
    runtime_claims: Range<usize>,
}

/// The fixed header at offset 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HclHeader {
    /// 1 on older hosts, 2 on newer ones.
    pub version: u32,
    /// Meaningful bytes in the NV index: 0x4D4 + the runtime claims' size.
    pub report_size: u32,
    /// 2 (`AkCertRequest`) in every report seen; 1 is KeyRelease, 3 WrappedKey.
    pub request_type: u32,
    /// 0 in every report seen.
    pub status: u32,
}

/// The hardware (TEE) report at offset 0x20; the runtime-claims header's `report_type` says which.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HardwareReport {
    /// Report type 2: an AMD SEV-SNP attestation report.
    Snp(Box<SnpReport>),
    /// Report type 4: an Intel TDX TD report (MAC'ed, not signed: it is turned into a TD quote).
    Tdx(RawTdReport),
    /// Report type 3: a Trusted Launch VM, which has no TEE and so no hardware report.
    TrustedLaunch,
}

/// The 1024-byte TDX `TDREPORT` as the HCL report carries it. [`crate::tdx`] parses the whole
/// structure; this keeps the bytes and the one field the HCL binding needs.
#[derive(Clone, PartialEq, Eq)]
pub struct RawTdReport {
    bytes: Vec<u8>,
    report_data: [u8; 64],
}

impl fmt::Debug for RawTdReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawTdReport")
            .field("report_data", &hex::encode(self.report_data))
            .finish_non_exhaustive()
    }
}

impl RawTdReport {
    /// Read the TDREPORT and the 160 zero bytes that pad it to the SNP report's size.
    fn read(r: &mut Reader<'_>) -> Result<Self, ParseError> {
        let start = r.offset();
        let bytes = r.take("TDREPORT", TD_REPORT_SIZE)?;
        let mut fields = Reader::new(STRUCTURE, bytes);
        let report_type = fields.u8("REPORTMACSTRUCT.type")?;
        if report_type != TD_REPORT_TYPE_TDX {
            return Err(r.invalid(
                "REPORTMACSTRUCT.type",
                start,
                "0x81 (TDX)",
                format!("{report_type:#04x}"),
            ));
        }
        fields.skip("REPORTMACSTRUCT", TD_REPORT_DATA_OFFSET - 1)?;
        let report_data = fields.array("REPORTMACSTRUCT.reportdata")?;
        let padding_start = r.offset();
        let padding = r.take("TDREPORT padding", HARDWARE_REPORT_SIZE - TD_REPORT_SIZE)?;
        if let Some(at) = padding.iter().position(|&b| b != 0) {
            return Err(r.invalid(
                "TDREPORT padding",
                padding_start,
                "160 zero bytes after the 1024-byte TDREPORT",
                format!("a non-zero byte at offset {}", padding_start + at),
            ));
        }
        Ok(RawTdReport { bytes: bytes.to_vec(), report_data })
    }

    /// The exact 1024 bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// `REPORTMACSTRUCT.REPORTDATA` (offset 0x80).
    pub fn report_data(&self) -> [u8; 64] {
        self.report_data
    }
}

/// The runtime-claims header at offset 0x4C0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuntimeClaimsHeader {
    /// 20 + `variable_data_size`.
    pub data_size: u32,
    /// 1 in every report seen.
    pub version: u32,
    /// Which hardware report precedes it.
    pub report_type: ReportType,
    /// How the runtime claims are hashed into `report_data` (code 1, 2 or 3: SHA-256, SHA-384 or
    /// SHA-512).
    pub hash_type: HashAlg,
    /// Size of the runtime-claims JSON.
    pub variable_data_size: u32,
}

/// The kind of hardware report (runtime-claims header `report_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReportType {
    /// 2: AMD SEV-SNP.
    Snp,
    /// 3: Trusted Launch (TVM), no TEE.
    TrustedLaunch,
    /// 4: Intel TDX.
    Tdx,
}

impl fmt::Display for ReportType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ReportType::Snp => "SEV-SNP",
            ReportType::TrustedLaunch => "Trusted Launch",
            ReportType::Tdx => "TDX",
        })
    }
}

impl ReportType {
    fn from_code(code: u32) -> Option<Self> {
        match code {
            2 => Some(ReportType::Snp),
            3 => Some(ReportType::TrustedLaunch),
            4 => Some(ReportType::Tdx),
            _ => None,
        }
    }

    /// The value in the report.
    pub fn code(self) -> u32 {
        match self {
            ReportType::Snp => 2,
            ReportType::TrustedLaunch => 3,
            ReportType::Tdx => 4,
        }
    }
}

/// The hash of a runtime-claims header `hash_type` code: how the runtime claims are bound to
/// `report_data`.
fn hash_alg_from_code(code: u32) -> Option<HashAlg> {
    match code {
        1 => Some(HashAlg::Sha256),
        2 => Some(HashAlg::Sha384),
        3 => Some(HashAlg::Sha512),
        _ => None,
    }
}

/// Why the runtime claims are not bound to the hardware report.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BindingError {
    /// A Trusted Launch report has no hardware report to bind to.
    #[error("HCL report type 3 (Trusted Launch) has no hardware report binding the runtime claims")]
    NoHardwareReport,

    /// `report_data` does not start with the hash of the runtime claims.
    #[error(
        "runtime claims are not bound to the hardware report: report_data[..{size}] is {found}, \
         expected {hash}(runtime claims) = {expected}",
        size = hash_type.digest_size(),
        hash = hash_type.standard_name()
    )]
    DigestMismatch { hash_type: HashAlg, expected: String, found: String },

    /// `report_data` has non-zero bytes after the hash.
    #[error(
        "runtime claims are not bound to the hardware report: report_data[{size}..] must be zero \
         after the {hash} digest, found {found}",
        size = hash_type.digest_size(),
        hash = hash_type.standard_name()
    )]
    NonZeroPadding { hash_type: HashAlg, found: String },
}

impl HclReport {
    /// The HCL report a paravisor would publish for this hardware report and these runtime claims
    /// (SHA-256 binding, header version 2): how evidence that arrives in parts, as in an MAA request,
    /// is put back into the one container a bundle carries. Nothing signs the header, so nothing is
    /// lost. `hardware_report` is an SNP report (1184 bytes) or a TD report (1024); a Trusted Launch
    /// report, which carries the runtime claims alone, has none.
    pub fn assemble(report_type: ReportType, hardware_report: &[u8], runtime_claims: &[u8]) -> Vec<u8> {
        let claims_len = u32::try_from(runtime_claims.len()).unwrap_or(u32::MAX);
        let mut bytes = Vec::with_capacity(RUNTIME_CLAIMS_OFFSET as usize + runtime_claims.len());
        bytes.extend_from_slice(&SIGNATURE);
        for field in [2, RUNTIME_CLAIMS_OFFSET.saturating_add(claims_len), ASSEMBLED_REQUEST_TYPE, 0] {
            bytes.extend_from_slice(&u32::to_le_bytes(field));
        }
        bytes.resize(HEADER_SIZE, 0);
        let hardware = hardware_report.get(..HARDWARE_REPORT_SIZE).unwrap_or(hardware_report);
        bytes.extend_from_slice(hardware);
        bytes.resize(RUNTIME_HEADER_OFFSET, 0);
        let hash_type = 1; // SHA-256, the binding MAA checks
        for field in
            [RUNTIME_HEADER_SIZE.saturating_add(claims_len), 1, report_type.code(), hash_type, claims_len]
        {
            bytes.extend_from_slice(&u32::to_le_bytes(field));
        }
        bytes.extend_from_slice(runtime_claims);
        bytes
    }

    /// Parse the whole NV index content (2600 or 2048 bytes on Azure; any length that holds
    /// `report_size` bytes is accepted).
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new(STRUCTURE, bytes);
        let signature: [u8; 4] = r.array("signature")?;
        if signature != SIGNATURE {
            return Err(r.invalid("signature", 0, "\"HCLA\" (48434c41)", hex::encode(signature)));
        }
        let version = r.u32_le("version")?;
        if !matches!(version, 1 | 2) {
            return Err(r.unsupported("version", 4, version.to_string(), "1, 2"));
        }
        let report_size = r.u32_le("report_size")?;
        let request_type = r.u32_le("request_type")?;
        let status = r.u32_le("status")?;
        r.skip("reserved", 12)?;

        // The runtime-claims header after the hardware report says how to read the hardware report.
        let mut hardware = r.clone();
        r.skip("hardware report", HARDWARE_REPORT_SIZE)?;
        let data_size = r.u32_le("data_size")?;
        let runtime_version = r.u32_le("runtime claims version")?;
        let code = r.u32_le("report_type")?;
        let report_type = ReportType::from_code(code).ok_or_else(|| {
            r.unsupported(
                "report_type",
                RUNTIME_HEADER_OFFSET + 8,
                code.to_string(),
                "2 (SNP), 3 (TVM), 4 (TDX)",
            )
        })?;
        let code = r.u32_le("hash_type")?;
        let hash_type = hash_alg_from_code(code).ok_or_else(|| {
            r.unsupported(
                "hash_type",
                RUNTIME_HEADER_OFFSET + 12,
                code.to_string(),
                "1 (SHA-256), 2 (SHA-384), 3 (SHA-512)",
            )
        })?;
        let variable_data_size = r.u32_le("variable_data_size")?;
        if Some(data_size) != variable_data_size.checked_add(RUNTIME_HEADER_SIZE) {
            return Err(r.invalid(
                "data_size",
                RUNTIME_HEADER_OFFSET,
                format!("20 + variable_data_size ({variable_data_size})"),
                data_size.to_string(),
            ));
        }
        if Some(report_size) != variable_data_size.checked_add(RUNTIME_CLAIMS_OFFSET) {
            return Err(r.invalid(
                "report_size",
                8,
                format!("0x4D4 + variable_data_size ({variable_data_size})"),
                report_size.to_string(),
            ));
        }
        let claims_start = r.offset();
        let claims_len = usize::try_from(variable_data_size).unwrap_or(usize::MAX);
        r.skip("variable_data (runtime claims)", claims_len)?;
        let runtime_claims = claims_start..r.offset();

        let hardware_report = match report_type {
            ReportType::Snp => HardwareReport::Snp(Box::new(SnpReport::read(&mut hardware)?)),
            ReportType::Tdx => HardwareReport::Tdx(RawTdReport::read(&mut hardware)?),
            ReportType::TrustedLaunch => HardwareReport::TrustedLaunch,
        };

        Ok(HclReport {
            bytes: bytes.to_vec(),
            header: HclHeader { version, report_size, request_type, status },
            hardware_report,
            runtime_header: RuntimeClaimsHeader {
                data_size,
                version: runtime_version,
                report_type,
                hash_type,
                variable_data_size,
            },
            runtime_claims,
        })
    }

    /// The exact source bytes (the whole NV index content, padding included).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The header at offset 0.
    pub fn header(&self) -> HclHeader {
        self.header
    }

    /// The hardware report.
    pub fn hardware_report(&self) -> &HardwareReport {
        &self.hardware_report
    }

    /// The runtime-claims header.
    pub fn runtime_claims_header(&self) -> RuntimeClaimsHeader {
        self.runtime_header
    }

    /// Shorthand for the runtime-claims header's report type.
    pub fn report_type(&self) -> ReportType {
        self.runtime_header.report_type
    }

    /// The runtime-claims JSON, exactly as the paravisor wrote (and hashed) it.
    pub fn runtime_claims_json(&self) -> &[u8] {
        self.bytes.get(self.runtime_claims.clone()).unwrap_or_default()
    }

    /// The hardware report's `report_data`: SNP `report_data` (SNP offset 0x50), or TDX
    /// `REPORTMACSTRUCT.REPORTDATA` (TD report offset 0x80). `None` for Trusted Launch.
    pub fn report_data(&self) -> Option<[u8; 64]> {
        match &self.hardware_report {
            HardwareReport::Snp(report) => Some(report.report_data()),
            HardwareReport::Tdx(report) => Some(report.report_data()),
            HardwareReport::TrustedLaunch => None,
        }
    }

    /// The hash of the runtime claims, with the report's hash type.
    pub fn runtime_claims_hash(&self) -> Vec<u8> {
        self.runtime_header.hash_type.digest(self.runtime_claims_json())
    }

    /// Check that `report_data` is the hash of the runtime claims followed by zeros. This is what
    /// ties the claims (the vTPM AK above all) to the TEE report.
    pub fn verify_binding(&self) -> Result<(), BindingError> {
        self.verify_binding_to(self.report_data().ok_or(BindingError::NoHardwareReport)?)
    }

    /// [`HclReport::verify_binding`] against the `report_data` of a hardware report carried beside
    /// this one (the TD quote of an MAA request, whose HCL report holds the runtime claims alone).
    pub fn verify_binding_to(&self, report_data: [u8; 64]) -> Result<(), BindingError> {
        let hash_type = self.runtime_header.hash_type;
        let expected = self.runtime_claims_hash();
        let (head, tail) =
            report_data.split_at_checked(hash_type.digest_size()).unwrap_or((&report_data, &[]));
        if head != expected.as_slice() {
            return Err(BindingError::DigestMismatch {
                hash_type,
                expected: hex::encode(expected),
                found: hex::encode(head),
            });
        }
        if tail.iter().any(|&b| b != 0) {
            return Err(BindingError::NonZeroPadding { hash_type, found: hex::encode(tail) });
        }
        Ok(())
    }

    /// The typed view of the runtime claims.
    pub fn runtime_claims(&self) -> Result<RuntimeClaims, ParseError> {
        RuntimeClaims::parse(self.runtime_claims_json()).map_err(|err| match err {
            ParseError::InvalidField { structure, field, offset, expected, found } => {
                ParseError::InvalidField {
                    structure,
                    field,
                    offset: offset + self.runtime_claims.start,
                    expected,
                    found,
                }
            }
            other => other,
        })
    }
}

/// The runtime claims: the JSON the paravisor hashes into the hardware report. Fields this crate
/// does not know are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RuntimeClaims {
    /// RSA public keys: `HCLAkPub` (the vTPM attestation key), `HCLEkPub` (the EK, newer hosts).
    #[serde(default)]
    pub keys: Vec<Jwk>,
    /// The VM's configuration as the host set it.
    #[serde(rename = "vm-configuration")]
    pub vm_configuration: VmConfiguration,
    /// The 64 bytes last written to NV index `0x01400002` (absent on older hosts).
    #[serde(rename = "user-data", default, deserialize_with = "user_data")]
    pub user_data: Option<[u8; 64]>,
}

/// The `kid` of the vTPM attestation key.
pub const AK_KID: &str = "HCLAkPub";

impl RuntimeClaims {
    /// Parse runtime-claims JSON (from an HCL report, or MAA's `runtimeData`).
    pub fn parse(json: &[u8]) -> Result<Self, ParseError> {
        // Strict: the bytes are what the hardware report binds, and a repeated key could read
        // differently in another parser.
        crate::json::from_slice(json).map_err(|err| ParseError::InvalidField {
            structure: "HCL runtime claims",
            field: "JSON",
            offset: json_error_offset(json, &err),
            expected: "runtime-claims JSON (keys, vm-configuration, user-data)".to_owned(),
            found: err.to_string(),
        })
    }

    /// The key with this `kid`.
    pub fn key(&self, kid: &str) -> Option<&Jwk> {
        self.keys.iter().find(|key| key.kid == kid)
    }

    /// `HCLAkPub`: the vTPM attestation key, which signs the TPM quote.
    pub fn ak_pub(&self) -> Option<&Jwk> {
        self.key(AK_KID)
    }
}

/// A JSON Web Key from the runtime claims (always RSA on Azure). `n` and `e` are decoded from
/// base64url to big-endian bytes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Jwk {
    /// Key ID, e.g. `HCLAkPub`.
    pub kid: String,
    /// Key type, `RSA`.
    pub kty: String,
    /// `["sign"]` for the AK on newer hosts, `["encrypt"]` on older ones.
    #[serde(default)]
    pub key_ops: Vec<String>,
    /// RSA modulus, big-endian.
    #[serde(default, deserialize_with = "base64url_bytes")]
    pub n: Option<Vec<u8>>,
    /// RSA public exponent, big-endian.
    #[serde(default, deserialize_with = "base64url_bytes")]
    pub e: Option<Vec<u8>>,
}

/// `vm-configuration` in the runtime claims.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct VmConfiguration {
    /// UEFI secure boot enabled.
    #[serde(rename = "secure-boot")]
    pub secure_boot: bool,
    /// vTPM enabled.
    #[serde(rename = "tpm-enabled")]
    pub tpm_enabled: bool,
    /// Serial console enabled (absent in MAA's own SevSnpVm example).
    #[serde(rename = "console-enabled", default)]
    pub console_enabled: Option<bool>,
    /// The VM ID (upper-case GUID; IMDS `vmId`, token claim `x-ms-azurevm-vmid`).
    #[serde(rename = "vmUniqueId")]
    pub vm_unique_id: String,
    /// Unix time the report was made (older hosts only).
    #[serde(rename = "current-time", default)]
    pub current_time: Option<u64>,
    /// Whether the vTPM state persists (newer hosts).
    #[serde(rename = "tpm-persisted", default)]
    pub tpm_persisted: Option<bool>,
    /// Thumbprint of the vTPM root certificate, base64url (newer hosts).
    #[serde(rename = "root-cert-thumbprint", default)]
    pub root_cert_thumbprint: Option<String>,
}

/// The runtime claims' base64url: JWKs omit padding, but accept it.
const BASE64URL: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

fn base64url_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
    let text = String::deserialize(d)?;
    BASE64URL
        .decode(text.as_bytes())
        .map(Some)
        .map_err(|err| serde::de::Error::custom(format!("invalid base64url: {err}")))
}

fn user_data<'de, D: Deserializer<'de>>(d: D) -> Result<Option<[u8; 64]>, D::Error> {
    let text = String::deserialize(d)?;
    let mut out = [0u8; 64];
    hex::decode_to_slice(&text, &mut out).map_err(|err| {
        serde::de::Error::custom(format!("user-data must be 128 hex digits (64 bytes): {err}"))
    })?;
    Ok(Some(out))
}

/// The byte offset of a JSON error, from serde_json's line and column.
fn json_error_offset(json: &[u8], err: &crate::json::Error) -> usize {
    let line_start: usize =
        json.split(|&b| b == b'\n').take(err.line().saturating_sub(1)).map(|line| line.len() + 1).sum();
    line_start + err.column().saturating_sub(1)
}
