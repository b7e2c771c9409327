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
//!
//! Beside it, `<dir>.digests/` remembers digests (one record per file): the SHA-256 of a component
//! or entry together with the file's identity as `fstat` of the open descriptor gave it (device,
//! inode, size, mtime, ctime). Nobody but root can set a ctime, and every write, chmod or rename sets
//! it to the current time, so a file whose identity is the one recorded has the bytes that were
//! hashed, and is not read and hashed again. A record is made only once the file's ctime is
//! [`SETTLE`] old, so that a rewrite cannot fall within the same timestamp tick as the one recorded.

use std::fs::{File, Metadata};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Identifies the entry format (and its version).
const MAGIC: &[u8; 16] = b"cvm-attest-cc-1\n";
const HEADER_BYTES: usize = MAGIC.len() + 32 + 32;

/// Largest entry read back; compiled code is a few times the size of the component at most.
const MAX_ENTRY_BYTES: u64 = 1 << 30;

/// Identifies the format of a remembered digest (one line: this, the identity, the digest).
const RECORD_TAG: &str = "cvm-attest-digest-1";

/// How old a file's ctime must be before its digest is remembered: more than a timestamp tick (a
/// jiffy; a second or two on file systems with coarse timestamps), so that any later change of the
/// file gives it another ctime.
pub(crate) const SETTLE: Duration = Duration::from_secs(2);

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
    settle: Duration,
}

/// A file's identity as `fstat` of an open descriptor reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Identity {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Identity {
    pub(crate) fn of(meta: &Metadata) -> Identity {
        Identity {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }

    /// Whether the ctime is more than `settle` in the past.
    fn settled(&self, settle: Duration) -> bool {
        let Ok(now) = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH) else { return false };
        let (Ok(secs), Ok(nanos)) = (u64::try_from(self.ctime.0), u32::try_from(self.ctime.1)) else {
            return false;
        };
        nanos < 1_000_000_000 && Duration::new(secs, nanos).saturating_add(settle) < now
    }

    fn record(&self, digest: &str) -> String {
        let Identity { dev, ino, size, mtime, ctime } = self;
        format!("{RECORD_TAG} {dev} {ino} {size} {} {} {} {} {digest}\n", mtime.0, mtime.1, ctime.0, ctime.1)
    }

    /// The digest a record gives for a file of this identity; `None` for any other record.
    fn recall(&self, record: &str) -> Option<String> {
        let fields: Vec<&str> = record.strip_suffix('\n')?.split(' ').collect();
        let [tag, dev, ino, size, m_s, m_ns, c_s, c_ns, digest] = fields[..] else { return None };
        let recorded = Identity {
            dev: dev.parse().ok()?,
            ino: ino.parse().ok()?,
            size: size.parse().ok()?,
            mtime: (m_s.parse().ok()?, m_ns.parse().ok()?),
            ctime: (c_s.parse().ok()?, c_ns.parse().ok()?),
        };
        let hex_digest = digest.len() == 64 && digest.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        (tag == RECORD_TAG && hex_digest && recorded == *self).then(|| digest.to_owned())
    }
}

/// A plugin component, opened once: its digest and bytes come from this descriptor only.
pub(crate) struct ComponentFile {
    path: PathBuf,
    file: File,
    identity: Identity,
    /// The bytes once read, with their SHA-256 (hex).
    read: Option<(Vec<u8>, String)>,
}

#[cfg(test)]
thread_local! {
    /// How many times this thread read a component's bytes (tests observe that a load did not).
    pub(crate) static COMPONENT_READS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    /// How many times this thread hashed a cache entry's artifact.
    static ARTIFACT_HASHES: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

impl ComponentFile {
    pub(crate) fn open(path: &Path) -> Result<ComponentFile, crate::input::Error> {
        let file = crate::input::open(path, "plugin component")?;
        let meta = file.metadata().map_err(|source| crate::input::Error::Io {
            what: "plugin component",
            path: path.to_owned(),
            source,
        })?;
        Ok(ComponentFile { path: path.to_owned(), file, identity: Identity::of(&meta), read: None })
    }

    /// The size `fstat` gave.
    pub(crate) fn size(&self) -> u64 {
        self.identity.size
    }

    /// Read (from the open descriptor, once) and hash the bytes.
    fn read(&mut self) -> Result<&(Vec<u8>, String), crate::input::Error> {
        if self.read.is_none() {
            #[cfg(test)]
            COMPONENT_READS.with(|n| n.set(n.get() + 1));
            let bytes = crate::input::read_open(
                &self.file,
                &self.path,
                "plugin component",
                crate::input::MAX_COMPONENT_BYTES,
            )?;
            let digest = hex::encode(Sha256::digest(&bytes));
            self.read = Some((bytes, digest));
        }
        Ok(self.read.as_ref().expect("just read"))
    }

    /// The bytes, which must hash to `digest` (the one the pins were checked against).
    pub(crate) fn into_bytes(
        mut self,
        cache: &Cache,
        digest: &str,
        plugin: &str,
    ) -> Result<Vec<u8>, super::Error> {
        self.read()?;
        let (bytes, actual) = self.read.take().expect("read");
        if actual != digest {
            // Only a forged record, or a change that kept the ctime (a clock set back), gets here.
            cache.remember(&self.path, &self.file, &self.identity, &actual);
            return Err(super::Error::InvalidComponent {
                plugin: plugin.to_owned(),
                reason: "it changed while it was being loaded; load it again".into(),
            });
        }
        Ok(bytes)
    }
}

impl Cache {
    pub(crate) fn new(engine: &Engine, dir: Option<PathBuf>) -> Cache {
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Cache { dir, engine_key: format!("{:016x}", hasher.finish()), settle: SETTLE }
    }

    #[cfg(test)]
    fn with_settle(mut self, settle: Duration) -> Cache {
        self.settle = settle;
        self
    }

    /// The SHA-256 (hex) of a component: remembered, if its identity is the one recorded, else read
    /// from its descriptor, hashed and remembered.
    ///
    /// No time-of-check/time-of-use gap: the decision uses only the descriptor's metadata, and when
    /// bytes are read, the bytes actually read from that descriptor; nothing is re-opened by path. A
    /// remembered digest stands for the file only where the compiled-code cache then holds code
    /// compiled from bytes that hashed to it: otherwise the bytes are read, and must hash to it
    /// ([`ComponentFile::into_bytes`]). So the code that runs is always code from bytes with the
    /// digest the pins are checked against, even if a record were forged.
    pub(crate) fn component_digest(&self, file: &mut ComponentFile) -> Result<String, crate::input::Error> {
        if let Some(digest) = self.recall(&file.path, &file.identity) {
            return Ok(digest);
        }
        let digest = file.read()?.1.clone();
        self.remember(&file.path, &file.file, &file.identity, &digest);
        Ok(digest)
    }

    /// Where the record for `path` is kept: `<cache dir>.digests/<SHA-256 of the canonical path>`,
    /// beside the cache directory rather than in it, which holds entries only.
    fn record_path(&self, path: &Path) -> Option<PathBuf> {
        let dir = self.dir.as_ref()?;
        let mut records = dir.file_name()?.to_owned();
        records.push(".digests");
        let path = std::fs::canonicalize(path).ok()?;
        let key = hex::encode(Sha256::digest(path.as_os_str().as_encoded_bytes()));
        Some(dir.with_file_name(records).join(key))
    }

    /// The digest recorded for the file at `path` with this identity, if any. A record that is not
    /// private (see [`is_private`]), unreadable, malformed or for another identity is a miss.
    fn recall(&self, path: &Path, identity: &Identity) -> Option<String> {
        let record = self.record_path(path)?;
        if !is_private_dir(record.parent()?) {
            return None;
        }
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags((rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK).bits() as i32)
            .open(&record)
            .ok()?;
        if !file.metadata().is_ok_and(|m| m.is_file() && owned_and_private(&m)) {
            return None;
        }
        let text = crate::input::read_bounded(&file, 512).ok()??;
        identity.recall(std::str::from_utf8(&text).ok()?)
    }

    /// Record `digest` for the file at `path` with this identity, if the identity is settled and
    /// still the descriptor's (it did not change while being read).
    fn remember(&self, path: &Path, file: &File, identity: &Identity, digest: &str) {
        if !identity.settled(self.settle) || file.metadata().map(|m| Identity::of(&m)).ok() != Some(*identity)
        {
            return;
        }
        let Some(record) = self.record_path(path) else { return };
        if let Err(e) = write_record(&record, &identity.record(digest)) {
            tracing::debug!(record = %record.display(), "not remembering a digest: {e}");
        }
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
        self.load(engine, &entry, digest)
            .map_err(|why| tracing::debug!(entry = %entry.display(), "compiled-code cache miss: {why}"))
            .ok()
    }

    fn load(&self, engine: &Engine, entry: &Path, digest: &str) -> Result<Component, String> {
        const WHAT: &str = "compiled-code cache entry";
        let file = crate::input::open(entry, WHAT).map_err(|e| e.to_string())?;
        let meta = file.metadata().map_err(|e| e.to_string())?;
        if !owned_and_private(&meta) {
            return Err("the entry is not private to this user".into());
        }
        let identity = Identity::of(&meta);
        let bytes =
            crate::input::read_open(&file, entry, WHAT, MAX_ENTRY_BYTES).map_err(|e| e.to_string())?;
        // The artifact was verified when the entry had this identity, and the identity has not
        // changed since before the bytes were read until after: these are the verified bytes.
        let after = file.metadata().map(|m| Identity::of(&m)).ok();
        let verified = after == Some(identity) && self.recall(entry, &identity).as_deref() == Some(digest);
        let artifact = check_entry(&bytes, digest, !verified)?;
        if !verified {
            self.remember(entry, &file, &identity, digest);
        }
        // SAFETY: the entry was written by `store` into a directory only this user can write (checked
        // by `is_private`), for this component (its digest is recorded in the entry), and it is intact
        // (the artifact's SHA-256 matches, now or when the entry last had this identity);
        // `deserialize` also checks that a compatible engine produced it. Anything else is a miss. The
        // bytes are those read from the descriptor checked, not a file opened again by path
        // (`deserialize_file` would open the path again, and map a file with the header in front).
        #[allow(unsafe_code)]
        unsafe { Component::deserialize(engine, artifact) }.map_err(|e| format!("{e:#}"))
    }

    /// Keep `compiled` (the output of `precompile_component`) for the component with this digest.
    pub(crate) fn put(&self, digest: &str, compiled: &[u8]) {
        let (Some(dir), Some(entry)) = (&self.dir, self.entry(digest)) else { return };
        if let Err(e) = store(dir, &entry, digest, compiled) {
            tracing::debug!(dir = %dir.display(), "not caching compiled plugin: {e}");
        }
    }
}

/// The artifact inside an entry, if the entry is for the component `digest` and (unless already
/// verified: `rehash` false) intact.
fn check_entry<'a>(bytes: &'a [u8], digest: &str, rehash: bool) -> Result<&'a [u8], String> {
    if bytes.len() < HEADER_BYTES || !bytes.starts_with(MAGIC) {
        return Err("not an entry of this format".into());
    }
    let (header, artifact) = bytes.split_at(HEADER_BYTES);
    let (component, artifact_digest) = header[MAGIC.len()..].split_at(32);
    if hex::encode(component) != digest {
        return Err("the entry is for another component".into());
    }
    #[cfg(test)]
    if rehash {
        ARTIFACT_HASHES.with(|n| n.set(n.get() + 1));
    }
    if rehash && Sha256::digest(artifact).as_slice() != artifact_digest {
        return Err("the artifact does not hash as recorded".into());
    }
    Ok(artifact)
}

/// Owned by us and writable by nobody else: the file, and the directory it is in.
fn is_private(path: &Path) -> bool {
    let private = |p: &Path| std::fs::symlink_metadata(p).is_ok_and(|m| owned_and_private(&m));
    private(path) && path.parent().is_some_and(private)
}

fn is_private_dir(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir() && owned_and_private(&m))
}

fn owned_and_private(meta: &Metadata) -> bool {
    meta.uid() == rustix::process::geteuid().as_raw() && meta.permissions().mode() & 0o022 == 0
}

/// Write a record atomically (a temporary file renamed over it), mode 0600 in a 0700 directory.
fn write_record(record: &Path, line: &str) -> std::io::Result<()> {
    let records = record.parent().ok_or_else(|| std::io::Error::other("no directory"))?;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(records)?;
    if !is_private_dir(records) {
        return Err(std::io::Error::other("the directory is not private to this user"));
    }
    let tmp = record.with_extension(format!("tmp{}", std::process::id()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(&tmp)?;
    file.write_all(line.as_bytes())?;
    drop(file);
    std::fs::rename(&tmp, record)
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

#[cfg(test)]
mod tests {
    use super::*;

    const SETTLE_IN_TESTS: Duration = Duration::from_millis(50);

    struct Fixture {
        _tmp: tempfile::TempDir,
        records: PathBuf,
        component: PathBuf,
        cache: Cache,
    }

    /// A cache and a component file whose ctime is already settled.
    fn fixture(bytes: &[u8]) -> Fixture {
        let tmp = tempfile::tempdir().expect("tempdir");
        let cache_dir = tmp.path().join("cache");
        let component = tmp.path().join("plugin.wasm");
        std::fs::write(&component, bytes).expect("write");
        std::thread::sleep(SETTLE_IN_TESTS * 2);
        let cache = Cache::new(&Engine::default(), Some(cache_dir.clone())).with_settle(SETTLE_IN_TESTS);
        Fixture { _tmp: tmp, records: cache_dir.with_file_name("cache.digests"), component, cache }
    }

    fn reads() -> usize {
        COMPONENT_READS.with(|n| n.get())
    }

    /// The digest `component_digest` gives, and whether it read the file for it.
    fn digest(f: &Fixture) -> (String, bool) {
        let before = reads();
        let mut file = ComponentFile::open(&f.component).expect("open");
        let digest = f.cache.component_digest(&mut file).expect("digest");
        (digest, reads() > before)
    }

    fn records(f: &Fixture) -> Vec<PathBuf> {
        std::fs::read_dir(&f.records)
            .map(|d| d.map(|e| e.expect("entry").path()).collect())
            .unwrap_or_default()
    }

    #[test]
    fn an_unchanged_file_is_not_read_again_and_a_changed_one_is() {
        let f = fixture(b"component, version 1");
        let v1 = hex::encode(Sha256::digest(b"component, version 1"));
        assert_eq!(digest(&f), (v1.clone(), true), "the first time, it is read and hashed");
        assert_eq!(records(&f).len(), 1, "and its digest remembered");
        let mode = std::fs::metadata(&records(&f)[0]).expect("record").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let dir_mode = std::fs::metadata(&f.records).expect("dir").permissions().mode();
        assert_eq!(dir_mode & 0o777, 0o700);
        assert_eq!(digest(&f), (v1.clone(), false), "unchanged: the remembered digest, nothing read");

        // When the bytes are needed after all (compiled code not cached), they are read and checked.
        let before = reads();
        let mut file = ComponentFile::open(&f.component).expect("open");
        assert_eq!(f.cache.component_digest(&mut file).expect("digest"), v1);
        assert_eq!(file.into_bytes(&f.cache, &v1, "p").expect("bytes"), b"component, version 1");
        assert_eq!(reads(), before + 1);

        // Same size, one byte different: another ctime, so read and hashed again.
        std::fs::write(&f.component, b"component, version 2").expect("rewrite");
        let v2 = hex::encode(Sha256::digest(b"component, version 2"));
        assert_eq!(digest(&f), (v2, true));
    }

    #[test]
    fn a_fresh_file_is_not_remembered() {
        let f = fixture(b"component");
        std::fs::write(&f.component, b"component").expect("rewrite: ctime is now");
        assert!(digest(&f).1);
        assert!(records(&f).is_empty(), "{:?}", records(&f));
        assert!(digest(&f).1, "read again");
    }

    #[test]
    fn a_record_others_can_write_is_ignored() {
        let f = fixture(b"component");
        assert!(digest(&f).1);
        assert!(!digest(&f).1, "remembered");
        std::fs::set_permissions(&f.records, std::fs::Permissions::from_mode(0o777)).expect("chmod");
        assert!(digest(&f).1, "a record in a directory others can write is a miss");
        assert!(digest(&f).1, "and none is written there");
        std::fs::set_permissions(&f.records, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        assert!(!digest(&f).1);
        std::fs::set_permissions(&records(&f)[0], std::fs::Permissions::from_mode(0o622)).expect("chmod");
        assert!(digest(&f).1, "a record others can write is a miss");
        // A good record, but reached through a symbolic link.
        let record = records(&f).remove(0);
        let elsewhere = f.records.with_file_name("elsewhere");
        std::fs::rename(&record, &elsewhere).expect("move");
        std::os::unix::fs::symlink(&elsewhere, &record).expect("symlink");
        assert!(digest(&f).1, "a record that is a symbolic link is a miss");
    }

    #[test]
    fn a_malformed_record_is_a_miss_and_is_rewritten() {
        let f = fixture(b"component");
        let (good, _) = digest(&f);
        let record = records(&f).remove(0);
        let line = std::fs::read_to_string(&record).expect("record");
        let tampered = [
            String::new(),
            "garbage\n".to_owned(),
            line.trim_end().to_owned(),
            line.replacen(RECORD_TAG, "cvm-attest-digest-0", 1),
            line.replace(&good, &good.to_uppercase()),
            line.replace(&good, &good[1..]),
            format!("{} extra\n", line.trim_end()),
            format!("{}\n", hex::encode(Sha256::digest(b"another"))),
        ];
        for text in tampered {
            std::fs::write(&record, &text).expect("tamper");
            assert_eq!(digest(&f), (good.clone(), true), "{text:?} is a miss");
            assert_eq!(digest(&f), (good.clone(), false), "and was rewritten");
        }
        // Another identity's record, even with a well-formed line, is a miss.
        let foreign = line.replacen(" ", " 1", 2);
        std::fs::write(&record, foreign).expect("tamper");
        assert!(digest(&f).1);
    }

    #[test]
    fn a_verified_entry_is_not_hashed_again_and_a_changed_one_is() {
        let engine = Engine::default();
        let wasm = wat::parse_str("(component)").expect("wat");
        let compiled = engine.precompile_component(&wasm).expect("compile");
        let digest = hex::encode(Sha256::digest(&wasm));
        let tmp = tempfile::tempdir().expect("tempdir");
        let cache = Cache::new(&engine, Some(tmp.path().join("cache"))).with_settle(SETTLE_IN_TESTS);
        cache.put(&digest, &compiled);
        std::thread::sleep(SETTLE_IN_TESTS * 2);
        let hashes = || ARTIFACT_HASHES.with(|n| n.get());
        let before = hashes();
        assert!(cache.get(&engine, &digest).is_some());
        assert_eq!(hashes(), before + 1, "verified once");
        assert!(cache.get(&engine, &digest).is_some());
        assert_eq!(hashes(), before + 1, "and not again");

        // Damaged in place, same size: another ctime, so hashed again, and a miss.
        let entry = cache.entry(&digest).expect("entry");
        let mut bytes = std::fs::read(&entry).expect("entry");
        *bytes.last_mut().expect("bytes") ^= 1;
        std::fs::write(&entry, &bytes).expect("damage");
        assert!(cache.get(&engine, &digest).is_none());
        assert_eq!(hashes(), before + 2);
    }
}
