//! Test plugin: `check` allocates 1 MiB chunks forever, to prove the host caps a plugin's linear memory.

use std::hint::black_box;

use cvm_attest_plugin_sdk::claim_check::{self, EvalContext, PluginError, PluginInfo, Verdict};

struct MemoryBomb;

const CHUNK: usize = 1 << 20;
const PAGE: usize = 64 << 10;

impl claim_check::Plugin for MemoryBomb {
    fn describe() -> PluginInfo {
        claim_check::info(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
    }

    fn validate_config(_config: String) -> Result<(), PluginError> {
        Ok(())
    }

    fn check(_ctx: EvalContext, _claims: String) -> Result<Verdict, PluginError> {
        // Every chunk stays in `hoard`, so nothing is ever freed and memory must keep growing.
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            let mut chunk = vec![0u8; CHUNK];
            // Touch every wasm page of the chunk so it is really used, not just reserved.
            for byte in chunk.iter_mut().step_by(PAGE) {
                *byte = 1;
            }
            hoard.push(black_box(chunk));
            black_box(&mut hoard);
        }
    }
}

cvm_attest_plugin_sdk::export_claim_check!(MemoryBomb);
