//! The MAA HTTP client: posts a request document to an instance and returns the `token` it answers
//! with. docs/protocol.md §10.1 and §10.5.
//!
//! Transient failures (408, 429, 5xx, connection failures, timeouts) are retried a bounded number of
//! times with exponential backoff, jitter and `Retry-After`, as the C++ client does; a 400 is MAA's
//! verdict on the evidence and is never retried. Proxy environment variables (`HTTPS_PROXY`,
//! `NO_PROXY`, …) are honoured, except for an instance on this machine (a simulator), which no proxy
//! could reach.

use std::fmt;
use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

use reqwest::blocking::Response;
use reqwest::header::{ACCEPT, CONTENT_TYPE, RETRY_AFTER};
use serde_json::Value;

use super::Api;
use super::endpoint::Endpoint;

/// Largest success answer read: an AzureGuest envelope or a token is a few KiB to tens of KiB.
const MAX_RESPONSE_BYTES: u64 = 1 << 20;
/// Largest error answer read; it is only shown.
const MAX_ERROR_BYTES: u64 = 64 << 10;
/// How much of an unstructured error body a message quotes.
const EXCERPT_CHARS: usize = 300;
const USER_AGENT: &str = concat!("cvm-attest/", env!("CARGO_PKG_VERSION"));

/// How the caller should report an error; the CLI maps it to the exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// MAA appraised the evidence and refused it (exit status 1).
    Rejected,
    /// The URL, the CA file or the request is wrong (exit status 2).
    Usage,
    /// MAA could not be reached or kept failing (exit status 3).
    Environment,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("--ca-file: {0}")]
    CaFile(#[from] crate::input::Error),

    #[error("--ca-file {}: {reason}; give a PEM file of CA certificates", path.display())]
    CaPem { path: PathBuf, reason: String },

    #[error("cannot set up the HTTP client: {0}")]
    Build(#[source] reqwest::Error),

    #[error("MAA rejected the evidence: {detail}; HTTP 400 from {url}{}", detail.advice())]
    Rejected { url: String, detail: Box<MaaError> },

    #[error(
        "MAA at {url} refused the request with HTTP {status}: {detail}; check the URL given with -a (the \
         path is always /attest/…, so give the instance's base URL)"
    )]
    Refused { url: String, status: u16, detail: Box<MaaError> },

    #[error("MAA at {url} answered HTTP {status} after {attempts} attempt(s): {detail}; try again later")]
    Status { url: String, status: u16, attempts: u32, detail: Box<MaaError> },

    #[error(
        "cannot reach MAA at {url} after {attempts} attempt(s): {cause}; check the URL given with -a, \
         the network and the proxy settings (HTTPS_PROXY, NO_PROXY)"
    )]
    Unreachable {
        url: String,
        attempts: u32,
        cause: String,
        #[source]
        source: reqwest::Error,
    },

    #[error(
        "MAA at {url} did not answer within {timeout:?} ({attempts} attempt(s)); check the network and \
         the proxy settings (HTTPS_PROXY, NO_PROXY), or try again later"
    )]
    Timeout { url: String, attempts: u32, timeout: Duration },

    #[error(
        "the TLS certificate of {url} is not trusted: {cause}; for a test instance, pass its CA with \
         --ca-file"
    )]
    Certificate {
        url: String,
        cause: String,
        #[source]
        source: reqwest::Error,
    },

    #[error("MAA at {url} sent an unusable answer: {reason}")]
    BadResponse { url: String, reason: String },
}

impl Error {
    pub fn kind(&self) -> Kind {
        match self {
            Error::Rejected { .. } => Kind::Rejected,
            Error::CaFile(_) | Error::CaPem { .. } | Error::Refused { .. } => Kind::Usage,
            Error::Build(_)
            | Error::Status { .. }
            | Error::Unreachable { .. }
            | Error::Timeout { .. }
            | Error::Certificate { .. }
            | Error::BadResponse { .. } => Kind::Environment,
        }
    }

    /// Whether the service or the network is at fault, as the other modules' errors say it.
    pub fn is_environment(&self) -> bool {
        self.kind() == Kind::Environment
    }
}

/// MAA's error answer, `{"error": {"code", "message", "innererror"?: {"code", "details"?: [{"code",
/// "target", "value"}]}}}` (also capitalised: `{"Error": {"Code", "Message"}}`), reduced to what a
/// person needs; or an excerpt of whatever else the body was. docs/protocol.md §10.5.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MaaError {
    pub code: Option<String>,
    pub message: Option<String>,
    pub inner_code: Option<String>,
    /// `innererror.details`: for a policy failure, the claim (`target`) and its value.
    pub details: Vec<Detail>,
    /// The body's beginning, when it is not MAA's error JSON.
    pub excerpt: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Detail {
    pub code: Option<String>,
    pub target: Option<String>,
    pub value: Option<String>,
}

impl MaaError {
    /// The error in `body`; `header_code` is the `x-ms-error-code` header, used when the body has none.
    pub fn parse(body: &[u8], header_code: Option<&str>) -> MaaError {
        let parsed = cvm_attest_formats::json::value_from_slice(body).ok();
        let error = parsed.as_ref().and_then(|v| member(v, "error")).filter(|e| e.is_object());
        let Some(error) = error else {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            return MaaError {
                code: header_code.map(str::to_owned),
                excerpt: (!text.is_empty()).then(|| excerpt(text)),
                ..MaaError::default()
            };
        };
        let inner = member(error, "innererror");
        let details = inner.and_then(|i| member(i, "details")).and_then(Value::as_array);
        let detail = |d: &Value| Detail {
            code: string(d, "code"),
            target: string(d, "target"),
            value: member(d, "value").map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned)),
        };
        MaaError {
            code: string(error, "code").or_else(|| header_code.map(str::to_owned)),
            message: string(error, "message"),
            inner_code: inner.and_then(|i| string(i, "code")),
            details: details.map(|d| d.iter().map(detail).collect()).unwrap_or_default(),
            excerpt: None,
        }
    }

    /// What to do about each claim the attestation policy refused, as text to append to the error:
    /// empty when MAA named none.
    fn advice(&self) -> String {
        self.details
            .iter()
            .filter(|d| d.code.as_deref() == Some("PolicyFailureClaim"))
            .filter_map(|d| d.target.as_deref())
            .map(|claim| format!(". {}", super::advice::for_claim(claim)))
            .collect()
    }
}

impl fmt::Display for MaaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.code, &self.message, &self.excerpt) {
            (Some(code), Some(message), _) => write!(f, "{code}: {message}")?,
            (Some(code), None, Some(excerpt)) => write!(f, "{code}: {excerpt}")?,
            (Some(text), None, None) | (None, Some(text), _) | (None, None, Some(text)) => {
                f.write_str(text)?
            }
            (None, None, None) => f.write_str("(no error description)")?,
        }
        let details: Vec<String> =
            self.details.iter().map(Detail::to_string).filter(|d| !d.is_empty()).collect();
        match (details.is_empty(), &self.inner_code) {
            (false, _) => write!(f, " ({})", details.join("; ")),
            (true, Some(inner)) => write!(f, " ({inner})"),
            (true, None) => Ok(()),
        }
    }
}

impl fmt::Display for Detail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let claim = match (&self.target, &self.value) {
            (Some(target), Some(value)) => format!("{target} = {value}"),
            (Some(target), None) => target.clone(),
            (None, Some(value)) => value.clone(),
            (None, None) => String::new(),
        };
        match self.code.as_deref() {
            Some("PolicyFailureClaim") => write!(f, "policy claim {claim}"),
            Some(code) if claim.is_empty() => f.write_str(code),
            Some(code) => write!(f, "{code}: {claim}"),
            None => f.write_str(&claim),
        }
    }
}

/// Bounded retries with exponential backoff: before retry `n` (1-based) the client waits a random time
/// in [d/2, d], d = `base_delay`·2^(n−1) capped at `max_delay`, or longer if the service asked so with
/// `Retry-After` (seconds, capped at `retry_after_cap`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Attempts in all, the first included (at least one is made).
    pub attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    pub retry_after_cap: Duration,
}

impl Default for Retry {
    fn default() -> Retry {
        Retry {
            attempts: 4,
            base_delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(30),
            retry_after_cap: Duration::from_secs(60),
        }
    }
}

impl Retry {
    /// How long to wait before retry `retry` (1-based).
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let exponent = retry.saturating_sub(1).min(20);
        let backoff = self.base_delay.saturating_mul(1 << exponent).min(self.max_delay);
        let half = backoff / 2;
        let jitter = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
        let jittered = half + Duration::from_nanos(random() % jitter.saturating_add(1));
        jittered.max(retry_after.map_or(Duration::ZERO, |r| r.min(self.retry_after_cap)))
    }
}

/// How the client connects.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// The limit for one attempt, answer included.
    pub timeout: Duration,
    /// PEM CA certificates trusted in addition to the system's (a test instance's CA).
    pub ca_file: Option<PathBuf>,
    pub retry: Retry,
}

impl Default for ClientOptions {
    fn default() -> ClientOptions {
        ClientOptions { timeout: Duration::from_secs(60), ca_file: None, retry: Retry::default() }
    }
}

#[derive(Debug, Clone)]
pub struct Client {
    /// Through the proxy the environment names, if any.
    proxied: reqwest::blocking::Client,
    /// Without a proxy, for instances on this machine.
    direct: reqwest::blocking::Client,
    timeout: Duration,
    retry: Retry,
}

impl Client {
    pub fn new(options: ClientOptions) -> Result<Client, Error> {
        let roots = match &options.ca_file {
            Some(path) => ca_certificates(path)?,
            None => Vec::new(),
        };
        let builder = || {
            reqwest::blocking::Client::builder()
                .connect_timeout(options.timeout.min(Duration::from_secs(10)))
                .timeout(options.timeout)
                .user_agent(USER_AGENT)
                // MAA does not redirect; following one would send the evidence somewhere else.
                .redirect(reqwest::redirect::Policy::none())
                .tls_certs_merge(roots.iter().cloned())
        };
        let build_error = |e: reqwest::Error| match &options.ca_file {
            Some(path) => Error::CaPem { path: path.clone(), reason: e.to_string() },
            None => Error::Build(e),
        };
        Ok(Client {
            proxied: builder().build().map_err(build_error)?,
            direct: builder().no_proxy().build().map_err(build_error)?,
            timeout: options.timeout,
            retry: options.retry,
        })
    }

    /// Posts `body` (a request document for `api`, JSON text) to the instance and returns the answer's
    /// `token`: a JWT, or for AzureGuest the encrypted envelope holding one.
    pub fn attest(&self, endpoint: &Endpoint, api: Api, body: &str) -> Result<String, Error> {
        let url = endpoint.attest_url(api);
        let client = if endpoint.is_loopback() { &self.direct } else { &self.proxied };
        let answer = self.post(client, &url, body)?;
        #[derive(serde::Deserialize)]
        struct Answer {
            token: String,
        }
        let bad = |reason: String| Error::BadResponse { url: url.clone(), reason };
        let answer: Answer = cvm_attest_formats::json::from_slice(&answer)
            .map_err(|e| bad(format!("expected {{\"token\": \"…\"}} ({e})")))?;
        if answer.token.is_empty() {
            return Err(bad("the token is empty".into()));
        }
        Ok(answer.token)
    }

    fn post(&self, client: &reqwest::blocking::Client, url: &str, body: &str) -> Result<Vec<u8>, Error> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let last = attempt >= self.retry.attempts;
            let sent = client
                .post(url)
                .header(CONTENT_TYPE, "application/json")
                .header(ACCEPT, "application/json")
                .body(body.to_owned())
                .send();
            let retry_after = match sent {
                Ok(response) if response.status().is_success() => return read_answer(url, response),
                Ok(response) => {
                    let status = response.status().as_u16();
                    if last || !matches!(status, 408 | 429 | 500..=599) {
                        return Err(status_error(url, status, attempt, response));
                    }
                    tracing::debug!(url, status, attempt, "MAA answered with a transient error; retrying");
                    retry_after(&response)
                }
                Err(e) if is_certificate_error(&e) => {
                    return Err(Error::Certificate { url: url.to_owned(), cause: root_cause(&e), source: e });
                }
                Err(e) if !(e.is_connect() || e.is_timeout() || e.is_request()) || last => {
                    return Err(self.transport_error(url, attempt, e));
                }
                Err(e) => {
                    tracing::debug!(url, attempt, "MAA request failed ({}); retrying", root_cause(&e));
                    None
                }
            };
            std::thread::sleep(self.retry.delay(attempt, retry_after));
        }
    }

    fn transport_error(&self, url: &str, attempts: u32, source: reqwest::Error) -> Error {
        let url = url.to_owned();
        if source.is_timeout() {
            Error::Timeout { url, attempts, timeout: self.timeout }
        } else {
            Error::Unreachable { url, attempts, cause: root_cause(&source), source }
        }
    }
}

/// A success answer, up to [`MAX_RESPONSE_BYTES`].
fn read_answer(url: &str, response: Response) -> Result<Vec<u8>, Error> {
    let bad = |reason: String| Error::BadResponse { url: url.to_owned(), reason };
    let too_large = || bad(format!("the answer is larger than {MAX_RESPONSE_BYTES} bytes"));
    if response.content_length().is_some_and(|n| n > MAX_RESPONSE_BYTES) {
        return Err(too_large());
    }
    crate::input::read_bounded(response, MAX_RESPONSE_BYTES)
        .map_err(|e| bad(format!("reading it: {e}")))?
        .ok_or_else(too_large)
}

fn status_error(url: &str, status: u16, attempts: u32, response: Response) -> Error {
    let header = response.headers().get("x-ms-error-code").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let mut body = Vec::new();
    // The body only explains the status: a failure to read it, or its end, is not worth an error.
    let _ = response.take(MAX_ERROR_BYTES).read_to_end(&mut body);
    let detail = Box::new(MaaError::parse(&body, header.as_deref()));
    let url = url.to_owned();
    match status {
        400 => Error::Rejected { url, detail },
        408 | 429 | 500..=599 => Error::Status { url, status, attempts, detail },
        _ => Error::Refused { url, status, detail },
    }
}

/// `Retry-After` in seconds (the HTTP-date form is not used by MAA and is ignored).
fn retry_after(response: &Response) -> Option<Duration> {
    let value = response.headers().get(RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

fn ca_certificates(path: &std::path::Path) -> Result<Vec<reqwest::Certificate>, Error> {
    let pem = crate::input::read(path, "CA file", crate::input::MAX_SMALL_FILE_BYTES)?;
    let invalid = |reason: String| Error::CaPem { path: path.to_owned(), reason };
    let roots = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| invalid(e.to_string()))?;
    if roots.is_empty() {
        return Err(invalid("it holds no -----BEGIN CERTIFICATE----- block".into()));
    }
    Ok(roots)
}

/// The innermost cause ("Connection refused (os error 111)"), which reqwest's own message hides.
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// Whether the TLS handshake failed on the server's certificate. reqwest does not expose rustls's
/// error type, so this goes by rustls's wording ("invalid peer certificate: …") in the causes (not in
/// reqwest's own message, which quotes the URL); retrying would not change the answer.
fn is_certificate_error(error: &reqwest::Error) -> bool {
    let mut cause = std::error::Error::source(error);
    while let Some(e) = cause {
        if e.to_string().contains("certificate") {
            return true;
        }
        cause = e.source();
    }
    false
}

/// Randomness for jitter, which need not be unpredictable: std's per-instance random hasher keys.
fn random() -> u64 {
    use std::hash::BuildHasher;
    std::collections::hash_map::RandomState::new().hash_one(std::time::Instant::now())
}

/// The first characters of `text`, marked when cut.
fn excerpt(text: &str) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(EXCERPT_CHARS).collect();
    if chars.next().is_some() { format!("{head}…") } else { head }
}

/// `object[name]`, the name matched without regard to case (MAA also answers `{"Error": {"Code"}}`).
fn member<'a>(object: &'a Value, name: &str) -> Option<&'a Value> {
    object.as_object()?.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, v)| v)
}

fn string(object: &Value, name: &str) -> Option<String> {
    member(object, name).and_then(Value::as_str).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_a_policy_failure_with_its_claim() {
        let body = br#"{"error": {"code": "PolicyEvaluationError", "message": "Policy evaluation failed.",
            "innererror": {"code": "PolicyValidationFailure", "details": [
                {"code": "PolicyFailureClaim", "target": "x-ms-azurevm-dbxvalidated", "value": "false"}]}}}"#;
        assert_eq!(
            MaaError::parse(body, None).to_string(),
            "PolicyEvaluationError: Policy evaluation failed. (policy claim x-ms-azurevm-dbxvalidated = false)"
        );
        let url = "https://sharedkrc.krc.attest.azure.net/attest/AzureGuest".to_owned();
        let rejected = Error::Rejected { url, detail: Box::new(MaaError::parse(body, None)) }.to_string();
        assert!(
            rejected.ends_with(
                "HTTP 400 from https://sharedkrc.krc.attest.azure.net/attest/AzureGuest. The VM's Secure Boot \
                 databases (db, dbx, the default keys) are not what the policy accepts: restore the default \
                 Secure Boot keys, install the OS's dbx update, reboot and attest again"
            ),
            "{rejected}"
        );
    }

    #[test]
    fn reads_the_capitalised_and_other_shapes() {
        let shown = |body: &[u8], header: Option<&str>| MaaError::parse(body, header).to_string();
        assert_eq!(
            shown(br#"{"Error": {"Code": "InvalidParameter", "Message": "bad quote"}}"#, None),
            "InvalidParameter: bad quote"
        );
        assert_eq!(
            shown(br#"{"error": {"code": "X", "message": "m", "innererror": {"code": "Inner"}}}"#, None),
            "X: m (Inner)"
        );
        let two = br#"{"error": {"message": "m", "innererror": {"details": [
            {"code": "PolicyFailureClaim", "target": "a", "value": true}, {"code": "Other", "target": "b"}]}}}"#;
        assert_eq!(shown(two, Some("Hdr")), "Hdr: m (policy claim a = true; Other: b)");
        assert_eq!(shown(b"<html>gateway</html>", Some("Busy")), "Busy: <html>gateway</html>");
        assert_eq!(shown(b"  ", None), "(no error description)");
        let long = "x".repeat(1000);
        assert_eq!(shown(long.as_bytes(), None).chars().count(), EXCERPT_CHARS + 1);
    }

    #[test]
    fn backoff_doubles_within_bounds_and_honours_retry_after() {
        let retry = Retry {
            attempts: 9,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(350),
            retry_after_cap: Duration::from_secs(5),
        };
        for _ in 0..50 {
            let first = retry.delay(1, None);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100), "{first:?}");
            let third = retry.delay(3, None);
            assert!(
                third >= Duration::from_millis(175) && third <= Duration::from_millis(350),
                "capped: {third:?}"
            );
        }
        assert!(retry.delay(40, None) <= Duration::from_millis(350));
        assert_eq!(retry.delay(1, Some(Duration::from_secs(2))), Duration::from_secs(2));
        assert_eq!(
            retry.delay(1, Some(Duration::from_secs(3600))),
            Duration::from_secs(5),
            "Retry-After is capped"
        );
    }

    #[test]
    fn errors_say_how_to_report_them() {
        let detail = Box::<MaaError>::default();
        let url = String::from("https://maa.example/attest/AzureGuest");
        assert_eq!(Error::Rejected { url: url.clone(), detail: detail.clone() }.kind(), Kind::Rejected);
        assert_eq!(
            Error::Refused { url: url.clone(), status: 404, detail: detail.clone() }.kind(),
            Kind::Usage
        );
        let status = Error::Status { url: url.clone(), status: 503, attempts: 4, detail };
        assert!(status.is_environment());
        assert!(Error::Timeout { url, attempts: 1, timeout: Duration::from_secs(1) }.is_environment());
    }
}
