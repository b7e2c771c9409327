//! The host's own judgement of a verifier's answer: what it checks itself before any claim is
//! believed, whatever the verifier plugin said.

use cvm_attest_formats::bundle::EvidenceBundle;
use cvm_attest_formats::hcl::HclReport;

use crate::plugins::types;

/// Why the host does not accept a verifier's answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// The verifier itself rejected the evidence.
    #[error("verification failed at step `{step}`: {detail}")]
    FailedStep { step: String, detail: String },
    /// The verifier passed nothing: an answer that looked at nothing is no answer.
    #[error("verifier `{verifier}` reported no passed step, so it vouched for nothing")]
    NothingPassed { verifier: String },
    /// The claims are not a JSON object the host can hand on.
    #[error("verifier `{verifier}` returned claims that are not a JSON object: {reason}")]
    BadClaims { verifier: String, reason: String },
    /// The host's own check of the nonce against the evidence failed.
    #[error(
        "the vTPM quote does not carry the expected nonce (host check): its qualifying data is {found}, \
         expected {expected}"
    )]
    Nonce { expected: String, found: String },
    /// Evidence without a vTPM quote: the host's own check of the nonce against the report's user
    /// data failed.
    #[error(
        "the report's user data does not carry the expected nonce (host check; the evidence has no vTPM \
         quote): found {found}, expected {expected}"
    )]
    UserData { expected: String, found: String },
}

/// Accept a verifier's answer, or say why not. Besides the verifier's own steps the host checks what
/// it can by itself: at least one step passed, the claims are one JSON object (no duplicate keys,
/// bounded depth), and, when a nonce is expected, that the vTPM quote's qualifying data is that nonce
/// as bound (evidence without a quote: the report's user data). What the host cannot check itself, the signatures and chains, is the verifier's word.
pub fn judge(
    verifier: &str,
    verified: &types::Verified,
    bundle: &EvidenceBundle,
    expected_nonce: Option<&[u8]>,
) -> Result<serde_json::Value, Rejection> {
    if let Some(step) = verified.steps.iter().find(|step| step.status == types::StepStatus::Failed) {
        return Err(Rejection::FailedStep { step: step.name.clone(), detail: step.detail.clone() });
    }
    if !verified.steps.iter().any(|step| step.status == types::StepStatus::Passed) {
        return Err(Rejection::NothingPassed { verifier: verifier.to_owned() });
    }
    let bad_claims = |reason: String| Rejection::BadClaims { verifier: verifier.to_owned(), reason };
    let claims = cvm_attest_formats::json::from_str::<serde_json::Value>(&verified.claims)
        .map_err(|e| bad_claims(e.to_string()))?;
    if !claims.is_object() {
        return Err(bad_claims("it is not an object".into()));
    }
    if let Some(expected) = expected_nonce {
        nonce_bound(bundle, expected)?;
    }
    Ok(claims)
}

fn nonce_bound(bundle: &EvidenceBundle, expected: &[u8]) -> Result<(), Rejection> {
    let Some(tpm) = &bundle.tpm else {
        let expected = cvm_attest_formats::nonce::user_data(expected);
        let found = HclReport::parse(&bundle.hcl_report)
            .ok()
            .and_then(|hcl| hcl.runtime_claims().ok())
            .and_then(|claims| claims.user_data);
        return match found {
            Some(found) if found == expected => Ok(()),
            _ => Err(Rejection::UserData {
                expected: hex::encode(expected),
                found: found.map_or_else(|| "none".to_owned(), hex::encode),
            }),
        };
    };
    let bound = cvm_attest_formats::nonce::bound(expected);
    let found = cvm_attest_formats::tpm::Attest::parse(&tpm.quote)
        .map(|quote| quote.extra_data().to_vec())
        .map_err(|e| Rejection::Nonce { expected: hex::encode(&bound), found: e.to_string() })?;
    if found != bound {
        return Err(Rejection::Nonce { expected: hex::encode(&bound), found: hex::encode(found) });
    }
    Ok(())
}
