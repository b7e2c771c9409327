//! The plugins this repository ships, pinned by `plugins/plugins.lock`, which is built into the binary.
//!
//! The guest plugins build reproducibly (`scripts/reproducible-rustc`): the same source and toolchain
//! give the same bytes on every machine. `scripts/lock-plugins.sh` builds them with the documented
//! command and records, for each shipped plugin (those directly in `plugins/`; never the test
//! plugins), the SHA-256 of its component and of its manifest. The host is compiled with that
//! file, so it trusts exactly the plugins built from its own source: a plugin whose name and both
//! digests match an entry is pinned, wherever it is found, as if the operator had pinned it
//! (`[plugins.NAME] sha256`, `manifest_sha256`, which take precedence), so it loads without the
//! "not pinned" warning and also under `require_pinned`. Nothing on disk is consulted: a lock file
//! in a plugin directory vouches for nothing, and an installation needs none.

use std::collections::BTreeMap;
use std::sync::OnceLock;

/// The lock file this binary was built with.
const BUILT_IN: &str = include_str!("../../../plugins/plugins.lock");

/// Where the lock lives in the repository, and the command that rewrites it.
pub const LOCK_PATH: &str = "plugins/plugins.lock";
pub const LOCK_COMMAND: &str = "scripts/lock-plugins.sh";

/// `plugins/plugins.lock`: the digests of the shipped plugins' builds.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    /// `rustc -V` of the toolchain that built them: another compiler builds other bytes.
    #[serde(default)]
    pub toolchain: String,
    /// By plugin name; the fields are those of a `[plugins.NAME]` pin in the configuration.
    #[serde(default)]
    pub plugins: BTreeMap<String, Locked>,
}

/// One shipped plugin's build.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Locked {
    /// The manifest's version (for people; the manifest digest covers it).
    pub version: String,
    /// SHA-256 of the component, hex.
    pub sha256: String,
    /// SHA-256 of the manifest file, hex.
    pub manifest_sha256: String,
}

/// What the lock says about a plugin's files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shipped {
    /// Both digests are those of the shipped build of this name.
    Pinned,
    /// A plugin of this name is shipped, but these files are not its build.
    Differs,
    /// No shipped plugin has this name.
    NotShipped,
}

impl Lock {
    /// Parse lock file text; every digest must be 64 lowercase hex digits.
    pub fn parse(text: &str) -> Result<Lock, String> {
        let lock: Lock = toml::from_str(text).map_err(|e| e.to_string())?;
        for (name, entry) in &lock.plugins {
            for (key, digest) in [("sha256", &entry.sha256), ("manifest_sha256", &entry.manifest_sha256)] {
                if digest.len() != 64
                    || !digest.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
                {
                    return Err(format!("[plugins.{name}] {key} must be 64 lowercase hex digits"));
                }
            }
        }
        Ok(lock)
    }

    /// The lock this binary was built with. (A test keeps it valid; were it not, nothing is pinned.)
    pub fn built_in() -> &'static Lock {
        static LOCK: OnceLock<Lock> = OnceLock::new();
        LOCK.get_or_init(|| Lock::parse(BUILT_IN).unwrap_or_default())
    }

    /// Whether the plugin `name` with these component and manifest digests (hex) is a shipped build.
    pub fn check(&self, name: &str, sha256: &str, manifest_sha256: &str) -> Shipped {
        match self.plugins.get(name) {
            Some(entry) if entry.sha256 == sha256 && entry.manifest_sha256 == manifest_sha256 => {
                Shipped::Pinned
            }
            Some(_) => Shipped::Differs,
            None => Shipped::NotShipped,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_lock_is_valid_and_names_the_shipped_plugins() {
        let lock = Lock::parse(BUILT_IN).expect("plugins/plugins.lock parses");
        let names: Vec<&str> = lock.plugins.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            ["claim-equals", "claims-json", "env", "explain", "offline", "policy", "prometheus", "summary"]
        );
        assert!(lock.toolchain.starts_with("rustc "), "{}", lock.toolchain);
        assert_eq!(Lock::built_in(), &lock);
    }

    #[test]
    fn a_plugin_is_pinned_only_when_name_and_both_digests_match() {
        let (a, b) = ("a".repeat(64), "b".repeat(64));
        let lock = Lock::parse(&format!(
            "toolchain = \"rustc 1.95.0\"\n[plugins.x]\nversion = \"1\"\nsha256 = \"{a}\"\nmanifest_sha256 = \"{b}\"\n"
        ))
        .expect("valid");
        assert_eq!(lock.check("x", &a, &b), Shipped::Pinned);
        assert_eq!(lock.check("x", &b, &b), Shipped::Differs);
        assert_eq!(lock.check("x", &a, &a), Shipped::Differs);
        assert_eq!(lock.check("y", &a, &b), Shipped::NotShipped);
    }

    #[test]
    fn malformed_locks_are_refused() {
        let err = Lock::parse("[plugins.x]\nversion = \"1\"\nsha256 = \"AB\"\nmanifest_sha256 = \"\"\n")
            .unwrap_err();
        assert!(err.contains("sha256"), "{err}");
        assert!(Lock::parse("[plugins.x]\nversion = \"1\"\nextra = 1\n").is_err());
    }
}
