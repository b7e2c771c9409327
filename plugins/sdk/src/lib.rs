//! Write cvm-attest plugins in a few lines.
//!
//! Implement one of [`ClaimCheck`], [`OutputFormat`] or [`Verifier`] for a unit struct and export it
//! with [`export!`]. `describe` is answered from the crate's name and version, and the configuration
//! is refused unless the plugin says what it accepts:
//!
//! ```no_run
//! use cvm_attest_plugin_sdk::{Claims, ClaimCheck, EvalContext, Finding, PluginError, Verdict};
//!
//! struct SecureBoot;
//!
//! impl ClaimCheck for SecureBoot {
//!     fn check(_ctx: &EvalContext, claims: &Claims) -> Result<Verdict, PluginError> {
//!         Ok(match claims.bool("/secureboot") {
//!             Some(true) => Verdict::Pass,
//!             _ => Verdict::fail(Finding::at("/secureboot", "secure-boot-off", "secure boot is off")),
//!         })
//!     }
//! }
//!
//! cvm_attest_plugin_sdk::export!(SecureBoot as ClaimCheck);
//! ```
//!
//! The WIT contract ships inside this crate (`wit/`), so a plugin builds wherever the SDK is
//! reachable — by path, git or registry — with `cargo build --release --target wasm32-wasip2`.
//! The per-world modules ([`claim_check`], [`output_format`], [`verifier`]) hold the raw bindings
//! for the rare plugin that must answer `describe` itself.

/// The version of the `cvm-attest:plugin` WIT package these bindings were generated from.
pub const API_VERSION: &str = "0.1.1";

pub use serde_json as json;

mod claims;
pub use claims::{Claims, ClaimsError};

/// Bindings for the `claim-check` world; the shared types, `log` and `crypto` are generated here
/// once and reused by the other worlds, so one `PluginError` serves every kind.
pub mod claim_check {
    wit_bindgen::generate!({
        path: "wit",
        world: "claim-check",
        pub_export_macro: true,
        export_macro_name: "export_claim_check_world",
        default_bindings_module: "$crate::claim_check",
    });
    pub use crate::crypto;
    pub use crate::log::{Level, log};
    pub use cvm_attest::plugin::types::*;
    pub use exports::cvm_attest::plugin::claim_check_api::Guest as Plugin;

    /// The `describe` answer for a plugin of this kind.
    pub fn info(name: &str, version: &str) -> PluginInfo {
        crate::info(PluginKind::ClaimCheck, name, version)
    }
}

/// Bindings for the `output-format` world.
pub mod output_format {
    wit_bindgen::generate!({
        path: "wit",
        world: "output-format",
        pub_export_macro: true,
        export_macro_name: "export_output_format_world",
        default_bindings_module: "$crate::output_format",
        with: {
            "cvm-attest:plugin/types@0.1.1": crate::types,
            "cvm-attest:plugin/log@0.1.1": crate::log,
            "cvm-attest:plugin/crypto@0.1.1": crate::crypto,
        },
    });
    pub use crate::crypto;
    pub use crate::log::{Level, log};
    pub use crate::types::*;
    pub use exports::cvm_attest::plugin::output_format_api::Guest as Plugin;

    /// The `describe` answer for a plugin of this kind.
    pub fn info(name: &str, version: &str) -> PluginInfo {
        crate::info(PluginKind::OutputFormat, name, version)
    }
}

/// Bindings for the `verifier` world.
pub mod verifier {
    wit_bindgen::generate!({
        path: "wit",
        world: "verifier",
        pub_export_macro: true,
        export_macro_name: "export_verifier_world",
        default_bindings_module: "$crate::verifier",
        with: {
            "cvm-attest:plugin/types@0.1.1": crate::types,
            "cvm-attest:plugin/log@0.1.1": crate::log,
            "cvm-attest:plugin/crypto@0.1.1": crate::crypto,
        },
    });
    pub use crate::crypto;
    pub use crate::log::{Level, log};
    pub use crate::types::*;
    pub use exports::cvm_attest::plugin::verifier_api::Guest as Plugin;

    /// The `describe` answer for a plugin of this kind.
    pub fn info(name: &str, version: &str) -> PluginInfo {
        crate::info(PluginKind::Verifier, name, version)
    }
}

pub use claim_check::cvm_attest::plugin::{crypto, log, types};
pub use types::*;

/// A claim check: judges a verified claim set.
pub trait ClaimCheck {
    /// Accept or refuse the configuration the operator gave (default: none at all).
    fn validate_config(config: &str) -> Result<(), PluginError> {
        no_config(config)
    }

    /// Pass, fail with findings naming the claims, or say the claims cannot decide.
    fn check(ctx: &EvalContext, claims: &Claims) -> Result<Verdict, PluginError>;
}

/// An output format: renders the whole result (claims, token, every check's outcome).
pub trait OutputFormat {
    /// Accept or refuse the configuration the operator gave (default: none at all).
    fn validate_config(config: &str) -> Result<(), PluginError> {
        no_config(config)
    }

    /// The bytes to emit; [`AttestationResult::claims`] reads the claims.
    fn format(ctx: &EvalContext, result: &AttestationResult) -> Result<Rendered, PluginError>;
}

/// A verifier: appraises evidence and answers with claims and the steps that decided them.
pub trait Verifier {
    /// Accept or refuse the configuration the operator gave (default: none at all).
    fn validate_config(config: &str) -> Result<(), PluginError> {
        no_config(config)
    }

    /// Claims for evidence that holds, or an error naming what does not.
    fn verify(ctx: &EvalContext, request: VerifyRequest) -> Result<Verified, PluginError>;
}

/// The default `validate-config`: this plugin takes no configuration.
pub fn no_config(config: &str) -> Result<(), PluginError> {
    match config.trim() {
        "" => Ok(()),
        _ => Err(PluginError::InvalidConfig("this plugin takes no configuration".into())),
    }
}

/// The `describe` answer of a plugin of this SDK.
pub fn info(kind: PluginKind, name: &str, version: &str) -> PluginInfo {
    PluginInfo { name: name.into(), version: version.into(), kind, api_version: API_VERSION.into() }
}

impl Finding {
    /// A finding about the claim at `claim_path` (a JSON Pointer).
    pub fn at(claim_path: &str, code: &str, message: impl Into<String>) -> Self {
        Finding { code: code.into(), message: message.into(), claim_path: Some(claim_path.into()) }
    }
}

impl Verdict {
    /// A failure with one finding.
    pub fn fail(finding: Finding) -> Self {
        Verdict::Fail(vec![finding])
    }
}

impl Rendered {
    /// UTF-8 text.
    pub fn text(body: String) -> Self {
        Rendered { media_type: "text/plain; charset=utf-8".into(), body: body.into_bytes() }
    }

    /// A JSON document.
    pub fn json(body: Vec<u8>) -> Self {
        Rendered { media_type: "application/json".into(), body }
    }
}

impl AttestationResult {
    /// The claims of this result.
    pub fn claims(&self) -> Result<Claims<'_>, ClaimsError> {
        Claims::parse(&self.claims)
    }

    /// Whether every check passed.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| matches!(c.verdict, Verdict::Pass))
    }
}

impl From<ClaimsError> for PluginError {
    fn from(e: ClaimsError) -> Self {
        PluginError::InvalidInput(e.0)
    }
}

/// Export a plugin: `export!(Type as ClaimCheck)`, `export!(Type as OutputFormat)` or
/// `export!(Type as Verifier)`, with the trait the type implements. `describe` answers with the
/// crate's name and version, or with `name = "..."` when the plugin's name differs from its crate's.
#[macro_export]
macro_rules! export {
    ($plugin:ty as $kind:ident) => {
        $crate::export!($plugin as $kind, name = env!("CARGO_PKG_NAME"));
    };
    ($plugin:ty as ClaimCheck, name = $name:expr) => {
        const _: () = {
            struct Export;
            impl $crate::claim_check::Plugin for Export {
                fn describe() -> $crate::PluginInfo {
                    $crate::info($crate::PluginKind::ClaimCheck, $name, env!("CARGO_PKG_VERSION"))
                }
                fn validate_config(config: String) -> Result<(), $crate::PluginError> {
                    <$plugin as $crate::ClaimCheck>::validate_config(&config)
                }
                fn check(
                    ctx: $crate::EvalContext,
                    claims: String,
                ) -> Result<$crate::Verdict, $crate::PluginError> {
                    <$plugin as $crate::ClaimCheck>::check(&ctx, &$crate::Claims::parse(&claims)?)
                }
            }
            $crate::export_claim_check!(Export);
        };
    };
    ($plugin:ty as OutputFormat, name = $name:expr) => {
        const _: () = {
            struct Export;
            impl $crate::output_format::Plugin for Export {
                fn describe() -> $crate::PluginInfo {
                    $crate::info($crate::PluginKind::OutputFormat, $name, env!("CARGO_PKG_VERSION"))
                }
                fn validate_config(config: String) -> Result<(), $crate::PluginError> {
                    <$plugin as $crate::OutputFormat>::validate_config(&config)
                }
                fn format(
                    ctx: $crate::EvalContext,
                    result: $crate::AttestationResult,
                ) -> Result<$crate::Rendered, $crate::PluginError> {
                    <$plugin as $crate::OutputFormat>::format(&ctx, &result)
                }
            }
            $crate::export_output_format!(Export);
        };
    };
    ($plugin:ty as Verifier, name = $name:expr) => {
        const _: () = {
            struct Export;
            impl $crate::verifier::Plugin for Export {
                fn describe() -> $crate::PluginInfo {
                    $crate::info($crate::PluginKind::Verifier, $name, env!("CARGO_PKG_VERSION"))
                }
                fn validate_config(config: String) -> Result<(), $crate::PluginError> {
                    <$plugin as $crate::Verifier>::validate_config(&config)
                }
                fn verify(
                    ctx: $crate::EvalContext,
                    request: $crate::VerifyRequest,
                ) -> Result<$crate::Verified, $crate::PluginError> {
                    <$plugin as $crate::Verifier>::verify(&ctx, request)
                }
            }
            $crate::export_verifier!(Export);
        };
    };
}

/// Export a type implementing the raw [`claim_check::Plugin`] bindings (it answers `describe` itself).
#[macro_export]
macro_rules! export_claim_check {
    ($plugin:ident) => {
        $crate::claim_check::export_claim_check_world!($plugin with_types_in $crate::claim_check);
    };
}

/// Export a type implementing the raw [`output_format::Plugin`] bindings.
#[macro_export]
macro_rules! export_output_format {
    ($plugin:ident) => {
        $crate::output_format::export_output_format_world!($plugin with_types_in $crate::output_format);
    };
}

/// Export a type implementing the raw [`verifier::Plugin`] bindings.
#[macro_export]
macro_rules! export_verifier {
    ($plugin:ident) => {
        $crate::verifier::export_verifier_world!($plugin with_types_in $crate::verifier);
    };
}
