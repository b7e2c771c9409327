// A claim check: pass, or fail with findings naming the claims.

use cvm_attest_plugin_sdk::{ClaimCheck, Claims, EvalContext, Finding, PluginError, Verdict};

struct Check;

impl ClaimCheck for Check {
    fn check(_ctx: &EvalContext, claims: &Claims) -> Result<Verdict, PluginError> {
        Ok(match claims.bool("/secureboot") {
            Some(true) => Verdict::Pass,
            _ => Verdict::fail(Finding::at("/secureboot", "secure-boot-off", "secure boot is not on")),
        })
    }
}

cvm_attest_plugin_sdk::export!(Check as ClaimCheck);
