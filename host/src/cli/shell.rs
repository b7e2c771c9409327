//! Shell completions and the manual page, both generated from the argument definitions so that
//! they never drift from what the binary accepts.

use std::io::Write;

use anyhow::Context;
use clap::CommandFactory;

use super::Cli;

pub fn completions(shell: clap_complete::Shell) -> anyhow::Result<()> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "cvm-attest", &mut out);
    write(&out)
}

pub fn man() -> anyhow::Result<()> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut out).context("rendering the manual page")?;
    write(&out)
}

fn write(bytes: &[u8]) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(bytes).and_then(|()| stdout.flush()).context("writing to stdout")
}
