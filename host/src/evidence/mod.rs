//! Collecting evidence inside the VM: everything here does I/O.
//!
//! * [`vtpm`] talks to the Azure paravisor's vTPM through tss-esapi: it reads the HCL report
//!   (NV `0x01400001`), writes report user data (NV `0x01400002`), reads the attestation key (AK,
//!   persistent `0x81000003`) and its certificate (NV `0x01C101D0`), reads and quotes the SHA-256 PCRs,
//!   and creates the PCR-bound ephemeral key certified by the AK. Its failures are [`vtpm::Error`],
//!   whose messages say what went wrong *and* what to do about it.
//! * [`imds`] talks to the Azure Instance Metadata Service (VCEK chain from THIM, TD quotes, region);
//!   it has its own `imds::Error`.
//! * [`collect`] runs both in the order the official clients use and assembles the evidence bundle.
//!
//! The bytes collected here are parsed and appraised by `cvm-attest-formats`; this module only gets
//! them out of the TPM, exactly as the TPM produced them. Presenting them to people is
//! [`crate::render`]'s job.

pub mod collect;
pub mod imds;
pub mod vtpm;
