//! Microsoft Azure Attestation: what cvm-attest sends to MAA ([`request`]).
//!
//! Protocol facts: docs/protocol.md §10.

pub mod request;

pub use cvm_attest_formats::bundle::MaaRequest as Api;
