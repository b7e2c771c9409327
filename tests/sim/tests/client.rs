//! The real project client, the `cvm-attest` binary, against the simulated environment: it
//! collects evidence through nothing but the TCTI and IMDS URL (`evidence collect --tpm … --imds …`),
//! and `verify` passes with the configuration the simulator writes (its test roots) and fails at the
//! chain without it (the built-in roots are AMD's, Intel's and Microsoft's). With a nonce, the fresh
//! HCL report carries it (`report-user-data`).
//!
//! The binary belongs to another package of the workspace, so `env!("CARGO_BIN_EXE_…")` cannot name
//! it: it is built once per test process with the cargo that runs the tests, into the same target
//! directory and profile (a no-op when up to date), and run from there. The `offline` verifier
//! plugin is built from source as the host's tests build it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use cvm_attest_sim::cvm::Tee;
use cvm_attest_sim::environment::{Environment, EnvironmentOptions};

fn repo_root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(repo_root());
    command
}

/// `target/<profile>/cvm-attest`, built now: this test's executable is `target/<profile>/deps/…`.
fn cvm_attest_binary() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let exe = std::env::current_exe().expect("the test executable's path");
        let profile_dir = exe.parent().and_then(Path::parent).expect("target/<profile>/deps/<test>");
        let target_dir = profile_dir.parent().expect("target/<profile>");
        let mut build = cargo();
        build
            .args(["build", "--quiet", "-p", "cvm-attest", "--bin", "cvm-attest", "--target-dir"])
            .arg(target_dir);
        if profile_dir.file_name().is_some_and(|name| name == "release") {
            build.arg("--release");
        }
        let status = build.status().expect("run cargo");
        assert!(status.success(), "building cvm-attest failed ({status})");
        profile_dir.join("cvm-attest")
    })
}

/// A plugin directory holding the `offline` verifier built from source (as `host/tests` build it).
fn plugin_dir() -> &'static Path {
    static STAGED: OnceLock<PathBuf> = OnceLock::new();
    STAGED.get_or_init(|| {
        let plugins = repo_root().join("plugins");
        let target = plugins.join("target");
        let status = cargo()
            // The whole guest workspace, exactly as host/tests build it, so that neither rebuilds
            // the other's output.
            .args(["build", "--quiet", "--release", "--target", "wasm32-wasip2", "--manifest-path"])
            .arg(plugins.join("Cargo.toml"))
            .arg("--target-dir")
            .arg(&target)
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .status()
            .expect("run cargo");
        assert!(
            status.success(),
            "building the offline verifier plugin failed ({status}); it needs the wasm32-wasip2 target: \
             `rustup target add wasm32-wasip2`"
        );
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sim-client-plugins");
        std::fs::create_dir_all(&dir).expect("plugin dir");
        std::fs::copy(target.join("wasm32-wasip2/release/offline.wasm"), dir.join("offline.wasm"))
            .expect("copy the offline verifier");
        std::fs::copy(plugins.join("offline-verifier/offline.toml"), dir.join("offline.toml"))
            .expect("copy its manifest");
        dir
    })
}

/// `cvm-attest ARGS…` with nothing from the caller's environment steering it.
fn cvm_attest(args: &[&str]) -> Output {
    Command::new(cvm_attest_binary())
        .args(args)
        .env_remove("CVM_ATTEST_CONFIG")
        .env_remove("CVM_ATTEST_PLUGIN_PATH")
        .env_remove("CVM_ATTEST_TCTI")
        .env_remove("CVM_ATTEST_IMDS_URL")
        .env_remove("RUST_LOG")
        .env("XDG_CACHE_HOME", Path::new(env!("CARGO_TARGET_TMPDIR")).join("sim-client-cache"))
        .output()
        .expect("run cvm-attest")
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

fn start(tee: Tee) -> Environment {
    Environment::start(EnvironmentOptions { tee, dir: None, location: None })
        .unwrap_or_else(|e| panic!("start the simulated {tee} environment: {e}"))
}

/// `evidence collect` from the environment into a bundle in its directory.
fn collect(environment: &Environment, nonce: Option<&str>) -> PathBuf {
    let bundle = environment.dir().join("evidence.json");
    let tcti = environment.cvm().tcti();
    let imds = environment.imds().url();
    // A real event log of the machine running the tests would not replay to the vTPM's PCRs.
    let no_event_log = environment.dir().join("no-event-log");
    let mut args = vec!["evidence", "collect", "--tpm", &tcti, "--imds", &imds, "--out"];
    let (bundle_arg, log_arg) = (bundle.to_str().expect("UTF-8"), no_event_log.to_str().expect("UTF-8"));
    args.extend([bundle_arg, "--event-log", log_arg]);
    if let Some(nonce) = nonce {
        args.extend(["--nonce", nonce]);
    }
    let output = cvm_attest(&args);
    assert!(output.status.success(), "evidence collect failed: {}", text(&output));
    bundle
}

/// `verify --evidence BUNDLE` with the offline plugin, the simulator's configuration when `config`.
fn verify(environment: &Environment, bundle: &Path, config: bool, extra: &[&str]) -> Output {
    let plugins = plugin_dir().to_str().expect("UTF-8");
    let mut args = vec!["verify", "--plugin-dir", plugins, "--evidence", bundle.to_str().expect("UTF-8")];
    let config_path = environment.config_path().to_str().expect("UTF-8");
    if config {
        args.extend(["--config", config_path]);
    }
    args.extend(extra);
    cvm_attest(&args)
}

#[test]
fn snp_evidence_collected_by_the_client_verifies_under_the_simulators_configuration_only() {
    let environment = start(Tee::Snp);
    let bundle = collect(&environment, Some("snp challenge"));

    let output = verify(&environment, &bundle, true, &["--nonce", "snp challenge"]);
    let report = text(&output);
    assert_eq!(output.status.code(), Some(0), "{report}");
    for step in ["snp-vcek-chain", "vtpm-ak-cert", "vtpm-quote-nonce", "report-user-data", "hcl-binding"] {
        assert!(
            report.lines().any(|l| l.trim_start().starts_with(&format!("pass  {step} "))),
            "{step}: {report}"
        );
    }

    let output = verify(&environment, &bundle, false, &["--nonce", "snp challenge"]);
    let report = text(&output);
    assert_eq!(output.status.code(), Some(1), "{report}");
    assert!(report.contains("failed at step `snp-vcek-chain`"), "{report}");

    let output = verify(&environment, &bundle, true, &["--nonce", "another challenge"]);
    assert_eq!(output.status.code(), Some(1), "a stale nonce: {}", text(&output));
}

#[test]
fn tdx_evidence_collected_by_the_client_verifies_under_the_simulators_configuration_only() {
    let environment = start(Tee::Tdx);
    let bundle = collect(&environment, Some("tdx challenge"));

    let output = verify(&environment, &bundle, true, &["--nonce", "tdx challenge"]);
    let report = text(&output);
    assert_eq!(output.status.code(), Some(0), "{report}");
    for step in ["tdx-pck-chain", "tdx-td-report-match", "vtpm-ak-cert", "report-user-data"] {
        assert!(
            report.lines().any(|l| l.trim_start().starts_with(&format!("pass  {step} "))),
            "{step}: {report}"
        );
    }

    let output = verify(&environment, &bundle, false, &["--nonce", "tdx challenge"]);
    let report = text(&output);
    assert_eq!(output.status.code(), Some(1), "{report}");
    assert!(report.contains("failed at step `tdx-pck-chain`"), "{report}");
}

#[test]
fn without_a_nonce_the_boot_report_is_collected_and_still_verifies() {
    let environment = start(Tee::Snp);
    let bundle = collect(&environment, None);
    let output = verify(&environment, &bundle, true, &[]);
    let report = text(&output);
    assert_eq!(output.status.code(), Some(0), "{report}");
    assert!(report.contains("n/a   report-user-data"), "{report}");
}
