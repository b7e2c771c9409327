//! The attestation policy this simulator applies, as the shared instances behave for a client: a VM
//! whose Secure Boot is off is refused (docs/protocol.md §10.5), with MAA's error document naming the
//! claim; everything else is permitted. [`POLICY`] is its text, whose hash every token carries.

use serde_json::{Map, Value, json};

use super::error::MaaError;

/// The policy, in MAA's policy language.
pub const POLICY: &str = "version= 1.0;\nauthorizationrules\n{\n    [type==\"secureboot\", value==false] => deny();\n    => permit();\n};\nissuancerules\n{\n};\n";

/// `claims` as the policy judges them: a refusal is HTTP 400 `PolicyEvaluationError`, inner
/// `PolicyValidationFailure`, with a `PolicyFailureClaim` detail naming the claim and its value, the
/// shape of MAA's own answer.
pub(super) fn authorize(claims: &Map<String, Value>) -> Result<(), MaaError> {
    match claims.get("secureboot") {
        Some(Value::Bool(false)) => {
            Err(MaaError::new(400, "PolicyEvaluationError", "Policy evaluation failed.").with_inner(json!({
                "code": "PolicyValidationFailure",
                "details": [{ "code": "PolicyFailureClaim", "target": "secureboot", "value": "false" }],
            })))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_secure_boot_off_and_nothing_else() {
        let claims = |value: Value| json!({ "secureboot": value }).as_object().cloned().unwrap_or_default();
        assert_eq!(authorize(&claims(json!(true))), Ok(()));
        assert_eq!(authorize(&Map::new()), Ok(()));
        let refused = authorize(&claims(json!(false))).unwrap_err();
        assert_eq!((refused.status, refused.code), (400, "PolicyEvaluationError"));
        assert_eq!(
            refused.inner.as_ref().and_then(|i| i["details"][0]["target"].as_str()),
            Some("secureboot")
        );
    }
}
