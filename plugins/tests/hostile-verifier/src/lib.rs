//! Test verifier: misbehaves as its config says, to prove the host bounds a verifier's answer and
//! its time. `sleep` sleeps an hour first; `steps` returns 1 000 steps; `step-name` a step named
//! with 1 KiB; `detail` a step whose detail is 1 MiB. Otherwise (and after sleeping) it returns
//! one passed step and fixed claims.

use std::hint::black_box;
use std::time::Duration;

use cvm_attest_plugin_sdk::verifier::{
    self, EvalContext, PluginError, PluginInfo, Step, StepStatus, Verified, VerifyRequest,
};

struct HostileVerifier;

fn step(name: String, detail: String) -> Step {
    Step { name, status: StepStatus::Passed, detail }
}

impl verifier::Plugin for HostileVerifier {
    fn describe() -> PluginInfo {
        verifier::info(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
    }

    fn validate_config(_config: String) -> Result<(), PluginError> {
        Ok(())
    }

    fn verify(ctx: EvalContext, _request: VerifyRequest) -> Result<Verified, PluginError> {
        let steps = match ctx.config.as_str() {
            "sleep" => {
                std::thread::sleep(Duration::from_secs(3600));
                vec![step("slept".into(), "slept an hour".into())]
            }
            "steps" => (0..1000).map(|i| step(format!("step-{i}"), "ok".into())).collect(),
            "step-name" => vec![step("n".repeat(1024), "ok".into())],
            "detail" => vec![step("detail".into(), "d".repeat(1 << 20))],
            _ => vec![step("fixed".into(), "ok".into())],
        };
        Ok(Verified { claims: r#"{"x-ms-attestation-type":"azurevm"}"#.into(), steps: black_box(steps) })
    }
}

cvm_attest_plugin_sdk::export_verifier!(HostileVerifier);
