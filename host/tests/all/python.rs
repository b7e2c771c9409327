//! A claim check written in Python (`plugins/python/secure-boot`, built by componentize-py with
//! `scripts/build-python-plugin.sh`), run by the binary like any plugin: the WIT contract is all a
//! plugin is held to, whatever language it is written in. It needs componentize-py (pinned;
//! `scripts/setup-debian12.sh` installs it): without it these tests fail, naming the command that
//! installs it.

use std::path::Path;
use std::process::Output;

use crate::support::{self, text};

const NAME: &str = "py-secure-boot";

/// The built plugin: `py-secure-boot.wasm` and its manifest. Panics, naming the prerequisite, when
/// componentize-py is missing: a test that cannot build what it tests fails, it is not skipped.
fn built() -> &'static Path {
    support::python_plugin_dir().unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn python_check_runs_in_the_binary_as_the_rust_one_does() {
    // The shipped plugins (the offline verifier for `verify`) and the Python check in one directory,
    // with one compiled-code cache: the 18 MB component is compiled once, by the first command.
    let (dir, config) = support::shipped_plugins();
    for file in [format!("{NAME}.wasm"), format!("{NAME}.toml")] {
        std::fs::copy(built().join(&file), dir.path().join(&file)).expect("install the Python plugin");
    }
    let run = |args: &[&str]| -> Output {
        support::cvm_attest_with(&dir, &config).args(args).output().expect("run cvm-attest")
    };
    let with_claims = |name: &str, claims: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, claims).expect("claims");
        run(&["plugin", "run", NAME, "--claims", path.to_str().expect("UTF-8 path")])
    };

    // Real MAA claims (secure boot on): pass.
    let out = with_claims("on.json.in", &support::maa_claims());
    assert!(out.status.success(), "{}\n{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stdout).contains("pass"), "{}", text(&out.stdout));

    // The same claims with secure boot off: the Python finding, exit 1.
    let off = support::maa_claims().replacen("\"secureboot\":true", "\"secureboot\":false", 1);
    assert_ne!(off, support::maa_claims(), "the fixture has secureboot true");
    let out = with_claims("off.json.in", &off);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    assert!(report.contains("secure-boot-off") && report.contains("/secureboot"), "{report}");

    // Configuration it does not take is refused by its validate-config: an input error (exit 2).
    let out = run(&[
        "plugin",
        "run",
        NAME,
        "--claims",
        "examples/claims/sharedweu-sevsnp-2023-03-30.json",
        "--plugin-config",
        "examples/checks/sevsnp-cvm.json",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    // Python's own message (app.py), through the contract's invalid-config error.
    let refusal = "rejected its configuration: this plugin takes no configuration";
    assert!(text(&out.stderr).contains(refusal), "{}", text(&out.stderr));

    // What it imports: the plugin contract's types, no WASI (componentize-py's --stub-wasi).
    let wasm = dir.path().join(format!("{NAME}.wasm"));
    let out = run(&["plugin", "inspect", "-o", "json", wasm.to_str().expect("UTF-8 path")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("inspect's JSON");
    assert_eq!(
        report["inspection"]["imports"],
        serde_json::json!(["cvm-attest:plugin/types@0.1.1"]),
        "{report}"
    );
    assert_eq!(report["inspection"]["kind"], "claim-check", "{report}");
    assert_eq!(report["loads"], true, "{report}");

    // And as a check of `verify`, on claims the offline verifier appraised from real evidence.
    let out = run(&[
        "verify",
        "--evidence",
        "examples/evidence/azure-sev-snp.json",
        "--nonce",
        "challenge",
        "--check",
        NAME,
    ]);
    assert!(out.status.success(), "{}\n{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stdout).contains(NAME), "{}", text(&out.stdout));
}
