//! `cvm-attest evidence collect | show`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context;
use cvm_attest_formats::appraise;

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
    // The operator's files and the URL first: a mistake is reported before the TPM is touched.
    let collateral = read_collateral(&args.collateral)?;
    let imds = Imds::new(&args.sources.imds, Retry::default())?;
    let mut vtpm = Vtpm::open(&args.sources.tpm)?;
    let request = Request {
        nonce: args.nonce.bytes(),
        pcrs: args.pcrs.0.clone(),
        event_log: args.event_log.clone(),
        os_release: collect::OS_RELEASE_PATH.into(),
    };
    let (mut bundle, warnings) = collect::collect(&mut vtpm, &imds, &request)?;
    bundle.collateral = collateral;
    for warning in warnings {
        tracing::warn!("{warning}");
    }
    write_output(&args.out, bundle.to_json().as_bytes())?;
    tracing::info!(platform = bundle.platform.name(), out = %args.out.display(), "evidence collected");
    Ok(())
}

/// `--collateral NAME=FILE` files, to carry in the bundle. The names are checked first, by the
/// rules the verifier applies (known, each once), so a mistake is reported before any file is read.
fn read_collateral(files: &[(String, PathBuf)]) -> anyhow::Result<BTreeMap<String, Vec<u8>>> {
    appraise::Collateral::from_named(files.iter().map(|(name, _)| (name.as_str(), &[][..])))
        .context("--collateral")?;
    files
        .iter()
        .map(|(name, path)| Ok((name.clone(), input::read(path, "collateral", input::MAX_SMALL_FILE_BYTES)?)))
        .collect()
}
