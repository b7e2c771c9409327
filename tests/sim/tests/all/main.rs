//! End-to-end tests against the simulated CVM: real swtpm, paravisor, IMDS and MAA processes on
//! loopback, driven by the project's own client code and the real `cvm-attest` binary. One test
//! binary (linking wasmtime and tss-esapi once, not once per file).

mod attest;
mod client;
mod cvm;
mod doctor;
mod imds;
mod maa;
mod main_job;
mod paravisor;
mod reports;
mod support;
mod tamper;
mod up;
