//! Test plugin: a claim check built against a NEWER, incompatible contract line (0.2.0), to prove the host refuses a plugin built for an API it does not serve yet.

// It uses wit-bindgen directly on its own copy of the WIT (wit/plugin.wit, package
// `cvm-attest:plugin@0.2.0`) rather than the SDK, which always targets the current line.
wit_bindgen::generate!({ path: "wit", world: "claim-check" });

use cvm_attest::plugin::types::{EvalContext, PluginError, PluginInfo, PluginKind, Verdict};
use exports::cvm_attest::plugin::claim_check_api::Guest;

struct FutureApi;

impl Guest for FutureApi {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: env!("CARGO_PKG_NAME").into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: PluginKind::ClaimCheck,
            api_version: "0.2.0".into(),
        }
    }

    fn validate_config(_config: String) -> Result<(), PluginError> {
        Ok(())
    }

    fn check(_ctx: EvalContext, _claims: String) -> Result<Verdict, PluginError> {
        Ok(Verdict::Pass)
    }
}

export!(FutureApi);
