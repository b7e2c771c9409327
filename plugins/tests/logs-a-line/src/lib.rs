//! Test plugin: `check` logs one info line and passes, to prove plugin logs reach the host's log with the plugin's name.

use cvm_attest_plugin_sdk::claim_check::{self, EvalContext, Level, PluginError, PluginInfo, Verdict, log};

struct LogsALine;

impl claim_check::Plugin for LogsALine {
    fn describe() -> PluginInfo {
        claim_check::info(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
    }

    fn validate_config(_config: String) -> Result<(), PluginError> {
        Ok(())
    }

    fn check(_ctx: EvalContext, _claims: String) -> Result<Verdict, PluginError> {
        log(Level::Info, "logs-a-line: hello from the sandbox");
        Ok(Verdict::Pass)
    }
}

cvm_attest_plugin_sdk::export_claim_check!(LogsALine);
