//! Test plugin: `check` recurses without bound, to prove the host contains a wasm stack overflow.

use std::hint::black_box;

use cvm_attest_plugin_sdk::claim_check::{self, EvalContext, PluginError, PluginInfo, Verdict};

struct DeepRecursion;

/// Not a tail call (the result is used after the call returns), and black_box hides both the
/// argument and the result, so this cannot be turned into a loop. The exit is never taken: it
/// only exists because rustc rejects a function that cannot return without recursing.
#[inline(never)]
fn descend(depth: u64) -> u64 {
    if black_box(depth) == u64::MAX {
        return 0;
    }
    let below = descend(black_box(depth + 1));
    black_box(below).wrapping_add(depth)
}

impl claim_check::Plugin for DeepRecursion {
    fn describe() -> PluginInfo {
        claim_check::info(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
    }

    fn validate_config(_config: String) -> Result<(), PluginError> {
        Ok(())
    }

    fn check(_ctx: EvalContext, _claims: String) -> Result<Verdict, PluginError> {
        let sum = descend(0);
        Ok(Verdict::Indeterminate(format!("deep-recursion: returned {sum}, which should be impossible")))
    }
}

cvm_attest_plugin_sdk::export_claim_check!(DeepRecursion);
