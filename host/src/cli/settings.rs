//! Where each setting of `attest` comes from: its flag, else its `CVM_ATTEST_*` variable, else the
//! configuration's `[attest]` table, else its built-in default. A repeatable flag (`--check`,
//! `--write`) given once replaces the table's whole list.

use std::fmt;
use std::path::PathBuf;

use anyhow::Context;
use clap::ArgMatches;
use clap::parser::ValueSource;

use super::args::{AttestArgs, AttestType, Pcrs, parse_named_file, parse_pcrs};
use crate::config::Config;

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Flag,
    Env(&'static str),
    File,
    Default,
}

/// One effective setting, for `config show`.
#[derive(Debug)]
pub struct Setting {
    pub key: &'static str,
    pub value: String,
    pub source: Source,
}

/// `args` with the configuration's `[attest]` values wherever neither flag nor variable was given,
/// and where each value came from.
pub fn attest(
    args: &AttestArgs,
    matches: &ArgMatches,
    config: &Config,
) -> anyhow::Result<(AttestArgs, Vec<Setting>)> {
    let file = &config.attest;
    let mut args = args.clone();
    let mut settings = Vec::new();
    let invalid = |key: &str| {
        let path = config.path.as_deref().map_or("the configuration".into(), |p| p.display().to_string());
        format!("[attest] {key} in {path}")
    };
    // Flag or variable: as clap took it; otherwise the file's value, checked as the flag's would be.
    macro_rules! layer {
        ($key:literal, $id:literal, $env:literal, $field:expr, $file:expr, $parse:expr, $show:expr) => {{
            let source = match matches.value_source($id) {
                Some(ValueSource::CommandLine) => Source::Flag,
                Some(ValueSource::EnvVariable) => Source::Env($env),
                _ => match &$file {
                    Some(value) => {
                        $field = $parse(value).map_err(anyhow::Error::msg).with_context(|| invalid($key))?;
                        Source::File
                    }
                    None => Source::Default,
                },
            };
            settings.push(Setting { key: $key, value: $show(&$field), source });
        }};
    }
    let kind = |v: &String| {
        <AttestType as clap::ValueEnum>::from_str(v, false)
            .map_err(|_| format!("`{v}` is not azure-guest, sev-snp-vm or tdx-vm"))
    };
    let writes = |v: &Vec<String>| v.iter().map(|w| parse_named_file(w)).collect::<Result<Vec<_>, _>>();
    let show_writes = |w: &Vec<(String, PathBuf)>| {
        list(&w.iter().map(|(f, p)| format!("{f}={}", p.display())).collect::<Vec<_>>())
    };
    let show_pcrs = |p: &Pcrs| p.0.iter().map(u8::to_string).collect::<Vec<_>>().join(",");
    let show_path = |p: &PathBuf| p.display().to_string();

    layer!("type", "kind", "CVM_ATTEST_TYPE", args.kind, file.kind, kind, AttestType::to_string);
    layer!("output", "output", "CVM_ATTEST_OUTPUT", args.output, file.output, keep, String::clone);
    layer!("write", "writes", "", args.writes, file.write, writes, show_writes);
    layer!("verifier", "verifier", "CVM_ATTEST_VERIFIER", args.verifier, file.verifier, keep, String::clone);
    layer!("checks", "checks", "", args.checks, file.checks, keep, |c: &Vec<String>| list(c));
    layer!("pcrs", "pcrs", "CVM_ATTEST_PCRS", args.pcrs, file.pcrs, |v: &String| parse_pcrs(v), show_pcrs);
    layer!("event_log", "event_log", "CVM_ATTEST_EVENT_LOG", args.event_log, file.event_log, keep, show_path);
    layer!(
        "ca_file",
        "ca_file",
        "CVM_ATTEST_CA_FILE",
        args.ca_file,
        file.ca_file,
        |v: &PathBuf| keep(v).map(Some),
        |p: &Option<PathBuf>| { p.as_ref().map_or("none".into(), show_path) }
    );
    layer!("timeout", "timeout", "CVM_ATTEST_TIMEOUT", args.timeout, file.timeout, keep, |t: &u64| format!(
        "{t} s"
    ));
    layer!("retries", "retries", "CVM_ATTEST_RETRIES", args.retries, file.retries, keep, u32::to_string);
    layer!("tpm", "tpm", "CVM_ATTEST_TCTI", args.sources.tpm, file.tpm, keep, String::clone);
    layer!("imds", "imds", "CVM_ATTEST_IMDS_URL", args.sources.imds, file.imds, keep, String::clone);
    // The MAA instance is a top-level key, shared with `token verify`; its last resort is IMDS.
    let (value, source) = match (matches.value_source("maa_url"), &config.maa_url) {
        (Some(ValueSource::CommandLine), _) => (args.maa_url.clone().unwrap_or_default(), Source::Flag),
        (Some(ValueSource::EnvVariable), _) => {
            (args.maa_url.clone().unwrap_or_default(), Source::Env("CVM_ATTEST_MAA_URL"))
        }
        (_, Some(endpoint)) => (endpoint.as_str().to_owned(), Source::File),
        (_, None) => ("the shared instance of the VM's region (from IMDS)".to_owned(), Source::Default),
    };
    settings.insert(0, Setting { key: "maa_url", value, source });
    Ok((args, settings))
}

/// A file value that needs no parsing: TOML has already typed it.
fn keep<T: Clone>(value: &T) -> Result<T, String> {
    Ok(value.clone())
}

fn list(items: &[String]) -> String {
    if items.is_empty() { "none".to_owned() } else { items.join(" ") }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag => f.write_str("flag"),
            Source::Env(name) => write!(f, "${name}"),
            Source::File => f.write_str("configuration"),
            Source::Default => f.write_str("default"),
        }
    }
}

/// `config show`: the file, the host settings, then `attest`'s with their sources.
pub fn show(
    config: &Config,
    search: &crate::plugins::SearchPath,
    settings: &[Setting],
) -> anyhow::Result<()> {
    let file = match &config.path {
        Some(path) => crate::text::sanitize(&path.display().to_string()).into_owned(),
        None => format!("none ({} does not exist; built-in defaults)", crate::config::SYSTEM_CONFIG),
    };
    let cache = config.cache_dir().map_or("none".into(), |d| d.display().to_string());
    let mut out = format!(
        "configuration   {file}\nplugin path     {}\nrequire_pinned  {}\ncache_dir       {cache}\npinned          {}\n\n",
        search.describe(),
        config.require_pinned,
        list(
            &config
                .plugins
                .iter()
                .filter(|(_, p)| p.sha256.is_some())
                .map(|(n, _)| n.clone())
                .collect::<Vec<_>>()
        ),
    );
    let width = settings.iter().map(|s| s.value.len()).max().unwrap_or(0).min(60);
    out.push_str(&format!("{:<10}  {:<width$}  from\n", "attest", "value"));
    for setting in settings {
        let value = crate::text::sanitize(&setting.value);
        out.push_str(&format!("{:<10}  {:<width$}  {}\n", setting.key, value, setting.source));
    }
    super::finish(out.as_bytes(), Ok(()))
}
