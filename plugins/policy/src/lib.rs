//! Claim check: declarative rules over JSON-Pointer claim paths, each failure a finding that names
//! the rule, the claim, what was expected and what was found.
//!
//! Config (JSON):
//!
//! ```json
//! { "rules": [
//!   { "name": "secure boot", "claim": "/secureboot", "equals": true },
//!   { "name": "SEV-SNP or TDX", "claim": "/x-ms-isolation-tee/x-ms-attestation-type", "one_of": ["sevsnpvm", "tdxvm"] },
//!   { "name": "SNP firmware", "claim": "/x-ms-isolation-tee/x-ms-sevsnpvm-snpfw-svn", "min": 8, "missing": "indeterminate" },
//!   { "name": "known image", "claim": "/x-ms-isolation-tee/x-ms-sevsnpvm-launchmeasurement", "hex_one_of": ["4d4d…"] },
//!   { "name": "VM id", "claim": "/x-ms-azurevm-vmid", "regex": "^[0-9A-F-]{36}$" },
//!   { "name": "no test signing", "claim": "/x-ms-azurevm-testsigning-enabled", "present": false }
//! ] }
//! ```
//!
//! Each rule has exactly one test: `equals`, `one_of`, `min` and/or `max` (numbers), `regex` (on a
//! string), `hex_one_of` (hex strings, case ignored) or `present`. A missing claim fails the rule
//! unless the rule says `"missing": "indeterminate"`; `present: false` is the rule that wants it
//! missing.

use cvm_attest_plugin_sdk::json::{self, Value};
use cvm_attest_plugin_sdk::{ClaimCheck, Claims, EvalContext, Finding, PluginError, Verdict};
use serde::{Deserialize, Deserializer};

struct Policy;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    rules: Vec<Rule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Rule {
    name: Option<String>,
    claim: String,
    #[serde(default, deserialize_with = "given")]
    equals: Option<Value>,
    one_of: Option<Vec<Value>>,
    min: Option<f64>,
    max: Option<f64>,
    regex: Option<String>,
    hex_one_of: Option<Vec<String>>,
    present: Option<bool>,
    #[serde(default)]
    missing: Missing,
}

/// What a rule makes of a claim that is not there.
#[derive(Deserialize, Default, Clone, Copy, PartialEq)]
#[serde(rename_all = "lowercase")]
enum Missing {
    #[default]
    Fail,
    Indeterminate,
}

/// `"equals": null` is a rule too: present means given, whatever the value.
fn given<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// A rule's one test, checked and compiled.
enum Test {
    Equals(Value),
    OneOf(Vec<Value>),
    Range(Option<f64>, Option<f64>),
    Regex(regex_lite::Regex),
    HexOneOf(Vec<String>),
    Present(bool),
}

struct Checked {
    label: String,
    claim: String,
    test: Test,
    missing: Missing,
}

fn parse_config(config: &str) -> Result<Vec<Checked>, PluginError> {
    let invalid = PluginError::InvalidConfig;
    let config: Config = json::from_str(config).map_err(|e| {
        invalid(format!("{e}; expected {{\"rules\": [{{\"claim\": \"/pointer\", \"equals\": value}}, …]}}"))
    })?;
    if config.rules.is_empty() {
        return Err(invalid("no rules: a policy that checks nothing would always pass".into()));
    }
    config.rules.into_iter().enumerate().map(|(i, rule)| check_rule(i + 1, rule).map_err(invalid)).collect()
}

fn check_rule(number: usize, rule: Rule) -> Result<Checked, String> {
    let label = match &rule.name {
        Some(name) => format!("rule {number} ('{name}')"),
        None => format!("rule {number}"),
    };
    let fail = |why: &str| format!("{label}: {why}");
    if !rule.claim.starts_with('/') {
        return Err(fail(&format!(
            "claim '{}' is not a JSON Pointer; write \"/{}\"",
            rule.claim, rule.claim
        )));
    }
    let mut tests = Vec::new();
    if let Some(v) = rule.equals {
        tests.push(Test::Equals(v));
    }
    if let Some(list) = rule.one_of {
        if list.is_empty() {
            return Err(fail("one_of is empty: nothing could pass"));
        }
        tests.push(Test::OneOf(list));
    }
    if rule.min.is_some() || rule.max.is_some() {
        if let (Some(min), Some(max)) = (rule.min, rule.max)
            && min > max
        {
            return Err(fail(&format!("min {min} is above max {max}: nothing could pass")));
        }
        tests.push(Test::Range(rule.min, rule.max));
    }
    if let Some(pattern) = rule.regex {
        let regex = regex_lite::Regex::new(&pattern).map_err(|e| fail(&format!("regex: {e}")))?;
        tests.push(Test::Regex(regex));
    }
    if let Some(list) = rule.hex_one_of {
        if list.is_empty() {
            return Err(fail("hex_one_of is empty: nothing could pass"));
        }
        if let Some(bad) = list.iter().find(|h| h.is_empty() || !h.chars().all(|c| c.is_ascii_hexdigit())) {
            return Err(fail(&format!("'{bad}' in hex_one_of is not hex")));
        }
        tests.push(Test::HexOneOf(list.iter().map(|h| h.to_ascii_lowercase()).collect()));
    }
    if let Some(present) = rule.present {
        tests.push(Test::Present(present));
    }
    if tests.len() != 1 {
        return Err(fail(&format!(
            "has {} tests; give exactly one of equals, one_of, min/max, regex, hex_one_of, present",
            tests.len()
        )));
    }
    let test = tests.remove(0);
    Ok(Checked { label, claim: rule.claim, test, missing: rule.missing })
}

/// Why the claim `actual` fails `test`, if it does.
fn failure(test: &Test, actual: &Value) -> Option<String> {
    let found = format!("found {actual}");
    match test {
        Test::Equals(expected) => (actual != expected).then(|| format!("expected {expected}, {found}")),
        Test::OneOf(list) => (!list.contains(actual)).then(|| {
            let list: Vec<String> = list.iter().map(Value::to_string).collect();
            format!("expected one of {}, {found}", list.join(", "))
        }),
        Test::Range(min, max) => {
            let Some(n) = actual.as_f64() else { return Some(format!("expected a number, {found}")) };
            if let Some(min) = min.filter(|&m| n < m) {
                return Some(format!("expected at least {min}, {found}"));
            }
            max.filter(|&m| n > m).map(|max| format!("expected at most {max}, {found}"))
        }
        Test::Regex(regex) => match actual.as_str() {
            Some(s) if regex.is_match(s) => None,
            Some(_) => Some(format!("expected a match of /{}/, {found}", regex.as_str())),
            None => Some(format!("expected a string, {found}")),
        },
        Test::HexOneOf(list) => match actual.as_str() {
            Some(s) if list.contains(&s.to_ascii_lowercase()) => None,
            _ => Some(format!("expected one of {} allowed values (hex, case ignored), {found}", list.len())),
        },
        Test::Present(true) => None,
        Test::Present(false) => Some(format!("expected no such claim, {found}")),
    }
}

impl ClaimCheck for Policy {
    fn validate_config(config: &str) -> Result<(), PluginError> {
        parse_config(config).map(drop)
    }

    fn check(ctx: &EvalContext, claims: &Claims) -> Result<Verdict, PluginError> {
        let rules = parse_config(&ctx.config)?;
        let mut findings = Vec::new();
        let mut undecided = Vec::new();
        for rule in &rules {
            let why = match (claims.get(&rule.claim), &rule.test) {
                (None, Test::Present(false)) => None,
                (None, _) if rule.missing == Missing::Indeterminate => {
                    undecided.push(format!("{}: {} is absent", rule.label, rule.claim));
                    None
                }
                (None, _) => Some("the claim is absent".to_owned()),
                (Some(actual), test) => failure(test, &actual),
            };
            if let Some(why) = why {
                findings.push(Finding::at(&rule.claim, "policy-rule", format!("{}: {why}", rule.label)));
            }
        }
        Ok(if !findings.is_empty() {
            Verdict::Fail(findings)
        } else if !undecided.is_empty() {
            Verdict::Indeterminate(undecided.join("; "))
        } else {
            Verdict::Pass
        })
    }
}

cvm_attest_plugin_sdk::export!(Policy as ClaimCheck);
