//! Output format: every claim with its value and what it means, in English and Korean — the
//! workshop's table of claims, for all of them. Claims not in the table are marked as unknown.

mod meanings;

use std::fmt::Write;

use cvm_attest_plugin_sdk::json::Value;
use cvm_attest_plugin_sdk::{AttestationResult, EvalContext, OutputFormat, PluginError, Rendered};

struct Explain;

/// Values longer than this are cut (measurements, keys): the claim's meaning is the point here.
const MAX_VALUE_CHARS: usize = 72;

impl OutputFormat for Explain {
    fn format(_ctx: &EvalContext, outcome: &AttestationResult) -> Result<Rendered, PluginError> {
        let claims: Value = cvm_attest_plugin_sdk::json::from_str(&outcome.claims)
            .map_err(|e| PluginError::InvalidInput(format!("claims are not JSON: {e}")))?;
        let Value::Object(claims) = claims else {
            return Err(PluginError::InvalidInput("claims must be a JSON object".into()));
        };
        let passed = outcome.passed();
        let mut out = String::new();
        let verdict = if passed { "PASS" } else { "FAIL" };
        let _ = writeln!(out, "attestation: {verdict} (verifier {})\n", outcome.verifier);
        for (name, value) in &claims {
            // A guest token nests the TEE's claims: they are explained one by one too.
            match (name.as_str(), value) {
                ("x-ms-isolation-tee", Value::Object(tee)) => {
                    let _ = writeln!(out, "x-ms-isolation-tee: the TEE's own claims (SEV-SNP or TDX)");
                    let _ = writeln!(out, "    TEE(SEV-SNP 또는 TDX) 자체의 클레임");
                    for (name, value) in tee {
                        explain(&mut out, &format!("x-ms-isolation-tee/{name}"), name, value);
                    }
                }
                _ => explain(&mut out, name, name, value),
            }
        }
        Ok(Rendered::text(out))
    }
}

fn explain(out: &mut String, path: &str, name: &str, value: &Value) {
    let _ = writeln!(out, "{path} = {}", shown(value));
    let family = || meanings::FAMILIES.iter().find(|(prefix, ..)| name.starts_with(prefix));
    match meanings::MEANINGS.iter().find(|(n, ..)| *n == name).or_else(family) {
        Some((_, en, ko)) => {
            let _ = writeln!(out, "    {en}\n    {ko}");
        }
        None => {
            let _ = writeln!(out, "    (unknown claim: not in cvm-attest's table)\n    (알 수 없는 클레임)");
        }
    }
}

/// A value on one line: strings as they are, anything else as JSON; long ones cut.
fn shown(value: &Value) -> String {
    let text = value.as_str().map_or_else(|| value.to_string(), str::to_owned);
    let text: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    match text.char_indices().nth(MAX_VALUE_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

cvm_attest_plugin_sdk::export!(Explain as OutputFormat);
