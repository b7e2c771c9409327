//! `cvm-attest evidence collect | show`.

use std::io::Write;

use anyhow::Context;

use super::args::{CollectArgs, EvidenceCommand, Output};
use super::{Rejected, read_input, write_output};
use crate::evidence::collect::{self, Request};
use crate::evidence::imds::{Imds, Retry};
use crate::evidence::summary::Summary;
use crate::evidence::vtpm::Vtpm;

pub fn run(cmd: EvidenceCommand) -> anyhow::Result<()> {
    match cmd {
        EvidenceCommand::Collect(args) => collect(&args),
        EvidenceCommand::Show { file, output } => {
            let summary = Summary::of(&read_input(&file, "evidence")?)
                .with_context(|| format!("cannot read {} as evidence", file.display()))?;
            let mut out = std::io::stdout().lock();
            match output {
                Output::Text => write!(out, "{summary}")?,
                Output::Json => writeln!(out, "{:#}", summary.to_json())?,
            }
            match summary.checks().iter().find(|check| !check.holds) {
                Some(check) => {
                    Err(Rejected(format!("{}: {} failed: {}", file.display(), check.name, check.detail))
                        .into())
                }
                None => Ok(()),
            }
        }
    }
}

fn collect(args: &CollectArgs) -> anyhow::Result<()> {
    let mut vtpm = Vtpm::open(&args.sources.tpm)?;
    let imds = Imds::new(&args.sources.imds, Retry::default())?;
    let request = Request {
        nonce: args.nonce.bytes(),
        pcrs: args.pcrs.0.clone(),
        event_log: args.event_log.clone(),
        os_release: collect::OS_RELEASE_PATH.into(),
    };
    let (bundle, warnings) = collect::collect(&mut vtpm, &imds, &request)?;
    for warning in warnings {
        tracing::warn!("{warning}");
    }
    write_output(&args.out, bundle.to_json().as_bytes())?;
    tracing::info!(platform = bundle.platform.name(), out = %args.out.display(), "evidence collected");
    Ok(())
}
