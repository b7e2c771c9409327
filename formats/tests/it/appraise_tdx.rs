//! Offline TDX appraisal against real Azure TD quotes: trustee's quote with the HCL report of the same
//! TD, cvm-attestation-tools' quote (with a TDX HCL report of another TD), trustee's two evidence
//! encodings, and tampered copies of each piece the steps check. No v5 quote is public: a v4 quote
//! re-encoded as v5 shows that the v5 signed bytes include the body descriptor. `tdx-tcb-status` is
//! judged with Intel's real collateral of the quotes' platforms, at dates when it was current.

use base64::Engine;
use cvm_attest_formats::appraise::anchors::TrustAnchors;
use cvm_attest_formats::appraise::tdx::{appraise, td_attributes};
use cvm_attest_formats::appraise::{self, AppraisalError, Collateral, Policy, Status, Steps, TdxError};
use cvm_attest_formats::bundle::{EvidenceBundle, Timestamp};
use cvm_attest_formats::hcl::{HardwareReport, HclReport};
use cvm_attest_formats::tdx::{TdQuote, TdReport};
use cvm_attest_formats::time::DateTime;

const TRUSTEE_QUOTE: &[u8] = include_bytes!("../../testdata/azure-tdx/trustee-td-quote.bin");
const TRUSTEE_HCL: &[u8] = include_bytes!("../../testdata/azure-tdx/trustee-hcl-report-tdx.bin");
const CVMTOOLS_QUOTE: &[u8] = include_bytes!("../../testdata/azure-tdx/cvmtools-td_quote_v4.dat");
/// A TDX HCL report (despite its name) of another TD than `CVMTOOLS_QUOTE`.
const CVMTOOLS_HCL: &[u8] = include_bytes!("../../testdata/azure-tdx/cvmtools-snp_hcl_report.bin");
const COCO_TDX_V0: &[u8] = include_bytes!("../../testdata/azure-tdx/trustee-evidence-tdx-v0.json");
const COCO_TDX_V1: &[u8] = include_bytes!("../../testdata/azure-tdx/trustee-evidence-tdx-v1.json");
/// Holds an SGX quote whose PCK chain ends in the 2018 issuance of the Intel SGX Root CA.
const MAA_SGX_EXAMPLE: &[u8] = include_bytes!("../../testdata/maa-rest-spec/AttestTdxVm.json");
const MILAN_ARK: &str = include_str!("../../anchors/milan-ark.pem");

const ALL_STEPS: [&str; 8] = [
    "tdx-pck-chain",
    "tdx-revocation",
    "tdx-qe-report-signature",
    "tdx-qe-binding",
    "tdx-quote-signature",
    "tdx-td-report-match",
    "tdx-td-attributes",
    "tdx-tcb-status",
];

/// The TD attributes in a v4 quote: the 48-byte header, then TEE_TCB_SVN, MRSEAM, MRSIGNERSEAM and
/// SEAMATTRIBUTES (16 + 48 + 48 + 8 bytes) of the body.
const TD_ATTRIBUTES: usize = 168;

/// v4 offsets: signature data length, QE certification data size, QE report, its signature, QE auth
/// data (32 bytes in both quotes), PCK chain type and size.
const SIG_DATA_LEN: usize = 632;
const SIGNATURE: usize = 636;
const CERT_DATA_SIZE: usize = 766;
const QE_REPORT: usize = 770;
const QE_REPORT_SIGNATURE: usize = 1154;
const QE_AUTH_DATA: usize = 1220;
const PCK_CHAIN_SIZE: usize = 1254;
const PCK_CHAIN: usize = 1258;

fn td_report(hcl: &[u8]) -> TdReport {
    match HclReport::parse(hcl).expect("a valid HCL report").hardware_report() {
        HardwareReport::Tdx(raw) => TdReport::parse(raw.as_bytes()).expect("a valid TD report"),
        other => panic!("not a TDX HCL report: {other:?}"),
    }
}

fn run(quote: &[u8], report: Option<&TdReport>, anchors: &TrustAnchors) -> (Option<()>, Steps) {
    let quote = TdQuote::parse(quote).expect("a valid TD quote");
    let mut steps = Steps::default();
    let when = DateTime::parse("2026-12-01T00:00:00Z").expect("an RFC 3339 time");
    let outcome = appraise(&quote, report, anchors, &Collateral::default(), &when, &mut steps).map(drop);
    (outcome, steps)
}

fn names(steps: &Steps) -> Vec<&'static str> {
    steps.as_slice().iter().map(|step| step.name).collect()
}

fn statuses(steps: &Steps) -> Vec<Status> {
    steps.as_slice().iter().map(|step| step.status).collect()
}

/// Every step up to `failed` ran, the earlier ones passed, `failed` failed and nothing ran after it.
fn assert_fails_at<T>(outcome: Option<T>, steps: &Steps, failed: &str) {
    assert!(outcome.is_none(), "{steps:#?}");
    let at = ALL_STEPS.iter().position(|name| *name == failed).expect("a TDX step name");
    assert_eq!(names(steps), ALL_STEPS[..=at], "{steps:#?}");
    let mut expected = held(at);
    expected.push(Status::Failed);
    assert_eq!(statuses(steps), expected, "{steps:#?}");
}

/// The statuses of the first `n` steps of an appraisal that did not fail there: passed, except
/// `tdx-revocation`, not evaluated without Intel's CRLs.
fn held(n: usize) -> Vec<Status> {
    let status = |name: &&str| if *name == "tdx-revocation" { Status::NotEvaluated } else { Status::Passed };
    ALL_STEPS[..n].iter().map(status).collect()
}

fn flipped(quote: &[u8], offset: usize) -> Vec<u8> {
    let mut tampered = quote.to_vec();
    tampered[offset] ^= 0x01;
    tampered
}

/// The PEM certificates in `text`, in order.
fn pem_blocks(text: &str) -> Vec<String> {
    const END: &str = "-----END CERTIFICATE-----";
    text.split_inclusive(END)
        .filter_map(|part| part.find("-----BEGIN CERTIFICATE-----").map(|start| part[start..].to_owned()))
        .filter(|block| block.ends_with(END))
        .collect()
}

fn pck_chain_pem(quote: &[u8]) -> Vec<String> {
    pem_blocks(TdQuote::parse(quote).expect("a valid TD quote").pck_cert_chain_pem())
}

/// The v4 quote with another PCK chain; the sizes around it follow.
fn with_pck_chain(quote: &[u8], blocks: &[String]) -> Vec<u8> {
    let mut chain = blocks.concat().into_bytes();
    chain.push(0);
    let old_len = u32::from_le_bytes(quote[PCK_CHAIN_SIZE..PCK_CHAIN].try_into().expect("4 bytes"));
    let new_len = u32::try_from(chain.len()).expect("a small chain");
    let grow = |at: usize, out: &mut Vec<u8>| {
        let old = u32::from_le_bytes(out[at..at + 4].try_into().expect("4 bytes"));
        let new = old + new_len - old_len;
        out[at..at + 4].copy_from_slice(&new.to_le_bytes());
    };
    let mut out = quote[..PCK_CHAIN].to_vec();
    out[PCK_CHAIN_SIZE..PCK_CHAIN].copy_from_slice(&new_len.to_le_bytes());
    grow(SIG_DATA_LEN, &mut out);
    grow(CERT_DATA_SIZE, &mut out);
    out.extend(chain);
    out
}

/// Operator anchors with these Intel roots alone.
fn anchors_with_roots(roots: Vec<String>) -> TrustAnchors {
    let named: Vec<(&str, &[u8])> = roots.iter().map(|root| ("intel-sgx-root", root.as_bytes())).collect();
    TrustAnchors::from_operator(&named).expect("each root is a certificate")
}

#[test]
fn trustee_quote_with_its_td_report_passes_every_step() {
    let report = td_report(TRUSTEE_HCL);
    let (outcome, steps) = run(TRUSTEE_QUOTE, Some(&report), &TrustAnchors::builtin());
    assert_eq!(outcome, Some(()), "{steps:#?}");
    assert_eq!(names(&steps), ALL_STEPS);
    let mut expected = held(7);
    expected.push(Status::NotEvaluated);
    assert_eq!(statuses(&steps), expected, "{steps:#?}");
    let chain = &steps.as_slice()[0].detail;
    for cn in ["CN=Intel SGX PCK Certificate", "CN=Intel SGX PCK Platform CA", "CN=Intel SGX Root CA"] {
        assert!(chain.contains(cn), "{chain}");
    }
    assert_eq!(
        steps.as_slice()[6].detail,
        "TD attributes 0x0: not under debug (DEBUG and the rest of bits 7:0 clear); other bits set: none"
    );
    assert!(steps.as_slice()[7].detail.contains("`tdx-tcb-info`"), "{steps:#?}");
}

#[test]
fn cvmtools_quote_passes_the_signature_steps_but_not_another_tds_report() {
    let (outcome, steps) = run(CVMTOOLS_QUOTE, None, &TrustAnchors::builtin());
    assert_eq!(outcome, Some(()), "{steps:#?}");
    assert_eq!(
        statuses(&steps),
        [
            Status::Passed,
            Status::NotEvaluated,
            Status::Passed,
            Status::Passed,
            Status::Passed,
            Status::NotEvaluated,
            Status::Passed,
            Status::NotEvaluated
        ],
        "{steps:#?}"
    );

    let other_td = td_report(CVMTOOLS_HCL);
    let (outcome, steps) = run(CVMTOOLS_QUOTE, Some(&other_td), &TrustAnchors::builtin());
    assert_fails_at(outcome, &steps, "tdx-td-report-match");
    assert!(steps.as_slice()[5].detail.starts_with("quote report_data"), "{steps:#?}");
}

#[test]
fn a_td_report_that_differs_only_in_an_rtmr_does_not_match() {
    let mut report = td_report(TRUSTEE_HCL);
    report.td_info.rtmr[2][0] ^= 1;
    let (outcome, steps) = run(TRUSTEE_QUOTE, Some(&report), &TrustAnchors::builtin());
    assert_fails_at(outcome, &steps, "tdx-td-report-match");
    assert!(steps.as_slice()[5].detail.starts_with("quote RTMR2"), "{steps:#?}");
    let Some(AppraisalError::Tdx(TdxError::TdReportMismatch { field, quote, report: in_report })) =
        &steps.as_slice()[5].error
    else {
        panic!("not a TD report mismatch: {steps:#?}");
    };
    assert_eq!(*field, "RTMR2");
    assert_eq!(quote[0] ^ in_report[0], 1);
    assert_eq!(quote[1..], in_report[1..]);
}

#[test]
fn trustee_evidence_files_pass_in_both_encodings() {
    let at = Timestamp::parse("2026-11-27T21:31:00Z").unwrap();
    for json in [COCO_TDX_V0, COCO_TDX_V1] {
        let bundle = EvidenceBundle::from_coco_json(json, at.clone()).unwrap();
        let report = td_report(&bundle.hcl_report);
        let (outcome, steps) =
            run(bundle.td_quote.as_deref().unwrap(), Some(&report), &TrustAnchors::builtin());
        assert_eq!(outcome, Some(()), "{steps:#?}");
        assert_eq!(statuses(&steps)[..7], held(7), "{steps:#?}");
    }
}

#[test]
fn a_flipped_body_byte_fails_the_quote_signature() {
    let report = td_report(TRUSTEE_HCL);
    // MRTD[0]: the body offset 184.
    let (outcome, steps) = run(&flipped(TRUSTEE_QUOTE, 184), Some(&report), &TrustAnchors::builtin());
    assert_fails_at(outcome, &steps, "tdx-quote-signature");
}

#[test]
fn a_flipped_signature_byte_fails_the_quote_signature() {
    let (outcome, steps) = run(&flipped(TRUSTEE_QUOTE, SIGNATURE + 40), None, &TrustAnchors::builtin());
    assert_fails_at(outcome, &steps, "tdx-quote-signature");
}

#[test]
fn a_flipped_qe_report_byte_fails_the_qe_report_signature() {
    let (outcome, steps) = run(&flipped(CVMTOOLS_QUOTE, QE_REPORT + 64), None, &TrustAnchors::builtin());
    assert_fails_at(outcome, &steps, "tdx-qe-report-signature");
    let (outcome, steps) =
        run(&flipped(CVMTOOLS_QUOTE, QE_REPORT_SIGNATURE + 1), None, &TrustAnchors::builtin());
    assert_fails_at(outcome, &steps, "tdx-qe-report-signature");
}

#[test]
fn a_flipped_auth_data_byte_fails_the_qe_binding() {
    let (outcome, steps) = run(&flipped(TRUSTEE_QUOTE, QE_AUTH_DATA), None, &TrustAnchors::builtin());
    assert_fails_at(outcome, &steps, "tdx-qe-binding");
    assert!(steps.as_slice()[3].detail.contains("SHA-256(attestation key ‖ QE auth data)"), "{steps:#?}");
    assert!(
        matches!(&steps.as_slice()[3].error, Some(AppraisalError::Tdx(TdxError::QeBindingMismatch { found, expected })) if found != expected),
        "{steps:#?}"
    );
}

#[test]
fn another_root_fails_the_pck_chain() {
    let platform_ca = pck_chain_pem(TRUSTEE_QUOTE)[1].clone();
    for roots in [vec![MILAN_ARK.to_owned()], vec![platform_ca]] {
        let (outcome, steps) = run(TRUSTEE_QUOTE, None, &anchors_with_roots(roots));
        assert_fails_at(outcome, &steps, "tdx-pck-chain");
        assert!(steps.as_slice()[0].detail.contains("pinned Intel roots"), "{steps:#?}");
    }
}

#[test]
fn no_intel_root_fails_the_pck_chain() {
    let (outcome, steps) = run(TRUSTEE_QUOTE, None, &anchors_with_roots(vec![]));
    assert_fails_at(outcome, &steps, "tdx-pck-chain");
    assert!(steps.as_slice()[0].detail.contains("no Intel root is trusted"), "{steps:#?}");
    assert_eq!(steps.as_slice()[0].error, Some(AppraisalError::Tdx(TdxError::NoIntelRoots)));
}

/// The root in MAA's SGX example is Intel's 2018 issuance; the TD quotes carry the 2049 one.
fn sgx_root_2018() -> String {
    let example: serde_json::Value = serde_json::from_slice(MAA_SGX_EXAMPLE).expect("JSON");
    let quote = example["parameters"]["request"]["quote"].as_str().expect("a quote string");
    let quote = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(quote).expect("base64url");
    let text = String::from_utf8_lossy(&quote);
    pem_blocks(&text).pop().expect("a PCK chain with its root")
}

#[test]
fn a_pinned_root_with_the_same_key_but_another_issuance_is_accepted() {
    let old_root = sgx_root_2018();
    let chain = pck_chain_pem(TRUSTEE_QUOTE);
    assert_ne!(old_root, chain[2], "the two issuances differ");
    let (outcome, steps) = run(TRUSTEE_QUOTE, None, &anchors_with_roots(vec![old_root]));
    assert_eq!(outcome, Some(()), "{steps:#?}");
    assert_eq!(statuses(&steps)[..5], held(5), "{steps:#?}");
}

#[test]
fn a_chain_without_its_root_chains_to_the_pinned_one() {
    let chain = pck_chain_pem(TRUSTEE_QUOTE);
    let (outcome, steps) = run(&with_pck_chain(TRUSTEE_QUOTE, &chain[..2]), None, &TrustAnchors::builtin());
    assert_eq!(outcome, Some(()), "{steps:#?}");
    assert_eq!(statuses(&steps)[..5], held(5), "{steps:#?}");
}

#[test]
fn a_reordered_or_overlong_chain_fails_the_pck_chain() {
    let chain = pck_chain_pem(TRUSTEE_QUOTE);
    let swapped = [chain[1].clone(), chain[0].clone(), chain[2].clone()];
    let overlong = [chain.clone(), vec![chain[2].clone()]].concat();
    for blocks in [&swapped[..], &overlong[..], &chain[..1]] {
        let (outcome, steps) = run(&with_pck_chain(TRUSTEE_QUOTE, blocks), None, &TrustAnchors::builtin());
        assert_fails_at(outcome, &steps, "tdx-pck-chain");
    }
}

#[test]
fn another_quotes_pck_chain_fails_the_qe_report_signature() {
    let other_chain = pck_chain_pem(CVMTOOLS_QUOTE);
    let quote = with_pck_chain(TRUSTEE_QUOTE, &other_chain);
    let (outcome, steps) = run(&quote, None, &TrustAnchors::builtin());
    assert_fails_at(outcome, &steps, "tdx-qe-report-signature");
}

/// A v5 quote signs its body descriptor too: the v4 signature no longer holds once re-encoded, while
/// the steps that do not cover the header and body still pass.
#[test]
fn v5_signed_bytes_include_the_body_descriptor() {
    let mut v5 = TRUSTEE_QUOTE[..48].to_vec();
    v5[0..2].copy_from_slice(&5u16.to_le_bytes());
    v5.extend(2u16.to_le_bytes());
    v5.extend(584u32.to_le_bytes());
    v5.extend(&TRUSTEE_QUOTE[48..]);
    let quote = TdQuote::parse(&v5).unwrap();
    assert_eq!(quote.signed_bytes().len(), 48 + 6 + 584);
    let report = td_report(TRUSTEE_HCL);
    let (outcome, steps) = run(&v5, Some(&report), &TrustAnchors::builtin());
    assert_fails_at(outcome, &steps, "tdx-quote-signature");
    assert!(steps.as_slice()[4].detail.contains("638-byte"), "{steps:#?}");
}

#[test]
fn tcb_info_without_its_signing_chain_or_qe_identity_fails() {
    let (outcome, steps) =
        run_tcb(TRUSTEE_QUOTE, tcb_collateral(Some(b"{}"), None, None), "2026-12-01T00:00:00Z");
    let why = assert_tcb_fails(outcome, &steps);
    assert_eq!(
        why,
        "`tdx-tcb-info` was supplied without `intel-tcb-signing-chain` and `tdx-qe-identity`, and TCB status is \
         judged with all three of `tdx-tcb-info`, `intel-tcb-signing-chain` and `tdx-qe-identity` or not at all; \
         supply `--collateral intel-tcb-signing-chain=FILE` and `--collateral tdx-qe-identity=FILE`"
    );
    let collateral = tcb_collateral(Some(TCB_INFO_00806F), None, Some(QE_IDENTITY_2025_10));
    let (outcome, steps) = run_tcb(TRUSTEE_QUOTE, collateral, OCTOBER_2025);
    assert_eq!(
        steps.as_slice().last().unwrap().error,
        Some(AppraisalError::Tdx(TdxError::IncompleteTcbCollateral {
            missing: vec!["intel-tcb-signing-chain"]
        }))
    );
    assert!(
        assert_tcb_fails(outcome, &steps).ends_with("supply `--collateral intel-tcb-signing-chain=FILE`")
    );
}

/// The genuine quote with TD attribute bit `bit` set. Its signature no longer verifies, so this
/// tests the `tdx-td-attributes` check itself, on the parsed quote.
fn with_attribute_bit(bit: u32) -> TdQuote {
    let mut bytes = TRUSTEE_QUOTE.to_vec();
    let at = TD_ATTRIBUTES + usize::try_from(bit / 8).expect("small");
    bytes[at] |= 1 << (bit % 8);
    let quote = TdQuote::parse(&bytes).expect("a valid TD quote");
    assert_ne!(quote.body().td_attributes.0 & (1 << bit), 0, "bit {bit} is set");
    quote
}

#[test]
fn tdx_td_attributes_rejects_the_debug_bit() {
    let why = td_attributes(&with_attribute_bit(0)).unwrap_err();
    assert_eq!(why, TdxError::UnderDebug { attributes: 0x1 });
    assert_eq!(
        why.to_string(),
        "TD attributes 0x1: DEBUG (bit 0) set: the TD is in debug mode, so the host can read and change its \
         memory and registers; launch the TD without debug. Other bits set: none"
    );
}

#[test]
fn tdx_td_attributes_rejects_every_td_under_debug_bit_by_name() {
    let why = td_attributes(&with_attribute_bit(4)).unwrap_err().to_string();
    assert!(
        why.starts_with("TD attributes 0x10: HGS_PLUS_PROF (bit 4) set: bits 7:0 mark a TD under debug"),
        "{why}"
    );
    let why = td_attributes(&with_attribute_bit(7)).unwrap_err().to_string();
    assert!(why.contains("unnamed (bit 7) set"), "{why}");
}

#[test]
fn tdx_td_attributes_names_the_other_bits_set() {
    let detail = td_attributes(&with_attribute_bit(63)).unwrap();
    assert!(detail.ends_with("other bits set: PERFMON (bit 63)"), "{detail}");
    let mut bytes = TRUSTEE_QUOTE.to_vec();
    bytes[TD_ATTRIBUTES] |= 0x01;
    bytes[TD_ATTRIBUTES + 3] |= 0x30;
    let why = td_attributes(&TdQuote::parse(&bytes).unwrap()).unwrap_err().to_string();
    assert!(why.ends_with("Other bits set: SEPT_VE_DISABLE (bit 28), MIGRATABLE (bit 29)"), "{why}");
}

#[test]
fn a_debug_bit_set_in_the_quote_fails_its_signature_first() {
    let mut bytes = TRUSTEE_QUOTE.to_vec();
    bytes[TD_ATTRIBUTES] |= 1;
    let report = td_report(TRUSTEE_HCL);
    let (outcome, steps) = run(&bytes, Some(&report), &TrustAnchors::builtin());
    assert_fails_at(outcome, &steps, "tdx-quote-signature");
}

/// The whole appraisal of genuine TDX evidence runs `tdx-td-attributes`, passes it, and only then
/// asserts `x-ms-compliance-status`.
#[test]
fn genuine_tdx_evidence_passes_tdx_td_attributes_end_to_end() {
    let at = Timestamp::parse("2026-11-27T21:31:00Z").unwrap();
    let bundle = EvidenceBundle::from_coco_json(COCO_TDX_V1, at).unwrap();
    let anchors = TrustAnchors::builtin();
    let when = DateTime::parse("2026-12-01T00:00:00Z").unwrap();
    let policy = Policy {
        expected_nonce: Some(b"challenge"),
        anchors: &anchors,
        collateral: Collateral::default(),
        at: &when,
    };
    let appraisal = appraise::appraise(&bundle, &policy);
    let step = appraisal.steps.as_slice().iter().find(|step| step.name == "tdx-td-attributes");
    assert_eq!(step.map(|step| step.status), Some(Status::Passed), "{:#?}", appraisal.steps);
    let claims = appraisal.claims.expect("genuine evidence verifies");
    assert_eq!(claims["x-ms-isolation-tee"]["x-ms-compliance-status"], "azure-compliant-cvm");
    assert_eq!(claims["x-ms-isolation-tee"]["tdx_td_attributes_debug"], false);
}

const INTEL_ROOT_CRL: &[u8] = include_bytes!("../../testdata/crl/intel-sgx-root-ca-crl-2026-02-26.der");
const PLATFORM_CRL_2025: &[u8] = include_bytes!("../../testdata/crl/pck-platform-ca-crl-2025-10-13.der");
const PLATFORM_CRL_2026: &[u8] = include_bytes!("../../testdata/crl/pck-platform-ca-crl-2026-03-16.der");
const PROCESSOR_CRL: &[u8] = include_bytes!("../../testdata/crl/pck-processor-ca-crl-2025-06-19.der");

/// The trustee quote appraised with these Intel CRLs at `at`.
fn run_with_crls(root_crl: Option<&[u8]>, pck_crl: Option<&[u8]>, at: &str) -> (Option<()>, Steps) {
    let quote = TdQuote::parse(TRUSTEE_QUOTE).expect("a valid TD quote");
    let collateral = Collateral { intel_root_crl: root_crl, intel_pck_crl: pck_crl, ..Collateral::default() };
    let at = DateTime::parse(at).expect("an RFC 3339 time");
    let mut steps = Steps::default();
    let outcome = appraise(&quote, None, &TrustAnchors::builtin(), &collateral, &at, &mut steps).map(drop);
    (outcome, steps)
}

fn revocation_step(steps: &Steps) -> (Status, &str) {
    let step = &steps.as_slice()[1];
    assert_eq!(step.name, "tdx-revocation", "{steps:#?}");
    (step.status, &step.detail)
}

#[test]
fn without_crls_tdx_revocation_is_not_evaluated_and_names_the_collateral() {
    let (outcome, steps) = run(TRUSTEE_QUOTE, None, &TrustAnchors::builtin());
    assert_eq!(outcome, Some(()), "{steps:#?}");
    let (status, why) = revocation_step(&steps);
    assert_eq!(status, Status::NotEvaluated);
    for expected in [
        "`--collateral intel-root-crl=FILE`",
        "`--collateral intel-pck-crl=FILE`",
        "CN=Intel SGX PCK Platform CA",
    ] {
        assert!(why.contains(expected), "{expected} in {why}");
    }
}

#[test]
fn the_root_and_platform_crls_of_march_2026_revoke_nothing_in_the_trustee_chain() {
    let (outcome, steps) =
        run_with_crls(Some(INTEL_ROOT_CRL), Some(PLATFORM_CRL_2026), "2026-03-20T00:00:00Z");
    assert_eq!(outcome, Some(()), "{steps:#?}");
    let (status, detail) = revocation_step(&steps);
    assert_eq!(status, Status::Passed, "{detail}");
    assert!(
        detail.starts_with(
            "`intel-root-crl`: Intel SGX Root CA's CRL (0 entries, current from 2026-02-26T13:04:00Z to \
             2027-02-26T13:04:00Z) is signed by Intel SGX Root CA and does not list Intel SGX PCK Platform CA \
             (serial "
        ),
        "{detail}"
    );
    assert!(detail.contains("; `intel-pck-crl`: Intel SGX PCK Platform CA's CRL ("), "{detail}");
    assert!(detail.contains("does not list Intel SGX PCK Certificate (serial "), "{detail}");
}

#[test]
fn one_intel_crl_alone_is_checked_and_the_other_named_as_unchecked() {
    let (outcome, steps) = run_with_crls(None, Some(PLATFORM_CRL_2025), "2025-10-20T00:00:00Z");
    assert_eq!(outcome, Some(()), "{steps:#?}");
    let (status, detail) = revocation_step(&steps);
    assert_eq!(status, Status::Passed, "{detail}");
    assert!(
        detail.starts_with(
            "`intel-root-crl` was not supplied, so CN=Intel SGX PCK Platform CA was not checked against it; \
             `intel-pck-crl`: Intel SGX PCK Platform CA's CRL (44 entries, current from 2025-10-13T10:45:32Z to \
             2025-11-12T10:45:32Z)"
        ),
        "{detail}"
    );

    let (outcome, steps) = run_with_crls(Some(INTEL_ROOT_CRL), None, "2026-12-01T00:00:00Z");
    assert_eq!(outcome, Some(()), "{steps:#?}");
    let (status, detail) = revocation_step(&steps);
    assert_eq!(status, Status::Passed, "{detail}");
    assert!(
        detail.ends_with(
            "; `intel-pck-crl` was not supplied, so CN=Intel SGX PCK Certificate was not checked against it"
        ),
        "{detail}"
    );
}

#[test]
fn the_processor_cas_crl_is_refused_for_a_platform_issued_pck() {
    let (outcome, steps) = run_with_crls(None, Some(PROCESSOR_CRL), "2025-07-01T00:00:00Z");
    assert_fails_at(outcome, &steps, "tdx-revocation");
    assert_eq!(
        revocation_step(&steps).1,
        "the CRL `intel-pck-crl` is issued by Intel SGX PCK Processor CA, not by Intel SGX PCK Platform CA, which \
         issued Intel SGX PCK Certificate; supply the CRL of Intel SGX PCK Platform CA"
    );
}

#[test]
fn a_tampered_or_expired_intel_crl_fails_tdx_revocation() {
    let mut tampered = INTEL_ROOT_CRL.to_vec();
    let last = tampered.len() - 1;
    tampered[last] ^= 0x01;
    let (outcome, steps) = run_with_crls(Some(&tampered), None, "2026-12-01T00:00:00Z");
    assert_fails_at(outcome, &steps, "tdx-revocation");
    assert!(
        revocation_step(&steps).1.starts_with("the CRL `intel-root-crl` is not signed by Intel SGX Root CA"),
        "{steps:#?}"
    );

    let (outcome, steps) =
        run_with_crls(Some(INTEL_ROOT_CRL), Some(PLATFORM_CRL_2025), "2026-12-01T00:00:00Z");
    assert_fails_at(outcome, &steps, "tdx-revocation");
    let why = revocation_step(&steps).1;
    assert!(
        why.starts_with("the CRL `intel-pck-crl` expired at its nextUpdate 2025-11-12T10:45:32Z"),
        "{why}"
    );
    assert!(matches!(
        &steps.as_slice()[1].error,
        Some(AppraisalError::Tdx(TdxError::Revocation { crl: "intel-pck-crl", .. }))
    ));

    // The root's CRL of 2026 was not yet issued in October 2025.
    let (outcome, steps) =
        run_with_crls(Some(INTEL_ROOT_CRL), Some(PLATFORM_CRL_2025), "2025-10-20T00:00:00Z");
    assert_fails_at(outcome, &steps, "tdx-revocation");
    let why = revocation_step(&steps).1;
    assert!(
        why.starts_with("the CRL `intel-root-crl` was issued at 2026-02-26T13:04:00Z (thisUpdate)"),
        "{why}"
    );
}

#[test]
fn a_time_outside_the_pck_leafs_validity_fails_the_pck_chain() {
    for (at, quote, outside) in [
        ("2030-09-14T00:00:00Z", TRUSTEE_QUOTE, "expired on 2030-09-13"),
        ("2025-02-01T00:00:00Z", CVMTOOLS_QUOTE, "is not valid until 2025-02-22"),
    ] {
        let quote = TdQuote::parse(quote).expect("a valid TD quote");
        let when = DateTime::parse(at).unwrap();
        let mut steps = Steps::default();
        let outcome =
            appraise(&quote, None, &TrustAnchors::builtin(), &Collateral::default(), &when, &mut steps);
        assert_fails_at(outcome, &steps, "tdx-pck-chain");
        let why = &steps.as_slice()[0].detail;
        assert!(why.starts_with(&format!("Intel SGX PCK Certificate {outside}")), "{why}");
        assert!(why.contains(&format!("judged at {at}")), "{why}");
        assert!(why.ends_with("verify as of a time inside it with `--at RFC3339`"), "{why}");
    }
}

// tdx-tcb-status, with Intel's collateral.

const TCB_INFO_00806F: &[u8] =
    include_bytes!("../../testdata/intel/tdx-tcbinfo-00806f050000-2025-10-19.json");
const QE_IDENTITY_2025_10: &[u8] = include_bytes!("../../testdata/intel/tdx-qeidentity-2025-10-13.json");
const TCB_INFO_90C06F: &[u8] =
    include_bytes!("../../testdata/intel/tdx-tcbinfo-90c06f000000-2025-06-05.json");
const QE_IDENTITY_2025_06: &[u8] = include_bytes!("../../testdata/intel/tdx-qeidentity-2025-06-04.json");
const TCB_CHAIN_2025: &[u8] = include_bytes!("../../testdata/intel/tcb-signing-chain-2025.pem");
const TCB_CHAIN_2018: &[u8] = include_bytes!("../../testdata/intel/tcb-signing-chain-2018.pem");
/// When the trustee quote's TCB Info (2025-10-19 .. 11-18) and TD_QE identity (2025-10-13 .. 11-12)
/// were both current.
const OCTOBER_2025: &str = "2025-10-20T00:00:00Z";

fn tcb_collateral<'a>(
    tcb_info: Option<&'a [u8]>,
    chain: Option<&'a [u8]>,
    qe_identity: Option<&'a [u8]>,
) -> Collateral<'a> {
    Collateral {
        tdx_tcb_info: tcb_info,
        intel_tcb_signing_chain: chain,
        tdx_qe_identity: qe_identity,
        ..Collateral::default()
    }
}

/// The trustee quote's genuine collateral of October 2025.
fn trustee_collateral() -> Collateral<'static> {
    tcb_collateral(Some(TCB_INFO_00806F), Some(TCB_CHAIN_2025), Some(QE_IDENTITY_2025_10))
}

/// The TDX steps of `quote` (without its TD report) with `collateral`, judged at `at`.
fn run_tcb(
    quote: &[u8],
    collateral: Collateral<'_>,
    at: &str,
) -> (Option<Option<cvm_attest_formats::intel::TcbVerdict>>, Steps) {
    let quote = TdQuote::parse(quote).expect("a valid TD quote");
    let at = DateTime::parse(at).expect("an RFC 3339 time");
    let mut steps = Steps::default();
    let outcome = appraise(&quote, None, &TrustAnchors::builtin(), &collateral, &at, &mut steps);
    (outcome, steps)
}

/// The appraisal failed at `tdx-tcb-status`, the last step; its detail.
fn assert_tcb_fails<T: std::fmt::Debug>(outcome: Option<T>, steps: &Steps) -> String {
    assert!(outcome.is_none(), "{steps:#?}");
    let last = steps.as_slice().last().expect("steps");
    assert_eq!((last.name, last.status), ("tdx-tcb-status", Status::Failed), "{steps:#?}");
    assert!(steps.as_slice()[..steps.as_slice().len() - 1].iter().all(|step| step.status != Status::Failed));
    last.detail.clone()
}

#[test]
fn the_trustee_platform_is_out_of_date_in_october_2025_and_passes_with_a_warning() {
    let (outcome, steps) = run_tcb(TRUSTEE_QUOTE, trustee_collateral(), OCTOBER_2025);
    let verdict = outcome.expect("no step failed").expect("tdx-tcb-status was evaluated");
    assert_eq!(verdict.status.name(), "OutOfDate");
    let last = steps.as_slice().last().unwrap();
    assert_eq!((last.name, last.status), ("tdx-tcb-status", Status::Passed), "{steps:#?}");
    assert_eq!(last.detail, verdict.to_string());
    for expected in [
        "OutOfDate (warning: ",
        "platform TCB level of 2023-08-09T00:00:00Z (OutOfDate)",
        "advisories INTEL-SA-00960, INTEL-SA-00982, INTEL-SA-00986",
        "TD_QE ISVSVN 5: UpToDate",
        "FMSPC 00806f050000, tcbEvaluationDataNumber 17, issued 2025-10-19T17:48:50Z",
    ] {
        assert!(last.detail.contains(expected), "{expected} in {}", last.detail);
    }
    assert!(last.detail.starts_with("OutOfDate (warning: "));
}

#[test]
fn without_tcb_info_tdx_tcb_status_is_not_evaluated_and_names_the_collateral() {
    let (outcome, steps) = run_tcb(TRUSTEE_QUOTE, Collateral::default(), OCTOBER_2025);
    assert_eq!(outcome, Some(None), "{steps:#?}");
    let last = steps.as_slice().last().unwrap();
    assert_eq!((last.name, last.status), ("tdx-tcb-status", Status::NotEvaluated));
    for name in ["`tdx-tcb-info`", "`intel-tcb-signing-chain`", "`tdx-qe-identity`", "--collateral NAME=FILE"]
    {
        assert!(last.detail.contains(name), "{name} in {}", last.detail);
    }
    // The signing chain and QE identity alone are not evaluated either.
    let (outcome, _) = run_tcb(TRUSTEE_QUOTE, tcb_collateral(None, Some(TCB_CHAIN_2025), None), OCTOBER_2025);
    assert_eq!(outcome, Some(None));
}

#[test]
fn the_cvmtools_platform_below_every_level_fails_tdx_tcb_status() {
    let collateral = tcb_collateral(Some(TCB_INFO_90C06F), Some(TCB_CHAIN_2025), Some(QE_IDENTITY_2025_06));
    let (outcome, steps) = run_tcb(CVMTOOLS_QUOTE, collateral, "2025-06-10T00:00:00Z");
    let why = assert_tcb_fails(outcome, &steps);
    assert!(
        why.starts_with("no TCB level matches the platform (PCK SGX TCB components 3,3,2,2,4,1,0,3,"),
        "{why}"
    );
    assert!(
        why.contains("SGX TCB component 8 (SEAMLDR ACM) needs SVN 5, the PCK certificate has 3;"),
        "{why}"
    );
    assert!(matches!(
        steps.as_slice().last().unwrap().error,
        Some(AppraisalError::Tdx(TdxError::Tcb(cvm_attest_formats::intel::TcbError::NoTcbLevel { .. })))
    ));
}

#[test]
fn tampered_foreign_or_expired_tcb_collateral_fails_tdx_tcb_status() {
    // "tcbEvaluationDataNumber":17 → 18 inside the signed tcbInfo.
    let text = std::str::from_utf8(TCB_INFO_00806F).unwrap();
    let tampered = text.replacen("\"tcbEvaluationDataNumber\":17", "\"tcbEvaluationDataNumber\":18", 1);
    let collateral = Collateral { tdx_tcb_info: Some(tampered.as_bytes()), ..trustee_collateral() };
    let why = assert_tcb_fails(
        run_tcb(TRUSTEE_QUOTE, collateral, OCTOBER_2025).0,
        &run_tcb(TRUSTEE_QUOTE, collateral, OCTOBER_2025).1,
    );
    assert_eq!(
        why,
        "collateral `tdx-tcb-info`: TDX TCB Info: the signature does not verify with the key of CN=Intel SGX TCB Signing"
    );

    // The Emerald Rapids TCB Info for the Sapphire Rapids quote, at a time it was current.
    let collateral = tcb_collateral(Some(TCB_INFO_90C06F), Some(TCB_CHAIN_2025), Some(QE_IDENTITY_2025_06));
    let (outcome, steps) = run_tcb(TRUSTEE_QUOTE, collateral, "2025-06-10T00:00:00Z");
    let why = assert_tcb_fails(outcome, &steps);
    assert!(
        why.starts_with("the TCB Info is for FMSPC 90c06f000000, but the PCK certificate's is 00806f050000"),
        "{why}"
    );

    // A month later the TCB Info had expired.
    let (outcome, steps) = run_tcb(TRUSTEE_QUOTE, trustee_collateral(), "2025-11-20T00:00:00Z");
    let why = assert_tcb_fails(outcome, &steps);
    assert_eq!(
        why,
        "collateral `tdx-tcb-info`: TDX TCB Info expired: its nextUpdate 2025-11-18T17:48:50Z is before \
         2025-11-20T00:00:00Z; fetch current collateral from Intel's PCS, or verify as of a time inside it with \
         `--at RFC3339`"
    );
    // And on the 13th of November only the TD_QE identity had.
    let (outcome, steps) = run_tcb(TRUSTEE_QUOTE, trustee_collateral(), "2025-11-13T00:00:00Z");
    let why = assert_tcb_fails(outcome, &steps);
    assert!(
        why.starts_with(
            "collateral `tdx-qe-identity`: TD_QE identity expired: its nextUpdate 2025-11-12T10:46:47Z"
        ),
        "{why}"
    );
    // Collateral is not used before it was issued.
    let (outcome, steps) = run_tcb(TRUSTEE_QUOTE, trustee_collateral(), "2025-10-19T00:00:00Z");
    let why = assert_tcb_fails(outcome, &steps);
    assert!(
        why.starts_with("collateral `tdx-tcb-info`: TDX TCB Info was issued at 2025-10-19T17:48:50Z"),
        "{why}"
    );
}

#[test]
fn the_tcb_signing_chain_must_lead_to_the_intel_root_and_be_valid() {
    // The 2018 issuance of the TCB signing certificate has the same key, but expired on 2025-05-21.
    let collateral = Collateral { intel_tcb_signing_chain: Some(TCB_CHAIN_2018), ..trustee_collateral() };
    let (outcome, steps) = run_tcb(TRUSTEE_QUOTE, collateral, OCTOBER_2025);
    let why = assert_tcb_fails(outcome, &steps);
    assert!(
        why.starts_with("collateral `intel-tcb-signing-chain`: Intel SGX TCB Signing expired on 2025-05-21"),
        "{why}"
    );
    assert!(
        matches!(
            steps.as_slice().last().unwrap().error,
            Some(AppraisalError::Tdx(TdxError::TcbSigningChainNotValid(_)))
        ),
        "{steps:#?}"
    );

    // The quote's own PCK chain is not the TCB signing chain.
    let pck_chain = pck_chain_pem(TRUSTEE_QUOTE).concat();
    let collateral =
        Collateral { intel_tcb_signing_chain: Some(pck_chain.as_bytes()), ..trustee_collateral() };
    let (outcome, steps) = run_tcb(TRUSTEE_QUOTE, collateral, OCTOBER_2025);
    let why = assert_tcb_fails(outcome, &steps);
    assert!(
        why.starts_with(
            "collateral `intel-tcb-signing-chain`: the TCB signing chain holds 3 PEM certificates"
        ),
        "{why}"
    );
    let collateral = Collateral { intel_tcb_signing_chain: Some(b"not PEM"), ..trustee_collateral() };
    let (outcome, steps) = run_tcb(TRUSTEE_QUOTE, collateral, OCTOBER_2025);
    assert_tcb_fails(outcome, &steps);
}

/// The whole appraisal of the trustee evidence with its collateral adds Intel's verdict to the TDX
/// claims; without collateral there is no such claim.
#[test]
fn an_evaluated_tcb_status_becomes_attester_tcb_status_and_advisory_claims() {
    let bundle =
        EvidenceBundle::from_coco_json(COCO_TDX_V1, Timestamp::parse("2025-10-20T00:00:00Z").unwrap())
            .unwrap();
    let anchors = TrustAnchors::builtin();
    let when = DateTime::parse(OCTOBER_2025).unwrap();
    let policy = Policy {
        expected_nonce: Some(b"challenge"),
        anchors: &anchors,
        collateral: trustee_collateral(),
        at: &when,
    };
    let appraisal = appraise::appraise(&bundle, &policy);
    let claims = appraisal.claims.unwrap_or_else(|| panic!("{:#?}", appraisal.steps));
    let tee = &claims["x-ms-isolation-tee"];
    assert_eq!(tee["attester_tcb_status"], "OutOfDate");
    assert_eq!(
        tee["attester_advisory_ids"],
        serde_json::json!(["INTEL-SA-00960", "INTEL-SA-00982", "INTEL-SA-00986"])
    );

    let policy = Policy { collateral: Collateral::default(), ..policy };
    let claims = appraise::appraise(&bundle, &policy).claims.expect("verifies without collateral");
    let tee = claims["x-ms-isolation-tee"].as_object().unwrap();
    assert!(!tee.contains_key("attester_tcb_status") && !tee.contains_key("attester_advisory_ids"));
}
