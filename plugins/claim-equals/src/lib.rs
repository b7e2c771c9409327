//! Claim check: every configured claim must equal its configured value.
//!
//! Config (JSON): an object from JSON Pointer to expected JSON value, e.g.
//! `{"/secureboot": true, "/x-ms-isolation-tee/x-ms-attestation-type": "sevsnpvm"}`.

use cvm_attest_plugin_sdk::json::{self, Value, value::RawValue};
use cvm_attest_plugin_sdk::{ClaimCheck, Claims, EvalContext, Finding, PluginError, Verdict};

struct ClaimEquals;

/// The rules in the order written: a JSON Pointer and the value the claim there must equal.
fn parse_config(config: &str) -> Result<Vec<(String, Value)>, PluginError> {
    const SHAPE: &str = "expected a JSON object of {\"/claim/pointer\": value}";
    let invalid = |why: String| PluginError::InvalidConfig(why);
    let object = Claims::parse(config).map_err(|e| invalid(format!("{SHAPE}, but {}", e.0)))?;
    let members: Vec<_> = object.members().collect();
    let pointers: Vec<&str> = members.iter().map(|(p, _)| *p).collect();
    if pointers.is_empty() {
        return Err(invalid("no claims configured: a check that checks nothing would always pass".into()));
    }
    if let Some(bad) = pointers.iter().find(|p| !p.starts_with('/')) {
        return Err(invalid(format!("'{bad}' is not a JSON Pointer; write it as \"/{bad}\"")));
    }
    // Strict: a repeated pointer would silently drop one of the operator's rules.
    let repeated = pointers.iter().enumerate().find(|&(i, p)| pointers[..i].contains(p));
    if let Some((_, twice)) = repeated {
        return Err(invalid(format!("'{twice}' is configured twice; keep one rule for it")));
    }
    let value = |raw: &RawValue| json::from_str(raw.get()).map_err(|e| invalid(e.to_string()));
    members.iter().map(|(p, raw)| Ok((p.to_string(), value(raw)?))).collect()
}

impl ClaimCheck for ClaimEquals {
    fn validate_config(config: &str) -> Result<(), PluginError> {
        parse_config(config).map(drop)
    }

    fn check(ctx: &EvalContext, claims: &Claims) -> Result<Verdict, PluginError> {
        let rules = parse_config(&ctx.config)?;
        let findings: Vec<Finding> = rules
            .iter()
            .filter_map(|(path, expected)| match claims.get(path) {
                Some(actual) if actual == *expected => None,
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

cvm_attest_plugin_sdk::export!(ClaimEquals as ClaimCheck);
