//! Errors: why the service could not start ([`Error`]), and the errors it answers requests with
//! ([`MaaError`]), in MAA's JSON shape.
//!
//! MAA's error body follows the Microsoft REST API guidelines: `{"error": {"code", "message"}}`,
//! also named by the `x-ms-error-code` header (docs/protocol.md §10.5). The codes used here are
//! MAA's own where one is documented: `InvalidParameter` for evidence that does not verify (Microsoft
//! Learn, "Azure Attestation troubleshooting guide", §2.2); Azure's `MissingApiVersionParameter` for a
//! request without `api-version` (the text Azure front ends answer with). The other codes are this
//! simulator's, in the same style.

use std::io;

use serde_json::json;

use super::http::Response;

/// Why [`super::MaaService::start`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Binding a listener or starting a thread.
    #[error("starting the simulated MAA: {0}")]
    Io(#[from] io::Error),
    /// A compiled-in test key or certificate did not load (a broken `testdata/pki/`).
    #[error("the simulated MAA's {what} does not load: {reason}")]
    Pki { what: &'static str, reason: String },
    /// The TLS server configuration was refused.
    #[error("the simulated MAA's TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    /// Trust anchors that do not hold together (see `TrustAnchors::from_operator`).
    #[error("the simulated MAA's trust anchors: {0}")]
    Anchors(#[from] cvm_attest_formats::appraise::anchors::AnchorError),
    /// Collateral under a name appraisal does not know, refused rather than ignored.
    #[error("the simulated MAA's collateral: {0}")]
    Collateral(#[from] cvm_attest_formats::appraise::collateral::CollateralError),
}

/// An error answer: HTTP status, MAA error code and message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("HTTP {status} {code}: {message}")]
pub struct MaaError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    /// `innererror`: MAA's details (a policy failure names the claim here).
    pub inner: Option<serde_json::Value>,
}

impl MaaError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        MaaError { status, code, message: message.into(), inner: None }
    }

    pub fn with_inner(self, inner: serde_json::Value) -> Self {
        MaaError { inner: Some(inner), ..self }
    }

    /// 400 `InvalidParameter`: the request or its evidence is not acceptable.
    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        MaaError::new(400, "InvalidParameter", message)
    }

    /// The response: the JSON body and the `x-ms-error-code` header.
    pub(super) fn response(&self) -> Response {
        let mut error = json!({ "code": self.code, "message": self.message });
        if let Some(inner) = &self.inner {
            error["innererror"] = inner.clone();
        }
        let body = json!({ "error": error });
        Response::json(self.status, &body).header("x-ms-error-code", self.code)
    }
}
