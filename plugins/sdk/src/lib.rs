//! Write cvm-attest plugins in a few lines.
//!
//! Each plugin kind has a module holding its generated bindings (`claim_check`, `output_format`,
//! `verifier`): implement that module's `Plugin` trait for a unit struct and export it with the
//! matching macro.
//!
//! ```ignore
//! use cvm_attest_plugin_sdk::claim_check::{self, EvalContext, PluginError, PluginInfo, Verdict};
//!
//! struct SecureBoot;
//! impl claim_check::Plugin for SecureBoot {
//!     fn describe() -> PluginInfo {
//!         claim_check::info(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
//!     }
//!     fn validate_config(_config: String) -> Result<(), PluginError> {
//!         Ok(())
//!     }
//!     fn check(_ctx: EvalContext, claims: String) -> Result<Verdict, PluginError> {
//!         let claims = cvm_attest_plugin_sdk::Claims::parse(&claims)?;
//!         Ok(if claims.get("/secureboot") == Some(true.into()) { Verdict::Pass } else { ... })
//!     }
//! }
//! cvm_attest_plugin_sdk::export_claim_check!(SecureBoot);
//! ```

/// The version of the `cvm-attest:plugin` WIT package these bindings were generated from.
pub const API_VERSION: &str = "0.1.1";

pub use serde_json as json;

/// Bindings for the `claim-check` world.
pub mod claim_check {
    wit_bindgen::generate!({
        path: "../../wit/plugin@0.1",
        world: "claim-check",
        pub_export_macro: true,
        export_macro_name: "export_claim_check_world",
        default_bindings_module: "$crate::claim_check",
    });
    pub use cvm_attest::plugin::crypto;
    pub use cvm_attest::plugin::log::{Level, log};
    pub use cvm_attest::plugin::types::*;
    pub use exports::cvm_attest::plugin::claim_check_api::Guest as Plugin;

    /// The `describe` answer for a plugin built from this SDK.
    pub fn info(name: &str, version: &str) -> PluginInfo {
        PluginInfo {
            name: name.into(),
            version: version.into(),
            kind: PluginKind::ClaimCheck,
            api_version: crate::API_VERSION.into(),
        }
    }

    impl Finding {
        /// A finding about the claim at `claim_path` (a JSON Pointer).
        pub fn at(claim_path: &str, code: &str, message: impl Into<String>) -> Self {
            Finding { code: code.into(), message: message.into(), claim_path: Some(claim_path.into()) }
        }
    }

    impl From<crate::ClaimsError> for PluginError {
        fn from(e: crate::ClaimsError) -> Self {
            PluginError::InvalidInput(e.0)
        }
    }
}

/// Bindings for the `output-format` world.
pub mod output_format {
    wit_bindgen::generate!({
        path: "../../wit/plugin@0.1",
        world: "output-format",
        pub_export_macro: true,
        export_macro_name: "export_output_format_world",
        default_bindings_module: "$crate::output_format",
    });
    pub use cvm_attest::plugin::crypto;
    pub use cvm_attest::plugin::log::{Level, log};
    pub use cvm_attest::plugin::types::*;
    pub use exports::cvm_attest::plugin::output_format_api::Guest as Plugin;

    /// The `describe` answer for a plugin built from this SDK.
    pub fn info(name: &str, version: &str) -> PluginInfo {
        PluginInfo {
            name: name.into(),
            version: version.into(),
            kind: PluginKind::OutputFormat,
            api_version: crate::API_VERSION.into(),
        }
    }

    impl From<crate::ClaimsError> for PluginError {
        fn from(e: crate::ClaimsError) -> Self {
            PluginError::InvalidInput(e.0)
        }
    }
}

/// Bindings for the `verifier` world.
pub mod verifier {
    wit_bindgen::generate!({
        path: "../../wit/plugin@0.1",
        world: "verifier",
        pub_export_macro: true,
        export_macro_name: "export_verifier_world",
        default_bindings_module: "$crate::verifier",
    });
    pub use cvm_attest::plugin::crypto;
    pub use cvm_attest::plugin::log::{Level, log};
    pub use cvm_attest::plugin::types::*;
    pub use exports::cvm_attest::plugin::verifier_api::Guest as Plugin;

    /// The `describe` answer for a plugin built from this SDK.
    pub fn info(name: &str, version: &str) -> PluginInfo {
        PluginInfo {
            name: name.into(),
            version: version.into(),
            kind: PluginKind::Verifier,
            api_version: crate::API_VERSION.into(),
        }
    }
}

/// Export a type implementing [`claim_check::Plugin`] as this component's claim check.
#[macro_export]
macro_rules! export_claim_check {
    ($plugin:ident) => {
        $crate::claim_check::export_claim_check_world!($plugin with_types_in $crate::claim_check);
    };
}

/// Export a type implementing [`output_format::Plugin`] as this component's output format.
#[macro_export]
macro_rules! export_output_format {
    ($plugin:ident) => {
        $crate::output_format::export_output_format_world!($plugin with_types_in $crate::output_format);
    };
}

/// Export a type implementing [`verifier::Plugin`] as this component's verifier.
#[macro_export]
macro_rules! export_verifier {
    ($plugin:ident) => {
        $crate::verifier::export_verifier_world!($plugin with_types_in $crate::verifier);
    };
}

mod claims;
pub use claims::{Claims, ClaimsError};
