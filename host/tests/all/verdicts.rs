//! What `cvm-attest verify` concludes and how it says so: the host's own judgement of a verifier's
//! answer (a lying verifier cannot pass what the host can check itself), outputs that agree with the
//! verdict, exit statuses that survive a closed stdout, and unattested data kept out of the claims.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use cvm_attest_formats::bundle::{EvidenceBundle, OsInfo, Timestamp};
use serde_json::Value;

use crate::support::{PluginDir, cvm_attest, manifest_of, repo_root, shipped_plugins, text};

const SNP: &str = "examples/evidence/azure-sev-snp.json";
const NONCE: &str = "challenge";

/// The shipped plugins plus `fixed-claims` scripted by `script` (its manifest's default config).
fn plugins(script: &str) -> (PluginDir, PathBuf) {
    let (dir, config) = shipped_plugins();
    let fixed = std::fs::read_to_string(manifest_of("fixed-claims")).expect("manifest");
    dir.install_as("fixed-claims", "fixed-claims", &format!("{fixed}default_config = '''{script}'''\n"));
    (dir, config)
}

fn command(dir: &PluginDir, config: &Path, evidence: &Path, args: &[&str]) -> Command {
    let mut cmd = cvm_attest();
    cmd.args(["verify", "--plugin-dir"])
        .arg(dir.path())
        .arg("--config")
        .arg(config)
        .arg("--evidence")
        .arg(evidence)
        .args(args);
    cmd
}

fn verify_with(script: &str, evidence: &Path, args: &[&str]) -> Output {
    let (dir, config) = plugins(script);
    command(&dir, &config, evidence, args).output().expect("run cvm-attest")
}

fn snp() -> PathBuf {
    repo_root().join(SNP)
}

#[test]
fn a_verifier_that_vouches_for_nothing_is_not_believed() {
    let script = r#"{"steps": [["looked-at-nothing", "not-evaluated"]]}"#;
    let run = verify_with(script, &snp(), &["--verifier", "fixed-claims", "-n", NONCE]);
    assert_eq!(run.status.code(), Some(1), "{}", text(&run.stderr));
    assert!(text(&run.stderr).contains("reported no passed step"), "{}", text(&run.stderr));
    assert!(text(&run.stdout).contains("NOT verified"), "{}", text(&run.stdout));
}

#[test]
fn claims_that_are_not_one_json_object_are_not_accepted() {
    let deep = format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000));
    for claims in ["not json", "[1, 2]", "null", r#"{"a": 1, "a": 2}"#, deep.as_str()] {
        let script = serde_json::json!({ "claims": claims, "steps": [["fixed", "passed"]] }).to_string();
        let run = verify_with(&script, &snp(), &["--verifier", "fixed-claims", "-n", NONCE, "-o", "json"]);
        assert_eq!(run.status.code(), Some(1), "{claims:.40}: {}", text(&run.stderr));
        let result: Value = serde_json::from_slice(&run.stdout).expect("JSON result");
        assert_eq!(result["verified"], false, "{claims:.40}");
        assert_eq!(result["claims"], Value::Null, "{claims:.40}");
        assert!(result["rejection"].as_str().unwrap_or_default().contains("not a JSON object"), "{result:#}");
    }
}

#[test]
fn the_host_checks_the_nonce_in_the_quote_whatever_the_verifier_says() {
    let script = r#"{"steps": [["everything", "passed"]]}"#;
    let run = verify_with(script, &snp(), &["--verifier", "fixed-claims", "-n", NONCE]);
    assert_eq!(run.status.code(), Some(0), "the nonce is in the quote: {}", text(&run.stderr));
    let run = verify_with(script, &snp(), &["--verifier", "fixed-claims", "-n", "replayed"]);
    assert_eq!(run.status.code(), Some(1), "{}", text(&run.stderr));
    assert!(
        text(&run.stderr).contains("does not carry the expected nonce (host check)"),
        "{}",
        text(&run.stderr)
    );
}

#[test]
fn output_formats_are_told_the_verdict() {
    let run = verify_with("", &snp(), &["-n", "wrong", "-o", "summary"]);
    assert_eq!(run.status.code(), Some(1));
    let out = text(&run.stdout);
    assert!(out.starts_with("attestation: FAIL"), "{out}");
    assert!(out.contains("vtpm-quote-nonce"), "the failed step reaches the format: {out}");

    let failing = repo_root().join("examples/checks/azure-cvm-baseline.json");
    let tdx = repo_root().join("examples/evidence/azure-tdx.json");
    let check = format!("claim-equals={}", failing.display());
    let run = verify_with("", &tdx, &["-n", NONCE, "--check", &check, "-o", "summary"]);
    assert_eq!(run.status.code(), Some(1));
    assert!(text(&run.stdout).starts_with("attestation: FAIL"), "{}", text(&run.stdout));
}

#[test]
fn a_failed_check_is_not_reported_as_verified() {
    let tdx = repo_root().join("examples/evidence/azure-tdx.json");
    let check = format!("claim-equals={}", repo_root().join("examples/checks/sevsnp-cvm.json").display());
    let run = verify_with("", &tdx, &["-n", NONCE, "--check", &check]);
    assert_eq!(run.status.code(), Some(1));
    let out = text(&run.stdout);
    assert!(out.ends_with("\nevidence verified; check(s) FAILED: claim-equals\n"), "{out}");
    assert!(text(&run.stderr).contains("claim check(s) did not pass: claim-equals"), "{}", text(&run.stderr));

    let run = verify_with("", &tdx, &["-n", NONCE, "--check", &check, "-o", "json"]);
    let result: Value = serde_json::from_slice(&run.stdout).expect("JSON");
    assert_eq!(
        (&result["verified"], &result["checks_passed"], &result["accepted"]),
        (&Value::Bool(true), &Value::Bool(false), &Value::Bool(false))
    );
}

#[test]
fn a_closed_stdout_never_turns_a_failure_into_success() {
    let (dir, config) = plugins("");
    for (nonce, expected) in [("wrong", 1), (NONCE, 2)] {
        for output in ["text", "json"] {
            let mut child = command(&dir, &config, &snp(), &["-n", nonce, "-o", output])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn");
            drop(child.stdout.take()); // the reader is gone before anything is written
            let mut stderr = String::new();
            child.stderr.take().expect("stderr").read_to_string(&mut stderr).expect("stderr");
            let status = child.wait().expect("wait");
            assert_eq!(status.code(), Some(expected), "nonce {nonce}, -o {output}: {stderr}");
            assert!(stderr.contains("error: "), "the reason is still said: {stderr}");
        }
    }
}

#[test]
fn without_a_nonce_the_advice_is_the_relying_partys_nonce_never_the_bundles_own() {
    let run = verify_with("", &snp(), &[]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let stderr = text(&run.stderr);
    assert!(stderr.contains("pass the nonce the relying party issued"), "{stderr}");
    assert!(!stderr.contains(&hex::encode(NONCE)), "the bundle's own nonce is not suggested: {stderr}");
}

#[test]
fn the_os_block_is_shown_as_unverified_and_never_among_the_claims() {
    let coco = std::fs::read(snp()).expect("fixture");
    let collected = Timestamp::parse("2026-12-03T00:00:00Z").expect("timestamp");
    let mut bundle = EvidenceBundle::from_coco_json(&coco, collected).expect("CoCo evidence");
    bundle.os = Some(OsInfo {
        os_type: "Windows".into(),
        distro: "Attacker\u{1b}]0;owned\u{7}".into(),
        version_major: 10,
        version_minor: 0,
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bundle.json");
    std::fs::write(&path, bundle.to_json()).expect("write");

    let run = verify_with("", &path, &["-n", NONCE, "-o", "json"]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let result: Value = serde_json::from_slice(&run.stdout).expect("JSON");
    assert_eq!(result["unverified"]["os"]["type"], "Windows");
    let claims = result["claims"].as_object().expect("claims");
    assert!(
        claims.keys().all(|k| !k.starts_with("x-ms-azurevm-os") && k != "x-ms-azurevm-is-windows"),
        "{claims:?}"
    );

    let run = verify_with("", &path, &["-n", NONCE]);
    let out = text(&run.stdout);
    assert!(out.contains("unverified (signed by nothing, so not among the claims): os Windows"), "{out}");
    assert!(!out.contains('\u{1b}') && !out.contains('\u{7}'), "escape sequences are escaped: {out}");
}

#[test]
fn operator_mistakes_are_usage_errors_that_name_the_file_not_verdicts_on_the_evidence() {
    let (dir, config) = plugins("");
    let readme = repo_root().join("README.md");
    let anchors =
        [format!("amd-ark-milan={}", readme.display()), format!("amd-ask-milan={}", readme.display())];
    let run = command(
        &dir,
        &config,
        &snp(),
        &["-n", NONCE, "--trust-anchor", &anchors[0], "--trust-anchor", &anchors[1]],
    )
    .output()
    .expect("run");
    let stderr = text(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("refused the operator's inputs") && stderr.contains("README.md"), "{stderr}");
    assert!(run.stdout.is_empty(), "nothing is appraised: {}", text(&run.stdout));

    let run =
        command(&dir, &config, &snp(), &["-n", NONCE, "--check", "claim-equals"]).output().expect("run");
    let stderr = text(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("no configuration was given") && stderr.contains("--check claim-equals=FILE"),
        "{stderr}"
    );

    let run = command(&dir, &config, Path::new("/nonexistent/evidence.json"), &[]).output().expect("run");
    let stderr = text(&run.stderr);
    assert_eq!(stderr.matches("No such file or directory").count(), 1, "each cause said once: {stderr}");
}
