//! `cvm-attest evidence collect` and `evidence show` end to end: the real binary against a private
//! swtpm provisioned like an Azure SEV-SNP vTPM and a loopback HTTP server answering like IMDS.
//! (TDX collection needs a 2600-byte HCL report, more than swtpm's 2048-byte NV limit; the simulated
//! CVM's paravisor serves it.)

use std::path::Path;
use std::process::Output;

use cvm_attest_formats::bundle::{EvidenceBundle, Platform};
use cvm_attest_formats::nonce;
use cvm_attest_formats::thim::ThimCertification;
use cvm_attest_formats::tpm::{self, Attest, HashAlg, Public};

use crate::imds::serve;
use crate::support::cvm_attest;
use crate::swtpm::{EXTENDED_PCRS, Swtpm, expected_pcr};

const HCL_REPORT: &[u8] = include_bytes!("../../../formats/testdata/azure-snp/kinvolk-hcl-report-snp.bin");
const AK_CERT: &[u8] = include_bytes!("../../testdata/vtpm/azure-trustedvm-ak-cert.der");
const THIM: &[u8] = include_bytes!("../../../formats/testdata/thim/sidecar-uvm_host_amd_certificate.json");
const EVENT_LOG: &[u8] = include_bytes!("../../../formats/testdata/eventlog/trustee-CCEL_data_ovmf");
const USER_DATA_INDEX: u32 = 0x0140_0002;

fn collect(tpm: &Swtpm, imds: &str, out: &Path, extra: &[&str]) -> Output {
    let log = out.with_file_name("event-log.bin");
    std::fs::write(&log, EVENT_LOG).expect("write event log");
    cvm_attest()
        .args(["evidence", "collect", "--tpm", &tpm.tcti(), "--imds", imds, "--out"])
        .arg(out)
        .arg("--event-log")
        .arg(&log)
        .args(extra)
        .output()
        .expect("run cvm-attest")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn collects_a_bundle_that_verifies_against_the_tpm() {
    let tpm = Swtpm::start();
    let ak_public = tpm.provision_like_azure(HCL_REPORT, AK_CERT);
    let (imds, _) = serve(vec![(200, THIM.to_vec())]);
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("evidence.json");

    let run = collect(&tpm, &imds, &out, &["--nonce", "workshop-42", "--pcrs", "0-7,14"]);
    assert!(run.status.success(), "collect failed: {}", stderr(&run));
    let bundle = EvidenceBundle::from_json(&std::fs::read(&out).expect("bundle written")).expect("bundle v1");

    assert_eq!(bundle.platform, Platform::AzureSevSnp);
    assert_eq!(bundle.nonce.as_deref(), Some(&b"workshop-42"[..]));
    assert_eq!(bundle.hcl_report, HCL_REPORT);
    let thim = ThimCertification::parse(THIM).expect("THIM fixture");
    assert_eq!(bundle.vcek_chain.as_deref(), Some(thim.vcek_chain_pem().as_str()));
    assert_eq!(bundle.td_quote, None);
    assert_eq!(bundle.event_log.as_deref(), Some(EVENT_LOG));
    assert_eq!(bundle.os.as_ref().map(|os| os.os_type.as_str()), Some("Linux"));

    // The nonce went into the report user data (zero-padded to 64 bytes)...
    let (user_data, _) = tpm.read_nv(USER_DATA_INDEX);
    assert_eq!(user_data, nonce::user_data(b"workshop-42"));

    // ...and into a quote the provisioned AK signed, over exactly the PCRs asked for.
    let tpm_evidence = bundle.tpm.as_ref().expect("vTPM evidence");
    assert_eq!(tpm_evidence.ak_public, ak_public);
    assert_eq!(tpm_evidence.ak_cert.as_deref(), Some(AK_CERT));
    let ak = Public::parse_tpm2b(&ak_public).expect("AK public");
    tpm::verify_rsassa_sha256(&ak, &tpm_evidence.quote, &tpm_evidence.quote_signature)
        .expect("quote signature");
    let attest = Attest::parse(&tpm_evidence.quote).expect("TPMS_ATTEST");
    assert_eq!(attest.extra_data(), nonce::bound(b"workshop-42"));
    let pcrs: Vec<u8> = tpm_evidence.pcrs.values().keys().copied().collect();
    assert_eq!(pcrs, [0, 1, 2, 3, 4, 5, 6, 7, 14]);
    for index in EXTENDED_PCRS.iter().filter(|i| pcrs.contains(i)) {
        assert_eq!(tpm_evidence.pcrs.get(*index), Some(&expected_pcr(*index)[..]), "PCR {index}");
    }
    let digest = tpm::pcr_digest(HashAlg::Sha256, tpm_evidence.pcrs.values().values().map(Vec::as_slice));
    assert_eq!(attest.quote().expect("a quote").pcr_digest, digest);

    // The ephemeral key is certified by the same AK.
    let key = tpm_evidence.ephemeral_key.as_ref().expect("ephemeral key");
    tpm::verify_rsassa_sha256(&ak, &key.certify_info, &key.certify_signature).expect("certify signature");
    let certified = Attest::parse(&key.certify_info).expect("certify TPMS_ATTEST");
    let key_public = Public::parse_tpm2b(&key.public).expect("ephemeral key public");
    assert_eq!(certified.certify().expect("certify info").name, key_public.name());

    // swtpm computed its authPolicy (PolicyPCR in a trial session over the quoted values): the
    // software digest over the quoted selection and the bundle's PCRs is the same.
    let selection = &attest.quote().expect("a quote").pcr_select;
    let policy = tpm::policy_pcr(
        key_public.name_alg(),
        selection,
        tpm_evidence.pcrs.values().values().map(Vec::as_slice),
    );
    assert_eq!(hex::encode(key_public.auth_policy()), hex::encode(policy));
    assert!(!key_public.object_attributes().user_with_auth(), "usable only through its policy");

    // `evidence show` reads it back and its consistency checks hold.
    let show = cvm_attest().args(["evidence", "show", "-o", "json"]).arg(&out).output().expect("run show");
    assert!(show.status.success(), "show failed: {}", stderr(&show));
    let summary: serde_json::Value = serde_json::from_slice(&show.stdout).expect("JSON summary");
    assert_eq!(summary["kind"], "cvm-attest-evidence");
    assert_eq!(summary["evidence"]["nonce"]["text"], "workshop-42");
    let checks = summary["checks"].as_array().expect("checks");
    for name in ["hcl-binding", "quote-pcr-digest"] {
        let check = checks.iter().find(|c| c["name"] == name).unwrap_or_else(|| panic!("no {name} check"));
        assert_eq!(check["holds"], true, "{check}");
    }
}

#[test]
fn a_vm_without_the_hcl_report_fails_with_the_cause_and_writes_nothing() {
    let tpm = Swtpm::start();
    tpm.create_ak();
    let (imds, _) = serve(vec![]);
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("evidence.json");

    let run = collect(&tpm, &imds, &out, &[]);
    assert_eq!(run.status.code(), Some(3), "not a CVM is the environment: {}", stderr(&run));
    let message = stderr(&run);
    assert!(message.contains("0x01400001") && message.contains("not an Azure confidential VM"), "{message}");
    assert!(!out.exists(), "a failed collection must not leave a bundle behind");
}

#[test]
fn an_imds_failure_names_imds() {
    let tpm = Swtpm::start();
    tpm.provision_like_azure(HCL_REPORT, AK_CERT);
    let (imds, _) = serve(vec![(400, b"bad request".to_vec())]);
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("evidence.json");

    let run = collect(&tpm, &imds, &out, &[]);
    assert_eq!(run.status.code(), Some(3), "a failing service is the environment");
    let message = stderr(&run);
    assert!(message.contains("IMDS") && message.contains("400"), "{message}");
    assert!(!out.exists());
}

#[test]
fn show_reads_every_fixture_format() {
    let testdata = crate::support::repo_root().join("formats/testdata");
    let cases = [
        ("azure-snp/trustee-evidence-v0.json", "coco-az-snp-vtpm", "snp_report", "chip_id"),
        ("azure-snp/trustee-evidence-v1.json", "coco-az-snp-vtpm", "snp_report", "chip_id"),
        ("azure-tdx/trustee-evidence-tdx-v0.json", "coco-az-tdx-vtpm", "td_quote", "rtmr3"),
        ("azure-tdx/trustee-evidence-tdx-v1.json", "coco-az-tdx-vtpm", "td_report", "mrtd"),
        ("tpm/trustee-milan-hcl-report.bin", "hcl-report", "hcl_report", "vm_unique_id"),
        ("azure-tdx/kinvolk-hcl-report-tdx.bin", "hcl-report", "td_report", "rtmr0"),
        ("thim/sidecar-snp_report.bin", "snp-report", "snp_report", "reported_tcb"),
        ("azure-tdx/trustee-td-quote.bin", "td-quote", "td_quote", "mrtd"),
        ("azure-tdx/cvmtools-td_quote_v4.dat", "td-quote", "td_quote", "pck_chain"),
    ];
    for (file, kind, section, field) in cases {
        let show = cvm_attest()
            .args(["evidence", "show", "-o", "json"])
            .arg(testdata.join(file))
            .output()
            .expect("run show");
        assert!(show.status.success(), "{file}: {}", stderr(&show));
        let summary: serde_json::Value = serde_json::from_slice(&show.stdout).expect("JSON summary");
        assert_eq!(summary["kind"], kind, "{file}");
        assert!(!summary[section][field].is_null(), "{file}: no {section}.{field} in {summary:#}");
        for check in summary["checks"].as_array().expect("checks") {
            assert_eq!(check["holds"], true, "{file}: {check}");
        }
    }
}

#[test]
fn show_prints_the_fields_workshop_users_look_for() {
    let file = crate::support::repo_root().join("formats/testdata/azure-snp/trustee-evidence-v1.json");
    let show = cvm_attest().args(["evidence", "show"]).arg(file).output().expect("run show");
    assert!(show.status.success(), "{}", stderr(&show));
    let text = String::from_utf8(show.stdout).expect("UTF-8");
    for expected in [
        "chip id             66a5a7b4403a3006",
        "reported tcb        bootloader 4, tee 0, snp 24, microcode 219",
        "measurement         6a063be9dd79f637",
        "vm unique id        26F8BC30-774E-4290-8E7A-535F3B672AEE",
        "quote extra data    \"challenge\"",
        "ok    hcl-binding",
    ] {
        let compact = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(compact(&text).contains(&compact(expected)), "missing `{expected}` in:\n{text}");
    }
}

#[test]
fn show_refuses_what_is_not_evidence_and_says_what_is() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("notes.txt");
    std::fs::write(&file, "hello").expect("write");
    let show = cvm_attest().args(["evidence", "show"]).arg(&file).output().expect("run show");
    assert_eq!(show.status.code(), Some(2));
    let message = stderr(&show);
    assert!(message.contains("accepted: a cvm-attest evidence bundle"), "{message}");

    let mut tampered =
        std::fs::read(crate::support::repo_root().join("formats/testdata/tpm/trustee-milan-hcl-report.bin"))
            .expect("fixture");
    // One digit of the vmUniqueId in the runtime JSON: still valid JSON, no longer what was bound.
    let at = tampered.windows(14).position(|w| w == b"\"vmUniqueId\":\"").expect("vmUniqueId") + 14;
    tampered[at] = if tampered[at] == b'0' { b'1' } else { b'0' };
    std::fs::write(&file, &tampered).expect("write");
    let show = cvm_attest().args(["evidence", "show", "-o", "json"]).arg(&file).output().expect("run show");
    assert_eq!(show.status.code(), Some(1), "a failed consistency check is a failure");
    assert!(stderr(&show).contains("hcl-binding failed"), "{}", stderr(&show));
    let summary: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap_or_default();
    let binding = summary["checks"].as_array().into_iter().flatten().find(|c| c["name"] == "hcl-binding");
    assert_eq!(binding.map(|c| &c["holds"]), Some(&serde_json::Value::Bool(false)), "{summary:#}");
}
