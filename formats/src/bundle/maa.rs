//! MAA request bodies as evidence: what a VM sends to `POST /attest/AzureGuest`, `/attest/SevSnpVm`
//! or `/attest/TdxVm` (docs/protocol.md §10), read into a bundle so an operator can appraise offline
//! what MAA would be asked to, and so the simulated MAA appraises with the same code.
//!
//! A request carries the hardware evidence and the runtime claims apart, without the HCL report a
//! bundle holds, so the reader puts them back together ([`HclReport::assemble`]):
//! * SEV-SNP: an SNP-type HCL report around the request's SNP report and runtime claims, exactly
//!   what the paravisor publishes but for the unsigned header;
//! * TDX: the request has the TD quote, not the TD report inside the HCL report, so the bundle holds
//!   the quote and an HCL report of the runtime claims alone (report type 3, no hardware report);
//!   appraisal binds the claims to the quote's `report_data`;
//! * Trusted Launch (AzureGuest only): no hardware evidence, no HCL report.
//!
//! AzureGuest requests carry vTPM evidence; SevSnpVm and TdxVm requests do not (`tpm` is `None`).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{EphemeralKey, Error, EvidenceBundle, OsInfo, PcrBank, Pcrs, Platform, Timestamp, TpmEvidence};
use crate::hcl::{HclReport, ReportType};
use crate::thim::pem_certificate_count;

/// Which MAA attestation API a request body is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MaaRequest {
    /// `POST /attest/AzureGuest`: vTPM evidence, with the TEE evidence of a CVM.
    AzureGuest,
    /// `POST /attest/SevSnpVm`: an SNP report and its runtime data, no vTPM.
    SevSnpVm,
    /// `POST /attest/TdxVm`: a TD quote and its runtime data, no vTPM.
    TdxVm,
}

impl MaaRequest {
    /// How errors and `evidence show` name the document.
    pub fn document(self) -> &'static str {
        match self {
            MaaRequest::AzureGuest => "MAA AzureGuest request",
            MaaRequest::SevSnpVm => "MAA SevSnpVm request",
            MaaRequest::TdxVm => "MAA TdxVm request",
        }
    }

    /// The request body's kind, told from its members.
    pub(super) fn detect(value: &serde_json::Value) -> Option<Self> {
        let string = |name: &str| value.get(name).is_some_and(serde_json::Value::is_string);
        if string("AttestationInfo") || string("attestationInfo") {
            Some(MaaRequest::AzureGuest)
        } else if value.get("runtimeData").is_some() && string("report") {
            Some(MaaRequest::SevSnpVm)
        } else if value.get("runtimeData").is_some() && string("quote") {
            Some(MaaRequest::TdxVm)
        } else {
            None
        }
    }
}

/// The AzureGuest body. Clients spell the member `AttestationInfo`; MAA's API definition
/// `attestationInfo`.
#[derive(Deserialize)]
struct AzureGuestBody {
    #[serde(alias = "attestationInfo", rename = "AttestationInfo")]
    attestation_info: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AttestationInfo {
    #[serde(rename = "OSType")]
    os_type: Option<String>,
    #[serde(rename = "OSDistro")]
    os_distro: Option<String>,
    #[serde(rename = "OSVersionMajor")]
    os_version_major: Option<u32>,
    #[serde(rename = "OSVersionMinor")]
    os_version_minor: Option<u32>,
    #[serde(default)]
    tcg_logs: String,
    #[serde(default)]
    client_payload: BTreeMap<String, String>,
    tpm_info: TpmInfo,
    isolation_info: IsolationInfo,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TpmInfo {
    aik_cert: Option<String>,
    aik_pub: String,
    pcr_quote: String,
    pcr_signature: String,
    #[serde(rename = "PCRs")]
    pcrs: Vec<Pcr>,
    enc_key_pub: Option<String>,
    enc_key_certify_info: Option<String>,
    enc_key_certify_info_signature: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Pcr {
    index: u8,
    digest: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct IsolationInfo {
    #[serde(rename = "Type")]
    kind: String,
    evidence: Option<IsolationEvidence>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct IsolationEvidence {
    proof: String,
    run_time_data: String,
}

/// The SEV-SNP proof: AzureGuest `Proof` and SevSnpVm `report`, once decoded.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SnpProof {
    snp_report: String,
    vcek_cert_chain: String,
}

/// The SevSnpVm and TdxVm bodies. MAA-only inputs (`initTimeData`, draft policies) are read only
/// to refuse them: this verifier cannot check what they ask for.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PlatformBody {
    report: Option<String>,
    quote: Option<String>,
    runtime_data: RuntimeData,
    nonce: Option<String>,
    init_time_data: Option<serde::de::IgnoredAny>,
    draft_policy_for_attestation: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RuntimeData {
    data: String,
    data_type: String,
}

/// The hardware evidence of a request.
enum Tee {
    Snp { report: Vec<u8>, vcek_chain: String },
    Tdx { quote: Vec<u8> },
}

/// Read a request body of `kind`. Requests carry no time: `received_at` stands in.
pub(super) fn read(kind: MaaRequest, json: &[u8], received_at: Timestamp) -> Result<EvidenceBundle, Error> {
    let reader = Reader { document: kind.document() };
    match kind {
        MaaRequest::AzureGuest => reader.azure_guest(json, received_at),
        MaaRequest::SevSnpVm | MaaRequest::TdxVm => reader.platform(kind, json, received_at),
    }
}

/// Decoding helpers that name the document in their errors.
struct Reader {
    document: &'static str,
}

impl Reader {
    fn azure_guest(&self, json: &[u8], received_at: Timestamp) -> Result<EvidenceBundle, Error> {
        let body: AzureGuestBody = self.json(json)?;
        let info: AttestationInfo = self.json(&self.bytes("AttestationInfo", &body.attestation_info)?)?;
        let isolation = &info.isolation_info;
        let evidence = |kind: &str| {
            isolation.evidence.as_ref().ok_or_else(|| {
                self.field(
                    "IsolationInfo.Evidence",
                    format!("missing: a `{kind}` request carries its TEE evidence"),
                )
            })
        };
        let (tee, runtime_claims) = match isolation.kind.as_str() {
            "TrustedLaunch" => (None, None),
            "SevSnp" => {
                let evidence = evidence("SevSnp")?;
                let proof = self.bytes("IsolationInfo.Evidence.Proof", &evidence.proof)?;
                (Some(self.snp_proof("IsolationInfo.Evidence.Proof", &proof)?), Some(evidence))
            }
            "Tdx" => {
                let evidence = evidence("Tdx")?;
                let quote = self.bytes("IsolationInfo.Evidence.Proof", &evidence.proof)?;
                (Some(Tee::Tdx { quote }), Some(evidence))
            }
            other => {
                return Err(self.field(
                    "IsolationInfo.Type",
                    format!("`{other}`; expected `SevSnp`, `Tdx` or `TrustedLaunch`"),
                ));
            }
        };
        let runtime_claims = runtime_claims
            .map(|evidence| self.bytes("IsolationInfo.Evidence.RunTimeData", &evidence.run_time_data))
            .transpose()?;
        let nonce = info
            .client_payload
            .get("nonce")
            .map(|nonce| self.bytes("ClientPayload.nonce", nonce))
            .transpose()?;
        let event_log =
            (!info.tcg_logs.is_empty()).then(|| self.bytes("TcgLogs", &info.tcg_logs)).transpose()?;
        let mut bundle = assemble(tee, runtime_claims.as_deref(), received_at);
        bundle.nonce = nonce;
        bundle.tpm = Some(self.tpm(&info.tpm_info)?);
        bundle.event_log = event_log;
        bundle.os = self.os(&info)?;
        Ok(bundle)
    }

    fn platform(
        &self,
        kind: MaaRequest,
        json: &[u8],
        received_at: Timestamp,
    ) -> Result<EvidenceBundle, Error> {
        let body: PlatformBody = self.json(json)?;
        if body.init_time_data.is_some() {
            return Err(self.field(
                "initTimeData",
                "not read: checking it against the report's host_data is not implemented, and evidence \
                 whose part is left unchecked is refused rather than half appraised",
            ));
        }
        if body.draft_policy_for_attestation.is_some() {
            return Err(self.field(
                "draftPolicyForAttestation",
                "MAA's policy language is not run here; use claim checks instead",
            ));
        }
        let tee = match (kind, &body.report, &body.quote) {
            (MaaRequest::SevSnpVm, Some(report), _) => {
                self.snp_proof("report", &self.bytes("report", report)?)?
            }
            (MaaRequest::TdxVm, _, Some(quote)) => Tee::Tdx { quote: self.bytes("quote", quote)? },
            (MaaRequest::SevSnpVm, ..) => return Err(self.field("report", "missing")),
            _ => return Err(self.field("quote", "missing")),
        };
        if body.runtime_data.data_type != "JSON" {
            return Err(self.field(
                "runtimeData.dataType",
                format!(
                    "`{}`: only `JSON` is read, since a CVM's runtime data is the paravisor's runtime claims",
                    body.runtime_data.data_type
                ),
            ));
        }
        let runtime_claims = self.bytes("runtimeData.data", &body.runtime_data.data)?;
        let mut bundle = assemble(Some(tee), Some(&runtime_claims), received_at);
        bundle.nonce = body.nonce.map(String::into_bytes);
        Ok(bundle)
    }

    /// `{"SnpReport", "VcekCertChain"}`: the report (base64url) and the PEM chain (base64).
    fn snp_proof(&self, name: &str, json: &[u8]) -> Result<Tee, Error> {
        let proof: SnpProof = self.json(json)?;
        let report = self.bytes(&format!("{name}.SnpReport"), &proof.snp_report)?;
        if report.len() != crate::snp::REPORT_SIZE {
            return Err(self.field(
                &format!("{name}.SnpReport"),
                format!("{} bytes; an SEV-SNP report is {}", report.len(), crate::snp::REPORT_SIZE),
            ));
        }
        let chain_name = format!("{name}.VcekCertChain");
        let chain = String::from_utf8(self.bytes(&chain_name, &proof.vcek_cert_chain)?)
            .map_err(|_| self.field(&chain_name, "not PEM text"))?;
        if pem_certificate_count(&chain) == 0 {
            return Err(self.field(&chain_name, "expected PEM certificates (VCEK, ASK, ARK), found none"));
        }
        Ok(Tee::Snp { report, vcek_chain: chain })
    }

    fn tpm(&self, tpm: &TpmInfo) -> Result<TpmEvidence, Error> {
        let mut values = BTreeMap::new();
        for pcr in &tpm.pcrs {
            let digest = self.bytes(&format!("TpmInfo.PCRs[{}].Digest", pcr.index), &pcr.digest)?;
            if values.insert(pcr.index, digest).is_some() {
                return Err(self.field("TpmInfo.PCRs", format!("PCR {} is given twice", pcr.index)));
            }
        }
        let ephemeral_key =
            match (&tpm.enc_key_pub, &tpm.enc_key_certify_info, &tpm.enc_key_certify_info_signature) {
                (Some(public), Some(info), Some(signature)) => Some(EphemeralKey {
                    public: self.bytes("TpmInfo.EncKeyPub", public)?,
                    certify_info: self.bytes("TpmInfo.EncKeyCertifyInfo", info)?,
                    certify_signature: self.bytes("TpmInfo.EncKeyCertifyInfoSignature", signature)?,
                }),
                (None, None, None) => None,
                _ => {
                    return Err(self.field(
                    "TpmInfo.EncKey*",
                    "EncKeyPub, EncKeyCertifyInfo and EncKeyCertifyInfoSignature come together or not at all",
                ));
                }
            };
        Ok(TpmEvidence {
            ak_public: self.bytes("TpmInfo.AikPub", &tpm.aik_pub)?,
            ak_cert: tpm.aik_cert.as_deref().map(|cert| self.bytes("TpmInfo.AikCert", cert)).transpose()?,
            quote: self.bytes("TpmInfo.PcrQuote", &tpm.pcr_quote)?,
            quote_signature: self.bytes("TpmInfo.PcrSignature", &tpm.pcr_signature)?,
            pcrs: Pcrs::new(PcrBank::Sha256, values)?,
            ephemeral_key,
        })
    }

    /// The OS the client reported (base64 of UTF-8 text), when it said enough. Unsigned, as in a
    /// bundle.
    fn os(&self, info: &AttestationInfo) -> Result<Option<OsInfo>, Error> {
        let text = |name: &str, value: &Option<String>| -> Result<Option<String>, Error> {
            value
                .as_deref()
                .map(|value| {
                    String::from_utf8(self.bytes(name, value)?)
                        .map_err(|_| self.field(name, "not UTF-8 text"))
                })
                .transpose()
        };
        let (os_type, distro) = (text("OSType", &info.os_type)?, text("OSDistro", &info.os_distro)?);
        Ok(match (os_type, distro, info.os_version_major, info.os_version_minor) {
            (Some(os_type), Some(distro), Some(version_major), Some(version_minor)) => {
                Some(OsInfo { os_type, distro, version_major, version_minor })
            }
            _ => None,
        })
    }

    fn json<T: serde::de::DeserializeOwned>(&self, json: &[u8]) -> Result<T, Error> {
        crate::json::from_slice(json).map_err(|source| Error::Json { document: self.document, source })
    }

    /// Base64 in any of the flavours clients send (padded or not, standard or URL-safe, §10.2).
    fn bytes(&self, name: &str, text: &str) -> Result<Vec<u8>, Error> {
        crate::encoding::base64_any(text).ok_or_else(|| self.field(name, "not base64"))
    }

    fn field(&self, name: &str, reason: impl Into<String>) -> Error {
        Error::field(self.document, name, reason)
    }
}

/// The bundle of a request's hardware evidence and runtime claims (see the module documentation).
fn assemble(tee: Option<Tee>, runtime_claims: Option<&[u8]>, received_at: Timestamp) -> EvidenceBundle {
    let runtime_claims = runtime_claims.unwrap_or_default();
    let (platform, hcl_report, vcek_chain, td_quote) = match tee {
        None => (Platform::AzureTrustedLaunch, Vec::new(), None, None),
        Some(Tee::Snp { report, vcek_chain }) => (
            Platform::AzureSevSnp,
            HclReport::assemble(ReportType::Snp, &report, runtime_claims),
            Some(vcek_chain),
            None,
        ),
        Some(Tee::Tdx { quote }) => (
            Platform::AzureTdx,
            HclReport::assemble(ReportType::TrustedLaunch, &[], runtime_claims),
            None,
            Some(quote),
        ),
    };
    EvidenceBundle {
        platform,
        collected_at: received_at,
        nonce: None,
        hcl_report,
        vcek_chain,
        td_quote,
        tpm: None,
        event_log: None,
        os: None,
        collateral: BTreeMap::new(),
    }
}
