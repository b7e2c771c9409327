//! `cvm-attest doctor` on the simulated CVM: everything attest needs is there and says so; with
//! MAA gone, only MAA is a problem. (TPMs Azure did not provision, an AK certificate not yet written
//! or expired, and no TPM at all: host/tests/all/doctor.rs.)

use std::process::Command;

use crate::support::{cvm_attest_binary, start, text};
use cvm_attest_sim::cvm::Tee;

#[test]
fn a_healthy_simulated_cvm_is_all_ok_and_a_missing_maa_is_the_one_problem() {
    for tee in [Tee::Snp, Tee::Tdx] {
        let environment = start(tee);
        let doctor = |args: &[&str]| {
            Command::new(cvm_attest_binary())
                .arg("doctor")
                .args(args)
                .env_remove("CVM_ATTEST_CONFIG")
                .env_remove("CVM_ATTEST_PLUGIN_PATH")
                .envs(environment.variables())
                .env("XDG_CACHE_HOME", environment.dir().join("cache"))
                .output()
                .expect("run cvm-attest")
        };
        let out = doctor(&[]);
        let report = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(out.status.code(), Some(0), "{tee}: {}", text(&out));
        for what in ["tpm", "hcl-report", "ak", "ak-cert", "imds", "maa", "plugins"] {
            assert!(
                report.lines().any(|l| l.starts_with("ok ") && l.contains(&format!(" {what} "))),
                "{tee}: {what}:\n{report}"
            );
        }
        assert!(report.contains("signing key(s) at https://127.0.0.1:"), "{tee}: MAA's keys:\n{report}");

        let out = doctor(&["-a", "https://127.0.0.1:1"]);
        let report = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(out.status.code(), Some(1), "{tee}: {}", text(&out));
        let problems: Vec<&str> = report.lines().filter(|l| l.starts_with("problem")).collect();
        assert!(problems.len() == 1 && problems[0].contains(" maa "), "{tee}:\n{report}");
    }
}
