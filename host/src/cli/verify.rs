//! `cvm-attest verify`: appraise evidence with a verifier plugin, run claim checks, print the result.

use std::io::IsTerminal;

use super::args::VerifyArgs;
use super::resolve::{self, Format, list_files};
use super::{Rejected, finish};
use crate::config::Config;
use crate::pipeline;
use crate::plugins::{self, SearchPath};
use crate::render::verification::{self, Verification};
use crate::text::sanitize;

pub fn run(args: &VerifyArgs, config: &Config, search: &SearchPath) -> anyhow::Result<()> {
    let resolved = resolve::verify(args, config, search)?;
    if resolved.request.expected_nonce.is_none() {
        tracing::warn!(
            "no --nonce given: the evidence is checked, but not that it is fresh; pass the nonce the relying \
             party issued for this attestation (--nonce or --nonce-hex)"
        );
    }
    // A verifier refuses unusable anchors or collateral as configuration: name the operator's files.
    let outcome = pipeline::run(resolved.request).map_err(|e| match e {
        plugins::Error::ConfigRejected { .. } => anyhow::Error::new(e).context(format!(
            "the verifier refused the operator's inputs (trust anchors: {}; collateral: {})",
            list_files(&resolved.anchor_files),
            list_files(&resolved.collateral_files)
        )),
        e => e.into(),
    })?;
    let output = match &resolved.format {
        Format::Json => {
            format!("{:#}\n", serde_json::to_value(Verification::of(&args.evidence, &outcome))?).into_bytes()
        }
        Format::Text => {
            verification::text(&args.evidence, &outcome, std::io::stdout().is_terminal()).into_bytes()
        }
        Format::Plugin(plugin) => {
            plugin.format(&plugins::eval_context(String::new()), &outcome.attestation_result())?.body
        }
    };
    finish(&output, verdict(&outcome))
}

/// Exit status 1 (with the reason) unless the evidence was verified and every check passed.
pub(super) fn verdict(outcome: &pipeline::Outcome) -> anyhow::Result<()> {
    if let Err(rejection) = &outcome.judged {
        return Err(Rejected(sanitize(&rejection.to_string()).into_owned()).into());
    }
    match outcome.failed_checks().as_slice() {
        [] => Ok(()),
        failed => Err(Rejected(format!(
            "evidence verified, but claim check(s) did not pass: {}",
            failed.join(", ")
        ))
        .into()),
    }
}
