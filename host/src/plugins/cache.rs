//! The compiled-code cache: Cranelift output keyed by component digest and engine configuration.
//!
//! Compiling a component takes tens of milliseconds; loading it from here takes well under one. Any
//! entry that fails to load (truncated, from another wasmtime, corrupted) is a miss and is rewritten.
//!
//! Loading native code is only as safe as the directory it comes from, so the cache is used only when
//! the directory and the entry belong to the current user and nobody else can write to them.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

/// Where compiled plugins are kept: `$XDG_CACHE_HOME/cvm-attest`, `~/.cache/cvm-attest`, or
/// `/var/cache/cvm-attest` when running as root.
pub fn default_dir() -> Option<PathBuf> {
    if rustix::process::geteuid().is_root() {
        return Some(PathBuf::from("/var/cache/cvm-attest"));
    }
    let xdg = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()).map(PathBuf::from);
    let base = xdg.or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("cvm-attest"))
}

/// Whether a component was compiled now or loaded from the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    Compiled,
    Cached,
}

#[derive(Debug, Clone)]
pub(crate) struct Cache {
    dir: Option<PathBuf>,
    engine_key: String,
}

impl Cache {
    pub(crate) fn new(engine: &Engine, dir: Option<PathBuf>) -> Cache {
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Cache { dir, engine_key: format!("{:016x}", hasher.finish()) }
    }

    /// Load the component with this digest from the cache, or compile `wasm` and store it.
    pub(crate) fn load(
        &self,
        engine: &Engine,
        digest: &str,
        wasm: &[u8],
    ) -> wasmtime::Result<(Component, Origin)> {
        let entry = self.dir.as_ref().map(|d| d.join(format!("{digest}-{}.cwasm", self.engine_key)));
        if let Some(entry) = entry.as_deref().filter(|e| is_private(e)) {
            // SAFETY: the entry was written by `store` below into a directory only this user can
            // write (checked by `is_private`), and `deserialize_file` validates that it was produced
            // by a compatible engine; anything else fails here and becomes a miss.
            #[allow(unsafe_code)]
            match unsafe { Component::deserialize_file(engine, entry) } {
                Ok(component) => return Ok((component, Origin::Cached)),
                Err(e) => tracing::debug!(entry = %entry.display(), "compiled-code cache miss: {e:#}"),
            }
        }
        let compiled = engine.precompile_component(wasm)?;
        if let (Some(dir), Some(entry)) = (&self.dir, &entry)
            && let Err(e) = store(dir, entry, &compiled)
        {
            tracing::debug!(dir = %dir.display(), "not caching compiled plugin: {e}");
        }
        // SAFETY: these bytes were produced by `precompile_component` on this engine just now.
        #[allow(unsafe_code)]
        let component = unsafe { Component::deserialize(engine, &compiled)? };
        Ok((component, Origin::Compiled))
    }
}

/// Owned by us and writable by nobody else: the file, and the directory it is in.
fn is_private(path: &Path) -> bool {
    let me = rustix::process::geteuid().as_raw();
    let private = |p: &Path| {
        std::fs::symlink_metadata(p).is_ok_and(|m| m.uid() == me && m.permissions().mode() & 0o022 == 0)
    };
    private(path) && path.parent().is_some_and(private)
}

fn store(dir: &Path, entry: &Path, compiled: &[u8]) -> std::io::Result<()> {
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    let tmp = entry.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, compiled)?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
    std::fs::rename(&tmp, entry)
}
