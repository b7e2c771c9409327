//! Fetching an issuer's keys: its OpenID metadata, then the JWKS it names. Redirects are not
//! followed (the keys must come from where they were asked for), answers are bounded, and plain
//! http is used only on loopback ([`super::issuer::fetchable`]).

use std::time::Duration;

use reqwest::Url;
use serde_json::Value;

use super::error::Error;
use super::issuer::{Issuer, fetchable};
use super::jwks::KeySet;

/// Largest OpenID metadata document read (MAA's is under 1 KiB).
const MAX_METADATA_BYTES: u64 = 64 << 10;
/// Largest JWKS read (a shared instance's `/certs` was 96 KiB in 2026).
const MAX_JWKS_BYTES: u64 = 1 << 20;

/// How the client reaches the issuer.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// For each request, from connecting to the last byte.
    pub timeout: Duration,
    /// PEM certificates trusted as TLS roots besides the system's (a test or private CA).
    pub extra_roots_pem: Option<Vec<u8>>,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions { timeout: Duration::from_secs(20), extra_roots_pem: None }
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    #[error(
        "will not fetch keys from {url} over plain http: that is allowed only to this machine (127.0.0.1, ::1, \
         localhost); use https"
    )]
    Insecure { url: String },
    #[error("cannot reach {url}: {source}")]
    Unreachable {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{url} answered HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("{url} sent an unusable answer: {reason}")]
    BadAnswer { url: String, reason: String },
}

impl FetchError {
    /// Whether the service is at fault, not the URL the caller chose.
    pub fn is_environment(&self) -> bool {
        !matches!(self, FetchError::Insecure { .. })
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Http {
    client: reqwest::blocking::Client,
}

impl Http {
    pub fn new(options: &HttpOptions) -> Result<Http, Error> {
        let mut builder = reqwest::blocking::Client::builder()
            .connect_timeout(options.timeout.min(Duration::from_secs(5)))
            .timeout(options.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("cvm-attest/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = &options.extra_roots_pem {
            let roots = extra_roots(pem)?;
            builder = builder.tls_certs_merge(roots);
        }
        let client = builder.build().map_err(|e| Error::CaFile(e.to_string()))?;
        Ok(Http { client })
    }

    /// The `jwks_uri` of the issuer's OpenID metadata. It must be on the issuer's origin: the metadata
    /// is the issuer's word, and keys from anywhere else would be someone else's; a metadata `issuer`
    /// other than the one asked is refused too (OpenID Connect Discovery 1.0 §4.3).
    pub fn jwks_uri(&self, issuer: &Issuer) -> Result<Url, FetchError> {
        let url = issuer.metadata_url();
        let body = self.get(&url, MAX_METADATA_BYTES)?;
        // The reasons quote the service's answer.
        let bad = |reason: String| FetchError::BadAnswer {
            url: url.to_string(),
            reason: crate::text::truncate(crate::text::sanitize(&reason).into_owned(), 300),
        };
        let metadata = cvm_attest_formats::json::value_from_slice(&body)
            .map_err(|e| bad(format!("not JSON OpenID metadata ({e})")))?;
        if let Some(named) = metadata.get("issuer")
            && !named.as_str().is_some_and(|n| issuer.matches(n))
        {
            return Err(bad(format!("it names the issuer {named}, not {issuer}")));
        }
        let jwks_uri =
            metadata.get("jwks_uri").and_then(Value::as_str).ok_or_else(|| bad("no jwks_uri".into()))?;
        let jwks = Url::parse(jwks_uri).map_err(|e| bad(format!("jwks_uri is not a URL ({e})")))?;
        if !issuer.same_origin(&jwks) {
            return Err(bad(format!("jwks_uri {jwks_uri:?} is not on the issuer's origin {issuer}")));
        }
        Ok(jwks)
    }

    /// The JWKS at `url`.
    pub fn jwks(&self, url: &Url) -> Result<KeySet, Error> {
        let body = self.get(url, MAX_JWKS_BYTES)?;
        KeySet::parse(&body).map_err(|source| Error::Jwks {
            origin: url.to_string(),
            from_network: true,
            source,
        })
    }

    fn get(&self, url: &Url, limit: u64) -> Result<Vec<u8>, FetchError> {
        let name = url.to_string();
        if !fetchable(url) {
            return Err(FetchError::Insecure { url: name });
        }
        tracing::debug!(url = %name, "fetching");
        let response = self
            .client
            .get(url.clone())
            .header("Accept", "application/json")
            .send()
            .map_err(|source| FetchError::Unreachable { url: name.clone(), source })?;
        let status = response.status();
        if !status.is_success() {
            return Err(FetchError::Status { url: name, status: status.as_u16() });
        }
        let body = crate::input::read_bounded(response, limit)
            .map_err(|e| FetchError::BadAnswer { url: name.clone(), reason: format!("reading it: {e}") })?
            .ok_or_else(|| FetchError::BadAnswer {
                url: name.clone(),
                reason: format!("it is larger than {limit} bytes"),
            })?;
        Ok(body)
    }
}

/// Whether `pem` holds usable extra root certificates (checked even when nothing is fetched).
pub(crate) fn check_roots(pem: &[u8]) -> Result<(), Error> {
    extra_roots(pem).map(drop)
}

/// The certificates of a PEM bundle; at least one.
fn extra_roots(pem: &[u8]) -> Result<Vec<reqwest::Certificate>, Error> {
    let roots = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| Error::CaFile(e.to_string()))?;
    if roots.is_empty() {
        return Err(Error::CaFile("no PEM certificate (-----BEGIN CERTIFICATE-----) in it".into()));
    }
    Ok(roots)
}
