//! Every file in `examples/` does what `examples/README.md` says, against the data it is for.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support::{cvm_attest, guest_dir, repo_root};

const SNP: &str = "examples/evidence/azure-sev-snp.json";
const TDX: &str = "examples/evidence/azure-tdx.json";
const MAA_CLAIMS: &str = "examples/claims/sharedweu-sevsnp-2023-03-30.json";

/// The binary run from the checkout, so that it finds the plugins built there.
fn run(args: &[&str]) -> Output {
    guest_dir();
    let cache = tempfile::tempdir().expect("tempdir");
    let config = cache.path().join("config.toml");
    std::fs::write(&config, format!("cache_dir = {:?}\n", cache.path().display().to_string()))
        .expect("config");
    let mut cmd = cvm_attest();
    if !args.contains(&"--config") {
        cmd.arg("--config").arg(&config);
    }
    cmd.current_dir(repo_root()).args(args).output().expect("run cvm-attest")
}

fn assert_ok(out: &Output, what: &str) {
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{what}:\n{stdout}\n{stderr}");
}

#[test]
fn every_example_is_described() {
    let readme = std::fs::read_to_string(repo_root().join("examples/README.md")).expect("examples/README.md");
    let mut missing = Vec::new();
    for file in files(&repo_root().join("examples")) {
        let name =
            file.strip_prefix(repo_root().join("examples")).expect("under examples").display().to_string();
        if !name.ends_with("README.md") && !readme.contains(&format!("({name})")) {
            missing.push(name);
        }
    }
    assert!(missing.is_empty(), "examples/README.md does not describe {missing:?}");
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() { out.extend(files(&path)) } else { out.push(path) }
    }
    out
}

#[test]
fn each_check_holds_for_the_claims_it_is_for() {
    for check in ["examples/checks/azure-cvm-baseline.json", "examples/checks/sevsnp-cvm.json"] {
        let out = run(&["plugin", "run", "claim-equals", "--claims", MAA_CLAIMS, "--plugin-config", check]);
        assert_ok(&out, &format!("{check} on the MAA token's claims"));
    }
    for (evidence, check) in [(SNP, "examples/checks/sevsnp-cvm.json"), (TDX, "examples/checks/tdx-cvm.json")]
    {
        let check_arg = format!("claim-equals={check}");
        let out = run(&["verify", "--evidence", evidence, "--nonce", "challenge", "--check", &check_arg]);
        assert_ok(&out, &format!("{check} on the offline result of {evidence}"));
    }
}

#[test]
fn each_policy_holds_on_maa_tokens_and_offline_results_it_is_for() {
    for policy in ["examples/policies/production-snp.json", "examples/policies/cpp-sample-bool.json"] {
        let out = run(&["plugin", "run", "policy", "--claims", MAA_CLAIMS, "--plugin-config", policy]);
        assert_ok(&out, &format!("{policy} on the MAA token's claims"));
    }
    for (evidence, policy) in [
        (SNP, "examples/policies/production-snp.json"),
        (SNP, "examples/policies/cpp-sample-bool.json"),
        (TDX, "examples/policies/production-tdx.json"),
        (TDX, "examples/policies/cpp-sample-bool.json"),
    ] {
        let check = format!("policy={policy}");
        let out = run(&["verify", "--evidence", evidence, "--nonce", "challenge", "--check", &check]);
        assert_ok(&out, &format!("{policy} on the offline result of {evidence}"));
    }
    // The wrong platform's policy fails, naming the rule and the claim.
    let check = "policy=examples/policies/production-tdx.json";
    let out = run(&["verify", "--evidence", SNP, "--nonce", "challenge", "--check", check]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("rule 3 ('Intel TDX'): expected \"tdxvm\", found \"sevsnpvm\""), "{stdout}");
}

#[test]
fn the_production_config_pins_every_shipped_plugin_and_verifies_without_a_warning() {
    let check = "claim-equals=examples/checks/sevsnp-cvm.json";
    let out = run(&[
        "--config",
        "examples/config.toml",
        "verify",
        "--evidence",
        SNP,
        "--nonce",
        "challenge",
        "--check",
        check,
        "-o",
        "summary",
    ]);
    assert_ok(&out, "verify with examples/config.toml");
    assert!(out.stderr.is_empty(), "no warning: {}", String::from_utf8_lossy(&out.stderr));
}
