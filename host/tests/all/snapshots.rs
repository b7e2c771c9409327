//! What users read, as snapshots (`host/tests/all/snapshots/`): the text and JSON of `verify` and
//! `evidence show` on the example evidence. A change of output fails here until its new snapshot is
//! reviewed and accepted (`INSTA_UPDATE=always cargo test … snapshots`, then read the diff).

use cvm_attest::render::summary::Document;
use cvm_attest::render::verification::Verification;

use crate::support::{cvm_attest, repo_root, shipped_plugins};

/// Stdout of the binary run from the repository root, which must succeed.
fn stdout(args: &[&str]) -> String {
    let (dir, config) = shipped_plugins();
    let out = cvm_attest()
        .current_dir(repo_root())
        .arg("--config")
        .arg(&config)
        .arg("--plugin-dir")
        .arg(dir.path())
        .args(args)
        .output()
        .expect("run cvm-attest");
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

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
            let args = ["verify", "--evidence", evidence, "--nonce", "challenge", "--check", check];
            let text = match name {
                "snp" => stdout(&args),
                _ => stdout(&args[..5]),
            };
            insta::assert_snapshot!(format!("verify-{name}-text"), text);
            let json: serde_json::Value = serde_json::from_str(&stdout(&[
                "verify",
                "--evidence",
                evidence,
                "--nonce",
                "challenge",
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
