//! A verifier: appraise evidence and answer with claims and the steps that decided them.

use cvm_attest_plugin_sdk::verifier::{self, EvalContext, PluginError, PluginInfo, Verified, VerifyRequest};

struct Verifier;

impl verifier::Plugin for Verifier {
    fn describe() -> PluginInfo {
        verifier::info(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
    }

    fn validate_config(_config: String) -> Result<(), PluginError> {
        Ok(())
    }

    fn verify(_ctx: EvalContext, request: VerifyRequest) -> Result<Verified, PluginError> {
        // Appraise `request.evidence` here; until then, say so rather than vouch for anything.
        let _ = request;
        Err(PluginError::Unsupported("this verifier appraises nothing yet".into()))
    }
}

cvm_attest_plugin_sdk::export_verifier!(Verifier);
