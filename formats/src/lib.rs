//! Parsers and appraisal logic for Azure confidential VM evidence.
//!
//! This crate does no I/O: it turns bytes into typed values and checks them. It builds for the host and
//! for `wasm32-wasip2`, so the host, the offline-verifier plugin and the simulator share one copy.
