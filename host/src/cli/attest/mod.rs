//! `cvm-attest attest`: collect evidence in the VM, have MAA appraise it (or a verifier plugin,
//! locally), decrypt and verify MAA's token, run claim checks, print the result.
//!
//! Nothing MAA says is used before its token verified: signature by a key of the expected instance,
//! issuer, lifetime and nonce (`--no-verify` only prints the token, and says so loudly).
//!
//! [`maa`] talks to MAA (shared with `doctor`); [`answer`] renders what was decided.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::Context;
use cvm_attest_formats::bundle::EvidenceBundle;
use serde_json::Value;

use super::args::AttestArgs;
use super::resolve;
use super::{Rejected, finish, write_file, write_output};
use crate::config::Config;
use crate::evidence::collect::{self, Request};
use crate::evidence::imds::{Imds, Retry};
use crate::evidence::vtpm::Vtpm;
use crate::maa::Api;
use crate::pipeline::{self, Check};
use crate::plugins::{self, Kind, Plugin, Runtime, SearchPath, types};

mod answer;
mod maa;

pub(super) use answer::compliant_cvm;
use answer::{Answer, MaaAnswer, emit};
pub(super) use maa::{Maa, api, nonce_member, token_verifier};

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
    let endpoint = maa.as_ref().map(Maa::endpoint).context("a verified token comes from MAA")?;
    let claims_text = claims.to_string();
    let at_unix_ms = crate::clock::now_unix_ms();
    let outcomes =
        checks.iter().map(|check| check.run(&claims_text, at_unix_ms)).collect::<Result<Vec<_>, _>>()?;
    progress.done();
    let failing: Vec<&str> = outcomes
        .iter()
        .filter(|c| !matches!(c.verdict, types::Verdict::Pass))
        .map(|c| c.plugin.as_str())
        .collect();
    let verdict = match failing.as_slice() {
        [] => Ok(()),
        failing => Err(Rejected(format!(
            "MAA's token verified, but claim check(s) did not pass: {}",
            failing.join(", ")
        ))
        .into()),
    };
    let answer = Answer::Maa(MaaAnswer {
        endpoint,
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
pub(super) struct Attempt<'a> {
    pub args: &'a AttestArgs,
    pub api: Api,
    pub nonce: &'a Option<Vec<u8>>,
    pub nonce_member: Option<&'a str>,
    pub imds: &'a Imds,
}

/// What an attempt obtained.
pub(super) enum Obtained {
    /// The collected evidence, for a local verifier to appraise.
    Evidence(EvidenceBundle),
    /// MAA's token as it sent it (`--no-verify`).
    Unverified(String),
    /// MAA's token, verified, with its claims.
    Verified { bundle: EvidenceBundle, token: String, claims: Value },
}

impl Attempt<'_> {
    /// Collect the evidence; with `maa`, have it appraised and verify the token.
    pub(super) fn make(&self, maa: Option<&Maa>, progress: &Progress) -> anyhow::Result<Obtained> {
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
    let outcome = appraise_locally(config, bundle, verifier, args.nonce.bytes(), checks)?;
    let verdict = super::verify::verdict(&outcome);
    let evidence = args.save_evidence.as_deref().unwrap_or(Path::new("(collected)"));
    emit(&Answer::Local { outcome: &outcome, evidence }, output, writes, verdict)
}

/// `bundle` appraised by a verifier plugin, with the configuration's trust anchors and collateral,
/// then checked.
pub(super) fn appraise_locally(
    config: &Config,
    bundle: EvidenceBundle,
    verifier: Plugin,
    expected_nonce: Option<Vec<u8>>,
    checks: Vec<Check>,
) -> anyhow::Result<pipeline::Outcome> {
    let request = pipeline::Request {
        bundle,
        verifier,
        expected_nonce,
        trust_anchors: pipeline::evidence::read_blobs("trust anchor", &config.trust_anchors)?,
        collateral: pipeline::evidence::read_blobs("collateral", &config.collateral)?,
        checks,
        at_unix_ms: crate::clock::now_unix_ms(),
    };
    Ok(pipeline::run(request)?)
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
