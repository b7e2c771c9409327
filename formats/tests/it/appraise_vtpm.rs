//! vTPM appraisal against real evidence: the Confidential Containers quotes of an Azure SEV-SNP and
//! an Azure TDX CVM (signed by the HCLAkPub of the HCL report beside them, nonce `challenge`), and
//! MAA's AzureGuest REST example (a Windows Trusted Launch VM: quote, ephemeral key certification,
//! TCG log and the AK certificate Azure's vTPM CA issued). That example has no HCL report, so its
//! runtime claims are built here with its AK as HCLAkPub.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use cvm_attest_formats::appraise::anchors::TrustAnchors;
use cvm_attest_formats::appraise::vtpm::{AkSource, ak_certificate, appraise};
use cvm_attest_formats::appraise::{
    AppraisalError, Collateral, Policy, Status, Steps, ValidityError, VtpmError,
};
use cvm_attest_formats::bundle::{EphemeralKey, EvidenceBundle, PcrBank, Pcrs, Timestamp, TpmEvidence};
use cvm_attest_formats::eventlog::EventLog;
use cvm_attest_formats::hcl::{HclReport, RuntimeClaims};
use cvm_attest_formats::time::DateTime;
use cvm_attest_formats::tpm::{AlgorithmId, Attest, HashAlg, PcrSelection, Public, policy_pcr};
use rsa::pkcs8::DecodePublicKey;
use rsa::traits::PublicKeyParts;
use rsa::{BigUint, Pkcs1v15Sign, RsaPrivateKey, RsaPublicKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const COCO_SNP_V0: &[u8] = include_bytes!("../../testdata/azure-snp/trustee-evidence-v0.json");
const COCO_SNP_V1: &[u8] = include_bytes!("../../testdata/azure-snp/trustee-evidence-v1.json");
const COCO_TDX_V0: &[u8] = include_bytes!("../../testdata/azure-tdx/trustee-evidence-tdx-v0.json");
const COCO_TDX_V1: &[u8] = include_bytes!("../../testdata/azure-tdx/trustee-evidence-tdx-v1.json");
const AZURE_GUEST: &str = include_str!("../../testdata/maa-rest-spec/AttestAzureGuestVm.json");

const NONCE: &[u8] = b"challenge";

/// Inside the validity of every certificate of the AzureGuest AK certificate's chain (AK → Global
/// Virtual TPM CA - 01 → Azure Virtual TPM root).
const CHAIN_VALID_AT: &str = "2024-06-01T00:00:00Z";

const STEPS: [&str; 8] = [
    "vtpm-ak-public",
    "vtpm-ak-cert",
    "vtpm-quote-signature",
    "vtpm-quote-structure",
    "vtpm-quote-nonce",
    "vtpm-pcr-digest",
    "vtpm-ephemeral-key",
    "eventlog-replay",
];

fn coco(json: &[u8]) -> (TpmEvidence, RuntimeClaims) {
    let at = Timestamp::parse("2026-11-27T21:31:00Z").expect("a valid timestamp");
    let bundle = EvidenceBundle::from_coco_json(json, at).expect("CoCo evidence");
    let hcl = HclReport::parse(&bundle.hcl_report).expect("an HCL report");
    let runtime = hcl.runtime_claims().expect("runtime claims");
    (bundle.tpm.expect("vTPM evidence"), runtime)
}

/// Appraise with the built-in anchors, at [`CHAIN_VALID_AT`].
fn run(tpm: &TpmEvidence, runtime: &RuntimeClaims, nonce: Option<&[u8]>, log: Option<&[u8]>) -> Steps {
    run_with(tpm, runtime, nonce, log, &TrustAnchors::builtin(), CHAIN_VALID_AT)
}

fn run_with(
    tpm: &TpmEvidence,
    runtime: &RuntimeClaims,
    nonce: Option<&[u8]>,
    log: Option<&[u8]>,
    anchors: &TrustAnchors,
    at: &str,
) -> Steps {
    let at = DateTime::parse(at).expect("an RFC 3339 time");
    let policy = Policy { expected_nonce: nonce, anchors, collateral: Collateral::default(), at: &at };
    let mut steps = Steps::default();
    appraise(tpm, AkSource::Hcl(runtime), &policy, log, &mut steps);
    steps
}

fn statuses(steps: &Steps) -> Vec<(&'static str, Status)> {
    steps.as_slice().iter().map(|s| (s.name, s.status)).collect()
}

/// The run stopped at `name`, which failed, after the steps before it; its detail contains `words`.
fn assert_failed_at(steps: &Steps, name: &str, words: &str) {
    let failure = steps.failure().unwrap_or_else(|| panic!("no step failed: {steps:#?}"));
    assert_eq!(failure.name, name, "{steps:#?}");
    assert!(failure.detail.contains(words), "{:?} does not contain {words:?}", failure.detail);
    let position = STEPS.iter().position(|s| *s == name).expect("a vTPM step");
    let names: Vec<&str> = steps.as_slice().iter().map(|s| s.name).collect();
    assert_eq!(names, STEPS[..=position], "later steps ran: {steps:#?}");
}

/// The typed error of the failed step.
fn vtpm_error(steps: &Steps) -> &VtpmError {
    match steps.failure().and_then(|step| step.error.as_ref()) {
        Some(AppraisalError::Vtpm(error)) => error,
        other => panic!("no vTPM failure: {other:?}"),
    }
}

#[test]
fn coco_quotes_pass_with_their_nonce() {
    use Status::*;
    for json in [COCO_SNP_V0, COCO_SNP_V1, COCO_TDX_V0, COCO_TDX_V1] {
        let (tpm, runtime) = coco(json);
        let steps = run(&tpm, &runtime, Some(NONCE), None);
        assert_eq!(
            statuses(&steps),
            vec![
                ("vtpm-ak-public", NotEvaluated),
                ("vtpm-ak-cert", NotEvaluated),
                ("vtpm-quote-signature", Passed),
                ("vtpm-quote-structure", Passed),
                ("vtpm-quote-nonce", Passed),
                ("vtpm-pcr-digest", Passed),
                ("vtpm-ephemeral-key", NotEvaluated),
                ("eventlog-replay", NotEvaluated),
            ],
            "{steps:#?}"
        );
        assert!(steps.as_slice()[0].detail.contains("HCLAkPub"));
        assert_eq!(steps.as_slice()[1].detail, "the evidence carries no AK certificate");
        assert!(steps.as_slice()[4].detail.contains("\"challenge\""));
    }
}

#[test]
fn without_a_nonce_the_extra_data_is_shown() {
    let (tpm, runtime) = coco(COCO_SNP_V1);
    let steps = run(&tpm, &runtime, None, None);
    assert_eq!(steps.failure(), None);
    let step = &steps.as_slice()[4];
    assert_eq!((step.name, step.status), ("vtpm-quote-nonce", Status::NotEvaluated));
    assert!(step.detail.contains("\"challenge\" (hex 6368616c6c656e6765)"), "{}", step.detail);
}

#[test]
fn wrong_nonce_fails_the_nonce_step() {
    let (tpm, runtime) = coco(COCO_TDX_V1);
    let steps = run(&tpm, &runtime, Some(b"another"), None);
    assert_failed_at(&steps, "vtpm-quote-nonce", "\"another\"");
    assert_eq!(
        vtpm_error(&steps),
        &VtpmError::NonceMismatch { found: NONCE.to_vec(), expected: b"another".to_vec() }
    );
}

#[test]
fn flipped_quote_byte_fails_the_signature() {
    let (mut tpm, runtime) = coco(COCO_SNP_V1);
    let last = tpm.quote.len() - 1;
    tpm.quote[last] ^= 0x01;
    let steps = run(&tpm, &runtime, Some(NONCE), None);
    assert_failed_at(&steps, "vtpm-quote-signature", "does not verify with HCLAkPub");
}

#[test]
fn changed_pcr_value_fails_the_pcr_digest() {
    let (mut tpm, runtime) = coco(COCO_SNP_V0);
    let mut values = tpm.pcrs.values().clone();
    values.get_mut(&7).unwrap()[0] ^= 0x01;
    tpm.pcrs = Pcrs::new(PcrBank::Sha256, values).unwrap();
    let steps = run(&tpm, &runtime, Some(NONCE), None);
    assert_failed_at(&steps, "vtpm-pcr-digest", "pcrDigest");
}

#[test]
fn missing_pcr_fails_the_pcr_digest() {
    let (mut tpm, runtime) = coco(COCO_TDX_V0);
    let mut values = tpm.pcrs.values().clone();
    values.remove(&23);
    tpm.pcrs = Pcrs::new(PcrBank::Sha256, values).unwrap();
    let steps = run(&tpm, &runtime, Some(NONCE), None);
    assert_failed_at(&steps, "vtpm-pcr-digest", "missing [23]");
    let VtpmError::PcrSetMismatch { quoted, supplied } = vtpm_error(&steps) else {
        panic!("not a PCR set mismatch: {steps:#?}");
    };
    assert_eq!(quoted.difference(supplied).collect::<Vec<_>>(), [&23]);
}

#[test]
fn another_vms_hcl_ak_pub_fails_the_signature() {
    let (tpm, _) = coco(COCO_SNP_V1);
    let (_, tdx_runtime) = coco(COCO_TDX_V1);
    let steps = run(&tpm, &tdx_runtime, Some(NONCE), None);
    assert_failed_at(&steps, "vtpm-quote-signature", "does not verify");
}

#[test]
fn runtime_claims_without_hcl_ak_pub_fail_the_first_step() {
    let (tpm, runtime) = coco(COCO_SNP_V1);
    let runtime = RuntimeClaims { keys: Vec::new(), ..runtime };
    let steps = run(&tpm, &runtime, Some(NONCE), None);
    assert_failed_at(&steps, "vtpm-ak-public", "no HCLAkPub");
    assert_eq!(vtpm_error(&steps), &VtpmError::MissingAk);
}

/// MAA's AzureGuest example as vTPM evidence, its TCG log, and runtime claims naming its AK.
struct AzureGuest {
    tpm: TpmEvidence,
    runtime: RuntimeClaims,
    log: Vec<u8>,
}

fn b64(value: &Value) -> Vec<u8> {
    STANDARD.decode(value.as_str().expect("a base64 string")).expect("valid base64")
}

/// Runtime claims whose HCLAkPub is `ak` (a TPM2B_PUBLIC).
fn runtime_with_ak(ak: &[u8]) -> RuntimeClaims {
    let ak = Public::parse_tpm2b(ak).expect("a TPM2B_PUBLIC");
    let exponent = ak.effective_exponent().to_be_bytes();
    let first = exponent.iter().position(|&b| b != 0).expect("a non-zero exponent");
    runtime_with_jwk(ak.modulus(), &exponent[first..])
}

/// Runtime claims whose HCLAkPub has modulus `n` and exponent `e` (big-endian).
fn runtime_with_jwk(n: &[u8], e: &[u8]) -> RuntimeClaims {
    let claims = json!({
        "keys": [{
            "kid": "HCLAkPub", "kty": "RSA", "key_ops": ["sign"],
            "n": URL_SAFE_NO_PAD.encode(n), "e": URL_SAFE_NO_PAD.encode(e),
        }],
        "vm-configuration": {"secure-boot": true, "tpm-enabled": true, "vmUniqueId": "00000000-0000-0000-0000-000000000000"},
    });
    RuntimeClaims::parse(claims.to_string().as_bytes()).expect("runtime claims")
}

fn azure_guest() -> AzureGuest {
    let doc: Value = serde_json::from_str(AZURE_GUEST).expect("the example is JSON");
    let info = doc["parameters"]["request"]["attestationInfo"].as_str().expect("attestationInfo");
    let info = URL_SAFE_NO_PAD.decode(info).expect("attestationInfo is base64url");
    let info: Value = serde_json::from_slice(&info).expect("attestationInfo is JSON");
    let tpm_info = &info["TpmInfo"];
    let pcrs: BTreeMap<u8, Vec<u8>> = tpm_info["PCRs"]
        .as_array()
        .expect("a PCR list")
        .iter()
        .map(|p| {
            let index = p["Index"].as_u64().and_then(|i| u8::try_from(i).ok()).expect("a PCR index");
            (index, b64(&p["Digest"]))
        })
        .collect();
    let tpm = TpmEvidence {
        ak_public: b64(&tpm_info["AikPub"]),
        ak_cert: Some(b64(&tpm_info["AikCert"])),
        quote: b64(&tpm_info["PcrQuote"]),
        quote_signature: b64(&tpm_info["PcrSignature"]),
        pcrs: Pcrs::new(PcrBank::Sha256, pcrs).expect("SHA-256 PCRs"),
        ephemeral_key: Some(EphemeralKey {
            public: b64(&tpm_info["EncKeyPub"]),
            certify_info: b64(&tpm_info["EncKeyCertifyInfo"]),
            certify_signature: b64(&tpm_info["EncKeyCertifyInfoSignature"]),
        }),
    };
    let runtime = runtime_with_ak(&tpm.ak_public);
    AzureGuest { tpm, runtime, log: b64(&info["TcgLogs"]) }
}

#[test]
fn azure_guest_quote_ephemeral_key_and_log_pass() {
    use Status::*;
    let guest = azure_guest();
    let steps = run(&guest.tpm, &guest.runtime, None, Some(&guest.log));
    assert_eq!(
        statuses(&steps),
        vec![
            ("vtpm-ak-public", Passed),
            ("vtpm-ak-cert", Passed),
            ("vtpm-quote-signature", Passed),
            ("vtpm-quote-structure", Passed),
            ("vtpm-quote-nonce", NotEvaluated),
            ("vtpm-pcr-digest", Passed),
            ("vtpm-ephemeral-key", Passed),
            ("eventlog-replay", Passed),
        ],
        "{steps:#?}"
    );
    assert!(steps.as_slice()[4].detail.contains("extraData is empty"), "{steps:#?}");
    let key = &steps.as_slice()[6].detail;
    assert!(
        key.contains(&format!(
            "authPolicy {AZURE_GUEST_POLICY}, PolicyPCR over the quoted values of PCRs 0-7, 11-14"
        )),
        "{key}"
    );
    let replay = &steps.as_slice()[7].detail;
    assert!(replay.contains("PCRs [0, 1, 2, 3, 4, 5, 6, 7, 11, 12, 13, 14]"), "{replay}");
    assert!(replay.ends_with("not checked: that each event's data is what its digest measured"), "{replay}");
}

#[test]
fn azure_guest_with_an_expected_nonce_fails_on_its_empty_extra_data() {
    let guest = azure_guest();
    let steps = run(&guest.tpm, &guest.runtime, Some(NONCE), Some(&guest.log));
    assert_failed_at(&steps, "vtpm-quote-nonce", "extraData is empty");
}

#[test]
fn azure_guest_ak_public_must_be_hcl_ak_pub() {
    let guest = azure_guest();
    let (_, snp_runtime) = coco(COCO_SNP_V1);
    let steps = run(&guest.tpm, &snp_runtime, None, Some(&guest.log));
    assert_failed_at(&steps, "vtpm-ak-public", "modulus");
}

#[test]
fn azure_guest_ak_public_must_be_a_restricted_signing_key() {
    let guest = azure_guest();
    // The ephemeral key is a decryption key: named as HCLAkPub and AK, it is refused as an AK.
    let tpm = TpmEvidence { ak_public: guest.tpm.ephemeral_key.clone().unwrap().public, ..guest.tpm };
    let runtime = runtime_with_ak(&tpm.ak_public);
    let steps = run(&tpm, &runtime, None, Some(&guest.log));
    assert_failed_at(&steps, "vtpm-ak-public", "not a restricted signing key");
}

#[test]
fn azure_guest_swapped_ephemeral_key_fails_its_certification() {
    let guest = azure_guest();
    let mut tpm = guest.tpm;
    // Another decryption key than the certified one: its name differs.
    let key = tpm.ephemeral_key.as_mut().unwrap();
    let last = key.public.len() - 1;
    key.public[last] ^= 0x01;
    let steps = run(&tpm, &guest.runtime, None, Some(&guest.log));
    assert_failed_at(&steps, "vtpm-ephemeral-key", "the certification names");
}

#[test]
fn azure_guest_certification_must_be_signed_by_the_ak() {
    let guest = azure_guest();
    let mut tpm = guest.tpm;
    tpm.ephemeral_key.as_mut().unwrap().certify_signature[10] ^= 0x01;
    let steps = run(&tpm, &guest.runtime, None, Some(&guest.log));
    assert_failed_at(&steps, "vtpm-ephemeral-key", "certification signature does not verify");
}

#[test]
fn azure_guest_tampered_log_event_fails_the_replay() {
    let guest = azure_guest();
    let log = EventLog::parse(&guest.log).unwrap();
    let event =
        log.events().iter().find(|e| e.pcr_index == 7 && e.digest(AlgorithmId::SHA256).is_some()).unwrap();
    let digest = event.digest(AlgorithmId::SHA256).unwrap();
    let at = guest.log.windows(digest.len()).position(|w| w == digest).unwrap();
    let mut tampered = guest.log.clone();
    tampered[at] ^= 0x01;
    let steps = run(&guest.tpm, &guest.runtime, None, Some(&tampered));
    assert_failed_at(&steps, "eventlog-replay", "PCR 7 (log ");
    let detail = &steps.failure().unwrap().detail;
    assert!(!detail.contains("PCR 0 "), "only PCR 7 is named: {detail}");
}

/// A TCG_PCR_EVENT2 with a SHA-1 digest alone.
fn sha1_only_event(pcr: u32, event_type: u32, data: &[u8]) -> Vec<u8> {
    let mut event = Vec::new();
    event.extend(pcr.to_le_bytes());
    event.extend(event_type.to_le_bytes());
    event.extend(1u32.to_le_bytes());
    event.extend(AlgorithmId::SHA1.0.to_le_bytes());
    event.extend([0xAB; 20]);
    event.extend(u32::try_from(data.len()).expect("small").to_le_bytes());
    event.extend(data);
    event
}

/// Before, replay skipped events without a SHA-256 digest: one injected into quoted PCR 4 left the
/// replayed values, and the step, unchanged.
#[test]
fn eventlog_replay_rejects_a_sha1_only_event_in_a_quoted_pcr() {
    let guest = azure_guest();
    let genuine = EventLog::parse(&guest.log).unwrap();
    assert_eq!(genuine.padding(), 0);
    let mut log = guest.log.clone();
    log.extend(sha1_only_event(4, 0x8000_0003, b"\\EFI\\evil.efi"));
    let injected = EventLog::parse(&log).unwrap();
    assert_eq!(injected.events().len(), genuine.events().len() + 1);
    assert_eq!(injected.replay(HashAlg::Sha256), genuine.replay(HashAlg::Sha256), "replay skips it");

    let steps = run(&guest.tpm, &guest.runtime, None, Some(&log));
    assert_failed_at(
        &steps,
        "eventlog-replay",
        &format!(
            "event {} (EV_EFI_BOOT_SERVICES_APPLICATION (0x80000003), PCR 4) has no SHA-256 digest, yet extends \
             a quoted PCR",
            genuine.events().len()
        ),
    );
}

/// The same event in a PCR the quote does not cover is not the quote's concern.
#[test]
fn eventlog_replay_ignores_a_sha1_only_event_in_an_unquoted_pcr() {
    let guest = azure_guest();
    let mut log = guest.log.clone();
    log.extend(sha1_only_event(9, 0x8000_0003, b"unquoted"));
    let steps = run(&guest.tpm, &guest.runtime, None, Some(&log));
    assert_eq!(steps.failure(), None, "{steps:#?}");
}

#[test]
fn a_log_that_does_not_parse_fails_the_replay() {
    let guest = azure_guest();
    let steps = run(&guest.tpm, &guest.runtime, None, Some(&guest.log[..100]));
    assert_failed_at(&steps, "eventlog-replay", "does not parse");
}

#[test]
fn a_log_for_other_pcrs_fails_the_replay() {
    // The CoCo quotes cover PCRs 0–23; the AzureGuest log replays to other values.
    let (tpm, runtime) = coco(COCO_SNP_V1);
    let guest = azure_guest();
    let steps = run(&tpm, &runtime, Some(NONCE), Some(&guest.log));
    assert_failed_at(&steps, "eventlog-replay", "does not give PCR 0 (log ");
}

#[test]
fn truncated_quote_fails_the_signature_before_its_structure() {
    let (mut tpm, runtime) = coco(COCO_TDX_V1);
    tpm.quote.truncate(20);
    let steps = run(&tpm, &runtime, Some(NONCE), None);
    assert_failed_at(&steps, "vtpm-quote-signature", "does not verify");
}

#[test]
fn a_signed_certification_is_not_a_quote() {
    // The AK signed the ephemeral key's certification: a genuine TPMS_ATTEST, of the wrong type.
    let guest = azure_guest();
    let key = guest.tpm.ephemeral_key.clone().unwrap();
    let tpm = TpmEvidence { quote: key.certify_info, quote_signature: key.certify_signature, ..guest.tpm };
    let steps = run(&tpm, &guest.runtime, None, Some(&guest.log));
    assert_failed_at(&steps, "vtpm-quote-structure", "expected TPM_ST_ATTEST_QUOTE 0x8018");
}

/// The AzureGuest ephemeral key's authPolicy (EncKeyPub).
const AZURE_GUEST_POLICY: &str = "ace57a6d3884d8dbf5bec372bd38b7723b54a696e4eb2ed012290f1aba3686f3";

/// The quoted SHA-256 selection of the AzureGuest example and the supplied values in its order.
fn azure_guest_selection(guest: &AzureGuest) -> (PcrSelection, Vec<Vec<u8>>) {
    let quote = Attest::parse(&guest.tpm.quote).expect("a TPMS_ATTEST");
    let selection = quote.quote().expect("a quote").pcr_select[0].clone();
    let values = guest.tpm.pcrs.values().values().cloned().collect();
    (selection, values)
}

#[test]
fn azure_guest_auth_policy_is_policy_pcr_over_exactly_its_quoted_pcrs() {
    let guest = azure_guest();
    let (selection, values) = azure_guest_selection(&guest);
    assert_eq!(selection.marshal(), [0x00, 0x0b, 3, 0xff, 0x78, 0x00], "PCRs 0-7, 11-14");
    let key = Public::parse_tpm2b(&guest.tpm.ephemeral_key.as_ref().unwrap().public).unwrap();
    assert_eq!(hex::encode(key.auth_policy()), AZURE_GUEST_POLICY);
    let policy =
        policy_pcr(HashAlg::Sha256, std::slice::from_ref(&selection), values.iter().map(Vec::as_slice));
    assert_eq!(hex::encode(&policy), AZURE_GUEST_POLICY);

    // No other selection of the quoted PCRs gives it: the policy covers exactly the quoted set.
    let indices = selection.indices();
    let mut matches = Vec::new();
    for mask in 1u32..(1 << indices.len()) {
        let chosen: Vec<usize> = (0..indices.len()).filter(|bit| mask & (1 << bit) != 0).collect();
        let subset =
            PcrSelection::new(HashAlg::Sha256, &chosen.iter().map(|&i| indices[i]).collect::<Vec<_>>());
        let digest = policy_pcr(HashAlg::Sha256, &[subset], chosen.iter().map(|&i| values[i].as_slice()));
        if hex::encode(digest) == AZURE_GUEST_POLICY {
            matches.push(mask);
        }
    }
    assert_eq!(matches, [(1 << indices.len()) - 1]);
}

#[test]
fn policy_pcr_changes_with_any_pcr_value_and_with_the_selection() {
    let guest = azure_guest();
    let (selection, values) = azure_guest_selection(&guest);
    let digest = |selection: &[PcrSelection], values: &[Vec<u8>]| {
        hex::encode(policy_pcr(HashAlg::Sha256, selection, values.iter().map(Vec::as_slice)))
    };
    assert_eq!(digest(std::slice::from_ref(&selection), &values), AZURE_GUEST_POLICY);
    for at in 0..values.len() {
        let mut changed = values.clone();
        changed[at][31] ^= 0x01;
        assert_ne!(digest(std::slice::from_ref(&selection), &changed), AZURE_GUEST_POLICY, "value {at}");
    }
    // The same values under another bitmap, or an empty TPML, are another policy.
    let mut other = selection.clone();
    other.select[2] = 0x01;
    assert_ne!(digest(&[other], &values), AZURE_GUEST_POLICY);
    assert_ne!(digest(&[], &values), AZURE_GUEST_POLICY);
    // The session hash sets the size: SHA-384 over SHA-256 PCRs is 48 bytes.
    let sha384 =
        policy_pcr(HashAlg::Sha384, std::slice::from_ref(&selection), values.iter().map(Vec::as_slice));
    assert_eq!(sha384.len(), 48);
}

#[test]
fn azure_guest_tampered_auth_policy_is_not_the_certified_key() {
    // Without the AK, a changed authPolicy changes the key's name, so its certification fails first.
    let guest = azure_guest();
    let mut tpm = guest.tpm;
    tpm.ephemeral_key.as_mut().unwrap().public[AUTH_POLICY_AT] ^= 0x01;
    let steps = run(&tpm, &guest.runtime, None, Some(&guest.log));
    assert_failed_at(&steps, "vtpm-ephemeral-key", "the certification names");
}

/// A test AK (RSA-1024 primes, e = 65537, generated for these tests and used nowhere else). It
/// re-signs the AzureGuest quote and a certification of an altered ephemeral key, which only the
/// holder of the AK can do, so the authPolicy checks after the certification checks are reached.
const TEST_AK_P: &str = "de248e83bb7cec2bea67eb5205f3225b0e40612b95743242995e9d51b8ecc0653dd12cf8270b7635ded85b5ef20c6eba7c6bcbaf9f99e1f982bc8f3bd238ed6b";
const TEST_AK_Q: &str = "d6bbfa2af71a5878fd0eae33320a9334d29af700efd5d5926b9e6848f22e42e17dd2fb2a51c522b673aa61c31381e6904a35cba92e1fa19f2de01b99ae22bb29";

/// Offsets in the ephemeral key's TPM2B_PUBLIC: size, type, nameAlg, objectAttributes (4), then
/// authPolicy's size and its first byte.
const ATTRIBUTES_LOW_BYTE_AT: usize = 9;
const AUTH_POLICY_AT: usize = 12;

/// The AzureGuest evidence with its ephemeral key's TPM2B_PUBLIC changed by `edit`, quoted and
/// certified by the test AK, and runtime claims with the test AK as HCLAkPub.
fn azure_guest_signed_by_test_ak(edit: impl FnOnce(&mut Vec<u8>)) -> (TpmEvidence, RuntimeClaims) {
    let hex_int = |text: &str| BigUint::parse_bytes(text.as_bytes(), 16).expect("hex");
    let ak = RsaPrivateKey::from_p_q(hex_int(TEST_AK_P), hex_int(TEST_AK_Q), BigUint::from(65_537u32))
        .expect("an RSA key");
    let sign = |message: &[u8]| {
        ak.sign(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(message)).expect("a signature")
    };

    let mut tpm = azure_guest().tpm;
    tpm.ak_public = Vec::new();
    // Azure certified the genuine AK, not the test AK.
    tpm.ak_cert = None;
    tpm.quote_signature = sign(&tpm.quote);
    let key = tpm.ephemeral_key.as_mut().expect("an ephemeral key");
    let old_name = Public::parse_tpm2b(&key.public).expect("a TPM2B_PUBLIC").name();
    edit(&mut key.public);
    let new_name = Public::parse_tpm2b(&key.public).expect("an edited TPM2B_PUBLIC").name();
    let at =
        key.certify_info.windows(old_name.len()).position(|w| w == old_name).expect("the certified name");
    key.certify_info[at..at + new_name.len()].copy_from_slice(&new_name);
    key.certify_signature = sign(&key.certify_info);
    let runtime = runtime_with_jwk(&ak.n().to_bytes_be(), &ak.e().to_bytes_be());
    (tpm, runtime)
}

#[test]
fn the_test_ak_harness_passes_an_unaltered_key() {
    let (tpm, runtime) = azure_guest_signed_by_test_ak(|_| ());
    let steps = run(&tpm, &runtime, None, None);
    assert_eq!(steps.failure(), None, "{steps:#?}");
    assert_eq!(steps.as_slice()[6].status, Status::Passed, "{steps:#?}");
}

#[test]
fn a_certified_key_with_another_auth_policy_fails() {
    let (tpm, runtime) = azure_guest_signed_by_test_ak(|public| public[AUTH_POLICY_AT] ^= 0x01);
    let steps = run(&tpm, &runtime, None, None);
    let mut tampered = hex::decode(AZURE_GUEST_POLICY).unwrap();
    tampered[0] ^= 0x01;
    assert_failed_at(&steps, "vtpm-ephemeral-key", &format!("authPolicy is {}", hex::encode(tampered)));
    let detail = &steps.failure().unwrap().detail;
    assert!(
        detail.contains(&format!(
            "PolicyPCR (sha256) over the quoted values of PCRs 0-7, 11-14 is {AZURE_GUEST_POLICY}"
        )),
        "{detail}"
    );
    assert!(detail.contains("only the quoted selection is tried"), "{detail}");
}

#[test]
fn a_certified_key_usable_with_its_auth_value_fails() {
    let (tpm, runtime) = azure_guest_signed_by_test_ak(|public| public[ATTRIBUTES_LOW_BYTE_AT] |= 0x40);
    let steps = run(&tpm, &runtime, None, None);
    assert_failed_at(&steps, "vtpm-ephemeral-key", "userWithAuth");
}

// vtpm-ak-cert: the AzureGuest AK certificate, AK → Global Virtual TPM CA - 01 → Azure Virtual TPM root.

const AK_CN: &str = "3098098a126b.TrustedVM.Azure.Microsoft";
const CA_01_CN: &str = "Global Virtual TPM CA - 01";
const ROOT_CN: &str = "Azure Virtual TPM Root Certificate Authority 2023";
const AZURE_ROOT: &[u8] = include_bytes!("../../anchors/azure-vtpm-root-ca-2023.pem");
const CA_01: &[u8] = include_bytes!("../../anchors/azure-vtpm-global-ca-01.pem");
/// Named like Azure's root, another key.
const IMPOSTOR_ROOT: &[u8] = include_bytes!("../../testdata/azure-vtpm/impostor-root.pem");
/// A test vTPM CA, and the AK certificate it issued for the AzureGuest AK.
const TEST_ROOT: &[u8] = include_bytes!("../../testdata/azure-vtpm/test-root.pem");
const TEST_AK_CERT: &[u8] = include_bytes!("../../testdata/azure-vtpm/test-ak-cert.der");
/// The same, signed with RSASSA-PSS.
const TEST_AK_CERT_PSS: &[u8] = include_bytes!("../../testdata/azure-vtpm/test-ak-cert-pss.der");
const OTHER_AK_PEM: &str = include_str!("../../testdata/tpm/kinvolk-akpub.pem");

/// The AzureGuest AK certificate (DER) and AK (from `TpmInfo.AikPub`, a TPM2B_PUBLIC).
fn guest_ak() -> (Vec<u8>, RsaPublicKey) {
    let tpm = azure_guest().tpm;
    let ak =
        Public::parse_tpm2b(&tpm.ak_public).expect("AikPub is a TPM2B_PUBLIC").rsa_public_key().expect("RSA");
    (tpm.ak_cert.expect("the example carries AikCert"), ak)
}

fn check_at(cert: &[u8], ak: &RsaPublicKey, anchors: &TrustAnchors, at: &str) -> Result<String, VtpmError> {
    ak_certificate(cert, ak, "HCLAkPub", anchors, &DateTime::parse(at).expect("an RFC 3339 time"))
}

#[test]
fn the_azure_guest_ak_certificate_chains_to_the_azure_vtpm_root_and_certifies_aik_pub() {
    let (cert, ak) = guest_ak();
    let detail = check_at(&cert, &ak, &TrustAnchors::builtin(), CHAIN_VALID_AT).expect("the chain verifies");
    assert_eq!(
        detail,
        format!(
            "{AK_CN} → {CA_01_CN} → {ROOT_CN} (trusted root): each signature verifies and each certificate is \
             valid at {CHAIN_VALID_AT}; it certifies HCLAkPub (RSA-2048), the key that signs the quote"
        )
    );
}

#[test]
fn the_azure_guest_ak_certificate_step_passes_in_the_vtpm_appraisal() {
    let guest = azure_guest();
    let steps = run(&guest.tpm, &guest.runtime, None, Some(&guest.log));
    let step = &steps.as_slice()[1];
    assert_eq!((step.name, step.status), ("vtpm-ak-cert", Status::Passed), "{steps:#?}");
    assert!(step.detail.starts_with(&format!("{AK_CN} → {CA_01_CN} → {ROOT_CN}")), "{}", step.detail);
}

#[test]
fn after_ca_01_expired_the_step_fails_naming_it_and_the_fix() {
    let (cert, ak) = guest_ak();
    let err = check_at(&cert, &ak, &TrustAnchors::builtin(), "2026-12-01T00:00:00Z").unwrap_err();
    assert_eq!(
        err,
        VtpmError::NotValid(ValidityError::Expired {
            subject: CA_01_CN.to_owned(),
            not_before: "2023-06-08T17:53:04Z".to_owned(),
            not_after: "2025-11-03T17:53:04Z".to_owned(),
            at: "2026-12-01T00:00:00Z".to_owned(),
        })
    );
    assert_eq!(
        err.to_string(),
        "Global Virtual TPM CA - 01 expired on 2025-11-03T17:53:04Z (valid from 2023-06-08T17:53:04Z to \
         2025-11-03T17:53:04Z; judged at 2026-12-01T00:00:00Z); use a current certificate, or verify as of a \
         time inside it with `--at RFC3339`"
    );
    // And in the appraisal, which then stops.
    let guest = azure_guest();
    let anchors = TrustAnchors::builtin();
    let steps = run_with(&guest.tpm, &guest.runtime, None, None, &anchors, "2026-12-01T00:00:00Z");
    assert_failed_at(&steps, "vtpm-ak-cert", "Global Virtual TPM CA - 01 expired on 2025-11-03");
}

#[test]
fn the_ak_certificate_itself_is_judged_by_its_own_validity() {
    let (cert, ak) = guest_ak();
    let anchors = TrustAnchors::builtin();
    // The AK certificate expired on 2025-10-30, four days before CA - 01.
    let err = check_at(&cert, &ak, &anchors, "2025-10-31T00:00:00Z").unwrap_err();
    assert!(
        matches!(&err, VtpmError::NotValid(ValidityError::Expired { subject, not_after, .. })
        if subject == AK_CN && not_after == "2025-10-30T00:00:00Z"),
        "{err:?}"
    );
    // Before 2024-02-07 it was not valid yet (the CA and root were).
    let err = check_at(&cert, &ak, &anchors, "2024-01-01T00:00:00Z").unwrap_err();
    assert!(
        matches!(&err, VtpmError::NotValid(ValidityError::NotYetValid { subject, not_before, .. })
        if subject == AK_CN && not_before == "2024-02-07T00:00:00Z"),
        "{err:?}"
    );
    assert!(err.to_string().contains("verify as of a time inside it with `--at RFC3339`"), "{err}");
}

#[test]
fn an_ak_certificate_for_another_key_is_refused() {
    let (cert, _) = guest_ak();
    let (_, der) = x509_cert::der::pem::decode_vec(OTHER_AK_PEM.as_bytes()).expect("PEM");
    let other = RsaPublicKey::from_public_key_der(&der).expect("an RSA public key");
    let err = check_at(&cert, &other, &TrustAnchors::builtin(), CHAIN_VALID_AT).unwrap_err();
    assert!(matches!(&err, VtpmError::AkCertKeyMismatch { subject, .. } if subject == AK_CN), "{err:?}");
    let message = err.to_string();
    assert!(
        message.starts_with(&format!("the AK certificate {AK_CN} certifies another key (modulus a1c3fdf1")),
        "{message}"
    );
    assert!(
        message.contains("than the AK that signs the quote (modulus 87fccf9c00004155…, exponent 65537)"),
        "{message}"
    );

    // In the appraisal: runtime claims whose HCLAkPub is that other key fail earlier, at
    // vtpm-ak-public; evidence without the AK public area reaches vtpm-ak-cert.
    let guest = azure_guest();
    let tpm = TpmEvidence { ak_public: Vec::new(), ..guest.tpm };
    let runtime = runtime_with_jwk(&other.n().to_bytes_be(), &other.e().to_bytes_be());
    let steps = run(&tpm, &runtime, None, None);
    assert_failed_at(&steps, "vtpm-ak-cert", "certifies another key");
}

#[test]
fn a_tampered_ak_certificate_is_refused() {
    let (cert, ak) = guest_ak();
    let anchors = TrustAnchors::builtin();
    // The last byte is the signature's; a byte near the start is the serial number's (signed).
    for at in [cert.len() - 1, 20] {
        let mut tampered = cert.clone();
        tampered[at] ^= 0x01;
        let err = check_at(&tampered, &ak, &anchors, CHAIN_VALID_AT).unwrap_err();
        assert!(
            matches!(&err, VtpmError::CertSignature { subject, issuer, .. } if subject == AK_CN && issuer == CA_01_CN),
            "byte {at}: {err:?}"
        );
        assert!(
            err.to_string().contains("signature does not verify with the key of Global Virtual TPM CA - 01"),
            "{err}"
        );
    }
    let err = check_at(&cert[..100], &ak, &anchors, CHAIN_VALID_AT).unwrap_err();
    assert!(matches!(err, VtpmError::AkCertificate(_)), "{err:?}");
    assert!(err.to_string().starts_with("the AK certificate is not an X.509 certificate"), "{err}");
}

#[test]
fn an_operator_root_that_is_not_azures_is_refused() {
    let (cert, ak) = guest_ak();
    // Named like Azure's root: CA - 01 is found under it by name, but its signature is not the impostor's.
    let anchors = TrustAnchors::from_operator(&[
        ("azure-vtpm-root", IMPOSTOR_ROOT),
        ("azure-vtpm-intermediate", CA_01),
    ])
    .expect("a self-signed root and a certificate");
    let err = check_at(&cert, &ak, &anchors, CHAIN_VALID_AT).unwrap_err();
    assert!(
        matches!(&err, VtpmError::CertSignature { subject, issuer, .. } if subject == CA_01_CN && issuer == ROOT_CN),
        "{err:?}"
    );
    // Another name altogether: CA - 01's issuer is not trusted.
    let anchors =
        TrustAnchors::from_operator(&[("azure-vtpm-root", TEST_ROOT), ("azure-vtpm-intermediate", CA_01)])
            .expect("a self-signed root and a certificate");
    let err = check_at(&cert, &ak, &anchors, CHAIN_VALID_AT).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Global Virtual TPM CA - 01 is issued by `CN=Azure Virtual TPM Root Certificate Authority 2023,O=Microsoft \
         Corporation,C=US`, which is neither a trusted Azure vTPM intermediate (Global Virtual TPM CA - 01) nor a \
         trusted root (cvm-attest test vTPM root); if Azure issued it, trust its CA with `--trust-anchor \
         azure-vtpm-intermediate=FILE` beside the other anchors"
    );
}

#[test]
fn without_the_intermediate_or_any_root_the_chain_cannot_be_built() {
    let (cert, ak) = guest_ak();
    let root_only = TrustAnchors::from_operator(&[("azure-vtpm-root", AZURE_ROOT)]).expect("Azure's root");
    let err = check_at(&cert, &ak, &root_only, CHAIN_VALID_AT).unwrap_err();
    assert!(
        matches!(&err, VtpmError::IssuerNotTrusted { subject, issuer, intermediates, .. }
            if subject == AK_CN && issuer == "CN=Global Virtual TPM CA - 01" && intermediates.is_empty()),
        "{err:?}"
    );
    assert!(err.to_string().contains("neither a trusted Azure vTPM intermediate (none)"), "{err}");

    let none = TrustAnchors::from_operator(&[]).expect("no anchors");
    let err = check_at(&cert, &ak, &none, CHAIN_VALID_AT).unwrap_err();
    assert_eq!(err, VtpmError::NoVtpmRoot { subject: AK_CN.to_owned() });
    assert!(err.to_string().ends_with("add `--trust-anchor azure-vtpm-root=FILE`"), "{err}");
}

#[test]
fn azures_root_and_ca_given_by_the_operator_verify_as_the_built_in_ones() {
    let (cert, ak) = guest_ak();
    let anchors =
        TrustAnchors::from_operator(&[("azure-vtpm-root", AZURE_ROOT), ("azure-vtpm-intermediate", CA_01)])
            .expect("Azure's root and CA - 01");
    let detail = check_at(&cert, &ak, &anchors, CHAIN_VALID_AT).expect("the chain verifies");
    assert!(detail.starts_with(&format!("{AK_CN} → {CA_01_CN} → {ROOT_CN} (trusted root)")), "{detail}");
}

#[test]
fn a_test_vtpm_ca_replaces_azures_root_for_a_simulated_cvm() {
    let (_, ak) = guest_ak();
    let anchors = TrustAnchors::from_operator(&[("azure-vtpm-root", TEST_ROOT)]).expect("a self-signed root");
    // Issued directly by the root (no intermediate); the root signs with SHA-512.
    let detail = check_at(TEST_AK_CERT, &ak, &anchors, "2030-01-01T00:00:00Z").expect("the chain verifies");
    assert!(detail.starts_with("azure-guest-ak.test → cvm-attest test vTPM root (trusted root)"), "{detail}");
    // Azure's built-in anchors do not trust it.
    let err = check_at(TEST_AK_CERT, &ak, &TrustAnchors::builtin(), "2030-01-01T00:00:00Z").unwrap_err();
    assert!(matches!(err, VtpmError::IssuerNotTrusted { .. }), "{err:?}");
}

#[test]
fn a_certificate_signed_with_an_unsupported_algorithm_is_refused_by_name() {
    let (_, ak) = guest_ak();
    let anchors = TrustAnchors::from_operator(&[("azure-vtpm-root", TEST_ROOT)]).expect("a self-signed root");
    let err = check_at(TEST_AK_CERT_PSS, &ak, &anchors, "2030-01-01T00:00:00Z").unwrap_err();
    assert_eq!(
        err,
        VtpmError::CertAlgorithm {
            subject: "azure-guest-ak-pss.test".to_owned(),
            algorithm: "1.2.840.113549.1.1.10".to_owned()
        }
    );
    assert!(err.to_string().contains("only sha256-, sha384- and sha512WithRSAEncryption"), "{err}");
}

/// Whole-bundle appraisal of evidence without an AK certificate (the CoCo bundles carry none): the
/// step is reported, not evaluated, and nothing else changes.
#[test]
fn whole_bundles_without_an_ak_certificate_report_the_step_not_evaluated() {
    let anchors = TrustAnchors::builtin();
    let when = DateTime::parse("2026-12-01T00:00:00Z").unwrap();
    let policy = Policy {
        expected_nonce: Some(NONCE),
        anchors: &anchors,
        collateral: Collateral::default(),
        at: &when,
    };
    for json in [COCO_SNP_V1, COCO_TDX_V1] {
        let bundle = EvidenceBundle::from_coco_json(json, Timestamp::parse("2026-11-27T21:31:00Z").unwrap())
            .expect("CoCo evidence");
        assert!(bundle.tpm.as_ref().unwrap().ak_cert.is_none());
        let appraisal = cvm_attest_formats::appraise::appraise(&bundle, &policy);
        assert!(appraisal.claims.is_some(), "{:#?}", appraisal.steps);
        let step = appraisal.steps.as_slice().iter().find(|s| s.name == "vtpm-ak-cert").expect("the step");
        assert_eq!(step.status, Status::NotEvaluated);
        assert_eq!(step.detail, "the evidence carries no AK certificate");
    }
}
