//! Test plugin: `check` reads /etc/hostname (importing wasi:filesystem), to prove the host grants plugins no files.

use std::hint::black_box;

use cvm_attest_plugin_sdk::claim_check::{self, EvalContext, PluginError, PluginInfo, Verdict};

struct ReadsFiles;

impl claim_check::Plugin for ReadsFiles {
    fn describe() -> PluginInfo {
        claim_check::info(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
    }

    fn validate_config(_config: String) -> Result<(), PluginError> {
        Ok(())
    }

    /// Pass means the sandbox leaked a host file; Indeterminate carries the (expected) error.
    fn check(_ctx: EvalContext, _claims: String) -> Result<Verdict, PluginError> {
        Ok(match std::fs::read_to_string(black_box("/etc/hostname")) {
            Ok(text) => {
                black_box(&text);
                Verdict::Pass
            }
            Err(e) => Verdict::Indeterminate(format!("reads-files: cannot read /etc/hostname: {e}")),
        })
    }
}

cvm_attest_plugin_sdk::export_claim_check!(ReadsFiles);
