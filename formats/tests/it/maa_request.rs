//! The MAA `AzureGuest` request of a real Trusted Launch VM (MAA's REST API example) read as
//! evidence and appraised: its AK is vouched for only by its certificate, as of a given day.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use cvm_attest_formats::appraise::{Collateral, Policy, Status, TrustAnchors, appraise};
use cvm_attest_formats::bundle::{EvidenceBundle, EvidenceKind, MaaRequest, Platform, Timestamp, detect};
use cvm_attest_formats::time::DateTime;
use serde_json::{Value, json};

const EXAMPLE: &str = include_str!("../../testdata/maa-rest-spec/AttestAzureGuestVm.json");

/// The request body the example's client sent.
fn body() -> Vec<u8> {
    let example: Value = serde_json::from_str(EXAMPLE).expect("JSON");
    serde_json::to_vec(&example["parameters"]["request"]).expect("JSON")
}

fn read(body: &[u8]) -> EvidenceBundle {
    let at = Timestamp::parse("2024-06-01T00:00:00Z").expect("timestamp");
    EvidenceBundle::from_maa_request(MaaRequest::AzureGuest, body, at).expect("the request reads")
}

/// `(name, status, detail)` of each step, appraised as of `at`.
fn steps(bundle: &EvidenceBundle, at: &str) -> (Vec<(&'static str, Status, String)>, Option<Value>) {
    let anchors = TrustAnchors::builtin();
    let at = DateTime::parse(at).expect("time");
    let policy =
        Policy { expected_nonce: None, anchors: &anchors, collateral: Collateral::default(), at: &at };
    let appraisal = appraise(bundle, &policy);
    let steps = appraisal.steps.as_slice().iter().map(|s| (s.name, s.status, s.detail.clone())).collect();
    (steps, appraisal.claims)
}

#[test]
fn the_request_is_detected_and_read_as_trusted_launch_evidence() {
    assert_eq!(detect(&body()), EvidenceKind::Maa(MaaRequest::AzureGuest));
    let bundle = read(&body());
    assert_eq!(bundle.platform, Platform::AzureTrustedLaunch);
    assert!(bundle.hcl_report.is_empty());
    assert!(bundle.tpm.as_ref().unwrap().ak_cert.is_some());
    assert_eq!(
        bundle.tpm.as_ref().unwrap().pcrs.values().keys().copied().collect::<Vec<_>>(),
        [0, 1, 2, 3, 4, 5, 6, 7, 11, 12, 13, 14]
    );
    assert!(bundle.tpm.as_ref().unwrap().ephemeral_key.is_some());
    assert_eq!(bundle.event_log.as_ref().map(Vec::len), Some(67_113));
    let os = bundle.os.expect("the OS the client reported");
    assert_eq!((os.os_type.as_str(), os.distro.as_str(), os.version_major), ("Windows", "Microsoft", 10));
    assert_eq!(bundle.nonce, None, "the example's client payload has no nonce");
}

#[test]
fn as_of_its_day_every_vtpm_step_passes_with_the_certified_ak() {
    let (steps, claims) = steps(&read(&body()), "2024-06-01T00:00:00Z");
    let names: Vec<&str> = steps.iter().map(|s| s.0).collect();
    assert_eq!(
        names,
        [
            "vtpm-ak-public",
            "vtpm-ak-cert",
            "vtpm-quote-signature",
            "vtpm-quote-structure",
            "vtpm-quote-nonce",
            "vtpm-pcr-digest",
            "vtpm-ephemeral-key",
            "eventlog-replay"
        ]
    );
    for (name, status, detail) in &steps {
        let expected = if *name == "vtpm-quote-nonce" { Status::NotEvaluated } else { Status::Passed };
        assert_eq!(*status, expected, "{name}: {detail}");
    }
    assert!(steps[1].2.contains("Azure Virtual TPM Root Certificate Authority 2023"), "{}", steps[1].2);
    assert!(steps[2].2.ends_with("verifies with the AK"), "{}", steps[2].2);
    let claims = claims.expect("claims");
    assert_eq!(claims["x-ms-attestation-type"], "azurevm");
    assert_eq!(claims["x-ms-azurevm-attested-pcrs"], json!([0, 1, 2, 3, 4, 5, 6, 7, 11, 12, 13, 14]));
    assert!(claims.get("x-ms-isolation-tee").is_none(), "a Trusted Launch VM has no TEE");
}

#[test]
fn today_its_ak_certificate_chain_has_expired() {
    let (steps, claims) = steps(&read(&body()), "2026-12-01T00:00:00Z");
    let last = steps.last().expect("steps");
    assert_eq!((last.0, last.1), ("vtpm-ak-cert", Status::Failed));
    assert!(last.2.starts_with("Global Virtual TPM CA - 01 expired on 2025-11-03"), "{}", last.2);
    assert_eq!(claims, None);
}

#[test]
fn without_its_certificate_a_trusted_launch_ak_is_not_trusted() {
    let mut bundle = read(&body());
    bundle.tpm.as_mut().unwrap().ak_cert = None;
    let (steps, claims) = steps(&bundle, "2024-06-01T00:00:00Z");
    let last = steps.last().expect("steps");
    assert_eq!((last.0, last.1), ("vtpm-ak-cert", Status::Failed));
    assert!(last.2.contains("only Azure's vTPM CA"), "{}", last.2);
    assert_eq!(claims, None);
}

#[test]
fn malformed_requests_are_refused_with_the_reason() {
    let example: Value = serde_json::from_str(EXAMPLE).expect("JSON");
    let info = example["parameters"]["request"]["attestationInfo"].as_str().expect("text");
    let mut inner: Value = serde_json::from_slice(
        &STANDARD_NO_PAD.decode(info).expect("base64, unpadded as the client sent it"),
    )
    .expect("JSON");
    inner["IsolationInfo"] = json!({"Type": "SevSnp", "Evidence": {}});
    let body = json!({"AttestationInfo": STANDARD.encode(inner.to_string())}).to_string();
    let at = Timestamp::parse("2024-06-01T00:00:00Z").expect("timestamp");
    let err = EvidenceBundle::from_maa_request(MaaRequest::AzureGuest, body.as_bytes(), at.clone())
        .expect_err("refused");
    assert!(err.to_string().contains("missing field `Proof`"), "{err}");
    let mut partial: Value =
        serde_json::from_slice(&STANDARD_NO_PAD.decode(info).expect("base64")).expect("JSON");
    partial["TpmInfo"].as_object_mut().expect("TpmInfo").remove("EncKeyPub");
    let body = json!({"AttestationInfo": STANDARD.encode(partial.to_string())}).to_string();
    let err = EvidenceBundle::from_maa_request(MaaRequest::AzureGuest, body.as_bytes(), at.clone())
        .expect_err("refused");
    assert!(err.to_string().contains("come together or not at all"), "{err}");
    let err = EvidenceBundle::from_maa_request(MaaRequest::AzureGuest, br#"{"AttestationInfo": "***"}"#, at)
        .expect_err("refused");
    assert!(err.to_string().contains("AttestationInfo"), "{err}");
}
