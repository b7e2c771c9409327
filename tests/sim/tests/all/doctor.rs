//! `cvm-attest doctor` on the simulated CVM: everything attest needs is there and says so, and an
//! attestation passes, with MAA or with the offline verifier; with MAA gone, only MAA is a problem (the attestation is not tried); with
//! Secure Boot off, MAA's policy refuses the attestation and doctor says how to turn it on. (TPMs Azure did not provision, an AK certificate not yet written
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
        for what in ["tpm", "hcl-report", "ak", "ak-cert", "imds", "maa", "plugins", "attest"] {
            assert!(
                report.lines().any(|l| l.starts_with("ok ") && l.contains(&format!(" {what} "))),
                "{tee}: {what}:\n{report}"
            );
        }
        assert!(report.contains("signing key(s) at https://127.0.0.1:"), "{tee}: MAA's keys:\n{report}");
        let tee_name = if tee == Tee::Snp { "sevsnpvm" } else { "tdxvm" };
        let attested =
            format!("attested a compliant {tee_name} CVM (MAA AzureGuest request); its token verified");
        assert!(report.contains(&attested), "{tee}:\n{report}");

        // With a verifier plugin, as `attest --verifier offline` would run: no MAA involved.
        let config = environment.variables().into_iter().find(|(name, _)| *name == "CVM_ATTEST_SIM_CONFIG");
        let config = config.expect("the simulator's configuration").1;
        let out = doctor(&["--config", &config, "--verifier", "offline"]);
        let report = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(out.status.code(), Some(0), "{tee}: {}", text(&out));
        assert!(report.contains(&format!("offline accepted a compliant {tee_name} CVM")), "{tee}:\n{report}");
        assert!(report.lines().any(|l| l.starts_with("ok       verifier")), "{tee}:\n{report}");
        assert!(!report.contains(" maa "), "{tee}: MAA is not what attest would use:\n{report}");

        let out = doctor(&["-a", "https://127.0.0.1:1"]);
        let report = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(out.status.code(), Some(1), "{tee}: {}", text(&out));
        let problems: Vec<&str> = report.lines().filter(|l| l.starts_with("problem")).collect();
        assert!(problems.len() == 1 && problems[0].contains(" maa "), "{tee}:\n{report}");
        assert!(!report.contains(" attest "), "{tee}: not tried without MAA:\n{report}");
    }
}

#[test]
fn secure_boot_off_is_refused_by_maa_and_doctor_and_attest_say_how_to_turn_it_on() {
    // The simulator's own binary, with the flag, running the commands in the simulated CVM: doctor,
    // attest with MAA, and attest appraised locally by the offline verifier under the production
    // policy, which names the claim.
    let policy = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/policies/production-snp.json");
    let script = format!(
        r#"cvm-attest doctor; echo "doctor exit $?"; cvm-attest attest; echo "attest exit $?"
        cvm-attest --config "$CVM_ATTEST_SIM_CONFIG" attest --verifier offline --check policy={policy} -o summary
        echo "local exit $?""#
    );
    let bin_dir = cvm_attest_binary().parent().expect("the binary's directory");
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    let out = Command::new(env!("CARGO_BIN_EXE_cvm-attest-sim"))
        .args(["run", "--secure-boot-off", "--", "sh", "-c", &script])
        .env("PATH", path)
        .env_remove("CVM_ATTEST_PLUGIN_PATH")
        .output()
        .expect("run cvm-attest-sim");
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    let advice = "Secure Boot is off in this VM: turn it on";
    // doctor: everything is there, and the attestation is the one problem, with the advice.
    let problems: Vec<&str> = all.lines().filter(|l| l.starts_with("problem")).collect();
    assert!(problems.len() == 1 && problems[0].contains(" attest "), "{all}");
    assert!(problems[0].contains("policy claim secureboot = false") && problems[0].contains(advice), "{all}");
    assert!(all.contains("doctor exit 1"), "{all}");
    // attest: false, exit 1, the same advice on stderr.
    assert!(all.contains("false\n") && all.contains("attest exit 1"), "{all}");
    assert!(all.matches(advice).count() == 2, "{all}");
    assert!(all.contains("local exit 1") && all.contains("check policy            FAIL"), "{all}");
    assert!(all.contains("- /secureboot: rule 2 ('secure boot on'): expected true, found false"), "{all}");
}
