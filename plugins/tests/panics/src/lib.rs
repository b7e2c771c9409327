//! Test plugin: `check` panics, to prove the host reports a plugin crash (with its panic message) and survives it.

use cvm_attest_plugin_sdk::claim_check::{self, EvalContext, PluginError, PluginInfo, Verdict};

struct Panics;

impl claim_check::Plugin for Panics {
    fn describe() -> PluginInfo {
        claim_check::info(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
    }

    fn validate_config(_config: String) -> Result<(), PluginError> {
        Ok(())
    }

    fn check(_ctx: EvalContext, _claims: String) -> Result<Verdict, PluginError> {
        panic!("panics: deliberate panic for the host's crash test")
    }
}

cvm_attest_plugin_sdk::export_claim_check!(Panics);
