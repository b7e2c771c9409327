//! Azure Instance Metadata Service (IMDS) client: the VCEK chain from THIM, TD quotes, the region.
//!
//! IMDS is a link-local HTTP service (`http://169.254.169.254`) reachable only from inside the VM.
//! Proxies are never used for it (a proxy would answer for a different machine). Transient answers
//! (404 while THIM warms up, 429, 5xx, timeouts) are retried a bounded number of times.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Where IMDS lives inside every Azure VM.
pub const DEFAULT_URL: &str = "http://169.254.169.254";

/// Largest IMDS answer read (a THIM document is ~6 KB, a TD quote ~5 KB).
const MAX_RESPONSE_BYTES: u64 = 1 << 20;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("invalid IMDS URL '{url}': {reason}")]
    InvalidUrl { url: String, reason: String },

    #[error(
        "cannot reach IMDS at {url}: {source}. IMDS answers only inside an Azure VM; elsewhere pass --imds URL"
    )]
    Unreachable {
        url: String,
        #[source]
        source: reqwest::Error,
    },

    #[error("IMDS {url} answered HTTP {status} after {attempts} attempt(s): {body}")]
    Status { url: String, status: u16, attempts: u32, body: String },

    #[error("IMDS {url} sent an unusable answer: {reason}")]
    BadResponse { url: String, reason: String },
}

impl Error {
    /// Whether the service is at fault (unreachable, or answering with an error), not the URL given.
    pub fn is_environment(&self) -> bool {
        matches!(self, Error::Unreachable { .. } | Error::Status { .. })
    }
}

/// How often and how patiently to retry transient failures.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    pub attempts: u32,
    /// Delay before the second attempt; doubled for each further one.
    pub first_delay: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry { attempts: 4, first_delay: Duration::from_secs(1) }
    }
}

#[derive(Debug, Clone)]
pub struct Imds {
    base: String,
    client: reqwest::blocking::Client,
    retry: Retry,
}

impl Imds {
    /// A client for IMDS at `base` (scheme, host and port; default [`DEFAULT_URL`]).
    pub fn new(base: &str, retry: Retry) -> Result<Imds, Error> {
        let invalid = |reason: &str| Error::InvalidUrl { url: base.to_owned(), reason: reason.to_owned() };
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(invalid("it must start with http:// or https://"));
        }
        let client = reqwest::blocking::Client::builder()
            .no_proxy()
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| invalid(&e.to_string()))?;
        Ok(Imds { base: base.trim_end_matches('/').to_owned(), client, retry })
    }

    /// The THIM certification document (VCEK, ASK/ARK chain, TCB) as raw JSON.
    pub fn thim_certification(&self) -> Result<Vec<u8>, Error> {
        self.send("/metadata/THIM/amd/certification", None)
    }

    /// Turn a 1024-byte TD report into a TD quote (TDX CVMs only).
    pub fn td_quote(&self, td_report: &[u8]) -> Result<Vec<u8>, Error> {
        let path = "/acc/tdquote";
        let body = serde_json::json!({ "report": URL_SAFE_NO_PAD.encode(td_report) }).to_string();
        let answer = self.send(path, Some(body))?;
        let bad = |reason: String| Error::BadResponse { url: self.url(path), reason };
        #[derive(serde::Deserialize)]
        struct Answer {
            quote: String,
        }
        let answer: Answer =
            serde_json::from_slice(&answer).map_err(|e| bad(format!("expected {{\"quote\": ...}}: {e}")))?;
        // Clients disagree on the alphabet; accept both.
        cvm_attest_formats::encoding::base64_any(&answer.quote)
            .ok_or_else(|| bad("quote is not base64".to_owned()))
    }

    /// The VM's Azure region, e.g. `koreacentral`.
    pub fn location(&self) -> Result<String, Error> {
        let path = "/metadata/instance/compute/location?api-version=2021-01-01&format=text";
        let answer = self.send(path, None)?;
        let location = String::from_utf8(answer).map_err(|_| Error::BadResponse {
            url: self.url(path),
            reason: "location is not UTF-8".into(),
        })?;
        Ok(location.trim().to_owned())
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn send(&self, path: &str, json_body: Option<String>) -> Result<Vec<u8>, Error> {
        let url = self.url(path);
        let mut delay = self.retry.first_delay;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let last = attempt >= self.retry.attempts;
            let request = match &json_body {
                Some(body) => {
                    self.client.post(&url).header("Content-Type", "application/json").body(body.clone())
                }
                None => self.client.get(&url),
            };
            match request.header("Metadata", "true").send() {
                Ok(response) if response.status().is_success() => return read_bounded(&url, response),
                Ok(response) => {
                    let status = response.status().as_u16();
                    let transient = matches!(status, 404 | 429 | 500..=599);
                    if last || !transient {
                        let body = read_bounded(&url, response).unwrap_or_default();
                        let body = String::from_utf8_lossy(&body).chars().take(300).collect();
                        return Err(Error::Status { url, status, attempts: attempt, body });
                    }
                    tracing::debug!(%url, status, attempt, "IMDS answered with a transient error; retrying");
                }
                Err(source) if last || !(source.is_timeout() || source.is_connect()) => {
                    return Err(Error::Unreachable { url, source });
                }
                Err(e) => tracing::debug!(%url, attempt, "IMDS request failed ({e}); retrying"),
            }
            std::thread::sleep(delay);
            delay = delay.saturating_mul(2);
        }
    }
}

fn read_bounded(url: &str, response: reqwest::blocking::Response) -> Result<Vec<u8>, Error> {
    let bad = |reason: String| Error::BadResponse { url: url.to_owned(), reason };
    crate::input::read_bounded(response, MAX_RESPONSE_BYTES)
        .map_err(|e| bad(format!("reading the body: {e}")))?
        .ok_or_else(|| bad(format!("the answer is larger than {MAX_RESPONSE_BYTES} bytes")))
}
