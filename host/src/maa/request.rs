//! MAA request documents built from an evidence bundle: `AzureGuest` (vTPM and, for a CVM, TEE
//! evidence), `SevSnpVm` and `TdxVm` (TEE evidence only). docs/protocol.md §10.2–§10.4.
//!
//! Encodings copy one official client each, since clients differ and MAA accepts them all: the C++
//! `AttestationClient` for AzureGuest (outer document base64url without padding, every inner byte
//! string standard base64 with padding, the SNP report base64url), the Python and Rust clients for
//! what the C++ client does not send (TDX evidence, SevSnpVm, TdxVm: base64url without padding; the
//! VCEK chain, PEM text, standard base64 everywhere).
//! `cvm_attest_formats::bundle::EvidenceBundle::from_maa_request` reads all of them back.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use cvm_attest_formats::bundle::{EvidenceBundle, Platform, TpmEvidence};
use cvm_attest_formats::hcl::{HardwareReport, HclReport};
use serde_json::{Map, Value, json};

use super::Api;

/// `AttestationProtocolVersion` of the AzureGuest document.
const PROTOCOL_VERSION: &str = "2.0";

/// Why a request cannot be built from a bundle.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The API needs a part the bundle lacks.
    #[error("{api} needs {what}, which the evidence lacks")]
    Missing { api: &'static str, what: &'static str },
    /// The bundle's HCL report does not parse.
    #[error("the evidence's HCL report: {0}")]
    HclReport(#[from] cvm_attest_formats::ParseError),
    /// The API is for another platform.
    #[error("{api} is for {expected} evidence, not {found}")]
    Platform { api: &'static str, expected: Platform, found: Platform },
}

/// The request body for `api`, as JSON text. `nonce` is the platform APIs' `nonce` member, which MAA
/// echoes in its token (AzureGuest carries the bundle's nonce in its client payload instead).
pub fn body(api: Api, bundle: &EvidenceBundle, nonce: Option<&str>) -> Result<String, Error> {
    let body = match api {
        Api::AzureGuest => azure_guest(bundle)?,
        Api::SevSnpVm | Api::TdxVm => platform(api, bundle, nonce)?,
    };
    Ok(body.to_string())
}

/// `{"AttestationInfo": base64url(JSON)}`.
fn azure_guest(bundle: &EvidenceBundle) -> Result<Value, Error> {
    let api = Api::AzureGuest.document();
    let tpm = bundle.tpm.as_ref().ok_or(Error::Missing { api, what: "vTPM evidence" })?;
    let mut info = Map::new();
    info.insert("AttestationProtocolVersion".into(), PROTOCOL_VERSION.into());
    if let Some(os) = &bundle.os {
        // The C++ client's spelling for Linux ("NotApplication", sic) and Windows.
        let build = if os.os_type == "Windows" { "NotApplicable" } else { "NotApplication" };
        info.insert("OSType".into(), STANDARD.encode(&os.os_type).into());
        info.insert("OSDistro".into(), STANDARD.encode(&os.distro).into());
        info.insert("OSVersionMajor".into(), os.version_major.into());
        info.insert("OSVersionMinor".into(), os.version_minor.into());
        info.insert("OSBuild".into(), STANDARD.encode(build).into());
    }
    info.insert(
        "TcgLogs".into(),
        bundle.event_log.as_deref().map(|log| STANDARD.encode(log)).unwrap_or_default().into(),
    );
    let mut payload = Map::new();
    if let Some(nonce) = &bundle.nonce {
        payload.insert("nonce".into(), STANDARD.encode(nonce).into());
    }
    info.insert("ClientPayload".into(), payload.into());
    info.insert("TpmInfo".into(), tpm_info(tpm));
    info.insert("IsolationInfo".into(), isolation_info(bundle)?);
    let info = Value::from(info).to_string();
    Ok(json!({ "AttestationInfo": URL_SAFE_NO_PAD.encode(info) }))
}

fn tpm_info(tpm: &TpmEvidence) -> Value {
    let mut info = Map::new();
    if let Some(cert) = &tpm.ak_cert {
        info.insert("AikCert".into(), STANDARD.encode(cert).into());
    }
    info.insert("AikPub".into(), STANDARD.encode(&tpm.ak_public).into());
    info.insert("PcrQuote".into(), STANDARD.encode(&tpm.quote).into());
    info.insert("PcrSignature".into(), STANDARD.encode(&tpm.quote_signature).into());
    let values = tpm.pcrs.values();
    info.insert("PcrSet".into(), values.keys().copied().collect::<Vec<u8>>().into());
    let pcrs: Vec<Value> = values
        .iter()
        .map(|(index, digest)| json!({ "Index": index, "Digest": STANDARD.encode(digest) }))
        .collect();
    info.insert("PCRs".into(), pcrs.into());
    if let Some(key) = &tpm.ephemeral_key {
        info.insert("EncKeyPub".into(), STANDARD.encode(&key.public).into());
        info.insert("EncKeyCertifyInfo".into(), STANDARD.encode(&key.certify_info).into());
        info.insert("EncKeyCertifyInfoSignature".into(), STANDARD.encode(&key.certify_signature).into());
    }
    info.into()
}

fn isolation_info(bundle: &EvidenceBundle) -> Result<Value, Error> {
    let api = Api::AzureGuest.document();
    Ok(match bundle.platform {
        Platform::AzureTrustedLaunch => json!({ "Type": "TrustedLaunch" }),
        Platform::AzureSevSnp => {
            let (proof, runtime) = snp_proof(api, bundle)?;
            json!({ "Type": "SevSnp", "Evidence": {
                "Proof": STANDARD.encode(proof.to_string()),
                "RunTimeData": STANDARD.encode(runtime),
            }})
        }
        Platform::AzureTdx => {
            let (quote, runtime) = tdx_evidence(api, bundle)?;
            json!({ "Type": "Tdx", "Evidence": {
                "Proof": URL_SAFE_NO_PAD.encode(quote),
                "RunTimeData": URL_SAFE_NO_PAD.encode(runtime),
            }})
        }
    })
}

/// `{"report"|"quote", "runtimeData", "nonce"?}`.
fn platform(api: Api, bundle: &EvidenceBundle, nonce: Option<&str>) -> Result<Value, Error> {
    let name = api.document();
    let expected = if api == Api::SevSnpVm { Platform::AzureSevSnp } else { Platform::AzureTdx };
    if bundle.platform != expected {
        return Err(Error::Platform { api: name, expected, found: bundle.platform });
    }
    let (member, evidence, runtime) = match api {
        Api::SevSnpVm => {
            let (proof, runtime) = snp_proof(name, bundle)?;
            ("report", URL_SAFE_NO_PAD.encode(proof.to_string()), runtime)
        }
        _ => {
            let (quote, runtime) = tdx_evidence(name, bundle)?;
            ("quote", URL_SAFE_NO_PAD.encode(quote), runtime)
        }
    };
    let mut body = Map::new();
    body.insert(member.into(), evidence.into());
    body.insert("runtimeData".into(), json!({ "data": URL_SAFE_NO_PAD.encode(runtime), "dataType": "JSON" }));
    if let Some(nonce) = nonce {
        body.insert("nonce".into(), nonce.into());
    }
    Ok(body.into())
}

/// The SEV-SNP proof `{"SnpReport", "VcekCertChain"}` and the runtime claims.
fn snp_proof(api: &'static str, bundle: &EvidenceBundle) -> Result<(Value, Vec<u8>), Error> {
    let hcl = HclReport::parse(&bundle.hcl_report)?;
    let HardwareReport::Snp(report) = hcl.hardware_report() else {
        return Err(Error::Missing { api, what: "an SEV-SNP report in the HCL report" });
    };
    let chain = bundle.vcek_chain.as_deref().ok_or(Error::Missing { api, what: "the VCEK chain" })?;
    let proof = json!({
        "SnpReport": URL_SAFE_NO_PAD.encode(report.as_bytes()),
        "VcekCertChain": STANDARD.encode(chain),
    });
    Ok((proof, hcl.runtime_claims_json().to_vec()))
}

/// The TD quote and the runtime claims.
fn tdx_evidence(api: &'static str, bundle: &EvidenceBundle) -> Result<(Vec<u8>, Vec<u8>), Error> {
    let hcl = HclReport::parse(&bundle.hcl_report)?;
    let quote = bundle.td_quote.clone().ok_or(Error::Missing { api, what: "the TD quote" })?;
    Ok((quote, hcl.runtime_claims_json().to_vec()))
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::URL_SAFE;
    use cvm_attest_formats::bundle::Timestamp;

    use super::*;

    const AZURE_GUEST: &str = include_str!("../../../formats/testdata/maa-rest-spec/AttestAzureGuestVm.json");
    const SEVSNPVM: &str = include_str!("../../../formats/testdata/maa-rest-spec/AttestSevSnpVm.json");
    const COCO_SNP: &[u8] = include_bytes!("../../../formats/testdata/azure-snp/trustee-evidence-v1.json");
    const COCO_TDX: &[u8] =
        include_bytes!("../../../formats/testdata/azure-tdx/trustee-evidence-tdx-v1.json");

    fn at() -> Timestamp {
        Timestamp::parse("2026-12-01T00:00:00Z").expect("timestamp")
    }

    fn example(text: &str, member: &str) -> Value {
        let example: Value = serde_json::from_str(text).expect("JSON");
        example["parameters"][member].clone()
    }

    fn read(api: Api, body: &str) -> EvidenceBundle {
        EvidenceBundle::from_maa_request(api, body.as_bytes(), at()).expect("the request reads")
    }

    /// Base64 of either alphabet, padded or not.
    fn decode(text: &str) -> Vec<u8> {
        let text = text.trim_end_matches('=');
        URL_SAFE_NO_PAD.decode(text.replace('+', "-").replace('/', "_")).expect("base64")
    }

    fn attestation_info(body: &Value) -> Value {
        let info = body.get("AttestationInfo").or_else(|| body.get("attestationInfo")).expect("member");
        serde_json::from_slice(&decode(info.as_str().expect("text"))).expect("JSON")
    }

    #[test]
    fn an_azure_guest_document_matches_the_real_one_field_by_field() {
        let original = example(AZURE_GUEST, "request");
        let bundle = read(Api::AzureGuest, &original.to_string());
        let built: Value =
            serde_json::from_str(&body(Api::AzureGuest, &bundle, None).expect("body")).expect("JSON");
        let outer = built["AttestationInfo"].as_str().expect("text");
        assert!(!outer.contains('=') && URL_SAFE_NO_PAD.decode(outer).is_ok(), "base64url, unpadded");

        let (built, original) = (attestation_info(&built), attestation_info(&original));
        let (built, original) = (built.as_object().expect("object"), original.as_object().expect("object"));
        for (name, value) in original {
            // The example's client payload is Windows' `ArmID`, which evidence does not keep.
            if name == "ClientPayload" {
                assert_eq!(built[name], json!({}));
                continue;
            }
            // Every string as the C++ client encodes it: the same text, padding and alphabet.
            assert_eq!(built.get(name), Some(value), "{name}");
        }
        assert_eq!(built.len(), original.len(), "no member of our own");
    }

    #[test]
    fn a_sevsnpvm_document_carries_the_real_examples_report_chain_and_runtime_data() {
        let original = example(SEVSNPVM, "body");
        let bundle = read(Api::SevSnpVm, &original.to_string());
        let built: Value =
            serde_json::from_str(&body(Api::SevSnpVm, &bundle, Some("noncesevsnp987")).expect("body"))
                .expect("JSON");
        assert_eq!(built["nonce"], "noncesevsnp987");
        assert_eq!(built["runtimeData"]["dataType"], "JSON");
        assert_eq!(
            decode(built["runtimeData"]["data"].as_str().expect("text")),
            decode(original["runtimeData"]["data"].as_str().expect("text"))
        );
        let proof = |body: &Value| -> Value {
            serde_json::from_slice(&decode(body["report"].as_str().expect("text"))).expect("JSON")
        };
        let (built_proof, original_proof) = (proof(&built), proof(&original));
        for member in ["SnpReport", "VcekCertChain"] {
            let bytes = |proof: &Value| decode(proof[member].as_str().expect("text"));
            assert_eq!(bytes(&built_proof), bytes(&original_proof), "{member}");
        }
        assert!(URL_SAFE.decode(built_proof["SnpReport"].as_str().expect("text")).is_err(), "unpadded");
    }

    #[test]
    fn cvm_documents_read_back_to_the_evidence_they_were_built_from() {
        for coco in [COCO_SNP, COCO_TDX] {
            let bundle = EvidenceBundle::from_coco_json(coco, at()).expect("CoCo evidence");
            let hcl = HclReport::parse(&bundle.hcl_report).expect("HCL");
            let platform_api =
                if bundle.platform == Platform::AzureSevSnp { Api::SevSnpVm } else { Api::TdxVm };
            for api in [Api::AzureGuest, platform_api] {
                let request = read(api, &body(api, &bundle, Some("n")).expect("body"));
                assert_eq!(request.platform, bundle.platform, "{api:?}");
                assert_eq!(
                    (&request.vcek_chain, &request.td_quote),
                    (&bundle.vcek_chain, &bundle.td_quote),
                    "{api:?}"
                );
                let read_hcl = HclReport::parse(&request.hcl_report).expect("assembled HCL");
                assert_eq!(read_hcl.runtime_claims_json(), hcl.runtime_claims_json(), "{api:?}");
                let expected_tpm = if api == Api::AzureGuest { bundle.tpm.clone() } else { None };
                assert_eq!(request.tpm, expected_tpm, "{api:?}");
            }
        }
    }

    #[test]
    fn a_request_the_evidence_cannot_fill_is_refused_naming_what_is_missing() {
        let tdx = EvidenceBundle::from_coco_json(COCO_TDX, at()).expect("CoCo evidence");
        let err = body(Api::SevSnpVm, &tdx, None).expect_err("refused").to_string();
        assert_eq!(err, "MAA SevSnpVm request is for azure-sev-snp evidence, not azure-tdx");
        let mut no_tpm = tdx;
        no_tpm.tpm = None;
        let err = body(Api::AzureGuest, &no_tpm, None).expect_err("refused").to_string();
        assert!(err.contains("needs vTPM evidence"), "{err}");
    }
}
