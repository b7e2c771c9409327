//! `cvm-attest plugin list | inspect | run`.

use std::io::Write;
use std::path::Path;

use anyhow::bail;
use serde_json::{Value, json};

use super::args::{Output, PluginCommand, RunArgs};
use super::{Rejected, finish};
use crate::config::Config;
use crate::input;
use crate::pipeline;
use crate::plugins::{CopyStatus, Kind, Listed, Located, Runtime, SearchPath, types};
use crate::render::verification;
use crate::text::sanitize;

pub fn run(cmd: PluginCommand, config: &Config, search: &SearchPath) -> anyhow::Result<()> {
    match cmd {
        PluginCommand::List { output } => list(search, output),
        PluginCommand::Inspect { file, output } => inspect(&file, config, output),
        PluginCommand::Run(args) => run_plugin(&args, search, config),
        PluginCommand::Pin { names } => pin(search, &names),
        PluginCommand::New(args) => super::scaffold::new(&args),
    }
}

/// Print `[plugins.NAME] sha256 = ... manifest_sha256 = ...` tables, ready for the configuration
/// file: the component and its manifest are pinned together.
fn pin(search: &SearchPath, names: &[String]) -> anyhow::Result<()> {
    let plugins = if names.is_empty() {
        search.list().0
    } else {
        names.iter().map(|n| search.find(n)).collect::<Result<_, _>>()?
    };
    let mut out = std::io::stdout().lock();
    for p in plugins {
        let digests = crate::plugins::digests(&p)?;
        writeln!(
            out,
            "[plugins.{}]  # {} {}\nsha256 = \"{}\"\nmanifest_sha256 = \"{}\"\n",
            p.manifest.name, p.manifest.kind, p.manifest.version, digests.component, digests.manifest
        )?;
    }
    Ok(())
}

/// Every copy of every plugin on the search path. A name with several copies shows each, with its
/// path and status: `used`, `shadowed` (identical to the copy used), or `conflict` (the copies
/// differ, so the name is refused until all but one are removed).
fn list(search: &SearchPath, output: Output) -> anyhow::Result<()> {
    let (found, broken) = search.list_all();
    let mut out = std::io::stdout().lock();
    if output == Output::Json {
        let plugins: Vec<Value> = found
            .iter()
            .map(|Listed { located: p, status }| {
                json!({
                    "name": p.manifest.name, "kind": p.manifest.kind, "version": p.manifest.version,
                    "api": p.manifest.api, "description": p.manifest.description,
                    "wasm": p.wasm_path, "manifest": p.manifest_path, "status": status,
                })
            })
            .collect();
        let broken: Vec<String> = broken.iter().map(ToString::to_string).collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&json!({ "plugins": plugins, "broken": broken }))?)?;
        return Ok(());
    }
    if found.is_empty() {
        writeln!(out, "no plugins found; searched {}", search.describe())?;
    } else {
        writeln!(out, "{:<20} {:<14} {:<9} {:<4} DESCRIPTION", "NAME", "KIND", "VERSION", "API")?;
    }
    let copies = |name: &str| found.iter().filter(|l| l.located.manifest.name == name).count();
    for Listed { located: p, status } in &found {
        let m = &p.manifest;
        writeln!(
            out,
            "{:<20} {:<14} {:<9} {:<4} {}",
            m.name,
            m.kind.as_str(),
            sanitize(&m.version),
            m.api,
            sanitize(&m.description)
        )?;
        if copies(&m.name) > 1 {
            let note = if *status == CopyStatus::Shadowed { " (identical to the copy used)" } else { "" };
            writeln!(out, "  {:<18} {}{note}", status.as_str(), p.wasm_path.display())?;
        }
    }
    let mut conflicts: Vec<&str> = found
        .iter()
        .filter(|l| l.status == CopyStatus::Conflict)
        .map(|l| l.located.manifest.name.as_str())
        .collect();
    conflicts.dedup();
    for name in conflicts {
        writeln!(
            out,
            "conflict: the copies of '{name}' differ; using it by name fails until all but one are removed \
             (or give the wanted one by the path of its .wasm)"
        )?;
    }
    for e in &broken {
        writeln!(out, "broken: {e}")?;
    }
    Ok(())
}

fn inspect(file: &Path, config: &Config, output: Output) -> anyhow::Result<()> {
    let runtime = Runtime::new(config.cache_dir())?;
    let inspection = runtime.inspect(file)?;
    let located = Located::from_wasm(file);
    let load = match &located {
        Ok(l) => runtime.load(l, &config.policy(&l.manifest.name), config.require_pinned).map(drop),
        Err(e) => Err(crate::plugins::Error::MalformedManifest {
            path: file.with_extension("toml"),
            reason: e.to_string(),
        }),
    };
    let manifest = located.as_ref().ok().map(|l| &l.manifest);
    if output == Output::Json {
        let value = json!({
            "component": file, "inspection": inspection, "manifest": manifest,
            "loads": load.is_ok(), "refusal": load.as_ref().err().map(|e| json!({"kind": e.kind(), "message": e.to_string()})),
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    let field =
        |out: &mut std::io::StdoutLock, k: &str, v: &dyn std::fmt::Display| writeln!(out, "{k:<13}{v}");
    field(&mut out, "component", &file.display())?;
    field(&mut out, "sha256", &inspection.digest)?;
    field(&mut out, "size", &format!("{} bytes", inspection.size))?;
    let kind = inspection.kind.map_or("none (exports no plugin interface)".to_owned(), |k| k.to_string());
    field(&mut out, "kind", &kind)?;
    field(&mut out, "api", &inspection.api_version.as_deref().unwrap_or("-"))?;
    match manifest {
        Some(m) => {
            field(&mut out, "manifest", &format!("{} {} ({}, api {})", m.name, m.version, m.kind, m.api))?;
            let caps: Vec<&str> = m.capabilities.iter().map(|c| c.as_str()).collect();
            field(
                &mut out,
                "capabilities",
                &if caps.is_empty() { "none".to_owned() } else { caps.join(", ") },
            )?;
        }
        None => field(&mut out, "manifest", &"missing")?,
    }
    for (label, names) in [("exports", &inspection.exports), ("imports", &inspection.imports)] {
        for (i, name) in names.iter().enumerate() {
            field(&mut out, if i == 0 { label } else { "" }, name)?;
        }
    }
    match &load {
        Ok(()) => field(&mut out, "loads", &"yes")?,
        Err(e) => field(&mut out, "loads", &format!("no: {e}"))?,
    }
    Ok(())
}

fn run_plugin(args: &RunArgs, search: &SearchPath, config: &Config) -> anyhow::Result<()> {
    let located = search.locate(&args.plugin)?;
    let name = located.manifest.name.clone();
    let runtime = Runtime::new(config.cache_dir())?;
    let plugin = runtime.load(&located, &config.policy(&name), config.require_pinned)?;
    if located.manifest.kind == Kind::Verifier {
        bail!("'{name}' is a verifier plugin; run it with `cvm-attest verify --verifier {name}`");
    }
    let plugin_config = match &args.plugin_config {
        Some(path) => input::read_text(path, "plugin configuration", input::MAX_SMALL_FILE_BYTES)?,
        None => located.manifest.default_config.clone().unwrap_or_default(),
    };
    plugin.validate_config(&plugin_config)?;
    let claims = read_claims(&args.claims)?;
    let token = match &args.token {
        Some(path) => Some(input::read_text(path, "token", input::MAX_SMALL_FILE_BYTES)?.trim().to_owned()),
        None => None,
    };
    if located.manifest.kind == Kind::OutputFormat {
        let outcome = types::AttestationResult { claims, token, verifier: "file".into(), checks: Vec::new() };
        let ctx = crate::plugins::eval_context(plugin_config);
        return finish(&plugin.format(&ctx, &outcome)?.body, Ok(()));
    }
    let outcome =
        pipeline::Check { plugin, config: plugin_config }.run(&claims, crate::clock::now_unix_ms())?;
    let output = match args.output {
        Output::Json => format!("{}\n", serde_json::to_string_pretty(&verification::Check::of(&outcome))?),
        Output::Text => verification::verdict_text(&name, &outcome.verdict),
    };
    let passed = match outcome.verdict {
        types::Verdict::Pass => Ok(()),
        _ => Err(Rejected(format!("claim check '{name}' did not pass")).into()),
    };
    finish(output.as_bytes(), passed)
}

/// A claims file: one JSON object (an MAA token payload), no duplicate keys.
fn read_claims(path: &Path) -> anyhow::Result<String> {
    let text = input::read_text(path, "claims", input::MAX_SMALL_FILE_BYTES)?;
    match cvm_attest_formats::json::from_str::<Value>(&text) {
        Ok(Value::Object(_)) => Ok(text),
        Ok(_) => bail!("{}: claims must be a JSON object (an MAA token payload)", path.display()),
        Err(e) => bail!("{}: claims are not valid JSON: {e}", path.display()),
    }
}
