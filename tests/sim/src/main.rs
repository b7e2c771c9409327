//! `cvm-attest-sim`: a simulated Azure confidential VM on loopback, for trying and testing cvm-attest
//! without Azure. A thin front end over [`cvm_attest_sim::environment`]: parse the command line,
//! start the environment, print or pass on its variables, and stop it on a signal or when the
//! command ends.

use std::ffi::OsString;
use std::io::Write as _;
use std::os::unix::process::ExitStatusExt as _;
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand, ValueEnum};
use cvm_attest_sim::cvm::Tee;
use cvm_attest_sim::environment::{Environment, EnvironmentOptions};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// How often `run` looks at its command and at signals.
const POLL: Duration = Duration::from_millis(20);

/// Exit statuses of `run` when the command did not run, as `env` and `timeout` have them.
const SIMULATOR_FAILED: u8 = 125;
const CANNOT_EXECUTE: u8 = 126;
const NOT_FOUND: u8 = 127;

const ABOUT: &str = "A simulated Azure confidential VM on loopback, for cvm-attest (TEST USE ONLY)";

const LONG_ABOUT: &str = "\
A simulated Azure confidential VM on loopback, for trying and testing cvm-attest without Azure.

It starts swtpm behind a simulated paravisor vTPM (the AK at 0x81000003, its certificate at 0x01C101D0,
HCL reports at 0x01400001 made afresh after each write to 0x01400002), a simulated IMDS (THIM, TD
quotes, the region) and an MAA-compatible service (HTTPS), each on a free port of 127.0.0.1. Reports,
quotes, certificates and tokens are signed by the TEST PKI of tests/sim/testdata/pki, which cvm-attest
trusts only when told to: through the configuration file it writes (CVM_ATTEST_SIM_CONFIG).

Variables (each `export NAME='value'`):
  CVM_ATTEST_TCTI               the vTPM, for `--tpm` (cvm-attest reads the variable itself)
  CVM_ATTEST_IMDS_URL           IMDS, for `--imds` (read by cvm-attest too)
  CVM_ATTEST_MAA_URL            the MAA-compatible service, for `-a`
  CVM_ATTEST_CA_FILE            the CA of its TLS certificate, for `--ca-file`
  CVM_ATTEST_SIM_MAA_ADMIN_URL  its fault injection (GET, POST, DELETE /faults)
  CVM_ATTEST_SIM_CONFIG         a cvm-attest configuration trusting the test roots, for `--config`";

const UP_AFTER: &str = "\
`up` prints the variables once everything listens (CVM_ATTEST_SIM_CONFIG last), writes them to
DIR/env as well, and runs until stopped. For an interactive session, `run -- $SHELL` is simplest.
Otherwise, in the background:

  cvm-attest-sim up > sim.env &
  until grep -q CVM_ATTEST_SIM_CONFIG sim.env; do sleep 0.1; done
  . ./sim.env
  cvm-attest evidence collect --nonce hello --out evidence.json
  cvm-attest verify --config \"$CVM_ATTEST_SIM_CONFIG\" --evidence evidence.json --nonce hello
  kill %1

(`eval \"$(cvm-attest-sim up)\"` does not work: `up` does not end, so neither would the `$(…)`.)
SIGTERM, SIGINT (Ctrl-C) or SIGHUP stops everything: swtpm is killed and the temporary directory
removed (files in a --dir are kept). Exit status 0 when stopped so, 1 when it could not start.";

const RUN_AFTER: &str = "\
Starts the same as `up`, runs CMD with the variables in its environment (and the terminal as
its), then stops everything and exits with CMD's status (128+N when a signal N ended it), or 125
when the simulator could not start, 126 when CMD could not be executed, 127 when it was not found.
SIGTERM and SIGHUP are passed on to CMD (SIGINT from the terminal reaches it directly).

  cvm-attest-sim run -- sh -c 'cvm-attest evidence collect --out e.json &&
      cvm-attest verify --config \"$CVM_ATTEST_SIM_CONFIG\" --evidence e.json'
  cvm-attest-sim run --tee tdx -- bash";

#[derive(Debug, Parser)]
#[command(name = "cvm-attest-sim", version, about = ABOUT, long_about = LONG_ABOUT)]
struct Cli {
    #[command(subcommand)]
    command: Mode,
}

#[derive(Debug, Subcommand)]
enum Mode {
    /// Start the simulated CVM, print the variables that point cvm-attest at it, run until stopped
    #[command(after_long_help = UP_AFTER)]
    Up(SimArgs),
    /// Start the simulated CVM, run CMD with the variables set, stop, exit with CMD's status
    #[command(after_long_help = RUN_AFTER)]
    Run {
        #[command(flatten)]
        sim: SimArgs,
        /// The command and its arguments, after `--`
        #[arg(last = true, required = true, value_name = "CMD")]
        command: Vec<OsString>,
    },
}

#[derive(Debug, Args)]
struct SimArgs {
    /// The confidential VM's TEE: AMD SEV-SNP (Milan) or Intel TDX
    #[arg(long, value_enum, default_value_t = TeeArg::Snp)]
    tee: TeeArg,
    /// Write the files (config.toml, anchors/, tls-ca.pem, swtpm/, env) to DIR, created if missing
    /// and kept on exit, instead of a temporary directory removed on exit
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// The Azure region IMDS reports (compute.location) [default: koreacentral]
    #[arg(long, value_name = "REGION")]
    location: Option<String>,
    /// Boot the VM with Secure Boot off: its reports say so, and MAA's policy refuses it, as the
    /// shared instances refuse such a VM
    #[arg(long)]
    secure_boot_off: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum TeeArg {
    Snp,
    Tdx,
}

impl SimArgs {
    fn options(&self) -> EnvironmentOptions {
        let tee = match self.tee {
            TeeArg::Snp => Tee::Snp,
            TeeArg::Tdx => Tee::Tdx,
        };
        EnvironmentOptions {
            tee,
            dir: self.dir.clone(),
            location: self.location.clone(),
            secure_boot_off: self.secure_boot_off,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (result, failure) = match cli.command {
        Mode::Up(sim) => (up(&sim), 1),
        Mode::Run { sim, command } => (run(&sim, &command), SIMULATOR_FAILED),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("cvm-attest-sim: error: {error:#}");
            ExitCode::from(failure)
        }
    }
}

/// The signals that stop the simulator, caught from before anything starts, so that none of them
/// can end the process with swtpm still running.
fn stop_signals() -> anyhow::Result<Signals> {
    Signals::new([SIGINT, SIGTERM, SIGHUP]).context("installing the signal handlers")
}

fn up(sim: &SimArgs) -> anyhow::Result<ExitCode> {
    let mut signals = stop_signals()?;
    let environment = Environment::start(sim.options())?;
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(environment.shell_lines().as_bytes())
        .and_then(|()| stdout.flush())
        .context("writing the variables")?;
    drop(stdout);
    eprintln!(
        "cvm-attest-sim: simulated {} CVM up in {} (pid {}); stop it with Ctrl-C or `kill {}`",
        environment.cvm().tee().display_name(),
        environment.dir().display(),
        std::process::id(),
        std::process::id()
    );
    // Any of them stops it; `forever` only ends if the handlers are closed, which nothing does.
    let _ = signals.forever().next();
    drop(environment);
    Ok(ExitCode::SUCCESS)
}

fn run(sim: &SimArgs, command: &[OsString]) -> anyhow::Result<ExitCode> {
    let mut signals = stop_signals()?;
    let environment = Environment::start(sim.options())?;
    let Some((program, arguments)) = command.split_first() else {
        anyhow::bail!("no command to run");
    };
    let spawned = Command::new(program).args(arguments).envs(environment.variables()).spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(error) => {
            eprintln!("cvm-attest-sim: cannot run {}: {error}", program.to_string_lossy());
            let code = if error.kind() == std::io::ErrorKind::NotFound { NOT_FOUND } else { CANNOT_EXECUTE };
            return Ok(ExitCode::from(code));
        }
    };
    let pid = rustix::process::Pid::from_child(&child);
    let status = loop {
        if let Some(status) = child.try_wait().context("waiting for the command")? {
            break status;
        }
        for signal in signals.pending() {
            // Ctrl-C reaches the command from the terminal itself; the others are for us alone.
            if signal != SIGINT
                && let Some(signal) = rustix::process::Signal::from_named_raw(signal)
            {
                let _ = rustix::process::kill_process(pid, signal);
            }
        }
        std::thread::sleep(POLL);
    };
    drop(environment);
    let code = match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(signal)) => 128 + signal,
        (None, None) => i32::from(SIMULATOR_FAILED),
    };
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(u8::MAX)))
}
