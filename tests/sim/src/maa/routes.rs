//! MAA's routes (docs/protocol.md §10, §11.4):
//!
//! | route | answer |
//! |---|---|
//! | `POST /attest/AzureGuest?api-version=2020-10-01` (or `2025-06-01`) | `{"token": envelope}`: the JWT encrypted to the request's ephemeral key ([`super::envelope`]) |
//! | `POST /attest/SevSnpVm?api-version=2022-08-01` (or `2023-04-01-preview`, `2025-06-01`) | `{"token": JWT}` |
//! | `POST /attest/TdxVm?api-version=2023-04-01-preview` (or `2025-06-01`) | `{"token": JWT}` |
//! | `GET /certs` | the JWKS with the signing key's certificate |
//! | `GET /.well-known/openid-configuration` | the OpenID metadata naming this instance and `/certs` |
//!
//! Anything else is 404 (a known path with another method 405); an attestation request without an
//! `api-version` MAA accepts for it is 400; evidence that fails appraisal is 400 `InvalidParameter`
//! naming the failed step. Every error has MAA's JSON body. Successful attestations also carry
//! `x-cvm-attest-sim-steps`, the appraisal's steps and their outcome (what was not evaluated is
//! visible there, never silently passed).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cvm_attest_formats::bundle::MaaRequest;
use cvm_attest_formats::time::DateTime;
use cvm_attest_formats::tpm::Public;
use serde_json::{Value, json};

use super::appraise::{self, Trust};
use super::claims;
use super::envelope;
use super::error::MaaError;
use super::faults::{Fault, Faults};
use super::http::{Request, Response};
use super::policy;
use super::token::{self, Signer};

/// The `iss` of a token made with [`Fault::WrongIssuer`].
pub const WRONG_ISSUER: &str = "https://wrong-issuer.cvm-attest-test.invalid";
/// How far back an expired token ([`Fault::ExpiredToken`]) was issued: 9 hours, so it expired an
/// hour ago.
const EXPIRED_AGE_SECONDS: i64 = 9 * 60 * 60;

/// Everything the request handlers share.
#[derive(Debug)]
pub(super) struct State {
    /// `https://127.0.0.1:PORT` (or `http://`): `iss`, and the base of `jku` and `jwks_uri`.
    pub base_url: String,
    pub signer: Signer,
    /// Signs tokens for [`Fault::UnknownSigningKey`]; never published.
    pub unknown_signer: Signer,
    pub trust: Trust,
    pub faults: Mutex<Faults>,
    /// Set when the service stops: a delay fault ends early.
    pub stop: AtomicBool,
    pub body_max: usize,
}

impl State {
    pub fn faults(&self) -> MutexGuard<'_, Faults> {
        self.faults.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sleep `ms`, or less if the service stops meanwhile.
    fn sleep(&self, ms: u64) {
        let deadline = Instant::now() + Duration::from_millis(ms);
        while !self.stop.load(Ordering::SeqCst) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            std::thread::sleep(left.min(Duration::from_millis(20)));
        }
    }
}

/// The API versions MAA accepts for an attestation route (docs/protocol.md §10.1; [SPEC] lists
/// 2025-06-01 for all three).
fn api_versions(kind: MaaRequest) -> &'static [&'static str] {
    match kind {
        MaaRequest::AzureGuest => &["2020-10-01", "2025-06-01"],
        MaaRequest::SevSnpVm => &["2022-08-01", "2023-04-01-preview", "2025-06-01"],
        MaaRequest::TdxVm => &["2023-04-01-preview", "2025-06-01"],
    }
}

pub(super) fn handle(state: &State, request: &Request) -> Response {
    let get = |answer: Value| match request.method.as_str() {
        "GET" => Response::json(200, &answer),
        _ => method_not_allowed("GET"),
    };
    match request.path.as_str() {
        "/certs" => get(json!({ "keys": [state.signer.jwk()] })),
        "/.well-known/openid-configuration" => get(token::openid_configuration(&state.base_url)),
        path => match path.strip_prefix("/attest/").and_then(attestation_kind) {
            Some(kind) if request.method == "POST" => match check_api_version(kind, request) {
                Ok(()) => attest(state, kind, &request.body),
                Err(error) => error.response(),
            },
            Some(_) => method_not_allowed("POST"),
            None => not_found(path),
        },
    }
}

fn attestation_kind(name: &str) -> Option<MaaRequest> {
    match name {
        "AzureGuest" => Some(MaaRequest::AzureGuest),
        "SevSnpVm" => Some(MaaRequest::SevSnpVm),
        "TdxVm" => Some(MaaRequest::TdxVm),
        _ => None,
    }
}

fn check_api_version(kind: MaaRequest, request: &Request) -> Result<(), MaaError> {
    let supported = api_versions(kind);
    match request.query("api-version") {
        None => Err(MaaError::new(
            400,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        )),
        Some(version) if supported.contains(&version) => Ok(()),
        Some(version) => Err(MaaError::new(
            400,
            "InvalidApiVersionParameter",
            format!(
                "The api-version '{version}' is invalid. The supported versions are '{}'.",
                supported.join(",")
            ),
        )),
    }
}

pub(super) fn not_found(path: &str) -> Response {
    MaaError::new(404, "NotFound", format!("There is no resource at {path}.")).response()
}

pub(super) fn method_not_allowed(allowed: &str) -> Response {
    MaaError::new(405, "MethodNotAllowed", format!("Only {allowed} is allowed here."))
        .response()
        .header("Allow", allowed)
}

/// An attestation request that got past the door: faults, appraisal, token.
fn attest(state: &State, kind: MaaRequest, body: &[u8]) -> Response {
    let delay = state.faults().take(|fault| matches!(fault, Fault::Delay { .. }));
    if let Some(Fault::Delay { ms }) = delay {
        state.sleep(ms);
    }
    let refusal =
        state.faults().take(|fault| matches!(fault, Fault::TooManyRequests { .. } | Fault::ServerError));
    match refusal {
        Some(Fault::TooManyRequests { retry_after }) => {
            let error =
                MaaError::new(429, "TooManyRequests", "Too many requests; retry after the time given.");
            return error.response().header("Retry-After", retry_after.to_string());
        }
        Some(_) => {
            return MaaError::new(500, "InternalServerError", "An internal error occurred (injected fault).")
                .response();
        }
        None => {}
    }
    match issue(state, kind, body) {
        Ok((token, steps)) => {
            let body = if state.faults().take_kind(Fault::MalformedBody) {
                // A body cut off inside the token string: not JSON.
                format!("{{\"token\": \"{}", token.get(..token.len() / 2).unwrap_or_default()).into_bytes()
            } else {
                json!({ "token": token }).to_string().into_bytes()
            };
            Response::raw(200, "application/json; charset=utf-8", body)
                .header("x-cvm-attest-sim-steps", steps)
        }
        Err(error) => error.response(),
    }
}

/// Appraise, then make the token (and for AzureGuest its envelope): the `token` value and the steps'
/// summary.
fn issue(state: &State, kind: MaaRequest, body: &[u8]) -> Result<(String, String), MaaError> {
    let now = unix_now();
    let now_text = DateTime::from_unix_seconds(now)
        .ok_or_else(|| MaaError::new(500, "InternalServerError", "the clock is out of range"))?;
    let appraised = appraise::appraise(kind, body, &state.trust, &now_text)?;
    // AzureGuest: what to encrypt to, before anything is signed.
    let recipient = match kind {
        MaaRequest::AzureGuest => Some(ephemeral_key(&appraised.bundle)?),
        MaaRequest::SevSnpVm | MaaRequest::TdxVm => None,
    };
    let steps = appraise::summary(&appraised.steps);
    let mut claims = claims::token_claims(kind, body, appraised.claims)?;
    policy::authorize(&claims)?;
    let (wrong_issuer, expired, unknown_key) = {
        let mut faults = state.faults();
        (
            faults.take_kind(Fault::WrongIssuer),
            faults.take_kind(Fault::ExpiredToken),
            faults.take_kind(Fault::UnknownSigningKey),
        )
    };
    let issuer = if wrong_issuer { WRONG_ISSUER } else { state.base_url.as_str() };
    let issued_at = if expired { now - EXPIRED_AGE_SECONDS } else { now };
    token::add_standard_claims(&mut claims, issuer, issued_at);
    // The header names the published key even when another signs (the fault is the signature).
    let header = token::header(&state.base_url, state.signer.kid());
    let signer = if unknown_key { &state.unknown_signer } else { &state.signer };
    let jwt = signer
        .sign(&header, &Value::Object(claims))
        .map_err(|e| MaaError::new(500, "InternalServerError", format!("signing the token: {e}")))?;
    let token = match recipient {
        Some(key) => {
            let tamper = state.faults().take_kind(Fault::TamperedEnvelopeTag);
            envelope::seal(&jwt, &key, tamper)
                .map_err(|e| MaaError::new(500, "InternalServerError", e.to_string()))?
        }
        None => jwt,
    };
    Ok((token, steps))
}

/// The ephemeral key an AzureGuest token is encrypted to. MAA refuses a request without one; so
/// does this, naming the fields.
fn ephemeral_key(bundle: &cvm_attest_formats::bundle::EvidenceBundle) -> Result<rsa::RsaPublicKey, MaaError> {
    let key = bundle.tpm.as_ref().and_then(|tpm| tpm.ephemeral_key.as_ref()).ok_or_else(|| {
        MaaError::invalid_parameter(
            "The request has no ephemeral key (TpmInfo.EncKeyPub, EncKeyCertifyInfo, \
             EncKeyCertifyInfoSignature): the AzureGuest token is encrypted to it, so there is nothing to \
             encrypt the answer to.",
        )
    })?;
    Public::parse_tpm2b(&key.public)
        .map_err(|e| {
            MaaError::invalid_parameter(format!("TpmInfo.EncKeyPub is not an RSA TPM2B_PUBLIC: {e}"))
        })?
        .rsa_public_key()
        .map_err(|e| MaaError::invalid_parameter(format!("TpmInfo.EncKeyPub is not a usable RSA key: {e}")))
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX))
}
