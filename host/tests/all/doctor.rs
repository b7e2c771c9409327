//! `cvm-attest doctor` on TPMs that are not what attest needs: each fault it knows is reported as a
//! problem naming the cause and the fix, the other checks still run, and the exit status is 1. (A
//! healthy simulated CVM, all ok, is in tests/sim/tests/all/doctor.rs.)

use std::process::Output;

use crate::support::cvm_attest;
use crate::swtpm::{AK_CERT_INDEX, Swtpm};

const HCL_REPORT: &[u8] = include_bytes!("../../../formats/testdata/azure-snp/kinvolk-hcl-report-snp.bin");
/// A real AK certificate of a Trusted Launch VM, valid until 2025-10-30.
const EXPIRED_AK_CERT: &[u8] = include_bytes!("../../testdata/vtpm/azure-trustedvm-ak-cert.der");
/// Nothing listens here: IMDS and MAA are unreachable.
const NOWHERE: &str = "http://127.0.0.1:1";

fn doctor(tcti: &str) -> Output {
    let dir = tempfile::tempdir().expect("tempdir");
    cvm_attest()
        .args(["doctor", "--tpm", tcti, "--imds", NOWHERE, "-a", NOWHERE, "--timeout", "5", "--plugin-dir"])
        .arg(dir.path())
        .output()
        .expect("run")
}

/// The report's line for `what`: its status and detail.
fn line(out: &Output, what: &str) -> (String, String) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(what))
        .unwrap_or_else(|| panic!("no {what} line:\n{stdout}"));
    let (status, rest) = line.split_once("  ").expect("status, then the rest");
    (status.trim().to_owned(), rest.trim_start().trim_start_matches(what).trim().to_owned())
}

#[test]
fn no_tpm_is_a_problem_and_the_rest_is_still_checked() {
    let out = doctor("swtpm:host=127.0.0.1,port=1");
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let (status, detail) = line(&out, "tpm");
    assert!(status == "problem" && detail.contains("cannot connect to the TPM"), "{detail}");
    let (status, detail) = line(&out, "imds");
    assert!(status == "problem" && detail.contains("elsewhere pass --imds URL"), "{detail}");
    let (status, detail) = line(&out, "maa");
    assert!(status == "problem" && detail.contains("127.0.0.1:1"), "{detail}");
    assert_eq!(line(&out, "plugins").0, "ok", "plugins are checked without a TPM");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("3 problem(s)"), "{stderr}");
}

#[test]
fn a_tpm_that_azure_did_not_provision_is_named_as_such() {
    let tpm = Swtpm::start();
    let out = doctor(&tpm.tcti());
    assert_eq!(line(&out, "tpm").0, "ok");
    let (status, detail) = line(&out, "hcl-report");
    assert!(
        status == "problem" && detail.contains("0x01400001") && detail.contains("not an Azure"),
        "{detail}"
    );
    assert_eq!(line(&out, "ak").0, "problem");
    assert_eq!(line(&out, "ak-cert").0, "problem");
}

#[test]
fn an_ak_certificate_index_never_written_is_tpm_rc_nv_uninitialized() {
    // The certificate's index defined but empty, as before Azure writes it (0x14a).
    let fresh = Swtpm::start();
    fresh.define_nv(AK_CERT_INDEX, 1024);
    let (status, detail) = line(&doctor(&fresh.tcti()), "ak-cert");
    assert!(status == "problem" && detail.contains("TPM_RC_NV_UNINITIALIZED"), "{detail}");
    assert!(detail.contains("Azure has not provisioned it yet"), "{detail}");
}

#[test]
fn an_expired_ak_certificate_is_a_problem_the_rest_ok() {
    let tpm = Swtpm::start();
    tpm.provision_like_azure(HCL_REPORT, EXPIRED_AK_CERT);
    let out = doctor(&tpm.tcti());
    for what in ["tpm", "hcl-report", "ak"] {
        assert_eq!(line(&out, what).0, "ok", "{what}: {}", String::from_utf8_lossy(&out.stdout));
    }
    let (status, detail) = line(&out, "ak-cert");
    assert!(status == "problem" && detail.contains("expired on 2025-10-30"), "{detail}");
    assert!(detail.contains("Azure renews it through IMDS"), "{detail}");
}
