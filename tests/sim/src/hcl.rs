//! The HCL report Azure's paravisor publishes in vTPM NV index `0x01400001`, and the runtime claims
//! JSON inside it.
//!
//! Layout (little-endian; `shared/reference/azure-attestation-protocol.md` §3.1, as
//! `formats::hcl::HclReport::parse` reads it):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0x000 | 32 | header: `"HCLA"`, version, report_size, request_type, status, 12 reserved |
//! | 0x020 | 1184 | hardware report: SNP `ATTESTATION_REPORT`, or TDX `TDREPORT` + 160 zero bytes |
//! | 0x4C0 | 20 | runtime data header: data_size, version, report_type, hash_type, variable_data_size |
//! | 0x4D4 | n | runtime claims JSON |
//! | … | | zero padding to the NV index's 2,600 bytes |
//!
//! The values mirror real reports: `formats/testdata/tpm/trustee-milan-hcl-report.bin` and the
//! version-3 Milan report of `formats/testdata/azure-snp/trustee-evidence-v1.json` for SEV-SNP,
//! `formats/testdata/azure-tdx/trustee-hcl-report-tdx.bin` and `kinvolk-hcl-report-tdx.bin` for TDX.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::traits::PublicKeyParts;
use sha2::{Digest, Sha256};

/// The size of NV index `0x01400001` on current hosts, and of every real report in testdata.
pub const HCL_REPORT_SIZE: usize = 2600;

/// `"HCLA"`, the header signature.
const SIGNATURE: [u8; 4] = *b"HCLA";
/// request_type 2 (`AkCertRequest`): the value in every real report.
const REQUEST_TYPE_AK_CERT: u32 = 2;
/// Size of the hardware report area: the SNP report's, the larger member of the union.
const HARDWARE_REPORT_AREA: usize = 1184;
/// Size of a TDX TDREPORT; the rest of the area stays zero.
const TD_REPORT_SIZE: usize = 1024;
/// Offset of the runtime claims: after the header, the hardware area and the runtime data header.
const RUNTIME_CLAIMS_OFFSET: usize = 0x4D4;
/// Size of the runtime data header, counted in its data_size.
const RUNTIME_HEADER_SIZE: usize = 20;
/// Runtime data header version: 1 in every real report.
const RUNTIME_HEADER_VERSION: u32 = 1;
/// hash_type 1: SHA-256, the only one seen on Azure.
const HASH_TYPE_SHA256: u32 = 1;

/// Which hardware report the HCL report carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HardwareReportKind {
    /// An AMD SEV-SNP `ATTESTATION_REPORT` (1184 bytes); report_type 2.
    Snp,
    /// An Intel TDX `TDREPORT` (1024 bytes); report_type 4.
    Tdx,
}

impl HardwareReportKind {
    /// The runtime data header's report_type: 2 for SNP, 4 for TDX, as in the real reports.
    pub fn report_type(self) -> u32 {
        match self {
            HardwareReportKind::Snp => 2,
            HardwareReportKind::Tdx => 4,
        }
    }

    /// The header version the real reports of this kind carry: 1 in both Milan SNP reports (2,600
    /// bytes, with `HCLEkPub`), 2 in every TDX one.
    pub fn header_version(self) -> u32 {
        match self {
            HardwareReportKind::Snp => 1,
            HardwareReportKind::Tdx => 2,
        }
    }

    /// How many bytes of the hardware report area the report fills.
    fn report_size(self) -> usize {
        match self {
            HardwareReportKind::Snp => HARDWARE_REPORT_AREA,
            HardwareReportKind::Tdx => TD_REPORT_SIZE,
        }
    }
}

/// An RSA public key as JWKs carry it: big-endian modulus and exponent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RsaPublic {
    /// The modulus `n`, big-endian (leading zero bytes are dropped in the JWK).
    pub modulus: Vec<u8>,
    /// The public exponent `e`, big-endian (65537 is `01 00 01`, JWK `"AQAB"`).
    pub exponent: Vec<u8>,
}

impl From<&rsa::RsaPublicKey> for RsaPublic {
    fn from(key: &rsa::RsaPublicKey) -> Self {
        RsaPublic { modulus: key.n().to_bytes_be(), exponent: key.e().to_bytes_be() }
    }
}

impl RsaPublic {
    /// The JWK members `"e"` and `"n"`: base64url without padding of the minimal big-endian integer
    /// (RFC 7518 §6.3.1), as in the real reports (`"e":"AQAB"`).
    fn jwk_members(&self) -> (String, String) {
        (URL_SAFE_NO_PAD.encode(minimal(&self.exponent)), URL_SAFE_NO_PAD.encode(minimal(&self.modulus)))
    }
}

/// The integer's bytes without leading zeros (one zero byte for zero).
fn minimal(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len().saturating_sub(1));
    bytes.get(start..).unwrap_or_default()
}

/// What the paravisor's runtime claims say: the vTPM's keys, the VM's ID and the user data last
/// written to NV index `0x01400002`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeClaims {
    /// The vTPM attestation key (persistent `0x81000003`): the JWK `HCLAkPub`.
    pub ak: RsaPublic,
    /// The vTPM endorsement key: the JWK `HCLEkPub`. Nothing verifies it; any RSA key will do.
    pub ek: RsaPublic,
    /// `vmUniqueId`, a UUID; written upper case, as Azure does (it is IMDS's `vmId`).
    pub vm_unique_id: String,
    /// `vm-configuration`'s `secure-boot`: whether the VM booted with UEFI Secure Boot (on a CVM it is,
    /// unless its owner turned it off).
    pub secure_boot: bool,
    /// The 64 bytes of NV index `0x01400002` (all zero until the guest writes them).
    pub user_data: [u8; 64],
}

impl RuntimeClaims {
    /// The runtime claims JSON, byte for byte in the shape of the real reports'
    /// (`trustee-milan-hcl-report.bin`): compact, keys in Azure's order,
    ///
    /// ```text
    /// {"keys":[{"kid":"HCLAkPub","key_ops":["sign"],"kty":"RSA","e":…,"n":…},
    ///          {"kid":"HCLEkPub","key_ops":["encrypt"],"kty":"RSA","e":…,"n":…}],
    ///  "vm-configuration":{"console-enabled":true,"secure-boot":true,"tpm-enabled":true,"vmUniqueId":…},
    ///  "user-data":"<128 upper-case hex digits>"}
    /// ```
    ///
    /// `vm-configuration` is the Milan report's: the vTPM on, as on a CVM, and the serial console
    /// enabled, as Azure's default; secure boot as [`RuntimeClaims::secure_boot`] says (on in that
    /// report). (TDX hosts add `root-cert-thumbprint` and `tpm-persisted`,
    /// which nothing here reads.) These bytes are what the hardware report's `report_data` hashes.
    pub fn to_json(&self) -> Vec<u8> {
        let (ak_e, ak_n) = self.ak.jwk_members();
        let (ek_e, ek_n) = self.ek.jwk_members();
        // serde_json escapes whatever the caller put in the ID; every other value is base64url or
        // hex, which needs no escaping.
        let vm_id = serde_json::Value::String(self.vm_unique_id.to_ascii_uppercase()).to_string();
        let user_data = hex::encode_upper(self.user_data);
        format!(
            concat!(
                r#"{{"keys":[{{"kid":"HCLAkPub","key_ops":["sign"],"kty":"RSA","e":"{ak_e}","n":"{ak_n}"}},"#,
                r#"{{"kid":"HCLEkPub","key_ops":["encrypt"],"kty":"RSA","e":"{ek_e}","n":"{ek_n}"}}],"#,
                r#""vm-configuration":{{"console-enabled":true,"secure-boot":{secure_boot},"tpm-enabled":true,"#,
                r#""vmUniqueId":{vm_id}}},"user-data":"{user_data}"}}"#,
            ),
            ak_e = ak_e,
            ak_n = ak_n,
            ek_e = ek_e,
            ek_n = ek_n,
            vm_id = vm_id,
            secure_boot = self.secure_boot,
            user_data = user_data,
        )
        .into_bytes()
    }
}

/// The hardware report's `report_data` for these runtime claims: SHA-256 of the exact JSON bytes,
/// then 32 zero bytes. Azure binds the claims so in SNP and TDX alike (protocol write-up §3.3,
/// checked on the real reports), and `HclReport::verify_binding` expects exactly this with
/// hash_type 1.
pub fn report_data(runtime_json: &[u8]) -> [u8; 64] {
    let mut data = [0; 64];
    let digest = Sha256::digest(runtime_json);
    for (slot, byte) in data.iter_mut().zip(digest) {
        *slot = byte;
    }
    data
}

/// The HCL report: header, `hardware_report` (a signed SNP report, or a TD report) in the 1184-byte
/// area (a TD report is followed by 160 zero bytes), the runtime data header, `runtime_json`, and
/// zeros up to [`HCL_REPORT_SIZE`].
///
/// The hardware report must already carry [`report_data`]`(runtime_json)`; this function only lays
/// the parts out. A hardware report longer than its kind's size is cut to it, a shorter one
/// zero-filled (neither happens with [`crate::snp::snp_report`] or [`crate::tdx::td_report`]).
/// Runtime claims longer than the 1,364 bytes a 2,600-byte report has room for (those of
/// [`RuntimeClaims`] with RSA-2048 keys take about 1,100) make the report longer than 2,600 bytes,
/// as a larger NV index would hold it.
pub fn hcl_report(tee: HardwareReportKind, runtime_json: &[u8], hardware_report: &[u8]) -> Vec<u8> {
    let claims_len = runtime_json.len();
    let mut out = Vec::with_capacity(HCL_REPORT_SIZE.max(RUNTIME_CLAIMS_OFFSET + claims_len));
    out.extend_from_slice(&header(tee, claims_len));
    let report = hardware_report.get(..tee.report_size()).unwrap_or(hardware_report);
    out.extend_from_slice(report);
    out.resize(out.len() + tee.report_size() - report.len(), 0);
    out.resize(out.len() + HARDWARE_REPORT_AREA - tee.report_size(), 0);
    out.extend_from_slice(&runtime_header(tee, claims_len));
    out.extend_from_slice(runtime_json);
    out.resize(out.len().max(HCL_REPORT_SIZE), 0);
    out
}

/// A size as the report's u32 fields hold it. Runtime claims never come near 4 GiB; should they,
/// the field saturates and the parser refuses the report rather than misreading it.
fn size_u32(size: usize) -> u32 {
    u32::try_from(size).unwrap_or(u32::MAX)
}

/// The 32-byte header: `"HCLA"`, version, report_size (0x4D4 + the claims' length: the meaningful
/// bytes), request_type 2, status 0 and 12 reserved bytes, as in every real report.
fn header(tee: HardwareReportKind, claims_len: usize) -> [u8; 32] {
    let mut header = [0; 32];
    let fields = [
        u32::from_le_bytes(SIGNATURE),
        tee.header_version(),
        size_u32(RUNTIME_CLAIMS_OFFSET.saturating_add(claims_len)),
        REQUEST_TYPE_AK_CERT,
        0,
    ];
    for (slot, field) in header.chunks_exact_mut(4).zip(fields) {
        slot.copy_from_slice(&field.to_le_bytes());
    }
    header
}

/// The 20-byte runtime data header at 0x4C0: data_size (20 + the claims' length), version 1,
/// report_type, hash_type 1 (SHA-256) and variable_data_size, as in every real report.
fn runtime_header(tee: HardwareReportKind, claims_len: usize) -> [u8; RUNTIME_HEADER_SIZE] {
    let mut header = [0; RUNTIME_HEADER_SIZE];
    let fields = [
        size_u32(RUNTIME_HEADER_SIZE.saturating_add(claims_len)),
        RUNTIME_HEADER_VERSION,
        tee.report_type(),
        HASH_TYPE_SHA256,
        size_u32(claims_len),
    ];
    for (slot, field) in header.chunks_exact_mut(4).zip(fields) {
        slot.copy_from_slice(&field.to_le_bytes());
    }
    header
}
