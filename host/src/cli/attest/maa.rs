//! MAA as `attest` (and `doctor`) talk to it: which API, which instance, the token it answers with
//! (decrypted in the vTPM for AzureGuest) and its verification.

use std::time::Duration;

use anyhow::Context;
use cvm_attest_formats::bundle::EvidenceBundle;
use serde_json::Value;

use super::Progress;
use crate::cli::Rejected;
use crate::cli::args::{AttestArgs, AttestType};
use crate::config::Config;
use crate::evidence::imds::Imds;
use crate::evidence::vtpm::Vtpm;
use crate::maa::client::{self, Client, ClientOptions};
use crate::maa::endpoint::{self, Endpoint};
use crate::maa::envelope::Envelope;
use crate::maa::{Api, request};
use crate::token::{self, Expected, HttpOptions, Issuer, KeySource, Verifier};

/// The MAA API an attestation type asks.
pub(in crate::cli) fn api(kind: AttestType) -> Api {
    match kind {
        AttestType::AzureGuest => Api::AzureGuest,
        AttestType::SevSnpVm => Api::SevSnpVm,
        AttestType::TdxVm => Api::TdxVm,
    }
}

/// The request document's `nonce`: SevSnpVm and TdxVm take the nonce as a JSON string, which MAA
/// echoes; AzureGuest binds it in the evidence instead.
pub(in crate::cli) fn nonce_member(kind: AttestType, nonce: Option<&[u8]>) -> anyhow::Result<Option<String>> {
    match (api(kind), nonce) {
        (Api::AzureGuest, _) | (_, None) => Ok(None),
        (_, Some(bytes)) => String::from_utf8(bytes.to_vec()).map(Some).map_err(|_| {
            anyhow::anyhow!("--type {kind}: the nonce must be UTF-8 text, which MAA echoes as a string")
        }),
    }
}

/// MAA, resolved: where, how to reach it, and how to verify what it answers.
pub(in crate::cli) struct Maa {
    endpoint: Endpoint,
    client: Client,
    issuer: Issuer,
    verifier: Verifier,
}

impl Maa {
    pub(in crate::cli) fn new(args: &AttestArgs, config: &Config, imds: &Imds) -> anyhow::Result<Maa> {
        let (endpoint, source) =
            endpoint::resolve(args.maa_url.as_deref(), config.maa_url.as_ref(), || imds.location())?;
        tracing::info!(endpoint = endpoint.as_str(), ?source, "MAA instance");
        let timeout = Duration::from_secs(args.timeout);
        let client = Client::new(ClientOptions {
            timeout,
            ca_file: args.ca_file.clone(),
            retry: client::Retry { attempts: args.retries.saturating_add(1), ..client::Retry::default() },
        })?;
        let verifier = token_verifier(args)?;
        // The token must come from the instance that was asked: its base URL is MAA's `iss`.
        let issuer = Issuer::of_endpoint(&endpoint)?;
        Ok(Maa { endpoint, client, issuer, verifier })
    }

    /// MAA's token for `bundle`, as MAA sent it (not verified yet): for AzureGuest, decrypted in the
    /// vTPM that collected the evidence. MAA refusing the evidence is a failed attestation (exit 1);
    /// other failures keep their kind.
    pub(in crate::cli) fn token(
        &self,
        api: Api,
        bundle: &EvidenceBundle,
        nonce_member: Option<&str>,
        vtpm: &mut Vtpm,
        progress: &Progress,
    ) -> anyhow::Result<String> {
        let body = request::body(api, bundle, nonce_member)?;
        progress.say(&format!("attesting with MAA at {} ({})", self.endpoint, api.document()));
        let answer = self.client.attest(&self.endpoint, api, &body).map_err(|e| match e.kind() {
            client::Kind::Rejected => anyhow::Error::new(Rejected(e.to_string())),
            _ => e.into(),
        })?;
        Ok(match api {
            Api::AzureGuest => {
                progress.say("decrypting MAA's answer in the vTPM");
                let tpm = bundle.tpm.as_ref().context("the collected evidence has no vTPM part")?;
                let pcrs: Vec<(u8, Vec<u8>)> =
                    tpm.pcrs.values().iter().map(|(i, v)| (*i, v.clone())).collect();
                let envelope = Envelope::parse(&answer).map_err(|e| Rejected(e.to_string()))?;
                let inner =
                    vtpm.decrypt_with_ephemeral_key(&pcrs, envelope.encrypted_inner_key()).map_err(|e| {
                        match e {
                            crate::evidence::vtpm::Error::PcrsMoved => {
                                anyhow::Error::new(Rejected(e.to_string()))
                            }
                            e => e.into(),
                        }
                    })?;
                envelope.open(&inner).map_err(|e| Rejected(e.to_string()))?
            }
            Api::SevSnpVm | Api::TdxVm => answer.trim().to_owned(),
        })
    }

    /// The claims of `token`, verified as this instance's (signature, issuer, lifetime) for `nonce`.
    pub(in crate::cli) fn verify(&self, token: &str, nonce: Option<Vec<u8>>) -> anyhow::Result<Value> {
        let expected = Expected { nonce, ..Expected::new(self.issuer.clone()) };
        match self.verifier.verify(token, &expected) {
            Ok(verified) => Ok(Value::Object(verified.claims)),
            Err(token::Error::Rejected(rejection)) => {
                Err(Rejected(format!("MAA's token is not valid: {rejection}")).into())
            }
            Err(err) => Err(err.into()),
        }
    }

    pub(in crate::cli) fn endpoint(&self) -> &str {
        self.endpoint.as_str()
    }
}

/// The verifier of MAA's tokens, fetching MAA's keys as `--timeout` and `--ca-file` say.
pub(in crate::cli) fn token_verifier(args: &AttestArgs) -> anyhow::Result<Verifier> {
    let extra_roots_pem = args
        .ca_file
        .as_deref()
        .map(|path| crate::input::read(path, "CA file", crate::input::MAX_SMALL_FILE_BYTES))
        .transpose()?;
    let http = HttpOptions { timeout: Duration::from_secs(args.timeout), extra_roots_pem };
    Verifier::new(KeySource::Discover, &http).context("--ca-file")
}
