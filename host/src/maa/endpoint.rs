//! Which MAA instance to attest with: an [`Endpoint`] is an attestation instance's base URL (scheme,
//! host and port), from `-a URL`, the configuration (`maa_url`), or the VM's Azure region through the
//! table of shared instances. docs/protocol.md §10.1.

use std::fmt;
use std::net::IpAddr;

use reqwest::Url;

use super::Api;
use crate::evidence::imds;

/// Why no usable endpoint was found.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("invalid MAA URL {input:?}: {reason}")]
    Invalid { input: String, reason: String },

    #[error(
        "no shared MAA instance is known for the Azure region {region:?}; pass the attestation instance's \
         URL with -a URL (e.g. -a https://sharedkrc.krc.attest.azure.net)"
    )]
    UnknownRegion { region: String },

    #[error(
        "no MAA URL was given and the VM's region could not be read from IMDS ({source}); pass the \
         attestation instance's URL with -a URL"
    )]
    Location {
        #[source]
        source: imds::Error,
    },
}

impl Error {
    /// Whether the machine is at fault (IMDS does not answer), not what the user gave.
    pub fn is_environment(&self) -> bool {
        matches!(self, Error::Location { source } if source.is_environment())
    }
}

/// An attestation instance's base URL, e.g. `https://sharedkrc.krc.attest.azure.net`: no path and no
/// trailing slash, the default port left out, the host in lower case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct Endpoint {
    base: String,
    loopback: bool,
}

impl Endpoint {
    /// An endpoint from a URL as the C++ sample's `-a` takes it: scheme, host and port are kept, path,
    /// query and fragment dropped (requests always go to `/attest/…`). A bare `host[:port]` means
    /// https; plain http is allowed only to this machine (a simulator on loopback).
    pub fn parse(input: &str) -> Result<Endpoint, Error> {
        let invalid = |reason: &str| Error::Invalid { input: input.to_owned(), reason: reason.to_owned() };
        let text = input.trim();
        if text.is_empty() {
            return Err(invalid("it is empty"));
        }
        let text = if text.contains("://") { text.to_owned() } else { format!("https://{text}") };
        let url = Url::parse(&text).map_err(|e| match e.to_string() {
            e if e == "empty host" => invalid("it has no host"),
            e => invalid(&format!("not a URL ({e})")),
        })?;
        let scheme = url.scheme();
        if !matches!(scheme, "https" | "http") {
            return Err(invalid(&format!("the scheme {scheme}:// is not supported; use https://")));
        }
        let host = url.host_str().filter(|h| !h.is_empty()).ok_or_else(|| invalid("it has no host"))?;
        if scheme == "http" && !is_loopback(host) {
            return Err(invalid(
                "plain http is allowed only to this machine (127.0.0.1, ::1, localhost); use https://",
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid("it must not carry a user name or password"));
        }
        let base = match url.port() {
            Some(0) => return Err(invalid("port 0 is not a port to connect to")),
            Some(port) => format!("{scheme}://{host}:{port}"),
            None => format!("{scheme}://{host}"),
        };
        Ok(Endpoint { loopback: is_loopback(host), base })
    }

    /// The shared MAA instance of an Azure region, as IMDS names it (`koreacentral`; spaces and case
    /// are ignored, so `USGov Virginia` works too).
    pub fn for_region(region: &str) -> Result<Endpoint, Error> {
        let key: String =
            region.chars().filter(|c| !c.is_whitespace()).flat_map(char::to_lowercase).collect();
        SHARED_INSTANCES
            .iter()
            .find(|(name, _)| *name == key)
            .map(|(_, base)| Endpoint { base: (*base).to_owned(), loopback: false })
            .ok_or_else(|| Error::UnknownRegion { region: region.to_owned() })
    }

    /// The base URL.
    pub fn as_str(&self) -> &str {
        &self.base
    }

    /// The `iss` of the tokens this instance issues: its base URL.
    pub fn issuer(&self) -> &str {
        &self.base
    }

    /// Where a request for `api` is posted, with the api-version the official clients use.
    pub fn attest_url(&self, api: Api) -> String {
        let (route, version) = match api {
            Api::AzureGuest => ("AzureGuest", "2020-10-01"),
            Api::SevSnpVm => ("SevSnpVm", "2022-08-01"),
            Api::TdxVm => ("TdxVm", "2023-04-01-preview"),
        };
        format!("{}/attest/{route}?api-version={version}", self.base)
    }

    /// The instance's token signing keys (JWKS).
    pub fn certs_url(&self) -> String {
        format!("{}/certs", self.base)
    }

    /// The instance's OpenID metadata.
    pub fn openid_configuration_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.base)
    }

    /// Whether the instance is on this machine (a simulator): reached without a proxy.
    pub fn is_loopback(&self) -> bool {
        self.loopback
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.base)
    }
}

impl std::str::FromStr for Endpoint {
    type Err = Error;
    fn from_str(s: &str) -> Result<Endpoint, Error> {
        Endpoint::parse(s)
    }
}

/// For the configuration file (`maa_url = "…"`), so a bad URL is an error where it is written.
impl TryFrom<String> for Endpoint {
    type Error = Error;
    fn try_from(s: String) -> Result<Endpoint, Error> {
        Endpoint::parse(&s)
    }
}

/// Where the endpoint in use came from, for logs and `doctor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `-a URL` (or its environment variable).
    Flag,
    /// `maa_url` in the configuration file.
    Config,
    /// The shared instance of the region IMDS reported.
    Region(String),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag => f.write_str("-a"),
            Source::Config => f.write_str("maa_url in the configuration"),
            Source::Region(region) => write!(f, "the shared instance of the VM's region {region}"),
        }
    }
}

/// The endpoint to use: `-a` if given, else the configured one, else the shared instance of the
/// region `location` reports (IMDS, asked only then). The region is never guessed: unknown regions
/// are an error asking for `-a`.
pub fn resolve(
    flag: Option<&str>,
    configured: Option<&Endpoint>,
    location: impl FnOnce() -> Result<String, imds::Error>,
) -> Result<(Endpoint, Source), Error> {
    if let Some(flag) = flag {
        return Ok((Endpoint::parse(flag)?, Source::Flag));
    }
    if let Some(configured) = configured {
        return Ok((configured.clone(), Source::Config));
    }
    let region = location().map_err(|source| Error::Location { source })?;
    Ok((Endpoint::for_region(&region)?, Source::Region(region)))
}

/// `localhost` or a loopback address (`host` as a URL writes it: IPv6 in brackets).
pub(crate) fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The shared MAA instance of each Azure region, keyed by the region's IMDS name (lower case, no
/// spaces). Source: Azure/cvm-attestation-tools, `cvm-attestation/attestation_uri_table.json` and
/// `attestation_uri_table_usgov.json` (commit fde56a9f, 2026-06-01), the table Microsoft's Python
/// client picks from by the IMDS location; docs/protocol.md §10.1. USGov Texas has no instance of its
/// own and uses Arizona's, as in that table.
const SHARED_INSTANCES: &[(&str, &str)] = &[
    ("australiacentral", "https://sharedcau.cau.attest.azure.net"),
    ("australiacentral2", "https://sharedcau2.cau2.attest.azure.net"),
    ("australiaeast", "https://sharedeau.eau.attest.azure.net"),
    ("australiasoutheast", "https://sharedsau.sau.attest.azure.net"),
    ("austriaeast", "https://sharedate.ate.attest.azure.net"),
    ("brazilsouth", "https://sharedsbr.sbr.attest.azure.net"),
    ("brazilsoutheast", "https://sharedsebr.sebr.attest.azure.net"),
    ("canadacentral", "https://sharedcac.cac.attest.azure.net"),
    ("canadaeast", "https://sharedcae.cae.attest.azure.net"),
    ("centralindia", "https://sharedcin.cin.attest.azure.net"),
    ("centralus", "https://sharedcus.cus.attest.azure.net"),
    ("centraluseuap", "https://sharedcuse.cuse.attest.azure.net"),
    ("chilecentral", "https://sharedclc.clc.attest.azure.net"),
    ("eastasia", "https://sharedeasia.easia.attest.azure.net"),
    ("eastus", "https://sharedeus.eus.attest.azure.net"),
    ("eastus2", "https://sharedeus2.eus2.attest.azure.net"),
    ("eastus2euap", "https://sharedeus2e.eus2e.attest.azure.net"),
    ("francecentral", "https://sharedfrc.frc.attest.azure.net"),
    ("francesouth", "https://sharedfrs.frs.attest.azure.net"),
    ("germanynorth", "https://sharedden.den.attest.azure.net"),
    ("germanywestcentral", "https://shareddewc.dewc.attest.azure.net"),
    ("israelcentral", "https://sharedilc.ilc.attest.azure.net"),
    ("italynorth", "https://shareditn.itn.attest.azure.net"),
    ("japaneast", "https://sharedjpe.jpe.attest.azure.net"),
    ("japanwest", "https://sharedjpw.jpw.attest.azure.net"),
    ("jioindiacentral", "https://sharedjinc.jinc.attest.azure.net"),
    ("jioindiawest", "https://sharedjinw.jinw.attest.azure.net"),
    ("koreacentral", "https://sharedkrc.krc.attest.azure.net"),
    ("koreasouth", "https://sharedkrs.krs.attest.azure.net"),
    ("malaysiasouth", "https://sharedmys.mys.attest.azure.net"),
    ("mexicocentral", "https://sharedmxc.mxc.attest.azure.net"),
    ("newzealandnorth", "https://sharednzn.nzn.attest.azure.net"),
    ("northcentralus", "https://sharedncus.ncus.attest.azure.net"),
    ("northeurope", "https://sharedneu.neu.attest.azure.net"),
    ("norwayeast", "https://sharednoe.noe.attest.azure.net"),
    ("norwaywest", "https://sharednow.now.attest.azure.net"),
    ("polandcentral", "https://sharedplc.plc.attest.azure.net"),
    ("southafricanorth", "https://sharedsan.san.attest.azure.net"),
    ("southafricawest", "https://sharedsaw.saw.attest.azure.net"),
    ("southcentralus", "https://sharedscus.scus.attest.azure.net"),
    ("southindia", "https://sharedsin.sin.attest.azure.net"),
    ("southeastasia", "https://sharedsasia.sasia.attest.azure.net"),
    ("spaincentral", "https://sharedesc.esc.attest.azure.net"),
    ("swedencentral", "https://sharedsec.sec.attest.azure.net"),
    ("swedensouth", "https://sharedses.ses.attest.azure.net"),
    ("switzerlandnorth", "https://sharedswn.swn.attest.azure.net"),
    ("switzerlandwest", "https://sharedsww.sww.attest.azure.net"),
    ("taiwannorth", "https://sharedtwn.twn.attest.azure.net"),
    ("taiwannorthwest", "https://sharedtwnw.twnw.attest.azure.net"),
    ("uaecentral", "https://shareduaec.uaec.attest.azure.net"),
    ("uaenorth", "https://shareduaen.uaen.attest.azure.net"),
    ("uksouth", "https://shareduks.uks.attest.azure.net"),
    ("ukwest", "https://sharedukw.ukw.attest.azure.net"),
    ("westcentralus", "https://sharedwcus.wcus.attest.azure.net"),
    ("westeurope", "https://sharedweu.weu.attest.azure.net"),
    ("westindia", "https://sharedwin.win.attest.azure.net"),
    ("westus", "https://sharedwus.wus.attest.azure.net"),
    ("westus2", "https://sharedwus2.wus2.attest.azure.net"),
    ("westus3", "https://sharedwus3.wus3.attest.azure.net"),
    ("usgovvirginia", "https://sharedugv.ugv.attest.azure.us"),
    ("usgovarizona", "https://shareduga.uga.attest.azure.us"),
    ("usgovtexas", "https://shareduga.uga.attest.azure.us"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls_as_the_cpp_sample_does() {
        let good = [
            (
                "https://sharedkrc.krc.attest.azure.net/attest/AzureGuest?x",
                "https://sharedkrc.krc.attest.azure.net",
            ),
            ("https://sharedkrc.krc.attest.azure.net/", "https://sharedkrc.krc.attest.azure.net"),
            ("sharedkrc.krc.attest.azure.net", "https://sharedkrc.krc.attest.azure.net"),
            ("  SharedKRC.krc.attest.azure.net  ", "https://sharedkrc.krc.attest.azure.net"),
            ("maa.example:8443", "https://maa.example:8443"),
            ("https://maa.example:443/x#frag", "https://maa.example"),
            ("http://127.0.0.1:41234", "http://127.0.0.1:41234"),
            ("http://localhost:8080/attest/SevSnpVm", "http://localhost:8080"),
            ("http://[::1]:8080", "http://[::1]:8080"),
            ("https://[2001:db8::1]:8443", "https://[2001:db8::1]:8443"),
        ];
        for (input, base) in good {
            let endpoint = Endpoint::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(endpoint.as_str(), base, "{input}");
            assert_eq!(endpoint.is_loopback(), base.starts_with("http://"), "{input}");
        }
    }

    #[test]
    fn refuses_what_is_not_an_instance_url() {
        let bad = [
            ("", "empty"),
            ("   ", "empty"),
            ("https://", "no host"),
            ("https://:8443", "no host"),
            ("http://sharedkrc.krc.attest.azure.net", "only to this machine"),
            ("http://10.0.0.1:8080", "only to this machine"),
            ("ftp://maa.example", "ftp:// is not supported"),
            ("file:///etc/passwd", "file:// is not supported"),
            ("https://user:pw@maa.example", "user name or password"),
            ("https://user@maa.example", "user name or password"),
            ("https://maa.example:99999", "not a URL"),
            ("https://maa.example:0", "port 0"),
            ("https://maa example", "not a URL"),
        ];
        for (input, expected) in bad {
            let err = Endpoint::parse(input).expect_err(input).to_string();
            assert!(err.contains(expected), "{input:?}: {err}");
            assert!(err.contains(&format!("{input:?}")), "the error quotes the input: {err}");
        }
    }

    #[test]
    fn builds_the_routes_and_the_issuer() {
        let endpoint = Endpoint::parse("https://sharedkrc.krc.attest.azure.net/whatever").expect("valid");
        let base = "https://sharedkrc.krc.attest.azure.net";
        assert_eq!(endpoint.issuer(), base);
        assert_eq!(
            endpoint.attest_url(Api::AzureGuest),
            format!("{base}/attest/AzureGuest?api-version=2020-10-01")
        );
        assert_eq!(
            endpoint.attest_url(Api::SevSnpVm),
            format!("{base}/attest/SevSnpVm?api-version=2022-08-01")
        );
        assert_eq!(
            endpoint.attest_url(Api::TdxVm),
            format!("{base}/attest/TdxVm?api-version=2023-04-01-preview")
        );
        assert_eq!(endpoint.certs_url(), format!("{base}/certs"));
        assert_eq!(endpoint.openid_configuration_url(), format!("{base}/.well-known/openid-configuration"));
    }

    #[test]
    fn looks_up_regions_in_the_table() {
        let krc = Endpoint::for_region("koreacentral").expect("known");
        assert_eq!(krc.as_str(), "https://sharedkrc.krc.attest.azure.net");
        let weu = Endpoint::for_region("westeurope").expect("known");
        assert_eq!(weu.as_str(), "https://sharedweu.weu.attest.azure.net");
        let gov = Endpoint::for_region("USGov Texas").expect("known, as the table spells it");
        assert_eq!(gov.as_str(), "https://shareduga.uga.attest.azure.us");
        let err = Endpoint::for_region("marsnorth").unwrap_err().to_string();
        assert!(err.contains("\"marsnorth\"") && err.contains("-a URL"), "{err}");
    }

    #[test]
    fn table_entries_are_normalised_endpoints() {
        assert_eq!(SHARED_INSTANCES.len(), 62, "59 public regions and 3 US Gov");
        for (region, base) in SHARED_INSTANCES {
            assert_eq!(Endpoint::parse(base).expect(base).as_str(), *base, "{region}");
            assert!(!region.contains(' ') && region.to_lowercase() == *region, "{region}");
            let code = base.trim_start_matches("https://shared").split('.').next().unwrap_or_default();
            assert!(base.starts_with(&format!("https://shared{code}.{code}.attest.azure.")), "{base}");
        }
    }

    #[test]
    fn resolves_flag_then_configuration_then_region() {
        let no_imds = || -> Result<String, imds::Error> { panic!("IMDS asked although not needed") };
        let configured = Endpoint::parse("https://configured.example").expect("valid");
        let (e, source) = resolve(Some("flag.example"), Some(&configured), no_imds).expect("flag");
        assert_eq!((e.as_str(), source), ("https://flag.example", Source::Flag));
        let (e, source) = resolve(None, Some(&configured), no_imds).expect("configured");
        assert_eq!((e.as_str(), source), ("https://configured.example", Source::Config));
        let (e, source) = resolve(None, None, || Ok("westeurope".into())).expect("region");
        assert_eq!(
            (e.as_str(), source),
            ("https://sharedweu.weu.attest.azure.net", Source::Region("westeurope".into()))
        );

        let err = resolve(Some("ftp://x"), Some(&configured), no_imds).unwrap_err();
        assert!(!err.is_environment(), "a bad -a is the user's: {err}");
        let err = resolve(None, None, || Ok("marsnorth".into())).unwrap_err();
        assert!(!err.is_environment() && err.to_string().contains("-a URL"), "{err}");
        let unreachable = || {
            imds::Imds::new("http://127.0.0.1:1", imds::Retry { attempts: 1, ..Default::default() })?
                .location()
        };
        let err = resolve(None, None, unreachable).unwrap_err();
        assert!(err.is_environment() && err.to_string().contains("-a URL"), "{err}");
    }
}
