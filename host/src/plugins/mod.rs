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
mod discovery;
mod error;
mod manifest;
mod sandbox;
mod shipped;
use crate::text;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, Store, Trap, WasmBacktrace};

use crate::input;

pub use bindings::types;
pub use context::eval_context;
pub use cache::{Origin, default_dir as default_cache_dir};
pub use discovery::{CopyStatus, Listed, Located, SYSTEM_DIRS, SearchPath};
pub use error::{Error, Reported};
pub use manifest::{Capability, Kind, LimitRequest, Manifest};
pub use sandbox::{
    Limits, MAX_CORE_INSTANCES_PER_COMPONENT, MAX_MEMORIES_PER_COMPONENT, MAX_MEMORY_MIB, MAX_OUTPUT_BYTES,
    MAX_STDIO_BYTES, MAX_TABLES_PER_COMPONENT, MAX_TIMEOUT, MAX_TRANSFER_BYTES,
};
pub use shipped::{LOCK_COMMAND, LOCK_PATH, Lock, Locked, Shipped};

use bindings::{ClaimCheckPre, OutputFormatPre, VerifierPre};
use manifest::ApiLine;
use sandbox::{MemoryLimitHit, State};

/// The WIT package plugins are built against.
pub const WIT_PACKAGE: &str = "cvm-attest:plugin";

/// The versions of the WIT package this host serves.
pub const SUPPORTED_API: &str = "0.1";

/// Compiling a component (Cranelift) is given up after this long: a crafted component can take
/// far longer to compile than any real plugin (the largest here, the offline verifier, takes well
/// under a second in a release build). The compilation itself cannot be cancelled: its thread runs
/// on in the background until it finishes, and its result is then dropped.
pub const MAX_COMPILE_TIME: Duration = Duration::from_secs(10);

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
    /// Capabilities granted. Absent: `log` only, which cannot reach anything outside the host.
    pub grant: Option<Vec<Capability>>,
    /// The plugin's limits: these may raise them above the defaults (up to the maxima); a manifest
    /// may only lower them.
    pub timeout_ms: Option<u64>,
    pub memory_mib: Option<u64>,
}

impl Policy {
    fn granted(&self) -> Vec<Capability> {
        self.grant.clone().unwrap_or_else(|| vec![Capability::Log])
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
    compile_time: Duration,
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
        Ok(Runtime { engine, linker, cache, ticker, compile_time: MAX_COMPILE_TIME })
    }

    /// Give up compiling a component after `limit` instead of [`MAX_COMPILE_TIME`].
    pub fn with_compile_time(mut self, limit: Duration) -> Runtime {
        self.compile_time = limit;
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
        let wasm = input::read(&located.wasm_path, "plugin component", input::MAX_COMPONENT_BYTES)?;
        let digest = sha256_hex(&wasm);
        check_pins(&name, policy, require_pinned, &digest, &manifest_digest)?;
        let (component, inspection) = self.compile_bytes(&name, wasm, digest)?;
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
        let invalid = |e: wasmtime::Error| Error::InvalidComponent {
            plugin: name.to_owned(),
            reason: guest_text(&format!("{e:#}")),
        };
        let size = wasm.len() as u64;
        let (component, origin) = match self.cache.get(&self.engine, &digest) {
            Some(component) => (component, Origin::Cached),
            None => {
                let compiled = self.compile(name, wasm)?.map_err(invalid)?;
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

    /// Cranelift, on its own thread, given up after the compile-time limit.
    fn compile(&self, name: &str, wasm: Vec<u8>) -> Result<wasmtime::Result<Vec<u8>>, Error> {
        let (done, result) = std::sync::mpsc::sync_channel(1);
        let engine = self.engine.clone();
        std::thread::Builder::new()
            .name("cvm-attest-compile".into())
            .spawn(move || {
                let _ = done.send(engine.precompile_component(&wasm));
            })
            .map_err(|e| Error::Engine { reason: format!("cannot start a compiler thread: {e}") })?;
        result
            .recv_timeout(self.compile_time)
            .map_err(|_| Error::CompileTimeout { plugin: name.to_owned(), limit: self.compile_time })
    }
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
        if shipped == Shipped::Differs {
            tracing::warn!(
                plugin,
                sha256 = digest,
                manifest_sha256 = manifest_digest,
                "plugin is not pinned by digest, and is not the build of it that {LOCK_PATH} pins (changed it? run {LOCK_COMMAND})"
            );
        } else {
            tracing::warn!(
                plugin,
                sha256 = digest,
                manifest_sha256 = manifest_digest,
                "plugin is not pinned by digest"
            );
        }
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

fn normalize_digest(pinned: &str) -> String {
    pinned.trim().trim_start_matches("sha256:").to_ascii_lowercase()
}

/// Text that came from a plugin (or names it chose), made safe and short for an error message.
fn guest_text(text: &str) -> String {
    text::sanitize(text::prefix(text, MAX_TEXT_BYTES)).into_owned()
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

enum Pre {
    ClaimCheck(ClaimCheckPre<State>),
    OutputFormat(OutputFormatPre<State>),
    Verifier(VerifierPre<State>),
}

/// A loaded, linked plugin, ready to evaluate.
pub struct Plugin {
    manifest: Manifest,
    manifest_digest: String,
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

    /// SHA-256 (hex) of the manifest file as it was loaded.
    pub fn manifest_digest(&self) -> &str {
        &self.manifest_digest
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

    /// The plugin's own description of itself; each field cut to [`MAX_NAME_BYTES`].
    pub fn describe(&self) -> Result<types::PluginInfo, Error> {
        let mut info = self.run(META_CONTEXT, |store, pre| match pre {
            Pre::ClaimCheck(p) => {
                p.instantiate(&mut *store)?.cvm_attest_plugin_claim_check_api().call_describe(store)
            }
            Pre::OutputFormat(p) => {
                p.instantiate(&mut *store)?.cvm_attest_plugin_output_format_api().call_describe(store)
            }
            Pre::Verifier(p) => {
                p.instantiate(&mut *store)?.cvm_attest_plugin_verifier_api().call_describe(store)
            }
        })?;
        for field in [&mut info.name, &mut info.version, &mut info.api_version] {
            *field = text::truncate(std::mem::take(field), MAX_NAME_BYTES);
        }
        Ok(info)
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

    /// Judge a claim set (JSON text). A failing verdict keeps at most [`MAX_FINDINGS`] findings,
    /// each field cut to [`MAX_TEXT_BYTES`].
    pub fn check(&self, ctx: &types::EvalContext, claims: &str) -> Result<types::Verdict, Error> {
        let Pre::ClaimCheck(pre) = &self.pre else { return Err(self.not(Kind::ClaimCheck)) };
        let result = self.run((&ctx.request_id, ctx.now_unix_ms), |store, _| {
            pre.instantiate(&mut *store)?.cvm_attest_plugin_claim_check_api().call_check(store, ctx, claims)
        })?;
        Ok(bound_verdict(self.reported(result)?))
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
        self.name_bounded("media type", &rendered.media_type)?;
        Ok(rendered)
    }

    /// Appraise evidence. At most [`MAX_STEPS`] steps with names of at most [`MAX_NAME_BYTES`]
    /// (more is an error: nothing is dropped from a verifier's answer); details are cut to
    /// [`MAX_TEXT_BYTES`].
    pub fn verify(
        &self,
        ctx: &types::EvalContext,
        request: &types::VerifyRequest,
    ) -> Result<types::Verified, Error> {
        let Pre::Verifier(pre) = &self.pre else { return Err(self.not(Kind::Verifier)) };
        let result = self.run((&ctx.request_id, ctx.now_unix_ms), |store, _| {
            pre.instantiate(&mut *store)?.cvm_attest_plugin_verifier_api().call_verify(store, ctx, request)
        })?;
        let mut verified = self.reported(result)?;
        self.bounded(verified.claims.len())?;
        if verified.steps.len() > MAX_STEPS {
            return Err(self.result_limit(format!("{} steps (at most {MAX_STEPS})", verified.steps.len())));
        }
        for step in &mut verified.steps {
            self.name_bounded("step name", &step.name)?;
            step.detail = text::truncate(std::mem::take(&mut step.detail), MAX_TEXT_BYTES);
        }
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

    fn name_bounded(&self, what: &str, name: &str) -> Result<(), Error> {
        if name.len() > MAX_NAME_BYTES {
            return Err(self.result_limit(format!(
                "a {what} of {} bytes (at most {MAX_NAME_BYTES}): {}…",
                name.len(),
                guest_text(text::prefix(name, 32))
            )));
        }
        Ok(())
    }

    fn result_limit(&self, reason: String) -> Error {
        Error::ResultLimit { plugin: self.manifest.name.clone(), reason }
    }

    /// Map an error the plugin returned itself; its message is cut to [`MAX_TEXT_BYTES`] and made
    /// safe to print.
    fn reported<T>(&self, result: Result<T, types::PluginError>) -> Result<T, Error> {
        let plugin = self.manifest.name.clone();
        let text = |m: String| text::sanitize(&text::truncate(m, MAX_TEXT_BYTES)).into_owned();
        result.map_err(|e| match e {
            types::PluginError::InvalidConfig(m) => Error::ConfigRejected { plugin, reason: text(m) },
            types::PluginError::InvalidInput(m) => {
                Error::Reported { plugin, error: Reported::InvalidInput(text(m)) }
            }
            types::PluginError::Unsupported(m) => {
                Error::Reported { plugin, error: Reported::Unsupported(text(m)) }
            }
            types::PluginError::Internal(m) => Error::Reported { plugin, error: Reported::Internal(text(m)) },
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
        // wasmtime's "hostcall fuel" ran out while copying a result or a host call's arguments.
        if trap.is_none() && err.chain().any(|e| e.to_string().contains("fuel allocated for hostcalls")) {
            return Error::OutputLimit {
                plugin,
                stream: "one transfer to the host",
                limit: MAX_TRANSFER_BYTES,
            };
        }
        let backtrace = err.downcast_ref::<WasmBacktrace>();
        let reason = match trap {
            Some(Trap::StackOverflow) => "wasm stack overflow (unbounded recursion?)".to_owned(),
            Some(Trap::MemoryOutOfBounds) if backtrace.is_some_and(is_recursive) => {
                "stack overflow in linear memory: the guest's own stack (unbounded recursion with large \
                 frames) ran past its end"
                    .to_owned()
            }
            Some(Trap::MemoryOutOfBounds) => "out-of-bounds memory access (in a Rust or C guest this is \
                 usually its stack in linear memory overflowing: deep recursion or large locals)"
                .to_owned(),
            Some(Trap::UnreachableCodeReached) => {
                "unreachable code reached (a Rust panic ends this way)".to_owned()
            }
            Some(trap) => trap.to_string(),
            None => guest_text(&format!("{err:#}")),
        };
        let stderr = text::sanitize_lines(&String::from_utf8_lossy(&state.stderr.contents())).into_owned();
        let backtrace = backtrace.map(format_backtrace).unwrap_or_default();
        Error::Crash { plugin, reason, stderr, backtrace }
    }

    /// The component must describe itself as its manifest does, and name the API version it exports.
    fn check_description(&self) -> Result<(), Error> {
        let info = self.describe()?;
        let m = &self.manifest;
        let kind = match info.kind {
            types::PluginKind::ClaimCheck => Kind::ClaimCheck,
            types::PluginKind::OutputFormat => Kind::OutputFormat,
            types::PluginKind::Verifier => Kind::Verifier,
        };
        let expected = format!("{} {} ({})", m.name, m.version, m.kind);
        let found = text::sanitize(&format!("{} {} ({kind})", info.name, info.version)).into_owned();
        if expected != found {
            return Err(Error::ManifestMismatch { plugin: m.name.clone(), expected, found });
        }
        let exported = self.inspection.api_version.as_deref().unwrap_or_default();
        if info.api_version != exported {
            return Err(Error::ManifestMismatch {
                plugin: m.name.clone(),
                expected: format!("api-version {exported} (the version its component exports)"),
                found: format!("api-version {}", text::sanitize(&info.api_version)),
            });
        }
        Ok(())
    }
}

/// Whether a backtrace shows recursion: one function on it at least this many times.
fn is_recursive(backtrace: &WasmBacktrace) -> bool {
    const REPEATS: usize = 8;
    let mut counts = std::collections::HashMap::new();
    backtrace.frames().iter().any(|f| {
        let n = counts.entry((f.module().name().map(str::to_owned), f.func_index())).or_insert(0);
        *n += 1;
        *n >= REPEATS
    })
}

/// The start of a guest backtrace as wasmtime prints it (function names demangled), each line cut
/// and made safe to print: the names come from the component's name section, which its author wrote.
fn format_backtrace(backtrace: &WasmBacktrace) -> String {
    let text = backtrace.to_string();
    let lines: Vec<&str> = text.lines().collect();
    let mut out = String::new();
    for line in lines.iter().take(MAX_BACKTRACE_LINES) {
        out.push_str(&text::sanitize(text::prefix(line, 2 * MAX_NAME_BYTES)));
        out.push('\n');
    }
    if lines.len() > MAX_BACKTRACE_LINES {
        out.push_str(&format!("… {} more lines\n", lines.len() - MAX_BACKTRACE_LINES));
    }
    out
}

/// A verdict as the host keeps it: findings counted and cut (a `fail` stays a `fail`).
fn bound_verdict(verdict: types::Verdict) -> types::Verdict {
    let cut = |s: String| text::truncate(s, MAX_TEXT_BYTES);
    match verdict {
        types::Verdict::Pass => types::Verdict::Pass,
        types::Verdict::Indeterminate(reason) => types::Verdict::Indeterminate(cut(reason)),
        types::Verdict::Fail(mut findings) => {
            let total = findings.len();
            if total > MAX_FINDINGS {
                findings.truncate(MAX_FINDINGS - 1);
                findings.push(types::Finding {
                    code: "findings-truncated".into(),
                    message: format!(
                        "the plugin reported {total} findings; the host keeps {} and dropped the other {}",
                        MAX_FINDINGS - 1,
                        total - (MAX_FINDINGS - 1)
                    ),
                    claim_path: None,
                });
            }
            for f in &mut findings {
                f.code = cut(std::mem::take(&mut f.code));
                f.message = cut(std::mem::take(&mut f.message));
                f.claim_path = f.claim_path.take().map(cut);
            }
            types::Verdict::Fail(findings)
        }
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
