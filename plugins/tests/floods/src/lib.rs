//! Test plugin: hands the host more than it should keep, or text meant for a terminal, as its config
//! says, to prove the host bounds and escapes what it receives.
//!
//! `validate-config`: `error` returns an 8 MiB invalid-config message. `check`: `findings` fails with
//! 1 000 000 tiny findings, `some-findings` with 200 000, `long-findings` with 1 500 findings of 5 000
//! bytes each, `reason` answers indeterminate with an 8 MiB reason, `escapes` logs and returns text
//! with newlines and terminal escape sequences.

use std::hint::black_box;

use cvm_attest_plugin_sdk::claim_check::{
    self, EvalContext, Finding, Level, PluginError, PluginInfo, Verdict, log,
};

struct Floods;

/// A newline that forges a host log line, an ANSI colour, a title change and a right-to-left override.
const HOSTILE: &str = "first line\nERROR cvm_attest: forged\r\x1b[32mpass\x1b[0m\x1b]0;title\x07\u{202e}liaf";

fn findings(count: usize, message: &str) -> Verdict {
    let findings =
        (0..count).map(|_| Finding { code: "f".into(), message: message.into(), claim_path: None }).collect();
    Verdict::Fail(black_box(findings))
}

impl claim_check::Plugin for Floods {
    fn describe() -> PluginInfo {
        claim_check::info(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
    }

    fn validate_config(config: String) -> Result<(), PluginError> {
        if config == "error" {
            return Err(PluginError::InvalidConfig(black_box("e".repeat(8 << 20))));
        }
        Ok(())
    }

    fn check(ctx: EvalContext, _claims: String) -> Result<Verdict, PluginError> {
        Ok(match ctx.config.as_str() {
            "findings" => findings(1_000_000, "m"),
            "some-findings" => findings(200_000, "m"),
            "long-findings" => findings(1_500, &"m".repeat(5_000)),
            "reason" => Verdict::Indeterminate(black_box("r".repeat(8 << 20))),
            "escapes" => {
                log(Level::Warn, HOSTILE);
                Verdict::Fail(vec![Finding::at("/x", "hostile", HOSTILE)])
            }
            _ => Verdict::Pass,
        })
    }
}

cvm_attest_plugin_sdk::export_claim_check!(Floods);
