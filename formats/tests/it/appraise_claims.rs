//! MAA-shaped claims from real evidence: the Confidential Containers SEV-SNP and TDX evidence, checked
//! against the reports they come from and against the shape of real MAA tokens (the sharedweu
//! `azurevm` token, and the SevSnpVm token MAA issued for the SNP report of its REST example).

use std::collections::BTreeSet;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use cvm_attest_formats::appraise::claims::{Hardware, azure_vm, sevsnpvm};
use cvm_attest_formats::appraise::{
    AppraisalError, Collateral, Policy, Status, Steps, TrustAnchors, appraise, snp, tdx,
};
use cvm_attest_formats::bundle::{EphemeralKey, EvidenceBundle, Timestamp};
use cvm_attest_formats::hcl::{HardwareReport, HclReport};
use cvm_attest_formats::snp::SnpReport;
use cvm_attest_formats::tdx::TdQuote;
use cvm_attest_formats::time::DateTime;
use cvm_attest_formats::tpm::Public;
use serde_json::{Map, Value, json};

const COCO_SNP_V1: &[u8] = include_bytes!("../../testdata/azure-snp/trustee-evidence-v1.json");
const COCO_TDX_V1: &[u8] = include_bytes!("../../testdata/azure-tdx/trustee-evidence-tdx-v1.json");
const MAA_TDXVM_TOKEN: &str = include_str!("../../testdata/maa/sharedwus-tdxvm-token-2026-10-08.jwt");
const SHAREDWEU_TOKEN: &str =
    include_str!("../../testdata/maa/cvm-clientlibtests-sharedweu-azurevm-sevsnpvm-2023-03-30.jwt");
const MAA_SEVSNPVM_EXAMPLE: &str = include_str!("../../testdata/maa-rest-spec/AttestSevSnpVm.json");
const AZURE_GUEST: &str = include_str!("../../testdata/maa-rest-spec/AttestAzureGuestVm.json");

fn at() -> Timestamp {
    Timestamp::parse("2026-11-27T21:31:00Z").expect("a valid timestamp")
}

fn bundle(json: &[u8]) -> (EvidenceBundle, HclReport) {
    let bundle = EvidenceBundle::from_coco_json(json, at()).expect("CoCo evidence");
    let hcl = HclReport::parse(&bundle.hcl_report).expect("an HCL report");
    (bundle, hcl)
}

/// The steps of the hardware section, run for real: the claims rest on their outcome.
fn hardware_steps(bundle: &EvidenceBundle, hardware: Hardware<'_>) -> Steps {
    let mut steps = Steps::default();
    let anchors = TrustAnchors::builtin();
    let when = DateTime::parse("2026-12-01T00:00:00Z").expect("an RFC 3339 time");
    let collateral = Collateral::default();
    let outcome = match hardware {
        Hardware::Snp(report) => {
            snp::appraise(report, bundle.vcek_chain.as_deref(), &anchors, &collateral, &when, &mut steps)
        }
        Hardware::Tdx(quote) => {
            tdx::appraise(quote, None, &anchors, &collateral, &when, &mut steps).map(drop)
        }
    };
    assert_eq!(outcome, Some(()), "{steps:#?}");
    steps
}

fn snp_report(hcl: &HclReport) -> &SnpReport {
    match hcl.hardware_report() {
        HardwareReport::Snp(report) => report,
        other => panic!("not an SNP HCL report: {other:?}"),
    }
}

/// The payload of a compact JWT.
fn jwt_payload(token: &str) -> Value {
    let payload = token.trim().split('.').nth(1).expect("a JWT has a payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("JSON")
}

fn keys(object: &Value) -> BTreeSet<String> {
    object.as_object().expect("a JSON object").keys().cloned().collect()
}

/// The AzureGuest example's ephemeral key, to give the CoCo evidence (which has none) one.
fn azure_guest_ephemeral_key() -> EphemeralKey {
    let doc: Value = serde_json::from_str(AZURE_GUEST).expect("JSON");
    let info = doc["parameters"]["request"]["attestationInfo"].as_str().expect("attestationInfo");
    let info: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(info).expect("base64url")).expect("JSON");
    let b64 =
        |field: &str| STANDARD.decode(info["TpmInfo"][field].as_str().expect("base64")).expect("base64");
    EphemeralKey {
        public: b64("EncKeyPub"),
        certify_info: b64("EncKeyCertifyInfo"),
        certify_signature: b64("EncKeyCertifyInfoSignature"),
    }
}

#[test]
fn snp_claims_are_the_report_and_runtime_claims() {
    let (bundle, hcl) = bundle(COCO_SNP_V1);
    let report = snp_report(&hcl);
    let steps = hardware_steps(&bundle, Hardware::Snp(report));
    let claims = azure_vm(
        bundle.tpm.as_ref().unwrap(),
        &hcl,
        &hcl.runtime_claims().unwrap(),
        Hardware::Snp(report),
        None,
        &steps,
    );
    let runtime = hcl.runtime_claims().unwrap();

    assert_eq!(claims["x-ms-attestation-type"], "azurevm");
    assert_eq!(claims["x-ms-ver"], "1.0");
    assert_eq!(claims["x-ms-azurevm-vmid"], runtime.vm_configuration.vm_unique_id.as_str());
    assert_eq!(claims["secureboot"], runtime.vm_configuration.secure_boot);
    assert_eq!(claims["x-ms-azurevm-attested-pcrs"], json!((0..24).collect::<Vec<u8>>()));
    // No nonce, ephemeral key or OS information in CoCo evidence: no claims for them.
    for absent in ["x-ms-runtime", "x-ms-azurevm-ostype", "x-ms-azurevm-is-windows", "iss", "exp", "jti"] {
        assert!(claims.get(absent).is_none(), "{absent}");
    }

    let tee = &claims["x-ms-isolation-tee"];
    assert_eq!(tee["x-ms-attestation-type"], "sevsnpvm");
    assert_eq!(tee["x-ms-compliance-status"], "azure-compliant-cvm");
    let runtime_json: Value = serde_json::from_slice(hcl.runtime_claims_json()).unwrap();
    assert_eq!(tee["x-ms-runtime"], runtime_json);
    let tcb = report.reported_tcb();
    assert_eq!(tee["x-ms-sevsnpvm-reportdata"], hex::encode(report.report_data()));
    assert_eq!(tee["x-ms-sevsnpvm-launchmeasurement"], hex::encode(report.measurement()));
    assert_eq!(tee["x-ms-sevsnpvm-idkeydigest"], hex::encode(report.id_key_digest()));
    assert_eq!(tee["x-ms-sevsnpvm-reportid"], hex::encode(report.report_id()));
    assert_eq!(tee["x-ms-sevsnpvm-familyId"], hex::encode(report.family_id()));
    assert_eq!(tee["x-ms-sevsnpvm-imageId"], hex::encode(report.image_id()));
    assert_eq!(tee["x-ms-sevsnpvm-microcode-svn"], tcb.microcode);
    assert_eq!(tee["x-ms-sevsnpvm-snpfw-svn"], tcb.snp);
    assert_eq!(tee["x-ms-sevsnpvm-bootloader-svn"], tcb.bootloader);
    assert_eq!(tee["x-ms-sevsnpvm-tee-svn"], tcb.tee);
    assert_eq!(tee["x-ms-sevsnpvm-guestsvn"], report.guest_svn());
    assert_eq!(tee["x-ms-sevsnpvm-vmpl"], 0);
    assert_eq!(tee["x-ms-sevsnpvm-is-debuggable"], false);
    assert_eq!(tee["x-ms-sevsnpvm-smt-allowed"], report.policy().smt_allowed());
    // The runtime claims' digest, as the HCL binding requires.
    let reportdata = tee["x-ms-sevsnpvm-reportdata"].as_str().unwrap();
    assert!(reportdata.starts_with(&hex::encode(hcl.runtime_claims_hash())));
}

#[test]
fn snp_claims_have_the_keys_and_types_of_a_real_maa_token() {
    let token = jwt_payload(SHAREDWEU_TOKEN);
    let (mut bundle, hcl) = bundle(COCO_SNP_V1);
    // Give the evidence the ephemeral key an AzureGuest request has, so its claims are produced.
    bundle.tpm.as_mut().unwrap().ephemeral_key = Some(azure_guest_ephemeral_key());
    let hardware = Hardware::Snp(snp_report(&hcl));
    let steps = hardware_steps(&bundle, hardware);
    let claims = azure_vm(
        bundle.tpm.as_ref().unwrap(),
        &hcl,
        &hcl.runtime_claims().unwrap(),
        hardware,
        Some(b"ADE0101"),
        &steps,
    );

    // The isolation claims are exactly MAA's; the top level is a subset (see the module docs).
    let (tee, token_tee) = (&claims["x-ms-isolation-tee"], &token["x-ms-isolation-tee"]);
    assert_eq!(keys(tee), keys(token_tee));
    assert!(keys(&claims).is_subset(&keys(&token)), "{:?}", keys(&claims).difference(&keys(&token)));
    assert_same_shape(claims.as_object().unwrap(), token.as_object().unwrap());
    assert_same_shape(tee.as_object().unwrap(), token_tee.as_object().unwrap());

    // The runtime payload: the nonce as base64 (this is the token's own nonce) and the key as a JWK.
    assert_eq!(claims["x-ms-runtime"]["client-payload"], token["x-ms-runtime"]["client-payload"]);
    let key = &claims["x-ms-runtime"]["keys"][0];
    assert_eq!(keys(key), keys(&token["x-ms-runtime"]["keys"][0]));
    assert_eq!(
        (&key["kid"], &key["e"], &key["key_ops"]),
        (&json!("TpmEphemeralEncryptionKey"), &json!("AQAB"), &json!(["encrypt"]))
    );
    let public = Public::parse_tpm2b(&bundle.tpm.unwrap().ephemeral_key.unwrap().public).unwrap();
    assert_eq!(key["n"], URL_SAFE_NO_PAD.encode(public.modulus()));
}

/// The bundle's `os` block is signed by nothing: added to genuine evidence, it still verifies (it
/// is informational), but no claim may come from it.
#[test]
fn an_unsigned_os_block_makes_no_claims() {
    let genuine = EvidenceBundle::from_coco_json(COCO_SNP_V1, at()).expect("CoCo evidence").to_json();
    let mut value: Value = serde_json::from_str(&genuine).expect("JSON");
    value["os"] = json!({"type": "Windows", "distro": "Attacker", "version_major": 99, "version_minor": 1});
    let bundle = EvidenceBundle::from_json(value.to_string().as_bytes()).expect("a bundle");
    assert_eq!(bundle.os.as_ref().map(|os| os.distro.as_str()), Some("Attacker"));

    let anchors = TrustAnchors::builtin();
    let when = DateTime::parse("2026-12-01T00:00:00Z").unwrap();
    let policy = Policy {
        expected_nonce: Some(b"challenge"),
        anchors: &anchors,
        collateral: Collateral::default(),
        at: &when,
    };
    let appraisal = appraise(&bundle, &policy);
    let claims =
        appraisal.claims.unwrap_or_else(|| panic!("genuine evidence verifies: {:#?}", appraisal.steps));
    let from_os: Vec<&String> = claims
        .as_object()
        .expect("an object")
        .keys()
        .filter(|name| name.starts_with("x-ms-azurevm-os") || *name == "x-ms-azurevm-is-windows")
        .collect();
    assert!(from_os.is_empty(), "claims from the unsigned os block: {from_os:?}");
    assert!(!claims.to_string().contains("Attacker"), "{claims}");
}

/// Every claim present in both has the same JSON type, and strings the same length (hex sizes).
fn assert_same_shape(ours: &Map<String, Value>, maa: &Map<String, Value>) {
    for (name, value) in ours {
        let Some(theirs) = maa.get(name) else { continue };
        let shape = |v: &Value| match v {
            Value::String(s) if s.bytes().all(|b| b.is_ascii_hexdigit()) => format!("hex{}", s.len()),
            Value::String(_) => "string".to_owned(),
            Value::Number(_) => "number".to_owned(),
            Value::Bool(_) => "bool".to_owned(),
            Value::Array(_) => "array".to_owned(),
            Value::Object(_) => "object".to_owned(),
            Value::Null => "null".to_owned(),
        };
        assert_eq!(shape(value), shape(theirs), "{name}: {value} vs MAA's {theirs}");
    }
}

#[test]
fn sevsnpvm_claims_equal_the_ones_maa_issued_for_the_same_report() {
    let example: Value = serde_json::from_str(MAA_SEVSNPVM_EXAMPLE).unwrap();
    let request = URL_SAFE_NO_PAD.decode(example["parameters"]["body"]["report"].as_str().unwrap()).unwrap();
    let request: Value = serde_json::from_slice(&request).unwrap();
    let report = URL_SAFE_NO_PAD.decode(request["SnpReport"].as_str().unwrap()).unwrap();
    let report = SnpReport::parse(&report).unwrap();
    assert_eq!(report.version(), 1);

    let token = jwt_payload(example["responses"]["200"]["body"]["token"].as_str().unwrap());
    let maa: Map<String, Value> = token
        .as_object()
        .unwrap()
        .iter()
        .filter(|(name, _)| name.starts_with("x-ms-sevsnpvm-"))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    assert_eq!(maa.len(), 17);
    assert_eq!(sevsnpvm(&report), maa);
}

#[test]
fn tdx_claims_are_the_td_quote() {
    let (bundle, hcl) = bundle(COCO_TDX_V1);
    let quote = TdQuote::parse(bundle.td_quote.as_deref().unwrap()).unwrap();
    let steps = hardware_steps(&bundle, Hardware::Tdx(&quote));
    let claims = azure_vm(
        bundle.tpm.as_ref().unwrap(),
        &hcl,
        &hcl.runtime_claims().unwrap(),
        Hardware::Tdx(&quote),
        None,
        &steps,
    );
    let body = quote.body();

    assert_eq!(claims["x-ms-attestation-type"], "azurevm");
    let tee = &claims["x-ms-isolation-tee"];
    assert_eq!(tee["x-ms-attestation-type"], "tdxvm");
    assert_eq!(tee["x-ms-compliance-status"], "azure-compliant-cvm");
    let runtime_json: Value = serde_json::from_slice(hcl.runtime_claims_json()).unwrap();
    assert_eq!(tee["x-ms-runtime"], runtime_json);
    assert_eq!(tee["tdx_mrtd"], hex::encode(body.mrtd));
    assert_eq!(tee["tdx_mrseam"], hex::encode(body.mrseam));
    for (i, rtmr) in body.rtmr.iter().enumerate() {
        assert_eq!(tee[format!("tdx_rtmr{i}")], hex::encode(rtmr));
    }
    assert_eq!(tee["tdx_report_data"], hex::encode(body.report_data));
    assert!(tee["tdx_report_data"].as_str().unwrap().starts_with(&hex::encode(hcl.runtime_claims_hash())));
    assert_eq!(tee["tdx_tee_tcb_svn"], hex::encode(body.tee_tcb_svn));
    assert_eq!(tee["tdx_xfam"], hex::encode(body.xfam.to_le_bytes()));
    assert_eq!(tee["tdx_td_attributes"], hex::encode(body.td_attributes.0.to_le_bytes()));
    assert_eq!(tee["tdx_td_attributes_debug"], false);
    assert_eq!(tee["tdx_td_attributes_septve_disable"], body.td_attributes.sept_ve_disable());
    for name in ["tdx_mrtd", "tdx_rtmr0", "tdx_mrconfigid", "tdx_mrowner", "tdx_mrownerconfig"] {
        assert_eq!(tee[name].as_str().unwrap().len(), 96, "{name}");
    }
    for name in ["tdx_seam_attributes", "tdx_td_attributes", "tdx_xfam"] {
        assert_eq!(tee[name].as_str().unwrap().len(), 16, "{name}");
    }
    let expected: BTreeSet<String> = [
        "x-ms-attestation-type",
        "x-ms-compliance-status",
        "x-ms-runtime",
        "tdx_mrseam",
        "tdx_mrsignerseam",
        "tdx_mrtd",
        "tdx_mrconfigid",
        "tdx_mrowner",
        "tdx_mrownerconfig",
        "tdx_rtmr0",
        "tdx_rtmr1",
        "tdx_rtmr2",
        "tdx_rtmr3",
        "tdx_report_data",
        "tdx_seam_attributes",
        "tdx_tee_tcb_svn",
        "tdx_xfam",
        "tdx_td_attributes",
        "tdx_td_attributes_debug",
        "tdx_td_attributes_septve_disable",
        "tdx_td_attributes_protection_keys",
        "tdx_td_attributes_key_locker",
        "tdx_td_attributes_perfmon",
        "tdx_td_attributes_hgs_plus_prof",
        "tdx_td_attributes_perf_prof",
        "tdx_td_attributes_pmt_prof",
        "tdx_td_attributes_icssd",
        "tdx_td_attributes_migratable",
        "tdx_xfam_cet_u",
        "tdx_xfam_cet_s",
        "tdx_seamsvn",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(keys(tee), expected);
}

/// The offline TDX claims against a real MAA `TdxVm` token (sharedwus, 2026-10-08), key by key: every
/// claim MAA derives from the TD is produced under the same name and type; what is MAA's alone is
/// listed with the reason.
#[test]
fn tdx_claims_conform_to_a_real_maa_tdxvm_token() {
    let token = jwt_payload(MAA_TDXVM_TOKEN);
    let maa = token.as_object().expect("claims");
    let (bundle, hcl) = bundle(COCO_TDX_V1);
    let quote = TdQuote::parse(bundle.td_quote.as_deref().unwrap()).unwrap();
    let steps = hardware_steps(&bundle, Hardware::Tdx(&quote));
    let claims = azure_vm(
        bundle.tpm.as_ref().unwrap(),
        &hcl,
        &hcl.runtime_claims().unwrap(),
        Hardware::Tdx(&quote),
        None,
        &steps,
    );
    let ours = claims["x-ms-isolation-tee"].as_object().expect("isolation claims");

    // MAA's alone: the token's own claims, the TdxVm profile's EAT claims, and the TCB status, which
    // needs Intel's collateral (tested with it in appraise_tdx).
    let maa_only: BTreeSet<&str> = [
        ("iss", "the token's issuer"),
        ("iat", "the token's issue time"),
        ("nbf", "the token's validity"),
        ("exp", "the token's validity"),
        ("jti", "the token's id"),
        ("x-ms-ver", "the token format's version"),
        ("x-ms-policy-hash", "MAA's attestation policy"),
        ("eat_profile", "the TdxVm token profile"),
        ("intuse", "the TdxVm token profile"),
        ("dbgstat", "the TdxVm token profile"),
        ("attester_tcb_status", "needs Intel's TCB collateral"),
    ]
    .into_iter()
    .map(|(name, _why)| name)
    .collect();
    let missing: Vec<&String> =
        maa.keys().filter(|name| !ours.contains_key(*name) && !maa_only.contains(name.as_str())).collect();
    assert!(missing.is_empty(), "MAA claims the offline verifier does not produce: {missing:?}");
    let extra: Vec<&String> =
        ours.keys().filter(|name| !maa.contains_key(*name) && name.as_str() != "x-ms-runtime").collect();
    assert!(extra.is_empty(), "claims MAA does not issue: {extra:?}");
    assert_same_shape(ours, maa);
    // The derived values agree with the token's own fields (another TD, so compare derivations).
    let svn = hex::decode(maa["tdx_tee_tcb_svn"].as_str().unwrap()).unwrap();
    assert_eq!(maa["tdx_seamsvn"], u16::from_le_bytes([svn[0], svn[1]]));
    assert_eq!(
        (&maa["tdx_xfam"], &maa["tdx_xfam_cet_u"], &maa["tdx_xfam_cet_s"]),
        (&ours["tdx_xfam"], &json!(true), &json!(true))
    );
    assert_eq!((&ours["tdx_xfam_cet_u"], &ours["tdx_xfam_cet_s"]), (&json!(true), &json!(true)));
    assert_eq!(ours["tdx_seamsvn"], 0x0102, "TEE_TCB_SVN 0201…");
}

/// `x-ms-compliance-status` stands for the debug check (`snp-policy`, `tdx-td-attributes`): it is
/// asserted only when that step ran and passed and no step failed, never for merely being asked.
#[test]
fn compliance_status_needs_the_debug_check_to_have_passed() {
    for json in [COCO_SNP_V1, COCO_TDX_V1] {
        let (bundle, hcl) = bundle(json);
        let runtime = hcl.runtime_claims().unwrap();
        let quote = bundle.td_quote.as_deref().map(|bytes| TdQuote::parse(bytes).unwrap());
        let hardware = match &quote {
            Some(quote) => Hardware::Tdx(quote),
            None => Hardware::Snp(snp_report(&hcl)),
        };
        let compliance = |steps: &Steps| {
            let claims = azure_vm(bundle.tpm.as_ref().unwrap(), &hcl, &runtime, hardware, None, steps);
            claims["x-ms-isolation-tee"].get("x-ms-compliance-status").cloned()
        };
        let checked = hardware_steps(&bundle, hardware);
        assert_eq!(compliance(&checked), Some(json!("azure-compliant-cvm")));

        // The debug check did not run: no compliance.
        let debug_check = if quote.is_some() { tdx::TD_ATTRIBUTES } else { snp::POLICY };
        let mut without = Steps::default();
        for step in checked.as_slice().iter().filter(|step| step.name != debug_check) {
            if step.status == Status::Passed {
                without.pass(step.name, step.detail.clone());
            } else {
                without.not_evaluated(step.name, step.detail.clone());
            }
        }
        assert_eq!(compliance(&without), None);
        assert_eq!(compliance(&Steps::default()), None);

        // It passed, but a later step failed: no compliance either.
        let mut failed = checked.clone();
        failed.fail::<()>("report-user-data", AppraisalError::UserDataMismatch { found: vec![1; 64] });
        assert_eq!(compliance(&failed), None);
    }
}
