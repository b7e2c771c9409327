//! Test plugin: tries to carry state from one evaluation to the next, in zero-initialised memory
//! (`.bss`), initialised memory (`.data`) and the heap, and reports what it found.

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use cvm_attest_plugin_sdk::claim_check::{self, EvalContext, PluginError, PluginInfo, Verdict};

/// Starts at zero: counts evaluations this instance has seen.
static CALLS: AtomicU32 = AtomicU32::new(0);
/// Starts non-zero: overwritten by every evaluation.
static INITIAL: AtomicU32 = AtomicU32::new(0x00C0_FFEE);
/// Where the last evaluation left a heap marker, and the marker.
static HEAP_MARK: AtomicUsize = AtomicUsize::new(0);
const MARK: [u8; 8] = *b"LEFTOVER";

struct Remembers;

impl claim_check::Plugin for Remembers {
    fn describe() -> PluginInfo {
        claim_check::info(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
    }

    fn validate_config(_config: String) -> Result<(), PluginError> {
        Ok(())
    }

    fn check(_ctx: EvalContext, _claims: String) -> Result<Verdict, PluginError> {
        let calls = CALLS.fetch_add(1, Ordering::SeqCst) + 1;
        let initial = INITIAL.swap(0, Ordering::SeqCst);
        // A heap block the allocator hands out at the same address in a fresh instance: reading
        // it zeroed first (calloc) and then marking it shows whether old contents survive.
        let mut block = vec![0u8; 64 * 1024];
        let found = HEAP_MARK.load(Ordering::SeqCst) != 0 || block.windows(MARK.len()).any(|w| w == MARK);
        block[..MARK.len()].copy_from_slice(&MARK);
        HEAP_MARK.store(std::hint::black_box(block.as_ptr()) as usize, Ordering::SeqCst);
        std::hint::black_box(&block);
        std::mem::forget(block);
        Ok(Verdict::Indeterminate(format!("calls {calls}, initial {initial:#x}, heap mark seen {found}")))
    }
}

cvm_attest_plugin_sdk::export_claim_check!(Remembers);
