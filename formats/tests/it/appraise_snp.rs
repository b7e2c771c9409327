//! SEV-SNP appraisal against real reports, VCEK chains and AMD's roots: what must pass, and what
//! must fail at which step (with nothing after it run).

use base64::Engine;
use cvm_attest_formats::appraise::{
    AppraisalError, Collateral, RevocationError, SnpError, Status, Steps, TrustAnchors, ValidityError, snp,
};
use cvm_attest_formats::bundle::{EvidenceBundle, Timestamp};
use cvm_attest_formats::hcl::{HardwareReport, HclReport};
use cvm_attest_formats::snp::SnpReport;
use cvm_attest_formats::thim::ThimCertification;
use cvm_attest_formats::time::DateTime;

/// HCL report with an SNP report version 2 (Milan, no CPUID), and its VCEK + ASK + ARK.
const TRUSTEE_HCL: &[u8] = include_bytes!("../../testdata/tpm/trustee-milan-hcl-report.bin");
const TRUSTEE_CHAIN: &str = include_str!("../../testdata/azure-snp/trustee-milan-vcek-chain.pem");
/// Another chip's report, and a valid Milan chain for a third chip.
const KINVOLK_HCL: &[u8] = include_bytes!("../../testdata/azure-snp/kinvolk-hcl-report-snp.bin");
const KINVOLK_CHAIN: &str = include_str!("../../testdata/azure-snp/kinvolk-vcek-chain.pem");
/// Trustee's evidence: SNP report version 3 (CPUID says Milan) with the VCEK alone.
const COCO_V0: &[u8] = include_bytes!("../../testdata/azure-snp/trustee-evidence-v0.json");
const COCO_V1: &[u8] = include_bytes!("../../testdata/azure-snp/trustee-evidence-v1.json");
const SIDECAR_REPORT: &[u8] = include_bytes!("../../testdata/thim/sidecar-snp_report.bin");
const SIDECAR_THIM: &[u8] = include_bytes!("../../testdata/thim/sidecar-uvm_host_amd_certificate.json");
const MAA_SEVSNPVM: &str = include_str!("../../testdata/maa-rest-spec/AttestSevSnpVm.json");
const MILAN_ASK: &str = include_str!("../../anchors/milan-ask.pem");
const MILAN_ARK: &str = include_str!("../../anchors/milan-ark.pem");
const GENOA_ARK: &str = include_str!("../../anchors/genoa-ark.pem");
const GENOA_ASK: &str = include_str!("../../anchors/genoa-ask.pem");
const TURIN_ARK: &str = include_str!("../../anchors/turin-ark.pem");
const TURIN_ASK: &str = include_str!("../../anchors/turin-ask.pem");
/// AMD's Milan CRL (issued by ARK-Milan, no entries), current 2026-06-22 to 2026-08-08.
const MILAN_CRL: &[u8] = include_bytes!("../../testdata/crl/milan-vcek-crl-2026-06-22.der");

const STEPS: [&str; 6] =
    ["snp-vcek-chain", "snp-revocation", "snp-chip-id", "snp-tcb", "snp-report-signature", "snp-policy"];

/// The time most tests judge at: inside every VCEK's validity, after the Milan CRL's nextUpdate.
const DECEMBER_2026: &str = "2026-12-01T00:00:00Z";
/// Inside the Milan CRL's validity.
const JULY_2026: &str = "2026-07-01T00:00:00Z";

/// Offsets inside the SNP report.
const MEASUREMENT: usize = 0x90;
const SIGNATURE_R: usize = 0x2A0;
const SIGNATURE_S: usize = 0x2A0 + 72;
const SIGNATURE_RESERVED: usize = 0x2A0 + 144;
const POLICY_BIT_19: usize = 0x0A;

const BASE64URL: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

fn report_in_hcl(hcl: &[u8]) -> SnpReport {
    match HclReport::parse(hcl).expect("fixture parses").hardware_report() {
        HardwareReport::Snp(report) => (**report).clone(),
        other => panic!("{other:?}"),
    }
}

fn trustee_report() -> SnpReport {
    report_in_hcl(TRUSTEE_HCL)
}

/// The trustee report's bytes with `edit` applied, parsed again.
fn edited_trustee_report(edit: impl FnOnce(&mut [u8])) -> SnpReport {
    let mut bytes = trustee_report().as_bytes().to_vec();
    edit(&mut bytes);
    SnpReport::parse(&bytes).expect("edited report still parses")
}

fn coco(json: &[u8]) -> (SnpReport, String) {
    let at = Timestamp::parse("2026-11-27T21:31:00Z").expect("valid timestamp");
    let bundle = EvidenceBundle::from_coco_json(json, at).expect("fixture is CoCo evidence");
    (report_in_hcl(&bundle.hcl_report), bundle.vcek_chain.expect("SNP evidence has a VCEK"))
}

fn appraise(report: &SnpReport, chain: Option<&str>, anchors: &TrustAnchors) -> Steps {
    appraise_at(report, chain, anchors, &Collateral::default(), DECEMBER_2026)
}

fn appraise_at(
    report: &SnpReport,
    chain: Option<&str>,
    anchors: &TrustAnchors,
    collateral: &Collateral<'_>,
    at: &str,
) -> Steps {
    let mut steps = Steps::default();
    let at = DateTime::parse(at).expect("an RFC 3339 time");
    let outcome = snp::appraise(report, chain, anchors, collateral, &at, &mut steps);
    assert_eq!(outcome.is_some(), steps.failure().is_none(), "{steps:#?}");
    steps
}

/// Passed, or `snp-revocation` not evaluated for want of a CRL.
fn held(step: &cvm_attest_formats::appraise::Step) -> bool {
    step.status == Status::Passed || (step.name == "snp-revocation" && step.status == Status::NotEvaluated)
}

fn assert_passes(steps: &Steps) {
    let names: Vec<_> = steps.as_slice().iter().map(|step| step.name).collect();
    assert_eq!(names, STEPS, "{steps:#?}");
    assert!(steps.as_slice().iter().all(held), "{steps:#?}");
}

/// The appraisal stopped at `name`: every step before it passed and none after it ran. Returns
/// the failure's detail.
fn assert_fails_at<'a>(steps: &'a Steps, name: &str) -> &'a str {
    let (failed, before) = steps.as_slice().split_last().expect("some step ran");
    assert_eq!((failed.name, failed.status), (name, Status::Failed), "{steps:#?}");
    let expected_before = STEPS.iter().position(|step| *step == name).expect("an SNP step");
    assert_eq!(before.len(), expected_before, "{steps:#?}");
    assert!(before.iter().all(held), "{steps:#?}");
    &failed.detail
}

/// The typed error of the failed step.
fn snp_error(steps: &Steps) -> &SnpError {
    match steps.failure().and_then(|step| step.error.as_ref()) {
        Some(AppraisalError::Snp(error)) => error,
        other => panic!("no SEV-SNP failure: {other:?}"),
    }
}

fn detail<'a>(steps: &'a Steps, name: &str) -> &'a str {
    &steps.as_slice().iter().find(|step| step.name == name).expect("the step ran").detail
}

/// Operator anchors with AMD's Genoa and Turin roots, and no Milan ones.
fn anchors_without_milan() -> TrustAnchors {
    TrustAnchors::from_operator(&[
        ("amd-ark-genoa", GENOA_ARK.as_bytes()),
        ("amd-ask-genoa", GENOA_ASK.as_bytes()),
        ("amd-ark-turin", TURIN_ARK.as_bytes()),
        ("amd-ask-turin", TURIN_ASK.as_bytes()),
    ])
    .expect("AMD's own roots")
}

/// The first PEM certificate of `chain` (the VCEK).
fn vcek_of(chain: &str) -> String {
    let end = "-----END CERTIFICATE-----";
    let (vcek, _) = chain.split_once(end).expect("a PEM certificate");
    format!("{vcek}{end}\n")
}

#[test]
fn trustee_report_with_its_full_chain_passes() {
    let steps = appraise(&trustee_report(), Some(TRUSTEE_CHAIN), &TrustAnchors::builtin());
    assert_passes(&steps);
    assert_eq!(
        detail(&steps, "snp-vcek-chain"),
        "SEV-VCEK → SEV-Milan (pinned) → ARK-Milan (pinned); Milan from the pinned ASK that signed the VCEK (the \
         report has no CPUID)"
    );
    assert_eq!(detail(&steps, "snp-chip-id"), "VCEK hwID equals the report's chip_id 19752a447db501a3…");
    assert_eq!(
        detail(&steps, "snp-tcb"),
        "VCEK TCB equals the report's reported_tcb (bootloader 3, tee 0, snp 8, microcode 115)"
    );
    assert_eq!(
        detail(&steps, "snp-policy"),
        "policy 0x3001f (debug not allowed, migration agent not allowed, SMT allowed), VMPL 0"
    );
}

#[test]
fn trustee_report_with_its_vcek_alone_chains_through_the_pinned_ask() {
    let steps = appraise(&trustee_report(), Some(&vcek_of(TRUSTEE_CHAIN)), &TrustAnchors::builtin());
    assert_passes(&steps);
    assert!(
        detail(&steps, "snp-vcek-chain").starts_with("SEV-VCEK → SEV-Milan (pinned) → ARK-Milan (pinned)")
    );
}

#[test]
fn coco_evidence_v0_and_v1_pass() {
    for json in [COCO_V0, COCO_V1] {
        let (report, chain) = coco(json);
        assert_eq!(report.version(), 3);
        let steps = appraise(&report, Some(&chain), &TrustAnchors::builtin());
        assert_passes(&steps);
        assert_eq!(
            detail(&steps, "snp-vcek-chain"),
            "SEV-VCEK → SEV-Milan (pinned) → ARK-Milan (pinned); Milan from the report's CPUID"
        );
        assert_eq!(
            detail(&steps, "snp-tcb"),
            "VCEK TCB equals the report's reported_tcb (bootloader 4, tee 0, snp 24, microcode 219)"
        );
    }
}

#[test]
fn thim_sidecar_report_passes() {
    let thim = ThimCertification::parse(SIDECAR_THIM).unwrap();
    let report = SnpReport::parse(SIDECAR_REPORT).unwrap();
    let steps = appraise(&report, Some(&thim.vcek_chain_pem()), &TrustAnchors::builtin());
    assert_passes(&steps);
    assert!(
        detail(&steps, "snp-vcek-chain").starts_with("SEV-VCEK → SEV-Milan (pinned) → ARK-Milan (pinned)")
    );
}

/// MAA's `attest/SevSnpVm` example: a version-1 report with its VCEK chain.
#[test]
fn maa_rest_spec_example_passes() {
    let example: serde_json::Value = serde_json::from_str(MAA_SEVSNPVM).unwrap();
    let report = BASE64URL.decode(example["parameters"]["body"]["report"].as_str().unwrap()).unwrap();
    let report: serde_json::Value = serde_json::from_slice(&report).unwrap();
    let snp_report = BASE64URL.decode(report["SnpReport"].as_str().unwrap()).unwrap();
    let chain = BASE64URL.decode(report["VcekCertChain"].as_str().unwrap()).unwrap();
    let chain = String::from_utf8(chain).unwrap();

    let steps = appraise(&SnpReport::parse(&snp_report).unwrap(), Some(&chain), &TrustAnchors::builtin());
    assert_passes(&steps);
    // Its chain with a report from another chip: the chain step passes, the chip id does not.
    let steps = appraise(&trustee_report(), Some(&chain), &TrustAnchors::builtin());
    assert!(
        detail(&steps, "snp-vcek-chain").starts_with("SEV-VCEK → SEV-Milan (pinned) → ARK-Milan (pinned)")
    );
    assert_fails_at(&steps, "snp-chip-id");
}

#[test]
fn kinvolk_report_with_kinvolk_chain_fails_at_chip_id() {
    let steps = appraise(&report_in_hcl(KINVOLK_HCL), Some(KINVOLK_CHAIN), &TrustAnchors::builtin());
    let why = assert_fails_at(&steps, "snp-chip-id");
    assert!(
        why.starts_with("the VCEK's hwID da8a5695b5aeafdb… is not the report's chip_id 3a5d5b1d059d193e…"),
        "{why}"
    );
    assert!(why.contains("supply this chip's VCEK"), "{why}");
}

#[test]
fn trustee_report_with_kinvolk_chain_fails_at_chip_id() {
    let report = trustee_report();
    let steps = appraise(&report, Some(KINVOLK_CHAIN), &TrustAnchors::builtin());
    let why = assert_fails_at(&steps, "snp-chip-id");
    assert!(why.contains("is not the report's chip_id 19752a447db501a3…"), "{why}");
    let SnpError::ChipIdMismatch { hw_id, chip_id } = snp_error(&steps) else {
        panic!("not a chip id mismatch: {steps:#?}");
    };
    assert_eq!(chip_id[..], report.chip_id()[..]);
    assert_ne!(hw_id, chip_id);
}

#[test]
fn a_flipped_byte_in_the_signed_part_fails_the_signature() {
    let report = edited_trustee_report(|bytes| bytes[MEASUREMENT] ^= 0x01);
    let steps = appraise(&report, Some(TRUSTEE_CHAIN), &TrustAnchors::builtin());
    let why = assert_fails_at(&steps, "snp-report-signature");
    assert!(why.contains("does not verify with the VCEK"), "{why}");
}

#[test]
fn a_flipped_signature_byte_fails_the_signature() {
    let report = edited_trustee_report(|bytes| bytes[SIGNATURE_R] ^= 0x01);
    let steps = appraise(&report, Some(TRUSTEE_CHAIN), &TrustAnchors::builtin());
    assert_fails_at(&steps, "snp-report-signature");
}

/// A P-384 r or s fills 48 of its 72 little-endian bytes. p384 never sees the other 24, so before
/// this check a non-zero byte there verified: one report, many valid encodings.
#[test]
fn snp_report_signature_rejects_non_canonical_high_bytes() {
    let genuine = appraise(&trustee_report(), Some(TRUSTEE_CHAIN), &TrustAnchors::builtin());
    assert_passes(&genuine);
    for (offset, scalar) in [(SIGNATURE_R + 48, "r"), (SIGNATURE_R + 71, "r"), (SIGNATURE_S + 60, "s")] {
        let report = edited_trustee_report(|bytes| bytes[offset] = 0x01);
        let steps = appraise(&report, Some(TRUSTEE_CHAIN), &TrustAnchors::builtin());
        let why = assert_fails_at(&steps, "snp-report-signature");
        let byte = offset - if scalar == "r" { SIGNATURE_R } else { SIGNATURE_S };
        assert_eq!(
            why,
            format!(
                "the report's signature is non-canonical: byte {byte} of {scalar} is 0x01, but bytes 48..72 of \
                 its 72-byte little-endian field must be zero for P-384"
            )
        );
    }
}

#[test]
fn snp_report_signature_rejects_non_zero_reserved_bytes() {
    let report = edited_trustee_report(|bytes| bytes[SIGNATURE_RESERVED + 100] = 0x80);
    let steps = appraise(&report, Some(TRUSTEE_CHAIN), &TrustAnchors::builtin());
    let why = assert_fails_at(&steps, "snp-report-signature");
    assert!(why.starts_with("the report's signature is non-canonical: its reserved bytes"), "{why}");
    assert!(why.ends_with("offset 0x394 is not"), "{why}");
}

/// p384 refuses r = 0 and r ≥ n; with them the detail still says why.
#[test]
fn snp_report_signature_rejects_r_out_of_range() {
    for fill in [0x00, 0xFF] {
        let report = edited_trustee_report(|bytes| bytes[SIGNATURE_R..SIGNATURE_R + 48].fill(fill));
        let steps = appraise(&report, Some(TRUSTEE_CHAIN), &TrustAnchors::builtin());
        let why = assert_fails_at(&steps, "snp-report-signature");
        assert_eq!(
            why,
            "the report's signature is non-canonical: r or s is zero or not below the P-384 group order"
        );
        assert_eq!(snp_error(&steps), &SnpError::ScalarOutOfRange);
    }
}

#[test]
fn the_debug_policy_bit_breaks_the_signature_before_the_policy_is_looked_at() {
    let report = edited_trustee_report(|bytes| bytes[POLICY_BIT_19] |= 0x08);
    assert!(report.policy().debug_allowed());
    let steps = appraise(&report, Some(TRUSTEE_CHAIN), &TrustAnchors::builtin());
    assert_fails_at(&steps, "snp-report-signature");
}

#[test]
fn a_genoa_ark_for_a_milan_vcek_fails_the_chain() {
    let chain = format!("{}{MILAN_ASK}{GENOA_ARK}", vcek_of(TRUSTEE_CHAIN));

    // Version 2: every trusted generation is tried, and each says why it does not fit.
    let steps = appraise(&trustee_report(), Some(&chain), &TrustAnchors::builtin());
    let why = assert_fails_at(&steps, "snp-vcek-chain");
    assert!(
        why.contains("Milan: the evidence's ARK (ARK-Genoa) is not the pinned ARK-Milan byte for byte"),
        "{why}"
    );
    assert!(why.contains("Genoa: SEV-Milan is not signed by ARK-Genoa"), "{why}");

    // Version 3: the CPUID names Milan.
    let (report, vcek) = coco(COCO_V0);
    let chain = format!("{vcek}{MILAN_ASK}{GENOA_ARK}");
    let steps = appraise(&report, Some(&chain), &TrustAnchors::builtin());
    let why = assert_fails_at(&steps, "snp-vcek-chain");
    assert!(
        why.starts_with("VCEK chain to Milan: the evidence's ARK (ARK-Genoa) is not the pinned ARK-Milan"),
        "{why}"
    );
}

#[test]
fn ask_and_ark_in_the_wrong_order_fail_the_chain() {
    let chain = format!("{}{MILAN_ARK}{MILAN_ASK}", vcek_of(TRUSTEE_CHAIN));
    let steps = appraise(&trustee_report(), Some(&chain), &TrustAnchors::builtin());
    let why = assert_fails_at(&steps, "snp-vcek-chain");
    assert!(why.contains("Milan: the evidence's ARK (SEV-Milan) is not the pinned ARK-Milan"), "{why}");
}

#[test]
fn anchors_without_milan_fail_the_chain() {
    let anchors = anchors_without_milan();

    let steps = appraise(&trustee_report(), Some(TRUSTEE_CHAIN), &anchors);
    let why = assert_fails_at(&steps, "snp-vcek-chain");
    assert!(why.starts_with("the VCEK chains to none of the trusted AMD roots"), "{why}");
    assert!(!why.contains("Milan:"), "{why}");

    let (report, vcek) = coco(COCO_V1);
    let steps = appraise(&report, Some(&vcek), &anchors);
    let why = assert_fails_at(&steps, "snp-vcek-chain");
    assert_eq!(
        why,
        "the report's CPUID says Milan, but no Milan roots are trusted; add the amd-ark-milan and \
         amd-ask-milan anchors"
    );
}

#[test]
fn no_anchors_and_no_chain_fail_the_chain() {
    let no_amd = TrustAnchors::from_operator(&[]).expect("no anchors is a valid choice");
    let steps = appraise(&trustee_report(), Some(TRUSTEE_CHAIN), &no_amd);
    assert!(assert_fails_at(&steps, "snp-vcek-chain").starts_with("no AMD roots are trusted"));
    assert_eq!(snp_error(&steps), &SnpError::NoAmdRoots);

    let steps = appraise(&trustee_report(), None, &TrustAnchors::builtin());
    assert!(assert_fails_at(&steps, "snp-vcek-chain").starts_with("the evidence has no VCEK certificate"));
    assert_eq!(snp_error(&steps), &SnpError::MissingVcek);
}

#[test]
fn malformed_chains_fail_the_chain() {
    let four = format!("{TRUSTEE_CHAIN}{MILAN_ARK}");
    let merged = TRUSTEE_CHAIN.replacen("-----END CERTIFICATE-----", "", 1);
    let unterminated = TRUSTEE_CHAIN.trim_end().trim_end_matches("-----END CERTIFICATE-----");
    let garbage = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    for (chain, expected) in [
        (four.as_str(), "the VCEK chain holds 4 PEM certificates"),
        ("no PEM here", "the VCEK chain holds 0 PEM certificates"),
        (merged.as_str(), "certificate 1 of the VCEK chain is not PEM"),
        (unterminated, "certificate 3 of the VCEK chain has no `-----END CERTIFICATE-----`"),
        (garbage, "certificate 1 of the VCEK chain is not an X.509 certificate"),
    ] {
        let steps = appraise(&trustee_report(), Some(chain), &TrustAnchors::builtin());
        let why = assert_fails_at(&steps, "snp-vcek-chain");
        assert!(why.starts_with(expected), "{why}");
    }
}

fn milan_crl_collateral(crl: &[u8]) -> Collateral<'_> {
    Collateral { amd_crl: Some(crl), ..Collateral::default() }
}

fn status<'a>(steps: &'a Steps, name: &str) -> (Status, &'a str) {
    let step = steps.as_slice().iter().find(|step| step.name == name).expect("the step ran");
    (step.status, &step.detail)
}

#[test]
fn without_a_crl_snp_revocation_is_not_evaluated_and_names_the_collateral() {
    let steps = appraise(&trustee_report(), Some(TRUSTEE_CHAIN), &TrustAnchors::builtin());
    let (status, why) = status(&steps, "snp-revocation");
    assert_eq!(status, Status::NotEvaluated);
    assert_eq!(
        why,
        "no AMD CRL was supplied, so whether ARK-Milan revoked SEV-Milan is not checked; supply Milan's CRL \
         (DER, https://kdsintf.amd.com/vcek/v1/Milan/crl) as `--collateral amd-crl=FILE`"
    );
}

#[test]
fn the_milan_crl_in_its_validity_does_not_revoke_the_trustee_chain() {
    let collateral = milan_crl_collateral(MILAN_CRL);
    for chain in [TRUSTEE_CHAIN.to_owned(), vcek_of(TRUSTEE_CHAIN)] {
        let steps =
            appraise_at(&trustee_report(), Some(&chain), &TrustAnchors::builtin(), &collateral, JULY_2026);
        assert!(steps.as_slice().iter().all(|step| step.status == Status::Passed), "{steps:#?}");
        assert_eq!(
            status(&steps, "snp-revocation").1,
            "`amd-crl`: ARK-Milan's CRL (0 entries, current from 2026-06-22T05:53:52Z to 2026-08-08T00:00:00Z) is \
             signed by ARK-Milan and does not list SEV-Milan (serial 010001); VCEKs are not on it (the ASK issues \
             them)"
        );
    }
}

#[test]
fn an_expired_milan_crl_fails_snp_revocation_naming_its_next_update() {
    let collateral = milan_crl_collateral(MILAN_CRL);
    let steps = appraise_at(
        &trustee_report(),
        Some(TRUSTEE_CHAIN),
        &TrustAnchors::builtin(),
        &collateral,
        DECEMBER_2026,
    );
    let why = assert_fails_at(&steps, "snp-revocation");
    assert_eq!(
        why,
        "the CRL `amd-crl` expired at its nextUpdate 2026-08-08T00:00:00Z, before 2026-12-01T00:00:00Z; fetch the \
         current CRL from its issuer, or verify as of a time inside it with `--at RFC3339`"
    );
    assert!(matches!(
        snp_error(&steps),
        SnpError::Revocation { crl: "amd-crl", error } if matches!(**error, RevocationError::Expired { .. })
    ));
}

#[test]
fn a_tampered_or_foreign_crl_fails_snp_revocation() {
    let mut tampered = MILAN_CRL.to_vec();
    let last = tampered.len() - 1;
    tampered[last] ^= 0x01;
    let collateral = milan_crl_collateral(&tampered);
    let steps =
        appraise_at(&trustee_report(), Some(TRUSTEE_CHAIN), &TrustAnchors::builtin(), &collateral, JULY_2026);
    let why = assert_fails_at(&steps, "snp-revocation");
    assert!(why.starts_with("the CRL `amd-crl` is not signed by ARK-Milan"), "{why}");

    // An Intel CRL handed over as AMD's: another issuer.
    let intel = include_bytes!("../../testdata/crl/intel-sgx-root-ca-crl-2026-02-26.der");
    let collateral = milan_crl_collateral(intel);
    let steps =
        appraise_at(&trustee_report(), Some(TRUSTEE_CHAIN), &TrustAnchors::builtin(), &collateral, JULY_2026);
    let why = assert_fails_at(&steps, "snp-revocation");
    assert_eq!(
        why,
        "the CRL `amd-crl` is issued by Intel SGX Root CA, not by ARK-Milan, which issued SEV-Milan; supply the \
         CRL of ARK-Milan"
    );

    let collateral = milan_crl_collateral(b"not a CRL");
    let steps =
        appraise_at(&trustee_report(), Some(TRUSTEE_CHAIN), &TrustAnchors::builtin(), &collateral, JULY_2026);
    assert!(
        assert_fails_at(&steps, "snp-revocation").starts_with("the CRL `amd-crl` is not a DER X.509 CRL")
    );
}

#[test]
fn a_time_before_the_vceks_not_before_fails_the_chain() {
    let steps = appraise_at(
        &trustee_report(),
        Some(TRUSTEE_CHAIN),
        &TrustAnchors::builtin(),
        &Collateral::default(),
        "2023-05-01T00:00:00Z",
    );
    let why = assert_fails_at(&steps, "snp-vcek-chain");
    assert_eq!(
        why,
        "SEV-VCEK is not valid until 2023-05-02T21:22:19Z (valid from 2023-05-02T21:22:19Z to \
         2030-05-02T21:22:19Z; judged at 2023-05-01T00:00:00Z); use a certificate valid then, or verify as of a \
         time inside it with `--at RFC3339`"
    );
    assert!(
        matches!(snp_error(&steps), SnpError::NotValid(ValidityError::NotYetValid { subject, .. }) if subject == "SEV-VCEK")
    );
}

#[test]
fn a_time_after_the_vceks_not_after_fails_the_chain() {
    let (report, vcek) = coco(COCO_V0);
    let steps = appraise_at(
        &report,
        Some(&vcek),
        &TrustAnchors::builtin(),
        &Collateral::default(),
        "2046-01-01T00:00:00Z",
    );
    let why = assert_fails_at(&steps, "snp-vcek-chain");
    assert!(why.starts_with("SEV-VCEK expired on 2032-01-28T16:26:55Z"), "{why}");
    assert!(why.contains("judged at 2046-01-01T00:00:00Z"), "{why}");
}
