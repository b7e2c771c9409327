//! Test plugin: `check` spins forever, to prove the host interrupts a runaway plugin at its time limit.

use std::hint::black_box;

use cvm_attest_plugin_sdk::claim_check::{self, EvalContext, PluginError, PluginInfo, Verdict};

struct SpinForever;

impl claim_check::Plugin for SpinForever {
    fn describe() -> PluginInfo {
        claim_check::info(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
    }

    fn validate_config(_config: String) -> Result<(), PluginError> {
        Ok(())
    }

    fn check(_ctx: EvalContext, _claims: String) -> Result<Verdict, PluginError> {
        // black_box makes every iteration observable, so the loop cannot be optimized out.
        let mut counter = 0u64;
        loop {
            counter = black_box(counter.wrapping_add(1));
        }
    }
}

cvm_attest_plugin_sdk::export_claim_check!(SpinForever);
