//! The first stage: evidence files read into a bundle, and the bundle and the operator's files turned
//! into the request a verifier plugin is asked to appraise.

use std::path::PathBuf;

use cvm_attest_formats::bundle::{self, EvidenceBundle, EvidenceKind, Platform, Timestamp};

use crate::plugins::types;

/// Evidence that cannot be appraised as given.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("{0}")]
    Unknown(String),
    #[error(
        "{kind} alone is not enough to appraise: a verifier needs the whole evidence (hardware report, its \
         endorsement and the vTPM quote); collect it with `cvm-attest evidence collect`, or inspect this \
         file with `cvm-attest evidence show`"
    )]
    Partial { kind: EvidenceKind },
    #[error("{kind}: {source}")]
    Invalid { kind: EvidenceKind, source: bundle::Error },
    #[error("{what} `{name}`: {source}")]
    ReadBlob {
        what: &'static str,
        name: String,
        #[source]
        source: crate::input::Error,
    },
}

/// Read evidence a verifier can appraise: an evidence bundle, Confidential Containers
/// `az-snp-vtpm`/`az-tdx-vtpm` evidence, or an MAA AzureGuest, SevSnpVm or TdxVm request (the last
/// two kinds carry no collection time: `received_at` stands in).
pub fn read_evidence(bytes: &[u8], received_at: Timestamp) -> Result<EvidenceBundle, Error> {
    let kind = bundle::detect(bytes);
    let invalid = |source| Error::Invalid { kind: kind.clone(), source };
    match &kind {
        EvidenceKind::Bundle => EvidenceBundle::from_json(bytes).map_err(invalid),
        EvidenceKind::CocoSnp | EvidenceKind::CocoTdx => {
            EvidenceBundle::from_coco_json(bytes, received_at).map_err(invalid)
        }
        EvidenceKind::Maa(request) => {
            EvidenceBundle::from_maa_request(*request, bytes, received_at).map_err(invalid)
        }
        EvidenceKind::HclReport | EvidenceKind::SnpReport | EvidenceKind::TdQuote => {
            Err(Error::Partial { kind: kind.clone() })
        }
        EvidenceKind::Unknown { reason } => Err(Error::Unknown(reason.clone())),
    }
}

/// Named files (trust anchors or collateral) read into WIT blobs.
pub fn read_blobs<'a>(
    what: &'static str,
    files: impl IntoIterator<Item = (&'a String, &'a PathBuf)>,
) -> Result<Vec<types::Blob>, Error> {
    files
        .into_iter()
        .map(|(name, path)| {
            let data = crate::input::read(path, what, crate::input::MAX_SMALL_FILE_BYTES)
                .map_err(|source| Error::ReadBlob { what, name: name.clone(), source })?;
            Ok(blob(name, data))
        })
        .collect()
}

/// A named blob, its media type told from its first bytes.
fn blob(name: &str, data: Vec<u8>) -> types::Blob {
    let media_type = if data.starts_with(b"-----BEGIN") {
        "application/x-pem-file"
    } else if data.trim_ascii_start().starts_with(b"{") {
        "application/json"
    } else {
        "application/octet-stream"
    };
    types::Blob { name: name.to_owned(), media_type: media_type.into(), data }
}

/// The WIT request for `bundle`. Its collateral is the bundle's, with the operator's replacing any
/// of the same name.
pub fn request(
    bundle: &EvidenceBundle,
    expected_nonce: Option<Vec<u8>>,
    trust_anchors: Vec<types::Blob>,
    operator_collateral: Vec<types::Blob>,
) -> types::VerifyRequest {
    let mut collateral: Vec<types::Blob> = bundle
        .collateral
        .iter()
        .filter(|(name, _)| !operator_collateral.iter().any(|blob| &blob.name == *name))
        .map(|(name, data)| blob(name, data.clone()))
        .collect();
    collateral.extend(operator_collateral);
    types::VerifyRequest { evidence: evidence(bundle), expected_nonce, trust_anchors, collateral }
}

fn evidence(bundle: &EvidenceBundle) -> types::Evidence {
    types::Evidence {
        platform: match bundle.platform {
            Platform::AzureSevSnp => types::Platform::AzureSevSnp,
            Platform::AzureTdx => types::Platform::AzureTdx,
            Platform::AzureTrustedLaunch => types::Platform::AzureTrustedLaunch,
        },
        collected_at: bundle.collected_at.to_string(),
        nonce: bundle.nonce.clone(),
        hcl_report: bundle.hcl_report.clone(),
        vcek_chain: bundle.vcek_chain.clone(),
        td_quote: bundle.td_quote.clone(),
        tpm: bundle.tpm.as_ref().map(|tpm| types::TpmEvidence {
            ak_public: tpm.ak_public.clone(),
            ak_cert: tpm.ak_cert.clone(),
            quote: tpm.quote.clone(),
            quote_signature: tpm.quote_signature.clone(),
            pcr_bank: tpm.pcrs.bank().name().into(),
            pcrs: tpm
                .pcrs
                .values()
                .iter()
                .map(|(&index, digest)| types::Pcr { index, digest: digest.clone() })
                .collect(),
            ephemeral_key: tpm.ephemeral_key.as_ref().map(|key| types::EphemeralKey {
                public: key.public.clone(),
                certify_info: key.certify_info.clone(),
                certify_signature: key.certify_signature.clone(),
            }),
        }),
        event_log: bundle.event_log.clone(),
        os: bundle.os.as_ref().map(|os| types::OsInfo {
            os_type: os.os_type.clone(),
            distro: os.distro.clone(),
            version_major: os.version_major,
            version_minor: os.version_minor,
        }),
    }
}
