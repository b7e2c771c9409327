//! From what the user typed to what the pipeline needs: flags, the configuration file and the
//! environment merged, files read, plugins loaded. Everything the operator supplies is checked here,
//! before any evidence is appraised, so a local mistake is a usage error (exit 2), never mistaken for
//! bad evidence (exit 1).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::args::VerifyArgs;
use crate::config::Config;
use crate::input;
use crate::pipeline::{self, Check, evidence};
use crate::plugins::{Kind, Plugin, Runtime, SearchPath};

/// How the result is printed.
#[derive(Debug)]
pub enum Format {
    Text,
    Json,
    Plugin(Box<Plugin>),
}

/// A `verify` command, resolved.
#[derive(Debug)]
pub struct Verify {
    pub request: pipeline::Request,
    pub format: Format,
    /// The operator's files by name, to say which ones a verifier refused.
    pub anchor_files: BTreeMap<String, PathBuf>,
    pub collateral_files: BTreeMap<String, PathBuf>,
}

pub fn verify(args: &VerifyArgs, config: &Config, search: &SearchPath) -> anyhow::Result<Verify> {
    let bytes = input::read(&args.evidence, "evidence", input::MAX_EVIDENCE_BYTES)?;
    let bundle = evidence::read_evidence(&bytes, crate::clock::now())
        .with_context(|| format!("cannot verify {}", args.evidence.display()))?;
    let anchor_files = merged(&config.trust_anchors, &args.trust_anchors);
    let collateral_files = merged(&config.collateral, &args.collateral);
    let trust_anchors = evidence::read_blobs("trust anchor", &anchor_files)?;
    let collateral = evidence::read_blobs("collateral", &collateral_files)?;
    let runtime = Runtime::new(config.cache_dir())?;
    let verifier = load(&runtime, search, config, &args.verifier, Kind::Verifier)?;
    let format = match args.output.as_str() {
        "text" => Format::Text,
        "json" => Format::Json,
        name => Format::Plugin(Box::new(
            load(&runtime, search, config, name, Kind::OutputFormat)
                .with_context(|| format!("-o {name}: not `text` or `json`, so an output-format plugin"))?,
        )),
    };
    let checks = args
        .checks
        .iter()
        .map(|spec| check(&runtime, search, config, spec))
        .collect::<anyhow::Result<_>>()?;
    let expected_nonce = args.nonce.bytes();
    let at_unix_ms = match &args.at {
        // `parse_time` refuses times before 1970.
        Some(at) => u64::try_from(at.unix_seconds()).unwrap_or(0).saturating_mul(1000),
        None => crate::clock::now_unix_ms(),
    };
    let request =
        pipeline::Request { bundle, verifier, expected_nonce, trust_anchors, collateral, checks, at_unix_ms };
    Ok(Verify { request, format, anchor_files, collateral_files })
}

/// Configuration entries, overridden by the command line's.
fn merged(config: &BTreeMap<String, PathBuf>, flags: &[(String, PathBuf)]) -> BTreeMap<String, PathBuf> {
    let mut all = config.clone();
    all.extend(flags.iter().cloned());
    all
}

/// A plugin of `kind` by name or path, under the operator's policy for it.
pub fn load(
    runtime: &Runtime,
    search: &SearchPath,
    config: &Config,
    spec: &str,
    kind: Kind,
) -> anyhow::Result<Plugin> {
    let located = search.locate(spec)?;
    if located.manifest.kind != kind {
        anyhow::bail!("`{spec}` is a {} plugin, not a {kind}", located.manifest.kind);
    }
    Ok(runtime.load(&located, &config.policy(&located.manifest.name), config.require_pinned)?)
}

/// One `--check PLUGIN[=CONFIG]`, loaded and with its configuration accepted.
pub fn check(runtime: &Runtime, search: &SearchPath, config: &Config, spec: &str) -> anyhow::Result<Check> {
    let (name, config_file) = match spec.split_once('=') {
        Some((name, file)) => (name, Some(Path::new(file))),
        None => (spec, None),
    };
    let plugin =
        load(runtime, search, config, name, Kind::ClaimCheck).with_context(|| format!("--check {spec}"))?;
    let default = plugin.manifest().default_config.clone();
    let plugin_config = match config_file {
        Some(path) => input::read_text(path, "check configuration", input::MAX_SMALL_FILE_BYTES)?,
        None => default.clone().unwrap_or_default(),
    };
    match plugin.validate_config(&plugin_config) {
        Ok(()) => Ok(Check { plugin, config: plugin_config }),
        Err(e) if config_file.is_none() && default.is_none() => anyhow::bail!(
            "--check {name}: no configuration was given and the plugin has none by default; pass one as \
             --check {name}=FILE ({e})"
        ),
        Err(e) => Err(e).with_context(|| format!("--check {spec}")),
    }
}

/// `NAME=PATH, ...` for messages.
pub fn list_files(files: &BTreeMap<String, PathBuf>) -> String {
    if files.is_empty() {
        return "none".to_owned();
    }
    files.iter().map(|(name, path)| format!("{name}={}", path.display())).collect::<Vec<_>>().join(", ")
}
