//! The MAA `AzureGuest` request (`POST /attest/AzureGuest`) as evidence: the body the official
//! clients send, `{"AttestationInfo": base64(JSON)}` (docs/protocol.md §10.2), read into a bundle so
//! an operator can appraise offline what a VM would send to MAA.
//!
//! Only a Trusted Launch request (`IsolationInfo.Type` `TrustedLaunch`) is read so far: its AK is
//! vouched for by its certificate. A CVM's request carries the hardware report and the runtime data
//! apart, without the HCL report a bundle holds, and is refused with that reason.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use serde::Deserialize;

use super::{EphemeralKey, Error, EvidenceBundle, OsInfo, PcrBank, Pcrs, Platform, Timestamp, TpmEvidence};

pub(super) const AZURE_GUEST: &str = "MAA AzureGuest request";

/// The request body. Clients spell the member `AttestationInfo`; MAA's API definition
/// `attestationInfo`.
#[derive(Deserialize)]
struct Body {
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
}

/// Whether `value` looks like an AzureGuest request body.
pub(super) fn is_azure_guest(value: &serde_json::Value) -> bool {
    value.get("AttestationInfo").or_else(|| value.get("attestationInfo")).is_some_and(|v| v.is_string())
}

/// Read an AzureGuest request body. It carries no time: `received_at` stands in.
pub(super) fn read(json: &[u8], received_at: Timestamp) -> Result<EvidenceBundle, Error> {
    let json_error = |source| Error::Json { document: AZURE_GUEST, source };
    let body: Body = crate::json::from_slice(json).map_err(json_error)?;
    let info = bytes("AttestationInfo", &body.attestation_info)?;
    let info: AttestationInfo = crate::json::from_slice(&info).map_err(json_error)?;
    if info.isolation_info.kind != "TrustedLaunch" {
        return Err(field(
            "AttestationInfo.IsolationInfo.Type",
            format!(
                "`{}`: only Trusted Launch requests are read so far; a confidential VM's request carries its \
                 hardware report without the HCL report, so verify the VM's `evidence collect` bundle instead",
                info.isolation_info.kind
            ),
        ));
    }
    let tpm = &info.tpm_info;
    let mut values = BTreeMap::new();
    for pcr in &tpm.pcrs {
        let digest = bytes(&format!("TpmInfo.PCRs[{}].Digest", pcr.index), &pcr.digest)?;
        if values.insert(pcr.index, digest).is_some() {
            return Err(field("TpmInfo.PCRs", format!("PCR {} is given twice", pcr.index)));
        }
    }
    let ephemeral_key =
        match (&tpm.enc_key_pub, &tpm.enc_key_certify_info, &tpm.enc_key_certify_info_signature) {
            (Some(public), Some(info), Some(signature)) => Some(EphemeralKey {
                public: bytes("TpmInfo.EncKeyPub", public)?,
                certify_info: bytes("TpmInfo.EncKeyCertifyInfo", info)?,
                certify_signature: bytes("TpmInfo.EncKeyCertifyInfoSignature", signature)?,
            }),
            (None, None, None) => None,
            _ => {
                return Err(field(
                    "TpmInfo.EncKey*",
                    "EncKeyPub, EncKeyCertifyInfo and EncKeyCertifyInfoSignature come together or not at all",
                ));
            }
        };
    let tpm = TpmEvidence {
        ak_public: bytes("TpmInfo.AikPub", &tpm.aik_pub)?,
        ak_cert: tpm.aik_cert.as_deref().map(|cert| bytes("TpmInfo.AikCert", cert)).transpose()?,
        quote: bytes("TpmInfo.PcrQuote", &tpm.pcr_quote)?,
        quote_signature: bytes("TpmInfo.PcrSignature", &tpm.pcr_signature)?,
        pcrs: Pcrs::new(PcrBank::Sha256, values)?,
        ephemeral_key,
    };
    let nonce =
        info.client_payload.get("nonce").map(|nonce| bytes("ClientPayload.nonce", nonce)).transpose()?;
    let event_log = (!info.tcg_logs.is_empty()).then(|| bytes("TcgLogs", &info.tcg_logs)).transpose()?;
    Ok(EvidenceBundle {
        platform: Platform::AzureTrustedLaunch,
        collected_at: received_at,
        nonce,
        hcl_report: Vec::new(),
        vcek_chain: None,
        td_quote: None,
        tpm,
        event_log,
        os: os(&info)?,
        collateral: BTreeMap::new(),
    })
}

/// The OS the client reported (base64 of UTF-8 text), when it said enough. Unsigned, as in a bundle.
fn os(info: &AttestationInfo) -> Result<Option<OsInfo>, Error> {
    let text = |name: &str, value: &Option<String>| -> Result<Option<String>, Error> {
        value
            .as_deref()
            .map(|value| {
                let decoded = bytes(name, value)?;
                String::from_utf8(decoded).map_err(|_| field(name, "not UTF-8 text"))
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

/// Base64 in any of the flavours clients send (padded or not, standard or URL-safe, §10.2).
fn bytes(name: &str, text: &str) -> Result<Vec<u8>, Error> {
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(text).ok())
        .ok_or_else(|| field(name, "not base64"))
}

fn field(name: &str, reason: impl Into<String>) -> Error {
    Error::field(AZURE_GUEST, name, reason)
}
