//! The offline verifier: appraises Azure confidential VM evidence with no network; its one capability
//! is `crypto`, the host's native signature verification.
//!
//! All appraisal logic is `cvm_attest_formats::appraise`, shared with the host's benchmarks and the
//! simulator; this crate only translates between the WIT types and that library, and hands the
//! library's signature checks to the host (as wasm, P-384 and RSA-4096 run several times slower).

use std::collections::BTreeMap;

use cvm_attest_formats::appraise::{self, Collateral, Policy, Status, TrustAnchors};
use cvm_attest_formats::bundle::{
    EphemeralKey, EvidenceBundle, OsInfo, PcrBank, Pcrs, Platform, Timestamp, TpmEvidence,
};
use cvm_attest_formats::crypto::{self, Hash, Provider, PublicKey, Scheme};
use cvm_attest_formats::time::DateTime;
use cvm_attest_plugin_sdk::crypto as host;
use cvm_attest_plugin_sdk::types as wit;
use cvm_attest_plugin_sdk::{EvalContext, PluginError, Step, StepStatus, Verified, Verifier, VerifyRequest};

struct Offline;

/// The appraisal's signature checks, done by the host (the WIT `crypto` interface).
struct HostCrypto;

impl Provider for HostCrypto {
    fn verify(&self, scheme: Scheme, key: PublicKey<'_>, message: &[u8], signature: &[u8]) -> bool {
        let hash = |hash| match hash {
            Hash::Sha256 => host::HashAlgorithm::Sha256,
            Hash::Sha384 => host::HashAlgorithm::Sha384,
            Hash::Sha512 => host::HashAlgorithm::Sha512,
        };
        let scheme = match scheme {
            Scheme::EcdsaP256Sha256 => host::SignatureScheme::EcdsaP256Sha256,
            Scheme::EcdsaP384Sha384 => host::SignatureScheme::EcdsaP384Sha384,
            Scheme::RsaPkcs1v15(h) => host::SignatureScheme::RsaPkcs1v15(hash(h)),
            Scheme::RsaPss(h) => host::SignatureScheme::RsaPss(hash(h)),
        };
        let key = match key {
            PublicKey::EcPoint(point) => host::PublicKey::EcPoint(point.to_vec()),
            PublicKey::Rsa { modulus, exponent } => host::PublicKey::Rsa(host::RsaPublicKey {
                modulus: modulus.to_vec(),
                exponent: exponent.to_vec(),
            }),
        };
        host::verify(scheme, &key, message, signature)
    }
}

impl Verifier for Offline {
    fn validate_config(config: &str) -> Result<(), PluginError> {
        if config.trim().is_empty() {
            Ok(())
        } else {
            Err(PluginError::InvalidConfig(
                "the offline verifier takes no configuration; trust anchors and collateral are operator inputs \
                 (`--trust-anchor`, `--collateral`)"
                    .into(),
            ))
        }
    }

    fn verify(ctx: &EvalContext, request: VerifyRequest) -> Result<Verified, PluginError> {
        // A fresh instance per evaluation: this is the first signature-related call in it.
        crypto::install(&HostCrypto);
        let bundle = bundle(request.evidence).map_err(PluginError::InvalidInput)?;
        let anchors = if request.trust_anchors.is_empty() {
            TrustAnchors::builtin()
        } else {
            let named: Vec<(&str, &[u8])> =
                request.trust_anchors.iter().map(|b| (b.name.as_str(), b.data.as_slice())).collect();
            TrustAnchors::from_operator(&named).map_err(|e| PluginError::InvalidConfig(e.to_string()))?
        };
        let collateral =
            Collateral::from_named(request.collateral.iter().map(|b| (b.name.as_str(), &b.data[..])))
                .map_err(|e| PluginError::InvalidConfig(e.to_string()))?;
        // Validity and freshness are judged at the host's evaluation time (`--at`, by default now).
        let at = i64::try_from(ctx.now_unix_ms / 1000)
            .ok()
            .and_then(DateTime::from_unix_seconds)
            .ok_or_else(|| {
                PluginError::InvalidInput(format!("evaluation time {} ms is out of range", ctx.now_unix_ms))
            })?;
        let policy = Policy {
            expected_nonce: request.expected_nonce.as_deref(),
            anchors: &anchors,
            collateral,
            at: &at,
        };
        let appraisal = appraise::appraise(&bundle, &policy);
        let steps = appraisal
            .steps
            .as_slice()
            .iter()
            .map(|step| Step {
                name: step.name.into(),
                status: match step.status {
                    Status::Passed => StepStatus::Passed,
                    Status::Failed => StepStatus::Failed,
                    Status::NotEvaluated => StepStatus::NotEvaluated,
                },
                detail: step.detail.clone(),
            })
            .collect();
        // Rejected evidence yields no claims at all.
        let claims = appraisal.claims.map_or_else(|| "{}".to_owned(), |claims| claims.to_string());
        Ok(Verified { claims, steps })
    }
}

/// The WIT evidence record as the library's bundle.
fn bundle(evidence: wit::Evidence) -> Result<EvidenceBundle, String> {
    Ok(EvidenceBundle {
        platform: match evidence.platform {
            wit::Platform::AzureSevSnp => Platform::AzureSevSnp,
            wit::Platform::AzureTdx => Platform::AzureTdx,
            wit::Platform::AzureTrustedLaunch => Platform::AzureTrustedLaunch,
        },
        collected_at: Timestamp::parse(&evidence.collected_at).map_err(|e| e.to_string())?,
        nonce: evidence.nonce,
        hcl_report: evidence.hcl_report,
        vcek_chain: evidence.vcek_chain,
        td_quote: evidence.td_quote,
        // None for an MAA SevSnpVm or TdxVm request, which has no vTPM part.
        tpm: evidence.tpm.map(tpm).transpose()?,
        event_log: evidence.event_log,
        os: evidence.os.map(|os| OsInfo {
            os_type: os.os_type,
            distro: os.distro,
            version_major: os.version_major,
            version_minor: os.version_minor,
        }),
        // The host hands a bundle's collateral over as request collateral.
        collateral: BTreeMap::new(),
    })
}

fn tpm(tpm: wit::TpmEvidence) -> Result<TpmEvidence, String> {
    if tpm.pcr_bank != PcrBank::Sha256.name() {
        return Err(format!("PCR bank `{}` is not supported; Azure attestation uses sha256", tpm.pcr_bank));
    }
    let pcrs = Pcrs::new(PcrBank::Sha256, tpm.pcrs.into_iter().map(|p| (p.index, p.digest)).collect())
        .map_err(|e| e.to_string())?;
    Ok(TpmEvidence {
        ak_public: tpm.ak_public,
        ak_cert: tpm.ak_cert,
        quote: tpm.quote,
        quote_signature: tpm.quote_signature,
        pcrs,
        ephemeral_key: tpm.ephemeral_key.map(|k| EphemeralKey {
            public: k.public,
            certify_info: k.certify_info,
            certify_signature: k.certify_signature,
        }),
    })
}

cvm_attest_plugin_sdk::export!(Offline as Verifier, name = "offline");
