//! Every tamper the MAA service must catch (issue 13, "Tests"), end to end against real processes:
//! each test starts its own simulated CVM (swtpm behind the paravisor), IMDS and MAA-compatible
//! service on free loopback ports, collects real evidence from the simulated vTPM with cvm-attest's
//! own collection code (`cvm_attest::evidence::collect`, called in-process), builds the AzureGuest
//! request with cvm-attest's own `cvm_attest::maa::request::body`, and posts it over HTTPS.
//!
//! The untampered request gets a token the vTPM can open (its ephemeral key unwraps the envelope's
//! inner key). Each tamper changes exactly one thing in the request and is refused with HTTP 400
//! and MAA's error JSON naming the appraisal step that caught it; in each test the same request put
//! through the same decoding and re-encoding with nothing changed is accepted, so the refusal is the
//! tamper's doing and nothing else's.

use std::path::Path;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use cvm_attest::evidence::collect::{self, Request};
use cvm_attest::evidence::imds::{Imds as ImdsClient, Retry};
use cvm_attest::evidence::vtpm::Vtpm;
use cvm_attest::maa::envelope::Envelope;
use cvm_attest::maa::{Api, request};
use cvm_attest_formats::bundle::EvidenceBundle;
use cvm_attest_sim::cvm::{Cvm, CvmOptions, Tee};
use cvm_attest_sim::imds::{Imds, ImdsConfig};
use cvm_attest_sim::maa::{MaaConfig, MaaService};
use cvm_attest_sim::pki;
use reqwest::blocking::{Client, Response};
use serde_json::Value;

const GUEST_PATH: &str = "/attest/AzureGuest?api-version=2020-10-01";
const SNP_PATH: &str = "/attest/SevSnpVm?api-version=2022-08-01";

/// Offset of the launch measurement in an SEV-SNP report (under the report's signature).
const SNP_MEASUREMENT: usize = 0x90;
/// Offset of MRTD in a TD quote: the 48-byte header, then TEE_TCB_SVN, MRSEAM, MRSIGNERSEAM,
/// SEAMATTRIBUTES, TDATTRIBUTES and XFAM (under the quote's signature).
const TDX_MRTD: usize = 48 + 16 + 48 + 48 + 8 + 8 + 8;

/// One simulated Azure CVM with its IMDS and an MAA-compatible service trusting the test PKI.
/// Fields drop in order: the services first, then the vTPM (swtpm killed, its state removed).
struct Sim {
    maa: MaaService,
    imds: Imds,
    cvm: Cvm,
}

impl Sim {
    fn start(tee: Tee) -> Sim {
        let cvm = Cvm::start(tee, CvmOptions::default()).unwrap_or_else(|e| panic!("start a {tee} CVM: {e}"));
        let imds = Imds::start(ImdsConfig {
            // On Azure IMDS's vmId is the report's vmUniqueId, in lower case.
            vm_id: cvm.vm_unique_id().to_ascii_lowercase(),
            ..ImdsConfig::default()
        })
        .expect("start the simulated IMDS");
        let maa = MaaService::start(MaaConfig::test_pki().expect("the test anchors load"))
            .expect("start the simulated MAA");
        Sim { maa, imds, cvm }
    }

    fn vtpm(&self) -> Vtpm {
        Vtpm::open(&self.cvm.tcti()).expect("the client opens the CVM's TCTI")
    }

    /// Evidence collected as `cvm-attest evidence collect` collects it, with `nonce` bound, PCRs
    /// 0-23 (the CLI's default) and no event log (a real log of the machine running the tests
    /// would not replay to the vTPM's PCRs).
    fn collect(&self, vtpm: &mut Vtpm, nonce: Option<&[u8]>) -> EvidenceBundle {
        let imds = ImdsClient::new(&self.imds.url(), Retry::default()).expect("the IMDS URL");
        let request = Request {
            nonce: nonce.map(<[u8]>::to_vec),
            pcrs: (0..24).collect(),
            // In swtpm's fresh state directory: certainly absent.
            event_log: self.cvm.swtpm().state_dir().join("no-event-log"),
            os_release: collect::OS_RELEASE_PATH.into(),
        };
        let (bundle, warnings) = collect::collect(vtpm, &imds, &request).expect("evidence is collected");
        assert!(bundle.event_log.is_none(), "no event log leaked in");
        assert!(warnings.iter().any(|w| w.contains("no event log")), "{warnings:?}");
        bundle
    }

    fn post(&self, path: &str, body: &str) -> Response {
        client()
            .post(format!("{}{path}", self.maa.base_url()))
            .header("Content-Type", "application/json")
            .body(body.to_owned())
            .send()
            .expect("the simulated MAA answers")
    }
}

/// An HTTPS client that trusts the test TLS CA and nothing else.
fn client() -> Client {
    let ca = reqwest::Certificate::from_pem(pki::TLS_CA_PEM.as_bytes()).expect("the test CA parses");
    Client::builder().tls_certs_only([ca]).timeout(Duration::from_secs(60)).build().expect("a client")
}

/// The AzureGuest request body for `bundle`, as cvm-attest builds it.
fn guest_body(bundle: &EvidenceBundle) -> String {
    request::body(Api::AzureGuest, bundle, None).expect("an AzureGuest request")
}

fn json_of(response: Response) -> Value {
    let text = response.text().expect("a body");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The `token` of a successful answer.
fn token_of(response: Response) -> String {
    let status = response.status();
    let body = json_of(response);
    assert_eq!(status, 200, "{body}");
    body["token"].as_str().unwrap_or_else(|| panic!("a token: {body}")).to_owned()
}

/// The claims of a compact JWS (not verified here: `maa.rs` checks the signatures).
fn claims_of(jwt: &str) -> Value {
    let parts: Vec<&str> = jwt.split('.').collect();
    let [_, claims, _] = parts[..] else { panic!("not a compact JWS: {jwt}") };
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).expect("base64url")).expect("JSON claims")
}

/// What cvm-attest does with an AzureGuest answer: the vTPM unwraps the envelope's inner key with
/// the ephemeral key bound to the quoted PCRs, which opens the envelope: the token's claims.
fn open_envelope(vtpm: &mut Vtpm, bundle: &EvidenceBundle, token: &str) -> Value {
    assert_eq!(token.split('.').count(), 1, "an envelope, not a JWS");
    let envelope = Envelope::parse(token).expect("the envelope parses");
    let tpm = bundle.tpm.as_ref().expect("vTPM evidence");
    let pcrs: Vec<(u8, Vec<u8>)> = tpm.pcrs.values().iter().map(|(i, v)| (*i, v.clone())).collect();
    let inner = vtpm
        .decrypt_with_ephemeral_key(&pcrs, envelope.encrypted_inner_key())
        .expect("the vTPM unwraps the inner key");
    claims_of(&envelope.open(&inner).expect("the inner key opens the envelope"))
}

/// MAA's error answer, which must be a 400 `InvalidParameter` naming `step` as the failure:
/// `{"error": {"code", "message"}}` and nothing else, the code also in `x-ms-error-code`.
fn assert_refused_at(response: Response, step: &str) {
    let status = response.status().as_u16();
    let header = response.headers().get("x-ms-error-code").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let body = json_of(response);
    assert_eq!(status, 400, "{body}");
    let error = body["error"].as_object().unwrap_or_else(|| panic!("MAA's error JSON: {body}"));
    assert_eq!(body.as_object().map(|o| o.len()), Some(1), "only `error`: {body}");
    let mut members: Vec<&str> = error.keys().map(String::as_str).collect();
    members.sort_unstable();
    assert_eq!(members, ["code", "message"], "{body}");
    assert_eq!(error["code"], "InvalidParameter", "{body}");
    assert_eq!(header.as_deref(), Some("InvalidParameter"), "x-ms-error-code names the code");
    let message = error["message"].as_str().expect("a message");
    assert!(message.contains(&format!("step `{step}` failed")), "expected `{step}` to fail: {message}");
}

/// `body` with its `AttestationInfo` (base64url of JSON) decoded, changed by `edit`, re-encoded.
fn edit_info(body: &str, edit: impl FnOnce(&mut Value)) -> String {
    let mut outer: Value = serde_json::from_str(body).expect("a JSON body");
    let encoded = outer["AttestationInfo"].as_str().expect("AttestationInfo");
    let mut info: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(encoded).expect("base64url")).expect("JSON");
    edit(&mut info);
    outer["AttestationInfo"] = URL_SAFE_NO_PAD.encode(info.to_string()).into();
    outer.to_string()
}

/// A string member of `info` at `pointer`, decoded with `engine`, changed by `edit`, re-encoded.
fn edit_bytes(info: &mut Value, pointer: &str, engine: &impl Engine, edit: impl FnOnce(&mut Vec<u8>)) {
    let member = info.pointer_mut(pointer).unwrap_or_else(|| panic!("{pointer} in the request"));
    let mut bytes = engine.decode(member.as_str().expect("a string")).expect("base64");
    let before = bytes.clone();
    edit(&mut bytes);
    assert_ne!(bytes, before, "{pointer} was changed");
    *member = engine.encode(bytes).into();
}

fn flip(byte: &mut u8) {
    *byte ^= 0x01;
}

/// One tamper on `tee`: evidence collected with `nonce`, the request accepted as it is (after the
/// same decoding and re-encoding), and refused at `step` once `edit` has changed its information.
fn refused_at(tee: Tee, nonce: &[u8], step: &str, edit: impl FnOnce(&mut Value, &Sim)) {
    let sim = Sim::start(tee);
    let mut vtpm = sim.vtpm();
    let bundle = sim.collect(&mut vtpm, Some(nonce));
    let body = guest_body(&bundle);
    let untouched = edit_info(&body, |_| {});
    token_of(sim.post(GUEST_PATH, &untouched));
    let tampered = edit_info(&body, |info| edit(info, &sim));
    assert_ne!(tampered, untouched);
    assert_refused_at(sim.post(GUEST_PATH, &tampered), step);
}

/// The untampered request of a `tee` CVM: a token in an envelope only this vTPM opens, whose claims
/// are of this CVM.
fn accepted(tee: Tee, attestation_type: &str) {
    let sim = Sim::start(tee);
    let mut vtpm = sim.vtpm();
    let bundle = sim.collect(&mut vtpm, Some(b"fresh challenge"));
    let token = token_of(sim.post(GUEST_PATH, &guest_body(&bundle)));
    let claims = open_envelope(&mut vtpm, &bundle, &token);
    assert_eq!(claims["iss"], sim.maa.base_url());
    assert_eq!(claims["x-ms-attestation-type"], "azurevm");
    let tee_claims = &claims["x-ms-isolation-tee"];
    assert_eq!(tee_claims["x-ms-attestation-type"], attestation_type, "{claims}");
    assert_eq!(tee_claims["x-ms-compliance-status"], "azure-compliant-cvm", "{claims}");
    assert_eq!(claims["x-ms-azurevm-vmid"], sim.cvm.vm_unique_id(), "the runtime claims of this CVM");
    assert_eq!(
        claims["x-ms-runtime"]["client-payload"]["nonce"],
        STANDARD.encode("fresh challenge"),
        "the nonce, echoed"
    );
    assert_eq!(claims["x-ms-azurevm-attested-pcrs"], Value::from((0..24).collect::<Vec<u8>>()));
}

#[test]
fn an_untampered_snp_request_gets_a_token_the_vtpm_opens() {
    accepted(Tee::Snp, "sevsnpvm");
}

#[test]
fn an_untampered_tdx_request_gets_a_token_the_vtpm_opens() {
    accepted(Tee::Tdx, "tdxvm");
}

#[test]
fn a_flipped_quote_signature_fails_vtpm_quote_signature() {
    refused_at(Tee::Snp, b"n", "vtpm-quote-signature", |info, _| {
        edit_bytes(info, "/TpmInfo/PcrSignature", &STANDARD, |signature| flip(&mut signature[100]));
    });
}

#[test]
fn a_changed_pcr_value_fails_vtpm_pcr_digest() {
    refused_at(Tee::Snp, b"n", "vtpm-pcr-digest", |info, _| {
        let pcrs = info["TpmInfo"]["PCRs"].as_array().expect("PCRs");
        assert_eq!(pcrs.len(), 24, "PCRs 0-23 were quoted");
        let at = pcrs.iter().position(|pcr| pcr["Index"] == 7).expect("PCR 7");
        edit_bytes(info, &format!("/TpmInfo/PCRs/{at}/Digest"), &STANDARD, |digest| flip(&mut digest[0]));
    });
}

#[test]
fn an_ak_other_than_hcl_ak_pub_fails_vtpm_ak_public() {
    refused_at(Tee::Snp, b"n", "vtpm-ak-public", |info, _| {
        // Another RSA key's TPM2B_PUBLIC: the ephemeral key's, from the same vTPM.
        let tpm = &mut info["TpmInfo"];
        assert_ne!(tpm["AikPub"], tpm["EncKeyPub"]);
        tpm["AikPub"] = tpm["EncKeyPub"].clone();
    });
}

#[test]
fn a_changed_snp_report_fails_snp_report_signature() {
    refused_at(Tee::Snp, b"n", "snp-report-signature", |info, _| {
        // Proof: standard base64 of {"SnpReport": base64url, "VcekCertChain": base64}.
        edit_bytes(info, "/IsolationInfo/Evidence/Proof", &STANDARD, |proof| {
            let mut json: Value = serde_json::from_slice(proof).expect("the proof is JSON");
            edit_bytes(&mut json, "/SnpReport", &URL_SAFE_NO_PAD, |report| {
                flip(&mut report[SNP_MEASUREMENT]);
            });
            *proof = json.to_string().into_bytes();
        });
    });
}

#[test]
fn a_changed_td_quote_fails_tdx_quote_signature() {
    refused_at(Tee::Tdx, b"n", "tdx-quote-signature", |info, _| {
        assert_eq!(info["IsolationInfo"]["Type"], "Tdx");
        // Proof: base64url of the TD quote.
        edit_bytes(info, "/IsolationInfo/Evidence/Proof", &URL_SAFE_NO_PAD, |quote| {
            flip(&mut quote[TDX_MRTD]);
        });
    });
}

/// A character of `vmUniqueId` in the runtime claims JSON changed: still a valid UUID, but not the
/// claims the hardware report's report_data hashes.
fn change_vm_unique_id(runtime: &mut [u8], vm_unique_id: &str) {
    let text = std::str::from_utf8(runtime).expect("UTF-8 runtime claims");
    let quoted = format!("\"vmUniqueId\":\"{vm_unique_id}\"");
    // Its last character.
    let at = text.find(&quoted).unwrap_or_else(|| panic!("{quoted} in {text}")) + quoted.len() - 2;
    runtime[at] = if runtime[at] == b'A' { b'B' } else { b'A' };
}

#[test]
fn snp_runtime_data_not_bound_by_the_report_fails_hcl_binding() {
    refused_at(Tee::Snp, b"n", "hcl-binding", |info, sim| {
        // RunTimeData: standard base64 of the runtime claims for SEV-SNP.
        edit_bytes(info, "/IsolationInfo/Evidence/RunTimeData", &STANDARD, |runtime| {
            change_vm_unique_id(runtime, sim.cvm.vm_unique_id());
        });
    });
}

#[test]
fn tdx_runtime_data_not_bound_by_the_quote_fails_hcl_binding() {
    refused_at(Tee::Tdx, b"n", "hcl-binding", |info, sim| {
        // RunTimeData: base64url of the runtime claims for TDX.
        edit_bytes(info, "/IsolationInfo/Evidence/RunTimeData", &URL_SAFE_NO_PAD, |runtime| {
            change_vm_unique_id(runtime, sim.cvm.vm_unique_id());
        });
    });
}

#[test]
fn a_client_payload_nonce_the_quote_does_not_carry_fails_vtpm_quote_nonce() {
    // Quoted with nonce "B"; the request claims "A".
    refused_at(Tee::Snp, b"B", "vtpm-quote-nonce", |info, _| {
        assert_eq!(info["ClientPayload"]["nonce"], STANDARD.encode("B"));
        info["ClientPayload"]["nonce"] = STANDARD.encode("A").into();
    });
}

#[test]
fn a_tdx_client_payload_nonce_the_quote_does_not_carry_fails_vtpm_quote_nonce() {
    refused_at(Tee::Tdx, b"B", "vtpm-quote-nonce", |info, _| {
        info["ClientPayload"]["nonce"] = STANDARD.encode("A").into();
    });
}

#[test]
fn only_a_nonce_the_request_claims_is_expected() {
    let sim = Sim::start(Tee::Snp);
    let mut vtpm = sim.vtpm();
    // Collected without a nonce: the request claims none, and none is expected.
    let bundle = sim.collect(&mut vtpm, None);
    let body = guest_body(&bundle);
    let claims = open_envelope(&mut vtpm, &bundle, &token_of(sim.post(GUEST_PATH, &body)));
    assert!(claims["x-ms-runtime"].get("client-payload").is_none(), "no nonce to echo: {claims}");
    // ... but one added to it afterwards is not what the vTPM quoted.
    let claimed = edit_info(&body, |info| info["ClientPayload"]["nonce"] = STANDARD.encode("A").into());
    assert_refused_at(sim.post(GUEST_PATH, &claimed), "vtpm-quote-nonce");

    // SevSnpVm's `nonce` is not part of the evidence: MAA echoes it unchecked, and so does this.
    let bundle = sim.collect(&mut vtpm, Some(b"B"));
    let body = request::body(Api::SevSnpVm, &bundle, Some("A")).expect("a SevSnpVm request");
    let response = sim.post(SNP_PATH, &body);
    assert_eq!(claims_of(&token_of(response))["nonce"], "A");
}

#[test]
fn a_dropped_simulator_leaves_no_process_or_temporary_file_behind() {
    // The `cvm-attest-sim` binary's directory is checked by `up.rs`; this is the library's
    // CVM with its own temporary swtpm state, after a whole attestation.
    let sim = Sim::start(Tee::Snp);
    let state = sim.cvm.swtpm().state_dir().to_owned();
    let pid = sim.cvm.swtpm().pid();
    {
        let mut vtpm = sim.vtpm();
        let bundle = sim.collect(&mut vtpm, Some(b"n"));
        token_of(sim.post(GUEST_PATH, &guest_body(&bundle)));
    }
    assert!(state.is_dir() && state.join("swtpm.log").is_file(), "{} holds swtpm's state", state.display());
    assert!(swtpm_alive(pid), "swtpm {pid} runs");
    let (maa_url, imds_url) = (sim.maa.base_url().to_owned(), sim.imds.url());
    drop(sim);
    assert!(!state.exists(), "{} was removed", state.display());
    assert!(!swtpm_alive(pid), "swtpm {pid} was killed and reaped");
    assert!(client().get(format!("{maa_url}/certs")).send().is_err(), "MAA stopped listening");
    let imds = reqwest::blocking::Client::builder().no_proxy().build().expect("a client");
    assert!(imds.get(format!("{imds_url}/metadata/instance")).send().is_err(), "IMDS stopped listening");
}

/// Whether process `pid` exists as swtpm (a zombie counts: it was not reaped).
fn swtpm_alive(pid: u32) -> bool {
    std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("stat"))
        .is_ok_and(|stat| stat.contains("(swtpm)"))
}
