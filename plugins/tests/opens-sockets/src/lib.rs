//! Test plugin: `check` connects to 127.0.0.1:9 (importing wasi:sockets), to prove the host grants plugins no network.

use std::hint::black_box;
use std::net::TcpStream;

use cvm_attest_plugin_sdk::claim_check::{self, EvalContext, PluginError, PluginInfo, Verdict};

struct OpensSockets;

impl claim_check::Plugin for OpensSockets {
    fn describe() -> PluginInfo {
        claim_check::info(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
    }

    fn validate_config(_config: String) -> Result<(), PluginError> {
        Ok(())
    }

    /// Pass means the sandbox let a connection through; Indeterminate carries the (expected) error.
    fn check(_ctx: EvalContext, _claims: String) -> Result<Verdict, PluginError> {
        Ok(match TcpStream::connect(black_box("127.0.0.1:9")) {
            Ok(stream) => {
                black_box(&stream);
                Verdict::Pass
            }
            Err(e) => Verdict::Indeterminate(format!("opens-sockets: cannot connect to 127.0.0.1:9: {e}")),
        })
    }
}

cvm_attest_plugin_sdk::export_claim_check!(OpensSockets);
