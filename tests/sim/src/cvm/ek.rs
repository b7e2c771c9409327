//! The vTPM's endorsement key, for the runtime claims' `HCLEkPub`: as on Azure, the EK the TPM
//! derives from its endorsement seed with the TCG default RSA-2048 template. Nothing verifies it,
//! but it costs one key derivation at start and keeps the claims true to the vTPM behind them.

use std::str::FromStr;

use tss_esapi::abstraction::ek;
use tss_esapi::interface_types::algorithm::AsymmetricAlgorithm;
use tss_esapi::structures::Public;
use tss_esapi::{Context, TctiNameConf};

use crate::hcl::RsaPublic;

/// Why the EK could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EkError {
    #[error("reading the vTPM's endorsement key failed at {step}: {source}")]
    Tpm { step: &'static str, source: tss_esapi::Error },
    #[error("the vTPM's endorsement key is not an RSA key")]
    NotRsa,
}

/// Derives the RSA EK in the TPM behind `tcti`, reads its public key and flushes it.
pub(super) fn endorsement_key(tcti: &str) -> Result<RsaPublic, EkError> {
    let step = |step| move |source| EkError::Tpm { step, source };
    let conf = TctiNameConf::from_str(tcti).map_err(step("the TCTI"))?;
    let mut ctx = Context::new(conf).map_err(step("connecting"))?;
    let handle =
        ek::create_ek_object(&mut ctx, AsymmetricAlgorithm::Rsa, None).map_err(step("CreatePrimary"))?;
    let public = ctx.read_public(handle).map_err(step("ReadPublic"));
    // swtpm has three transient slots and no resource manager: free this one whatever happened.
    let flushed = ctx.flush_context(handle.into()).map_err(step("FlushContext"));
    let (public, _, _) = public?;
    flushed?;
    match public {
        Public::Rsa { parameters, unique, .. } => {
            let exponent = match parameters.exponent().value() {
                0 => 65_537,
                e => e,
            };
            Ok(RsaPublic { modulus: unique.value().to_vec(), exponent: exponent.to_be_bytes().to_vec() })
        }
        _ => Err(EkError::NotRsa),
    }
}
