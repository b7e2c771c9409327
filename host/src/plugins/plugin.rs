//! Evaluation: a loaded plugin run in a fresh instance per call, with its limits armed, its answers
//! bounded, and every failure classified.

use std::sync::Arc;

use wasmtime::{Engine, Store, Trap, WasmBacktrace};

use super::bindings::{ClaimCheckPre, OutputFormatPre, VerifierPre};
use super::runtime::Ticker;
use super::sandbox::{self, MemoryLimitHit, State};
use super::*;
use crate::text;

pub(super) enum Pre {
    ClaimCheck(ClaimCheckPre<State>),
    OutputFormat(OutputFormatPre<State>),
    Verifier(VerifierPre<State>),
}

/// A loaded, linked plugin, ready to evaluate.
pub struct Plugin {
    pub(super) manifest: Manifest,
    pub(super) manifest_digest: String,
    pub(super) inspection: Inspection,
    pub(super) limits: Limits,
    pub(super) granted: Vec<Capability>,
    pub(super) pre: Pre,
    pub(super) engine: Engine,
    pub(super) _ticker: Arc<Ticker>,
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
    pub(super) fn check_description(&self) -> Result<(), Error> {
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
