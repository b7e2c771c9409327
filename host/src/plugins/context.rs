//! What every evaluation is given besides its input: a request id, the time, the plugin's configuration.

use std::hash::{BuildHasher, Hasher};

use super::types;

/// A fresh evaluation context: a new request id, now, and the plugin's configuration text.
pub fn eval_context(config: String) -> types::EvalContext {
    eval_context_at(config, crate::clock::now_unix_ms())
}

/// The same, evaluating as of `now_unix_ms` (`verify --at`).
pub fn eval_context_at(config: String, now_unix_ms: u64) -> types::EvalContext {
    types::EvalContext { request_id: request_id(), now_unix_ms, config }
}

/// A request id unique enough to find one run in logs: the time and 64 random bits (std's
/// `RandomState` keys come from the operating system's random source), nothing about the host.
fn request_id() -> String {
    let mut hasher = std::hash::RandomState::new().build_hasher();
    let now = crate::clock::now_unix_ms();
    hasher.write_u64(now);
    format!("{now:x}-{:016x}", hasher.finish())
}
