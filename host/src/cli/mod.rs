//! The command-line front end: parse, run, map the outcome to an exit status.
//!
//! Exit status, the same on every command: 0 success; 1 when a check, attestation or verification
//! fails; 2 for usage and input errors (arguments, configuration, operator files, plugins); 3 for
//! the environment (no TPM, a service unreachable). A failure never exits 0, not even when stdout
//! was closed early: the verdict is decided before anything is written, and a write error is an
//! error.

mod args;
mod attest;
mod doctor;
mod evidence;
mod plugin;
mod resolve;
mod scaffold;
mod settings;
mod shell;
mod token;
mod verify;

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use clap::{ArgMatches, CommandFactory, FromArgMatches};

pub use args::Cli;
use args::{Command, ConfigCommand};

/// A run that completed but whose answer is "no" (a failed check or verification): exit status 1.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Rejected(pub String);

pub fn main() -> ExitCode {
    // The matches say which values came from flags or variables, below which the configuration counts.
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    init_logging(cli.verbose);
    crate::crypto::install();
    match run(cli, &matches) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let _ = writeln!(std::io::stderr(), "error: {}", message(&err));
            ExitCode::from(exit_status(&err))
        }
    }
}

/// The exit status for an error (see the module docs).
fn exit_status(err: &anyhow::Error) -> u8 {
    if err.is::<Rejected>() {
        1
    } else if is_environment(err) {
        3
    } else {
        2
    }
}

/// Whether the error is the machine's, not the user's input: no TPM, a service that does not answer.
fn is_environment(err: &anyhow::Error) -> bool {
    use crate::evidence::{collect, imds, vtpm};
    err.chain().any(|e| {
        e.downcast_ref::<vtpm::Error>().is_some_and(vtpm::Error::is_environment)
            || e.downcast_ref::<imds::Error>().is_some_and(imds::Error::is_environment)
            || e.downcast_ref::<collect::Error>().is_some_and(collect::Error::is_environment)
            || e.downcast_ref::<crate::token::Error>().is_some_and(crate::token::Error::is_environment)
            || e.downcast_ref::<crate::maa::client::Error>()
                .is_some_and(crate::maa::client::Error::is_environment)
            || e.downcast_ref::<crate::maa::endpoint::Error>()
                .is_some_and(crate::maa::endpoint::Error::is_environment)
    })
}

/// The error and its causes on one line, each cause once: many errors already quote their source.
fn message(err: &anyhow::Error) -> String {
    let mut text = err.to_string();
    for cause in err.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

fn run(cli: Cli, matches: &ArgMatches) -> anyhow::Result<()> {
    let config = || crate::config::Config::discover(cli.config.as_deref());
    let plugins = |config: &crate::config::Config| search_path(config, &cli.plugin_dirs);
    match cli.command {
        Command::Attest(ref args) => {
            let config = config()?;
            let (args, _) = settings::attest(args, subcommand(matches, &["attest"])?, &config)?;
            attest::run(&args, &config, &plugins(&config))
        }
        Command::Doctor(ref args) => {
            let config = config()?;
            let (args, _) = settings::attest(args, subcommand(matches, &["doctor"])?, &config)?;
            doctor::run(&args, &config, &plugins(&config))
        }
        Command::Config(ConfigCommand::Show(ref args)) => {
            let config = config()?;
            let (_, settings) = settings::attest(args, subcommand(matches, &["config", "show"])?, &config)?;
            settings::show(&config, &plugins(&config), &settings)
        }
        Command::Evidence(cmd) => {
            config()?;
            evidence::run(cmd)
        }
        Command::Verify(ref args) => {
            let config = config()?;
            verify::run(args, &config, &plugins(&config))
        }
        Command::Plugin(cmd) => {
            let config = config()?;
            plugin::run(cmd, &config, &plugins(&config))
        }
        Command::Token(cmd) => token::run(cmd, &config()?),
        // Generated from the argument definitions alone: a broken configuration must not stop them.
        Command::Completions { shell } => shell::completions(shell),
        Command::Man => shell::man(),
    }
}

/// The matches of a subcommand that clap has already parsed.
fn subcommand<'a>(matches: &'a ArgMatches, path: &[&str]) -> anyhow::Result<&'a ArgMatches> {
    path.iter().try_fold(matches, |m, name| {
        m.subcommand_matches(name).with_context(|| format!("no matches for the subcommand {name}"))
    })
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

/// Print a command's output, then return its verdict. The verdict was decided before writing, so a
/// reader that goes away (`| head`, `| grep -q`) cannot turn a failure into success; and output
/// that could not be written is an error, never success.
fn finish(output: &[u8], verdict: anyhow::Result<()>) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    let written = stdout.write_all(output).and_then(|()| stdout.flush());
    verdict?;
    written.context("cannot write the result to standard output")
}

/// Write `data` to `path` (stdout for `-`), only once it is complete: a failure leaves no partial file.
fn write_output(path: &Path, data: &[u8]) -> anyhow::Result<()> {
    if path == Path::new("-") {
        return finish(data, Ok(()));
    }
    write_file(path, data, 0o600)
}

/// Replace `path` with `data` atomically (a temporary file beside it, synced, then renamed), with
/// permission bits `mode`: a reader sees the old file or the new one, never part of either.
fn write_file(path: &Path, data: &[u8], mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot create a file in {} (for {})", dir.display(), path.display()))?;
    file.as_file().set_permissions(std::fs::Permissions::from_mode(mode))?;
    file.write_all(data).and_then(|()| file.as_file().sync_all())?;
    file.persist(path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
