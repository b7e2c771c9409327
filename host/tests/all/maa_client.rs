//! The MAA client against real HTTP(S) servers on loopback that answer as MAA does, scripted per test.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use cvm_attest::maa::Api;
use cvm_attest::maa::client::{Client, ClientOptions, Error, Kind, Retry};
use cvm_attest::maa::endpoint::Endpoint;

/// One scripted answer.
struct Answer {
    status: u16,
    body: Vec<u8>,
    headers: Vec<(&'static str, &'static str)>,
    /// Waited before answering.
    delay: Duration,
    /// Sent without Content-Length (chunked).
    chunked: bool,
}

fn answer(status: u16, body: &str) -> Answer {
    Answer { status, body: body.as_bytes().to_vec(), headers: vec![], delay: Duration::ZERO, chunked: false }
}

/// A request as the server saw it.
#[derive(Debug)]
struct Seen {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Serves the answers in order on 127.0.0.1 over plain http, reporting each request before answering.
fn serve(answers: Vec<Answer>) -> (Endpoint, mpsc::Receiver<Seen>) {
    let server = tiny_http::Server::http("127.0.0.1:0").expect("bind loopback");
    let base = format!("http://{}", server.server_addr().to_ip().expect("ip address"));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for answer in answers {
            let Ok(mut request) = server.recv() else { return };
            let mut body = String::new();
            let _ = request.as_reader().read_to_string(&mut body);
            let headers = request
                .headers()
                .iter()
                .map(|h| (h.field.to_string(), h.value.as_str().to_owned()))
                .collect();
            let _ = tx.send(Seen {
                method: request.method().to_string(),
                url: request.url().to_owned(),
                headers,
                body,
            });
            std::thread::sleep(answer.delay);
            let length = (!answer.chunked).then_some(answer.body.len());
            let headers =
                answer.headers.iter().map(|(n, v)| tiny_http::Header::from_bytes(*n, *v).expect("header"));
            let response = tiny_http::Response::new(
                answer.status.into(),
                headers.collect(),
                std::io::Cursor::new(answer.body),
                length,
                None,
            );
            let _ = request.respond(response);
        }
    });
    (Endpoint::parse(&base).expect("loopback endpoint"), rx)
}

fn quick(attempts: u32) -> ClientOptions {
    ClientOptions {
        timeout: Duration::from_secs(10),
        ca_file: None,
        retry: Retry {
            attempts,
            base_delay: Duration::from_millis(2),
            max_delay: Duration::from_millis(10),
            retry_after_cap: Duration::from_secs(5),
        },
    }
}

fn client(options: ClientOptions) -> Client {
    Client::new(options).expect("client")
}

const BODY: &str = r#"{"report": "r", "runtimeData": {"data": "d", "dataType": "JSON"}}"#;

#[test]
fn posts_the_document_and_returns_the_token() {
    let (endpoint, seen) = serve(vec![answer(200, r#"{"token": "eyJh.eyJi.c2ln"}"#)]);
    let token = client(quick(4)).attest(&endpoint, Api::SevSnpVm, BODY).expect("token");
    assert_eq!(token, "eyJh.eyJi.c2ln");
    let requests: Vec<Seen> = seen.try_iter().collect();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(
        (request.method.as_str(), request.url.as_str()),
        ("POST", "/attest/SevSnpVm?api-version=2022-08-01")
    );
    assert_eq!(request.body, BODY);
    assert_eq!(request.header("Content-Type"), Some("application/json"));
    assert_eq!(request.header("Accept"), Some("application/json"));
    let agent = request.header("User-Agent").unwrap_or_default();
    assert_eq!(agent, format!("cvm-attest/{}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn a_rejection_is_not_retried_and_names_the_failing_claim() {
    let error = r#"{"error": {"code": "PolicyEvaluationError", "message": "Policy evaluation failed.",
        "innererror": {"code": "PolicyValidationFailure", "details": [
            {"code": "PolicyFailureClaim", "target": "x-ms-azurevm-dbxvalidated", "value": "false"}]}}}"#;
    let (endpoint, seen) = serve(vec![answer(400, error), answer(200, r#"{"token": "t"}"#)]);
    let err = client(quick(4)).attest(&endpoint, Api::AzureGuest, BODY).unwrap_err();
    assert_eq!(seen.try_iter().count(), 1, "a 400 is MAA's verdict: never retried");
    assert_eq!(err.kind(), Kind::Rejected);
    let message = err.to_string();
    assert!(
        message.starts_with(
            "MAA rejected the evidence: PolicyEvaluationError: Policy evaluation failed. (policy claim \
             x-ms-azurevm-dbxvalidated = false)"
        ),
        "{message}"
    );
    assert!(message.contains("/attest/AzureGuest?api-version=2020-10-01"), "{message}");
}

#[test]
fn server_errors_are_retried_until_success() {
    let (endpoint, seen) =
        serve(vec![answer(500, "oops"), answer(503, ""), answer(200, r#"{"token": "third time"}"#)]);
    let token = client(quick(4)).attest(&endpoint, Api::TdxVm, BODY).expect("success on the third attempt");
    assert_eq!(token, "third time");
    assert_eq!(seen.try_iter().count(), 3);
}

#[test]
fn retries_are_bounded_and_the_last_answer_is_reported() {
    let answers = (0..4).map(|_| answer(502, r#"{"Error": {"Code": "BadGateway", "Message": "upstream"}}"#));
    let (endpoint, seen) = serve(answers.collect());
    let err = client(quick(3)).attest(&endpoint, Api::TdxVm, BODY).unwrap_err();
    assert_eq!(seen.try_iter().count(), 3);
    assert!(matches!(err, Error::Status { status: 502, attempts: 3, .. }), "{err}");
    assert_eq!(err.kind(), Kind::Environment);
    assert!(err.to_string().contains("BadGateway: upstream"), "{err}");
}

#[test]
fn other_client_errors_are_not_retried() {
    let (endpoint, seen) = serve(vec![answer(404, "no such route"), answer(200, r#"{"token": "t"}"#)]);
    let err = client(quick(4)).attest(&endpoint, Api::TdxVm, BODY).unwrap_err();
    assert_eq!(seen.try_iter().count(), 1);
    assert!(matches!(err, Error::Refused { status: 404, .. }), "{err}");
    assert_eq!(err.kind(), Kind::Usage);
    assert!(err.to_string().contains("no such route") && err.to_string().contains("-a"), "{err}");
}

#[test]
fn retry_after_is_honoured() {
    let mut busy = answer(429, r#"{"error": {"code": "TooManyRequests", "message": "slow down"}}"#);
    busy.headers.push(("Retry-After", "1"));
    let (endpoint, seen) = serve(vec![busy, answer(200, r#"{"token": "t"}"#)]);
    let start = Instant::now();
    let token = client(quick(4)).attest(&endpoint, Api::SevSnpVm, BODY).expect("token after waiting");
    assert_eq!(token, "t");
    assert_eq!(seen.try_iter().count(), 2);
    assert!(start.elapsed() >= Duration::from_millis(950), "waited only {:?}", start.elapsed());
}

#[test]
fn connection_refused_is_an_environment_error_after_the_attempts() {
    let port = TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port();
    let endpoint = Endpoint::parse(&format!("http://127.0.0.1:{port}")).expect("endpoint");
    let err = client(quick(3)).attest(&endpoint, Api::AzureGuest, BODY).unwrap_err();
    assert!(matches!(err, Error::Unreachable { attempts: 3, .. }), "{err}");
    assert_eq!(err.kind(), Kind::Environment);
    let message = err.to_string();
    assert!(message.contains(&format!("http://127.0.0.1:{port}/attest/AzureGuest")), "{message}");
    assert!(message.to_lowercase().contains("refused"), "{message}");
}

#[test]
fn a_server_that_does_not_answer_times_out() {
    let slow = || Answer { delay: Duration::from_secs(3), ..answer(200, r#"{"token": "late"}"#) };
    let (endpoint, seen) = serve(vec![slow(), slow()]);
    let options = ClientOptions { timeout: Duration::from_millis(300), ..quick(2) };
    let err = client(options).attest(&endpoint, Api::AzureGuest, BODY).unwrap_err();
    assert!(matches!(err, Error::Timeout { attempts: 2, .. }), "{err}");
    assert_eq!(err.kind(), Kind::Environment);
    assert!(seen.recv_timeout(Duration::from_secs(1)).is_ok(), "the request reached the server");
}

#[test]
fn oversized_and_malformed_answers_are_refused() {
    let huge = format!(r#"{{"token": "{}"}}"#, "a".repeat(1 << 20));
    let chunked = Answer { chunked: true, ..answer(200, &huge) };
    let (endpoint, _seen) = serve(vec![answer(200, &huge), chunked]);
    let client = client(quick(1));
    for how in ["with Content-Length", "chunked"] {
        let err = client.attest(&endpoint, Api::TdxVm, BODY).unwrap_err();
        assert!(
            matches!(err, Error::BadResponse { .. }) && err.to_string().contains("larger than"),
            "{how}: {err}"
        );
    }

    for body in [r#"{"jwt": "x"}"#, "not json", r#"{"token": 5}"#, r#"{"token": ""}"#] {
        let (endpoint, _seen) = serve(vec![answer(200, body)]);
        let err = client.attest(&endpoint, Api::TdxVm, BODY).unwrap_err();
        assert!(matches!(err, Error::BadResponse { .. }), "{body}: {err}");
        assert_eq!(err.kind(), Kind::Environment);
    }
}

fn pki(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/sim/testdata/pki").join(name)
}

/// An HTTPS server with the simulator's test certificate (127.0.0.1, localhost) that answers every
/// request with `body`; counts the connections it accepts.
fn serve_tls(body: &'static str) -> (Endpoint, Arc<AtomicUsize>) {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};

    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(pki("tls-test-server.pem"))
        .expect("server certificate")
        .collect::<Result<_, _>>()
        .expect("server certificate PEM");
    let key = PrivateKeyDer::from_pem_file(pki("tls-test-server.key")).expect("server key");
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("server configuration");
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&accepted);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            counter.fetch_add(1, Ordering::SeqCst);
            let Ok(connection) = rustls::ServerConnection::new(Arc::clone(&config)) else { continue };
            let mut tls = rustls::StreamOwned::new(connection, stream);
            if read_request(&mut tls).is_none() {
                continue;
            }
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = tls.write_all(response.as_bytes());
            tls.conn.send_close_notify();
            let _ = tls.flush();
        }
    });
    (Endpoint::parse(&format!("https://127.0.0.1:{port}")).expect("endpoint"), accepted)
}

/// Reads one request (head and Content-Length body); `None` if the connection fails first.
fn read_request(stream: &mut impl Read) -> Option<()> {
    let mut data = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let n = stream.read(&mut buffer).ok().filter(|n| *n > 0)?;
        data.extend_from_slice(&buffer[..n]);
        let text = String::from_utf8_lossy(&data);
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned())
                })
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0);
            if data.len() >= end + 4 + length {
                return Some(());
            }
        }
    }
}

#[test]
fn https_with_the_test_ca() {
    let (endpoint, _) = serve_tls(r#"{"token": "over tls"}"#);
    let options = ClientOptions { ca_file: Some(pki("tls-test-ca.pem")), ..quick(4) };
    let token = client(options).attest(&endpoint, Api::AzureGuest, BODY).expect("trusted through --ca-file");
    assert_eq!(token, "over tls");
}

#[test]
fn https_without_the_ca_is_refused_at_once() {
    let (endpoint, accepted) = serve_tls(r#"{"token": "never"}"#);
    let err = client(quick(4)).attest(&endpoint, Api::AzureGuest, BODY).unwrap_err();
    assert!(matches!(err, Error::Certificate { .. }), "{err}");
    assert!(err.to_string().contains("--ca-file"), "{err}");
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "a certificate failure is not retried");
}

#[test]
fn a_bad_ca_file_is_a_usage_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let not_pem = dir.path().join("ca.pem");
    std::fs::write(&not_pem, "not a certificate").expect("write");
    for path in [not_pem, dir.path().join("missing.pem")] {
        let options = ClientOptions { ca_file: Some(path.clone()), ..quick(1) };
        let err = Client::new(options).unwrap_err();
        assert_eq!(err.kind(), Kind::Usage, "{err}");
        assert!(err.to_string().contains(&path.display().to_string()), "{err}");
    }
}
