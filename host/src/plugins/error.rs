//! Everything that can go wrong with a plugin, one variant per cause the user can act on.

use std::path::PathBuf;
use std::time::Duration;

/// A plugin failure. Each variant names the plugin and says what to do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error(
        "plugin '{name}' not found; looked in: {searched}. Run `cvm-attest plugin list` to see what is installed"
    )]
    NotFound { name: String, searched: String },

    /// Two or more different plugins of one name on the search path (`copies`: their components).
    #[error(
        "plugin '{name}' is found {} times on the plugin search path and the copies differ: {}; refusing \
         to choose one. Remove the copies you do not want, or give the wanted one by the path of its \
         .wasm instead of by name (`cvm-attest plugin list` shows every copy)",
        .copies.len(), describe_copies(.copies)
    )]
    Conflict { name: String, copies: Vec<PathBuf> },

    /// A plugin file (component or manifest) could not be read: missing, not a regular file (a
    /// device, a FIFO), or over its size limit.
    #[error(transparent)]
    Input(#[from] crate::input::Error),

    #[error("malformed plugin manifest {}: {reason}", path.display())]
    MalformedManifest { path: PathBuf, reason: String },

    /// `file` is `component` or `manifest`, `key` the configuration key that pins it.
    #[error(
        "plugin '{plugin}': SHA-256 of its {file} is {actual}, but the configuration pins {expected} \
         (`{key}`); refusing it. If you updated the plugin on purpose, pin the new digest"
    )]
    DigestMismatch { plugin: String, file: &'static str, key: &'static str, expected: String, actual: String },

    /// Under `require_pinned`, the component or the manifest (or both) has no pin.
    #[error(
        "plugin '{plugin}' is not pinned and the configuration requires pinning its component and its \
         manifest; after checking where they came from, add `[plugins.{plugin}]` with \
         `sha256 = \"{actual}\"` and `manifest_sha256 = \"{manifest_actual}\"` (`cvm-attest plugin pin {plugin}` \
         prints them)"
    )]
    Unpinned { plugin: String, actual: String, manifest_actual: String },

    #[error("plugin '{plugin}' is not a valid WebAssembly component: {reason}")]
    InvalidComponent { plugin: String, reason: String },

    #[error(
        "plugin '{plugin}' used more than {limit:.1?} of CPU time to compile and was given up (10 s plus \
         2 s per MiB of component; real plugins take under 1 s per MiB)"
    )]
    CompileTimeout { plugin: String, limit: Duration },

    #[error(
        "plugin '{plugin}' was built for cvm-attest:plugin@{found}, but this host serves {supported}; \
         rebuild it against a supported version of the WIT package"
    )]
    IncompatibleApi { plugin: String, found: String, supported: String },

    #[error("plugin '{plugin}' does not implement the {expected} world: {reason}")]
    WrongKind { plugin: String, expected: String, reason: String },

    #[error(
        "plugin '{plugin}' imports '{import}', which plugins are never given (no filesystem, sockets or \
         other host access); refusing to load it"
    )]
    ForbiddenImport { plugin: String, import: String },

    #[error(
        "plugin '{plugin}' imports '{import}' but its manifest does not request the '{capability}' \
         capability; the manifest must declare what the component uses"
    )]
    UndeclaredCapability { plugin: String, import: String, capability: String },

    #[error(
        "plugin '{plugin}' requests the '{capability}' capability, which the configuration does not grant; \
         grant it with `[plugins.{plugin}] grant = [\"{capability}\"]` or use another plugin"
    )]
    CapabilityDenied { plugin: String, capability: String },

    #[error("plugin '{plugin}' describes itself as {found}, but its manifest says {expected}")]
    ManifestMismatch { plugin: String, expected: String, found: String },

    #[error("cannot start the WebAssembly engine: {reason}")]
    Engine { reason: String },

    #[error(
        "plugin '{plugin}' needs something this host does not provide (was it built for a newer cvm-attest?): {reason}"
    )]
    Link { plugin: String, reason: String },

    #[error("plugin '{plugin}' rejected its configuration: {reason}")]
    ConfigRejected { plugin: String, reason: String },

    #[error("plugin '{plugin}' exceeded its time limit of {limit:?} and was stopped")]
    Timeout { plugin: String, limit: Duration },

    #[error(
        "plugin '{plugin}' tried to use more than its memory limit of {limit_mib} MiB and was stopped; \
         raise `[plugins.{plugin}] memory_mib` if it legitimately needs more"
    )]
    MemoryLimit { plugin: String, limit_mib: u64 },

    /// `stream` is `stdout`, `stderr`, `its result` or `one transfer to the host`.
    #[error("plugin '{plugin}' exceeded the {limit}-byte limit on {stream} and was stopped")]
    OutputLimit { plugin: String, stream: &'static str, limit: usize },

    /// A result the host does not accept: too many steps, an overlong name.
    #[error("plugin '{plugin}' returned a result the host refuses: {reason}")]
    ResultLimit { plugin: String, reason: String },

    #[error("plugin '{plugin}' crashed: {reason}{}", describe_crash(.stderr, .backtrace))]
    Crash { plugin: String, reason: String, stderr: String, backtrace: String },

    #[error("plugin '{plugin}' reported an error: {error}")]
    Reported { plugin: String, error: Reported },
}

/// An error the plugin returned itself (`plugin-error` in the WIT).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Reported {
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    #[error("invalid input: {0}")]
    InvalidInput(String),
    #[error("unsupported: {0}")]
    Unsupported(String),
    #[error("internal error: {0}")]
    Internal(String),
}

fn describe_copies(copies: &[PathBuf]) -> String {
    let paths: Vec<String> = copies.iter().map(|p| p.display().to_string()).collect();
    match paths.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => paths.join(""),
    }
}

/// The plugin's stderr, each line marked as the plugin's (it cannot pass for the host's own output),
/// and the guest backtrace.
fn describe_crash(stderr: &str, backtrace: &str) -> String {
    let mut out = String::new();
    if !stderr.trim().is_empty() {
        out.push_str("\nplugin stderr:");
        for line in stderr.trim_end().lines() {
            out.push_str("\n  | ");
            out.push_str(line);
        }
    }
    if !backtrace.trim().is_empty() {
        out.push_str("\nguest backtrace:\n");
        out.push_str(backtrace.trim_end());
    }
    out
}

impl Error {
    /// A short, stable name for the kind of failure (used in JSON output and tests).
    pub fn kind(&self) -> &'static str {
        match self {
            Error::NotFound { .. } => "not-found",
            Error::Conflict { .. } => "conflict",
            Error::Input(_) => "io",
            Error::MalformedManifest { .. } => "malformed-manifest",
            Error::DigestMismatch { .. } => "digest-mismatch",
            Error::Unpinned { .. } => "unpinned",
            Error::InvalidComponent { .. } => "invalid-component",
            Error::CompileTimeout { .. } => "compile-timeout",
            Error::IncompatibleApi { .. } => "incompatible-api",
            Error::WrongKind { .. } => "wrong-kind",
            Error::ForbiddenImport { .. } => "forbidden-import",
            Error::UndeclaredCapability { .. } => "undeclared-capability",
            Error::CapabilityDenied { .. } => "capability-denied",
            Error::ManifestMismatch { .. } => "manifest-mismatch",
            Error::Engine { .. } => "engine",
            Error::Link { .. } => "link",
            Error::ConfigRejected { .. } => "config-rejected",
            Error::Timeout { .. } => "timeout",
            Error::MemoryLimit { .. } => "memory-limit",
            Error::OutputLimit { .. } => "output-limit",
            Error::ResultLimit { .. } => "result-limit",
            Error::Crash { .. } => "crash",
            Error::Reported { .. } => "reported",
        }
    }
}
