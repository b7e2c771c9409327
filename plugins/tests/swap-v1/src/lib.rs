//! Test plugin: build 1.0.0 of plugin `swap`; it passes. `swap-v2` replaces it in the swap test.

use cvm_attest_plugin_sdk::claim_check::{self, EvalContext, PluginError, PluginInfo, Verdict};

struct Swap;

impl claim_check::Plugin for Swap {
    fn describe() -> PluginInfo {
        claim_check::info("swap", env!("CARGO_PKG_VERSION"))
    }

    fn validate_config(_config: String) -> Result<(), PluginError> {
        Ok(())
    }

    fn check(_ctx: EvalContext, _claims: String) -> Result<Verdict, PluginError> {
        Ok(Verdict::Pass)
    }
}

cvm_attest_plugin_sdk::export_claim_check!(Swap);
