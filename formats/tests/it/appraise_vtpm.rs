//! vTPM appraisal against real evidence: the Confidential Containers quotes of an Azure SEV-SNP and
//! an Azure TDX CVM (signed by the HCLAkPub of the HCL report beside them, nonce `challenge`), and
//! MAA's AzureGuest REST example (a Windows Trusted Launch VM: quote, ephemeral key certification
//! and TCG log). That example has no HCL report, so its runtime claims are built here with its AK
//! as HCLAkPub.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use cvm_attest_formats::appraise::vtpm::appraise;
use cvm_attest_formats::appraise::{AppraisalError, Status, Steps, VtpmError};
use cvm_attest_formats::bundle::{EphemeralKey, EvidenceBundle, PcrBank, Pcrs, Timestamp, TpmEvidence};
use cvm_attest_formats::eventlog::EventLog;
use cvm_attest_formats::hcl::{HclReport, RuntimeClaims};
use cvm_attest_formats::tpm::{AlgorithmId, Attest, HashAlg, PcrSelection, Public, policy_pcr};
use rsa::traits::PublicKeyParts;
use rsa::{BigUint, Pkcs1v15Sign, RsaPrivateKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const COCO_SNP_V0: &[u8] = include_bytes!("../../testdata/azure-snp/trustee-evidence-v0.json");
const COCO_SNP_V1: &[u8] = include_bytes!("../../testdata/azure-snp/trustee-evidence-v1.json");
const COCO_TDX_V0: &[u8] = include_bytes!("../../testdata/azure-tdx/trustee-evidence-tdx-v0.json");
const COCO_TDX_V1: &[u8] = include_bytes!("../../testdata/azure-tdx/trustee-evidence-tdx-v1.json");
const AZURE_GUEST: &str = include_str!("../../testdata/maa-rest-spec/AttestAzureGuestVm.json");

const NONCE: &[u8] = b"challenge";

const STEPS: [&str; 7] = [
    "vtpm-ak-public",
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
    (bundle.tpm, runtime)
}

fn run(tpm: &TpmEvidence, runtime: &RuntimeClaims, nonce: Option<&[u8]>, log: Option<&[u8]>) -> Steps {
    let mut steps = Steps::default();
    appraise(tpm, runtime, nonce, log, &mut steps);
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
        assert!(steps.as_slice()[3].detail.contains("\"challenge\""));
    }
}

#[test]
fn without_a_nonce_the_extra_data_is_shown() {
    let (tpm, runtime) = coco(COCO_SNP_V1);
    let steps = run(&tpm, &runtime, None, None);
    assert_eq!(steps.failure(), None);
    let step = &steps.as_slice()[3];
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
            ("vtpm-quote-signature", Passed),
            ("vtpm-quote-structure", Passed),
            ("vtpm-quote-nonce", NotEvaluated),
            ("vtpm-pcr-digest", Passed),
            ("vtpm-ephemeral-key", Passed),
            ("eventlog-replay", Passed),
        ],
        "{steps:#?}"
    );
    assert!(steps.as_slice()[3].detail.contains("extraData is empty"), "{steps:#?}");
    let key = &steps.as_slice()[5].detail;
    assert!(
        key.contains(&format!(
            "authPolicy {AZURE_GUEST_POLICY}, PolicyPCR over the quoted values of PCRs 0-7, 11-14"
        )),
        "{key}"
    );
    let replay = &steps.as_slice()[6].detail;
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
    assert_eq!(steps.as_slice()[5].status, Status::Passed, "{steps:#?}");
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
