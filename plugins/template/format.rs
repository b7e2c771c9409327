//! An output format: render the whole attestation result.

use cvm_attest_plugin_sdk::Claims;
use cvm_attest_plugin_sdk::output_format::{
    self, AttestationResult, EvalContext, PluginError, PluginInfo, Rendered, Verdict,
};

struct Format;

impl output_format::Plugin for Format {
    fn describe() -> PluginInfo {
        output_format::info(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
    }

    fn validate_config(_config: String) -> Result<(), PluginError> {
        Ok(())
    }

    fn format(_ctx: EvalContext, outcome: AttestationResult) -> Result<Rendered, PluginError> {
        let claims = Claims::parse(&outcome.claims)?;
        let passed = outcome.checks.iter().all(|c| matches!(c.verdict, Verdict::Pass));
        let tee = claims.str("/x-ms-isolation-tee/x-ms-attestation-type").unwrap_or_default();
        let body = format!("{} {tee}\n", if passed { "pass" } else { "fail" });
        Ok(Rendered { media_type: "text/plain; charset=utf-8".into(), body: body.into_bytes() })
    }
}

cvm_attest_plugin_sdk::export_output_format!(Format);
