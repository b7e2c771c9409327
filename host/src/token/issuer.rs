//! The expected issuer: an MAA instance's base URL, given by the caller, never taken from the token.
//! A token's `iss` must equal it, and its keys are fetched only from it (its OpenID metadata names a
//! `jwks_uri` on the same origin).

use std::fmt;

use reqwest::Url;

use super::error::Error;

/// An MAA instance's base URL (`https://sharedeus2.eus2.attest.azure.net`): scheme, host and port,
/// no trailing slash.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Issuer {
    url: Url,
    text: String,
}

impl Issuer {
    /// An issuer exactly as given (`--issuer`): an http(s) base URL without path, query, fragment or
    /// credentials. A trailing slash is dropped; the host is compared as the URL standard writes it
    /// (lower case).
    pub fn parse(text: &str) -> Result<Issuer, Error> {
        let url = parse_url(text)?;
        if url.query().is_some() || url.fragment().is_some() {
            return Err(invalid(text, "it must not have a query or a fragment"));
        }
        if url.path() != "/" {
            return Err(invalid(text, "an issuer is a base URL (scheme, host and port), without a path"));
        }
        Ok(Issuer::of(url))
    }

    /// The issuer of an MAA endpoint (`-a`, `CVM_ATTEST_MAA_URL`, `maa_url`): its base URL, which
    /// [`Endpoint`](crate::maa::endpoint::Endpoint) has already cut to scheme, host and port.
    pub fn of_endpoint(endpoint: &crate::maa::endpoint::Endpoint) -> Result<Issuer, Error> {
        Issuer::parse(endpoint.issuer())
    }

    fn of(url: Url) -> Issuer {
        let text = url.as_str().trim_end_matches('/').to_owned();
        Issuer { url, text }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether a token's `iss` names this issuer (a trailing slash is not a difference).
    pub fn matches(&self, iss: &str) -> bool {
        iss.strip_suffix('/').unwrap_or(iss) == self.text
    }

    /// The OpenID metadata document (OpenID Connect Discovery 1.0 §4).
    pub fn metadata_url(&self) -> Url {
        let mut url = self.url.clone();
        url.set_path("/.well-known/openid-configuration");
        url
    }

    /// Whether `url` has this issuer's scheme, host and port.
    pub fn same_origin(&self, url: &Url) -> bool {
        url.origin() == self.url.origin()
    }
}

impl fmt::Display for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn parse_url(text: &str) -> Result<Url, Error> {
    let url = Url::parse(text.trim()).map_err(|e| invalid(text, &format!("not a URL ({e})")))?;
    if !matches!(url.scheme(), "https" | "http") || url.host().is_none() {
        return Err(invalid(text, "it must be an https:// URL with a host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(text, "it must not carry credentials"));
    }
    Ok(url)
}

fn invalid(url: &str, reason: &str) -> Error {
    Error::Issuer { url: url.to_owned(), reason: reason.to_owned() }
}

/// Whether keys may be fetched from `url`: over https, or plain http to this machine only (tests and
/// the simulator), where nobody on the network can substitute the keys.
pub(crate) fn fetchable(url: &Url) -> bool {
    let Some(host) = url.host_str() else { return false };
    match url.scheme() {
        "https" => true,
        "http" => crate::maa::endpoint::is_loopback(host),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_and_refuses_what_is_not_a_base_url() {
        let issuer = Issuer::parse("https://SharedWUS.wus.attest.azure.net/").expect("valid");
        assert_eq!(issuer.as_str(), "https://sharedwus.wus.attest.azure.net");
        assert!(issuer.matches("https://sharedwus.wus.attest.azure.net"));
        assert!(issuer.matches("https://sharedwus.wus.attest.azure.net/"));
        assert!(!issuer.matches("https://sharedwus.wus.attest.azure.net.evil"));
        assert_eq!(
            issuer.metadata_url().as_str(),
            "https://sharedwus.wus.attest.azure.net/.well-known/openid-configuration"
        );
        for bad in
            ["sharedwus.wus.attest.azure.net", "ftp://x", "https://x/certs", "https://u:p@x", "https://x/?a"]
        {
            assert!(Issuer::parse(bad).is_err(), "{bad}");
        }
        let endpoint = crate::maa::endpoint::Endpoint::parse(
            "http://127.0.0.1:8443/attest/AzureGuest?api-version=2020-10-01#x",
        )
        .expect("endpoint");
        assert_eq!(Issuer::of_endpoint(&endpoint).expect("issuer").as_str(), "http://127.0.0.1:8443");
    }

    #[test]
    fn plain_http_only_to_this_machine() {
        let ok = |u: &str| fetchable(&Url::parse(u).expect("url"));
        assert!(ok("https://sharedeus.eus.attest.azure.net/certs"));
        assert!(ok("http://127.0.0.1:1234/certs") && ok("http://[::1]/certs") && ok("http://localhost/"));
        assert!(!ok("http://sharedeus.eus.attest.azure.net/certs") && !ok("http://10.0.0.1/certs"));
    }

    #[test]
    fn origins_compare_scheme_host_and_port() {
        let issuer = Issuer::parse("https://a.example").expect("valid");
        let same = |u: &str| issuer.same_origin(&Url::parse(u).expect("url"));
        assert!(same("https://a.example/certs") && same("https://a.example:443/keys"));
        assert!(
            !same("http://a.example/certs")
                && !same("https://a.example:8443/certs")
                && !same("https://b.example/")
        );
    }
}
