//! A simulated Azure Instance Metadata Service (IMDS): a real HTTP server on `127.0.0.1`, serving
//! what the cvm-attest client (`host/src/evidence/imds.rs`) asks of IMDS (docs/protocol.md §7):
//!
//! * `GET /metadata/THIM/amd/certification`: the THIM document (`vcekCert`, `certificateChain` ASK
//!   then ARK, `tcbm`, `cacheControl`) for the test PKI's VCEK ([`crate::pki`]). The first
//!   [`ImdsConfig::thim_not_ready`] of these requests get 404, as THIM does while it warms up.
//! * `POST /acc/tdquote`, body `{"report": base64url(TD report)}`: `{"quote": base64url(quote)}`,
//!   made by [`crate::tdx::td_quote`]. Either base64 alphabet, padded or not, is accepted (real
//!   clients differ); a report that is not a 1024-byte TDX TD report is refused with 400.
//! * `GET /metadata/instance?api-version=…`: a small instance document (`compute`: `location`,
//!   `vmId`, `name`, `osType`, `azEnvironment`, `securityProfile`), and any node under it, e.g.
//!   `GET /metadata/instance/compute/location?api-version=…&format=text`: the region as text.
//!
//! The rules of the real IMDS it enforces, all answered with 400 and a JSON `{"error": …}`: every
//! request carries `Metadata: true`; no request carries `X-Forwarded-For`; `/metadata/instance`
//! requests carry an `api-version` (any value is accepted; THIM and `/acc/tdquote` take none); a
//! leaf node is asked for with `format=text`. An unknown path is 404, a wrong method 405 (with
//! `Allow`), a body over 64 KiB 413. Error texts follow the real ones where they are known.
//!
//! Not simulated: the rest of IMDS (network, identity tokens, attested documents, scheduled
//! events, AK certificate renewal, load balancer), the list of valid api-versions, rate limiting
//! (429), the link-local address `169.254.169.254`, and any check of a TD report's MAC (a real
//! quoting enclave checks it).

use std::io::Read as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::thread::JoinHandle;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::{pki, tdx};

/// Largest request body read; larger ones get 413.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// The size of a TD report (TDREPORT_STRUCT).
const TD_REPORT_SIZE: usize = 1024;

/// `cacheControl` as THIM sends it (seconds).
const THIM_CACHE_CONTROL: &str = "86400";

/// What the simulated VM's IMDS reports about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImdsConfig {
    /// The Azure region (`compute.location`), e.g. `koreacentral`.
    pub location: String,
    /// `compute.vmId` (on Azure also the HCL report's `vm-unique-id`).
    pub vm_id: String,
    /// `compute.name`.
    pub vm_name: String,
    /// How many THIM requests are answered 404 before THIM answers (0: at once).
    pub thim_not_ready: u32,
}

impl Default for ImdsConfig {
    fn default() -> Self {
        ImdsConfig {
            location: "koreacentral".to_owned(),
            vm_id: "6c1a6e1f-3b0e-4c55-9d7e-2f4a8b1c0d9e".to_owned(),
            vm_name: "cvm-attest-sim".to_owned(),
            thim_not_ready: 0,
        }
    }
}

/// A running simulated IMDS. Dropping it stops the server and joins its thread. Requests are
/// answered one at a time, so a client that stalls in the middle of sending a body holds the server
/// (and the drop) until it sends the rest or closes the connection.
pub struct Imds {
    server: Arc<tiny_http::Server>,
    url: String,
    state: Arc<State>,
    thread: Option<JoinHandle<()>>,
}

/// What the serving thread shares with [`Imds`].
#[derive(Debug)]
struct State {
    config: ImdsConfig,
    stop: AtomicBool,
    requests: AtomicU64,
    thim_refusals_left: AtomicU32,
}

impl Imds {
    /// Listen on a free port of `127.0.0.1` and serve from a background thread.
    pub fn start(config: ImdsConfig) -> std::io::Result<Imds> {
        let server = tiny_http::Server::http("127.0.0.1:0").map_err(std::io::Error::other)?;
        let addr = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| std::io::Error::other("the IMDS server has no IP address"))?;
        let server = Arc::new(server);
        let state = Arc::new(State {
            thim_refusals_left: AtomicU32::new(config.thim_not_ready),
            config,
            stop: AtomicBool::new(false),
            requests: AtomicU64::new(0),
        });
        let thread = std::thread::Builder::new().name("sim-imds".to_owned()).spawn({
            let server = Arc::clone(&server);
            let state = Arc::clone(&state);
            move || serve(&server, &state)
        })?;
        Ok(Imds { server, url: format!("http://{addr}"), state, thread: Some(thread) })
    }

    /// The base URL, `http://127.0.0.1:PORT` (what `--imds` takes).
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// How many requests have been answered, whatever the answer.
    pub fn requests(&self) -> u64 {
        self.state.requests.load(Ordering::SeqCst)
    }
}

impl std::fmt::Debug for Imds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Imds").field("url", &self.url).field("state", &self.state).finish_non_exhaustive()
    }
}

impl Drop for Imds {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(server: &tiny_http::Server, state: &State) {
    while !state.stop.load(Ordering::SeqCst) {
        // Err only when unblocked by `Drop` (the loop then ends) or on a transient accept error.
        let Ok(mut request) = server.recv() else { continue };
        let answer = answer(&mut request, state);
        // The count includes this answer once the client can see it.
        state.requests.fetch_add(1, Ordering::SeqCst);
        let _ = request.respond(answer.into_response());
    }
}

/// An HTTP answer before it is written.
struct Answer {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
    allow: Option<&'static str>,
}

impl Answer {
    fn json(status: u16, value: &Value) -> Answer {
        let body = value.to_string().into_bytes();
        Answer { status, content_type: "application/json; charset=utf-8", body, allow: None }
    }

    fn text(text: &str) -> Answer {
        Answer { status: 200, content_type: "text/plain; charset=utf-8", body: text.into(), allow: None }
    }

    fn error(status: u16, message: &str) -> Answer {
        Answer::json(status, &json!({ "error": message }))
    }

    fn into_response(self) -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
        let mut response = tiny_http::Response::from_data(self.body).with_status_code(self.status);
        let headers = [Some(("Content-Type", self.content_type)), self.allow.map(|allow| ("Allow", allow))];
        for (name, value) in headers.into_iter().flatten() {
            if let Ok(header) = tiny_http::Header::from_bytes(name, value) {
                response.add_header(header);
            }
        }
        response
    }
}

fn answer(request: &mut tiny_http::Request, state: &State) -> Answer {
    let header = |name: &'static str| {
        request.headers().iter().find(|h| h.field.equiv(name)).map(|h| h.value.as_str().to_owned())
    };
    // IMDS refuses requests that went through a proxy: its documentation says requests must not
    // carry X-Forwarded-For (a proxy would let other machines read this VM's metadata). The exact
    // text of the real error is not known; this one is modelled on the metadata header's.
    if header("X-Forwarded-For").is_some() {
        return Answer::error(400, "Bad request. Forwarded requests are not allowed");
    }
    // The real IMDS's text for a request without `Metadata: true`.
    if !header("Metadata").is_some_and(|v| v.trim().eq_ignore_ascii_case("true")) {
        return Answer::error(400, "Bad request. Required metadata header not specified");
    }
    let url = request.url().to_owned();
    let (path, query) = url.split_once('?').unwrap_or((&url, ""));
    let method = request.method().clone();
    let get = method == tiny_http::Method::Get;
    match path {
        "/metadata/THIM/amd/certification" if get => thim(state),
        "/acc/tdquote" if method == tiny_http::Method::Post => match read_body(request) {
            Ok(body) => td_quote(&body),
            Err(answer) => answer,
        },
        "/metadata/THIM/amd/certification" => method_not_allowed("GET"),
        "/acc/tdquote" => method_not_allowed("POST"),
        _ => match path.strip_prefix("/metadata/instance") {
            Some(node) if node.starts_with('/') || node.is_empty() => match instance_node(state, node) {
                None => not_found(),
                Some(_) if !get => method_not_allowed("GET"),
                Some(value) => instance(&value, query),
            },
            _ => not_found(),
        },
    }
}

fn not_found() -> Answer {
    Answer::error(404, "Not found")
}

fn method_not_allowed(allow: &'static str) -> Answer {
    Answer { allow: Some(allow), ..Answer::error(405, "Method not allowed") }
}

/// The body, at most [`MAX_BODY_BYTES`].
fn read_body(request: &mut tiny_http::Request) -> Result<Vec<u8>, Answer> {
    let too_large = || Answer::error(413, &format!("Request body larger than {MAX_BODY_BYTES} bytes"));
    if request.body_length().is_some_and(|length| length > MAX_BODY_BYTES) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    let limit = u64::try_from(MAX_BODY_BYTES).unwrap_or(u64::MAX).saturating_add(1);
    request
        .as_reader()
        .take(limit)
        .read_to_end(&mut body)
        .map_err(|e| Answer::error(400, &format!("Bad request. Cannot read the body: {e}")))?;
    if body.len() > MAX_BODY_BYTES {
        return Err(too_large());
    }
    Ok(body)
}

fn thim(state: &State) -> Answer {
    let warming_up = state
        .thim_refusals_left
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if warming_up {
        return Answer::error(404, "THIM certification not yet available");
    }
    let mut chain = with_final_newline(pki::AMD_ASK_PEM);
    chain.push_str(&with_final_newline(pki::AMD_ARK_PEM));
    Answer::json(
        200,
        &json!({
            "vcekCert": with_final_newline(pki::AMD_VCEK_PEM),
            "tcbm": format!("{:016X}", pki::TCB_VERSION),
            "certificateChain": chain,
            "cacheControl": THIM_CACHE_CONTROL,
        }),
    )
}

fn with_final_newline(pem: &str) -> String {
    let mut out = pem.to_owned();
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

fn td_quote(body: &[u8]) -> Answer {
    #[derive(serde::Deserialize)]
    struct Request {
        report: String,
    }
    let request: Request = match serde_json::from_slice(body) {
        Ok(request) => request,
        Err(e) => {
            return Answer::error(400, &format!("Bad request. Expected {{\"report\": base64url}}: {e}"));
        }
    };
    let report = request.report.trim();
    let Some(report) = cvm_attest_formats::encoding::base64_any(report) else {
        return Answer::error(400, "Bad request. report is not base64");
    };
    if report.len() != TD_REPORT_SIZE {
        let message =
            format!("Bad request. report is {} bytes, a TD report is {TD_REPORT_SIZE}", report.len());
        return Answer::error(400, &message);
    }
    // A real quoting enclave refuses what is not a TD report (it checks the MAC too, which cannot
    // be done here).
    if let Err(e) = cvm_attest_formats::tdx::TdReport::parse(&report) {
        return Answer::error(400, &format!("Bad request. report is not a TD report: {e}"));
    }
    Answer::json(200, &json!({ "quote": URL_SAFE_NO_PAD.encode(tdx::td_quote(&report)) }))
}

/// The instance document, as the real IMDS shapes it (string values, even for booleans).
fn instance_document(config: &ImdsConfig) -> Value {
    json!({
        "compute": {
            "azEnvironment": "AzurePublicCloud",
            "location": config.location,
            "name": config.vm_name,
            "osType": "Linux",
            "securityProfile": {
                "secureBootEnabled": "true",
                "virtualTpmEnabled": "true",
                "securityType": "ConfidentialVM",
            },
            "vmId": config.vm_id,
        },
    })
}

/// The node at `node` (`""` or `/compute/location`, say) of the instance document.
fn instance_node(state: &State, node: &str) -> Option<Value> {
    let node = node.trim_end_matches('/');
    // Keys here contain neither `~` nor `/`, so the path is a JSON pointer as it is.
    instance_document(&state.config).pointer(node).cloned()
}

/// `/metadata/instance` requests: api-version required; JSON by default; a leaf only as text.
fn instance(value: &Value, query: &str) -> Answer {
    let param = |name: &str| {
        query.split('&').filter_map(|pair| pair.split_once('=')).find(|(key, _)| *key == name).map(|(_, v)| v)
    };
    if param("api-version").is_none_or(str::is_empty) {
        return Answer::json(
            400,
            &json!({
                "error": "Bad request. api-version was not specified in the request. \
                          For more information refer to aka.ms/azureimds",
                "newest-versions": ["2023-07-01", "2021-12-13", "2021-11-15"],
            }),
        );
    }
    match (value, param("format").unwrap_or("json")) {
        (Value::String(leaf), "text") => Answer::text(leaf),
        // IMDS: "format=json doesn't work" for leaf nodes, text must be asked for.
        (Value::String(_), _) => {
            Answer::error(400, "Bad request. Leaf nodes must be requested with format=text")
        }
        // A node's children, one a line (a trailing `/` on those that have children of their own).
        (Value::Object(children), "text") => {
            let names: Vec<String> = children
                .iter()
                .map(|(name, child)| if child.is_object() { format!("{name}/") } else { name.clone() })
                .collect();
            Answer::text(&names.join("\n"))
        }
        (_, "json") => Answer::json(200, value),
        (_, _) => Answer::error(400, "Bad request. format must be json or text"),
    }
}
