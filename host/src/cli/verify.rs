//! `cvm-attest verify`: appraise evidence with a verifier plugin, run claim checks, print the result.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::{Value, json};

use super::args::VerifyArgs;
use super::plugin::{eval_context, locate, verdict_json, verdict_text};
use super::{Rejected, read_input};
use crate::config::Config;
use crate::plugins::{Kind, Plugin, Runtime, SearchPath, types};
use crate::verify;

/// Identifies the JSON layout of `verify -o json`.
pub const SCHEMA: &str = "cvm-attest/verification/v1";

pub fn run(args: &VerifyArgs, config: &Config, search: &SearchPath) -> anyhow::Result<()> {
    let received_at = cvm_attest_formats::bundle::Timestamp::parse(&crate::evidence::collect::now_rfc3339())
        .context("the system clock")?;
    let bundle = verify::read_evidence(&read_input(&args.evidence, "evidence")?, received_at)
        .with_context(|| format!("cannot verify {}", args.evidence.display()))?;
    let runtime = Runtime::new(config.cache_dir())?;
    let verifier = load(&runtime, search, config, &args.verifier, Kind::Verifier)?;
    // Resolved before appraising, so that a mistyped `-o` costs nothing.
    let format = match args.output.as_str() {
        "text" | "json" => None,
        name => Some(
            load(&runtime, search, config, name, Kind::OutputFormat)
                .with_context(|| format!("-o {name}: not `text` or `json`, so an output-format plugin"))?,
        ),
    };

    let anchors = merged(&config.trust_anchors, &args.trust_anchors);
    let collateral = merged(&config.collateral, &args.collateral);
    let request = verify::request(
        &bundle,
        args.nonce.bytes(),
        verify::read_blobs("trust anchor", &anchors)?,
        verify::read_blobs("collateral", &collateral)?,
    );
    if request.expected_nonce.is_none() {
        let hint = match &bundle.nonce {
            Some(nonce) => format!(" (it says it was collected with --nonce-hex {})", hex::encode(nonce)),
            None => String::new(),
        };
        tracing::warn!("no --nonce given: the evidence is checked, but not that it is fresh{hint}");
    }
    let verified = verifier.verify(&eval_context(String::new()), &request)?;
    let failed = verify::failed_step(&verified).cloned();
    let accepted = failed.is_none() && !verified.steps.is_empty();

    let mut checks = Vec::new();
    if accepted {
        for spec in &args.checks {
            checks.push(run_check(&runtime, search, config, spec, &verified.claims)?);
        }
    }
    let result = Report {
        evidence: &args.evidence,
        bundle: &bundle,
        verifier: &verifier,
        verified: &verified,
        accepted,
        checks: &checks,
    };
    let mut out = std::io::stdout().lock();
    match (&format, args.output.as_str()) {
        (None, "json") => writeln!(out, "{:#}", result.json())?,
        (None, _) => write!(out, "{}", result.text(std::io::stdout().is_terminal()))?,
        (Some(plugin), _) => {
            let outcome = types::AttestationResult {
                claims: if accepted { verified.claims.clone() } else { "{}".to_owned() },
                token: None,
                verifier: verifier.manifest().name.clone(),
                checks: checks.iter().map(|(outcome, _)| outcome.clone()).collect(),
            };
            out.write_all(&plugin.format(&eval_context(String::new()), &outcome)?.body)?;
        }
    }
    if let Some(step) = failed {
        return Err(Rejected(format!("verification failed at step `{}`: {}", step.name, step.detail)).into());
    }
    if !accepted {
        return Err(Rejected(format!("verifier `{}` reported no steps", args.verifier)).into());
    }
    if let Some((outcome, _)) = checks.iter().find(|(o, _)| !matches!(o.verdict, types::Verdict::Pass)) {
        return Err(Rejected(format!("claim check `{}` did not pass", outcome.plugin)).into());
    }
    Ok(())
}

/// Configuration entries, overridden by the command line's.
fn merged(config: &BTreeMap<String, PathBuf>, flags: &[(String, PathBuf)]) -> BTreeMap<String, PathBuf> {
    let mut all = config.clone();
    all.extend(flags.iter().cloned());
    all
}

fn load(
    runtime: &Runtime,
    search: &SearchPath,
    config: &Config,
    spec: &str,
    kind: Kind,
) -> anyhow::Result<Plugin> {
    let located = locate(search, spec)?;
    if located.manifest.kind != kind {
        anyhow::bail!("`{spec}` is a {} plugin, not a {kind}", located.manifest.kind);
    }
    Ok(runtime.load(&located, &config.policy(&located.manifest.name), config.require_pinned)?)
}

/// Run one `--check PLUGIN[=CONFIG]`: its outcome for output formats, and as JSON.
fn run_check(
    runtime: &Runtime,
    search: &SearchPath,
    config: &Config,
    spec: &str,
    claims: &str,
) -> anyhow::Result<(types::CheckOutcome, Value)> {
    let (name, config_file) = match spec.split_once('=') {
        Some((name, file)) => (name, Some(Path::new(file))),
        None => (spec, None),
    };
    let plugin = load(runtime, search, config, name, Kind::ClaimCheck)?;
    let plugin_config = match config_file {
        Some(path) => std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
        None => plugin.manifest().default_config.clone().unwrap_or_default(),
    };
    plugin.validate_config(&plugin_config)?;
    let verdict = plugin.check(&eval_context(plugin_config), claims)?;
    let manifest = plugin.manifest();
    let json = json!({
        "plugin": manifest.name, "version": manifest.version, "sha256": plugin.inspection().digest,
        "verdict": verdict_json(&verdict),
    });
    let outcome = types::CheckOutcome {
        plugin: manifest.name.clone(),
        version: manifest.version.clone(),
        digest: plugin.inspection().digest.clone(),
        verdict,
    };
    Ok((outcome, json))
}

/// Everything `verify` prints.
struct Report<'a> {
    evidence: &'a Path,
    bundle: &'a cvm_attest_formats::bundle::EvidenceBundle,
    verifier: &'a Plugin,
    verified: &'a types::Verified,
    accepted: bool,
    checks: &'a [(types::CheckOutcome, Value)],
}

impl Report<'_> {
    fn json(&self) -> Value {
        let manifest = self.verifier.manifest();
        let claims = if self.accepted {
            serde_json::from_str(&self.verified.claims).unwrap_or(Value::Null)
        } else {
            Value::Null
        };
        json!({
            "schema": SCHEMA,
            "evidence": { "file": self.evidence, "platform": self.bundle.platform.name() },
            "verifier": { "name": manifest.name, "version": manifest.version, "sha256": self.verifier.inspection().digest },
            "accepted": self.accepted,
            "steps": self.verified.steps.iter().map(|s| json!({ "name": s.name, "status": status_name(s.status), "detail": s.detail })).collect::<Vec<_>>(),
            "claims": claims,
            "checks": self.checks.iter().map(|(_, json)| json.clone()).collect::<Vec<_>>(),
        })
    }

    fn text(&self, color: bool) -> String {
        let manifest = self.verifier.manifest();
        let digest = &self.verifier.inspection().digest;
        let mut s = format!(
            "{} ({}) appraised by {} {} (sha256 {}…)\n\n",
            self.evidence.display(),
            self.bundle.platform.name(),
            manifest.name,
            manifest.version,
            digest.get(..12).unwrap_or(digest)
        );
        let width = self.verified.steps.iter().map(|step| step.name.len()).max().unwrap_or(0);
        for step in &self.verified.steps {
            let (mark, paint) = match step.status {
                types::StepStatus::Passed => ("pass", "32"),
                types::StepStatus::Failed => ("FAIL", "31"),
                types::StepStatus::NotEvaluated => ("n/a ", "33"),
            };
            let mark = if color { format!("\x1b[{paint}m{mark}\x1b[0m") } else { mark.to_owned() };
            s.push_str(&format!("  {mark}  {:width$}  {}\n", step.name, step.detail));
        }
        for (outcome, _) in self.checks {
            s.push_str(&verdict_text(&format!("\n  check {}", outcome.plugin), &outcome.verdict));
        }
        s.push_str(if self.accepted { "\nverified\n" } else { "\nNOT verified\n" });
        s
    }
}

fn status_name(status: types::StepStatus) -> &'static str {
    match status {
        types::StepStatus::Passed => "passed",
        types::StepStatus::Failed => "failed",
        types::StepStatus::NotEvaluated => "not-evaluated",
    }
}
