//! What `attest` decided, rendered in each format asked for: printed (`-o`) and written (`--write`).

use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use super::{Output, SCHEMA};
use crate::cli::{Rejected, finish, write_file};
use crate::maa::Api;
use crate::pipeline;
use crate::plugins::{self, types};
use crate::render::verification::{self, Verification};

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

/// What was decided, whoever appraised the evidence.
pub(super) enum Answer<'a> {
    Maa(MaaAnswer<'a>),
    Local { outcome: &'a pipeline::Outcome, evidence: &'a Path },
}

/// MAA's verified answer and the checks' outcomes on its claims.
pub(super) struct MaaAnswer<'a> {
    pub endpoint: &'a str,
    pub api: Api,
    pub platform: &'static str,
    pub token: &'a str,
    pub claims: &'a Value,
    pub claims_text: String,
    pub checks: Vec<types::CheckOutcome>,
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
pub(super) fn emit(
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
pub(in crate::cli) fn compliant_cvm(claims: &Value) -> Result<&str, String> {
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
