//! The plugin manifest: `NAME.toml` beside `NAME.wasm`.
//!
//! ```toml
//! name = "claim-equals"          # must equal the file stem
//! kind = "claim-check"           # claim-check | output-format | verifier
//! version = "0.1.0"              # the plugin's own version
//! api = "0.1"                    # the cvm-attest:plugin line it was built against
//! description = "..."
//! capabilities = ["log"]         # what it asks for; the operator decides what it gets
//! default_config = "..."         # used when the operator gives no config
//! [limits]                       # optional requests, capped by the host and the operator
//! timeout_ms = 200
//! memory_mib = 32
//! ```
//! The host checks all of this against what the component really imports and exports.

use std::fmt;
use std::path::Path;

use serde::Deserialize;

use super::Error;

/// Which world a plugin implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    ClaimCheck,
    OutputFormat,
    Verifier,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::ClaimCheck, Kind::OutputFormat, Kind::Verifier];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::ClaimCheck => "claim-check",
            Kind::OutputFormat => "output-format",
            Kind::Verifier => "verifier",
        }
    }

    /// The interface the component must export for this kind.
    pub(crate) fn export_interface(self) -> &'static str {
        match self {
            Kind::ClaimCheck => "claim-check-api",
            Kind::OutputFormat => "output-format-api",
            Kind::Verifier => "verifier-api",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Host functionality a plugin may ask for. Everything not listed here is never available.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Capability {
    /// The `cvm-attest:plugin/log` import (bounded structured logging to the host).
    Log,
    /// The `cvm-attest:plugin/crypto` import (signature verification by the host, natively).
    Crypto,
}

impl Capability {
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Log => "log",
            Capability::Crypto => "crypto",
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Limits a plugin asks for; `None` takes the host default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct LimitRequest {
    pub timeout_ms: Option<u64>,
    pub memory_mib: Option<u64>,
}

/// A parsed, validated plugin manifest.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub name: String,
    pub kind: Kind,
    pub version: String,
    pub api: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub capabilities: Vec<Capability>,
    #[serde(default)]
    pub limits: LimitRequest,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_config: Option<String>,
}

impl Manifest {
    /// Read and validate the manifest at `path` (a regular file of at most
    /// [`MAX_SMALL_FILE_BYTES`](crate::input::MAX_SMALL_FILE_BYTES)); its file stem must be the
    /// plugin's name.
    pub fn load(path: &Path) -> Result<Manifest, Error> {
        let bytes = crate::input::read(path, "plugin manifest", crate::input::MAX_SMALL_FILE_BYTES)?;
        Manifest::from_bytes(path, &bytes)
    }

    /// Validate the manifest read from `path`.
    pub(crate) fn from_bytes(path: &Path, bytes: &[u8]) -> Result<Manifest, Error> {
        // The reason may quote the manifest, which the plugin's author wrote.
        let malformed = |reason: String| Error::MalformedManifest {
            path: path.to_owned(),
            reason: crate::text::sanitize(&reason).into_owned(),
        };
        let text = std::str::from_utf8(bytes).map_err(|_| malformed("it is not UTF-8 text".into()))?;
        let manifest = Manifest::parse(text).map_err(malformed)?;
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        if manifest.name != stem {
            return Err(malformed(format!(
                "name '{}' must match the file name '{stem}.toml'",
                manifest.name
            )));
        }
        Ok(manifest)
    }

    /// Parse manifest text; the error says which field is wrong and why.
    pub fn parse(text: &str) -> Result<Manifest, String> {
        let manifest: Manifest = toml::from_str(text).map_err(|e| e.message().to_owned())?;
        let name_ok = !manifest.name.is_empty()
            && manifest.name.len() <= 64
            && manifest.name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !name_ok {
            return Err(format!("name '{}' must be 1-64 characters of a-z, 0-9 and '-'", manifest.name));
        }
        if manifest.version.is_empty()
            || manifest.version.len() > super::MAX_NAME_BYTES
            || manifest.version.chars().any(char::is_control)
        {
            return Err(format!("version must be 1-{} bytes of printable text", super::MAX_NAME_BYTES));
        }
        if ApiLine::parse(&manifest.api).is_none() {
            return Err(format!("api '{}' must be MAJOR.MINOR, e.g. \"0.1\"", manifest.api));
        }
        Ok(manifest)
    }
}

/// A compatible line of the WIT package: `0.1` covers 0.1.x, `1.2` covers 1.x.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ApiLine {
    major: u64,
    minor: u64,
}

impl ApiLine {
    /// The line this host serves.
    pub(crate) const CURRENT: ApiLine = ApiLine { major: 0, minor: 1 };

    /// Parse `MAJOR.MINOR` or `MAJOR.MINOR.PATCH`.
    pub(crate) fn parse(text: &str) -> Option<ApiLine> {
        let mut parts = text.split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        match (parts.next(), parts.next()) {
            (None, _) => {}
            (Some(patch), None) if patch.parse::<u64>().is_ok() => {}
            _ => return None,
        }
        Some(ApiLine { major, minor })
    }

    /// Semver compatibility as wasmtime's linker applies it: same major, and same minor while 0.x.
    pub(crate) fn is_compatible(self, other: ApiLine) -> bool {
        self.major == other.major && (self.major != 0 || self.minor == other.minor)
    }
}

impl fmt::Display for ApiLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "name = \"x\"\nkind = \"claim-check\"\nversion = \"1.0.0\"\napi = \"0.1\"\n";

    #[test]
    fn parses_minimal_manifest() {
        let m = Manifest::parse(GOOD).expect("valid");
        assert_eq!((m.name.as_str(), m.kind, m.capabilities.len()), ("x", Kind::ClaimCheck, 0));
    }

    #[test]
    fn rejects_unknown_capability_and_fields() {
        let err = Manifest::parse(&format!("{GOOD}capabilities = [\"filesystem\"]\n")).unwrap_err();
        assert!(err.contains("filesystem"), "{err}");
        let err = Manifest::parse(&format!("{GOOD}network = true\n")).unwrap_err();
        assert!(err.contains("network"), "{err}");
    }

    #[test]
    fn rejects_bad_name_and_api() {
        assert!(Manifest::parse(&GOOD.replace("\"x\"", "\"../x\"")).unwrap_err().contains("name"));
        assert!(Manifest::parse(&GOOD.replace("\"0.1\"", "\"latest\"")).unwrap_err().contains("api"));
    }

    #[test]
    fn api_lines_follow_semver() {
        let line = |s| ApiLine::parse(s).expect("parses");
        assert!(ApiLine::CURRENT.is_compatible(line("0.1.7")));
        assert!(!ApiLine::CURRENT.is_compatible(line("0.2.0")));
        assert!(!ApiLine::CURRENT.is_compatible(line("0.0.9")));
        assert!(line("1.0").is_compatible(line("1.4.2")));
        assert_eq!(ApiLine::parse("0.1.x"), None);
    }
}
