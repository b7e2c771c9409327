//! Test verifier (never installed): answers what its configuration scripts, without appraising
//! anything, so host tests can drive the verifier path and play a lying verifier.
//!
//! Configuration (JSON, optional): `{"claims": "<claims text, sent verbatim>", "steps": [["name",
//! "passed" | "failed" | "not-evaluated"], ...]}`. Without `claims`: MAA-shaped SNP claims. Without
//! `steps`: `fixed` (passed) and `nonce` (passed unless the expected nonce differs from the evidence's).

use cvm_attest_plugin_sdk::json::{self, Value};
use cvm_attest_plugin_sdk::verifier::{
    self, EvalContext, PluginError, PluginInfo, Step, StepStatus, Verified, VerifyRequest,
};

struct FixedClaims;

/// MAA-shaped claims for an Azure SEV-SNP confidential VM, returned when no config is given.
const DEFAULT_CLAIMS: &str = r#"{"x-ms-attestation-type":"azurevm","secureboot":true,"x-ms-isolation-tee":{"x-ms-attestation-type":"sevsnpvm","x-ms-compliance-status":"azure-compliant-cvm"}}"#;

impl verifier::Plugin for FixedClaims {
    fn describe() -> PluginInfo {
        verifier::info(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
    }

    fn validate_config(config: String) -> Result<(), PluginError> {
        script(&config).map(drop)
    }

    fn verify(ctx: EvalContext, request: VerifyRequest) -> Result<Verified, PluginError> {
        let script = script(&ctx.config)?;
        let claims = match script.get("claims").and_then(Value::as_str) {
            Some(claims) => claims.to_owned(),
            None => DEFAULT_CLAIMS.to_owned(),
        };
        let steps = match script.get("steps").and_then(Value::as_array) {
            Some(steps) => steps.iter().map(scripted_step).collect(),
            None => {
                let nonce = if request.expected_nonce == request.evidence.nonce {
                    step(
                        "nonce",
                        StepStatus::Passed,
                        "test verifier: the expected nonce equals the evidence nonce",
                    )
                } else {
                    step(
                        "nonce",
                        StepStatus::Failed,
                        "test verifier: the expected nonce differs from the evidence nonce",
                    )
                };
                vec![step("fixed", StepStatus::Passed, "test verifier: returns fixed claims"), nonce]
            }
        };
        Ok(Verified { claims, steps })
    }
}

fn script(config: &str) -> Result<Value, PluginError> {
    if config.trim().is_empty() {
        return Ok(Value::Null);
    }
    json::from_str(config).map_err(|e| PluginError::InvalidConfig(format!("not JSON: {e}")))
}

fn scripted_step(entry: &Value) -> Step {
    let field = |i: usize| entry.get(i).and_then(Value::as_str).unwrap_or_default();
    let status = match field(1) {
        "passed" => StepStatus::Passed,
        "failed" => StepStatus::Failed,
        _ => StepStatus::NotEvaluated,
    };
    step(field(0), status, "test verifier: scripted step")
}

fn step(name: &str, status: StepStatus, detail: &str) -> Step {
    Step { name: name.into(), status, detail: detail.into() }
}

cvm_attest_plugin_sdk::export_verifier!(FixedClaims);
