//! Parsers and appraisal logic for Azure confidential VM evidence.
//!
//! This crate does no I/O: it turns bytes into typed values once, at the boundary, and checks them.
//! It builds for the host and for `wasm32-wasip2`, so the host, the offline-verifier plugin and the
//! simulator share one copy.
//!
//! * [`hcl`]: the HCL report Azure's paravisor publishes in vTPM NV `0x01400001` (header, hardware
//!   report, runtime-claims JSON kept as its exact bytes, and their binding).
//! * [`snp`]: AMD SEV-SNP attestation reports (via the `sev` crate) and processor generations.
//! * [`tdx`]: Intel TDX TD reports and TD quotes v4/v5.
//! * [`tpm`]: TPM 2.0 structures: TPM2B_PUBLIC, TPMS_ATTEST, signatures, PCR selections and digests.
//! * [`eventlog`]: TCG event logs (SHA-1 and crypto-agile) and the TDX CCEL, replayed to PCRs/RTMRs.
//! * [`thim`]: the IMDS THIM certification document (VCEK and its chain).
//! * [`bundle`]: the evidence bundle v1 and the other evidence encodings readers accept.
//! * [`intel`]: Intel collateral for TDX: signed TCB Info and TD_QE identity, the TCB signing chain,
//!   and the SGX extension of PCK certificates, and their evaluation (`tdx-tcb-status`).
//! * [`crypto`]: signature verification, by a provider a program may choose (pure Rust by default).
//! * [`time`]: RFC 3339 instants, the time validity and freshness are judged at.
//! * [`json`]: strict JSON (no repeated object keys at any depth), for every JSON input.
//! * [`appraise`]: offline appraisal of a bundle (AMD/Intel chains, reports, binding, vTPM quote) into
//!   MAA-shaped claims, step by step; the logic of the `offline` verifier plugin.
//!
//! Every parser returns a [`ParseError`] naming the structure, field and offset; none panics.

#![cfg_attr(not(test), warn(clippy::indexing_slicing))]

pub mod appraise;
pub mod bundle;
pub mod crypto;
pub mod encoding;
mod error;
pub mod eventlog;
pub mod hcl;
pub mod intel;
pub mod json;
pub mod nonce;
pub mod reader;
pub mod snp;
pub mod tdx;
pub mod thim;
pub mod time;
pub mod tpm;

pub use error::ParseError;
