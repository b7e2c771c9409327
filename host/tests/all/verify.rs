//! `cvm-attest verify` with the real offline verifier plugin (built from source) on real evidence
//! captured on Azure SEV-SNP and TDX confidential VMs, and on tampered copies of it.

use std::path::PathBuf;
use std::process::Output;

use serde_json::Value;

use crate::support::{cvm_attest, repo_root, shipped_plugins, verify};

const SNP: &str = "formats/testdata/azure-snp/trustee-evidence-v1.json";
const SNP_V0: &str = "formats/testdata/azure-snp/trustee-evidence-v0.json";
const TDX: &str = "formats/testdata/azure-tdx/trustee-evidence-tdx-v1.json";
const TDX_V0: &str = "formats/testdata/azure-tdx/trustee-evidence-tdx-v0.json";
/// The nonce trustee's attester bound into these quotes.
const NONCE: &str = "challenge";

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!("not JSON ({e}): {}\n{}", String::from_utf8_lossy(&output.stdout), stderr(output))
    })
}

/// The failed step of a rejected run, after checking it is the last one reported.
fn failed_step(result: &Value) -> String {
    let steps = result["steps"].as_array().expect("steps");
    let failed: Vec<&Value> = steps.iter().filter(|s| s["status"] == "failed").collect();
    assert_eq!(failed.len(), 1, "exactly one failed step: {result:#}");
    assert_eq!(steps.last(), Some(failed[0]), "appraisal stops at the first failure: {result:#}");
    failed[0]["name"].as_str().expect("name").to_owned()
}

/// A temp copy of a fixture with `edit` applied to its parsed JSON.
fn tampered(fixture: &str, edit: impl FnOnce(&mut Value)) -> (tempfile::TempDir, PathBuf) {
    let mut value: Value =
        serde_json::from_slice(&std::fs::read(repo_root().join(fixture)).expect("fixture"))
            .expect("JSON fixture");
    edit(&mut value);
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("evidence.json");
    std::fs::write(&path, value.to_string()).expect("write");
    (dir, path)
}

/// Flip one bit of a base64url field (trustee's v1 encoding) at byte `at` of the decoded bytes.
fn flip_base64url(field: &mut Value, at: usize) {
    use base64::Engine as _;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut bytes = engine.decode(field.as_str().expect("string").trim_end_matches('=')).expect("base64url");
    bytes[at] ^= 1;
    *field = Value::String(engine.encode(bytes));
}

/// Flip one bit of a hex field at byte `at`.
fn flip_hex(field: &mut Value, at: usize) {
    let mut bytes = hex::decode(field.as_str().expect("string")).expect("hex");
    bytes[at] ^= 1;
    *field = Value::String(hex::encode(bytes));
}

#[test]
fn real_snp_and_tdx_evidence_verifies_with_the_nonce() {
    for (fixture, tee) in [(SNP, "sevsnpvm"), (SNP_V0, "sevsnpvm"), (TDX, "tdxvm"), (TDX_V0, "tdxvm")] {
        let run = verify(&repo_root().join(fixture), &["--nonce", NONCE, "-o", "json"]);
        let result = json(&run);
        assert!(run.status.success(), "{fixture}: {}\n{result:#}", stderr(&run));
        assert_eq!(result["accepted"], true);
        for step in result["steps"].as_array().expect("steps") {
            assert_ne!(step["status"], "failed", "{fixture}: {step}");
        }
        let passed = |name: &str| {
            result["steps"].as_array().unwrap().iter().any(|s| s["name"] == name && s["status"] == "passed")
        };
        assert!(
            passed("hcl-binding") && passed("vtpm-quote-signature") && passed("vtpm-quote-nonce"),
            "{result:#}"
        );
        assert_eq!(result["claims"]["x-ms-isolation-tee"]["x-ms-attestation-type"], tee, "{fixture}");
        assert_eq!(result["verifier"]["name"], "offline");
        assert_eq!(result["verifier"]["sha256"].as_str().map(str::len), Some(64), "audit trail");
    }
}

#[test]
fn a_per_step_table_on_the_terminal_and_claim_checks_on_the_result() {
    // The README's example check, which MAA tokens of SEV-SNP CVMs satisfy too.
    let check_arg = format!("claim-equals={}", repo_root().join("examples/checks/sevsnp-cvm.json").display());
    let run = verify(&repo_root().join(SNP), &["--nonce", NONCE, "--check", &check_arg]);
    let text = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{text}\n{}", stderr(&run));
    for expected in
        ["pass  snp-report-signature", "pass  vtpm-pcr-digest", "check claim-equals: pass", "verified"]
    {
        let compact = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(compact(&text).contains(&compact(expected)), "missing `{expected}` in:\n{text}");
    }
}

#[test]
fn without_a_nonce_freshness_is_reported_as_not_evaluated() {
    let run = verify(&repo_root().join(SNP), &["-o", "json"]);
    assert!(run.status.success(), "{}", stderr(&run));
    let result = json(&run);
    let nonce = result["steps"].as_array().unwrap().iter().find(|s| s["name"] == "vtpm-quote-nonce").cloned();
    assert_eq!(nonce.map(|s| s["status"].clone()), Some(Value::from("not-evaluated")), "{result:#}");
    assert!(stderr(&run).contains("not that it is fresh"), "{}", stderr(&run));
}

#[test]
fn every_tampering_fails_at_its_step() {
    // (what, fixture, edit, the step that must fail)
    type Edit = Box<dyn FnOnce(&mut Value)>;
    let cases: Vec<(&str, &str, Edit, &str)> = vec![
        // The SNP report starts at 0x20 of the HCL report; its measurement is at 0x90 within it.
        (
            "SNP report byte",
            SNP,
            Box::new(|v| flip_base64url(&mut v["hcl_report"], 0x20 + 0x90)),
            "snp-report-signature",
        ),
        // The signature is at 0x2A0 of the SNP report.
        (
            "SNP signature byte",
            SNP,
            Box::new(|v| flip_base64url(&mut v["hcl_report"], 0x20 + 0x2A0)),
            "snp-report-signature",
        ),
        // The runtime JSON starts at 0x4D4; byte 100 is inside a key's base64url modulus.
        (
            "runtime JSON byte",
            SNP,
            Box::new(|v| flip_base64url(&mut v["hcl_report"], 0x4D4 + 100)),
            "hcl-binding",
        ),
        ("VCEK byte", SNP, Box::new(|v| flip_base64url(&mut v["vcek"], 200)), "snp-vcek-chain"),
        (
            "quote byte",
            SNP,
            Box::new(|v| flip_hex(&mut v["tpm_quote"]["message"], 40)),
            "vtpm-quote-signature",
        ),
        ("PCR value", SNP, Box::new(|v| flip_hex(&mut v["tpm_quote"]["pcrs"][3], 0)), "vtpm-pcr-digest"),
        ("TD quote byte", TDX, Box::new(|v| flip_base64url(&mut v["td_quote"], 200)), "tdx-quote-signature"),
    ];
    for (what, fixture, edit, step) in cases {
        let (_dir, path) = tampered(fixture, edit);
        let run = verify(&path, &["--nonce", NONCE, "-o", "json"]);
        assert_eq!(run.status.code(), Some(1), "{what}: {}", stderr(&run));
        assert_eq!(failed_step(&json(&run)), step, "{what}");
        assert!(stderr(&run).contains(&format!("failed at step `{step}`")), "{what}: {}", stderr(&run));
    }
}

#[test]
fn a_wrong_nonce_fails_at_the_quote_nonce() {
    let run = verify(&repo_root().join(SNP), &["--nonce", "another", "-o", "json"]);
    assert_eq!(run.status.code(), Some(1), "{}", stderr(&run));
    assert_eq!(failed_step(&json(&run)), "vtpm-quote-nonce");
}

#[test]
fn operator_trust_anchors_replace_the_built_in_roots() {
    // Only Genoa trusted: the Milan VCEK chain no longer verifies.
    let anchors = repo_root().join("formats/anchors");
    let ark = format!("amd-ark-genoa={}", anchors.join("genoa-ark.pem").display());
    let ask = format!("amd-ask-genoa={}", anchors.join("genoa-ask.pem").display());
    let run = verify(
        &repo_root().join(SNP),
        &["--nonce", NONCE, "-o", "json", "--trust-anchor", &ark, "--trust-anchor", &ask],
    );
    assert_eq!(run.status.code(), Some(1), "{}", stderr(&run));
    assert_eq!(failed_step(&json(&run)), "snp-vcek-chain");

    let run = verify(&repo_root().join(SNP), &["--trust-anchor", "amd-ark-mars=/dev/null"]);
    assert_eq!(run.status.code(), Some(2), "an unknown anchor name is a usage error: {}", stderr(&run));
    assert!(stderr(&run).contains("amd-ark-mars"), "{}", stderr(&run));
}

#[test]
fn partial_evidence_is_refused_with_what_to_do() {
    let run = verify(&repo_root().join("formats/testdata/tpm/trustee-milan-hcl-report.bin"), &[]);
    assert_eq!(run.status.code(), Some(2));
    let message = stderr(&run);
    assert!(
        message.contains("HCL report alone is not enough") && message.contains("evidence collect"),
        "{message}"
    );
}

#[test]
fn the_offline_verifier_asks_only_for_crypto_and_imports_no_io() {
    let (dir, _) = shipped_plugins();
    let run = cvm_attest()
        .args(["plugin", "inspect", "-o", "json"])
        .arg(dir.path().join("offline.wasm"))
        .output()
        .expect("run inspect");
    assert!(run.status.success(), "{}", stderr(&run));
    let inspection = json(&run);
    assert_eq!(inspection["manifest"]["capabilities"], serde_json::json!(["crypto"]));
    assert_eq!(inspection["loads"], true);
    let imports = inspection["inspection"]["imports"].to_string();
    assert!(imports.contains("cvm-attest:plugin/crypto@0.1.1"), "{imports}");
    for forbidden in ["wasi:filesystem", "wasi:sockets", "wasi:http", "cvm-attest:plugin/log"] {
        assert!(!imports.contains(forbidden), "imports {forbidden}: {imports}");
    }
}

#[test]
fn the_example_check_holds_for_maa_tokens_and_offline_results_alike() {
    let (dir, config) = shipped_plugins();
    let run = cvm_attest()
        .args(["plugin", "run", "claim-equals", "--plugin-dir"])
        .arg(dir.path())
        .arg("--config")
        .arg(&config)
        .arg("--claims")
        .arg(repo_root().join("examples/claims/sharedweu-sevsnp-2023-03-30.json"))
        .arg("--plugin-config")
        .arg(repo_root().join("examples/checks/sevsnp-cvm.json"))
        .output()
        .expect("run cvm-attest");
    assert!(run.status.success(), "{}{}", String::from_utf8_lossy(&run.stdout), stderr(&run));
}

#[test]
fn an_output_format_plugin_renders_the_result_and_a_wrong_name_fails_first() {
    let check = format!("claim-equals={}", repo_root().join("examples/checks/sevsnp-cvm.json").display());
    let run = verify(&repo_root().join(SNP), &["--nonce", NONCE, "--check", &check, "-o", "summary"]);
    let text = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{text}{}", stderr(&run));
    for expected in [
        "attestation: PASS",
        "verifier",
        "offline",
        "26F8BC30-774E-4290-8E7A-535F3B672AEE",
        "check claim-equals",
    ] {
        assert!(text.contains(expected), "missing `{expected}` in:\n{text}");
    }

    let run = verify(&repo_root().join(SNP), &["--nonce", NONCE, "-o", "yaml"]);
    assert_eq!(run.status.code(), Some(2));
    assert!(stderr(&run).contains("-o yaml: not `text` or `json`"), "{}", stderr(&run));
    assert!(run.stdout.is_empty(), "nothing is appraised or printed before the output is resolved");
}
