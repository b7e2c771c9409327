//! The plugin runtime: load untrusted WebAssembly components and evaluate them in a sandbox.
//!
//! * [`Runtime`] owns the one shared wasmtime [`Engine`], the linker (the sandbox's entire surface:
//!   see [`sandbox`]), the compiled-code cache and the epoch ticker that enforces time limits.
//! * [`Runtime::load`] turns a [`Located`] plugin into a [`Plugin`]: digest pinning, compilation
//!   (or a cache hit), import/export checks against the manifest and the operator's [`Policy`],
//!   pre-instantiation, and a `describe` cross-check.
//! * A [`Plugin`] evaluates in a fresh instance each time (`check`, `format`, `verify`), so nothing
//!   leaks between evaluations and a trap never poisons the next one.
//!
//! Every failure is a distinct [`Error`] variant.

mod bindings;
mod cache;
mod context;
mod crypto;
mod discovery;
mod error;
mod manifest;
mod plugin;
mod runtime;
mod sandbox;
mod shipped;

use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::input;

pub use bindings::types;
pub use cache::{Origin, default_dir as default_cache_dir};
pub use context::{eval_context, eval_context_at};
pub use discovery::{CopyStatus, Listed, Located, SYSTEM_DIRS, SearchPath};
pub use error::{Error, Reported};
pub use manifest::{Capability, Kind, LimitRequest, Manifest};
pub use plugin::Plugin;
pub use runtime::{Inspection, Runtime};
pub use sandbox::{
    Limits, MAX_CORE_INSTANCES_PER_COMPONENT, MAX_MEMORIES_PER_COMPONENT, MAX_MEMORY_MIB, MAX_OUTPUT_BYTES,
    MAX_STDIO_BYTES, MAX_TABLES_PER_COMPONENT, MAX_TIMEOUT, MAX_TRANSFER_BYTES,
};
pub use shipped::{LOCK_COMMAND, LOCK_PATH, Lock, Locked, Shipped};

/// The WIT package plugins are built against.
pub const WIT_PACKAGE: &str = "cvm-attest:plugin";

/// The versions of the WIT package this host serves.
pub const SUPPORTED_API: &str = "0.1";

/// Compiling a component (Cranelift) is given up once it has used [`compile_budget`]'s CPU time:
/// a crafted component can take far longer to compile than any real plugin. The budget is CPU time,
/// not wall time, so a busy machine (a CVM running its workload, a parallel test run) slows an
/// honest compilation down without failing it. It is the process's CPU time, so other work in the
/// same process counts against it too: a stricter bound, never a looser one. The compilation itself
/// cannot be cancelled: its thread runs on in the background until it finishes, and its result is
/// then dropped.
pub const BASE_COMPILE_TIME: Duration = Duration::from_secs(10);

/// What the budget grows by for each MiB of component. Honest code takes under 1 s of CPU per MiB
/// (the 1.5 MB offline verifier well under a second, the 18 MB Python plugin 15 s in a debug
/// build), so a budget that grows with the size admits large plugins with a margin for slower
/// CPUs, while a small component crafted to be slow to compile is still cut off after
/// [`BASE_COMPILE_TIME`].
pub const COMPILE_TIME_PER_MIB: Duration = Duration::from_secs(2);

/// The compile budget (CPU time) of a component of `size` bytes: [`BASE_COMPILE_TIME`] plus
/// [`COMPILE_TIME_PER_MIB`] for each MiB (138 s for the largest component read, 64 MiB).
pub fn compile_budget(size: u64) -> Duration {
    BASE_COMPILE_TIME + COMPILE_TIME_PER_MIB.mul_f64(size as f64 / f64::from(1 << 20))
}

/// At most this many findings are kept from one verdict; the rest are replaced by one finding
/// saying how many were dropped (the verdict stays `fail`).
pub const MAX_FINDINGS: usize = 1000;

/// At most this many steps in a verifier's answer; more is refused (`result-limit`): a step dropped
/// could be a failed one.
pub const MAX_STEPS: usize = 256;

/// Free text a plugin returns (finding code, message and claim path, step details, the reason of an
/// indeterminate verdict, error messages) is cut to this many bytes, with a note saying so.
pub const MAX_TEXT_BYTES: usize = 4096;

/// Names (describe's name, version and api-version, step names, media types): longer is refused in a
/// result, and cut in an error message.
pub const MAX_NAME_BYTES: usize = 128;

/// Lines of a guest backtrace kept in a crash report.
const MAX_BACKTRACE_LINES: usize = 64;

/// What the operator allows one plugin (the `[plugins.NAME]` table of the configuration).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Expected SHA-256 of the component (hex); a mismatch refuses the plugin.
    pub sha256: Option<String>,
    /// Expected SHA-256 of the manifest file (hex): it decides capabilities, limits requested and the
    /// default configuration, so it is pinned like the component.
    pub manifest_sha256: Option<String>,
    /// Capabilities granted. Absent: `log` and `crypto`, neither of which reaches anything outside
    /// the host.
    pub grant: Option<Vec<Capability>>,
    /// The plugin's limits: these may raise them above the defaults (up to the maxima); a manifest
    /// may only lower them.
    pub timeout_ms: Option<u64>,
    pub memory_mib: Option<u64>,
}

impl Policy {
    fn granted(&self) -> Vec<Capability> {
        self.grant.clone().unwrap_or_else(|| vec![Capability::Log, Capability::Crypto])
    }

    /// Both pins, when present, are 64 hex digits (optionally prefixed `sha256:`); the error names
    /// the key.
    pub fn validate(&self) -> Result<(), String> {
        for (key, pin) in [("sha256", &self.sha256), ("manifest_sha256", &self.manifest_sha256)] {
            let ok = pin.as_deref().is_none_or(|d| {
                let d = normalize_digest(d);
                d.len() == 64 && d.bytes().all(|b| b.is_ascii_hexdigit())
            });
            if !ok {
                return Err(format!("{key} must be 64 hex digits"));
            }
        }
        Ok(())
    }
}

/// SHA-256 digests (hex) of a plugin's two files, as `[plugins.NAME]` pins them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Digests {
    /// `sha256`: the component.
    pub component: String,
    /// `manifest_sha256`: the manifest file.
    pub manifest: String,
}

/// Read both files of a plugin (bounded, regular files only) and hash them, for `plugin pin`.
pub fn digests(located: &Located) -> Result<Digests, Error> {
    let wasm = input::read(&located.wasm_path, "plugin component", input::MAX_COMPONENT_BYTES)?;
    let manifest = input::read(&located.manifest_path, "plugin manifest", input::MAX_SMALL_FILE_BYTES)?;
    Ok(Digests { component: sha256_hex(&wasm), manifest: sha256_hex(&manifest) })
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub(crate) fn normalize_digest(pinned: &str) -> String {
    pinned.trim().trim_start_matches("sha256:").to_ascii_lowercase()
}

/// Text that came from a plugin (or names it chose), made safe and short for an error message.
pub(crate) fn guest_text(text: &str) -> String {
    crate::text::sanitize(crate::text::prefix(text, MAX_TEXT_BYTES)).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compile_budget_grows_with_the_component() {
        assert_eq!(compile_budget(0), BASE_COMPILE_TIME);
        assert_eq!(compile_budget(18 << 20), Duration::from_secs(46));
        assert_eq!(compile_budget(input::MAX_COMPONENT_BYTES), Duration::from_secs(138));
    }
}
