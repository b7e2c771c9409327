//! The IMDS client against a real HTTP server on loopback that answers like IMDS.

use std::sync::mpsc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cvm_attest::evidence::imds::{Error, Imds, Retry};

/// A request as the fake IMDS saw it.
#[derive(Debug)]
pub struct Seen {
    method: String,
    url: String,
    metadata_header: bool,
    body: String,
}

/// Serve the scripted `(status, body)` answers in order on 127.0.0.1, reporting each request seen.
pub fn serve(answers: Vec<(u16, Vec<u8>)>) -> (String, mpsc::Receiver<Seen>) {
    let server = tiny_http::Server::http("127.0.0.1:0").expect("bind loopback");
    let url = format!("http://{}", server.server_addr().to_ip().expect("ip address"));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for (status, body) in answers {
            let Ok(mut request) = server.recv() else { return };
            let mut text = String::new();
            let _ = request.as_reader().read_to_string(&mut text);
            let _ = tx.send(Seen {
                method: request.method().to_string(),
                url: request.url().to_owned(),
                metadata_header: request
                    .headers()
                    .iter()
                    .any(|h| h.field.equiv("Metadata") && h.value.as_str() == "true"),
                body: text,
            });
            let _ = request.respond(tiny_http::Response::from_data(body).with_status_code(status));
        }
    });
    (url, rx)
}

fn quick() -> Retry {
    Retry { attempts: 3, first_delay: Duration::from_millis(1) }
}

const THIM: &[u8] = include_bytes!("../../../formats/testdata/thim/sidecar-uvm_host_amd_certificate.json");

#[test]
fn thim_is_fetched_with_the_metadata_header_after_transient_errors() {
    let (url, seen) = serve(vec![(404, b"warming up".to_vec()), (503, vec![]), (200, THIM.to_vec())]);
    let imds = Imds::new(&url, quick()).expect("client");
    assert_eq!(imds.thim_certification().expect("third attempt succeeds"), THIM);
    let requests: Vec<Seen> = seen.try_iter().collect();
    assert_eq!(requests.len(), 3);
    for r in &requests {
        assert_eq!((r.method.as_str(), r.url.as_str()), ("GET", "/metadata/THIM/amd/certification"));
        assert!(r.metadata_header, "IMDS requires Metadata: true");
    }
}

#[test]
fn permanent_errors_are_not_retried_and_retries_are_bounded() {
    let (url, seen) = serve(vec![(400, b"bad request".to_vec())]);
    let err = Imds::new(&url, quick()).expect("client").thim_certification().unwrap_err();
    assert!(
        matches!(err, Error::Status { status: 400, attempts: 1, ref body, .. } if body == "bad request"),
        "{err}"
    );
    assert_eq!(seen.try_iter().count(), 1);

    let (url, seen) = serve(vec![(500, vec![]), (500, vec![]), (500, vec![]), (200, THIM.to_vec())]);
    let err = Imds::new(&url, quick()).expect("client").thim_certification().unwrap_err();
    assert!(matches!(err, Error::Status { status: 500, attempts: 3, .. }), "{err}");
    assert_eq!(seen.try_iter().count(), 3);
}

#[test]
fn td_quote_sends_the_report_and_decodes_the_quote() {
    let report = [7u8; 1024];
    let quote = b"a TD quote".to_vec();
    let answer = serde_json::json!({ "quote": URL_SAFE_NO_PAD.encode(&quote) }).to_string();
    let (url, seen) = serve(vec![(200, answer.into_bytes())]);
    let got = Imds::new(&url, quick()).expect("client").td_quote(&report).expect("quote");
    assert_eq!(got, quote);
    let request = seen.recv().expect("one request");
    assert_eq!((request.method.as_str(), request.url.as_str()), ("POST", "/acc/tdquote"));
    let sent: serde_json::Value = serde_json::from_str(&request.body).expect("JSON body");
    assert_eq!(sent["report"], URL_SAFE_NO_PAD.encode(report));
}

#[test]
fn location_is_trimmed_text() {
    let (url, _seen) = serve(vec![(200, b"koreacentral\n".to_vec())]);
    assert_eq!(Imds::new(&url, quick()).expect("client").location().expect("location"), "koreacentral");
}

#[test]
fn unusable_answers_and_unreachable_imds_are_named() {
    let (url, _seen) = serve(vec![(200, b"{\"not\": \"a quote\"}".to_vec())]);
    let err = Imds::new(&url, quick()).expect("client").td_quote(&[0; 1024]).unwrap_err();
    assert!(matches!(err, Error::BadResponse { .. }), "{err}");

    let (url, _seen) = serve(vec![(200, vec![b'x'; (1 << 20) + 1])]);
    let err = Imds::new(&url, quick()).expect("client").location().unwrap_err();
    assert!(err.to_string().contains("larger than"), "{err}");

    // A port nobody listens on: bind one, then close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let err =
        Imds::new(&format!("http://127.0.0.1:{port}"), quick()).expect("client").location().unwrap_err();
    assert!(matches!(err, Error::Unreachable { .. }), "{err}");
    assert!(err.to_string().contains("--imds"), "says how to point elsewhere: {err}");

    assert!(matches!(Imds::new("169.254.169.254", quick()), Err(Error::InvalidUrl { .. })));
}
