//! Shell completions and the manual page, both generated from the argument definitions so that
//! they never drift from what the binary accepts.

use anyhow::Context;
use clap::CommandFactory;

use super::Cli;

pub fn completions(shell: clap_complete::Shell) -> anyhow::Result<()> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "cvm-attest", &mut out);
    super::finish(&out, Ok(()))
}

pub fn man() -> anyhow::Result<()> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut out).context("rendering the manual page")?;
    super::finish(&out, Ok(()))
}
