//! What users read, as snapshots (`host/tests/all/snapshots/`): the text and JSON of `verify` and
//! `evidence show` on the example evidence. A change of output fails here until its new snapshot is
//! reviewed and accepted (`INSTA_UPDATE=always cargo test … snapshots`, then read the diff).

use cvm_attest::render::summary::Document;
use cvm_attest::render::verification::Verification;

use crate::support::{self, assert_valid, repo_root, shipped_plugins};

/// Stdout of the binary run from the repository root, which must succeed.
fn stdout(args: &[&str]) -> String {
    output(args, 0)
}

/// Stdout of the binary run from the repository root, which must exit with `status`.
fn output(args: &[&str], status: i32) -> String {
    let (dir, config) = shipped_plugins();
    let out = support::cvm_attest_with(&dir, &config).args(args).output().expect("run cvm-attest");
    assert_eq!(out.status.code(), Some(status), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// When the snapshots were taken: every certificate of the example evidence is valid then.
const AT: &str = "2026-12-01T00:00:00Z";

fn settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings
}

#[test]
fn verify_outputs() {
    settings().bind(|| {
        for (name, evidence) in
            [("snp", "examples/evidence/azure-sev-snp.json"), ("tdx", "examples/evidence/azure-tdx.json")]
        {
            let check = "claim-equals=examples/checks/sevsnp-cvm.json";
            // A fixed time, so that the output (`judged_at`, validity) does not change with the day.
            let args =
                ["verify", "--evidence", evidence, "--nonce", "challenge", "--at", AT, "--check", check];
            let text = match name {
                "snp" => stdout(&args),
                _ => stdout(&args[..7]),
            };
            insta::assert_snapshot!(format!("verify-{name}-text"), text);
            let json: serde_json::Value = serde_json::from_str(&stdout(&[
                "verify",
                "--evidence",
                evidence,
                "--nonce",
                "challenge",
                "--at",
                AT,
                "-o",
                "json",
            ]))
            .expect("JSON");
            let typed: Verification =
                serde_json::from_value(json.clone()).expect("verification/v1 reads back");
            assert_eq!(typed.schema, "cvm-attest/verification/v1");
            assert_eq!(
                serde_json::to_value(&typed).expect("serializes"),
                json,
                "nothing lost reading it back"
            );
            insta::assert_json_snapshot!(format!("verify-{name}-json"), json);
        }
    });
}

#[test]
fn evidence_show_outputs() {
    settings().bind(|| {
        for (name, evidence) in
            [("snp", "examples/evidence/azure-sev-snp.json"), ("tdx", "examples/evidence/azure-tdx.json")]
        {
            insta::assert_snapshot!(format!("show-{name}-text"), stdout(&["evidence", "show", evidence]));
            let json: serde_json::Value =
                serde_json::from_str(&stdout(&["evidence", "show", evidence, "-o", "json"])).expect("JSON");
            let typed: Document =
                serde_json::from_value(json.clone()).expect("evidence-summary/v1 reads back");
            assert_eq!(
                serde_json::to_value(&typed).expect("serializes"),
                json,
                "nothing lost reading it back"
            );
            insta::assert_json_snapshot!(format!("show-{name}-json"), json);
        }
    });
}

#[test]
fn every_json_output_is_valid_under_its_schema() {
    let json = |args: &[&str], status| -> serde_json::Value {
        serde_json::from_str(&output(args, status)).expect("JSON")
    };
    let snp = "examples/evidence/azure-sev-snp.json";
    let tdx = "examples/evidence/azure-tdx.json";
    let check = "claim-equals=examples/checks/sevsnp-cvm.json";
    for (args, status) in [
        (&["verify", "--evidence", snp, "-n", "challenge", "-o", "json", "--check", check][..], 0),
        (&["verify", "--evidence", tdx, "-n", "challenge", "-o", "json", "--check", check][..], 1),
        (&["verify", "--evidence", snp, "-n", "replayed", "-o", "json"][..], 1),
        (&["verify", "--evidence", snp, "-o", "json"][..], 0),
    ] {
        assert_valid("verification-v1.schema.json", &json(args, status));
    }
    // An MAA AzureGuest request body, as the client sent it.
    let dir = tempfile::tempdir().expect("tempdir");
    let example = std::fs::read(repo_root().join("formats/testdata/maa-rest-spec/AttestAzureGuestVm.json"))
        .expect("example");
    let example: serde_json::Value = serde_json::from_slice(&example).expect("JSON");
    let request = dir.path().join("azure-guest.json");
    std::fs::write(&request, example["parameters"]["request"].to_string()).expect("request");
    let request = request.to_str().expect("UTF-8 path");
    let example = std::fs::read(repo_root().join("formats/testdata/maa-rest-spec/AttestSevSnpVm.json"))
        .expect("example");
    let example: serde_json::Value = serde_json::from_slice(&example).expect("JSON");
    let platform_request = dir.path().join("sev-snp-vm.json");
    std::fs::write(&platform_request, example["parameters"]["body"].to_string()).expect("request");
    let platform_request = platform_request.to_str().expect("UTF-8 path");
    for evidence in
        [snp, tdx, "formats/testdata/azure-snp/trustee-evidence-v0.json", request, platform_request]
    {
        assert_valid(
            "evidence-summary-v1.schema.json",
            &json(&["evidence", "show", evidence, "-o", "json"], 0),
        );
    }
    // A bundle, with every optional section, is valid under the bundle schema.
    let coco = std::fs::read(repo_root().join(tdx)).expect("example");
    let at = cvm_attest_formats::bundle::Timestamp::parse("2026-12-01T00:00:00Z").expect("timestamp");
    let mut bundle = cvm_attest_formats::bundle::EvidenceBundle::from_coco_json(&coco, at).expect("evidence");
    assert_valid("evidence-bundle-v1.schema.json", &serde_json::from_str(&bundle.to_json()).expect("JSON"));
    bundle.collateral.insert("tdx-tcb-info".to_owned(), b"{}".to_vec());
    let mut written: serde_json::Value = serde_json::from_str(&bundle.to_json()).expect("JSON");
    assert_valid("evidence-bundle-v1.schema.json", &written);
    written["collateral"]["tdx-tcb-infos"] = "e30=".into();
    let caught = std::panic::catch_unwind(|| assert_valid("evidence-bundle-v1.schema.json", &written));
    assert!(caught.is_err(), "an unknown collateral name must be refused");
    // The schemas are not vacuous: an output with a wrong field is refused.
    let mut wrong = json(&["verify", "--evidence", snp, "-n", "challenge", "-o", "json"], 0);
    wrong["steps"][0]["status"] = "ok".into();
    let caught = std::panic::catch_unwind(|| assert_valid("verification-v1.schema.json", &wrong));
    assert!(caught.is_err(), "a step status outside the enum must be refused");
}
