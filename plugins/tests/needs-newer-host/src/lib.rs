//! Test plugin: built against 0.1.2 and calling `log-kv`, a host function that 0.1.2 added. A 0.1.1
//! host does not have it and must refuse the plugin at load, naming what is missing.

wit_bindgen::generate!({ path: "wit", world: "claim-check" });

use cvm_attest::plugin::log::{Level, log_kv};
use cvm_attest::plugin::types::{EvalContext, PluginError, PluginInfo, PluginKind, Verdict};
use exports::cvm_attest::plugin::claim_check_api::Guest;

struct NeedsNewerHost;

impl Guest for NeedsNewerHost {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: env!("CARGO_PKG_NAME").into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: PluginKind::ClaimCheck,
            api_version: "0.1.2".into(),
        }
    }

    fn validate_config(_config: String) -> Result<(), PluginError> {
        Ok(())
    }

    fn check(_ctx: EvalContext, _claims: String) -> Result<Verdict, PluginError> {
        log_kv(Level::Info, "needs-newer-host", "hello");
        Ok(Verdict::Pass)
    }
}

export!(NeedsNewerHost);
