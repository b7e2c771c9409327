//! Claim check: every configured claim must equal its configured value.
//!
//! Config (JSON): an object from JSON Pointer to expected JSON value, e.g.
//! `{"/secureboot": true, "/x-ms-isolation-tee/x-ms-attestation-type": "sevsnpvm"}`.

use cvm_attest_plugin_sdk::Claims;
use cvm_attest_plugin_sdk::claim_check::{self, EvalContext, Finding, PluginError, PluginInfo, Verdict};
use cvm_attest_plugin_sdk::json::{Map, Value};

struct ClaimEquals;

fn parse_config(config: &str) -> Result<Map<String, Value>, PluginError> {
    let invalid = |why: String| PluginError::InvalidConfig(why);
    // Strict: a repeated pointer would silently drop one of the operator's rules.
    let rules = match cvm_attest_formats::json::from_str(config) {
        Ok(Value::Object(rules)) => rules,
        Ok(_) => return Err(invalid("expected a JSON object of {\"/claim/pointer\": value}".into())),
        Err(e) => {
            return Err(invalid(format!("config is not JSON ({e}); expected {{\"/claim/pointer\": value}}")));
        }
    };
    if rules.is_empty() {
        return Err(invalid("no claims configured: a check that checks nothing would always pass".into()));
    }
    if let Some(bad) = rules.keys().find(|k| !k.starts_with('/')) {
        return Err(invalid(format!("'{bad}' is not a JSON Pointer; write it as \"/{bad}\"")));
    }
    Ok(rules)
}

impl claim_check::Plugin for ClaimEquals {
    fn describe() -> PluginInfo {
        claim_check::info(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
    }

    fn validate_config(config: String) -> Result<(), PluginError> {
        parse_config(&config).map(drop)
    }

    fn check(ctx: EvalContext, claims: String) -> Result<Verdict, PluginError> {
        let rules = parse_config(&ctx.config)?;
        let claims = Claims::parse(&claims)?;
        let findings: Vec<Finding> = rules
            .iter()
            .filter_map(|(path, expected)| match claims.get(path) {
                Some(actual) if actual == expected => None,
                Some(actual) => {
                    Some(Finding::at(path, "claim-mismatch", format!("expected {expected}, found {actual}")))
                }
                None => Some(Finding::at(
                    path,
                    "claim-missing",
                    format!("expected {expected}, but the claim is absent"),
                )),
            })
            .collect();
        Ok(if findings.is_empty() { Verdict::Pass } else { Verdict::Fail(findings) })
    }
}

cvm_attest_plugin_sdk::export_claim_check!(ClaimEquals);
