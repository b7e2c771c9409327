//! The compiled-code cache: Cranelift output keyed by component digest and engine configuration.
//!
//! Compiling a component takes tens of milliseconds; loading it from here takes well under one. Any
//! entry that fails to load (truncated, from another wasmtime, corrupted, another component's) is a
//! miss and is rewritten.
//!
//! An entry is `MAGIC ‖ SHA-256 of the component ‖ SHA-256 of the artifact ‖ artifact`, in a file
//! named after the component's digest and the engine. It is used only if both digests match: the
//! component digest is the one just read (and pinned), and the artifact hashes as recorded. So a
//! copied-over entry of another plugin, or a damaged one, is a miss, never that code running under
//! this plugin's name.
//!
//! What this cannot stop is someone who can write the directory forging an entry with matching
//! digests: loading native code is only as safe as the directory it comes from. The cache is
//! therefore used only when the directory and the entry belong to the current user and nobody else
//! can write to them, and the directory must be writable by the operator alone (`/var/cache/cvm-attest`
//! as root; a user's own `~/.cache/cvm-attest` is as trustworthy as that user's account).

use std::hash::{DefaultHasher, Hash, Hasher};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Identifies the entry format (and its version).
const MAGIC: &[u8; 16] = b"cvm-attest-cc-1\n";
const HEADER_BYTES: usize = MAGIC.len() + 32 + 32;

/// Largest entry read back; compiled code is a few times the size of the component at most.
const MAX_ENTRY_BYTES: u64 = 1 << 30;

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

    fn entry(&self, digest: &str) -> Option<PathBuf> {
        Some(self.dir.as_ref()?.join(format!("{digest}-{}.cwasm", self.engine_key)))
    }

    /// The compiled component with this digest (hex), if the cache holds a good entry for it.
    pub(crate) fn get(&self, engine: &Engine, digest: &str) -> Option<Component> {
        let entry = self.entry(digest)?;
        if !is_private(&entry) {
            return None;
        }
        load(engine, &entry, digest)
            .map_err(|why| tracing::debug!(entry = %entry.display(), "compiled-code cache miss: {why}"))
            .ok()
    }

    /// Keep `compiled` (the output of `precompile_component`) for the component with this digest.
    pub(crate) fn put(&self, digest: &str, compiled: &[u8]) {
        let (Some(dir), Some(entry)) = (&self.dir, self.entry(digest)) else { return };
        if let Err(e) = store(dir, &entry, digest, compiled) {
            tracing::debug!(dir = %dir.display(), "not caching compiled plugin: {e}");
        }
    }
}

fn load(engine: &Engine, entry: &Path, digest: &str) -> Result<Component, String> {
    let bytes =
        crate::input::read(entry, "compiled-code cache entry", MAX_ENTRY_BYTES).map_err(|e| e.to_string())?;
    let artifact = check_entry(&bytes, digest)?;
    // SAFETY: the entry was written by `store` into a directory only this user can write (checked
    // by `is_private`), for this component (its digest is recorded in the entry), and it is intact
    // (the artifact's SHA-256 matches); `deserialize` also checks that a compatible engine produced
    // it. Anything else is a miss.
    #[allow(unsafe_code)]
    unsafe { Component::deserialize(engine, artifact) }.map_err(|e| format!("{e:#}"))
}

/// The artifact inside an entry, if the entry is for the component `digest` and intact.
fn check_entry<'a>(bytes: &'a [u8], digest: &str) -> Result<&'a [u8], String> {
    if bytes.len() < HEADER_BYTES || !bytes.starts_with(MAGIC) {
        return Err("not an entry of this format".into());
    }
    let (header, artifact) = bytes.split_at(HEADER_BYTES);
    let (component, artifact_digest) = header[MAGIC.len()..].split_at(32);
    if hex::encode(component) != digest {
        return Err("the entry is for another component".into());
    }
    if Sha256::digest(artifact).as_slice() != artifact_digest {
        return Err("the artifact does not hash as recorded".into());
    }
    Ok(artifact)
}

/// Owned by us and writable by nobody else: the file, and the directory it is in.
fn is_private(path: &Path) -> bool {
    let me = rustix::process::geteuid().as_raw();
    let private = |p: &Path| {
        std::fs::symlink_metadata(p).is_ok_and(|m| m.uid() == me && m.permissions().mode() & 0o022 == 0)
    };
    private(path) && path.parent().is_some_and(private)
}

fn store(dir: &Path, entry: &Path, digest: &str, compiled: &[u8]) -> std::io::Result<()> {
    let component = hex::decode(digest).map_err(std::io::Error::other)?;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    let mut bytes = Vec::with_capacity(HEADER_BYTES + compiled.len());
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&component);
    bytes.extend_from_slice(&Sha256::digest(compiled));
    bytes.extend_from_slice(compiled);
    let tmp = entry.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, &bytes)?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
    std::fs::rename(&tmp, entry)
}
