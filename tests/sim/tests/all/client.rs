//! The real project client, the `cvm-attest` binary, against the simulated environment: it
//! collects evidence through nothing but the TCTI and IMDS URL (`evidence collect --tpm … --imds …`),
//! and `verify` passes with the configuration the simulator writes (its test roots) and fails at the
//! chain without it (the built-in roots are AMD's, Intel's and Microsoft's). With a nonce, the fresh
//! HCL report carries it (`report-user-data`).

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support::{cvm_attest, plugin_dir, start, text};
use cvm_attest_sim::cvm::Tee;
use cvm_attest_sim::environment::Environment;

/// `evidence collect` from the environment into a bundle in its directory.
fn collect(environment: &Environment, nonce: Option<&str>) -> PathBuf {
    let bundle = environment.dir().join("evidence.json");
    let tcti = environment.cvm().tcti();
    let imds = environment.imds().url();
    // The simulated boot's log: the machine's own would not replay to the vTPM's PCRs.
    let log = environment.variables().into_iter().find(|(name, _)| *name == "CVM_ATTEST_EVENT_LOG");
    let log = log.expect("the event log variable").1;
    let mut args = vec!["evidence", "collect", "--tpm", &tcti, "--imds", &imds, "--out"];
    args.extend([bundle.to_str().expect("UTF-8"), "--event-log", &log]);
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
