//! Microsoft Azure Attestation: what cvm-attest sends to MAA ([`request`]) and the encrypted token it
//! answers an AzureGuest request with ([`envelope`]).
//!
//! Protocol facts: docs/protocol.md §10.
//!
//! * [`endpoint`]: which instance (`-a`, `maa_url`, or the region's shared instance) and its URLs.
//! * [`client`]: the HTTP client that posts a request and returns MAA's token, with bounded retries.
//! * [`advice`]: what to do about a claim MAA's attestation policy refused.

pub mod advice;
pub mod client;
pub mod endpoint;
pub mod envelope;
pub mod request;

pub use cvm_attest_formats::bundle::MaaRequest as Api;
