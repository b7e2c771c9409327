//! The simulated MAA over real HTTPS (a reqwest client trusting only the test TLS CA): MAA's routes
//! and their errors, tokens that verify with the key `/certs` publishes and carry MAA's claims, the
//! AzureGuest envelope, appraisal by the project's own code (simulated and real evidence), and every
//! injected fault.

use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aes_gcm::aead::OsRng;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use cvm_attest_formats::time::DateTime;
use cvm_attest_sim::hcl::{self, RsaPublic, RuntimeClaims};
use cvm_attest_sim::maa::{Armed, Fault, MaaConfig, MaaService, Times, WRONG_ISSUER};
use cvm_attest_sim::{pki, snp, tdx};
use reqwest::blocking::{Client, Response};
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::DecodePublicKey;
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use x509_cert::der::{Decode, Encode};

const REAL_SEV_SNP_VM: &str = include_str!("../../../../formats/testdata/maa-rest-spec/AttestSevSnpVm.json");
const REAL_AZURE_GUEST: &str =
    include_str!("../../../../formats/testdata/maa-rest-spec/AttestAzureGuestVm.json");
const GET_CERTS: &str = include_str!("../../testdata/maa-rest-spec/Get_Certs.json");
const GET_METADATA: &str = include_str!("../../testdata/maa-rest-spec/Get_MetadataConfiguration.json");

const SNP_PATH: &str = "/attest/SevSnpVm?api-version=2022-08-01";
const GUEST_PATH: &str = "/attest/AzureGuest?api-version=2020-10-01";

fn start(config: MaaConfig) -> MaaService {
    MaaService::start(config).expect("the simulated MAA starts")
}

/// Trusting the test PKI, as for the simulated CVM.
fn start_test_pki() -> MaaService {
    start(MaaConfig::test_pki().expect("the test anchors load"))
}

/// An HTTPS client that trusts the test TLS CA and nothing else.
fn client() -> Client {
    let ca = reqwest::Certificate::from_pem(pki::TLS_CA_PEM.as_bytes()).expect("the test CA parses");
    Client::builder().tls_certs_only([ca]).timeout(Duration::from_secs(60)).build().expect("a client")
}

fn post(client: &Client, url: String, body: &Value) -> Response {
    client.post(url).json(body).send().expect("the service answers")
}

fn json_of(response: Response) -> Value {
    let text = response.text().expect("a body");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// MAA's error body: `(status, code, message)`.
fn error_of(response: Response) -> (u16, String, String) {
    let status = response.status().as_u16();
    let header = response.headers().get("x-ms-error-code").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let body = json_of(response);
    let code = body["error"]["code"].as_str().expect("error.code").to_owned();
    let message = body["error"]["message"].as_str().expect("error.message").to_owned();
    assert_eq!(header.as_deref(), Some(code.as_str()), "x-ms-error-code names the code");
    (status, code, message)
}

fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_secs() as i64
}

/// A SevSnpVm request for a simulated SEV-SNP VM: an SNP report signed by the test VCEK whose
/// report_data binds the runtime claims, with the test VCEK chain.
fn simulated_snp_request(nonce: &str) -> (Value, Vec<u8>) {
    let runtime = RuntimeClaims {
        ak: RsaPublic { modulus: [vec![0xc3], vec![0xa5; 255]].concat(), exponent: vec![1, 0, 1] },
        ek: RsaPublic { modulus: vec![0xe7; 256], exponent: vec![1, 0, 1] },
        vm_unique_id: "6c1a6e1f-3b0e-4c55-9d7e-2f4a8b1c0d9e".to_owned(),
        secure_boot: true,
        user_data: [0; 64],
    }
    .to_json();
    let report = snp::snp_report(hcl::report_data(&runtime), [0x4d; 48]);
    (snp_request(&report, &runtime, nonce), runtime)
}

fn snp_request(report: &[u8], runtime: &[u8], nonce: &str) -> Value {
    let chain = [pki::AMD_VCEK_PEM, pki::AMD_ASK_PEM, pki::AMD_ARK_PEM].concat();
    let proof =
        json!({"SnpReport": URL_SAFE_NO_PAD.encode(report), "VcekCertChain": URL_SAFE_NO_PAD.encode(chain)});
    json!({
        "report": URL_SAFE_NO_PAD.encode(proof.to_string()),
        "runtimeData": {"data": URL_SAFE_NO_PAD.encode(runtime), "dataType": "JSON"},
        "nonce": nonce,
    })
}

/// A compact JWS taken apart.
struct Jws {
    header: Value,
    claims: Value,
    signing_input: String,
    signature: Vec<u8>,
}

fn jws(token: &str) -> Jws {
    let parts: Vec<&str> = token.split('.').collect();
    let [header, claims, signature] = parts[..] else { panic!("not a compact JWS: {token}") };
    let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).expect("base64url");
    Jws {
        header: serde_json::from_slice(&decode(header)).expect("a JSON header"),
        claims: serde_json::from_slice(&decode(claims)).expect("JSON claims"),
        signing_input: format!("{header}.{claims}"),
        signature: decode(signature),
    }
}

/// The key a relying party verifies with: the OpenID metadata's `jwks_uri`, the entry whose `kid`
/// is the token's, the public key of its `x5c[0]` (docs/protocol.md §11.4).
fn published_key(client: &Client, service: &MaaService, kid: &str) -> RsaPublicKey {
    let metadata = json_of(
        client
            .get(format!("{}/.well-known/openid-configuration", service.base_url()))
            .send()
            .expect("metadata"),
    );
    let jwks_uri = metadata["jwks_uri"].as_str().expect("jwks_uri");
    let jwks = json_of(client.get(jwks_uri).send().expect("certs"));
    let entry = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|key| key["kid"] == kid)
        .expect("the token's kid is published");
    let der = STANDARD.decode(entry["x5c"][0].as_str().expect("x5c[0]")).expect("base64 DER");
    let certificate = x509_cert::Certificate::from_der(&der).expect("an X.509 certificate");
    let spki = certificate.tbs_certificate.subject_public_key_info.to_der().expect("SPKI");
    RsaPublicKey::from_public_key_der(&spki).expect("an RSA key")
}

fn verifies(jws: &Jws, key: &RsaPublicKey) -> bool {
    let Ok(signature) = Signature::try_from(jws.signature.as_slice()) else { return false };
    VerifyingKey::<Sha256>::new(key.clone()).verify(jws.signing_input.as_bytes(), &signature).is_ok()
}

/// The real SevSnpVm response's claims (MAA, 2022).
fn real_snp_claims() -> Value {
    let spec: Value = serde_json::from_str(REAL_SEV_SNP_VM).expect("JSON");
    jws(spec["responses"]["200"]["body"]["token"].as_str().expect("a token")).claims
}

fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value.as_object().expect("an object").keys().cloned().collect();
    keys.sort();
    keys
}

/// A token from the simulated SEV-SNP request, as `(token, response)` parts.
fn attest_snp(client: &Client, service: &MaaService, nonce: &str) -> (Jws, Vec<u8>) {
    let (request, runtime) = simulated_snp_request(nonce);
    let response = post(client, format!("{}{SNP_PATH}", service.base_url()), &request);
    assert_eq!(response.status(), 200, "{:?}", response.text());
    let body = json_of(response);
    (jws(body["token"].as_str().expect("a token")), runtime)
}

#[test]
fn openid_metadata_names_this_instance_and_its_certs() {
    let service = start_test_pki();
    let client = client();
    let metadata = json_of(
        client
            .get(format!("{}/.well-known/openid-configuration", service.base_url()))
            .send()
            .expect("metadata"),
    );
    assert!(service.base_url().starts_with("https://127.0.0.1:"), "{}", service.base_url());
    assert_eq!(metadata["issuer"], service.base_url());
    assert_eq!(metadata["jwks_uri"], format!("{}/certs", service.base_url()));
    assert_eq!(metadata["id_token_signing_alg_values_supported"], json!(["RS256"]));
    // Every member of MAA's example, plus the issuer a real shared instance also gives.
    let real: Value = serde_json::from_str(GET_METADATA).expect("JSON");
    let mut expected = keys(&real["responses"]["200"]["body"]);
    expected.push("issuer".to_owned());
    expected.sort();
    assert_eq!(keys(&metadata), expected);
    assert_eq!(
        metadata["response_types_supported"],
        real["responses"]["200"]["body"]["response_types_supported"]
    );
}

#[test]
fn certs_is_a_jwks_in_maa_shape_with_a_self_signed_certificate() {
    let service = start_test_pki();
    let jwks = json_of(client().get(format!("{}/certs", service.base_url())).send().expect("certs"));
    let real: Value = serde_json::from_str(GET_CERTS).expect("JSON");
    let entries = jwks["keys"].as_array().expect("keys");
    assert_eq!(entries.len(), 1);
    let entry = &entries[0];
    assert_eq!(keys(entry), keys(&real["responses"]["200"]["body"]["keys"][0]), "Get_Certs's members");
    assert_eq!(
        (entry["kty"].as_str(), entry["alg"].as_str(), entry["use"].as_str()),
        (Some("RSA"), Some("RS256"), Some("sig"))
    );
    assert_eq!(entry["kid"], service.kid());
    let der = STANDARD.decode(entry["x5c"][0].as_str().expect("x5c[0]")).expect("base64");
    let certificate = x509_cert::Certificate::from_der(&der).expect("X.509");
    let tbs = &certificate.tbs_certificate;
    assert_eq!(tbs.subject, tbs.issuer, "self-signed, as MAA's");
    assert!(tbs.subject.to_string().contains("cvm-attest test"), "{}", tbs.subject);
    let pem_der = x509_cert::Certificate::load_pem_chain(pki::MAA_SIGNING_PEM.as_bytes()).expect("PEM");
    assert_eq!(pem_der[0].to_der().expect("DER"), der, "the test signing certificate");
}

#[test]
fn a_token_verifies_with_the_published_key_and_carries_maa_claims() {
    let service = start_test_pki();
    let client = client();
    let before = unix_now();
    let (token, runtime) = attest_snp(&client, &service, "noncesevsnp987");
    let after = unix_now();
    assert_eq!(
        token.header,
        json!({"alg": "RS256", "jku": format!("{}/certs", service.base_url()), "kid": service.kid(), "typ": "JWT"})
    );
    let key = published_key(&client, &service, service.kid());
    assert!(verifies(&token, &key), "RS256 signature by the key in /certs");
    let claims = &token.claims;
    assert_eq!(claims["iss"], service.base_url());
    let iat = claims["iat"].as_i64().expect("iat");
    assert!((before..=after).contains(&iat), "iat {iat} is now");
    assert_eq!(claims["nbf"], iat);
    assert_eq!(claims["exp"].as_i64(), Some(iat + 28_800), "8 hours, as MAA");
    assert_eq!(claims["nonce"], "noncesevsnp987", "the request's nonce, echoed");
    let runtime: Value = serde_json::from_slice(&runtime).expect("JSON");
    assert_eq!(claims["x-ms-runtime"], runtime, "the runtime data as x-ms-runtime");
    assert_eq!(claims["x-ms-attestation-type"], "sevsnpvm");
    assert_eq!(claims["x-ms-compliance-status"], "azure-compliant-cvm");
    assert_eq!(claims["x-ms-sevsnpvm-launchmeasurement"], hex::encode([0x4d; 48]));
    assert_eq!(claims["x-ms-ver"], "1.0");
    assert_eq!(claims["x-ms-policy-hash"], cvm_attest_sim::maa::policy_hash(cvm_attest_sim::maa::POLICY));
    // Key by key, the claims of MAA's real SevSnpVm token.
    assert_eq!(keys(claims), keys(&real_snp_claims()));
}

#[test]
fn api_version_must_be_one_maa_accepts() {
    let service = start_test_pki();
    let client = client();
    let base = service.base_url();
    for path in ["/attest/SevSnpVm", "/attest/TdxVm", "/attest/AzureGuest"] {
        let (status, code, message) = error_of(post(&client, format!("{base}{path}"), &json!({})));
        assert_eq!((status, code.as_str()), (400, "MissingApiVersionParameter"), "{path}: {message}");
        let (status, code, message) =
            error_of(post(&client, format!("{base}{path}?api-version=2019-01-01"), &json!({})));
        assert_eq!((status, code.as_str()), (400, "InvalidApiVersionParameter"), "{path}");
        assert!(message.contains("2019-01-01") && message.contains("2025-06-01"), "{message}");
    }
    // Accepted versions get past the door: the empty body is then refused as evidence.
    for (path, versions) in [
        ("/attest/AzureGuest", &["2020-10-01", "2025-06-01"][..]),
        ("/attest/SevSnpVm", &["2022-08-01", "2023-04-01-preview", "2025-06-01"][..]),
        ("/attest/TdxVm", &["2023-04-01-preview", "2025-06-01"][..]),
    ] {
        for version in versions {
            let (status, code, _) =
                error_of(post(&client, format!("{base}{path}?api-version={version}"), &json!({})));
            assert_eq!((status, code.as_str()), (400, "InvalidParameter"), "{path} {version}");
        }
    }
    // A version of another route is not accepted here.
    let (_, code, _) =
        error_of(post(&client, format!("{base}/attest/TdxVm?api-version=2022-08-01"), &json!({})));
    assert_eq!(code, "InvalidApiVersionParameter");
}

#[test]
fn unknown_paths_methods_and_oversized_bodies() {
    let service = start(MaaConfig { body_max: 1000, ..MaaConfig::test_pki().expect("anchors") });
    let client = client();
    let base = service.base_url();
    for path in ["/", "/attest/SgxEnclave?api-version=2022-08-01", "/certs/x", "/revoke"] {
        let (status, code, _) = error_of(client.get(format!("{base}{path}")).send().expect("answer"));
        assert_eq!((status, code.as_str()), (404, "NotFound"), "{path}");
    }
    let response = client.get(format!("{base}{SNP_PATH}")).send().expect("answer");
    assert_eq!(response.headers().get("allow").and_then(|v| v.to_str().ok()), Some("POST"));
    assert_eq!(error_of(response).0, 405);
    assert_eq!(error_of(client.post(format!("{base}/certs")).send().expect("answer")).0, 405);
    let big = json!({"report": "A".repeat(2000)});
    let (status, code, message) = error_of(post(&client, format!("{base}{SNP_PATH}"), &big));
    assert_eq!((status, code.as_str()), (413, "RequestEntityTooLarge"), "{message}");
}

#[test]
fn plain_http_when_asked() {
    let service = start(MaaConfig { tls: false, ..MaaConfig::test_pki().expect("anchors") });
    assert!(service.base_url().starts_with("http://127.0.0.1:"));
    let metadata = json_of(
        Client::new()
            .get(format!("{}/.well-known/openid-configuration", service.base_url()))
            .send()
            .expect("metadata"),
    );
    assert_eq!(metadata["issuer"], service.base_url());
}

#[test]
fn the_https_listener_is_tls_with_the_test_certificate() {
    let service = start_test_pki();
    // Plain HTTP to the HTTPS port gets no HTTP answer.
    let plain = service.base_url().replacen("https://", "http://", 1);
    assert!(Client::new().get(format!("{plain}/certs")).send().is_err());
    // A client that does not trust the test CA refuses the server.
    let untrusting = Client::builder().tls_certs_only([]).build().expect("a client");
    assert!(untrusting.get(format!("{}/certs", service.base_url())).send().is_err());
    // The certificate names localhost as well as 127.0.0.1.
    let localhost = service.base_url().replacen("127.0.0.1", "localhost", 1);
    assert_eq!(client().get(format!("{localhost}/certs")).send().expect("TLS to localhost").status(), 200);
}

#[test]
fn a_tampered_report_fails_at_the_report_signature() {
    let service = start_test_pki();
    let runtime = simulated_snp_request("n").1;
    let mut report = snp::snp_report(hcl::report_data(&runtime), [0x4d; 48]);
    report[0x90] ^= 0x01; // a byte of the launch measurement, under the signature
    let response =
        post(&client(), format!("{}{SNP_PATH}", service.base_url()), &snp_request(&report, &runtime, "n"));
    let (status, code, message) = error_of(response);
    assert_eq!((status, code.as_str()), (400, "InvalidParameter"));
    assert!(message.contains("`snp-report-signature`"), "{message}");
}

#[test]
fn runtime_data_not_bound_by_the_report_fails_at_the_binding() {
    let service = start_test_pki();
    let (_, runtime) = simulated_snp_request("n");
    let report = snp::snp_report(hcl::report_data(&runtime), [0x4d; 48]);
    let mut other = runtime.clone();
    let at = other.iter().position(|&b| b == b'6').expect("a digit of the VM id");
    other[at] = b'7';
    let response =
        post(&client(), format!("{}{SNP_PATH}", service.base_url()), &snp_request(&report, &other, "n"));
    let (status, _, message) = error_of(response);
    assert_eq!(status, 400);
    assert!(message.contains("`hcl-binding`"), "{message}");
}

#[test]
fn the_built_in_anchors_refuse_the_test_pki() {
    // The default configuration trusts AMD's real roots, as MAA: the simulated report's chain fails.
    let service = start(MaaConfig::default());
    let (request, _) = simulated_snp_request("n");
    let (status, _, message) =
        error_of(post(&client(), format!("{}{SNP_PATH}", service.base_url()), &request));
    assert_eq!(status, 400);
    assert!(message.contains("`snp-vcek-chain`"), "{message}");
}

#[test]
fn the_real_sev_snp_vm_request_gets_maa_s_claims() {
    // MAA's own example request (Milan, 2022), appraised with AMD's real roots built in: the claims
    // are those of MAA's answer to it, but for what is this instance's own.
    let spec: Value = serde_json::from_str(REAL_SEV_SNP_VM).expect("JSON");
    let service = start(MaaConfig::default());
    let client = client();
    let response = post(&client, format!("{}{SNP_PATH}", service.base_url()), &spec["parameters"]["body"]);
    assert_eq!(response.status(), 200);
    let steps = response.headers()["x-cvm-attest-sim-steps"].to_str().expect("ASCII").to_owned();
    for step in ["snp-vcek-chain=passed", "snp-report-signature=passed", "hcl-binding=passed"] {
        assert!(steps.contains(step), "{steps}");
    }
    // Not checked, and said so: no AMD CRL was configured, and the request has no vTPM part.
    assert!(
        steps.contains("snp-revocation=not-evaluated") && steps.contains("vtpm=not-evaluated"),
        "{steps}"
    );
    let token = jws(json_of(response)["token"].as_str().expect("a token"));
    assert!(verifies(&token, &published_key(&client, &service, service.kid())));
    let mut ours = token.claims.as_object().expect("claims").clone();
    let mut maa = real_snp_claims().as_object().expect("claims").clone();
    for own in ["iss", "iat", "nbf", "exp", "jti", "x-ms-policy-hash"] {
        assert!(ours.remove(own).is_some(), "{own}");
        maa.remove(own);
    }
    // MAA's example answer has a nonce its example request does not have.
    assert!(spec["parameters"]["body"].get("nonce").is_none());
    maa.remove("nonce");
    assert_eq!(Value::Object(ours), Value::Object(maa));
}

#[test]
fn a_simulated_tdx_vm_request_gets_a_tdxvm_token() {
    let service = start_test_pki();
    let client = client();
    let runtime = simulated_snp_request("").1; // the same runtime claims, bound by a TD quote
    let quote = tdx::td_quote(&tdx::td_report(hcl::report_data(&runtime), [0x7d; 48], [[0; 48]; 4]));
    let request = json!({
        "quote": URL_SAFE_NO_PAD.encode(&quote),
        "runtimeData": {"data": URL_SAFE_NO_PAD.encode(&runtime), "dataType": "JSON"},
        "nonce": "tdx-nonce",
    });
    let response = post(
        &client,
        format!("{}/attest/TdxVm?api-version=2023-04-01-preview", service.base_url()),
        &request,
    );
    assert_eq!(response.status(), 200, "{:?}", response.text());
    let token = jws(json_of(response)["token"].as_str().expect("a token"));
    assert!(verifies(&token, &published_key(&client, &service, service.kid())));
    let claims = &token.claims;
    assert_eq!(claims["x-ms-attestation-type"], "tdxvm");
    assert_eq!(claims["tdx_mrtd"], hex::encode([0x7d; 48]));
    assert_eq!(claims["nonce"], "tdx-nonce");
    assert_eq!(claims["x-ms-runtime"], serde_json::from_slice::<Value>(&runtime).expect("JSON"));
    // Key by key against MAA's real TdxVm token (sharedwus, 2026): all but its EAT profile claims,
    // and `attester_tcb_status`, which needs Intel's collateral (none configured here).
    let real =
        jws(include_str!("../../../../formats/testdata/maa/sharedwus-tdxvm-token-2026-10-08.jwt").trim())
            .claims;
    let missing: Vec<String> = keys(&real).into_iter().filter(|key| claims.get(key).is_none()).collect();
    assert_eq!(missing, ["attester_tcb_status", "dbgstat", "eat_profile", "intuse"]);
    // That token's request had no runtime data or nonce; this one has both.
    let extra: Vec<String> = keys(claims).into_iter().filter(|key| real.get(key).is_none()).collect();
    assert_eq!(extra, ["nonce", "x-ms-runtime"]);
    // A quote of another TD report does not bind these runtime claims.
    let other = tdx::td_quote(&tdx::td_report([0x11; 64], [0x7d; 48], [[0; 48]; 4]));
    let request = json!({
        "quote": URL_SAFE_NO_PAD.encode(&other),
        "runtimeData": {"data": URL_SAFE_NO_PAD.encode(&runtime), "dataType": "JSON"},
    });
    let (status, _, message) = error_of(post(
        &client,
        format!("{}/attest/TdxVm?api-version=2025-06-01", service.base_url()),
        &request,
    ));
    assert_eq!(status, 400);
    assert!(message.contains("`hcl-binding`"), "{message}");
}

/// The keys of the simulated AzureGuest requests: the AK and the ephemeral key, made once.
fn guest_keys() -> &'static (RsaPrivateKey, RsaPrivateKey) {
    static KEYS: OnceLock<(RsaPrivateKey, RsaPrivateKey)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let key = || RsaPrivateKey::new(&mut OsRng, 2048).expect("an RSA-2048 key");
        (key(), key())
    })
}

fn tpm2b(bytes: &[u8]) -> Vec<u8> {
    [&u16::try_from(bytes.len()).expect("small").to_be_bytes()[..], bytes].concat()
}

/// TPMT_PUBLIC of an RSA-2048 key (exponent 0, i.e. 65537).
fn rsa_public(attributes: u32, auth_policy: &[u8], scheme: &[u8], key: &RsaPrivateKey) -> Vec<u8> {
    let modulus = key.to_public_key().n().to_bytes_be();
    [
        &0x0001u16.to_be_bytes()[..],
        &0x000Bu16.to_be_bytes(),
        &attributes.to_be_bytes(),
        &tpm2b(auth_policy),
        &0x0010u16.to_be_bytes(),
        scheme,
        &2048u16.to_be_bytes(),
        &0u32.to_be_bytes(),
        &tpm2b(&modulus),
    ]
    .concat()
}

/// A TPM name: SHA-256 algorithm id and digest of the TPMT_PUBLIC.
fn tpm_name(tpmt_public: &[u8]) -> Vec<u8> {
    [&0x000Bu16.to_be_bytes()[..], &Sha256::digest(tpmt_public)].concat()
}

/// TPMS_ATTEST of `kind` (quote 0x8018, certify 0x8017) signed by the key named `signer`.
fn tpms_attest(kind: u16, signer: &[u8], extra_data: &[u8], attested: &[u8]) -> Vec<u8> {
    [
        &0xFF54_4347u32.to_be_bytes()[..],
        &kind.to_be_bytes(),
        &tpm2b(signer),
        &tpm2b(extra_data),
        &1_000u64.to_be_bytes(), // clockInfo: clock, resetCount, restartCount, safe
        &0u32.to_be_bytes(),
        &0u32.to_be_bytes(),
        &[1],
        &0x2023_0101u64.to_be_bytes(), // firmwareVersion
        attested,
    ]
    .concat()
}

fn rsassa(key: &RsaPrivateKey, data: &[u8]) -> Vec<u8> {
    rsa::pkcs1v15::SigningKey::<Sha256>::new(key.clone()).sign(data).to_vec()
}

/// What a simulated SEV-SNP CVM sends to `/attest/AzureGuest` (docs/protocol.md §10.2): an SNP report
/// (test VCEK) binding runtime claims whose `HCLAkPub` is the AK; a quote of PCRs 0-23 over `nonce`
/// and an ephemeral key bound to those PCRs (PolicyPCR), certified, both signed by the AK.
fn simulated_guest_request(nonce: &[u8]) -> Value {
    let (ak, ephemeral) = guest_keys();
    let runtime = RuntimeClaims {
        ak: RsaPublic::from(&ak.to_public_key()),
        ek: RsaPublic { modulus: vec![0xe7; 256], exponent: vec![1, 0, 1] },
        vm_unique_id: "0f4c2b1e-7a3d-4e5f-8a9b-1c2d3e4f5a6b".to_owned(),
        secure_boot: true,
        user_data: [0; 64],
    }
    .to_json();
    let report = snp::snp_report(hcl::report_data(&runtime), [0x4d; 48]);
    let pcrs: Vec<Vec<u8>> = (0..24u8).map(|i| vec![i; 32]).collect();
    let selection = [&1u32.to_be_bytes()[..], &0x000Bu16.to_be_bytes(), &[3, 0xff, 0xff, 0xff]].concat();
    let pcr_digest = Sha256::digest(pcrs.concat());
    let ak_public = rsa_public(0x0005_0472, &[], &[0x00, 0x14, 0x00, 0x0B], ak);
    let quote =
        tpms_attest(0x8018, &tpm_name(&ak_public), nonce, &[selection.clone(), tpm2b(&pcr_digest)].concat());
    let policy = Sha256::digest([&[0u8; 32][..], &0x17Fu32.to_be_bytes(), &selection, &pcr_digest].concat());
    let ephemeral_public = rsa_public(0x0002_0432, &policy, &[0x00, 0x10], ephemeral);
    let ephemeral_name = tpm_name(&ephemeral_public);
    let certify = tpms_attest(
        0x8017,
        &tpm_name(&ak_public),
        &[],
        &[tpm2b(&ephemeral_name), tpm2b(&ephemeral_name)].concat(),
    );
    let chain = [pki::AMD_VCEK_PEM, pki::AMD_ASK_PEM, pki::AMD_ARK_PEM].concat();
    let proof =
        json!({"SnpReport": URL_SAFE_NO_PAD.encode(&report), "VcekCertChain": STANDARD.encode(chain)});
    let info = json!({
        "AttestationProtocolVersion": "2.0",
        "OSType": STANDARD.encode("Linux"),
        "OSDistro": STANDARD.encode("Ubuntu"),
        "OSBuild": STANDARD.encode("NotApplication"),
        "OSVersionMajor": 22,
        "OSVersionMinor": 4,
        "TcgLogs": "",
        "ClientPayload": {"nonce": STANDARD.encode(nonce)},
        "TpmInfo": {
            "AikPub": STANDARD.encode(tpm2b(&ak_public)),
            "PcrQuote": STANDARD.encode(&quote),
            "PcrSignature": STANDARD.encode(rsassa(ak, &quote)),
            "PcrSet": (0..24).collect::<Vec<u8>>(),
            "PCRs": pcrs.iter().enumerate().map(|(i, v)| json!({"Index": i, "Digest": STANDARD.encode(v)})).collect::<Vec<_>>(),
            "EncKeyPub": STANDARD.encode(tpm2b(&ephemeral_public)),
            "EncKeyCertifyInfo": STANDARD.encode(&certify),
            "EncKeyCertifyInfoSignature": STANDARD.encode(rsassa(ak, &certify)),
        },
        "IsolationInfo": {
            "Type": "SevSnp",
            "Evidence": {"Proof": STANDARD.encode(proof.to_string()), "RunTimeData": STANDARD.encode(&runtime)},
        },
    });
    json!({ "AttestationInfo": URL_SAFE_NO_PAD.encode(info.to_string()) })
}

/// The `token` of an AzureGuest answer.
fn guest_token(client: &Client, service: &MaaService, request: &Value) -> String {
    let response = post(client, format!("{}{GUEST_PATH}", service.base_url()), request);
    assert_eq!(response.status(), 200, "{:?}", response.text());
    json_of(response)["token"].as_str().expect("a token").to_owned()
}

/// What cvm-attest does with an AzureGuest answer (`cvm_attest::maa::envelope`), the inner key
/// unwrapped in software here rather than in the vTPM.
fn client_opens(token: &str, ephemeral: &RsaPrivateKey) -> Result<String, cvm_attest::maa::envelope::Error> {
    let envelope = cvm_attest::maa::envelope::Envelope::parse(token)?;
    let inner =
        ephemeral.decrypt(rsa::Pkcs1v15Encrypt, envelope.encrypted_inner_key()).expect("RSAES-PKCS1-v1_5");
    envelope.open(&inner)
}

#[test]
fn an_azure_guest_token_is_encrypted_to_the_ephemeral_key() {
    let service = start_test_pki();
    let client = client();
    let token = guest_token(&client, &service, &simulated_guest_request(b"challenge"));
    assert!(token.split('.').count() == 1, "an envelope, not a JWS");
    let (_, ephemeral) = guest_keys();
    let jwt = client_opens(&token, ephemeral).expect("cvm-attest's own client opens it");
    let token = jws(&jwt);
    assert!(verifies(&token, &published_key(&client, &service, service.kid())));
    let claims = &token.claims;
    assert_eq!(claims["iss"], service.base_url());
    assert_eq!(claims["x-ms-attestation-type"], "azurevm");
    assert_eq!(claims["x-ms-isolation-tee"]["x-ms-attestation-type"], "sevsnpvm");
    assert_eq!(claims["x-ms-isolation-tee"]["x-ms-compliance-status"], "azure-compliant-cvm");
    assert_eq!(claims["x-ms-azurevm-attested-pcrs"], json!((0..24).collect::<Vec<u8>>()));
    // The nonce comes back as the client sent it.
    assert_eq!(claims["x-ms-runtime"]["client-payload"], json!({"nonce": STANDARD.encode("challenge")}));
    let key = &claims["x-ms-runtime"]["keys"][0];
    assert_eq!(key["kid"], "TpmEphemeralEncryptionKey");
    assert_eq!(key["n"], URL_SAFE_NO_PAD.encode(ephemeral.to_public_key().n().to_bytes_be()));
    assert_eq!(claims["x-ms-azurevm-ostype"], "Linux");
    assert_eq!(claims["x-ms-azurevm-osdistro"], "Ubuntu");
    assert_eq!(claims["x-ms-azurevm-is-windows"], false);
    assert_eq!(claims["x-ms-azurevm-attestation-protocol-ver"], "2.0");
    // Key by key against a real azurevm token: all but the Windows boot-log claims, which MAA reads
    // from a Windows event log this project does not interpret.
    let real = jws(include_str!(
        "../../../../formats/testdata/maa/cvm-clientlibtests-sharedweu-azurevm-sevsnpvm-2023-03-30.jwt"
    )
    .trim())
    .claims;
    let missing: Vec<String> = keys(&real).into_iter().filter(|key| claims.get(key).is_none()).collect();
    assert_eq!(
        missing,
        [
            "x-ms-azurevm-bootdebug-enabled",
            "x-ms-azurevm-dbvalidated",
            "x-ms-azurevm-dbxvalidated",
            "x-ms-azurevm-debuggersdisabled",
            "x-ms-azurevm-default-securebootkeysvalidated",
            "x-ms-azurevm-elam-enabled",
            "x-ms-azurevm-flightsigning-enabled",
            "x-ms-azurevm-hvci-policy",
            "x-ms-azurevm-hypervisordebug-enabled",
            "x-ms-azurevm-kerneldebug-enabled",
            "x-ms-azurevm-signingdisabled",
            "x-ms-azurevm-testsigning-enabled",
        ]
    );
    let extra: Vec<String> = keys(claims).into_iter().filter(|key| real.get(key).is_none()).collect();
    assert!(extra.is_empty(), "claims MAA does not give: {extra:?}");
    assert_eq!(keys(&claims["x-ms-isolation-tee"]), keys(&real["x-ms-isolation-tee"]));
}

#[test]
fn an_azure_guest_request_without_an_ephemeral_key_is_refused() {
    let service = start_test_pki();
    let request = simulated_guest_request(b"n");
    let info = URL_SAFE_NO_PAD.decode(request["AttestationInfo"].as_str().expect("info")).expect("b64url");
    let mut info: Value = serde_json::from_slice(&info).expect("JSON");
    for member in ["EncKeyPub", "EncKeyCertifyInfo", "EncKeyCertifyInfoSignature"] {
        info["TpmInfo"].as_object_mut().expect("TpmInfo").remove(member);
    }
    let request = json!({"AttestationInfo": URL_SAFE_NO_PAD.encode(info.to_string())});
    let (status, code, message) =
        error_of(post(&client(), format!("{}{GUEST_PATH}", service.base_url()), &request));
    assert_eq!((status, code.as_str()), (400, "InvalidParameter"));
    assert!(message.contains("no ephemeral key") && message.contains("EncKeyPub"), "{message}");
}

#[test]
fn the_real_azure_guest_request_verifies_as_of_its_day_and_not_today() {
    // MAA's own example (a Trusted Launch VM): its AK certificate's CA expired on 2025-11-03.
    let spec: Value = serde_json::from_str(REAL_AZURE_GUEST).expect("JSON");
    let request = &spec["parameters"]["request"];
    let client = client();
    let then = start(MaaConfig {
        judge_at: Some(DateTime::parse("2024-06-01T00:00:00Z").expect("a time")),
        ..MaaConfig::default()
    });
    let token = guest_token(&client, &then, request);
    // Encrypted to that VM's ephemeral key, which only its vTPM holds: the envelope has its shape.
    let envelope: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&token).expect("base64url")).expect("JSON");
    let real: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(spec["responses"]["200"]["body"]["token"].as_str().expect("token"))
            .expect("b64url"),
    )
    .expect("JSON");
    assert_eq!(keys(&envelope), keys(&real));
    assert_eq!(keys(&envelope["EncryptionParams"]), keys(&real["EncryptionParams"]));
    let inner = STANDARD.decode(envelope["EncryptedInnerKey"].as_str().expect("key")).expect("base64");
    assert_eq!(inner.len(), 256, "RSA-2048, that VM's ephemeral key");
    let now = start(MaaConfig::default());
    let (status, code, message) = error_of(post(&client, format!("{}{GUEST_PATH}", now.base_url()), request));
    assert_eq!((status, code.as_str()), (400, "InvalidParameter"));
    assert!(message.contains("`vtpm-ak-cert`"), "{message}");
}

// Faults.

fn snp_attempt(client: &Client, service: &MaaService) -> Response {
    post(client, format!("{}{SNP_PATH}", service.base_url()), &simulated_snp_request("n").0)
}

#[test]
fn fault_delay() {
    let service = start_test_pki();
    let client = client();
    service.inject(Fault::Delay { ms: 1500 }, Times::Count(1));
    let started = Instant::now();
    assert_eq!(snp_attempt(&client, &service).status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(1500), "{:?}", started.elapsed());
    assert!(service.faults().is_empty(), "used up");
}

#[test]
fn fault_too_many_requests_with_retry_after() {
    let service = start_test_pki();
    let client = client();
    service.inject(Fault::TooManyRequests { retry_after: 7 }, Times::Count(1));
    let response = snp_attempt(&client, &service);
    assert_eq!(response.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("7"));
    let (status, code, _) = error_of(response);
    assert_eq!((status, code.as_str()), (429, "TooManyRequests"));
    assert_eq!(snp_attempt(&client, &service).status(), 200, "then served");
}

#[test]
fn fault_server_error_n_times_then_success() {
    let service = start_test_pki();
    let client = client();
    service.inject(Fault::ServerError, Times::Count(3));
    for _ in 0..3 {
        let (status, code, _) = error_of(snp_attempt(&client, &service));
        assert_eq!((status, code.as_str()), (500, "InternalServerError"));
    }
    assert_eq!(snp_attempt(&client, &service).status(), 200);
}

#[test]
fn faults_are_not_used_by_requests_refused_at_the_door_or_failing_appraisal() {
    let service = start_test_pki();
    let client = client();
    service.inject(Fault::ServerError, Times::Count(1));
    service.inject(Fault::WrongIssuer, Times::Count(1));
    let no_version = post(&client, format!("{}/attest/SevSnpVm", service.base_url()), &json!({}));
    assert_eq!(error_of(no_version).1, "MissingApiVersionParameter");
    assert_eq!(error_of(snp_attempt(&client, &service)).0, 500, "the 500 was still armed");
    let bad = post(
        &client,
        format!("{}{SNP_PATH}", service.base_url()),
        &json!({"report": "x", "runtimeData": {}}),
    );
    assert_eq!(error_of(bad).0, 400);
    let body = json_of(snp_attempt(&client, &service));
    let token = jws(body["token"].as_str().expect("token"));
    assert_eq!(token.claims["iss"], WRONG_ISSUER, "the token fault waited for a token");
}

#[test]
fn fault_malformed_body() {
    let service = start_test_pki();
    let client = client();
    service.inject(Fault::MalformedBody, Times::Count(1));
    let response = snp_attempt(&client, &service);
    assert_eq!(response.status(), 200);
    let text = response.text().expect("a body");
    assert!(text.starts_with(r#"{"token": "ey"#), "{text}");
    assert!(serde_json::from_str::<Value>(&text).is_err(), "not JSON: {text}");
}

#[test]
fn fault_token_signed_by_an_unknown_key() {
    let service = start_test_pki();
    let client = client();
    service.inject(Fault::UnknownSigningKey, Times::Count(1));
    let token = jws(json_of(snp_attempt(&client, &service))["token"].as_str().expect("token"));
    assert_eq!(token.header["kid"], service.kid(), "the header names the published key");
    assert!(
        !verifies(&token, &published_key(&client, &service, service.kid())),
        "the published key does not verify it"
    );
    let unknown =
        x509_cert::Certificate::load_pem_chain(pki::MAA_UNKNOWN_SIGNING_PEM.as_bytes()).expect("PEM");
    let spki = unknown[0].tbs_certificate.subject_public_key_info.to_der().expect("SPKI");
    assert!(
        verifies(&token, &RsaPublicKey::from_public_key_der(&spki).expect("RSA")),
        "signed by the unknown key"
    );
    let token = jws(json_of(snp_attempt(&client, &service))["token"].as_str().expect("token"));
    assert!(verifies(&token, &published_key(&client, &service, service.kid())), "then signed properly again");
}

#[test]
fn fault_wrong_issuer_always_until_cleared() {
    let service = start_test_pki();
    let client = client();
    service.inject(Fault::WrongIssuer, Times::Always);
    for _ in 0..2 {
        let token = jws(json_of(snp_attempt(&client, &service))["token"].as_str().expect("token"));
        assert_eq!(token.claims["iss"], WRONG_ISSUER);
        assert_ne!(token.claims["iss"], service.base_url());
        assert!(verifies(&token, &published_key(&client, &service, service.kid())), "validly signed");
    }
    service.clear_faults();
    let token = jws(json_of(snp_attempt(&client, &service))["token"].as_str().expect("token"));
    assert_eq!(token.claims["iss"], service.base_url());
}

#[test]
fn fault_expired_token() {
    let service = start_test_pki();
    let client = client();
    service.inject(Fault::ExpiredToken, Times::Count(1));
    let token = jws(json_of(snp_attempt(&client, &service))["token"].as_str().expect("token"));
    let (iat, exp) = (token.claims["iat"].as_i64().expect("iat"), token.claims["exp"].as_i64().expect("exp"));
    assert!(exp < unix_now(), "expired: exp {exp}");
    assert_eq!(exp - iat, 28_800);
    assert_eq!(token.claims["nbf"], iat);
    assert!(verifies(&token, &published_key(&client, &service, service.kid())), "validly signed");
}

#[test]
fn fault_tampered_envelope_tag() {
    let service = start_test_pki();
    let client = client();
    service.inject(Fault::TamperedEnvelopeTag, Times::Count(1));
    // A SevSnpVm token has no envelope: the fault waits for an AzureGuest one.
    assert_eq!(snp_attempt(&client, &service).status(), 200);
    let (_, ephemeral) = guest_keys();
    let request = simulated_guest_request(b"n");
    let tampered = guest_token(&client, &service, &request);
    assert!(matches!(client_opens(&tampered, ephemeral), Err(cvm_attest::maa::envelope::Error::Tag)));
    let token = guest_token(&client, &service, &request);
    assert!(client_opens(&token, ephemeral).is_ok(), "then intact again");
}

#[test]
fn faults_through_the_admin_listener() {
    let service = start_test_pki();
    let client = client();
    let admin = Client::new();
    let faults = format!("{}/faults", service.admin_url());
    let armed =
        admin.post(&faults).json(&json!({"fault": "server-error", "times": 2})).send().expect("admin");
    assert_eq!(armed.status(), 201);
    assert_eq!(json_of(armed), json!({"faults": [{"fault": "server-error", "times": 2}]}));
    admin
        .post(&faults)
        .json(&json!({"fault": "too-many-requests", "retry_after": 1, "times": "always"}))
        .send()
        .expect("admin");
    let listed = json_of(admin.get(&faults).send().expect("admin"));
    assert_eq!(listed["faults"].as_array().map(Vec::len), Some(2));
    // In the order armed: the two 500s, then 429s until cleared.
    for expected in [500, 500, 429, 429] {
        assert_eq!(snp_attempt(&client, &service).status(), expected);
    }
    assert_eq!(
        service.faults(),
        [Armed { fault: Fault::TooManyRequests { retry_after: 1 }, times: Times::Always }]
    );
    let cleared = json_of(admin.delete(&faults).send().expect("admin"));
    assert_eq!(cleared, json!({"faults": []}));
    assert_eq!(snp_attempt(&client, &service).status(), 200);
    let refused = admin.post(&faults).json(&json!({"fault": "meteor"})).send().expect("admin");
    assert_eq!(error_of(refused).1, "InvalidFault");
    assert_eq!(admin.get(format!("{}/other", service.admin_url())).send().expect("admin").status(), 404);
}
