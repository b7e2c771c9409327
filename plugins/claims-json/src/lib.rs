//! Output format: the result as one JSON document, `cvm-attest/claims/v1` (schema:
//! `docs/schemas/claims-v1.schema.json`). Normalised for the reader: `tee` holds the TEE's claims
//! wherever the token put them — under `x-ms-isolation-tee` in a guest (`azurevm`) token, at the top
//! of a platform (`sevsnpvm`, `tdxvm`) token — so `tee["x-ms-sevsnpvm-vmpl"]` reads the same in both.

use cvm_attest_plugin_sdk::json::{self, Value, json};
use cvm_attest_plugin_sdk::{AttestationResult, EvalContext, OutputFormat, PluginError, Rendered, Verdict};

struct ClaimsJson;

impl OutputFormat for ClaimsJson {
    fn format(_ctx: &EvalContext, outcome: &AttestationResult) -> Result<Rendered, PluginError> {
        let claims: Value = json::from_str(&outcome.claims)
            .map_err(|e| PluginError::InvalidInput(format!("claims are not JSON: {e}")))?;
        if !claims.is_object() {
            return Err(PluginError::InvalidInput("claims must be a JSON object".into()));
        }
        let tee = match claims.get("x-ms-isolation-tee") {
            Some(nested @ Value::Object(_)) => nested.clone(),
            _ => claims.clone(),
        };
        let platform = tee.get("x-ms-attestation-type").and_then(Value::as_str).map(str::to_owned);
        let checks: Vec<Value> = outcome
            .checks
            .iter()
            .map(|c| {
                let (verdict, reason, findings) = match &c.verdict {
                    Verdict::Pass => ("pass", None, Vec::new()),
                    Verdict::Indeterminate(why) => ("indeterminate", Some(why.as_str()), Vec::new()),
                    Verdict::Fail(findings) => ("fail", None, findings.iter().collect()),
                };
                let findings: Vec<Value> = findings
                    .into_iter()
                    .map(|f| json!({"code": f.code, "message": f.message, "claim_path": f.claim_path}))
                    .collect();
                json!({
                    "plugin": c.plugin, "version": c.version, "digest": c.digest,
                    "verdict": verdict, "reason": reason, "findings": findings,
                })
            })
            .collect();
        let passed = outcome.passed();
        let document = json!({
            "schema": "cvm-attest/claims/v1",
            "passed": passed,
            "verifier": outcome.verifier,
            "platform": platform,
            "checks": checks,
            "tee": tee,
            "claims": claims,
        });
        let body = format!("{document:#}\n").into_bytes();
        Ok(Rendered::json(body))
    }
}

cvm_attest_plugin_sdk::export!(ClaimsJson as OutputFormat);
