//! A claim check: pass, or fail with findings naming the claims.

use cvm_attest_plugin_sdk::Claims;
use cvm_attest_plugin_sdk::claim_check::{self, EvalContext, Finding, PluginError, PluginInfo, Verdict};

struct Check;

impl claim_check::Plugin for Check {
    fn describe() -> PluginInfo {
        claim_check::info(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
    }

    fn validate_config(_config: String) -> Result<(), PluginError> {
        Ok(())
    }

    fn check(_ctx: EvalContext, claims: String) -> Result<Verdict, PluginError> {
        let claims = Claims::parse(&claims)?;
        Ok(match claims.get("/secureboot") {
            Some(on) if on == true => Verdict::Pass,
            _ => Verdict::Fail(vec![Finding::at("/secureboot", "secure-boot-off", "secure boot is not on")]),
        })
    }
}

cvm_attest_plugin_sdk::export_claim_check!(Check);
