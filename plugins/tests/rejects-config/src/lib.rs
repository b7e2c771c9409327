//! Test plugin: rejects every configuration (in validate-config and in check), to prove the host surfaces a plugin's own config error.

use cvm_attest_plugin_sdk::claim_check::{self, EvalContext, PluginError, PluginInfo, Verdict};

struct RejectsConfig;

fn rejected() -> PluginError {
    PluginError::InvalidConfig("rejects-config: this plugin rejects every configuration".into())
}

impl claim_check::Plugin for RejectsConfig {
    fn describe() -> PluginInfo {
        claim_check::info(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
    }

    fn validate_config(_config: String) -> Result<(), PluginError> {
        Err(rejected())
    }

    fn check(_ctx: EvalContext, _claims: String) -> Result<Verdict, PluginError> {
        Err(rejected())
    }
}

cvm_attest_plugin_sdk::export_claim_check!(RejectsConfig);
