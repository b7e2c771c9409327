//! The simulated IMDS, driven by the project's own IMDS client (`cvm_attest::evidence::imds::Imds`)
//! and its answers read by the project's parsers; IMDS's request rules checked with raw HTTP.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use cvm_attest::evidence::imds::{self as client, Retry};
use cvm_attest_formats::tdx::TdQuote;
use cvm_attest_formats::thim::ThimCertification;
use cvm_attest_sim::imds::{Imds, ImdsConfig};
use cvm_attest_sim::{pki, tdx};
use serde_json::Value;

const METADATA_ERROR: &str = r#"{"error":"Bad request. Required metadata header not specified"}"#;

fn start() -> Imds {
    Imds::start(ImdsConfig::default()).expect("start the simulated IMDS")
}

fn client(imds: &Imds, attempts: u32) -> client::Imds {
    client::Imds::new(&imds.url(), Retry { attempts, first_delay: Duration::from_millis(1) }).expect("client")
}

/// A TD report whose report_data, MRTD and RTMRs are all distinct.
fn td_report() -> ([u8; 64], Vec<u8>) {
    let mut report_data = [0; 64];
    for (i, byte) in report_data.iter_mut().enumerate() {
        *byte = u8::try_from(i).expect("small") ^ 0xa7;
    }
    let rtmrs = [[0x01; 48], [0x02; 48], [0x03; 48], [0x04; 48]];
    (report_data, tdx::td_report(report_data, [0x7d; 48], rtmrs))
}

/// A raw HTTP/1.0 exchange (the server closes the connection after the answer): status, headers
/// (lower-case names) and body.
fn raw(imds: &Imds, request: &str, body: &[u8]) -> (u16, Vec<(String, String)>, String) {
    let addr = imds.url().trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(&addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let head = format!("{request}\r\nHost: {addr}\r\nContent-Length: {}\r\n\r\n", body.len());
    stream.write_all(head.as_bytes()).expect("write the head");
    stream.write_all(body).expect("write the body");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read the answer");
    let (head, body) = answer.split_once("\r\n\r\n").expect("a head and a body");
    let mut lines = head.split("\r\n");
    let status = lines.next().and_then(|line| line.split(' ').nth(1)).expect("a status line");
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    (status.parse().expect("a numeric status"), headers, body.to_owned())
}

fn post_tdquote(imds: &Imds, body: &[u8]) -> (u16, String) {
    let (status, _, body) = raw(imds, "POST /acc/tdquote HTTP/1.0\r\nMetadata: true", body);
    (status, body)
}

fn error_of(body: &str) -> String {
    let json: Value = serde_json::from_str(body).expect("a JSON error");
    json["error"].as_str().expect("an error string").to_owned()
}

#[test]
fn thim_serves_the_test_vcek_chain() {
    let imds = start();
    let json = client(&imds, 1).thim_certification().expect("THIM answers");
    let thim = ThimCertification::parse(&json).expect("a THIM document");
    assert_eq!(thim.vcek_cert_pem().trim_end(), pki::AMD_VCEK_PEM.trim_end());
    let chain = format!("{}\n{}\n", pki::AMD_ASK_PEM.trim_end(), pki::AMD_ARK_PEM.trim_end());
    assert_eq!(thim.certificate_chain_pem(), chain, "ASK then ARK");
    assert_eq!(thim.vcek_chain_pem(), format!("{}\n{chain}", pki::AMD_VCEK_PEM.trim_end()));
    assert_eq!(thim.tcbm(), "DB18000000000004");
    let tcb = thim.tcb();
    assert_eq!((tcb.bootloader, tcb.tee, tcb.snp, tcb.microcode), (4, 0, 24, 219));
    assert_eq!(thim.cache_control(), Some("86400"));
    // The field names and JSON types of the real sample.
    let real: Value = serde_json::from_slice(include_bytes!(
        "../../../../formats/testdata/thim/sidecar-uvm_host_amd_certificate.json"
    ))
    .expect("the real sample");
    let ours: Value = serde_json::from_slice(&json).expect("JSON");
    let shape = |v: &Value| -> Vec<(String, bool)> {
        let mut fields: Vec<_> =
            v.as_object().expect("an object").iter().map(|(k, v)| (k.clone(), v.is_string())).collect();
        fields.sort();
        fields
    };
    assert_eq!(shape(&ours), shape(&real));
    assert_eq!(imds.requests(), 1);
}

#[test]
fn thim_warming_up_is_404_until_ready_and_the_client_retries() {
    let imds = Imds::start(ImdsConfig { thim_not_ready: 2, ..ImdsConfig::default() }).expect("start");
    match client(&imds, 2).thim_certification() {
        Err(client::Error::Status { status: 404, attempts: 2, .. }) => {}
        other => panic!("expected two 404s, got {other:?}"),
    }
    assert_eq!(imds.requests(), 2);
    let json = client(&imds, 1).thim_certification().expect("ready on the third request");
    ThimCertification::parse(&json).expect("a THIM document");
    assert_eq!(imds.requests(), 3);
}

#[test]
fn td_quote_carries_the_reports_data_and_the_test_pck_chain() {
    let imds = start();
    let (report_data, report) = td_report();
    let quote = client(&imds, 1).td_quote(&report).expect("a TD quote");
    assert_eq!(quote, tdx::td_quote(&report), "the quote tdx::td_quote makes of the same report");
    let parsed = TdQuote::parse(&quote).expect("a v4 TD quote");
    assert_eq!(parsed.body().report_data, report_data);
    assert_eq!(parsed.body().mrtd, [0x7d; 48]);
    assert_eq!(parsed.body().rtmr[3], [0x04; 48]);
    let blocks = parsed.pck_cert_chain_blocks();
    let expected = [pki::INTEL_PCK_PEM, pki::INTEL_PCK_CA_PEM, pki::INTEL_ROOT_PEM];
    assert_eq!(blocks.len(), 3);
    for (block, pem) in blocks.iter().zip(expected) {
        assert_eq!(block.trim(), pem.trim());
    }
}

#[test]
fn td_quote_accepts_either_base64_alphabet_padded_or_not() {
    let imds = start();
    let (_, report) = td_report();
    assert_ne!(
        STANDARD.encode(&report),
        URL_SAFE.encode(&report),
        "the report must tell the alphabets apart"
    );
    assert!(STANDARD.encode(&report).ends_with('='), "and need padding");
    let expected = URL_SAFE_NO_PAD.encode(tdx::td_quote(&report));
    for encoded in [
        URL_SAFE_NO_PAD.encode(&report),
        URL_SAFE.encode(&report),
        STANDARD.encode(&report),
        STANDARD_NO_PAD.encode(&report),
    ] {
        let (status, body) =
            post_tdquote(&imds, serde_json::json!({ "report": encoded }).to_string().as_bytes());
        assert_eq!(status, 200, "{encoded}: {body}");
        let answer: Value = serde_json::from_str(&body).expect("JSON");
        assert_eq!(answer["quote"].as_str(), Some(expected.as_str()));
    }
}

#[test]
fn td_quote_refuses_bad_bodies_and_reports() {
    let imds = start();
    let (_, report) = td_report();
    let report_of = |bytes: &[u8]| serde_json::json!({ "report": URL_SAFE_NO_PAD.encode(bytes) }).to_string();
    let mut not_tdx = report.clone();
    not_tdx[0] = 0x00; // report type: SGX, not TDX
    let cases = [
        ("not JSON".to_owned(), "Expected"),
        (r#"{"quote": "AAAA"}"#.to_owned(), "Expected"),
        (r#"{"report": 1024}"#.to_owned(), "Expected"),
        (r#"{"report": "not base64!"}"#.to_owned(), "not base64"),
        (report_of(&report[..1023]), "1023 bytes"),
        (report_of(&[report.as_slice(), &[0]].concat()), "1025 bytes"),
        (report_of(&[]), "0 bytes"),
        (report_of(&not_tdx), "not a TD report"),
    ];
    for (body, why) in cases {
        let (status, answer) = post_tdquote(&imds, body.as_bytes());
        assert_eq!(status, 400, "{body}");
        let error = error_of(&answer);
        assert!(error.starts_with("Bad request.") && error.contains(why), "{body}: {error}");
    }
    // The same connection rules, then a good report still works: nothing above stopped the server.
    let (status, _) = post_tdquote(&imds, report_of(&report).as_bytes());
    assert_eq!(status, 200);
}

#[test]
fn a_body_over_64_kib_is_refused() {
    let imds = start();
    let (status, answer) = post_tdquote(&imds, &vec![b' '; 64 * 1024 + 1]);
    assert_eq!(status, 413);
    assert!(error_of(&answer).contains("larger than 65536 bytes"));
}

#[test]
fn location_is_the_configured_region() {
    let imds = start();
    assert_eq!(client(&imds, 1).location().expect("location"), "koreacentral");
    let imds = Imds::start(ImdsConfig { location: "westeurope".to_owned(), ..ImdsConfig::default() })
        .expect("start");
    assert_eq!(client(&imds, 1).location().expect("location"), "westeurope");
}

#[test]
fn instance_metadata_is_json_with_the_configured_compute() {
    let config = ImdsConfig {
        location: "eastus2".to_owned(),
        vm_id: "0f0e0d0c-0b0a-0908-0706-050403020100".to_owned(),
        vm_name: "my-cvm".to_owned(),
        thim_not_ready: 0,
    };
    let imds = Imds::start(config).expect("start");
    let (status, headers, body) =
        raw(&imds, "GET /metadata/instance?api-version=2021-02-01 HTTP/1.0\r\nMetadata: true", b"");
    assert_eq!(status, 200, "{body}");
    assert!(headers.iter().any(|(n, v)| n == "content-type" && v.starts_with("application/json")));
    let json: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(json["compute"]["location"], "eastus2");
    assert_eq!(json["compute"]["vmId"], "0f0e0d0c-0b0a-0908-0706-050403020100");
    assert_eq!(json["compute"]["name"], "my-cvm");
    assert_eq!(json["compute"]["securityProfile"]["securityType"], "ConfidentialVM");

    let get = |target: &str| raw(&imds, &format!("GET {target} HTTP/1.0\r\nMetadata: true"), b"");
    let (status, _, body) = get("/metadata/instance/compute/vmId?api-version=2021-02-01&format=text");
    assert_eq!((status, body.as_str()), (200, "0f0e0d0c-0b0a-0908-0706-050403020100"));
    let (status, _, body) = get("/metadata/instance/compute/location?api-version=2021-02-01");
    assert_eq!(status, 400, "a leaf only as text: {body}");
    let (status, _, body) = get("/metadata/instance/compute/nothing?api-version=2021-02-01&format=text");
    assert_eq!(status, 404, "{body}");
}

#[test]
fn instance_routes_need_an_api_version_thim_does_not() {
    let imds = start();
    for target in ["/metadata/instance", "/metadata/instance/compute/location?format=text"] {
        let (status, _, body) = raw(&imds, &format!("GET {target} HTTP/1.0\r\nMetadata: true"), b"");
        assert_eq!(status, 400, "{target}");
        assert!(error_of(&body).contains("api-version was not specified"), "{target}: {body}");
    }
    let (status, _, _) = raw(&imds, "GET /metadata/THIM/amd/certification HTTP/1.0\r\nMetadata: true", b"");
    assert_eq!(status, 200);
}

#[test]
fn every_request_needs_the_metadata_header() {
    let imds = start();
    let (_, report) = td_report();
    let tdquote = serde_json::json!({ "report": URL_SAFE_NO_PAD.encode(&report) }).to_string();
    let requests = [
        ("GET /metadata/THIM/amd/certification HTTP/1.0", ""),
        ("GET /metadata/instance/compute/location?api-version=2021-01-01&format=text HTTP/1.0", ""),
        ("POST /acc/tdquote HTTP/1.0", tdquote.as_str()),
    ];
    for (request, body) in requests {
        for metadata in ["", "\r\nMetadata: false", "\r\nX-Metadata: true"] {
            let (status, headers, answer) = raw(&imds, &format!("{request}{metadata}"), body.as_bytes());
            assert_eq!((status, answer.as_str()), (400, METADATA_ERROR), "{request}{metadata}");
            assert!(headers.iter().any(|(n, v)| n == "content-type" && v.starts_with("application/json")));
        }
        let (status, _, answer) = raw(&imds, &format!("{request}\r\nmetadata: True"), body.as_bytes());
        assert_eq!(status, 200, "{request}: header names are case-insensitive: {answer}");
    }
}

#[test]
fn forwarded_requests_are_refused() {
    let imds = start();
    let (status, _, body) = raw(
        &imds,
        "GET /metadata/THIM/amd/certification HTTP/1.0\r\nMetadata: true\r\nX-Forwarded-For: 10.0.0.7",
        b"",
    );
    assert_eq!(status, 400);
    assert!(error_of(&body).contains("Forwarded requests are not allowed"), "{body}");
}

#[test]
fn unknown_paths_are_404_and_wrong_methods_405() {
    let imds = start();
    for target in [
        "/",
        "/metadata/THIM/amd",
        "/metadata/THIM/intel/certification",
        "/acc/tdquote/x",
        "/metadata/instancex",
    ] {
        let (status, _, body) = raw(&imds, &format!("GET {target} HTTP/1.0\r\nMetadata: true"), b"");
        assert_eq!(status, 404, "{target}: {body}");
    }
    let cases = [
        ("GET /acc/tdquote", "POST"),
        ("PUT /acc/tdquote", "POST"),
        ("POST /metadata/THIM/amd/certification", "GET"),
        ("DELETE /metadata/instance?api-version=2021-02-01", "GET"),
        ("POST /metadata/instance/compute/location?api-version=2021-01-01&format=text", "GET"),
    ];
    for (request, allow) in cases {
        let (status, headers, body) = raw(&imds, &format!("{request} HTTP/1.0\r\nMetadata: true"), b"");
        assert_eq!(status, 405, "{request}: {body}");
        assert!(headers.contains(&("allow".to_owned(), allow.to_owned())), "{request}: {headers:?}");
    }
}

#[test]
fn requests_are_counted_and_drop_stops_the_server() {
    let imds = start();
    assert_eq!(imds.requests(), 0);
    raw(&imds, "GET /nowhere HTTP/1.0", b"");
    raw(&imds, "GET /metadata/THIM/amd/certification HTTP/1.0\r\nMetadata: true", b"");
    assert_eq!(imds.requests(), 2, "errors count too");
    let addr = imds.url().trim_start_matches("http://").to_owned();
    drop(imds); // joins the serving thread; a hang here fails the test by timeout
    // The listener closes once tiny_http's accept thread sees the server gone.
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(&addr).is_ok() {
        assert!(Instant::now() < deadline, "{addr} still accepts connections after drop");
        std::thread::sleep(Duration::from_millis(20));
    }
}
