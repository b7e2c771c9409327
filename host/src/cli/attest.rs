//! `cvm-attest attest`: collect evidence in the VM, have MAA appraise it (or a verifier plugin,
//! locally), decrypt and verify MAA's token, run claim checks, print the result.
//!
//! Nothing MAA says is used before its token verified: signature by a key of the expected instance,
//! issuer, lifetime and nonce (`--no-verify` only prints the token, and says so loudly).

use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use cvm_attest_formats::bundle::EvidenceBundle;
use serde::Serialize;
use serde_json::Value;

use super::args::{AttestArgs, AttestType};
use super::resolve;
use super::{Rejected, finish, write_file, write_output};
use crate::config::Config;
use crate::evidence::collect::{self, Request};
use crate::evidence::imds::{Imds, Retry};
use crate::evidence::vtpm::Vtpm;
use crate::maa::client::{self, Client, ClientOptions};
use crate::maa::endpoint::{self, Endpoint};
use crate::maa::envelope::Envelope;
use crate::maa::{Api, request};
use crate::pipeline::{self, Check};
use crate::plugins::{self, Kind, Plugin, Runtime, SearchPath, types};
use crate::render::verification::{self, Verification};
use crate::token::{self, Expected, HttpOptions, Issuer, KeySource, Verifier};

/// Identifies the JSON layout of `attest -o json`.
pub const SCHEMA: &str = "cvm-attest/attestation/v1";

/// What `-o` asks for.
enum Output {
    /// The verified token (compact JWS), as the C++ sample's `-o token`.
    Token,
    /// `true` for a compliant SEV-SNP or TDX CVM whose checks passed, as the C++ sample's `-o bool`.
    Bool,
    Json,
    Plugin(Box<Plugin>),
}

impl Output {
    fn resolve(
        runtime: &Runtime,
        search: &SearchPath,
        config: &Config,
        name: &str,
    ) -> anyhow::Result<Output> {
        Ok(match name {
            "token" => Output::Token,
            "bool" => Output::Bool,
            "json" => Output::Json,
            name => Output::Plugin(Box::new(
                resolve::load(runtime, search, config, name, Kind::OutputFormat).with_context(|| {
                    format!("{name}: not token, bool or json, so an output-format plugin")
                })?,
            )),
        })
    }

    fn is_token(&self) -> bool {
        matches!(self, Output::Token)
    }
}

pub fn run(args: &AttestArgs, config: &Config, search: &SearchPath) -> anyhow::Result<()> {
    // The operator's inputs first: a mistake is a usage error before the TPM or the network is used.
    let runtime = Runtime::new(config.cache_dir())?;
    let output = Output::resolve(&runtime, search, config, &args.output).context("-o")?;
    let writes = args
        .writes
        .iter()
        .map(|(name, path)| {
            if path == Path::new("-") {
                anyhow::bail!("--write {name}=-: --write is for files; -o {name} prints to standard output");
            }
            let output = Output::resolve(&runtime, search, config, name)
                .with_context(|| format!("--write {name}={}", path.display()))?;
            Ok((output, path.as_path()))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let checks = args
        .checks
        .iter()
        .map(|spec| resolve::check(&runtime, search, config, spec))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let api = api(args.kind);
    let nonce = args.nonce.bytes();
    let nonce_member = nonce_member(args.kind, nonce.as_deref())?;
    let imds = Imds::new(&args.sources.imds, Retry::default())?;
    let verifier = match args.verifier.as_str() {
        "maa" => None,
        name => Some(resolve::load(&runtime, search, config, name, Kind::Verifier)?),
    };
    let maa = match verifier {
        Some(_) => None,
        None => Some(Maa::new(args, config, &imds)?),
    };
    if args.no_verify && (!matches!(output, Output::Token) || !writes.is_empty()) {
        anyhow::bail!(
            "--no-verify only prints the token as MAA sent it: use it with -o token and no --write"
        );
    }
    if verifier.is_some()
        && std::iter::once(&output).chain(writes.iter().map(|(o, _)| o)).any(Output::is_token)
    {
        anyhow::bail!("token: a verifier plugin issues no token; use json, bool or a format plugin");
    }

    let progress = Progress::new();
    let attempt = Attempt { args, api, nonce: &nonce, nonce_member: nonce_member.as_deref(), imds: &imds };
    let (bundle, token, claims) = match attempt.make(maa.as_ref(), &progress) {
        Ok(Obtained::Evidence(bundle)) => {
            let verifier = verifier.context("a verifier plugin")?;
            return locally(args, config, bundle, verifier, checks, &output, &writes);
        }
        Ok(Obtained::Unverified(token)) => {
            tracing::warn!(
                "--no-verify: this token was NOT verified (signature, issuer, lifetime, nonce); do not \
                 trust anything it says until `cvm-attest token verify` accepts it"
            );
            return finish(format!("{token}\n").as_bytes(), Ok(()));
        }
        Ok(Obtained::Verified { bundle, token, claims }) => (bundle, token, claims),
        Err(e) => return failed(e, &args.verifier, &output, &writes),
    };
    let maa = maa.context("MAA")?;
    let claims_text = claims.to_string();
    let at_unix_ms = crate::clock::now_unix_ms();
    let outcomes =
        checks.iter().map(|check| check.run(&claims_text, at_unix_ms)).collect::<Result<Vec<_>, _>>()?;
    progress.done();
    let failed: Vec<&str> = outcomes
        .iter()
        .filter(|c| !matches!(c.verdict, types::Verdict::Pass))
        .map(|c| c.plugin.as_str())
        .collect();
    let verdict = match failed.as_slice() {
        [] => Ok(()),
        failed => Err(Rejected(format!(
            "MAA's token verified, but claim check(s) did not pass: {}",
            failed.join(", ")
        ))
        .into()),
    };
    let answer = Answer::Maa(MaaAnswer {
        endpoint: maa.endpoint(),
        api,
        platform: bundle.platform.name(),
        token: &token,
        claims: &claims,
        claims_text,
        checks: outcomes,
    });
    emit(&answer, &output, &writes, verdict)
}

/// One attestation's inputs, from the collection of evidence to MAA's verified token.
struct Attempt<'a> {
    args: &'a AttestArgs,
    api: Api,
    nonce: &'a Option<Vec<u8>>,
    nonce_member: Option<&'a str>,
    imds: &'a Imds,
}

/// What an attempt obtained.
enum Obtained {
    /// The collected evidence, for a local verifier to appraise.
    Evidence(EvidenceBundle),
    /// MAA's token as it sent it (`--no-verify`).
    Unverified(String),
    /// MAA's token, verified, with its claims.
    Verified { bundle: EvidenceBundle, token: String, claims: Value },
}

impl Attempt<'_> {
    /// Collect the evidence; with `maa`, have it appraised and verify the token.
    fn make(&self, maa: Option<&Maa>, progress: &Progress) -> anyhow::Result<Obtained> {
        let args = self.args;
        progress.say("collecting evidence from the vTPM and IMDS");
        let mut vtpm = Vtpm::open(&args.sources.tpm)?;
        let request = Request {
            nonce: self.nonce.clone(),
            pcrs: args.pcrs.0.clone(),
            event_log: args.event_log.clone(),
            os_release: collect::OS_RELEASE_PATH.into(),
        };
        let (bundle, warnings) = collect::collect(&mut vtpm, self.imds, &request)?;
        for warning in warnings {
            tracing::warn!("{warning}");
        }
        if let Some(path) = &args.save_evidence {
            write_output(path, bundle.to_json().as_bytes())?;
        }
        let Some(maa) = maa else { return Ok(Obtained::Evidence(bundle)) };
        let token = maa.token(self.api, &bundle, self.nonce_member, &mut vtpm, progress)?;
        drop(vtpm);
        if args.no_verify {
            return Ok(Obtained::Unverified(token));
        }
        progress.say("verifying the token");
        let claims = maa.verify(&token, self.nonce.clone())?;
        Ok(Obtained::Verified { bundle, token, claims })
    }
}

/// An attempt that failed before there were claims to judge. The `--write` files that can report a
/// failure (output-format plugins and `bool`) are rewritten to say so, rather than keep the last
/// success; `token` and `json` files keep the last verified token, there being no new one. `-o bool`
/// prints `false` for a failed attestation. The run's error is `error`, whatever the writes did.
fn failed(
    error: anyhow::Error,
    verifier: &str,
    output: &Output,
    writes: &[(Output, &Path)],
) -> anyhow::Result<()> {
    let finding = types::Finding {
        code: "attestation-failed".to_owned(),
        message: super::message(&error),
        claim_path: None,
    };
    let result = types::AttestationResult {
        claims: "{}".to_owned(),
        token: None,
        verifier: verifier.to_owned(),
        checks: vec![types::CheckOutcome {
            plugin: verifier.to_owned(),
            version: String::new(),
            digest: String::new(),
            verdict: types::Verdict::Fail(vec![finding]),
        }],
    };
    for (format, path) in writes {
        let body = match format {
            Output::Plugin(plugin) => {
                plugin.format(&plugins::eval_context(String::new()), &result).map(|r| r.body)
            }
            Output::Bool => Ok(b"false\n".to_vec()),
            Output::Token | Output::Json => continue,
        };
        if let Err(e) = body.map_err(anyhow::Error::from).and_then(|body| write_file(path, &body, 0o644)) {
            tracing::warn!("--write {}: the failure could not be written: {e:#}", path.display());
        }
    }
    match output {
        Output::Bool if error.is::<Rejected>() => finish(b"false\n", Err(error)),
        _ => Err(error),
    }
}

/// The MAA API an attestation type asks.
pub(super) fn api(kind: AttestType) -> Api {
    match kind {
        AttestType::AzureGuest => Api::AzureGuest,
        AttestType::SevSnpVm => Api::SevSnpVm,
        AttestType::TdxVm => Api::TdxVm,
    }
}

/// The request document's `nonce`: SevSnpVm and TdxVm take the nonce as a JSON string, which MAA
/// echoes; AzureGuest binds it in the evidence instead.
pub(super) fn nonce_member(kind: AttestType, nonce: Option<&[u8]>) -> anyhow::Result<Option<String>> {
    match (api(kind), nonce) {
        (Api::AzureGuest, _) | (_, None) => Ok(None),
        (_, Some(bytes)) => String::from_utf8(bytes.to_vec()).map(Some).map_err(|_| {
            anyhow::anyhow!("--type {kind}: the nonce must be UTF-8 text, which MAA echoes as a string")
        }),
    }
}

/// MAA, resolved: where, how to reach it, and how to verify what it answers.
pub(super) struct Maa {
    endpoint: Endpoint,
    client: Client,
    issuer: Issuer,
    verifier: Verifier,
}

impl Maa {
    pub(super) fn new(args: &AttestArgs, config: &Config, imds: &Imds) -> anyhow::Result<Maa> {
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
    pub(super) fn token(
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
    pub(super) fn verify(&self, token: &str, nonce: Option<Vec<u8>>) -> anyhow::Result<Value> {
        let expected = Expected { nonce, ..Expected::new(self.issuer.clone()) };
        match self.verifier.verify(token, &expected) {
            Ok(verified) => Ok(Value::Object(verified.claims)),
            Err(token::Error::Rejected(rejection)) => {
                Err(Rejected(format!("MAA's token is not valid: {rejection}")).into())
            }
            Err(err) => Err(err.into()),
        }
    }

    pub(super) fn endpoint(&self) -> &str {
        self.endpoint.as_str()
    }
}

/// The verifier of MAA's tokens, fetching MAA's keys as `--timeout` and `--ca-file` say.
pub(super) fn token_verifier(args: &AttestArgs) -> anyhow::Result<Verifier> {
    let extra_roots_pem = args
        .ca_file
        .as_deref()
        .map(|path| crate::input::read(path, "CA file", crate::input::MAX_SMALL_FILE_BYTES))
        .transpose()?;
    let http = HttpOptions { timeout: Duration::from_secs(args.timeout), extra_roots_pem };
    Verifier::new(KeySource::Discover, &http).context("--ca-file")
}

/// `attest -o json`: the verified token and its claims, and every check's outcome.
#[derive(Serialize)]
struct Attestation<'a> {
    schema: &'static str,
    /// `maa`.
    verifier: &'static str,
    /// The MAA instance's base URL (the token's issuer).
    endpoint: &'a str,
    /// The MAA API asked.
    api: &'static str,
    platform: &'static str,
    /// The token verified and every check passed.
    accepted: bool,
    token: &'a str,
    claims: &'a Value,
    checks: Vec<verification::Check>,
}

/// With `--verifier PLUGIN`: the collected evidence appraised locally, with the configuration's
/// trust anchors and collateral, printed as `verify` prints it (`-o bool` as for MAA's claims).
fn locally(
    args: &AttestArgs,
    config: &Config,
    bundle: EvidenceBundle,
    verifier: Plugin,
    checks: Vec<Check>,
    output: &Output,
    writes: &[(Output, &Path)],
) -> anyhow::Result<()> {
    let request = pipeline::Request {
        bundle,
        verifier,
        expected_nonce: args.nonce.bytes(),
        trust_anchors: pipeline::evidence::read_blobs("trust anchor", &config.trust_anchors)?,
        collateral: pipeline::evidence::read_blobs("collateral", &config.collateral)?,
        checks,
        at_unix_ms: crate::clock::now_unix_ms(),
    };
    let outcome = pipeline::run(request)?;
    let verdict = super::verify::verdict(&outcome);
    let evidence = args.save_evidence.as_deref().unwrap_or(Path::new("(collected)"));
    emit(&Answer::Local { outcome: &outcome, evidence }, output, writes, verdict)
}

/// What was decided, whoever appraised the evidence.
enum Answer<'a> {
    Maa(MaaAnswer<'a>),
    Local { outcome: &'a pipeline::Outcome, evidence: &'a Path },
}

struct MaaAnswer<'a> {
    endpoint: &'a str,
    api: Api,
    platform: &'static str,
    token: &'a str,
    claims: &'a Value,
    claims_text: String,
    checks: Vec<types::CheckOutcome>,
}

impl Answer<'_> {
    /// The verified claims (`null` when a local verifier did not accept the evidence).
    fn claims(&self) -> &Value {
        match self {
            Answer::Maa(maa) => maa.claims,
            Answer::Local { outcome, .. } => outcome.judged.as_ref().unwrap_or(&Value::Null),
        }
    }

    fn token(&self) -> Option<&str> {
        match self {
            Answer::Maa(maa) => Some(maa.token),
            Answer::Local { .. } => None,
        }
    }

    /// The answer in one format; `accepted` is the verdict so far, which `bool` reports.
    fn render(&self, output: &Output, accepted: bool) -> anyhow::Result<Vec<u8>> {
        Ok(match (output, self) {
            (Output::Token, Answer::Maa(maa)) => format!("{}\n", maa.token).into_bytes(),
            (Output::Token, Answer::Local { .. }) => anyhow::bail!("-o token needs MAA"),
            (Output::Bool, _) => {
                let yes = accepted && compliant_cvm(self.claims()).is_ok();
                (if yes { "true\n" } else { "false\n" }).into()
            }
            (Output::Json, Answer::Maa(maa)) => {
                let document = Attestation {
                    schema: SCHEMA,
                    verifier: "maa",
                    endpoint: maa.endpoint,
                    api: maa.api.document(),
                    platform: maa.platform,
                    accepted,
                    token: maa.token,
                    claims: maa.claims,
                    checks: maa.checks.iter().map(verification::Check::of).collect(),
                };
                format!("{:#}\n", serde_json::to_value(document)?).into_bytes()
            }
            (Output::Json, Answer::Local { outcome, evidence }) => {
                format!("{:#}\n", serde_json::to_value(Verification::of(evidence, outcome))?).into_bytes()
            }
            (Output::Plugin(plugin), answer) => {
                let result = match answer {
                    Answer::Maa(maa) => {
                        let maa_outcome = types::CheckOutcome {
                            plugin: "maa".to_owned(),
                            version: maa.api.document().to_owned(),
                            digest: String::new(),
                            verdict: types::Verdict::Pass,
                        };
                        types::AttestationResult {
                            claims: maa.claims_text.clone(),
                            token: Some(maa.token.to_owned()),
                            verifier: "maa".to_owned(),
                            checks: std::iter::once(maa_outcome).chain(maa.checks.iter().cloned()).collect(),
                        }
                    }
                    Answer::Local { outcome, .. } => outcome.attestation_result(),
                };
                plugin.format(&plugins::eval_context(String::new()), &result)?.body
            }
        })
    }
}

/// Write every `--write` file, then print `-o`'s rendering and return the verdict. The files are
/// written whatever the verdict, so that what reads them learns of a failure too; `-o bool` also
/// fails the run when the claims do not show a compliant CVM, as the C++ sample's does.
fn emit(
    answer: &Answer,
    output: &Output,
    writes: &[(Output, &Path)],
    verdict: anyhow::Result<()>,
) -> anyhow::Result<()> {
    let verdict = match (verdict, output) {
        (Ok(()), Output::Bool) => {
            compliant_cvm(answer.claims()).map(drop).map_err(|why| Rejected(why).into())
        }
        (verdict, _) => verdict,
    };
    for (format, path) in writes {
        let body = answer.render(format, verdict.is_ok())?;
        // The token is a bearer credential: a file that holds it is for its owner only.
        let holds_token = answer.token().is_some_and(|token| contains(&body, token.as_bytes()));
        write_file(path, &body, if holds_token { 0o600 } else { 0o644 })?;
    }
    let body = answer.render(output, verdict.is_ok())?;
    finish(&body, verdict)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|window| window == needle)
}

/// The C++ sample's `-o bool` asks for claims that show an SEV-SNP or TDX CVM that MAA (or the
/// verifier) found `azure-compliant-cvm`: which of the two, or the reason when they do not.
pub(super) fn compliant_cvm(claims: &Value) -> Result<&str, String> {
    // A guest token nests the TEE's claims; a platform token has them at the top.
    let tee = claims.get("x-ms-isolation-tee").unwrap_or(claims);
    let kind = tee.get("x-ms-attestation-type").and_then(Value::as_str);
    let status = tee.get("x-ms-compliance-status").and_then(Value::as_str);
    if let (Some(kind @ ("sevsnpvm" | "tdxvm")), Some("azure-compliant-cvm")) = (kind, status) {
        return Ok(kind);
    }
    Err(format!(
        "the claims do not show a compliant confidential VM (attestation type {}, compliance status {})",
        kind.unwrap_or("none"),
        status.unwrap_or("none")
    ))
}

/// One line per slow step on a terminal's stderr; nothing when stderr is piped.
pub(super) struct Progress {
    on: bool,
}

impl Progress {
    fn new() -> Progress {
        Progress { on: std::io::stderr().is_terminal() }
    }

    pub(super) fn quiet() -> Progress {
        Progress { on: false }
    }

    fn say(&self, step: &str) {
        if self.on {
            eprintln!("… {step}");
        }
    }

    fn done(&self) {
        self.say("done");
    }
}
