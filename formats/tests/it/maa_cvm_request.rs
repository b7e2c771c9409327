//! MAA requests of confidential VMs as evidence: AzureGuest with SevSnp or Tdx isolation, SevSnpVm and
//! TdxVm. The real SevSnpVm example (MAA's REST API) is appraised and its claims compared with the
//! token MAA issued for it; AzureGuest, SevSnpVm and TdxVm requests are built here, the way the
//! official clients build them, from the real Confidential Containers evidence, and must appraise as
//! that evidence does.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use cvm_attest_formats::appraise::{Appraisal, Collateral, Policy, Status, TrustAnchors, appraise};
use cvm_attest_formats::bundle::{EvidenceBundle, EvidenceKind, MaaRequest, Platform, Timestamp, detect};
use cvm_attest_formats::hcl::{HardwareReport, HclReport};
use cvm_attest_formats::time::DateTime;
use serde_json::{Value, json};

const COCO_SNP_V1: &[u8] = include_bytes!("../../testdata/azure-snp/trustee-evidence-v1.json");
const COCO_TDX_V1: &[u8] = include_bytes!("../../testdata/azure-tdx/trustee-evidence-tdx-v1.json");
const SEVSNPVM_EXAMPLE: &str = include_str!("../../testdata/maa-rest-spec/AttestSevSnpVm.json");

fn received() -> Timestamp {
    Timestamp::parse("2026-12-01T00:00:00Z").expect("timestamp")
}

fn read(kind: MaaRequest, body: &[u8]) -> EvidenceBundle {
    assert_eq!(detect(body), EvidenceKind::Maa(kind));
    EvidenceBundle::from_maa_request(kind, body, received()).expect("the request reads")
}

fn refused(kind: MaaRequest, body: &Value) -> String {
    EvidenceBundle::from_maa_request(kind, body.to_string().as_bytes(), received())
        .expect_err("refused")
        .to_string()
}

fn appraised(bundle: &EvidenceBundle, at: &str, nonce: Option<&[u8]>) -> Appraisal {
    let anchors = TrustAnchors::builtin();
    let at = DateTime::parse(at).expect("time");
    let policy =
        Policy { expected_nonce: nonce, anchors: &anchors, collateral: Collateral::default(), at: &at };
    appraise(bundle, &policy)
}

/// `(name, status)` of each step.
fn outcome(appraisal: &Appraisal) -> Vec<(&'static str, Status)> {
    appraisal.steps.as_slice().iter().map(|step| (step.name, step.status)).collect()
}

/// The Confidential Containers evidence as a bundle, and its HCL report.
fn coco(json: &[u8]) -> (EvidenceBundle, HclReport) {
    let bundle = EvidenceBundle::from_coco_json(json, received()).expect("CoCo evidence");
    let hcl = HclReport::parse(&bundle.hcl_report).expect("HCL report");
    (bundle, hcl)
}

/// The SEV-SNP proof as the C++ client writes it: the report base64url, the chain base64.
fn snp_proof(bundle: &EvidenceBundle, hcl: &HclReport) -> Vec<u8> {
    let HardwareReport::Snp(report) = hcl.hardware_report() else { panic!("an SNP HCL report") };
    let chain = bundle.vcek_chain.as_deref().expect("VCEK");
    json!({"SnpReport": URL_SAFE_NO_PAD.encode(report.as_bytes()), "VcekCertChain": STANDARD.encode(chain)})
        .to_string()
        .into_bytes()
}

/// An AzureGuest request of `bundle`: SevSnp evidence in the C++ client's encodings (padded base64),
/// Tdx in the Python client's (unpadded base64url).
fn azure_guest(bundle: &EvidenceBundle, hcl: &HclReport) -> Vec<u8> {
    let tpm = bundle.tpm.as_ref().expect("vTPM evidence");
    let isolation = match bundle.platform {
        Platform::AzureSevSnp => json!({"Type": "SevSnp", "Evidence": {
            "Proof": STANDARD.encode(snp_proof(bundle, hcl)),
            "RunTimeData": STANDARD.encode(hcl.runtime_claims_json()),
        }}),
        _ => json!({"Type": "Tdx", "Evidence": {
            "Proof": URL_SAFE_NO_PAD.encode(bundle.td_quote.as_deref().expect("TD quote")),
            "RunTimeData": URL_SAFE_NO_PAD.encode(hcl.runtime_claims_json()),
        }}),
    };
    let pcrs: Vec<Value> = tpm
        .pcrs
        .values()
        .iter()
        .map(|(index, digest)| json!({"Index": index, "Digest": STANDARD.encode(digest)}))
        .collect();
    let info = json!({
        "AttestationProtocolVersion": "2.0",
        "OSType": STANDARD.encode("Linux"),
        "OSDistro": STANDARD.encode("Ubuntu"),
        "OSVersionMajor": 22,
        "OSVersionMinor": 4,
        "OSBuild": STANDARD.encode("NotApplication"),
        "TcgLogs": "",
        "ClientPayload": {"nonce": STANDARD.encode("ADE0101")},
        "TpmInfo": {
            "AikPub": STANDARD.encode(&tpm.ak_public),
            "PcrQuote": STANDARD.encode(&tpm.quote),
            "PcrSignature": STANDARD.encode(&tpm.quote_signature),
            "PcrSet": tpm.pcrs.values().keys().collect::<Vec<_>>(),
            "PCRs": pcrs,
        },
        "IsolationInfo": isolation,
    });
    json!({"AttestationInfo": URL_SAFE_NO_PAD.encode(info.to_string())}).to_string().into_bytes()
}

/// A SevSnpVm or TdxVm request of `bundle`, as MAA's REST API defines them.
fn platform_request(bundle: &EvidenceBundle, hcl: &HclReport) -> Value {
    let runtime = json!({"data": URL_SAFE_NO_PAD.encode(hcl.runtime_claims_json()), "dataType": "JSON"});
    match bundle.platform {
        Platform::AzureSevSnp => json!({
            "report": URL_SAFE_NO_PAD.encode(snp_proof(bundle, hcl)),
            "runtimeData": runtime,
            "nonce": "nonce-1",
        }),
        _ => json!({
            "quote": URL_SAFE_NO_PAD.encode(bundle.td_quote.as_deref().expect("TD quote")),
            "runtimeData": runtime,
        }),
    }
}

const AT: &str = "2026-12-01T00:00:00Z";

#[test]
fn an_azure_guest_request_of_a_cvm_appraises_as_the_evidence_it_was_built_from() {
    for (coco_json, platform) in [(COCO_SNP_V1, Platform::AzureSevSnp), (COCO_TDX_V1, Platform::AzureTdx)] {
        let (evidence, hcl) = coco(coco_json);
        let request = read(MaaRequest::AzureGuest, &azure_guest(&evidence, &hcl));
        assert_eq!(request.platform, platform);
        assert_eq!(request.tpm, evidence.tpm, "{platform}: the vTPM evidence as sent");
        assert_eq!(request.nonce.as_deref(), Some(&b"ADE0101"[..]));
        let assembled = HclReport::parse(&request.hcl_report).expect("the assembled HCL report parses");
        assert_eq!(assembled.runtime_claims_json(), hcl.runtime_claims_json());

        let (expected, found) = (appraised(&evidence, AT, None), appraised(&request, AT, None));
        assert!(found.steps.failure().is_none(), "{platform}: {:#?}", found.steps);
        // The same steps with the same outcome, but for the TD report, which a request has not.
        let without_td_report: Vec<_> = outcome(&expected)
            .into_iter()
            .filter(|(name, _)| *name != "tdx-td-report")
            .map(|(name, status)| match name {
                "tdx-td-report-match" => (name, Status::NotEvaluated),
                _ => (name, status),
            })
            .collect();
        assert_eq!(outcome(&found), without_td_report, "{platform}");
        assert_eq!(found.claims, expected.claims, "{platform}: the same claims");
    }
}

#[test]
fn the_tdx_quote_of_a_request_binds_its_runtime_claims() {
    let (evidence, hcl) = coco(COCO_TDX_V1);
    let request = read(MaaRequest::AzureGuest, &azure_guest(&evidence, &hcl));
    let appraisal = appraised(&request, AT, None);
    let step = |name: &str| appraisal.steps.as_slice().iter().find(|s| s.name == name).expect(name).clone();
    assert!(
        step("hcl-report").detail.contains("the TD quote is the hardware evidence"),
        "{}",
        step("hcl-report").detail
    );
    assert_eq!(step("hcl-binding").status, Status::Passed);

    // Other runtime claims than the quote's: the binding fails, nothing after it runs.
    let mut body: Value = serde_json::from_slice(&azure_guest(&evidence, &hcl)).expect("JSON");
    let info = URL_SAFE_NO_PAD.decode(body["AttestationInfo"].as_str().expect("text")).expect("base64");
    let mut info: Value = serde_json::from_slice(&info).expect("JSON");
    let claims = String::from_utf8(hcl.runtime_claims_json().to_vec()).expect("UTF-8");
    let tampered = claims.replacen("\"secure-boot\":true", "\"secure-boot\":false", 1);
    assert_ne!(tampered, claims, "the runtime claims say secure-boot true");
    info["IsolationInfo"]["Evidence"]["RunTimeData"] = STANDARD.encode(tampered).into();
    body["AttestationInfo"] = URL_SAFE_NO_PAD.encode(info.to_string()).into();
    let appraisal = appraised(&read(MaaRequest::AzureGuest, body.to_string().as_bytes()), AT, None);
    let failure = appraisal.steps.failure().expect("a failed step");
    assert_eq!(failure.name, "hcl-binding", "{failure:?}");
    assert_eq!(appraisal.steps.as_slice().last().map(|s| s.name), Some("hcl-binding"));
    assert_eq!(appraisal.claims, None);
}

#[test]
fn sevsnpvm_and_tdxvm_requests_get_the_platform_claims_of_their_hardware_report() {
    for (coco_json, kind) in [(COCO_SNP_V1, MaaRequest::SevSnpVm), (COCO_TDX_V1, MaaRequest::TdxVm)] {
        let (evidence, hcl) = coco(coco_json);
        let request = read(kind, platform_request(&evidence, &hcl).to_string().as_bytes());
        assert_eq!(request.tpm, None, "{kind:?}: no vTPM part");
        let appraisal = appraised(&request, AT, None);
        assert!(appraisal.steps.failure().is_none(), "{kind:?}: {:#?}", appraisal.steps);
        let vtpm = appraisal.steps.as_slice().iter().find(|s| s.name == "vtpm").expect("a vtpm step");
        assert_eq!(vtpm.status, Status::NotEvaluated);
        assert!(!appraisal.steps.as_slice().iter().any(|s| s.name.starts_with("vtpm-")));

        // The TEE claims of the whole evidence, at the top level, and nothing of the vTPM.
        let whole = appraised(&evidence, AT, None).claims.expect("claims");
        let mut expected = whole["x-ms-isolation-tee"].clone();
        expected["x-ms-ver"] = "1.0".into();
        assert_eq!(appraisal.claims, Some(expected), "{kind:?}");
    }
    let (evidence, hcl) = coco(COCO_SNP_V1);
    let request = read(MaaRequest::SevSnpVm, platform_request(&evidence, &hcl).to_string().as_bytes());
    assert_eq!(request.nonce.as_deref(), Some(&b"nonce-1"[..]), "the request's nonce, kept unverified");
}

#[test]
fn without_a_vtpm_quote_an_expected_nonce_needs_the_reports_user_data() {
    let (evidence, hcl) = coco(COCO_SNP_V1);
    let request = read(MaaRequest::SevSnpVm, platform_request(&evidence, &hcl).to_string().as_bytes());
    let appraisal = appraised(&request, AT, Some(b"nonce-1"));
    let failure = appraisal.steps.failure().expect("a failed step");
    assert_eq!(failure.name, "report-user-data");
    assert!(failure.detail.starts_with("nothing binds the expected nonce"), "{}", failure.detail);
    assert_eq!(appraisal.claims, None);
}

#[test]
fn the_real_sevsnpvm_example_appraises_to_the_claims_maa_issued_for_it() {
    let example: Value = serde_json::from_str(SEVSNPVM_EXAMPLE).expect("JSON");
    let body = example["parameters"]["body"].to_string();
    let request = read(MaaRequest::SevSnpVm, body.as_bytes());
    assert_eq!(request.platform, Platform::AzureSevSnp);
    // As of the token's issue time (iat 1663796851).
    let appraisal = appraised(&request, "2022-09-21T21:47:31Z", None);
    assert!(appraisal.steps.failure().is_none(), "{:#?}", appraisal.steps);
    let claims = appraisal.claims.expect("claims");

    let token = example["responses"]["200"]["body"]["token"].as_str().expect("token");
    let payload = token.split('.').nth(1).expect("payload");
    let maa: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("JSON");
    let maa = maa.as_object().expect("object");
    // What MAA adds as the issuer of a token, and the nonce it echoes, are not the evidence's.
    let token_only = ["exp", "iat", "iss", "jti", "nbf", "nonce", "x-ms-policy-hash"];
    for (name, value) in maa {
        if token_only.contains(&name.as_str()) {
            assert!(claims.get(name).is_none(), "{name} is a token's, not the evidence's");
        } else {
            assert_eq!(claims.get(name), Some(value), "{name}");
        }
    }
    assert_eq!(
        claims.as_object().expect("object").len() + token_only.len(),
        maa.len(),
        "no claim of our own"
    );
}

#[test]
fn malformed_or_unsupported_requests_are_refused_naming_the_field() {
    let (evidence, hcl) = coco(COCO_SNP_V1);
    let good = platform_request(&evidence, &hcl);
    let with = |name: &str, value: Value| {
        let mut body = good.clone();
        body[name] = value;
        body
    };
    let err = refused(MaaRequest::SevSnpVm, &with("initTimeData", json!({"data": "", "dataType": "JSON"})));
    assert!(err.contains("invalid initTimeData: not read"), "{err}");
    let err = refused(MaaRequest::SevSnpVm, &with("draftPolicyForAttestation", "version=1.0;".into()));
    assert!(err.contains("draftPolicyForAttestation"), "{err}");
    let err = refused(MaaRequest::SevSnpVm, &with("runtimeData", json!({"data": "", "dataType": "Binary"})));
    assert!(err.contains("runtimeData.dataType: `Binary`"), "{err}");
    let short = json!({"SnpReport": URL_SAFE_NO_PAD.encode([1; 100]), "VcekCertChain": STANDARD.encode("x")});
    let err =
        refused(MaaRequest::SevSnpVm, &with("report", URL_SAFE_NO_PAD.encode(short.to_string()).into()));
    assert!(err.contains("report.SnpReport: 100 bytes; an SEV-SNP report is 1184"), "{err}");
    let err = refused(MaaRequest::TdxVm, &json!({"quote": "***", "runtimeData": good["runtimeData"]}));
    assert!(err.contains("MAA TdxVm request: invalid quote: not base64"), "{err}");
    let err = refused(MaaRequest::SevSnpVm, &json!({"runtimeData": good["runtimeData"]}));
    assert!(err.contains("invalid report: missing"), "{err}");

    let guest: Value = serde_json::from_slice(&azure_guest(&evidence, &hcl)).expect("JSON");
    let info = URL_SAFE_NO_PAD.decode(guest["AttestationInfo"].as_str().expect("text")).expect("base64");
    let mut info: Value = serde_json::from_slice(&info).expect("JSON");
    info["IsolationInfo"] = json!({"Type": "SevSnp"});
    let err = refused(MaaRequest::AzureGuest, &json!({"AttestationInfo": STANDARD.encode(info.to_string())}));
    assert!(err.contains("IsolationInfo.Evidence: missing"), "{err}");
    info["IsolationInfo"] = json!({"Type": "Sgx"});
    let err = refused(MaaRequest::AzureGuest, &json!({"AttestationInfo": STANDARD.encode(info.to_string())}));
    assert!(err.contains("`Sgx`; expected `SevSnp`, `Tdx` or `TrustedLaunch`"), "{err}");
}
