//! Turning results into text and JSON for people and machines: presentation only, no I/O, kept apart
//! from the modules that gather evidence and appraise it so that an output format changes in one place.
//!
//! * [`summary`]: an evidence file section by section, with the cross-checks that need no keys
//!   (`cvm-attest evidence show`).
//! * [`verification`]: a verification's steps, checks and conclusion (`cvm-attest verify`).

pub mod summary;
pub mod verification;
