//! Integration tests: real plugins, built from source in the test run, in the real runtime.

mod cli;
mod collect;
mod containment;
mod flags;
mod imds;
mod loading;
mod pinning;
mod plugins;
mod support;
mod swtpm;
mod verify;
mod vtpm;
