//! Intel TDX: the TD report the simulated paravisor puts in the HCL report, and the v4 TD quote the
//! simulated IMDS (`/acc/tdquote`) makes of it, signed by a test quoting enclave (QE) whose report is
//! signed by the test PCK key (`testdata/pki/intel-test-pck.key`).
//!
//! Layouts: Intel TDX Module ABI (`TDREPORT_STRUCT`) and Intel's DCAP quote library (quote v4), as
//! `formats::tdx` parses them. Every value the caller does not choose mirrors a real Azure TDX CVM
//! on Sapphire Rapids: the TD report in `formats/testdata/azure-tdx/trustee-hcl-report-tdx.bin`
//! and its quote `formats/testdata/azure-tdx/trustee-td-quote.bin`.

use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::DecodePrivateKey;
use sha2::{Digest, Sha256, Sha384};

use crate::pki;

/// Size of `TDREPORT_STRUCT`.
pub const TD_REPORT_SIZE: usize = 1024;
/// Size of an SGX `REPORTBODY` (the QE report).
pub const QE_REPORT_SIZE: usize = 384;

// Offsets in the TD report (Intel TDX Module ABI, TDREPORT_STRUCT).
const REPORT_DATA: usize = 0x80;
const TEE_TCB_INFO: usize = 0x100;
const TEE_TCB_INFO_SIZE: usize = 239;
const TD_INFO: usize = 0x200;
const TD_INFO_SIZE: usize = 512;

/// REPORTTYPE: TEE type 0x81 (TDX), subtype 0, version 0, then a reserved byte, as in the real report.
const REPORT_TYPE: [u8; 4] = [0x81, 0, 0, 0];
/// The platform's CPUSVN in the real TD report (and its QE report): Sapphire Rapids.
const CPUSVN: [u8; 16] = [0x06, 0x06, 0x13, 0x15, 0x03, 0xff, 0x00, 0x03, 0, 0, 0, 0, 0, 0, 0, 0];
/// TEE_TCB_INFO.VALID of the real report: which of the following fields are valid.
const TEE_TCB_INFO_VALID: [u8; 8] = [0xff, 0x01, 0x03, 0, 0, 0, 0, 0];
/// TEE_TCB_SVN (and TEE_TCB_SVN2) of the real report: TDX module 1.5 SVN 6 (`02 01 06 00…`, minor
/// and major version in bytes 0-1), which the TDX TCB Info levels of FMSPC 00806f050000 meet.
pub const TEE_TCB_SVN: [u8; 16] = [0x02, 0x01, 0x06, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
/// MRSEAM of the real report: the measurement of Intel's TDX module it ran.
const MRSEAM: [u8; 48] = [
    0x36, 0x03, 0x04, 0xd3, 0x4a, 0x16, 0xaa, 0xce, 0x0a, 0x18, 0xe0, 0x9a, 0xd2, 0xd0, 0x7d, 0x2b, 0x9f,
    0xd3, 0xc1, 0x74, 0x37, 0x8e, 0x5b, 0xf1, 0x08, 0x38, 0x80, 0x79, 0x82, 0x7f, 0x89, 0xff, 0x62, 0xac,
    0xc5, 0xf8, 0xc4, 0x73, 0xdd, 0x40, 0x70, 0x63, 0x24, 0x83, 0x4e, 0x20, 0x29, 0x46,
];
/// MRSIGNERSEAM is zero for a TDX module signed by Intel (the real report's); SEAM attributes zero.
const MRSIGNERSEAM: [u8; 48] = [0; 48];
const SEAM_ATTRIBUTES: u64 = 0;
/// TD ATTRIBUTES of the real report: zero, so no debug bit (`tdx-td-attributes` passes).
const TD_ATTRIBUTES: u64 = 0;
/// XFAM of the real report: the extended features (x87, SSE, AVX, AVX-512, PKRU, AMX…) the TD may use.
const XFAM: u64 = 0x0006_18e7;

/// Quote v4 header: version 4, attestation key type 2 (ECDSA-256 with P-256), TEE type 0x81.
const QUOTE_VERSION: u16 = 4;
const ATTESTATION_KEY_TYPE: u16 = 2;
const TEE_TYPE_TDX: u32 = 0x81;
/// QE_VENDOR_ID of Intel's quoting enclave.
const INTEL_QE_VENDOR_ID: [u8; 16] =
    [0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9, 0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07];
/// USER_DATA of the real quote's header: the first 16 bytes identify the QE to the platform (its QE
/// ID), the last 4 are zero.
const QUOTE_USER_DATA: [u8; 20] = [
    0xf1, 0x7e, 0xac, 0x11, 0x2e, 0x4c, 0xd9, 0xa0, 0xfa, 0xfc, 0xe1, 0xb4, 0x6b, 0x5a, 0xf1, 0x8f, 0, 0, 0,
    0,
];
/// Certification data types: 6 is the QE report with its certification data, 5 the PCK chain (PEM).
const CERT_DATA_QE_REPORT: u16 = 6;
const CERT_DATA_PCK_CHAIN: u16 = 5;

/// The TD_QE's identity in the real quote's QE report, which Intel's TD_QE identity collateral names:
/// ATTRIBUTES, MRENCLAVE, MRSIGNER (Intel's enclave signing key), ISVPRODID 2 (TD_QE), ISVSVN 5.
const QE_ATTRIBUTES: [u8; 16] = [0x15, 0, 0, 0, 0, 0, 0, 0, 0xe7, 0, 0, 0, 0, 0, 0, 0];
const QE_MRENCLAVE: [u8; 32] = [
    0x86, 0xfc, 0x4e, 0x0e, 0xc2, 0xc5, 0xdd, 0xce, 0xba, 0xc9, 0x70, 0x62, 0xc0, 0xa0, 0x14, 0x2a, 0x97,
    0xc1, 0x8a, 0x7a, 0x75, 0x51, 0x47, 0xbc, 0xbc, 0x3f, 0xe1, 0x7d, 0x65, 0x29, 0x78, 0x1d,
];
const QE_MRSIGNER: [u8; 32] = [
    0xdc, 0x9e, 0x2a, 0x7c, 0x6f, 0x94, 0x8f, 0x17, 0x47, 0x4e, 0x34, 0xa7, 0xfc, 0x43, 0xed, 0x03, 0x0f,
    0x7c, 0x15, 0x63, 0xf1, 0xba, 0xbd, 0xdf, 0x63, 0x40, 0xc8, 0x2e, 0x0e, 0x54, 0xa8, 0xc5,
];
const QE_ISVPRODID: u16 = 2;
const QE_ISVSVN: u16 = 5;

/// What the test attestation key is derived from: one fixed key, so quotes are reproducible (a real
/// QE keeps one attestation key too, until the platform is re-provisioned).
const ATTESTATION_KEY_SEED: &[u8] = b"cvm-attest-sim TD quote attestation key";

/// A TDREPORT as Azure's paravisor gets it from the TDX module, with the caller's `report_data` (on
/// Azure: SHA-256 of the HCL runtime claims, then zeros; see [`crate::hcl::report_data`]), `mrtd`
/// and RTMR0-3 (zero on a real Azure TD, whose paravisor measures into the vTPM instead).
///
/// REPORTMACSTRUCT carries the SHA-384 digests of TEE_TCB_INFO and TDINFO, as the TDX module computes
/// them (checked on the real report); its MAC is keyed by the CPU, which nothing offline can check,
/// so a digest of the MAC'd bytes stands in for it.
pub fn td_report(report_data: [u8; 64], mrtd: [u8; 48], rtmrs: [[u8; 48]; 4]) -> Vec<u8> {
    let tee_tcb_info = tee_tcb_info();
    let td_info = td_info(&mrtd, &rtmrs);
    let mut report = Vec::with_capacity(TD_REPORT_SIZE);
    report.extend_from_slice(&REPORT_TYPE); // 0x00 REPORTTYPE
    report.extend_from_slice(&[0; 12]); // 0x04 reserved
    report.extend_from_slice(&CPUSVN); // 0x10 CPUSVN
    report.extend_from_slice(&Sha384::digest(&tee_tcb_info)); // 0x20 TEE_TCB_INFO_HASH
    report.extend_from_slice(&Sha384::digest(&td_info)); // 0x50 TEE_INFO_HASH
    report.extend_from_slice(&report_data); // 0x80 REPORTDATA
    report.extend_from_slice(&[0; 32]); // 0xC0 reserved
    let mac = Sha256::new().chain_update(b"cvm-attest-sim TDREPORT MAC").chain_update(&report).finalize();
    report.extend_from_slice(&mac); // 0xE0 MAC
    report.extend_from_slice(&tee_tcb_info); // 0x100 TEE_TCB_INFO
    report.resize(TD_INFO, 0); // 0x1EF reserved
    report.extend_from_slice(&td_info); // 0x200 TDINFO
    report
}

/// TEE_TCB_INFO (239 bytes): the TDX module's identity and TCB, the real report's.
fn tee_tcb_info() -> Vec<u8> {
    let mut info = Vec::with_capacity(TEE_TCB_INFO_SIZE);
    info.extend_from_slice(&TEE_TCB_INFO_VALID); // VALID
    info.extend_from_slice(&TEE_TCB_SVN); // TEE_TCB_SVN
    info.extend_from_slice(&MRSEAM); // MRSEAM
    info.extend_from_slice(&MRSIGNERSEAM); // MRSIGNERSEAM
    info.extend_from_slice(&SEAM_ATTRIBUTES.to_le_bytes()); // ATTRIBUTES
    info.extend_from_slice(&TEE_TCB_SVN); // TEE_TCB_SVN2: the same in the real report
    info.resize(TEE_TCB_INFO_SIZE, 0); // reserved
    info
}

/// TDINFO (512 bytes): the TD's attributes and measurements. MRCONFIGID, MROWNER, MROWNERCONFIG and
/// SERVTD_HASH are zero, as on Azure.
fn td_info(mrtd: &[u8; 48], rtmrs: &[[u8; 48]; 4]) -> Vec<u8> {
    let mut info = Vec::with_capacity(TD_INFO_SIZE);
    info.extend_from_slice(&TD_ATTRIBUTES.to_le_bytes()); // ATTRIBUTES
    info.extend_from_slice(&XFAM.to_le_bytes()); // XFAM
    info.extend_from_slice(mrtd); // MRTD
    info.extend_from_slice(&[0; 3 * 48]); // MRCONFIGID, MROWNER, MROWNERCONFIG
    for rtmr in rtmrs {
        info.extend_from_slice(rtmr); // RTMR0..3
    }
    info.resize(TD_INFO_SIZE, 0); // SERVTD_HASH, reserved
    info
}

/// The v4 TD quote Azure's IMDS returns for `td_report`: header, the TD 1.0 body copied from the TD
/// report, and ECDSA signature data (the attestation key's signature over header and body, the key,
/// and certification data type 6: the QE report signed by the test PCK key, the QE authentication
/// data, and the PCK chain `INTEL_PCK_PEM ‖ INTEL_PCK_CA_PEM ‖ INTEL_ROOT_PEM` as type 5).
///
/// The TD report is not checked here (a real quoting enclave checks its MAC): bytes missing from a
/// short one read as zero, so IMDS should refuse what `formats::tdx::TdReport::parse` refuses first.
pub fn td_quote(td_report: &[u8]) -> Vec<u8> {
    let attestation_key = attestation_key();
    let mut quote = Vec::new();
    quote.extend_from_slice(&quote_header());
    quote.extend_from_slice(&quote_body(td_report));
    let signature: Signature = attestation_key.sign(&quote);
    let public_key = raw_public_key(&attestation_key);

    let certification = qe_certification_data(&public_key);
    let mut signature_data = Vec::new();
    signature_data.extend_from_slice(&signature.to_bytes());
    signature_data.extend_from_slice(&public_key);
    signature_data.extend_from_slice(&CERT_DATA_QE_REPORT.to_le_bytes());
    signature_data.extend_from_slice(&len_u32(certification.len()).to_le_bytes());
    signature_data.extend_from_slice(&certification);

    quote.extend_from_slice(&len_u32(signature_data.len()).to_le_bytes());
    quote.extend_from_slice(&signature_data);
    quote
}

/// The 48-byte v4 header, the real quote's: version 4, key type 2, TEE type 0x81, two reserved u16,
/// Intel's QE vendor ID and the QE's user data.
fn quote_header() -> Vec<u8> {
    let mut header = Vec::with_capacity(48);
    header.extend_from_slice(&QUOTE_VERSION.to_le_bytes());
    header.extend_from_slice(&ATTESTATION_KEY_TYPE.to_le_bytes());
    header.extend_from_slice(&TEE_TYPE_TDX.to_le_bytes());
    header.extend_from_slice(&[0; 4]);
    header.extend_from_slice(&INTEL_QE_VENDOR_ID);
    header.extend_from_slice(&QUOTE_USER_DATA);
    header
}

/// The 584-byte TD 1.0 quote body, each field copied from where the TD report has it.
fn quote_body(td_report: &[u8]) -> Vec<u8> {
    let tee_tcb_info = |offset: usize, len: usize| field(td_report, TEE_TCB_INFO + offset, len);
    let td_info = |offset: usize, len: usize| field(td_report, TD_INFO + offset, len);
    let parts = [
        tee_tcb_info(8, 16),               // TEE_TCB_SVN
        tee_tcb_info(24, 48),              // MRSEAM
        tee_tcb_info(72, 48),              // MRSIGNERSEAM
        tee_tcb_info(120, 8),              // SEAMATTRIBUTES
        td_info(0, 8),                     // TDATTRIBUTES
        td_info(8, 8),                     // XFAM
        td_info(16, 48),                   // MRTD
        td_info(64, 48),                   // MRCONFIGID
        td_info(112, 48),                  // MROWNER
        td_info(160, 48),                  // MROWNERCONFIG
        td_info(208, 4 * 48),              // RTMR0..3
        field(td_report, REPORT_DATA, 64), // REPORTDATA
    ];
    parts.concat()
}

/// `len` bytes of `bytes` at `offset`, zero-filled where `bytes` ends early.
fn field(bytes: &[u8], offset: usize, len: usize) -> Vec<u8> {
    let mut out: Vec<u8> = bytes.iter().skip(offset).take(len).copied().collect();
    out.resize(len, 0);
    out
}

/// Certification data type 6: QE report, its signature by the PCK key, QE authentication data, and
/// the PCK chain as certification data type 5.
fn qe_certification_data(attestation_key: &[u8; 64]) -> Vec<u8> {
    // Intel's DCAP quote library sends these 32 bytes (0, 1, …, 31) as QE authentication data by
    // default; the real quote carries them.
    let auth_data: Vec<u8> = (0..32).collect();
    let qe_report = qe_report(attestation_key, &auth_data);
    let qe_signature: Signature = pck_key().sign(&qe_report);
    let chain = pck_chain();

    let mut data = Vec::new();
    data.extend_from_slice(&qe_report);
    data.extend_from_slice(&qe_signature.to_bytes());
    data.extend_from_slice(&len_u16(auth_data.len()).to_le_bytes());
    data.extend_from_slice(&auth_data);
    data.extend_from_slice(&CERT_DATA_PCK_CHAIN.to_le_bytes());
    data.extend_from_slice(&len_u32(chain.len()).to_le_bytes());
    data.extend_from_slice(&chain);
    data
}

/// The QE's SGX REPORTBODY (384 bytes), the real QE report's but for REPORTDATA, which binds the
/// attestation key: SHA-256(attestation key ‖ QE authentication data) ‖ 32 zero bytes, what
/// `tdx-qe-binding` checks.
fn qe_report(attestation_key: &[u8; 64], auth_data: &[u8]) -> Vec<u8> {
    let binding = Sha256::new().chain_update(attestation_key).chain_update(auth_data).finalize();
    let mut report = Vec::with_capacity(QE_REPORT_SIZE);
    report.extend_from_slice(&CPUSVN); // 0 CPUSVN
    report.extend_from_slice(&0u32.to_le_bytes()); // 16 MISCSELECT
    report.extend_from_slice(&[0; 28]); // 20 reserved
    report.extend_from_slice(&QE_ATTRIBUTES); // 48 ATTRIBUTES
    report.extend_from_slice(&QE_MRENCLAVE); // 64 MRENCLAVE
    report.extend_from_slice(&[0; 32]); // 96 reserved
    report.extend_from_slice(&QE_MRSIGNER); // 128 MRSIGNER
    report.extend_from_slice(&[0; 96]); // 160 reserved
    report.extend_from_slice(&QE_ISVPRODID.to_le_bytes()); // 256 ISVPRODID
    report.extend_from_slice(&QE_ISVSVN.to_le_bytes()); // 258 ISVSVN
    report.extend_from_slice(&[0; 60]); // 260 reserved
    report.extend_from_slice(&binding); // 320 REPORTDATA
    report.resize(QE_REPORT_SIZE, 0);
    report
}

/// The PCK chain as quotes carry it: PCK, PCK Platform CA, root, PEM, NUL-terminated (the
/// terminator is counted in the size, as in the real quote).
fn pck_chain() -> Vec<u8> {
    let mut chain = Vec::new();
    for pem in [pki::INTEL_PCK_PEM, pki::INTEL_PCK_CA_PEM, pki::INTEL_ROOT_PEM] {
        chain.extend_from_slice(pem.as_bytes());
        if !pem.ends_with('\n') {
            chain.push(b'\n');
        }
    }
    chain.push(0);
    chain
}

/// The QE's attestation key: a P-256 key whose scalar is SHA-256 of a fixed seed.
pub fn attestation_key() -> SigningKey {
    let scalar = Sha256::digest(ATTESTATION_KEY_SEED);
    // The digest of a compiled-in constant; it is a valid scalar (non-zero, below the group order),
    // which every test that makes a quote confirms: it cannot fail at run time.
    SigningKey::from_slice(&scalar).expect("the seed's SHA-256 is a valid P-256 scalar")
}

/// The attestation public key as quotes carry it: x ‖ y, big-endian, without SEC1's 0x04 prefix.
fn raw_public_key(key: &SigningKey) -> [u8; 64] {
    let point = key.verifying_key().to_encoded_point(false);
    let mut raw = [0; 64];
    for (slot, byte) in raw.iter_mut().zip(point.as_bytes().iter().skip(1)) {
        *slot = *byte;
    }
    raw
}

/// The test PCK certificate's key, which signs QE reports.
fn pck_key() -> SigningKey {
    // A compiled-in constant made by testdata/pki/make.sh (P-256, PKCS#8 PEM), checked by every test
    // that makes a quote: it cannot fail at run time.
    SigningKey::from_pkcs8_pem(pki::INTEL_PCK_KEY)
        .expect("testdata/pki/intel-test-pck.key is a PKCS#8 P-256 key")
}

/// A length as the quote's u32 size fields hold it (the quote is a few kilobytes).
fn len_u32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

/// A length as the quote's u16 size fields hold it (QE authentication data is 32 bytes).
fn len_u16(len: usize) -> u16 {
    u16::try_from(len).unwrap_or(u16::MAX)
}
