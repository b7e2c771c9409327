//! The host configuration file.
//!
//! ```toml
//! plugin_dir = "/etc/cvm-attest/plugins"   # searched after --plugin-dir and CVM_ATTEST_PLUGIN_PATH
//! require_pinned = true                     # refuse plugins without a pinned digest
//! cache_dir = "/var/cache/cvm-attest"       # compiled-code cache ("" disables it)
//! maa_url = "https://sharedkrc.krc.attest.azure.net"  # MAA instance when -a is not given
//!                                           # (default: the shared instance of the VM's region)
//!
//! [trust_anchors]                          # replace a verifier's built-in roots (all of them)
//! amd-ark-milan = "/etc/cvm-attest/ark.pem"
//! amd-ask-milan = "/etc/cvm-attest/ask.pem"
//!
//! [collateral]                              # endorsements handed to verifiers (see `verify --help`)
//! tdx-tcb-info = "/etc/cvm-attest/tdx-tcb-info.json"
//! tdx-qe-identity = "/etc/cvm-attest/tdx-qe-identity.json"
//! intel-tcb-signing-chain = "/etc/cvm-attest/tcb-signing-chain.pem"
//!
//! [attest]                                 # defaults for `attest`, below its flags and variables
//! type = "azure-guest"                     # --type
//! output = "bool"                          # -o
//! write = ["env=/run/cvm-attest/env"]      # --write FORMAT=FILE
//! checks = ["policy=/etc/cvm-attest/policies/production-snp.json"]   # --check
//! timeout = 60                             # --timeout (seconds), and retries = 3, pcrs = "0-7",
//!                                          # verifier, tpm, imds, event_log, ca_file
//!
//! [plugins.claim-equals]
//! sha256 = "9f2c..."                        # refuse the plugin unless its bytes hash to this
//! grant = ["log"]                           # capabilities it may use (default: ["log", "crypto"])
//! timeout_ms = 500                          # override its limits
//! memory_mib = 32
//! ```
//!
//! Found at `--config FILE`, else `$CVM_ATTEST_CONFIG`, else `/etc/cvm-attest/config.toml` if it exists.
//! Unpinned plugins load with a warning unless `require_pinned` is set; production configurations
//! should pin every plugin and set it (see `examples/config.toml`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::plugins::Policy;

/// Where the configuration is looked for when neither `--config` nor `CVM_ATTEST_CONFIG` is given.
pub const SYSTEM_CONFIG: &str = "/etc/cvm-attest/config.toml";

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The file this was read from; `None` for the built-in defaults.
    #[serde(skip)]
    pub path: Option<PathBuf>,
    pub plugin_dir: Option<PathBuf>,
    #[serde(default)]
    pub require_pinned: bool,
    pub cache_dir: Option<PathBuf>,
    /// The MAA instance to attest with when `-a` is not given (`maa::endpoint::resolve`).
    pub maa_url: Option<crate::maa::endpoint::Endpoint>,
    /// Named PEM files that replace a verifier's built-in trust anchors (`amd-ark-milan`, …).
    #[serde(default)]
    pub trust_anchors: BTreeMap<String, PathBuf>,
    /// Named files handed to verifiers as collateral (`tdx-tcb-info`, `amd-crl`, …).
    #[serde(default)]
    pub collateral: BTreeMap<String, PathBuf>,
    /// Defaults for `attest` (`cli::settings`): each is used only when neither its flag nor its
    /// `CVM_ATTEST_*` variable is given, and checked as the flag would be.
    #[serde(default)]
    pub attest: Attest,
    #[serde(default)]
    pub plugins: BTreeMap<String, Policy>,
}

/// The `[attest]` table: one key per setting of `attest`, named as its long flag.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attest {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub output: Option<String>,
    pub write: Option<Vec<String>>,
    pub verifier: Option<String>,
    pub checks: Option<Vec<String>>,
    pub pcrs: Option<String>,
    pub event_log: Option<PathBuf>,
    pub ca_file: Option<PathBuf>,
    pub timeout: Option<u64>,
    pub retries: Option<u32>,
    pub tpm: Option<String>,
    pub imds: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error(transparent)]
    Read(#[from] crate::input::Error),
    #[error("invalid configuration {}: {reason}", path.display())]
    Invalid { path: PathBuf, reason: String },
}

impl Config {
    /// The explicit file if given (it must exist), else the system file if present, else defaults.
    pub fn discover(explicit: Option<&Path>) -> Result<Config, Error> {
        match explicit {
            Some(path) => Config::load(path),
            None if Path::new(SYSTEM_CONFIG).is_file() => Config::load(Path::new(SYSTEM_CONFIG)),
            None => Ok(Config::default()),
        }
    }

    pub fn load(path: &Path) -> Result<Config, Error> {
        let text = crate::input::read_text(path, "configuration", crate::input::MAX_SMALL_FILE_BYTES)?;
        let invalid = |reason: String| Error::Invalid { path: path.to_owned(), reason };
        let mut config: Config = toml::from_str(&text).map_err(|e| invalid(toml_error(&text, &e)))?;
        config.path = Some(path.to_owned());
        for (name, policy) in &config.plugins {
            policy.validate().map_err(|reason| invalid(format!("[plugins.{name}] {reason}")))?;
        }
        Ok(config)
    }

    /// The operator's policy for a plugin (defaults when it has no table).
    pub fn policy(&self, name: &str) -> Policy {
        self.plugins.get(name).cloned().unwrap_or_default()
    }

    /// The compiled-code cache directory: configured (empty disables it) or the default.
    pub fn cache_dir(&self) -> Option<PathBuf> {
        match &self.cache_dir {
            Some(dir) if dir.as_os_str().is_empty() => None,
            Some(dir) => Some(dir.clone()),
            None => crate::plugins::default_cache_dir(),
        }
    }
}

/// A TOML error with the line and column it is at.
fn toml_error(text: &str, error: &toml::de::Error) -> String {
    match error.span() {
        Some(span) => {
            let before = text.get(..span.start).unwrap_or(text);
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("line {line}, column {column}: {}", error.message())
        }
        None => error.message().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Config, Error> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config.toml");
        std::fs::write(&path, text).expect("write");
        Config::load(&path)
    }

    #[test]
    fn reads_policies() {
        let pin = "ab".repeat(32);
        let c = load(&format!("require_pinned = true\n[plugins.x]\nsha256 = \"sha256:{pin}\"\ngrant = []\n"))
            .expect("valid");
        assert!(c.require_pinned);
        assert_eq!(c.policy("x").grant, Some(vec![]));
        assert_eq!(c.policy("y"), Policy::default());
    }

    #[test]
    fn example_production_config_pins_every_plugin() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/config.toml");
        let c = Config::load(&path).expect("example config is valid");
        assert!(c.require_pinned);
        assert!(!c.plugins.is_empty() && c.plugins.values().all(|p| p.sha256.is_some()));
    }

    #[test]
    fn rejects_bad_pins_and_unknown_keys() {
        let err = load("[plugins.x]\nsha256 = \"abc\"\n").unwrap_err().to_string();
        assert!(err.contains("64 hex digits"), "{err}");
        let err = load("allow_everything = true\n").unwrap_err().to_string();
        assert!(err.contains("allow_everything"), "{err}");
        let err = load("require_pinned = true\n[plugins.x]\nsha256 = 12 34\n").unwrap_err().to_string();
        assert!(err.contains("line 3, column"), "{err}");
        let err = load("maa_url = \"ftp://maa.example\"\n").unwrap_err().to_string();
        assert!(err.contains("line 1") && err.contains("ftp://"), "checked where written: {err}");
        let err = load("[trust_anchors]\na = \"x\"\na = \"y\"\n").unwrap_err().to_string();
        assert!(err.contains("line 3") && err.contains("duplicate"), "duplicate keys are refused: {err}");
    }
}
