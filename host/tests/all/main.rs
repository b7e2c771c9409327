//! Integration tests: real plugins, built from source in the test run, in the real runtime.

mod cli;
mod collateral;
mod collect;
mod containment;
mod doctor;
mod examples;
mod flags;
mod guide;
mod imds;
mod loading;
mod maa_client;
mod pinning;
mod plugins;
mod python;
mod readme;
mod reproducible;
mod settings;
mod shadowing;
mod shipped;
mod snapshots;
mod support;
mod swtpm;
mod token;
mod verdicts;
mod verify;
mod vtpm;
