//! Test plugin: built against 0.1.2, a later patch of the current line that adds an exported function.
//! A 0.1.1 host must still load and run it: additions within a line are compatible.

wit_bindgen::generate!({ path: "wit", world: "claim-check" });

use cvm_attest::plugin::types::{EvalContext, PluginError, PluginInfo, PluginKind, Verdict};
use exports::cvm_attest::plugin::claim_check_api::Guest;

struct NewerPatchApi;

impl Guest for NewerPatchApi {
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
        Ok(Verdict::Pass)
    }

    fn explain() -> String {
        "newer-patch-api: checks nothing".into()
    }
}

export!(NewerPatchApi);
