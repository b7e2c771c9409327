// A verifier: appraise evidence and answer with claims and the steps that decided them.

use cvm_attest_plugin_sdk::{EvalContext, PluginError, Verified, Verifier, VerifyRequest};

struct Appraiser;

impl Verifier for Appraiser {
    fn verify(_ctx: &EvalContext, request: VerifyRequest) -> Result<Verified, PluginError> {
        // Appraise `request.evidence` here; until then, say so rather than vouch for anything.
        let _ = request;
        Err(PluginError::Unsupported("this verifier appraises nothing yet".into()))
    }
}

cvm_attest_plugin_sdk::export!(Appraiser as Verifier);
