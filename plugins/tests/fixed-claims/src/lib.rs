//! Test verifier (never installed): returns fixed or configured claims without appraising anything, so host tests can drive the verifier path without real evidence.

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

    fn validate_config(_config: String) -> Result<(), PluginError> {
        Ok(())
    }

    fn verify(ctx: EvalContext, request: VerifyRequest) -> Result<Verified, PluginError> {
        let claims = if ctx.config.is_empty() { DEFAULT_CLAIMS.to_owned() } else { ctx.config };
        let nonce = if request.expected_nonce == request.evidence.nonce {
            Step {
                name: "nonce".into(),
                status: StepStatus::Passed,
                detail: "test verifier: the expected nonce equals the evidence nonce".into(),
            }
        } else {
            Step {
                name: "nonce".into(),
                status: StepStatus::Failed,
                detail: "test verifier: the expected nonce differs from the evidence nonce".into(),
            }
        };
        let fixed = Step {
            name: "fixed".into(),
            status: StepStatus::Passed,
            detail: "test verifier: returns fixed claims".into(),
        };
        Ok(Verified { claims, steps: vec![fixed, nonce] })
    }
}

cvm_attest_plugin_sdk::export_verifier!(FixedClaims);
