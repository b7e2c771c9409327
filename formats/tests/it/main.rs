//! Integration tests of `cvm-attest-formats` on real Azure and MAA data (`formats/testdata`, with its
//! provenance), one test binary with a module per topic.

mod anchors;
mod appraise_claims;
mod appraise_snp;
mod appraise_tdx;
mod appraise_vtpm;
mod bundle;
mod common;
mod eventlog;
mod hcl;
mod intel;
mod json;
mod maa_cvm_request;
mod maa_request;
mod revocation;
mod snp;
mod tdx;
mod thim;
mod tpm;
