//! `cvm-attest verify`: appraise evidence with a verifier plugin, run claim checks, print the result.
//!
//! Everything the operator supplies (plugins, their configurations, trust anchors, collateral) is
//! read and validated before the evidence is appraised, so a local mistake is a usage error (exit 2),
//! never mistaken for bad evidence (exit 1).

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::{Value, json};

use super::args::VerifyArgs;
use super::plugin::{eval_context, locate, verdict_json, verdict_text};
use super::{Rejected, finish};
use crate::config::Config;
use crate::input;
use crate::plugins::{Kind, Plugin, Runtime, SearchPath, types};
use crate::text::sanitize;
use crate::verify::{self, Rejection};

/// Identifies the JSON layout of `verify -o json`.
pub const SCHEMA: &str = "cvm-attest/verification/v1";

pub fn run(args: &VerifyArgs, config: &Config, search: &SearchPath) -> anyhow::Result<()> {
    let received_at = cvm_attest_formats::bundle::Timestamp::parse(&crate::evidence::collect::now_rfc3339())
        .context("the system clock")?;
    let evidence = input::read(&args.evidence, "evidence", input::MAX_EVIDENCE_BYTES)?;
    let bundle = verify::read_evidence(&evidence, received_at)
        .with_context(|| format!("cannot verify {}", args.evidence.display()))?;

    // The operator's inputs, checked before anything is appraised.
    let anchor_files = merged(&config.trust_anchors, &args.trust_anchors);
    let collateral_files = merged(&config.collateral, &args.collateral);
    let anchors = verify::read_blobs("trust anchor", &anchor_files)?;
    let collateral = verify::read_blobs("collateral", &collateral_files)?;
    let runtime = Runtime::new(config.cache_dir())?;
    let verifier = load(&runtime, search, config, &args.verifier, Kind::Verifier)?;
    let format = match args.output.as_str() {
        "text" | "json" => None,
        name => Some(
            load(&runtime, search, config, name, Kind::OutputFormat)
                .with_context(|| format!("-o {name}: not `text` or `json`, so an output-format plugin"))?,
        ),
    };
    let checks = args
        .checks
        .iter()
        .map(|spec| Check::resolve(&runtime, search, config, spec))
        .collect::<anyhow::Result<Vec<_>>>()?;

    let expected_nonce = args.nonce.bytes();
    if expected_nonce.is_none() {
        tracing::warn!(
            "no --nonce given: the evidence is checked, but not that it is fresh; pass the nonce the relying \
             party issued for this attestation (--nonce or --nonce-hex)"
        );
    }
    let request = verify::request(&bundle, expected_nonce.clone(), anchors, collateral);
    // A verifier refuses unusable anchors or collateral as configuration: name the operator's files.
    let verifier_config = verifier.manifest().default_config.clone().unwrap_or_default();
    let verified = verifier.verify(&eval_context(verifier_config), &request).map_err(|e| match e {
        crate::plugins::Error::ConfigRejected { .. } => anyhow::Error::new(e).context(format!(
            "the verifier refused the operator's inputs (trust anchors: {}; collateral: {})",
            list_files(&anchor_files),
            list_files(&collateral_files)
        )),
        e => e.into(),
    })?;
    let judged = verify::judge(&verifier.manifest().name, &verified, &bundle, expected_nonce.as_deref());
    let outcomes = match &judged {
        Ok(_) => {
            checks.iter().map(|check| check.run(&verified.claims)).collect::<anyhow::Result<Vec<_>>>()?
        }
        Err(_) => Vec::new(),
    };

    let report = Report {
        evidence: &args.evidence,
        bundle: &bundle,
        verifier: &verifier,
        verified: &verified,
        judged: &judged,
        checks: &outcomes,
    };
    let output = match (&format, args.output.as_str()) {
        (None, "json") => format!("{:#}\n", report.json()).into_bytes(),
        (None, _) => report.text(std::io::stdout().is_terminal()).into_bytes(),
        (Some(plugin), _) => plugin.format(&eval_context(String::new()), &report.attestation_result())?.body,
    };
    finish(&output, report.verdict())
}

/// Configuration entries, overridden by the command line's.
fn merged(config: &BTreeMap<String, PathBuf>, flags: &[(String, PathBuf)]) -> BTreeMap<String, PathBuf> {
    let mut all = config.clone();
    all.extend(flags.iter().cloned());
    all
}

fn list_files(files: &BTreeMap<String, PathBuf>) -> String {
    if files.is_empty() {
        return "none".to_owned();
    }
    files.iter().map(|(name, path)| format!("{name}={}", path.display())).collect::<Vec<_>>().join(", ")
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

/// One `--check PLUGIN[=CONFIG]`, loaded and with its configuration accepted.
struct Check {
    plugin: Plugin,
    config: String,
}

impl Check {
    fn resolve(runtime: &Runtime, search: &SearchPath, config: &Config, spec: &str) -> anyhow::Result<Check> {
        let (name, config_file) = match spec.split_once('=') {
            Some((name, file)) => (name, Some(Path::new(file))),
            None => (spec, None),
        };
        let plugin = load(runtime, search, config, name, Kind::ClaimCheck)
            .with_context(|| format!("--check {spec}"))?;
        let plugin_config = match config_file {
            Some(path) => input::read_text(path, "check configuration", input::MAX_SMALL_FILE_BYTES)?,
            None => plugin.manifest().default_config.clone().unwrap_or_default(),
        };
        match plugin.validate_config(&plugin_config) {
            Ok(()) => {}
            Err(e) if config_file.is_none() && plugin.manifest().default_config.is_none() => {
                anyhow::bail!(
                    "--check {name}: no configuration was given and the plugin has none by default; pass one \
                     as --check {name}=FILE ({e})"
                )
            }
            Err(e) => {
                return Err(e).with_context(|| format!("--check {spec}"));
            }
        }
        Ok(Check { plugin, config: plugin_config })
    }

    /// The check's outcome on `claims`, for output formats and as JSON.
    fn run(&self, claims: &str) -> anyhow::Result<types::CheckOutcome> {
        let verdict = self.plugin.check(&eval_context(self.config.clone()), claims)?;
        Ok(outcome(&self.plugin, verdict))
    }
}

fn outcome(plugin: &Plugin, verdict: types::Verdict) -> types::CheckOutcome {
    let manifest = plugin.manifest();
    types::CheckOutcome {
        plugin: manifest.name.clone(),
        version: manifest.version.clone(),
        digest: plugin.inspection().digest.clone(),
        verdict,
    }
}

/// Everything `verify` prints.
struct Report<'a> {
    evidence: &'a Path,
    bundle: &'a cvm_attest_formats::bundle::EvidenceBundle,
    verifier: &'a Plugin,
    verified: &'a types::Verified,
    /// The verified claims, or why the evidence is not accepted.
    judged: &'a Result<Value, Rejection>,
    checks: &'a [types::CheckOutcome],
}

impl Report<'_> {
    fn failed_checks(&self) -> Vec<&str> {
        let failed = self.checks.iter().filter(|c| !matches!(c.verdict, types::Verdict::Pass));
        failed.map(|c| c.plugin.as_str()).collect()
    }

    /// Exit status 1 (with the reason) unless the evidence was verified and every check passed.
    fn verdict(&self) -> anyhow::Result<()> {
        if let Err(rejection) = self.judged {
            return Err(Rejected(sanitize(&rejection.to_string()).into_owned()).into());
        }
        match self.failed_checks().as_slice() {
            [] => Ok(()),
            failed => Err(Rejected(format!(
                "evidence verified, but claim check(s) did not pass: {}",
                failed.join(", ")
            ))
            .into()),
        }
    }

    /// The conclusion, in one line.
    fn conclusion(&self) -> String {
        match (self.judged, self.failed_checks().as_slice()) {
            (Err(rejection), _) => format!("NOT verified: {}", sanitize(&rejection.to_string())),
            (Ok(_), []) if self.checks.is_empty() => "verified".to_owned(),
            (Ok(_), []) => "verified; every check passed".to_owned(),
            (Ok(_), failed) => format!("evidence verified; check(s) FAILED: {}", failed.join(", ")),
        }
    }

    /// The bundle's OS facts: signed by nothing, so never among the claims.
    fn unverified(&self) -> Value {
        match &self.bundle.os {
            Some(os) => {
                json!({ "os": { "type": os.os_type, "distro": os.distro, "version_major": os.version_major, "version_minor": os.version_minor } })
            }
            None => json!({}),
        }
    }

    fn json(&self) -> Value {
        let manifest = self.verifier.manifest();
        let verified = self.judged.is_ok();
        let checks_passed = verified && self.failed_checks().is_empty();
        json!({
            "schema": SCHEMA,
            "evidence": { "file": self.evidence, "platform": self.bundle.platform.name() },
            "verifier": { "name": manifest.name, "version": manifest.version, "sha256": self.verifier.inspection().digest },
            "verified": verified,
            "checks_passed": checks_passed,
            "accepted": checks_passed,
            "rejection": self.judged.as_ref().err().map(ToString::to_string),
            "steps": self.verified.steps.iter().map(|s| json!({ "name": s.name, "status": status_name(s.status), "detail": s.detail })).collect::<Vec<_>>(),
            "claims": self.judged.as_ref().ok(),
            "unverified": self.unverified(),
            "checks": self.checks.iter().map(|c| json!({ "plugin": c.plugin, "version": c.version, "sha256": c.digest, "verdict": verdict_json(&c.verdict) })).collect::<Vec<_>>(),
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
        let width = self.verified.steps.iter().map(|step| step.name.len()).max().unwrap_or(0).min(40);
        for step in &self.verified.steps {
            let (mark, paint) = match step.status {
                types::StepStatus::Passed => ("pass", "32"),
                types::StepStatus::Failed => ("FAIL", "31"),
                types::StepStatus::NotEvaluated => ("n/a ", "33"),
            };
            let mark = if color { format!("\x1b[{paint}m{mark}\x1b[0m") } else { mark.to_owned() };
            s.push_str(&format!("  {mark}  {:width$}  {}\n", sanitize(&step.name), sanitize(&step.detail)));
        }
        if let Some(os) = &self.bundle.os {
            s.push_str(&format!(
                "\n  unverified (signed by nothing, so not among the claims): os {} {} {}.{}\n",
                sanitize(&os.os_type),
                sanitize(&os.distro),
                os.version_major,
                os.version_minor
            ));
        }
        for check in self.checks {
            s.push_str(&verdict_text(&format!("\n  check {}", check.plugin), &check.verdict));
        }
        s.push_str(&format!("\n{}\n", self.conclusion()));
        s
    }

    /// The result as output-format plugins see it. The verifier's own outcome comes first among the
    /// checks (named after the verifier; a failed step or the host's objection is its finding), so a
    /// format always knows whether the evidence was verified, within the 0.1 contract.
    fn attestation_result(&self) -> types::AttestationResult {
        let verdict = match self.judged {
            Ok(_) => types::Verdict::Pass,
            Err(rejection) => types::Verdict::Fail(vec![types::Finding {
                code: match rejection {
                    Rejection::FailedStep { step, .. } => format!("step-failed:{step}"),
                    _ => "verification-rejected".to_owned(),
                },
                message: rejection.to_string(),
                claim_path: None,
            }]),
        };
        let mut checks = vec![outcome(self.verifier, verdict)];
        checks.extend(self.checks.iter().cloned());
        types::AttestationResult {
            claims: if self.judged.is_ok() { self.verified.claims.clone() } else { "{}".to_owned() },
            token: None,
            verifier: self.verifier.manifest().name.clone(),
            checks,
        }
    }
}

fn status_name(status: types::StepStatus) -> &'static str {
    match status {
        types::StepStatus::Passed => "passed",
        types::StepStatus::Failed => "failed",
        types::StepStatus::NotEvaluated => "not-evaluated",
    }
}
