//! Test plugin: `check` recurses without bound, to prove the host contains a stack overflow. With
//! config `big-frames` each call also keeps 16 KiB of locals, which live on the guest's own stack in
//! linear memory: that stack runs out (below address 0) long before the wasm stack does.

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

/// The same, with a 16 KiB array in every frame (black_box keeps it, and keeps it in memory).
#[inline(never)]
fn descend_big(depth: u64) -> u64 {
    let mut frame = [0u8; 16 << 10];
    frame[(depth % 1024) as usize] = depth as u8;
    if black_box(&mut frame)[0] == 0xff && black_box(depth) == u64::MAX {
        return 0;
    }
    let below = descend_big(black_box(depth + 1));
    black_box(below).wrapping_add(u64::from(black_box(&frame)[1]))
}

impl claim_check::Plugin for DeepRecursion {
    fn describe() -> PluginInfo {
        claim_check::info(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
    }

    fn validate_config(_config: String) -> Result<(), PluginError> {
        Ok(())
    }

    fn check(ctx: EvalContext, _claims: String) -> Result<Verdict, PluginError> {
        let sum = if ctx.config == "big-frames" { descend_big(0) } else { descend(0) };
        Ok(Verdict::Indeterminate(format!("deep-recursion: returned {sum}, which should be impossible")))
    }
}

cvm_attest_plugin_sdk::export_claim_check!(DeepRecursion);
