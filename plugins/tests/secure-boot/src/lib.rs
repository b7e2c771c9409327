//! The README's plugin example, kept here so that it always compiles and runs (see `cli.rs`).

use cvm_attest_plugin_sdk::Claims;
use cvm_attest_plugin_sdk::claim_check::{self, EvalContext, Finding, PluginError, PluginInfo, Verdict};

struct SecureBoot;

impl claim_check::Plugin for SecureBoot {
    fn describe() -> PluginInfo {
        claim_check::info(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
    }
    fn validate_config(_config: String) -> Result<(), PluginError> {
        Ok(())
    }
    fn check(_ctx: EvalContext, claims: String) -> Result<Verdict, PluginError> {
        let claims = Claims::parse(&claims)?;
        Ok(match claims.get("/secureboot") {
            Some(v) if v == true => Verdict::Pass,
            _ => Verdict::Fail(vec![Finding::at("/secureboot", "secure-boot-off", "secure boot is not on")]),
        })
    }
}

cvm_attest_plugin_sdk::export_claim_check!(SecureBoot);
