//! Offline appraisal of Azure confidential VM evidence: the logic of the `offline-verifier` plugin,
//! kept here so the host's benchmarks and the simulator run the very same code natively.
//!
//! Appraisal is a list of named [`Step`]s run in order. It stops at the first failed step (everything
//! after it would rest on something untrusted); a step that cannot be decided without more input
//! (for example TDX TCB status without Intel collateral) is reported as [`Status::NotEvaluated`] and
//! does not stop it. Claims are produced only when no step failed.
//!
//! * [`anchors`]: the pinned roots (AMD ARK/ASK per processor generation, Intel SGX root), built in
//!   and replaceable by configuration.
//! * [`snp`]: VCEK chain, chip id, TCB, report signature and guest policy of an SEV-SNP report.
//! * [`tdx`]: TD quote, QE report and PCK chain, and the quote's agreement with the HCL TD report.
//! * [`vtpm`]: the vTPM quote and ephemeral key, checked against the AK the hardware report vouches for.

pub mod anchors;
pub mod claims;
pub mod snp;
pub mod tdx;
pub mod vtpm;

use serde::Serialize;

pub use anchors::TrustAnchors;

/// How one step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// The check was made and held.
    Passed,
    /// The check was made and did not hold: the evidence is rejected.
    Failed,
    /// The check could not be made (missing optional input); the detail says why.
    NotEvaluated,
}

/// One appraisal step, reported whatever its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// Stable, kebab-case name, e.g. `snp-report-signature`.
    pub name: &'static str,
    pub status: Status,
    /// One sentence: what was compared with what, or why it failed or was not evaluated.
    pub detail: String,
}

/// The steps of one appraisal, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Steps(Vec<Step>);

impl Steps {
    /// Record the outcome of a check. `Err` records a failure and returns `None`, so sections chain
    /// their steps with `?` and stop at the first failure.
    pub fn check(&mut self, name: &'static str, outcome: Result<String, String>) -> Option<()> {
        let (status, detail, result) = match outcome {
            Ok(detail) => (Status::Passed, detail, Some(())),
            Err(detail) => (Status::Failed, detail, None),
        };
        self.0.push(Step { name, status, detail });
        result
    }

    /// Record a check that could not be made.
    pub fn not_evaluated(&mut self, name: &'static str, why: impl Into<String>) {
        self.0.push(Step { name, status: Status::NotEvaluated, detail: why.into() });
    }

    /// The first failed step, if any.
    pub fn failure(&self) -> Option<&Step> {
        self.0.iter().find(|step| step.status == Status::Failed)
    }

    pub fn as_slice(&self) -> &[Step] {
        &self.0
    }
}
