//! Microsoft Azure Attestation: what cvm-attest sends to MAA ([`request`]) and the encrypted token it
//! answers an AzureGuest request with ([`envelope`]).
//!
//! Protocol facts: docs/protocol.md §10.

pub mod envelope;
pub mod request;

pub use cvm_attest_formats::bundle::MaaRequest as Api;
