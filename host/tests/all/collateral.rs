//! Collateral and time through the real binary: Intel's signed TCB Info deciding the TDX TCB status,
//! CRLs, collateral carried in a bundle, and `--at` judging validity as of a given day.

use std::path::{Path, PathBuf};
use std::process::Output;

use cvm_attest_formats::bundle::{EvidenceBundle, Timestamp};
use serde_json::Value;

use crate::support::{self, repo_root};

const SNP: &str = "examples/evidence/azure-sev-snp.json";
const TDX: &str = "examples/evidence/azure-tdx.json";
const TCB_INFO: &str = "formats/testdata/intel/tdx-tcbinfo-00806f050000-2025-10-19.json";
const QE_IDENTITY: &str = "formats/testdata/intel/tdx-qeidentity-2025-10-13.json";
const SIGNING_CHAIN: &str = "formats/testdata/intel/tcb-signing-chain-2025.pem";
const MILAN_CRL: &str = "formats/testdata/crl/milan-vcek-crl-2026-06-22.der";
/// Inside the validity of the 2025-10 TCB Info and TD_QE identity.
const OCTOBER_2025: &str = "2025-10-20T00:00:00Z";

/// `verify` of `evidence` with the nonce its quote carries, as JSON.
fn verify(evidence: &Path, args: &[&str]) -> Output {
    let args: Vec<&str> = ["-n", "challenge", "-o", "json"].iter().chain(args).copied().collect();
    support::verify(evidence, &args)
}

fn intel_collateral(tcb_info: &str) -> Vec<String> {
    intel_collateral_with(tcb_info, QE_IDENTITY)
}

fn intel_collateral_with(tcb_info: &str, qe_identity: &str) -> Vec<String> {
    [("tdx-tcb-info", tcb_info), ("tdx-qe-identity", qe_identity), ("intel-tcb-signing-chain", SIGNING_CHAIN)]
        .iter()
        .flat_map(|(name, file)| ["--collateral".to_owned(), format!("{name}={file}")])
        .collect()
}

/// The JSON document, after asserting the exit status.
fn document(run: &Output, status: i32) -> Value {
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(status), "{stderr}");
    serde_json::from_slice(&run.stdout).unwrap_or_else(|e| panic!("JSON ({e}): {stderr}"))
}

/// `(status, detail)` of the step `name`.
fn step(document: &Value, name: &str) -> (String, String) {
    let steps = document["steps"].as_array().expect("steps");
    let step =
        steps.iter().find(|s| s["name"] == name).unwrap_or_else(|| panic!("no step {name}: {steps:#?}"));
    let text = |key: &str| step[key].as_str().expect("a string").to_owned();
    (text("status"), text("detail"))
}

fn args<'a>(owned: &'a [String], more: &[&'a str]) -> Vec<&'a str> {
    owned.iter().map(String::as_str).chain(more.iter().copied()).collect()
}

#[test]
fn the_tdx_example_is_out_of_date_against_intels_october_2025_tcb_info() {
    let collateral = intel_collateral(TCB_INFO);
    let run = verify(&repo_root().join(TDX), &args(&collateral, &["--at", OCTOBER_2025]));
    let json = document(&run, 0);
    let (status, detail) = step(&json, "tdx-tcb-status");
    assert_eq!(status, "passed", "{detail}");
    for expected in ["OutOfDate", "INTEL-SA-00960", "INTEL-SA-00982", "INTEL-SA-00986"] {
        assert!(detail.contains(expected), "{expected} in {detail}");
    }
    assert_eq!(json["judged_at"], OCTOBER_2025);
    let tee = &json["claims"]["x-ms-isolation-tee"];
    assert_eq!(tee["attester_tcb_status"], "OutOfDate", "{tee:#}");
}

/// `examples/checks/tdx-tcb-up-to-date.json` refuses the example platform, out of date in October 2025:
/// the evidence is genuine, the check decides on the TCB status.
#[test]
fn a_claim_check_can_refuse_an_out_of_date_platform() {
    let collateral = intel_collateral(TCB_INFO);
    let check = "claim-equals=examples/checks/tdx-tcb-up-to-date.json";
    let run = verify(&repo_root().join(TDX), &args(&collateral, &["--at", OCTOBER_2025, "--check", check]));
    let json = document(&run, 1);
    assert_eq!(json["verified"], true, "the evidence itself is genuine");
    assert_eq!(json["checks_passed"], false);
    let findings = json["checks"][0]["verdict"].to_string();
    assert!(findings.contains("attester_tcb_status"), "{findings}");
}

#[test]
fn tampered_tcb_info_fails_at_its_signature() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = std::fs::read_to_string(repo_root().join(TCB_INFO)).expect("TCB Info");
    let tampered = dir.path().join("tcb-info.json");
    std::fs::write(&tampered, text.replacen("\"UpToDate\"", "\"Revoked\"", 1)).expect("write");
    let collateral = intel_collateral(tampered.to_str().expect("UTF-8 path"));
    let json = document(&verify(&repo_root().join(TDX), &args(&collateral, &["--at", OCTOBER_2025])), 1);
    let (status, detail) = step(&json, "tdx-tcb-status");
    assert_eq!(status, "failed");
    assert!(detail.contains("signature"), "{detail}");
    assert_eq!(json["claims"], Value::Null);
}

#[test]
fn a_tcb_info_for_another_platform_is_refused() {
    // Emerald Rapids collateral of June 2025, current then.
    let collateral = intel_collateral_with(
        "formats/testdata/intel/tdx-tcbinfo-90c06f000000-2025-06-05.json",
        "formats/testdata/intel/tdx-qeidentity-2025-06-04.json",
    );
    let json =
        document(&verify(&repo_root().join(TDX), &args(&collateral, &["--at", "2025-06-10T00:00:00Z"])), 1);
    let (status, detail) = step(&json, "tdx-tcb-status");
    assert_eq!(status, "failed");
    assert!(detail.contains("90c06f000000") && detail.contains("00806f050000"), "{detail}");
}

#[test]
fn expired_collateral_is_reported_not_used() {
    let collateral = intel_collateral(TCB_INFO);
    let json =
        document(&verify(&repo_root().join(TDX), &args(&collateral, &["--at", "2026-12-01T00:00:00Z"])), 1);
    let (status, detail) = step(&json, "tdx-tcb-status");
    assert_eq!(status, "failed");
    assert!(detail.contains("2025-11-18"), "names the nextUpdate: {detail}");
}

#[test]
fn without_collateral_the_tcb_status_is_not_evaluated_and_says_what_to_supply() {
    let json = document(&verify(&repo_root().join(TDX), &["--at", OCTOBER_2025]), 0);
    let (status, detail) = step(&json, "tdx-tcb-status");
    assert_eq!(status, "not-evaluated");
    assert!(detail.contains("tdx-tcb-info"), "{detail}");
}

/// The SNP example as a bundle carrying `crl` as its `amd-crl`.
fn snp_bundle_with_crl(dir: &Path, crl: Vec<u8>) -> PathBuf {
    let coco = std::fs::read(repo_root().join(SNP)).expect("example");
    let at = Timestamp::parse("2026-07-01T00:00:00Z").expect("timestamp");
    let mut bundle = EvidenceBundle::from_coco_json(&coco, at).expect("example evidence");
    bundle.collateral.insert("amd-crl".to_owned(), crl);
    let path = dir.join("bundle.json");
    std::fs::write(&path, bundle.to_json()).expect("bundle");
    path
}

#[test]
fn a_bundle_carries_its_collateral_and_the_operators_file_replaces_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let genuine = std::fs::read(repo_root().join(MILAN_CRL)).expect("CRL");
    let bundle = snp_bundle_with_crl(dir.path(), genuine.clone());
    let json = document(&verify(&bundle, &["--at", "2026-07-01T00:00:00Z"]), 0);
    assert_eq!(step(&json, "snp-revocation").0, "passed", "the bundle's CRL was used");

    let mut tampered = genuine;
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    let bundle = snp_bundle_with_crl(dir.path(), tampered);
    let json = document(&verify(&bundle, &["--at", "2026-07-01T00:00:00Z"]), 1);
    assert_eq!(step(&json, "snp-revocation").0, "failed", "a bundle's CRL is checked like any other");
    let crl = format!("amd-crl={MILAN_CRL}");
    let json = document(&verify(&bundle, &["--at", "2026-07-01T00:00:00Z", "--collateral", &crl]), 0);
    assert_eq!(step(&json, "snp-revocation").0, "passed", "the operator's CRL replaced the bundle's");
}

#[test]
fn at_judges_certificate_validity() {
    let json = document(&verify(&repo_root().join(SNP), &["--at", "2019-01-01T00:00:00Z"]), 1);
    let (status, detail) = step(&json, "snp-vcek-chain");
    assert_eq!(status, "failed");
    assert!(detail.contains("2019-01-01T00:00:00Z"), "names the time: {detail}");
    assert_eq!(json["judged_at"], "2019-01-01T00:00:00Z");
}

/// The request body of one of MAA's REST examples (`AttestAzureGuestVm.json`, whose client sent
/// `request`, or `AttestSevSnpVm.json`, whose `body`), written to a file.
fn maa_request(dir: &Path, name: &str, member: &str) -> PathBuf {
    let path = repo_root().join("formats/testdata/maa-rest-spec").join(name);
    let example: Value = serde_json::from_slice(&std::fs::read(path).expect("example")).expect("JSON");
    let path = dir.join(name);
    std::fs::write(&path, example["parameters"][member].to_string()).expect("request");
    path
}

fn azure_guest_request(dir: &Path) -> PathBuf {
    maa_request(dir, "AttestAzureGuestVm.json", "request")
}

fn summary_kind(evidence: &Path) -> Value {
    let shown = crate::support::cvm_attest()
        .args(["evidence", "show", "-o", "json"])
        .arg(evidence)
        .output()
        .expect("run cvm-attest");
    let summary: Value = serde_json::from_slice(&shown.stdout).expect("JSON");
    summary["kind"].clone()
}

#[test]
fn an_azure_guest_request_verifies_as_of_its_day_and_its_ak_chain_has_expired_today() {
    let dir = tempfile::tempdir().expect("tempdir");
    let request = azure_guest_request(dir.path());
    let run = support::verify(&request, &["-o", "json", "--at", "2024-06-01T00:00:00Z"]);
    let json = document(&run, 0);
    assert_eq!(json["evidence"]["platform"], "azure-trusted-launch");
    assert_eq!(step(&json, "vtpm-ak-cert").0, "passed");
    assert_eq!(step(&json, "eventlog-replay").0, "passed");
    assert_eq!(json["claims"]["x-ms-attestation-type"], "azurevm");

    let json = document(&support::verify(&request, &["-o", "json"]), 1);
    let (status, detail) = step(&json, "vtpm-ak-cert");
    assert_eq!(status, "failed");
    assert!(detail.starts_with("Global Virtual TPM CA - 01 expired on 2025-11-03"), "{detail}");

    assert_eq!(summary_kind(&request), "maa-azure-guest");
}

#[test]
fn a_sevsnpvm_request_verifies_to_platform_claims_and_an_unbound_nonce_fails() {
    let dir = tempfile::tempdir().expect("tempdir");
    let request = maa_request(dir.path(), "AttestSevSnpVm.json", "body");
    assert_eq!(summary_kind(&request), "maa-sev-snp-vm");
    // As of the day MAA issued its token for this request.
    let at = ["-o", "json", "--at", "2022-09-21T21:47:31Z"];
    let json = document(&support::verify(&request, &at), 0);
    assert_eq!(json["evidence"]["platform"], "azure-sev-snp");
    assert_eq!(step(&json, "snp-report-signature").0, "passed");
    assert_eq!(step(&json, "hcl-binding").0, "passed");
    assert_eq!(step(&json, "vtpm").0, "not-evaluated");
    assert_eq!(json["claims"]["x-ms-attestation-type"], "sevsnpvm");
    assert_eq!(json["claims"]["x-ms-runtime"]["keys"][0]["kid"], "HCLTransferKey");

    // No vTPM quote and no user data in the report: nothing binds a nonce.
    let json = document(&support::verify(&request, &[&at[..], &["-n", "noncesevsnp987"]].concat()), 1);
    let (status, detail) = step(&json, "report-user-data");
    assert_eq!(status, "failed");
    assert!(detail.starts_with("nothing binds the expected nonce"), "{detail}");
}
