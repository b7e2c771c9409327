//! The simulator's signed reports against the project's own parsers and appraisal: the SEV-SNP HCL
//! report passes `formats::appraise::snp` only under the test AMD roots, the TD quote passes
//! `formats::appraise::tdx` only under the test Intel root, and the byte layouts are those of the
//! real Azure reports in `formats/testdata`.

use cvm_attest_formats::appraise::{Collateral, Status, Steps, TrustAnchors};
use cvm_attest_formats::hcl::{HardwareReport, HclReport, ReportType};
use cvm_attest_formats::intel::PckExtensions;
use cvm_attest_formats::snp::SnpReport;
use cvm_attest_formats::tdx::{TdQuote, TdReport};
use cvm_attest_formats::time::DateTime;
use cvm_attest_sim::hcl::{self, HardwareReportKind, RsaPublic, RuntimeClaims};
use cvm_attest_sim::{pki, snp, tdx};

/// A real 2,600-byte SEV-SNP HCL report (header v1, SNP report v2, `HCLAkPub` and `HCLEkPub`).
const REAL_SNP_HCL: &[u8] = include_bytes!("../../../../formats/testdata/tpm/trustee-milan-hcl-report.bin");
/// A real 2,600-byte TDX HCL report (header v2) and the TD quote IMDS made of its TD report.
const REAL_TDX_HCL: &[u8] =
    include_bytes!("../../../../formats/testdata/azure-tdx/trustee-hcl-report-tdx.bin");
const REAL_TD_QUOTE: &[u8] = include_bytes!("../../../../formats/testdata/azure-tdx/trustee-td-quote.bin");

const VM_ID: &str = "6c1a6e1f-3b0e-4c55-9d7e-2f4a8b1c0d9e";
const MEASUREMENT: [u8; 48] = [0x4d; 48];
const MRTD: [u8; 48] = [0x7d; 48];

/// When the test certificates (2025-2045) are valid.
fn at() -> DateTime {
    DateTime::parse("2026-01-01T00:00:00Z").expect("an RFC 3339 time")
}

/// Runtime claims with stand-in RSA-2048 moduli (nothing parses them as keys here) and a nonce.
fn claims() -> RuntimeClaims {
    let mut ak_modulus = vec![0xa5; 256];
    ak_modulus[0] = 0xc3;
    let mut user_data = [0; 64];
    user_data[..5].copy_from_slice(b"nonce");
    RuntimeClaims {
        ak: RsaPublic { modulus: ak_modulus, exponent: vec![1, 0, 1] },
        ek: RsaPublic { modulus: vec![0xe7; 256], exponent: vec![1, 0, 1] },
        vm_unique_id: VM_ID.to_owned(),
        secure_boot: true,
        user_data,
    }
}

/// The test ARK and ASK, as an operator trusts them for Milan.
fn test_amd_anchors() -> TrustAnchors {
    TrustAnchors::from_operator(&[
        ("amd-ark-milan", pki::AMD_ARK_PEM.as_bytes()),
        ("amd-ask-milan", pki::AMD_ASK_PEM.as_bytes()),
    ])
    .expect("the test ARK signs itself and the test ASK")
}

fn test_intel_anchors() -> TrustAnchors {
    TrustAnchors::from_operator(&[("intel-sgx-root", pki::INTEL_ROOT_PEM.as_bytes())])
        .expect("the test Intel root is one certificate")
}

/// The VCEK chain as THIM serves it: VCEK, ASK, ARK.
fn vcek_chain() -> String {
    [pki::AMD_VCEK_PEM, pki::AMD_ASK_PEM, pki::AMD_ARK_PEM].concat()
}

/// A simulated SNP HCL report for [`claims`].
fn snp_hcl_report() -> Vec<u8> {
    let json = claims().to_json();
    let report = snp::snp_report(hcl::report_data(&json), MEASUREMENT);
    hcl::hcl_report(HardwareReportKind::Snp, &json, &report)
}

fn snp_steps(hcl_bytes: &[u8], anchors: &TrustAnchors) -> Steps {
    let hcl = HclReport::parse(hcl_bytes).expect("the simulated HCL report parses");
    let HardwareReport::Snp(report) = hcl.hardware_report() else { panic!("not an SNP HCL report") };
    let mut steps = Steps::default();
    let chain = vcek_chain();
    cvm_attest_formats::appraise::snp::appraise(
        report,
        Some(&chain),
        anchors,
        &Collateral::default(),
        &at(),
        &mut steps,
    );
    steps
}

/// The step names and statuses, for assertion messages.
fn summary(steps: &Steps) -> Vec<(String, Status, String)> {
    steps.as_slice().iter().map(|s| (s.name.to_owned(), s.status, s.detail.clone())).collect()
}

fn failed_step(steps: &Steps) -> &'static str {
    steps.failure().map_or("none", |step| step.name)
}

/// The runtime claims of a real HCL report, exactly.
fn real_runtime_json(real: &[u8]) -> Vec<u8> {
    HclReport::parse(real).expect("the real HCL report parses").runtime_claims_json().to_vec()
}

#[test]
fn runtime_claims_json_is_byte_for_byte_azures_shape() {
    let real = real_runtime_json(REAL_SNP_HCL);
    let parsed = HclReport::parse(REAL_SNP_HCL).expect("parses").runtime_claims().expect("claims parse");
    let key = |kid: &str| {
        let jwk = parsed.key(kid).expect("the real report has the key");
        RsaPublic { modulus: jwk.n.clone().expect("n"), exponent: jwk.e.clone().expect("e") }
    };
    let same = RuntimeClaims {
        ak: key("HCLAkPub"),
        ek: key("HCLEkPub"),
        // Given lower case, written upper case as Azure writes it.
        vm_unique_id: parsed.vm_configuration.vm_unique_id.to_ascii_lowercase(),
        secure_boot: parsed.vm_configuration.secure_boot,
        user_data: [0; 64],
    };
    assert_eq!(String::from_utf8_lossy(&same.to_json()), String::from_utf8_lossy(&real));
}

#[test]
fn runtime_claims_parse_back_with_the_ak_and_user_data() {
    let claims = claims();
    let json = claims.to_json();
    let parsed = cvm_attest_formats::hcl::RuntimeClaims::parse(&json).expect("the JSON parses");
    let ak = parsed.ak_pub().expect("HCLAkPub");
    assert_eq!(ak.key_ops, ["sign"]);
    assert_eq!(ak.n.as_deref(), Some(claims.ak.modulus.as_slice()));
    assert_eq!(ak.e.as_deref(), Some(&[1u8, 0, 1][..]));
    assert_eq!(parsed.key("HCLEkPub").map(|k| k.key_ops.clone()), Some(vec!["encrypt".to_owned()]));
    assert_eq!(parsed.user_data, Some(claims.user_data));
    assert_eq!(parsed.vm_configuration.vm_unique_id, VM_ID.to_ascii_uppercase());
    assert!(parsed.vm_configuration.secure_boot && parsed.vm_configuration.tpm_enabled);
    let text = String::from_utf8(json).expect("UTF-8");
    let user_data = text.split("\"user-data\":\"").nth(1).expect("user-data").trim_end_matches("\"}");
    assert_eq!(user_data, hex::encode_upper(claims.user_data), "128 upper-case hex digits");
}

#[test]
fn hcl_report_reproduces_the_real_reports_given_their_parts() {
    // The real SNP report is header version 1, the real TDX report version 2: given the real hardware
    // report and runtime claims, the simulator lays out the very same 2,600 bytes.
    let real_snp = HclReport::parse(REAL_SNP_HCL).expect("parses");
    let HardwareReport::Snp(report) = real_snp.hardware_report() else { panic!("SNP") };
    let made = hcl::hcl_report(HardwareReportKind::Snp, &real_runtime_json(REAL_SNP_HCL), report.as_bytes());
    assert_eq!(made, REAL_SNP_HCL);

    let real_tdx = HclReport::parse(REAL_TDX_HCL).expect("parses");
    let HardwareReport::Tdx(report) = real_tdx.hardware_report() else { panic!("TDX") };
    let made = hcl::hcl_report(HardwareReportKind::Tdx, &real_runtime_json(REAL_TDX_HCL), report.as_bytes());
    assert_eq!(made, REAL_TDX_HCL);
}

#[test]
fn snp_hcl_report_parses_and_binds_the_runtime_claims() {
    let bytes = snp_hcl_report();
    assert_eq!(bytes.len(), hcl::HCL_REPORT_SIZE);
    let hcl = HclReport::parse(&bytes).expect("parses");
    assert_eq!(hcl.report_type(), ReportType::Snp);
    assert_eq!(hcl.runtime_claims_json(), claims().to_json());
    hcl.verify_binding().expect("report_data is SHA-256 of the runtime claims, then zeros");
    let HardwareReport::Snp(report) = hcl.hardware_report() else { panic!("SNP") };
    assert_eq!(report.version(), 3);
    assert_eq!(report.vmpl(), 0);
    assert_eq!(report.policy().0, 0x3001F);
    assert!(!report.policy().debug_allowed() && report.policy().smt_allowed());
    assert_eq!(report.chip_id(), pki::CHIP_ID);
    assert_eq!(report.measurement(), MEASUREMENT);
    assert_eq!(report.sig_algo(), 1);
    let tcb = pki::TCB_VERSION.to_le_bytes();
    for (name, offset) in [("current", 0x38), ("reported", 0x180), ("committed", 0x1E0), ("launch", 0x1F0)] {
        assert_eq!(report.as_bytes()[offset..offset + 8], tcb, "{name}_tcb");
    }
    assert_eq!(report.as_bytes()[0x188..0x18A], [0x19, 0x01], "Milan CPUID");
    assert_eq!(report.processor_generation().map(|g| g.to_string()), Some("Milan".to_owned()));
}

#[test]
fn snp_report_passes_appraisal_under_the_test_amd_roots() {
    let steps = snp_steps(&snp_hcl_report(), &test_amd_anchors());
    let expected = [
        ("snp-vcek-chain", Status::Passed),
        ("snp-revocation", Status::NotEvaluated),
        ("snp-chip-id", Status::Passed),
        ("snp-tcb", Status::Passed),
        ("snp-report-signature", Status::Passed),
        ("snp-policy", Status::Passed),
    ];
    let found: Vec<_> = steps.as_slice().iter().map(|s| (s.name, s.status)).collect();
    assert_eq!(found, expected, "{:#?}", summary(&steps));
}

#[test]
fn snp_report_fails_the_chain_under_the_builtin_roots() {
    let steps = snp_steps(&snp_hcl_report(), &TrustAnchors::builtin());
    assert_eq!(failed_step(&steps), "snp-vcek-chain", "{:#?}", summary(&steps));
}

#[test]
fn snp_report_with_one_byte_changed_fails_the_signature() {
    let mut bytes = snp_hcl_report();
    // One byte of MEASUREMENT (SNP offset 0x90, HCL offset 0x20 + 0x90): signed, not otherwise checked.
    bytes[0x20 + 0x90] ^= 1;
    let steps = snp_steps(&bytes, &test_amd_anchors());
    assert_eq!(failed_step(&steps), "snp-report-signature", "{:#?}", summary(&steps));
    // The binding does not notice: it is the signature that protects the report.
    HclReport::parse(&bytes).expect("parses").verify_binding().expect("binding unchanged");
}

#[test]
fn changed_runtime_claims_break_the_binding() {
    let mut bytes = snp_hcl_report();
    let at = bytes.windows(4).position(|w| w == b"true").expect("a true in the claims");
    bytes[at..at + 4].copy_from_slice(b"TRUE");
    let hcl = HclReport::parse(&bytes).expect("parses");
    assert!(hcl.verify_binding().is_err());
}

#[test]
fn snp_reports_are_reproducible() {
    let data = [7; 64];
    assert_eq!(snp::snp_report(data, MEASUREMENT), snp::snp_report(data, MEASUREMENT));
    let report = SnpReport::parse(&snp::snp_report(data, MEASUREMENT)).expect("a bare report parses");
    assert_eq!(report.report_data(), data);
}

/// The simulated TDX parts for [`claims`]: HCL report, TD report, TD quote.
fn tdx_parts(rtmrs: [[u8; 48]; 4]) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let json = claims().to_json();
    let td_report = tdx::td_report(hcl::report_data(&json), MRTD, rtmrs);
    let hcl_bytes = hcl::hcl_report(HardwareReportKind::Tdx, &json, &td_report);
    let quote = tdx::td_quote(&td_report);
    (hcl_bytes, td_report, quote)
}

fn tdx_steps(quote: &[u8], td_report: &[u8], anchors: &TrustAnchors) -> Steps {
    let quote = TdQuote::parse(quote).expect("the simulated TD quote parses");
    let report = TdReport::parse(td_report).expect("the simulated TD report parses");
    let mut steps = Steps::default();
    cvm_attest_formats::appraise::tdx::appraise(
        &quote,
        Some(&report),
        anchors,
        &Collateral::default(),
        &at(),
        &mut steps,
    );
    steps
}

#[test]
fn td_report_has_the_real_reports_layout() {
    // Given the real report's REPORTDATA and MRTD (its RTMRs are zero), the simulated TD report is the
    // real one byte for byte, but for the CPU's MAC (0xE0..0x100), which cannot be made off the CPU.
    let real = HclReport::parse(REAL_TDX_HCL).expect("parses");
    let HardwareReport::Tdx(raw) = real.hardware_report() else { panic!("TDX") };
    let parsed = TdReport::parse(raw.as_bytes()).expect("parses");
    let made = tdx::td_report(raw.report_data(), parsed.td_info.mrtd, [[0; 48]; 4]);
    assert_eq!(made.len(), tdx::TD_REPORT_SIZE);
    assert_eq!(made[..0xE0], raw.as_bytes()[..0xE0]);
    assert_eq!(made[0x100..], raw.as_bytes()[0x100..]);
}

#[test]
fn td_quote_header_and_body_are_the_real_quotes_for_the_real_report() {
    let real = HclReport::parse(REAL_TDX_HCL).expect("parses");
    let HardwareReport::Tdx(raw) = real.hardware_report() else { panic!("TDX") };
    let made = TdQuote::parse(&tdx::td_quote(raw.as_bytes())).expect("the simulated quote parses");
    let real_quote = TdQuote::parse(REAL_TD_QUOTE).expect("the real quote parses");
    assert_eq!(made.signed_bytes(), real_quote.signed_bytes(), "header and body");
    assert_eq!(made.body().tee_tcb_svn[..3], [0x02, 0x01, 0x06]);
    // The QE's identity is the real TD_QE's, so Intel's TD_QE identity collateral matches it.
    let (ours, theirs) = (made.qe_report(), real_quote.qe_report());
    assert_eq!(ours.mr_signer, theirs.mr_signer);
    assert_eq!(ours.mr_enclave, theirs.mr_enclave);
    assert_eq!(ours.isv_prod_id, theirs.isv_prod_id);
    assert_eq!(ours.isv_svn, theirs.isv_svn);
    assert_eq!(ours.attributes, theirs.attributes);
    assert_eq!(ours.misc_select, theirs.misc_select);
    assert_eq!(made.qe_auth_data(), real_quote.qe_auth_data());
}

#[test]
fn tdx_hcl_report_parses_and_binds_the_runtime_claims() {
    let rtmrs = [[1; 48], [2; 48], [3; 48], [4; 48]];
    let (hcl_bytes, td_report, quote) = tdx_parts(rtmrs);
    assert_eq!(hcl_bytes.len(), hcl::HCL_REPORT_SIZE);
    let hcl = HclReport::parse(&hcl_bytes).expect("parses");
    assert_eq!(hcl.report_type(), ReportType::Tdx);
    hcl.verify_binding().expect("REPORTDATA is SHA-256 of the runtime claims, then zeros");
    let HardwareReport::Tdx(raw) = hcl.hardware_report() else { panic!("TDX") };
    assert_eq!(raw.as_bytes(), td_report);
    let report = TdReport::parse(&td_report).expect("parses");
    assert_eq!(report.td_info.mrtd, MRTD);
    assert_eq!(report.td_info.rtmr, rtmrs);
    let quote = TdQuote::parse(&quote).expect("parses");
    assert_eq!(quote.header().version, 4);
    assert_eq!(quote.header().attestation_key_type, 2);
    assert_eq!(quote.header().tee_type, 0x81);
    assert_eq!(quote.body().report_data, raw.report_data());
    assert_eq!(quote.pck_cert_chain_blocks().len(), 3);
    let pck = PckExtensions::from_quote(&quote).expect("the PCK's SGX extensions");
    assert_eq!(hex::encode(pck.fmspc), "00806f050000");
    assert_eq!(pck.fmspc, pki::FMSPC);
}

#[test]
fn td_quote_passes_appraisal_under_the_test_intel_root() {
    let (_, td_report, quote) = tdx_parts([[0; 48]; 4]);
    let steps = tdx_steps(&quote, &td_report, &test_intel_anchors());
    let expected = [
        ("tdx-pck-chain", Status::Passed),
        ("tdx-revocation", Status::NotEvaluated),
        ("tdx-qe-report-signature", Status::Passed),
        ("tdx-qe-binding", Status::Passed),
        ("tdx-quote-signature", Status::Passed),
        ("tdx-td-report-match", Status::Passed),
        ("tdx-td-attributes", Status::Passed),
        ("tdx-tcb-status", Status::NotEvaluated),
    ];
    let found: Vec<_> = steps.as_slice().iter().map(|s| (s.name, s.status)).collect();
    assert_eq!(found, expected, "{:#?}", summary(&steps));
}

#[test]
fn td_quote_fails_the_pck_chain_under_the_builtin_root() {
    let (_, td_report, quote) = tdx_parts([[0; 48]; 4]);
    let steps = tdx_steps(&quote, &td_report, &TrustAnchors::builtin());
    assert_eq!(failed_step(&steps), "tdx-pck-chain", "{:#?}", summary(&steps));
}

#[test]
fn td_quote_with_one_body_byte_changed_fails_the_quote_signature() {
    let (_, td_report, mut quote) = tdx_parts([[0; 48]; 4]);
    quote[184] ^= 1; // MRTD's first byte (body offset 136)
    let steps = tdx_steps(&quote, &td_report, &test_intel_anchors());
    assert_eq!(failed_step(&steps), "tdx-quote-signature", "{:#?}", summary(&steps));
}

#[test]
fn td_quote_of_another_td_report_fails_the_match() {
    let (_, td_report, _) = tdx_parts([[0; 48]; 4]);
    let (_, _, other_quote) = tdx_parts([[9; 48], [0; 48], [0; 48], [0; 48]]);
    let steps = tdx_steps(&other_quote, &td_report, &test_intel_anchors());
    assert_eq!(failed_step(&steps), "tdx-td-report-match", "{:#?}", summary(&steps));
}

#[test]
fn td_quotes_are_reproducible() {
    let (_, td_report, quote) = tdx_parts([[0; 48]; 4]);
    assert_eq!(tdx::td_quote(&td_report), quote);
}

#[test]
fn td_quote_of_a_truncated_report_is_still_a_quote() {
    // Missing bytes read as zero: the quote parses (IMDS is to refuse such a report before).
    let quote = TdQuote::parse(&tdx::td_quote(&[0x81])).expect("parses");
    assert_eq!(quote.body().mrtd, [0; 48]);
}

#[test]
fn runtime_claims_too_long_for_2600_bytes_make_a_longer_report() {
    let json = format!("{{\"pad\":\"{}\"}}", "x".repeat(2000)).into_bytes();
    let report = snp::snp_report(hcl::report_data(&json), MEASUREMENT);
    let bytes = hcl::hcl_report(HardwareReportKind::Snp, &json, &report);
    assert_eq!(bytes.len(), 0x4D4 + json.len());
    let hcl = HclReport::parse(&bytes).expect("parses");
    assert_eq!(hcl.runtime_claims_json(), json);
    hcl.verify_binding().expect("bound");
}
