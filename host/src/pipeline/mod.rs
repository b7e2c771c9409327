//! The data path, as stages: evidence read ([`evidence`]) → verified by a verifier plugin and judged
//! by the host ([`judge`]) → checked by claim-check plugins → rendered ([`crate::render`]).
//!
//! A command resolves its arguments into a [`Request`] (loading plugins, reading files: that is where
//! the operator's mistakes surface, before anything is appraised) and hands it to [`run`]. `verify`
//! does so with a verifier plugin; `attest` will do the same with MAA standing for the verifier.

pub mod evidence;
pub mod judge;

use cvm_attest_formats::bundle::EvidenceBundle;
use cvm_attest_formats::time::DateTime;
use serde_json::Value;

pub use judge::Rejection;

use crate::plugins::{self, Plugin, types};

/// What one verification is asked to do.
#[derive(Debug)]
pub struct Request {
    pub bundle: EvidenceBundle,
    pub verifier: Plugin,
    /// The nonce the relying party issued, when freshness is to be checked.
    pub expected_nonce: Option<Vec<u8>>,
    /// The operator's trust anchors and collateral, read from their files.
    pub trust_anchors: Vec<types::Blob>,
    pub collateral: Vec<types::Blob>,
    /// Claim checks to run on the claims, once the evidence is verified.
    pub checks: Vec<Check>,
    /// The time the verifier and the checks judge validity and freshness at (Unix ms): the
    /// evaluation context's, which is also the plugins' wall clock.
    pub at_unix_ms: u64,
}

/// A claim-check plugin with the configuration it accepted.
#[derive(Debug)]
pub struct Check {
    pub plugin: Plugin,
    pub config: String,
}

impl Check {
    /// The check's outcome on `claims` (JSON text), judged at `at_unix_ms`.
    pub fn run(&self, claims: &str, at_unix_ms: u64) -> Result<types::CheckOutcome, plugins::Error> {
        let verdict =
            self.plugin.check(&plugins::eval_context_at(self.config.clone(), at_unix_ms), claims)?;
        Ok(outcome(&self.plugin, verdict))
    }
}

/// Who produced the claims, for the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Producer {
    pub name: String,
    pub version: String,
    /// SHA-256 (hex) of the verifier plugin's component.
    pub digest: String,
}

/// The result of the data path up to rendering.
#[derive(Debug)]
pub struct Outcome {
    pub bundle: EvidenceBundle,
    pub verifier: Producer,
    /// The verifier's answer as it gave it (steps, claims text).
    pub verified: types::Verified,
    /// The verified claims, or why the host does not accept them.
    pub judged: Result<Value, Rejection>,
    /// Every check's outcome, in order; none when the evidence was not accepted.
    pub checks: Vec<types::CheckOutcome>,
    /// What the verifier and the checks took as now (Unix ms).
    pub at_unix_ms: u64,
}

/// Verify, judge, check.
pub fn run(request: Request) -> Result<Outcome, plugins::Error> {
    let Request { bundle, verifier, expected_nonce, trust_anchors, collateral, checks, at_unix_ms } = request;
    let wit_request = evidence::request(&bundle, expected_nonce.clone(), trust_anchors, collateral);
    let config = verifier.manifest().default_config.clone().unwrap_or_default();
    let verified = verifier.verify(&plugins::eval_context_at(config, at_unix_ms), &wit_request)?;
    let judged = judge::judge(&verifier.manifest().name, &verified, &bundle, expected_nonce.as_deref());
    let checks = match &judged {
        Ok(_) => {
            checks.iter().map(|check| check.run(&verified.claims, at_unix_ms)).collect::<Result<_, _>>()?
        }
        Err(_) => Vec::new(),
    };
    let producer = Producer {
        name: verifier.manifest().name.clone(),
        version: verifier.manifest().version.clone(),
        digest: verifier.inspection().digest.clone(),
    };
    Ok(Outcome { bundle, verifier: producer, verified, judged, checks, at_unix_ms })
}

impl Outcome {
    /// [`Outcome::at_unix_ms`] as RFC 3339 (UTC, whole seconds).
    pub fn judged_at(&self) -> String {
        i64::try_from(self.at_unix_ms / 1000)
            .ok()
            .and_then(DateTime::from_unix_seconds)
            .map_or_else(|| format!("{} ms after 1970", self.at_unix_ms), |at| at.to_string())
    }

    /// The checks that did not pass (fail or indeterminate).
    pub fn failed_checks(&self) -> Vec<&str> {
        let failed = self.checks.iter().filter(|c| !matches!(c.verdict, types::Verdict::Pass));
        failed.map(|c| c.plugin.as_str()).collect()
    }

    /// Whether the evidence was verified and every check passed.
    pub fn accepted(&self) -> bool {
        self.judged.is_ok() && self.failed_checks().is_empty()
    }

    /// The result as output-format plugins see it. The verifier's own outcome comes first among the
    /// checks (named after the verifier; a failed step or the host's objection is its finding), so a
    /// format always knows whether the evidence was verified, within the 0.1 contract.
    pub fn attestation_result(&self) -> types::AttestationResult {
        let verdict = match &self.judged {
            Ok(_) => types::Verdict::Pass,
            Err(rejection) => types::Verdict::Fail(vec![types::Finding {
                code: match rejection {
                    Rejection::FailedStep { step, .. } => format!("step-failed:{step}"),
                    _ => "verification-rejected".to_owned(),
                },
                message: rejection.to_string(),
                claim_path: None,
            }]),
        };
        let verifier = types::CheckOutcome {
            plugin: self.verifier.name.clone(),
            version: self.verifier.version.clone(),
            digest: self.verifier.digest.clone(),
            verdict,
        };
        types::AttestationResult {
            claims: if self.judged.is_ok() { self.verified.claims.clone() } else { "{}".to_owned() },
            token: None,
            verifier: self.verifier.name.clone(),
            checks: std::iter::once(verifier).chain(self.checks.iter().cloned()).collect(),
        }
    }
}

fn outcome(plugin: &Plugin, verdict: types::Verdict) -> types::CheckOutcome {
    let manifest = plugin.manifest();
    types::CheckOutcome {
        plugin: manifest.name.clone(),
        version: manifest.version.clone(),
        digest: plugin.inspection().digest.clone(),
        verdict,
    }
}
