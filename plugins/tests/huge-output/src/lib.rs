//! Test output format: floods stdout, returns an 8 MiB body, or logs 100 MB (config `stdout`/`body`/`log`), to prove the host bounds every output channel.

use std::hint::black_box;

use cvm_attest_plugin_sdk::output_format::{
    self, AttestationResult, EvalContext, Level, PluginError, PluginInfo, Rendered, log,
};

struct HugeOutput;

const MODES: [&str; 3] = ["stdout", "body", "log"];
const BODY_BYTES: usize = 8 << 20;
const LOG_LINES: usize = 100_000;
const LOG_LINE_BYTES: usize = 1 << 10;

fn check_mode(config: &str) -> Result<(), PluginError> {
    if MODES.contains(&config) {
        Ok(())
    } else {
        Err(PluginError::InvalidConfig(format!(
            "huge-output: config must be exactly one of {MODES:?}, not {config:?}"
        )))
    }
}

impl output_format::Plugin for HugeOutput {
    fn describe() -> PluginInfo {
        output_format::info(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
    }

    fn validate_config(config: String) -> Result<(), PluginError> {
        check_mode(&config)
    }

    fn format(ctx: EvalContext, _outcome: AttestationResult) -> Result<Rendered, PluginError> {
        check_mode(&ctx.config)?;
        match ctx.config.as_str() {
            "stdout" => {
                // 1 KiB of 'x' per print!, forever. Once the host's stdout bound is reached the
                // write fails, print! panics, and the panic traps (panic = "abort").
                let chunk = "x".repeat(1 << 10);
                loop {
                    print!("{}", black_box(chunk.as_str()));
                }
            }
            "body" => {
                Ok(Rendered { media_type: "text/plain".into(), body: black_box(vec![b'x'; BODY_BYTES]) })
            }
            _ => {
                let message = "l".repeat(LOG_LINE_BYTES);
                for _ in 0..LOG_LINES {
                    log(Level::Info, black_box(message.as_str()));
                }
                Ok(Rendered { media_type: "text/plain".into(), body: b"ok".to_vec() })
            }
        }
    }
}

cvm_attest_plugin_sdk::export_output_format!(HugeOutput);
