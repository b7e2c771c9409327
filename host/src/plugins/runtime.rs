//! Loading: the one engine and linker, compilation (or a cache hit) under a CPU-time budget, pins,
//! and the checks of a component's imports and exports against its manifest and the operator's
//! policy.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;

use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy};

use super::bindings::{ClaimCheckPre, OutputFormatPre, VerifierPre};
use super::manifest::ApiLine;
use super::plugin::Pre;
use super::sandbox::{self, State};
use super::*;
use crate::input;

/// A component as it is: what it imports and exports, before any policy is applied.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Inspection {
    /// SHA-256 of the component bytes, hex.
    pub digest: String,
    pub size: u64,
    pub imports: Vec<String>,
    pub exports: Vec<String>,
    /// Kind and WIT version read from the exports, when it exports a plugin interface.
    pub kind: Option<Kind>,
    pub api_version: Option<String>,
    pub origin: Origin,
}

/// Owns the engine shared by all plugins.
pub struct Runtime {
    engine: Engine,
    linker: Linker<State>,
    cache: cache::Cache,
    ticker: Arc<Ticker>,
    /// A fixed compile budget (CPU time) instead of [`compile_budget`]'s.
    compile_time: Option<Duration>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").field("cache", &self.cache).finish_non_exhaustive()
    }
}

impl Runtime {
    /// A runtime whose compiled-code cache lives in `cache_dir` (`None`: compile every time).
    pub fn new(cache_dir: Option<PathBuf>) -> Result<Runtime, Error> {
        let internal = |e: wasmtime::Error| Error::Engine { reason: format!("{e:#}") };
        let engine = match Engine::new(&engine_config(true)) {
            Ok(engine) => engine,
            // The pool reserves (never commits) a few hundred GB of address space; under `ulimit -v`
            // or systemd's `LimitAS=` that fails. Memories that reserve only what they use need none.
            Err(e) => {
                tracing::info!(
                    "cannot reserve address space for the plugin instance pool ({e:#}); using compact \
                     memories instead (slower instantiation; lift `ulimit -v`/`LimitAS=` to avoid this)"
                );
                Engine::new(&engine_config(false)).map_err(internal)?
            }
        };
        let linker = sandbox::linker(&engine).map_err(internal)?;
        let cache = cache::Cache::new(&engine, cache_dir);
        // Without the ticker no time limit would fire: refuse to run rather than run unbounded.
        let ticker = Ticker::start(engine.clone())
            .map_err(|e| Error::Engine { reason: format!("cannot start the epoch ticker: {e}") })?;
        Ok(Runtime { engine, linker, cache, ticker, compile_time: None })
    }

    /// Give up compiling any component after `limit` of CPU time instead of [`compile_budget`]'s.
    pub fn with_compile_time(mut self, limit: Duration) -> Runtime {
        self.compile_time = Some(limit);
        self
    }

    /// Read and compile a component and report what it imports and exports (no policy applied).
    pub fn inspect(&self, wasm_path: &Path) -> Result<Inspection, Error> {
        let name = wasm_path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let wasm = input::read(wasm_path, "plugin component", input::MAX_COMPONENT_BYTES)?;
        let digest = sha256_hex(&wasm);
        self.compile_bytes(&name, wasm, digest).map(|(_, inspection)| inspection)
    }

    /// Load a plugin under the operator's policy; refuses it, with the reason, if anything is off.
    ///
    /// The manifest is read again here, and its bytes are what is pinned and what is used: it must
    /// still be the manifest `located` was found with.
    pub fn load(&self, located: &Located, policy: &Policy, require_pinned: bool) -> Result<Plugin, Error> {
        let name = located.manifest.name.clone();
        let manifest_bytes =
            input::read(&located.manifest_path, "plugin manifest", input::MAX_SMALL_FILE_BYTES)?;
        let manifest = Manifest::from_bytes(&located.manifest_path, &manifest_bytes)?;
        if manifest != located.manifest {
            return Err(Error::MalformedManifest {
                path: located.manifest_path.clone(),
                reason: "it changed while the plugin was being loaded".into(),
            });
        }
        let manifest_digest = sha256_hex(&manifest_bytes);
        // Opened once; its digest is remembered for its identity or hashed from this descriptor, and
        // its bytes, when the compiled code is not cached, are read from it (cache::component_digest).
        let mut wasm = cache::ComponentFile::open(&located.wasm_path)?;
        let digest = self.cache.component_digest(&mut wasm)?;
        check_pins(&name, policy, require_pinned, &digest, &manifest_digest)?;
        let size = wasm.size();
        let bytes = || wasm.into_bytes(&self.cache, &digest, &name);
        let (component, inspection) = self.compile_with(&name, digest.clone(), size, bytes)?;
        check_exports(&manifest, &inspection)?;
        check_imports(&manifest, &inspection)?;
        let granted = policy.granted();
        if let Some(cap) = manifest.capabilities.iter().find(|c| !granted.contains(c)) {
            return Err(Error::CapabilityDenied { plugin: name, capability: cap.to_string() });
        }
        let limits = effective_limits(&manifest, policy);
        let link =
            |e: wasmtime::Error| Error::Link { plugin: name.clone(), reason: guest_text(&format!("{e:#}")) };
        let instance_pre = self.linker.instantiate_pre(&component).map_err(link)?;
        let pre = match manifest.kind {
            Kind::ClaimCheck => Pre::ClaimCheck(ClaimCheckPre::new(instance_pre).map_err(link)?),
            Kind::OutputFormat => Pre::OutputFormat(OutputFormatPre::new(instance_pre).map_err(link)?),
            Kind::Verifier => Pre::Verifier(VerifierPre::new(instance_pre).map_err(link)?),
        };
        let plugin = Plugin {
            granted: manifest.capabilities.clone(),
            manifest,
            manifest_digest,
            inspection,
            limits,
            pre,
            engine: self.engine.clone(),
            _ticker: self.ticker.clone(),
        };
        plugin.check_description()?;
        Ok(plugin)
    }

    fn compile_bytes(
        &self,
        name: &str,
        wasm: Vec<u8>,
        digest: String,
    ) -> Result<(Component, Inspection), Error> {
        let size = wasm.len() as u64;
        self.compile_with(name, digest, size, || Ok(wasm))
    }

    /// The component with this digest: from the compiled-code cache, else compiled from `wasm()`
    /// (bytes with that digest), which is called only then.
    fn compile_with(
        &self,
        name: &str,
        digest: String,
        size: u64,
        wasm: impl FnOnce() -> Result<Vec<u8>, Error>,
    ) -> Result<(Component, Inspection), Error> {
        let invalid = |e: wasmtime::Error| Error::InvalidComponent {
            plugin: name.to_owned(),
            reason: guest_text(&format!("{e:#}")),
        };
        let (component, origin) = match self.cache.get(&self.engine, &digest) {
            Some(component) => (component, Origin::Cached),
            None => {
                let compiled = self.compile(name, wasm()?)?.map_err(invalid)?;
                self.cache.put(&digest, &compiled);
                // SAFETY: these bytes were produced by `precompile_component` on this engine just now.
                #[allow(unsafe_code)]
                let component =
                    unsafe { Component::deserialize(&self.engine, &compiled) }.map_err(invalid)?;
                (component, Origin::Compiled)
            }
        };
        let ty = component.component_type();
        let imports: Vec<String> = ty.imports(&self.engine).map(|(n, _)| n.to_owned()).collect();
        let exports: Vec<String> = ty.exports(&self.engine).map(|(n, _)| n.to_owned()).collect();
        let (kind, api_version) = plugin_export(&exports).map_or((None, None), |(k, v)| (k, Some(v)));
        Ok((component, Inspection { digest, size, imports, exports, kind, api_version, origin }))
    }

    /// Cranelift, on its own thread, given up once the process has spent the compile budget's CPU
    /// time on it.
    fn compile(&self, name: &str, wasm: Vec<u8>) -> Result<wasmtime::Result<Vec<u8>>, Error> {
        let limit = self.compile_time.unwrap_or_else(|| compile_budget(wasm.len() as u64));
        let (done, result) = std::sync::mpsc::sync_channel(1);
        let engine = self.engine.clone();
        let start = cpu_time();
        std::thread::Builder::new()
            .name("cvm-attest-compile".into())
            .spawn(move || {
                let _ = done.send(engine.precompile_component(&wasm));
            })
            .map_err(|e| Error::Engine { reason: format!("cannot start a compiler thread: {e}") })?;
        loop {
            let Some(left) =
                limit.checked_sub(cpu_time().saturating_sub(start)).filter(|left| !left.is_zero())
            else {
                return Err(Error::CompileTimeout { plugin: name.to_owned(), limit });
            };
            match result.recv_timeout(left.min(COMPILE_POLL)) {
                Ok(compiled) => return Ok(compiled),
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(Error::Engine { reason: "the compiler thread panicked".into() });
                }
            }
        }
    }
}

/// How often a compilation's CPU time is looked at.
const COMPILE_POLL: Duration = Duration::from_millis(50);

/// The CPU time this process has used, on all its threads.
fn cpu_time() -> Duration {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    Duration::new(now.tv_sec.unsigned_abs(), now.tv_nsec.clamp(0, 999_999_999) as u32)
}

/// Both files must be as pinned; under `require_pinned` both must be pinned.
fn check_pins(
    plugin: &str,
    policy: &Policy,
    require_pinned: bool,
    digest: &str,
    manifest_digest: &str,
) -> Result<(), Error> {
    let files = [
        ("component", "sha256", &policy.sha256, digest),
        ("manifest", "manifest_sha256", &policy.manifest_sha256, manifest_digest),
    ];
    for (file, key, pin, actual) in files {
        if let Some(expected) = pin.as_deref().map(normalize_digest)
            && expected != actual
        {
            return Err(Error::DigestMismatch {
                plugin: plugin.to_owned(),
                file,
                key,
                expected,
                actual: actual.to_owned(),
            });
        }
    }
    if policy.sha256.is_none() || policy.manifest_sha256.is_none() {
        // What the operator left unpinned, the lock the binary was built with may pin (shipped.rs).
        let shipped = Lock::built_in().check(plugin, digest, manifest_digest);
        if shipped == Shipped::Pinned {
            return Ok(());
        }
        if require_pinned {
            return Err(Error::Unpinned {
                plugin: plugin.to_owned(),
                actual: digest.to_owned(),
                manifest_actual: manifest_digest.to_owned(),
            });
        }
        let hint = match shipped {
            Shipped::Differs => {
                format!(", and is not the build of it that {LOCK_PATH} pins (changed it? run {LOCK_COMMAND})")
            }
            _ => String::new(),
        };
        tracing::warn!(
            plugin,
            sha256 = digest,
            manifest_sha256 = manifest_digest,
            "plugin is not pinned by digest{hint}"
        );
    }
    Ok(())
}

/// The engine's configuration: with the instance pool, or with memories that reserve only what
/// they use (for an address-space limit too small for the pool).
fn engine_config(pooled: bool) -> Config {
    let mut config = Config::new();
    config.epoch_interruption(true);
    config.max_wasm_stack(sandbox::MAX_WASM_STACK);
    // 64×64→128-bit multiplication as one instruction: without it every u128 product in a guest's
    // bignum and elliptic-curve code is a library call (the offline verifier runs ~2× faster with it).
    config.wasm_wide_arithmetic(true);
    if pooled {
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(sandbox::pool()));
    } else {
        config.memory_reservation(0).memory_guard_size(0).memory_reservation_for_growth(1 << 20);
    }
    config
}

/// Split `cvm-attest:plugin/claim-check-api@0.1.0` into the interface and the version.
fn split_plugin_name(name: &str) -> Option<(&str, &str)> {
    name.strip_prefix(WIT_PACKAGE)?.strip_prefix('/')?.split_once('@')
}

/// The plugin kind and WIT version a component's exports announce.
fn plugin_export(exports: &[String]) -> Option<(Option<Kind>, String)> {
    exports.iter().find_map(|e| {
        let (iface, version) = split_plugin_name(e)?;
        let kind = Kind::ALL.into_iter().find(|k| k.export_interface() == iface);
        Some((kind, version.to_owned()))
    })
}

fn check_exports(manifest: &Manifest, inspection: &Inspection) -> Result<(), Error> {
    let plugin = manifest.name.clone();
    let expected = manifest.kind.to_string();
    let Some(version) = &inspection.api_version else {
        let reason = guest_text(&format!(
            "it exports no {WIT_PACKAGE} interface (exports: {})",
            inspection.exports.join(", ")
        ));
        return Err(Error::WrongKind { plugin, expected, reason });
    };
    let found_line = ApiLine::parse(version);
    if !found_line.is_some_and(|l| l.is_compatible(ApiLine::CURRENT)) {
        return Err(Error::IncompatibleApi {
            plugin,
            found: guest_text(version),
            supported: SUPPORTED_API.into(),
        });
    }
    if inspection.kind != Some(manifest.kind) {
        let found = inspection.kind.map_or("an unknown interface".to_owned(), |k| format!("the {k} world"));
        return Err(Error::WrongKind { plugin, expected, reason: format!("it implements {found}") });
    }
    if ApiLine::parse(&manifest.api) != found_line {
        let (expected, found) = (format!("api {}", manifest.api), format!("api {}", guest_text(version)));
        return Err(Error::ManifestMismatch { plugin, expected, found });
    }
    Ok(())
}

fn check_imports(manifest: &Manifest, inspection: &Inspection) -> Result<(), Error> {
    for import in &inspection.imports {
        let unversioned = import.split('@').next().unwrap_or(import);
        let capability = match split_plugin_name(import) {
            Some(("types", _)) => None,
            Some(("log", _)) => Some(Capability::Log),
            Some(("crypto", _)) => Some(Capability::Crypto),
            _ if sandbox::ALLOWED_WASI.contains(&unversioned) => None,
            _ => {
                return Err(Error::ForbiddenImport {
                    plugin: manifest.name.clone(),
                    import: guest_text(import),
                });
            }
        };
        if let Some(cap) = capability.filter(|c| !manifest.capabilities.contains(c)) {
            return Err(Error::UndeclaredCapability {
                plugin: manifest.name.clone(),
                import: guest_text(import),
                capability: cap.to_string(),
            });
        }
    }
    Ok(())
}

/// The operator's setting (up to the maxima), else the manifest's request if it is below the default,
/// else the default. A manifest is the plugin's own word: it may ask for less, never for more.
fn effective_limits(manifest: &Manifest, policy: &Policy) -> Limits {
    let default = Limits::default_for(manifest.kind);
    let requested_timeout = manifest.limits.timeout_ms.map(Duration::from_millis);
    if requested_timeout.is_some_and(|t| t > default.timeout)
        || manifest.limits.memory_mib.is_some_and(|m| m > default.memory_mib)
    {
        tracing::warn!(
            plugin = %manifest.name,
            "the manifest asks for limits above the defaults; only the operator's configuration can raise them"
        );
    }
    let timeout = match policy.timeout_ms {
        Some(ms) => Duration::from_millis(ms).min(MAX_TIMEOUT),
        None => requested_timeout.map_or(default.timeout, |t| t.min(default.timeout)),
    };
    let memory_mib = match policy.memory_mib {
        Some(mib) => mib.min(MAX_MEMORY_MIB),
        None => manifest.limits.memory_mib.map_or(default.memory_mib, |m| m.min(default.memory_mib)),
    };
    Limits { timeout, memory_mib }
}

/// Advances the engine's epoch every [`sandbox::TICK`] until the last plugin using it is gone.
pub(super) struct Ticker {
    stop: Arc<AtomicBool>,
}

impl Ticker {
    fn start(engine: Engine) -> std::io::Result<Arc<Ticker>> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::Builder::new().name("cvm-attest-epoch".into()).spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(sandbox::TICK);
                engine.increment_epoch();
            }
        })?;
        Ok(Arc::new(Ticker { stop }))
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
