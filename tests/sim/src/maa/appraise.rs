//! The one place the service verifies evidence: the project's own reader and appraisal
//! (`EvidenceBundle::from_maa_request`, `appraise::appraise`), never a second implementation.
//!
//! The expected nonce is the one the request claims, where the evidence can bind it: an AzureGuest
//! request's `ClientPayload.nonce` must be what the vTPM quoted (see [`expected_nonce`]). A
//! SevSnpVm/TdxVm `nonce` is only echoed, as MAA does.

use std::collections::BTreeMap;

use cvm_attest_formats::appraise::{self, Collateral, Status, Steps, TrustAnchors};
use cvm_attest_formats::bundle::{EvidenceBundle, MaaRequest, Timestamp};
use cvm_attest_formats::time::DateTime;
use serde_json::Value;

use super::error::MaaError;

/// What the service trusts and judges at.
#[derive(Debug, Clone)]
pub(super) struct Trust {
    pub anchors: TrustAnchors,
    /// Collateral by name (`formats::appraise::collateral::NAMES`), checked when the service starts.
    pub collateral: BTreeMap<String, Vec<u8>>,
    /// The time certificates and collateral are judged at; `None`: the time of the request.
    pub judge_at: Option<DateTime>,
}

/// Evidence that passed appraisal.
#[derive(Debug)]
pub(super) struct Appraised {
    pub bundle: EvidenceBundle,
    pub steps: Steps,
    pub claims: Value,
}

/// Read the request `body` of `kind` received at `now` and appraise it: the claims, or a 400
/// naming the first failed step and why.
pub(super) fn appraise(
    kind: MaaRequest,
    body: &[u8],
    trust: &Trust,
    now: &DateTime,
) -> Result<Appraised, MaaError> {
    let received_at = Timestamp::parse(now.as_str())
        .map_err(|e| MaaError::new(500, "InternalServerError", e.to_string()))?;
    let bundle = EvidenceBundle::from_maa_request(kind, body, received_at)
        .map_err(|e| MaaError::invalid_parameter(format!("The request is invalid: {e}")))?;
    let collateral =
        Collateral::from_named(trust.collateral.iter().map(|(name, data)| (name.as_str(), data.as_slice())))
            .map_err(|e| MaaError::new(500, "InternalServerError", e.to_string()))?;
    let policy = appraise::Policy {
        expected_nonce: expected_nonce(kind, &bundle),
        anchors: &trust.anchors,
        collateral,
        at: trust.judge_at.as_ref().unwrap_or(now),
    };
    let appraisal = appraise::appraise(&bundle, &policy);
    if let Some(step) = appraisal.steps.failure() {
        return Err(MaaError::invalid_parameter(format!(
            "Attestation failed: step `{}` failed: {}",
            step.name, step.detail
        )));
    }
    let claims = appraisal.claims.ok_or_else(|| {
        MaaError::invalid_parameter("Attestation failed: the appraisal produced no claims".to_owned())
    })?;
    Ok(Appraised { bundle, steps: appraisal.steps, claims })
}

/// The nonce appraisal expects for a request of `kind`, read as `bundle`.
///
/// AzureGuest: the request's own `ClientPayload.nonce` (the bundle's `nonce`). MAA echoes it as
/// `x-ms-runtime.client-payload`, and a relying party takes that echo as proof of freshness, so a
/// request that claims a nonce must have it bound (`vtpm-quote-nonce`: the quote's extraData; and,
/// with a fresh report, `report-user-data`): a token must never echo a nonce the vTPM did not quote.
/// A request without one expects none (MAA's own example request has no nonce and an empty
/// extraData).
///
/// SevSnpVm and TdxVm: none. Their `nonce` member is not part of the hardware evidence (the report's
/// report_data binds the runtime claims, not it), and MAA only echoes it as the `nonce` claim; so
/// does this (`claims.rs`), leaving it unchecked.
fn expected_nonce(kind: MaaRequest, bundle: &EvidenceBundle) -> Option<&[u8]> {
    match kind {
        MaaRequest::AzureGuest => bundle.nonce.as_deref(),
        MaaRequest::SevSnpVm | MaaRequest::TdxVm => None,
    }
}

/// The steps as `name=status` pairs, for the `x-cvm-attest-sim-steps` header: what was checked, and
/// what could not be (`not-evaluated`).
pub(super) fn summary(steps: &Steps) -> String {
    steps
        .as_slice()
        .iter()
        .map(|step| {
            let status = match step.status {
                Status::Passed => "passed",
                Status::Failed => "failed",
                Status::NotEvaluated => "not-evaluated",
            };
            format!("{}={status}", step.name)
        })
        .collect::<Vec<_>>()
        .join(", ")
}
