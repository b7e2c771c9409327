//! Test plugin: build 2.0.0 of plugin `swap`; it answers indeterminate, so a test can tell which
//! build the host ran after the component was replaced.

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
        Ok(Verdict::Indeterminate("swap-v2: the newer build answered".into()))
    }
}

cvm_attest_plugin_sdk::export_claim_check!(Swap);
