//! Test plugin: blocks in WASI calls instead of spinning, to prove no host call can outlast a deadline.
//!
//! `describe` always sleeps an hour (it has no input to choose by). `validate-config` sleeps an hour
//! when the config is `sleep`. `check` with config `sleep` sleeps an hour, with `stdin` reads stdin
//! to its end, and reports what the clocks say afterwards.

use std::io::Read;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cvm_attest_plugin_sdk::claim_check::{self, EvalContext, PluginError, PluginInfo, Verdict};

struct Sleeps;

const HOUR: Duration = Duration::from_secs(3600);

impl claim_check::Plugin for Sleeps {
    fn describe() -> PluginInfo {
        std::thread::sleep(HOUR);
        claim_check::info(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
    }

    fn validate_config(config: String) -> Result<(), PluginError> {
        if config == "sleep" {
            std::thread::sleep(HOUR);
        }
        Ok(())
    }

    fn check(ctx: EvalContext, _claims: String) -> Result<Verdict, PluginError> {
        let wall = |t: SystemTime| t.duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or_default();
        let (start, wall_start) = (Instant::now(), SystemTime::now());
        let what = match ctx.config.as_str() {
            "sleep" => {
                std::thread::sleep(HOUR);
                "slept an hour".to_owned()
            }
            "stdin" => {
                let mut input = Vec::new();
                let read = std::io::stdin().read_to_end(&mut input);
                format!("read stdin: {read:?}")
            }
            _ => return Ok(Verdict::Pass),
        };
        Ok(Verdict::Indeterminate(format!(
            "{what}; monotonic clock advanced {}s; wall clock {} ms, advanced {} ms",
            start.elapsed().as_secs(),
            wall(wall_start),
            wall(SystemTime::now()) - wall(wall_start),
        )))
    }
}

cvm_attest_plugin_sdk::export_claim_check!(Sleeps);
