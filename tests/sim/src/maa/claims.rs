//! A token's claims: the appraisal's (the project's own, in MAA's shape), and what MAA adds from the
//! request as sent, unverified, as MAA does (docs/protocol.md §11.1, §11.2):
//!
//! * AzureGuest: `x-ms-runtime.client-payload` (the `ClientPayload` object, its base64 values as
//!   sent: this is how the VM's nonce comes back), `x-ms-azurevm-attestation-protocol-ver`, and the OS
//!   the client reports (`x-ms-azurevm-ostype`, `-osdistro`, `-osbuild`, `-osversion-major`,
//!   `-osversion-minor`, `-is-windows`), which nothing signs: MAA copies them, and so does this.
//! * SevSnpVm, TdxVm: the request's `nonce`, top level.
//!
//! Not produced (compared key by key with `formats/testdata/maa/` and the REST examples): the
//! Windows boot-log claims (`x-ms-azurevm-dbvalidated`, `-kerneldebug-enabled`, `-hvci-policy`, …),
//! which MAA derives from a Windows event log this project does not interpret, and the TdxVm EAT
//! claims (`eat_profile`, `dbgstat`, `intuse`); see `formats/src/appraise/claims.rs`.

use cvm_attest_formats::bundle::MaaRequest;
use serde_json::{Map, Value};

use super::error::MaaError;

/// The appraisal's claims with what MAA echoes from the request `body` (of `kind`) added.
pub(super) fn token_claims(
    kind: MaaRequest,
    body: &[u8],
    appraised: Value,
) -> Result<Map<String, Value>, MaaError> {
    let Value::Object(mut claims) = appraised else {
        return Err(MaaError::new(
            500,
            "InternalServerError",
            "the appraisal's claims are not a JSON object",
        ));
    };
    let request: Value = serde_json::from_slice(body)
        .map_err(|e| MaaError::invalid_parameter(format!("the request body is not JSON: {e}")))?;
    match kind {
        MaaRequest::AzureGuest => add_guest_echo(&mut claims, &request)?,
        MaaRequest::SevSnpVm | MaaRequest::TdxVm => {
            if let Some(nonce) = request.get("nonce").and_then(Value::as_str) {
                claims.insert("nonce".into(), nonce.into());
            }
        }
    }
    Ok(claims)
}

fn add_guest_echo(claims: &mut Map<String, Value>, request: &Value) -> Result<(), MaaError> {
    let encoded = request
        .get("AttestationInfo")
        .or_else(|| request.get("attestationInfo"))
        .and_then(Value::as_str)
        .ok_or_else(|| MaaError::invalid_parameter("the request has no AttestationInfo"))?;
    let info: Value = serde_json::from_slice(
        &decode(encoded).ok_or_else(|| MaaError::invalid_parameter("AttestationInfo is not base64"))?,
    )
    .map_err(|e| MaaError::invalid_parameter(format!("AttestationInfo is not JSON: {e}")))?;
    if let Some(payload) = info.get("ClientPayload").and_then(Value::as_object).filter(|p| !p.is_empty()) {
        let runtime = claims.entry("x-ms-runtime").or_insert_with(|| Value::Object(Map::new()));
        if let Some(runtime) = runtime.as_object_mut() {
            runtime.insert("client-payload".into(), Value::Object(payload.clone()));
        }
    }
    if let Some(version) = info.get("AttestationProtocolVersion").and_then(Value::as_str) {
        claims.insert("x-ms-azurevm-attestation-protocol-ver".into(), version.into());
    }
    let text = |name: &str| {
        info.get(name)
            .and_then(Value::as_str)
            .and_then(decode)
            .and_then(|bytes| String::from_utf8(bytes).ok())
    };
    if let Some(os_type) = text("OSType") {
        claims.insert("x-ms-azurevm-is-windows".into(), (os_type == "Windows").into());
        claims.insert("x-ms-azurevm-ostype".into(), os_type.into());
    }
    for (member, claim) in [("OSDistro", "x-ms-azurevm-osdistro"), ("OSBuild", "x-ms-azurevm-osbuild")] {
        if let Some(value) = text(member) {
            claims.insert(claim.into(), value.into());
        }
    }
    for (member, claim) in [
        ("OSVersionMajor", "x-ms-azurevm-osversion-major"),
        ("OSVersionMinor", "x-ms-azurevm-osversion-minor"),
    ] {
        if let Some(number) = info.get(member).filter(|v| v.is_u64()) {
            claims.insert(claim.into(), number.clone());
        }
    }
    Ok(())
}

/// Base64 in any of the flavours clients send (docs/protocol.md §10.2).
fn decode(text: &str) -> Option<Vec<u8>> {
    cvm_attest_formats::encoding::base64_any(text)
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

    use super::*;
    use serde_json::json;

    #[test]
    fn echoes_the_guest_payload_and_os() {
        let info = json!({
            "AttestationProtocolVersion": "2.0",
            "ClientPayload": {"nonce": "MTIzNA=="},
            "OSType": STANDARD.encode("Linux"),
            "OSDistro": STANDARD.encode("Ubuntu"),
            "OSBuild": STANDARD.encode("NotApplication"),
            "OSVersionMajor": 22,
            "OSVersionMinor": 4,
        });
        let body = json!({"AttestationInfo": URL_SAFE_NO_PAD.encode(info.to_string())});
        let appraised = json!({"x-ms-attestation-type": "azurevm", "x-ms-runtime": {"keys": []}});
        let claims =
            token_claims(MaaRequest::AzureGuest, body.to_string().as_bytes(), appraised).expect("claims");
        assert_eq!(claims["x-ms-runtime"], json!({"keys": [], "client-payload": {"nonce": "MTIzNA=="}}));
        assert_eq!(claims["x-ms-azurevm-attestation-protocol-ver"], "2.0");
        assert_eq!(claims["x-ms-azurevm-ostype"], "Linux");
        assert_eq!(claims["x-ms-azurevm-is-windows"], false);
        assert_eq!(claims["x-ms-azurevm-osdistro"], "Ubuntu");
        assert_eq!(claims["x-ms-azurevm-osbuild"], "NotApplication");
        assert_eq!(claims["x-ms-azurevm-osversion-major"], 22);
        assert_eq!(claims["x-ms-azurevm-osversion-minor"], 4);
        assert_eq!(claims["x-ms-attestation-type"], "azurevm", "the appraisal's claims stay");
    }

    #[test]
    fn echoes_the_platform_nonce() {
        let body = json!({"report": "x", "runtimeData": {}, "nonce": "noncesevsnp987"});
        let claims =
            token_claims(MaaRequest::SevSnpVm, body.to_string().as_bytes(), json!({"a": 1})).expect("claims");
        assert_eq!(claims["nonce"], "noncesevsnp987");
        let body = json!({"quote": "x", "runtimeData": {}});
        let claims = token_claims(MaaRequest::TdxVm, body.to_string().as_bytes(), json!({})).expect("claims");
        assert!(!claims.contains_key("nonce"));
    }
}
