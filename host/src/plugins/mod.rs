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
mod discovery;
mod error;
mod manifest;
mod sandbox;
mod text;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, Store, Trap, WasmBacktrace};

pub use bindings::types;
pub use cache::{Origin, default_dir as default_cache_dir};
pub use discovery::{Located, SYSTEM_DIRS, SearchPath};
pub use error::{Error, Reported};
pub use manifest::{Capability, Kind, LimitRequest, Manifest};
pub use sandbox::{
    Limits, MAX_CORE_INSTANCES_PER_COMPONENT, MAX_MEMORIES_PER_COMPONENT, MAX_MEMORY_MIB, MAX_OUTPUT_BYTES,
    MAX_STDIO_BYTES, MAX_TABLES_PER_COMPONENT, MAX_TIMEOUT, MAX_TRANSFER_BYTES,
};
pub use text::sanitize;

use bindings::{ClaimCheckPre, OutputFormatPre, VerifierPre};
use manifest::ApiLine;
use sandbox::{MemoryLimitHit, State};

/// The WIT package plugins are built against.
pub const WIT_PACKAGE: &str = "cvm-attest:plugin";

/// The versions of the WIT package this host serves.
pub const SUPPORTED_API: &str = "0.1";

/// Largest component accepted; real plugins are a few hundred KiB.
const MAX_COMPONENT_BYTES: u64 = 64 << 20;

/// What the operator allows one plugin (the `[plugins.NAME]` table of the configuration).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Expected SHA-256 of the component (hex); a mismatch refuses the plugin.
    pub sha256: Option<String>,
    /// Capabilities granted. Absent: `log` only, which cannot reach anything outside the host.
    pub grant: Option<Vec<Capability>>,
    /// Overrides the manifest's requested limits.
    pub timeout_ms: Option<u64>,
    pub memory_mib: Option<u64>,
}

impl Policy {
    fn granted(&self) -> Vec<Capability> {
        self.grant.clone().unwrap_or_else(|| vec![Capability::Log])
    }
}

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
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").field("cache", &self.cache).finish_non_exhaustive()
    }
}

impl Runtime {
    /// A runtime whose compiled-code cache lives in `cache_dir` (`None`: compile every time).
    pub fn new(cache_dir: Option<PathBuf>) -> Result<Runtime, Error> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        config.max_wasm_stack(sandbox::MAX_WASM_STACK);
        // 64×64→128-bit multiplication as one instruction: without it every u128 product in a guest's
        // bignum and elliptic-curve code is a library call (the offline verifier runs ~2× faster with it).
        config.wasm_wide_arithmetic(true);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(sandbox::pool()));
        let internal = |e: wasmtime::Error| Error::Engine { reason: format!("{e:#}") };
        let engine = Engine::new(&config).map_err(internal)?;
        let linker = sandbox::linker(&engine).map_err(internal)?;
        let cache = cache::Cache::new(&engine, cache_dir);
        // Without the ticker no time limit would fire: refuse to run rather than run unbounded.
        let ticker = Ticker::start(engine.clone())
            .map_err(|e| Error::Engine { reason: format!("cannot start the epoch ticker: {e}") })?;
        Ok(Runtime { engine, linker, cache, ticker })
    }

    /// Read and compile a component and report what it imports and exports (no policy applied).
    pub fn inspect(&self, wasm_path: &Path) -> Result<Inspection, Error> {
        let name = wasm_path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let wasm = read_component(&name, wasm_path)?;
        let digest = hex::encode(Sha256::digest(&wasm));
        self.compile_bytes(&name, &wasm, digest).map(|(_, inspection)| inspection)
    }

    /// Load a plugin under the operator's policy; refuses it, with the reason, if anything is off.
    pub fn load(&self, located: &Located, policy: &Policy, require_pinned: bool) -> Result<Plugin, Error> {
        let manifest = &located.manifest;
        let name = manifest.name.clone();
        let (component, inspection) = self.compile_pinned(located, policy, require_pinned)?;
        check_exports(manifest, &inspection)?;
        check_imports(manifest, &inspection)?;
        let granted = policy.granted();
        if let Some(cap) = manifest.capabilities.iter().find(|c| !granted.contains(c)) {
            return Err(Error::CapabilityDenied { plugin: name, capability: cap.to_string() });
        }
        let limits = effective_limits(manifest, policy);
        let link = |e: wasmtime::Error| Error::Link { plugin: name.clone(), reason: format!("{e:#}") };
        let instance_pre = self.linker.instantiate_pre(&component).map_err(link)?;
        let pre = match manifest.kind {
            Kind::ClaimCheck => Pre::ClaimCheck(ClaimCheckPre::new(instance_pre).map_err(link)?),
            Kind::OutputFormat => Pre::OutputFormat(OutputFormatPre::new(instance_pre).map_err(link)?),
            Kind::Verifier => Pre::Verifier(VerifierPre::new(instance_pre).map_err(link)?),
        };
        let plugin = Plugin {
            manifest: manifest.clone(),
            inspection,
            limits,
            granted: manifest.capabilities.clone(),
            pre,
            engine: self.engine.clone(),
            _ticker: self.ticker.clone(),
        };
        plugin.check_description()?;
        Ok(plugin)
    }

    fn compile_pinned(
        &self,
        located: &Located,
        policy: &Policy,
        require_pinned: bool,
    ) -> Result<(Component, Inspection), Error> {
        let name = &located.manifest.name;
        let wasm = read_component(name, &located.wasm_path)?;
        let digest = hex::encode(Sha256::digest(&wasm));
        match policy.sha256.as_deref().map(normalize_digest) {
            Some(expected) if expected != digest => {
                return Err(Error::DigestMismatch { plugin: name.clone(), expected, actual: digest });
            }
            Some(_) => {}
            None if require_pinned => return Err(Error::Unpinned { plugin: name.clone(), actual: digest }),
            None => tracing::warn!(plugin = %name, sha256 = %digest, "plugin is not pinned by digest"),
        }
        self.compile_bytes(name, &wasm, digest)
    }

    fn compile_bytes(
        &self,
        name: &str,
        wasm: &[u8],
        digest: String,
    ) -> Result<(Component, Inspection), Error> {
        let (component, origin) = self
            .cache
            .load(&self.engine, &digest, wasm)
            .map_err(|e| Error::InvalidComponent { plugin: name.to_owned(), reason: format!("{e:#}") })?;
        let ty = component.component_type();
        let imports: Vec<String> = ty.imports(&self.engine).map(|(n, _)| n.to_owned()).collect();
        let exports: Vec<String> = ty.exports(&self.engine).map(|(n, _)| n.to_owned()).collect();
        let (kind, api_version) = plugin_export(&exports).map_or((None, None), |(k, v)| (k, Some(v)));
        let size = wasm.len() as u64;
        Ok((component, Inspection { digest, size, imports, exports, kind, api_version, origin }))
    }
}

fn read_component(name: &str, path: &Path) -> Result<Vec<u8>, Error> {
    let io = |source| Error::Io { path: path.to_owned(), source };
    let size = std::fs::metadata(path).map_err(io)?.len();
    if size > MAX_COMPONENT_BYTES {
        let reason = format!("{size} bytes is larger than the {MAX_COMPONENT_BYTES}-byte limit");
        return Err(Error::InvalidComponent { plugin: name.to_owned(), reason });
    }
    std::fs::read(path).map_err(io)
}

fn normalize_digest(pinned: &str) -> String {
    pinned.trim().trim_start_matches("sha256:").to_ascii_lowercase()
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
        let reason =
            format!("it exports no {WIT_PACKAGE} interface (exports: {})", inspection.exports.join(", "));
        return Err(Error::WrongKind { plugin, expected, reason });
    };
    let found_line = ApiLine::parse(version);
    if !found_line.is_some_and(|l| l.is_compatible(ApiLine::CURRENT)) {
        return Err(Error::IncompatibleApi {
            plugin,
            found: version.clone(),
            supported: SUPPORTED_API.into(),
        });
    }
    if inspection.kind != Some(manifest.kind) {
        let found = inspection.kind.map_or("an unknown interface".to_owned(), |k| format!("the {k} world"));
        return Err(Error::WrongKind { plugin, expected, reason: format!("it implements {found}") });
    }
    if ApiLine::parse(&manifest.api) != found_line {
        let (expected, found) = (format!("api {}", manifest.api), format!("api {version}"));
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
            _ if sandbox::ALLOWED_WASI.contains(&unversioned) => None,
            _ => {
                return Err(Error::ForbiddenImport { plugin: manifest.name.clone(), import: import.clone() });
            }
        };
        if let Some(cap) = capability.filter(|c| !manifest.capabilities.contains(c)) {
            return Err(Error::UndeclaredCapability {
                plugin: manifest.name.clone(),
                import: import.clone(),
                capability: cap.to_string(),
            });
        }
    }
    Ok(())
}

/// The operator's setting, else the manifest's request, else the default; never above the maxima.
fn effective_limits(manifest: &Manifest, policy: &Policy) -> Limits {
    let default = Limits::default_for(manifest.kind);
    let timeout = policy
        .timeout_ms
        .or(manifest.limits.timeout_ms)
        .map_or(default.timeout, Duration::from_millis)
        .min(MAX_TIMEOUT);
    let memory_mib =
        policy.memory_mib.or(manifest.limits.memory_mib).unwrap_or(default.memory_mib).min(MAX_MEMORY_MIB);
    Limits { timeout, memory_mib }
}

enum Pre {
    ClaimCheck(ClaimCheckPre<State>),
    OutputFormat(OutputFormatPre<State>),
    Verifier(VerifierPre<State>),
}

/// A loaded, linked plugin, ready to evaluate.
pub struct Plugin {
    manifest: Manifest,
    inspection: Inspection,
    limits: Limits,
    granted: Vec<Capability>,
    pre: Pre,
    engine: Engine,
    _ticker: Arc<Ticker>,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("manifest", &self.manifest)
            .field("digest", &self.inspection.digest)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// Request id and time of an evaluation that has no [`types::EvalContext`] of its own.
const META_CONTEXT: (&str, u64) = ("describe", 0);

impl Plugin {
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    pub fn inspection(&self) -> &Inspection {
        &self.inspection
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Capabilities in effect (requested and granted).
    pub fn capabilities(&self) -> &[Capability] {
        &self.granted
    }

    /// The plugin's own description of itself.
    pub fn describe(&self) -> Result<types::PluginInfo, Error> {
        self.run(META_CONTEXT, |store, pre| match pre {
            Pre::ClaimCheck(p) => {
                p.instantiate(&mut *store)?.cvm_attest_plugin_claim_check_api().call_describe(store)
            }
            Pre::OutputFormat(p) => {
                p.instantiate(&mut *store)?.cvm_attest_plugin_output_format_api().call_describe(store)
            }
            Pre::Verifier(p) => {
                p.instantiate(&mut *store)?.cvm_attest_plugin_verifier_api().call_describe(store)
            }
        })
    }

    /// Ask the plugin whether it accepts `config`.
    pub fn validate_config(&self, config: &str) -> Result<(), Error> {
        let config = config.to_owned();
        let result = self.run(META_CONTEXT, |store, pre| match pre {
            Pre::ClaimCheck(p) => p
                .instantiate(&mut *store)?
                .cvm_attest_plugin_claim_check_api()
                .call_validate_config(store, &config),
            Pre::OutputFormat(p) => p
                .instantiate(&mut *store)?
                .cvm_attest_plugin_output_format_api()
                .call_validate_config(store, &config),
            Pre::Verifier(p) => p
                .instantiate(&mut *store)?
                .cvm_attest_plugin_verifier_api()
                .call_validate_config(store, &config),
        })?;
        self.reported(result)
    }

    /// Judge a claim set (JSON text).
    pub fn check(&self, ctx: &types::EvalContext, claims: &str) -> Result<types::Verdict, Error> {
        let Pre::ClaimCheck(pre) = &self.pre else { return Err(self.not(Kind::ClaimCheck)) };
        let result = self.run((&ctx.request_id, ctx.now_unix_ms), |store, _| {
            pre.instantiate(&mut *store)?.cvm_attest_plugin_claim_check_api().call_check(store, ctx, claims)
        })?;
        self.reported(result)
    }

    /// Render a whole attestation result.
    pub fn format(
        &self,
        ctx: &types::EvalContext,
        outcome: &types::AttestationResult,
    ) -> Result<types::Rendered, Error> {
        let Pre::OutputFormat(pre) = &self.pre else { return Err(self.not(Kind::OutputFormat)) };
        let result = self.run((&ctx.request_id, ctx.now_unix_ms), |store, _| {
            pre.instantiate(&mut *store)?
                .cvm_attest_plugin_output_format_api()
                .call_format(store, ctx, outcome)
        })?;
        let rendered = self.reported(result)?;
        self.bounded(rendered.body.len())?;
        Ok(rendered)
    }

    /// Appraise evidence.
    pub fn verify(
        &self,
        ctx: &types::EvalContext,
        request: &types::VerifyRequest,
    ) -> Result<types::Verified, Error> {
        let Pre::Verifier(pre) = &self.pre else { return Err(self.not(Kind::Verifier)) };
        let result = self.run((&ctx.request_id, ctx.now_unix_ms), |store, _| {
            pre.instantiate(&mut *store)?.cvm_attest_plugin_verifier_api().call_verify(store, ctx, request)
        })?;
        let verified = self.reported(result)?;
        self.bounded(verified.claims.len())?;
        Ok(verified)
    }

    fn not(&self, expected: Kind) -> Error {
        let reason = format!("it is a {} plugin", self.manifest.kind);
        Error::WrongKind { plugin: self.manifest.name.clone(), expected: expected.to_string(), reason }
    }

    fn bounded(&self, len: usize) -> Result<(), Error> {
        if len > MAX_OUTPUT_BYTES {
            return Err(Error::OutputLimit {
                plugin: self.manifest.name.clone(),
                stream: "its result",
                limit: MAX_OUTPUT_BYTES,
            });
        }
        Ok(())
    }

    /// Map an error the plugin returned itself.
    fn reported<T>(&self, result: Result<T, types::PluginError>) -> Result<T, Error> {
        let plugin = self.manifest.name.clone();
        result.map_err(|e| match e {
            types::PluginError::InvalidConfig(reason) => Error::ConfigRejected { plugin, reason },
            types::PluginError::InvalidInput(m) => {
                Error::Reported { plugin, error: Reported::InvalidInput(m) }
            }
            types::PluginError::Unsupported(m) => Error::Reported { plugin, error: Reported::Unsupported(m) },
            types::PluginError::Internal(m) => Error::Reported { plugin, error: Reported::Internal(m) },
        })
    }

    /// Evaluate in a fresh store with the limits armed, and classify any failure.
    fn run<R>(
        &self,
        (request_id, now_unix_ms): (&str, u64),
        call: impl FnOnce(&mut Store<State>, &Pre) -> wasmtime::Result<R>,
    ) -> Result<R, Error> {
        let state = State::new(&self.manifest.name, &self.limits, now_unix_ms, request_id);
        let mut store = sandbox::new_store(&self.engine, state, &self.limits);
        let result = call(&mut store, &self.pre);
        let state = store.data();
        if state.log_dropped > 0 {
            tracing::warn!(plugin = %self.manifest.name, dropped = state.log_dropped, "plugin logged too much; messages dropped");
        }
        result.map_err(|e| self.classify(e, state))
    }

    /// Turn a trap or host error into the failure the user can act on.
    fn classify(&self, err: wasmtime::Error, state: &State) -> Error {
        let plugin = self.manifest.name.clone();
        if err.chain().any(|e| e.is::<MemoryLimitHit>()) {
            return Error::MemoryLimit { plugin, limit_mib: self.limits.memory_mib };
        }
        let trap = err.downcast_ref::<Trap>().copied();
        if trap == Some(Trap::Interrupt) {
            return Error::Timeout { plugin, limit: self.limits.timeout };
        }
        for (stream, pipe) in [("stdout", &state.stdout), ("stderr", &state.stderr)] {
            if pipe.contents().len() >= MAX_STDIO_BYTES {
                return Error::OutputLimit { plugin, stream, limit: MAX_STDIO_BYTES };
            }
        }
        let reason = match trap {
            Some(Trap::StackOverflow) => "wasm stack overflow (unbounded recursion?)".to_owned(),
            Some(Trap::UnreachableCodeReached) => {
                "unreachable code reached (a Rust panic ends this way)".to_owned()
            }
            Some(trap) => trap.to_string(),
            None => format!("{err:#}"),
        };
        let stderr = String::from_utf8_lossy(&state.stderr.contents()).into_owned();
        let backtrace = err.downcast_ref::<WasmBacktrace>().map(|b| b.to_string()).unwrap_or_default();
        Error::Crash { plugin, reason, stderr, backtrace }
    }

    /// The component must describe itself as its manifest does.
    fn check_description(&self) -> Result<(), Error> {
        let info = self.describe()?;
        let m = &self.manifest;
        let kind = match info.kind {
            types::PluginKind::ClaimCheck => Kind::ClaimCheck,
            types::PluginKind::OutputFormat => Kind::OutputFormat,
            types::PluginKind::Verifier => Kind::Verifier,
        };
        let expected = format!("{} {} ({})", m.name, m.version, m.kind);
        let found = format!("{} {} ({kind})", info.name, info.version);
        if expected != found {
            return Err(Error::ManifestMismatch { plugin: m.name.clone(), expected, found });
        }
        Ok(())
    }
}

/// Advances the engine's epoch every [`sandbox::TICK`] until the last plugin using it is gone.
struct Ticker {
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
