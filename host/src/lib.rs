//! cvm-attest: attest Azure confidential VMs, with claim checks, output formats and verifiers as
//! sandboxed WebAssembly plugins.

pub mod cli;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod evidence;
pub mod input;
pub mod maa;
pub mod pipeline;
pub mod plugins;
pub mod render;
pub mod text;
pub mod token;
