//! `cvm-attest evidence collect | show`.

use anyhow::Context;

use super::args::{CollectArgs, EvidenceCommand, Output};
use super::{Rejected, finish, write_output};
use crate::evidence::collect::{self, Request};
use crate::evidence::imds::{Imds, Retry};
use crate::evidence::vtpm::Vtpm;
use crate::input;
use crate::render::summary::Summary;

pub fn run(cmd: EvidenceCommand) -> anyhow::Result<()> {
    match cmd {
        EvidenceCommand::Collect(args) => collect(&args),
        EvidenceCommand::Show { file, output } => {
            let summary = Summary::of(&input::read(&file, "evidence", input::MAX_EVIDENCE_BYTES)?)
                .with_context(|| format!("cannot read {} as evidence", file.display()))?;
            let output = match output {
                Output::Text => summary.to_string(),
                Output::Json => format!("{:#}\n", summary.to_json()),
            };
            let verdict = match summary.checks().iter().find(|check| !check.holds) {
                Some(check) => {
                    Err(Rejected(format!("{}: {} failed: {}", file.display(), check.name, check.detail))
                        .into())
                }
                None => Ok(()),
            };
            finish(output.as_bytes(), verdict)
        }
    }
}

fn collect(args: &CollectArgs) -> anyhow::Result<()> {
    // The URL first: a mistyped flag is reported before the TPM is touched.
    let imds = Imds::new(&args.sources.imds, Retry::default())?;
    let mut vtpm = Vtpm::open(&args.sources.tpm)?;
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
