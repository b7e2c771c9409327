//! A verification's outcome for people (a table of steps, each check, a conclusion) and for machines
//! (the stable `cvm-attest/verification/v1` JSON, a serde type that reads back what it writes).
//!
//! Everything a plugin or the evidence says is escaped before it reaches a terminal.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::pipeline::Outcome;
use crate::plugins::types;
use crate::text::sanitize;

/// Identifies the JSON layout of `verify -o json`.
pub const SCHEMA: &str = "cvm-attest/verification/v1";

/// `cvm-attest verify -o json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Verification {
    /// Always [`SCHEMA`].
    pub schema: String,
    pub evidence: EvidenceFile,
    pub verifier: Producer,
    /// The time validity, CRLs and collateral were judged at (RFC 3339): `--at`, or when it ran.
    pub judged_at: String,
    /// The evidence was verified (the verifier and the host's own checks accepted it).
    pub verified: bool,
    /// Every claim check passed (false when the evidence was not verified).
    pub checks_passed: bool,
    /// Both.
    pub accepted: bool,
    /// Why the evidence was not verified.
    pub rejection: Option<String>,
    pub steps: Vec<Step>,
    /// The verified claims (MAA's shape); null when not verified.
    pub claims: Option<Value>,
    /// What the evidence says that no signature covers; never among the claims.
    pub unverified: Unverified,
    pub checks: Vec<Check>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceFile {
    pub file: PathBuf,
    pub platform: String,
}

/// A plugin, for the audit trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Producer {
    pub name: String,
    pub version: String,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub name: String,
    /// `passed`, `failed` or `not-evaluated`.
    pub status: String,
    pub detail: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unverified {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<Os>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Os {
    #[serde(rename = "type")]
    pub os_type: String,
    pub distro: String,
    pub version_major: u32,
    pub version_minor: u32,
}

/// One claim check's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    pub plugin: String,
    pub version: String,
    pub sha256: String,
    pub verdict: Verdict,
}

/// A verdict: `{"result": "pass" | "fail" | "indeterminate", ...}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "lowercase", deny_unknown_fields)]
pub enum Verdict {
    Pass,
    Fail { findings: Vec<Finding> },
    Indeterminate { reason: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    pub code: String,
    pub message: String,
    /// JSON Pointer of the claim concerned.
    pub claim: Option<String>,
}

impl From<&types::Verdict> for Verdict {
    fn from(verdict: &types::Verdict) -> Verdict {
        match verdict {
            types::Verdict::Pass => Verdict::Pass,
            types::Verdict::Fail(findings) => Verdict::Fail {
                findings: findings
                    .iter()
                    .map(|f| Finding {
                        code: f.code.clone(),
                        message: f.message.clone(),
                        claim: f.claim_path.clone(),
                    })
                    .collect(),
            },
            types::Verdict::Indeterminate(reason) => Verdict::Indeterminate { reason: reason.clone() },
        }
    }
}

impl Check {
    pub fn of(outcome: &types::CheckOutcome) -> Check {
        Check {
            plugin: outcome.plugin.clone(),
            version: outcome.version.clone(),
            sha256: outcome.digest.clone(),
            verdict: Verdict::from(&outcome.verdict),
        }
    }
}

impl Verification {
    /// The JSON report of `outcome`, for the evidence read from `file`.
    pub fn of(file: &Path, outcome: &Outcome) -> Verification {
        let verified = outcome.judged.is_ok();
        Verification {
            schema: SCHEMA.to_owned(),
            evidence: EvidenceFile {
                file: file.to_owned(),
                platform: outcome.bundle.platform.name().to_owned(),
            },
            verifier: Producer {
                name: outcome.verifier.name.clone(),
                version: outcome.verifier.version.clone(),
                sha256: outcome.verifier.digest.clone(),
            },
            judged_at: outcome.judged_at(),
            verified,
            checks_passed: verified && outcome.failed_checks().is_empty(),
            accepted: outcome.accepted(),
            rejection: outcome.judged.as_ref().err().map(ToString::to_string),
            steps: outcome
                .verified
                .steps
                .iter()
                .map(|s| Step {
                    name: s.name.clone(),
                    status: status_name(s.status).to_owned(),
                    detail: s.detail.clone(),
                })
                .collect(),
            claims: outcome.judged.as_ref().ok().cloned(),
            unverified: Unverified {
                os: outcome.bundle.os.as_ref().map(|os| Os {
                    os_type: os.os_type.clone(),
                    distro: os.distro.clone(),
                    version_major: os.version_major,
                    version_minor: os.version_minor,
                }),
            },
            checks: outcome.checks.iter().map(Check::of).collect(),
        }
    }
}

/// The table of steps, each check, and the conclusion; `color` for a terminal.
pub fn text(file: &Path, outcome: &Outcome, color: bool) -> String {
    let verifier = &outcome.verifier;
    let mut s = format!(
        "{} ({}) appraised by {} {} (sha256 {}…)\n\n",
        file.display(),
        outcome.bundle.platform.name(),
        verifier.name,
        verifier.version,
        verifier.digest.get(..12).unwrap_or(&verifier.digest)
    );
    let steps = &outcome.verified.steps;
    let width = steps.iter().map(|step| step.name.len()).max().unwrap_or(0).min(40);
    for step in steps {
        let (mark, paint) = match step.status {
            types::StepStatus::Passed => ("pass", "32"),
            types::StepStatus::Failed => ("FAIL", "31"),
            types::StepStatus::NotEvaluated => ("n/a ", "33"),
        };
        let mark = if color { format!("\x1b[{paint}m{mark}\x1b[0m") } else { mark.to_owned() };
        s.push_str(&format!("  {mark}  {:width$}  {}\n", sanitize(&step.name), sanitize(&step.detail)));
    }
    if let Some(os) = &outcome.bundle.os {
        s.push_str(&format!(
            "\n  unverified (signed by nothing, so not among the claims): os {} {} {}.{}\n",
            sanitize(&os.os_type),
            sanitize(&os.distro),
            os.version_major,
            os.version_minor
        ));
    }
    for check in &outcome.checks {
        s.push_str(&verdict_text(&format!("\n  check {}", check.plugin), &check.verdict));
    }
    s.push_str(&format!("\n{}\n", conclusion(outcome)));
    s
}

/// The conclusion, in one line.
pub fn conclusion(outcome: &Outcome) -> String {
    match (&outcome.judged, outcome.failed_checks().as_slice()) {
        (Err(rejection), _) => format!("NOT verified: {}", sanitize(&rejection.to_string())),
        (Ok(_), []) if outcome.checks.is_empty() => "verified".to_owned(),
        (Ok(_), []) => "verified; every check passed".to_owned(),
        (Ok(_), failed) => format!("evidence verified; check(s) FAILED: {}", failed.join(", ")),
    }
}

/// A verdict for people; everything the plugin wrote is escaped (it must not drive the terminal).
pub fn verdict_text(name: &str, verdict: &types::Verdict) -> String {
    match verdict {
        types::Verdict::Pass => format!("{name}: pass\n"),
        types::Verdict::Indeterminate(reason) => format!("{name}: indeterminate: {}\n", sanitize(reason)),
        types::Verdict::Fail(findings) => {
            let mut s = format!("{name}: FAIL\n");
            for f in findings {
                s.push_str(&format!(
                    "  {} {}: {}\n",
                    sanitize(&f.code),
                    sanitize(f.claim_path.as_deref().unwrap_or("-")),
                    sanitize(&f.message)
                ));
            }
            s
        }
    }
}

fn status_name(status: types::StepStatus) -> &'static str {
    match status {
        types::StepStatus::Passed => "passed",
        types::StepStatus::Failed => "failed",
        types::StepStatus::NotEvaluated => "not-evaluated",
    }
}
