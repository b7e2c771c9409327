//! The command-line front end: parse, run, map the outcome to an exit status.
//!
//! Exit status: 0 success; 1 when a check, attestation or verification fails; 2 for usage,
//! configuration, environment and plugin-loading errors.

mod args;
mod evidence;
mod plugin;
mod verify;

use std::io::{IsTerminal, Read, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

pub use args::Cli;
use args::Command;

/// A run that completed but whose answer is "no" (a failed check or verification): exit status 1.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Rejected(pub String);

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            let _ = writeln!(std::io::stderr(), "error: {err:#}");
            ExitCode::from(if err.is::<Rejected>() { 1 } else { 2 })
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let config = crate::config::Config::discover(cli.config.as_deref())?;
    match cli.command {
        Command::Evidence(cmd) => evidence::run(cmd),
        Command::Verify(args) => verify::run(&args, &config, &search_path(&config, &cli.plugin_dirs)),
        Command::Plugin(cmd) => plugin::run(cmd, &config, &search_path(&config, &cli.plugin_dirs)),
    }
}

fn search_path(
    config: &crate::config::Config,
    plugin_dirs: &[std::path::PathBuf],
) -> crate::plugins::SearchPath {
    let env = std::env::var("CVM_ATTEST_PLUGIN_PATH").ok();
    crate::plugins::SearchPath::standard(plugin_dirs, env.as_deref(), config.plugin_dir.as_deref())
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .without_time()
        .init();
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The bytes of `path`, or of stdin for `-`.
fn read_input(path: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
    let mut data = Vec::new();
    if path == Path::new("-") {
        std::io::stdin().read_to_end(&mut data).with_context(|| format!("reading {what} from stdin"))?;
    } else {
        data = std::fs::read(path).with_context(|| format!("reading {what} from {}", path.display()))?;
    }
    Ok(data)
}

/// Write `data` to `path` (stdout for `-`), only once it is complete: a failure leaves no partial file.
fn write_output(path: &Path, data: &[u8]) -> anyhow::Result<()> {
    if path == Path::new("-") {
        return Ok(std::io::stdout().lock().write_all(data)?);
    }
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot create a file in {}", dir.display()))?;
    file.write_all(data).and_then(|()| file.as_file().sync_all())?;
    file.persist(path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
