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
//! * [`revocation`]: the AMD and Intel CRLs (`snp-revocation`, `tdx-revocation`) and certificate
//!   validity at the time judged at.
//! * [`vtpm`]: the vTPM quote and ephemeral key, checked against the AK the hardware report vouches for.
//!
//! A failed step keeps why it failed as an [`AppraisalError`] ([`Step::error`]), one enum per section
//! ([`SnpError`], [`TdxError`], [`VtpmError`]) inside it; the error's message is the step's detail.

mod ak_cert;
pub mod anchors;
pub(crate) mod cert;
pub mod claims;
pub mod collateral;
mod error;
pub mod revocation;
mod show;
pub mod snp;
pub mod tdx;
pub mod vtpm;

use serde::Serialize;

use crate::bundle::{EvidenceBundle, Platform};
use crate::hcl::{HardwareReport, HclReport, RuntimeClaims};
use crate::nonce;
use crate::tdx::{TdQuote, TdReport};
use crate::time::DateTime;

pub use anchors::TrustAnchors;
pub use collateral::Collateral;
pub use error::{
    AppraisalError, CertError, PcrMismatch, RevocationError, SnpError, TdxError, ValidityError, VtpmError,
};

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
    /// Why a failed step failed, typed (its `Display` is `detail`); `None` for other steps.
    #[serde(skip)]
    pub error: Option<AppraisalError>,
}

/// The steps of one appraisal, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Steps(Vec<Step>);

impl Steps {
    /// Record the outcome of a check: `Ok` passes with its detail, `Err` fails with the error's
    /// message and returns `None`, so sections chain their steps with `?` and stop at the first
    /// failure.
    pub fn check<E: Into<AppraisalError>>(
        &mut self,
        name: &'static str,
        outcome: Result<String, E>,
    ) -> Option<()> {
        match outcome {
            Ok(detail) => {
                self.pass(name, detail);
                Some(())
            }
            Err(error) => self.fail(name, error),
        }
    }

    /// Record a check that held.
    pub fn pass(&mut self, name: &'static str, detail: impl Into<String>) {
        let detail = detail.into();
        self.0.push(Step { name, status: Status::Passed, detail, error: None });
    }

    /// Record a step that produces a value (parsing, mostly): `Ok` passes with `detail(&value)`, `Err`
    /// fails with the error's message.
    pub fn require<T, E: Into<AppraisalError>>(
        &mut self,
        name: &'static str,
        result: Result<T, E>,
        detail: impl FnOnce(&T) -> String,
    ) -> Option<T> {
        match result {
            Ok(value) => {
                self.pass(name, detail(&value));
                Some(value)
            }
            Err(error) => self.fail(name, error),
        }
    }

    /// Record a failed check; always `None`, to return with.
    pub fn fail<T>(&mut self, name: &'static str, error: impl Into<AppraisalError>) -> Option<T> {
        let error = error.into();
        self.0.push(Step { name, status: Status::Failed, detail: error.to_string(), error: Some(error) });
        None
    }

    /// Record a check that could not be made.
    pub fn not_evaluated(&mut self, name: &'static str, why: impl Into<String>) {
        self.0.push(Step { name, status: Status::NotEvaluated, detail: why.into(), error: None });
    }

    /// Whether a step of this name ran and passed.
    pub fn passed(&self, name: &str) -> bool {
        self.0.iter().any(|step| step.name == name && step.status == Status::Passed)
    }

    /// The first failed step, if any.
    pub fn failure(&self) -> Option<&Step> {
        self.0.iter().find(|step| step.status == Status::Failed)
    }

    pub fn as_slice(&self) -> &[Step] {
        &self.0
    }
}

/// What the relying party expects and trusts.
#[derive(Debug, Clone, Copy)]
pub struct Policy<'a> {
    /// The nonce the evidence must carry, when freshness is to be checked.
    pub expected_nonce: Option<&'a [u8]>,
    pub anchors: &'a TrustAnchors,
    pub collateral: Collateral<'a>,
    /// The time certificate validity, CRLs and collateral are judged at.
    pub at: &'a DateTime,
}

/// The outcome of one appraisal.
#[derive(Debug, Clone, PartialEq)]
pub struct Appraisal {
    pub steps: Steps,
    /// The claims (MAA's shape), only when no step failed.
    pub claims: Option<serde_json::Value>,
}

/// Appraise a whole bundle: hardware report and its endorsement, the runtime claims' binding to it,
/// the vTPM evidence against the AK the runtime claims vouch for, and the nonce. A Trusted Launch
/// VM has no hardware report: its vTPM evidence is appraised against the AK its certificate vouches
/// for. Evidence without vTPM evidence (an MAA SevSnpVm or TdxVm request) gets the platform claims
/// MAA gives such a request, of its hardware report alone.
pub fn appraise(bundle: &EvidenceBundle, policy: &Policy<'_>) -> Appraisal {
    let mut steps = Steps::default();
    let claims = match bundle.platform {
        Platform::AzureTrustedLaunch => trusted_launch(bundle, policy, &mut steps),
        Platform::AzureSevSnp | Platform::AzureTdx => appraise_steps(bundle, policy, &mut steps),
    };
    Appraisal { steps, claims }
}

fn trusted_launch(
    bundle: &EvidenceBundle,
    policy: &Policy<'_>,
    steps: &mut Steps,
) -> Option<serde_json::Value> {
    let Some(tpm) = &bundle.tpm else {
        return steps.fail("vtpm", AppraisalError::NoHardwareReport);
    };
    vtpm::appraise(tpm, vtpm::AkSource::Certificate, policy, bundle.event_log.as_deref(), steps)?;
    Some(claims::trusted_launch(tpm, policy.expected_nonce))
}

fn appraise_steps(
    bundle: &EvidenceBundle,
    policy: &Policy<'_>,
    steps: &mut Steps,
) -> Option<serde_json::Value> {
    let hcl = steps.require("hcl-report", HclReport::parse(&bundle.hcl_report), |hcl| {
        let what = match (hcl.hardware_report(), &bundle.td_quote) {
            (HardwareReport::TrustedLaunch, Some(_)) => {
                "the runtime claims alone (an MAA request's; the TD quote is the hardware evidence)"
                    .to_owned()
            }
            _ => format!("{} hardware report", hcl.report_type()),
        };
        format!("{} bytes, version {}, {what}", hcl.as_bytes().len(), hcl.header().version)
    })?;
    let td_quote: TdQuote;
    let mut tdx_tcb = None;
    let (hardware, binding) = match (hcl.hardware_report(), bundle.platform) {
        (HardwareReport::Snp(report), Platform::AzureSevSnp) => {
            let chain = bundle.vcek_chain.as_deref();
            snp::appraise(report, chain, policy.anchors, &policy.collateral, policy.at, steps)?;
            (claims::Hardware::Snp(report), hcl.verify_binding())
        }
        (HardwareReport::Tdx(raw), Platform::AzureTdx) => {
            let td_report = steps.require("tdx-td-report", TdReport::parse(raw.as_bytes()), |_| {
                "the HCL report holds a 1024-byte TDX TD report".to_owned()
            })?;
            td_quote = tdx_quote(bundle, steps)?;
            tdx_tcb = tdx::appraise(
                &td_quote,
                Some(&td_report),
                policy.anchors,
                &policy.collateral,
                policy.at,
                steps,
            )?;
            (claims::Hardware::Tdx(&td_quote), hcl.verify_binding())
        }
        // An MAA request's TDX evidence: the quote binds the runtime claims itself.
        (HardwareReport::TrustedLaunch, Platform::AzureTdx) if bundle.td_quote.is_some() => {
            td_quote = tdx_quote(bundle, steps)?;
            tdx_tcb = tdx::appraise(&td_quote, None, policy.anchors, &policy.collateral, policy.at, steps)?;
            (claims::Hardware::Tdx(&td_quote), hcl.verify_binding_to(td_quote.body().report_data))
        }
        (HardwareReport::TrustedLaunch, _) => {
            return steps.fail("hardware-report", AppraisalError::NoHardwareReport);
        }
        (_, platform) => {
            let mismatch = AppraisalError::PlatformMismatch {
                platform: platform.name(),
                report_type: hcl.report_type(),
            };
            return steps.fail("hardware-report", mismatch);
        }
    };
    steps.check(
        "hcl-binding",
        binding.map(|()| "the hardware report's report_data is SHA-256 of the runtime claims".to_owned()),
    )?;
    let runtime = steps.require("runtime-claims", hcl.runtime_claims(), |claims| {
        format!("vmUniqueId {}", claims.vm_configuration.vm_unique_id)
    })?;
    let mut claims = match &bundle.tpm {
        Some(tpm) => {
            let event_log = bundle.event_log.as_deref();
            vtpm::appraise(tpm, vtpm::AkSource::Hcl(&runtime), policy, event_log, steps)?;
            report_user_data(&runtime, policy.expected_nonce, true, steps)?;
            claims::azure_vm(tpm, &hcl, &runtime, hardware, policy.expected_nonce, steps)
        }
        None => {
            steps.not_evaluated(
                "vtpm",
                "the evidence has no vTPM part (an MAA SevSnpVm or TdxVm request): the hardware report \
                 and its runtime claims are all there is to appraise",
            );
            report_user_data(&runtime, policy.expected_nonce, false, steps)?;
            claims::platform(&hcl, hardware, steps)
        }
    };
    if let Some(verdict) = &tdx_tcb {
        claims::add_tdx_tcb(&mut claims, verdict);
    }
    Some(claims)
}

/// The `tdx-quote` step: the bundle's TD quote, parsed.
fn tdx_quote(bundle: &EvidenceBundle, steps: &mut Steps) -> Option<TdQuote> {
    let quote = match &bundle.td_quote {
        Some(bytes) => TdQuote::parse(bytes).map_err(AppraisalError::from),
        None => Err(AppraisalError::MissingTdQuote),
    };
    steps.require("tdx-quote", quote, |q| format!("TD quote version {}", q.header().version))
}

/// With a fresh report, the runtime claims' `user-data` is the nonce (zero-padded, or its SHA-512).
/// A report never regenerated has zero user data: the vTPM quote alone then carries freshness, and
/// without one (`quoted` false) nothing does, so an expected nonce fails.
fn report_user_data(
    runtime: &RuntimeClaims,
    expected: Option<&[u8]>,
    quoted: bool,
    steps: &mut Steps,
) -> Option<()> {
    const NAME: &str = "report-user-data";
    let Some(expected) = expected else {
        steps.not_evaluated(NAME, "no expected nonce given");
        return Some(());
    };
    let fresh = runtime.user_data.is_some_and(|data| data != [0; 64]);
    if !fresh && !quoted {
        return steps.fail(NAME, AppraisalError::NonceUnbound);
    }
    match runtime.user_data {
        None => {
            steps.not_evaluated(NAME, "the runtime claims have no user-data; the quote carries the nonce")
        }
        Some(data) if data == [0; 64] => steps.not_evaluated(
            NAME,
            "the report was not regenerated with user data (all zero); the vTPM quote carries the nonce",
        ),
        Some(data) => {
            let outcome = if data == nonce::user_data(expected) {
                Ok("the fresh HCL report's user-data is the expected nonce".to_owned())
            } else {
                Err(AppraisalError::UserDataMismatch { found: data.to_vec() })
            };
            steps.check(NAME, outcome)?;
        }
    }
    Some(())
}
