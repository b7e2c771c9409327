//! Test plugin: `describe` lies about the API version it was built against (it exports 0.1.0), and
//! makes the lie a megabyte long, to prove the host checks the version and bounds what it repeats.

use cvm_attest_plugin_sdk::claim_check::{self, EvalContext, PluginError, PluginInfo, Verdict};

struct LiesInDescribe;

impl claim_check::Plugin for LiesInDescribe {
    fn describe() -> PluginInfo {
        let mut info = claim_check::info(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"));
        info.api_version = format!("9.9.9{}", "x".repeat(1 << 20));
        info
    }

    fn validate_config(_config: String) -> Result<(), PluginError> {
        Ok(())
    }

    fn check(_ctx: EvalContext, _claims: String) -> Result<Verdict, PluginError> {
        Ok(Verdict::Pass)
    }
}

cvm_attest_plugin_sdk::export_claim_check!(LiesInDescribe);
