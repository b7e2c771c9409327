//! Intel TDX: the TD report the Azure paravisor puts in the HCL report, and the TD quote (v4 and v5)
//! that IMDS `/acc/tdquote` makes from it.
//!
//! All integers are little-endian. A TD report is MAC'd by the CPU, not signed, so only its contents
//! matter offline; a TD quote is signed by the quoting enclave, so [`TdQuote`] keeps the exact
//! bytes: [`TdQuote::signed_bytes`] (header and body) is what the attestation key signed, and
//! [`QeReport::bytes`] is what the PCK certificate's key signed. Verifying those signatures needs
//! ECDSA-P256 and Intel collateral and is not done here.
//!
//! Layouts: Intel TDX Module ABI (TDREPORT_STRUCT) and the Intel TDX DCAP Quote Generation Library
//! (quote v4/v5); offsets are also in docs/protocol.md §5.

use crate::ParseError;
use crate::reader::Reader;

/// Size of TDREPORT_STRUCT.
pub const TD_REPORT_SIZE: usize = 1024;
/// The TEE type of a TD report and quote (0 would be an SGX enclave).
pub const TEE_TYPE_TDX: u32 = 0x81;
/// Attestation key type 2: ECDSA-256 with P-256, the only one Intel's quoting enclaves use.
pub const ATTESTATION_KEY_TYPE_ECDSA_P256: u16 = 2;
/// Certification data type 5: the PCK certificate chain as PEM text.
pub const CERT_DATA_PCK_CHAIN: u16 = 5;
/// Certification data type 6: the QE report, its signature, the QE authentication data and nested
/// certification data (the PCK chain).
pub const CERT_DATA_QE_REPORT: u16 = 6;

/// A 48-byte SHA-384 measurement (MRTD, RTMRs, MRSEAM…).
pub type Measurement = [u8; 48];

/// TDX attributes (ATTRIBUTES in TDINFO / `td_attributes` in a quote body), as a bitfield.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TdAttributes(pub u64);

impl TdAttributes {
    /// The TD is in debug mode: the host can read and change its memory and registers.
    pub fn debug(self) -> bool {
        self.0 & 1 != 0
    }
    /// SEPT_VE_DISABLE (bit 28): EPT violations are not turned into #VE in the guest.
    pub fn sept_ve_disable(self) -> bool {
        self.0 & (1 << 28) != 0
    }
}

/// REPORTTYPE: the kind of report (type 0x81 for TDX), with its subtype and version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportType {
    pub tee_type: u8,
    pub subtype: u8,
    pub version: u8,
}

/// REPORTMACSTRUCT: the MAC'd header of a TD report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportMacStruct {
    pub report_type: ReportType,
    pub cpusvn: [u8; 16],
    /// SHA-384 of TEE_TCB_INFO.
    pub tee_tcb_info_hash: [u8; 48],
    /// SHA-384 of TDINFO.
    pub tee_info_hash: [u8; 48],
    /// The 64 bytes the TD asked to be bound; on Azure, SHA-256 of the HCL runtime claims, then zeros.
    pub report_data: [u8; 64],
    pub mac: [u8; 32],
}

/// TEE_TCB_INFO: the TDX module's identity and TCB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeeTcbInfo {
    pub valid: [u8; 8],
    pub tee_tcb_svn: [u8; 16],
    pub mrseam: Measurement,
    pub mrsignerseam: Measurement,
    pub attributes: u64,
    pub tee_tcb_svn2: [u8; 16],
}

/// TDINFO: the TD's measurements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TdInfo {
    pub attributes: TdAttributes,
    pub xfam: u64,
    /// Build-time measurement of the TD (the initial memory image).
    pub mrtd: Measurement,
    pub mrconfigid: Measurement,
    pub mrowner: Measurement,
    pub mrownerconfig: Measurement,
    /// Run-time measurement registers RTMR0..3.
    pub rtmr: [Measurement; 4],
    pub servtd_hash: Measurement,
}

/// TDREPORT_STRUCT (1024 bytes): REPORTMACSTRUCT, TEE_TCB_INFO, reserved, TDINFO.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TdReport {
    pub report_mac: ReportMacStruct,
    pub tee_tcb_info: TeeTcbInfo,
    pub td_info: TdInfo,
}

impl TdReport {
    /// Parse exactly [`TD_REPORT_SIZE`] bytes. The report type must be TDX (0x81).
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new("TDREPORT", bytes);
        let type_offset = r.offset();
        let report_type =
            ReportType { tee_type: r.u8("type")?, subtype: r.u8("subtype")?, version: r.u8("version")? };
        if u32::from(report_type.tee_type) != TEE_TYPE_TDX {
            return Err(r.unsupported(
                "type",
                type_offset,
                format!("0x{:02x}", report_type.tee_type),
                "TDX (0x81)",
            ));
        }
        r.skip("reserved", 13)?;
        let report_mac = ReportMacStruct {
            report_type,
            cpusvn: r.array("cpusvn")?,
            tee_tcb_info_hash: r.array("tee_tcb_info_hash")?,
            tee_info_hash: r.array("tee_info_hash")?,
            report_data: r.array("report_data")?,
            mac: {
                r.skip("reserved", 32)?;
                r.array("mac")?
            },
        };
        let tee_tcb_info = TeeTcbInfo {
            valid: r.array("tee_tcb_info.valid")?,
            tee_tcb_svn: r.array("tee_tcb_info.tee_tcb_svn")?,
            mrseam: r.array("tee_tcb_info.mrseam")?,
            mrsignerseam: r.array("tee_tcb_info.mrsignerseam")?,
            attributes: r.u64_le("tee_tcb_info.attributes")?,
            tee_tcb_svn2: r.array("tee_tcb_info.tee_tcb_svn2")?,
        };
        r.skip("tee_tcb_info.reserved", 95)?;
        r.skip("reserved", 17)?;
        let td_info = TdInfo {
            attributes: TdAttributes(r.u64_le("td_info.attributes")?),
            xfam: r.u64_le("td_info.xfam")?,
            mrtd: r.array("td_info.mrtd")?,
            mrconfigid: r.array("td_info.mrconfigid")?,
            mrowner: r.array("td_info.mrowner")?,
            mrownerconfig: r.array("td_info.mrownerconfig")?,
            rtmr: [
                r.array("td_info.rtmr0")?,
                r.array("td_info.rtmr1")?,
                r.array("td_info.rtmr2")?,
                r.array("td_info.rtmr3")?,
            ],
            servtd_hash: r.array("td_info.servtd_hash")?,
        };
        r.skip("td_info.reserved", 64)?;
        r.finish()?;
        Ok(TdReport { report_mac, tee_tcb_info, td_info })
    }
}

/// The 48-byte quote header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuoteHeader {
    /// 4 or 5.
    pub version: u16,
    /// Always [`ATTESTATION_KEY_TYPE_ECDSA_P256`] here.
    pub attestation_key_type: u16,
    /// Always [`TEE_TYPE_TDX`] here.
    pub tee_type: u32,
    /// Reserved in the v4/v5 layouts; SGX v3 quotes carry the QE SVN here.
    pub qe_svn: u16,
    /// Reserved in the v4/v5 layouts; SGX v3 quotes carry the PCE SVN here.
    pub pce_svn: u16,
    /// `939a7233f79c4ca9940a0db3957f0607` for Intel's quoting enclave.
    pub qe_vendor_id: [u8; 16],
    pub user_data: [u8; 20],
}

/// Which TD report body a quote carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TdQuoteBodyType {
    /// TDX 1.0 body, 584 bytes (v4 quotes; v5 body type 2).
    Td10,
    /// TDX 1.5 body, 648 bytes: adds `tee_tcb_svn2` and `mr_servicetd` (v5 body type 3).
    Td15,
}

impl TdQuoteBodyType {
    /// The body's size in bytes.
    pub const fn size(self) -> usize {
        match self {
            Self::Td10 => 584,
            Self::Td15 => 648,
        }
    }
    /// The v5 body type value.
    pub const fn code(self) -> u16 {
        match self {
            Self::Td10 => 2,
            Self::Td15 => 3,
        }
    }
}

/// The TD report body of a quote: what the quoting enclave vouches for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TdQuoteBody {
    pub body_type: TdQuoteBodyType,
    pub tee_tcb_svn: [u8; 16],
    pub mrseam: Measurement,
    pub mrsignerseam: Measurement,
    pub seam_attributes: u64,
    pub td_attributes: TdAttributes,
    pub xfam: u64,
    pub mrtd: Measurement,
    pub mrconfigid: Measurement,
    pub mrowner: Measurement,
    pub mrownerconfig: Measurement,
    /// RTMR0..3.
    pub rtmr: [Measurement; 4],
    /// Copied from the TD report: on Azure, SHA-256 of the HCL runtime claims, then zeros.
    pub report_data: [u8; 64],
    /// TDX 1.5 bodies only.
    pub tee_tcb_svn2: Option<[u8; 16]>,
    /// TDX 1.5 bodies only.
    pub mr_servicetd: Option<Measurement>,
}

/// The quoting enclave's SGX report (384-byte REPORTBODY), signed by the PCK key. Its
/// `report_data` binds the attestation key: SHA-256(attestation key || QE auth data) || zeros.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QeReport {
    pub cpu_svn: [u8; 16],
    pub misc_select: u32,
    pub attributes: [u8; 16],
    pub mr_enclave: [u8; 32],
    pub mr_signer: [u8; 32],
    pub isv_prod_id: u16,
    pub isv_svn: u16,
    pub report_data: [u8; 64],
    raw: [u8; 384],
}

impl QeReport {
    /// The exact 384 bytes the PCK key signed.
    pub fn bytes(&self) -> &[u8; 384] {
        &self.raw
    }
}

/// A TD quote, v4 or v5, with ECDSA-P256 signature data and QE report certification data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TdQuote {
    header: QuoteHeader,
    body: TdQuoteBody,
    signature: [u8; 64],
    attestation_key: [u8; 64],
    qe_report: QeReport,
    qe_report_signature: [u8; 64],
    qe_auth_data: Vec<u8>,
    pck_cert_chain_pem: String,
    raw: Vec<u8>,
    signed_len: usize,
}

impl TdQuote {
    /// Parse a TD quote. Quotes from Azure IMDS arrive zero-padded after the signature data, so
    /// trailing zero bytes are accepted (and not kept); any other trailing byte is an error.
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new("TD quote", bytes);
        let header = read_header(&mut r)?;
        let body_type = match header.version {
            4 => TdQuoteBodyType::Td10,
            _ => {
                let type_offset = r.offset();
                let body_type = match r.u16_le("body.type")? {
                    2 => TdQuoteBodyType::Td10,
                    3 => TdQuoteBodyType::Td15,
                    other => {
                        return Err(r.unsupported(
                            "body.type",
                            type_offset,
                            other.to_string(),
                            "2 (TDX 1.0 report), 3 (TDX 1.5 report)",
                        ));
                    }
                };
                let size_offset = r.offset();
                let size = r.u32_le("body.size")?;
                if usize::try_from(size).ok() != Some(body_type.size()) {
                    return Err(r.invalid(
                        "body.size",
                        size_offset,
                        format!("{} for body type {}", body_type.size(), body_type.code()),
                        size.to_string(),
                    ));
                }
                body_type
            }
        };
        let body = read_body(&mut r, body_type)?;
        let signed_len = r.offset();

        let sig_len_offset = r.offset();
        let sig_data_len = usize::try_from(r.u32_le("signature_data.len")?).unwrap_or(usize::MAX);
        let sig_start = r.offset();
        let signature = r.array("signature_data.signature")?;
        let attestation_key = r.array("signature_data.attestation_key")?;
        let cd_type_offset = r.offset();
        let cd_size = expect_cert_data(
            &mut r,
            ["certification_data.type", "certification_data.size"],
            CERT_DATA_QE_REPORT,
            "6 (QE report certification data)",
        )?;
        let cd_start = r.offset();
        let qe_report = read_qe_report(&mut r)?;
        let qe_report_signature = r.array("qe_report_signature")?;
        let auth_len = usize::from(r.u16_le("qe_auth_data.size")?);
        let qe_auth_data = r.take("qe_auth_data", auth_len)?.to_vec();
        let pck_size = expect_cert_data(
            &mut r,
            ["pck_cert_chain.type", "pck_cert_chain.size"],
            CERT_DATA_PCK_CHAIN,
            "5 (PCK certificate chain, PEM)",
        )?;
        let pck_offset = r.offset();
        let pck_bytes = r.take("pck_cert_chain", pck_size)?;
        let pck_cert_chain_pem = std::str::from_utf8(trim_nul(pck_bytes))
            .map_err(|e| r.invalid("pck_cert_chain", pck_offset, "PEM text (UTF-8)", e.to_string()))?
            .to_owned();
        let cd_consumed = r.offset() - cd_start;
        if cd_consumed != cd_size {
            return Err(r.invalid(
                "certification_data.size",
                cd_type_offset + 2,
                format!("{cd_consumed} (the QE report certification data that follows)"),
                cd_size.to_string(),
            ));
        }
        let sig_consumed = r.offset() - sig_start;
        if sig_consumed != sig_data_len {
            return Err(r.invalid(
                "signature_data.len",
                sig_len_offset,
                format!("{sig_consumed} (the signature data that follows)"),
                sig_data_len.to_string(),
            ));
        }
        let end = r.offset();
        let padding_offset = r.offset();
        if r.rest().iter().any(|b| *b != 0) {
            return Err(ParseError::TrailingBytes {
                structure: "TD quote",
                offset: padding_offset,
                count: bytes.len().saturating_sub(padding_offset),
            });
        }
        Ok(TdQuote {
            header,
            body,
            signature,
            attestation_key,
            qe_report,
            qe_report_signature,
            qe_auth_data,
            pck_cert_chain_pem,
            raw: bytes.get(..end).unwrap_or_default().to_vec(),
            signed_len,
        })
    }

    pub fn header(&self) -> &QuoteHeader {
        &self.header
    }
    pub fn body(&self) -> &TdQuoteBody {
        &self.body
    }
    /// The bytes the attestation key signed: the header and the body (with the v5 body descriptor).
    pub fn signed_bytes(&self) -> &[u8] {
        self.raw.get(..self.signed_len).unwrap_or_default()
    }
    /// ECDSA-P256 signature over [`signed_bytes`](Self::signed_bytes): r || s, big-endian.
    pub fn signature(&self) -> &[u8; 64] {
        &self.signature
    }
    /// The attestation public key: P-256 point x || y, big-endian.
    pub fn attestation_key(&self) -> &[u8; 64] {
        &self.attestation_key
    }
    pub fn qe_report(&self) -> &QeReport {
        &self.qe_report
    }
    /// ECDSA-P256 signature by the PCK key over [`QeReport::bytes`]: r || s, big-endian.
    pub fn qe_report_signature(&self) -> &[u8; 64] {
        &self.qe_report_signature
    }
    /// QE authentication data, hashed with the attestation key into the QE report's `report_data`.
    pub fn qe_auth_data(&self) -> &[u8] {
        &self.qe_auth_data
    }
    /// The PCK certificate chain (PCK, intermediate CA, Intel SGX Root CA) as PEM text, without the
    /// NUL terminator it is stored with.
    pub fn pck_cert_chain_pem(&self) -> &str {
        &self.pck_cert_chain_pem
    }
    /// The PEM blocks of the PCK certificate chain, leaf first.
    pub fn pck_cert_chain_blocks(&self) -> Vec<&str> {
        pem_blocks(&self.pck_cert_chain_pem)
    }
    /// The quote's bytes, without the zero padding it may have arrived with.
    pub fn bytes(&self) -> &[u8] {
        &self.raw
    }
}

/// Read a certification data header: the type (u16), which must be `expected` (`supported` says
/// which in the error), then the size (u32), which is returned. The two field names are for errors.
fn expect_cert_data(
    r: &mut Reader<'_>,
    [type_field, size_field]: [&'static str; 2],
    expected: u16,
    supported: &'static str,
) -> Result<usize, ParseError> {
    let type_offset = r.offset();
    let found = r.u16_le(type_field)?;
    if found != expected {
        return Err(r.unsupported(type_field, type_offset, found.to_string(), supported));
    }
    Ok(usize::try_from(r.u32_le(size_field)?).unwrap_or(usize::MAX))
}

fn trim_nul(bytes: &[u8]) -> &[u8] {
    let end = bytes.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
    bytes.get(..end).unwrap_or_default()
}

const PEM_BEGIN: &str = "-----BEGIN CERTIFICATE-----";
const PEM_END: &str = "-----END CERTIFICATE-----";

/// Split PEM text into its `CERTIFICATE` blocks (BEGIN to END line inclusive).
pub(crate) fn pem_blocks(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(PEM_BEGIN) {
        let Some(after) = rest.get(start..) else { break };
        let Some(end) = after.find(PEM_END) else { break };
        let block_end = end + PEM_END.len();
        if let Some(block) = after.get(..block_end) {
            out.push(block);
        }
        rest = after.get(block_end..).unwrap_or_default();
    }
    out
}

fn read_header(r: &mut Reader<'_>) -> Result<QuoteHeader, ParseError> {
    let version_offset = r.offset();
    let version = r.u16_le("header.version")?;
    if version != 4 && version != 5 {
        return Err(r.unsupported("header.version", version_offset, version.to_string(), "4, 5"));
    }
    let key_type_offset = r.offset();
    let attestation_key_type = r.u16_le("header.attestation_key_type")?;
    if attestation_key_type != ATTESTATION_KEY_TYPE_ECDSA_P256 {
        return Err(r.unsupported(
            "header.attestation_key_type",
            key_type_offset,
            attestation_key_type.to_string(),
            "2 (ECDSA-256 with P-256)",
        ));
    }
    let tee_type_offset = r.offset();
    let tee_type = r.u32_le("header.tee_type")?;
    if tee_type != TEE_TYPE_TDX {
        return Err(r.unsupported(
            "header.tee_type",
            tee_type_offset,
            format!("0x{tee_type:x}"),
            "TDX (0x81)",
        ));
    }
    Ok(QuoteHeader {
        version,
        attestation_key_type,
        tee_type,
        qe_svn: r.u16_le("header.qe_svn")?,
        pce_svn: r.u16_le("header.pce_svn")?,
        qe_vendor_id: r.array("header.qe_vendor_id")?,
        user_data: r.array("header.user_data")?,
    })
}

fn read_body(r: &mut Reader<'_>, body_type: TdQuoteBodyType) -> Result<TdQuoteBody, ParseError> {
    let tee_tcb_svn = r.array("body.tee_tcb_svn")?;
    let mrseam = r.array("body.mrseam")?;
    let mrsignerseam = r.array("body.mrsignerseam")?;
    let seam_attributes = r.u64_le("body.seam_attributes")?;
    let td_attributes = TdAttributes(r.u64_le("body.td_attributes")?);
    let xfam = r.u64_le("body.xfam")?;
    let mrtd = r.array("body.mrtd")?;
    let mrconfigid = r.array("body.mrconfigid")?;
    let mrowner = r.array("body.mrowner")?;
    let mrownerconfig = r.array("body.mrownerconfig")?;
    let rtmr =
        [r.array("body.rtmr0")?, r.array("body.rtmr1")?, r.array("body.rtmr2")?, r.array("body.rtmr3")?];
    let report_data = r.array("body.report_data")?;
    let (tee_tcb_svn2, mr_servicetd) = match body_type {
        TdQuoteBodyType::Td10 => (None, None),
        TdQuoteBodyType::Td15 => (Some(r.array("body.tee_tcb_svn2")?), Some(r.array("body.mr_servicetd")?)),
    };
    Ok(TdQuoteBody {
        body_type,
        tee_tcb_svn,
        mrseam,
        mrsignerseam,
        seam_attributes,
        td_attributes,
        xfam,
        mrtd,
        mrconfigid,
        mrowner,
        mrownerconfig,
        rtmr,
        report_data,
        tee_tcb_svn2,
        mr_servicetd,
    })
}

fn read_qe_report(r: &mut Reader<'_>) -> Result<QeReport, ParseError> {
    let raw: [u8; 384] = r.array("qe_report")?;
    let mut q = Reader::new("QE report", &raw);
    let cpu_svn = q.array("cpu_svn")?;
    let misc_select = q.u32_le("misc_select")?;
    q.skip("reserved", 28)?;
    let attributes = q.array("attributes")?;
    let mr_enclave = q.array("mr_enclave")?;
    q.skip("reserved", 32)?;
    let mr_signer = q.array("mr_signer")?;
    q.skip("reserved", 96)?;
    let isv_prod_id = q.u16_le("isv_prod_id")?;
    let isv_svn = q.u16_le("isv_svn")?;
    q.skip("reserved", 60)?;
    let report_data = q.array("report_data")?;
    q.finish()?;
    Ok(QeReport {
        cpu_svn,
        misc_select,
        attributes,
        mr_enclave,
        mr_signer,
        isv_prod_id,
        isv_svn,
        report_data,
        raw,
    })
}
