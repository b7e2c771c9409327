// An output format: render the whole attestation result.

use cvm_attest_plugin_sdk::{AttestationResult, EvalContext, OutputFormat, PluginError, Rendered};

struct Format;

impl OutputFormat for Format {
    fn format(_ctx: &EvalContext, result: &AttestationResult) -> Result<Rendered, PluginError> {
        let claims = result.claims()?;
        let tee = claims.str("/x-ms-isolation-tee/x-ms-attestation-type").unwrap_or_default();
        Ok(Rendered::text(format!("{} {tee}\n", if result.passed() { "pass" } else { "fail" })))
    }
}

cvm_attest_plugin_sdk::export!(Format as OutputFormat);
