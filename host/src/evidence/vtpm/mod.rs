//! The Azure paravisor's vTPM, read through tss-esapi: one [`Vtpm`] connection whose methods get the
//! attestation evidence out of the TPM exactly as the TPM produced it, split by job (TCTI and context,
//! response codes, sessions and handles, NV and the AK certificate, quotes, the ephemeral key) so that
//! each TPM concern has one obvious place.
//!
//! What Azure provisions in the vTPM of a confidential VM or Trusted Launch VM (docs/protocol.md §2),
//! authorised as the official Azure clients do (owner hierarchy and AK, both with the empty password):
//!
//! | object | handle | read by |
//! |---|---|---|
//! | HCL report | NV [`HCL_REPORT_INDEX`] | [`Vtpm::read_hcl_report`] |
//! | report user data | NV [`USER_DATA_INDEX`] (64 bytes, written by the guest) | [`Vtpm::write_user_data`] |
//! | attestation key (AK) | persistent [`AK_HANDLE`] | [`Vtpm::read_ak_public`], [`Vtpm::quote`] |
//! | AK certificate | NV [`AK_CERT_INDEX`] | [`Vtpm::read_ak_cert`] |

use tss_esapi::Context;

mod ephemeral;
mod error;
mod nv;
mod quote;
mod rc;
mod session;
mod tcti;

pub use ephemeral::EphemeralKey;
pub use error::Error;
pub use nv::{AkCert, AkCertWarning};
pub use quote::Quote;
pub use rc::{Command, TpmRc};
pub use tcti::Tcti;

/// NV index of the HCL report (header + SNP report or TD report + runtime-claims JSON).
pub const HCL_REPORT_INDEX: u32 = 0x0140_0001;
/// NV index the guest writes 64 bytes of report user data to; the paravisor then regenerates the HCL
/// report with them in its runtime claims (`user-data`).
pub const USER_DATA_INDEX: u32 = 0x0140_0002;
/// NV index of the AK certificate (DER, possibly zero-padded).
pub const AK_CERT_INDEX: u32 = 0x01C1_01D0;
/// Persistent handle of the attestation key.
pub const AK_HANDLE: u32 = 0x8100_0003;
/// Size of the report user data.
pub use cvm_attest_formats::nonce::USER_DATA_LEN;
/// The vTPM has PCRs 0 to 23 (`sizeofSelect` 3), the bound evidence bundles hold too.
pub const PCR_COUNT: u8 = cvm_attest_formats::bundle::MAX_PCR + 1;
/// The largest qualifying data (nonce) a quote carries: TPM2B_DATA holds one TPMT_HA.
pub const MAX_QUALIFYING_DATA: usize = 64;
/// objectAttributes of the ephemeral key (docs/protocol.md §6.4): fixedTPM | fixedParent |
/// sensitiveDataOrigin | noDA | decrypt. No userWithAuth: the key is usable only through its PCR policy.
pub const EPHEMERAL_KEY_ATTRIBUTES: u32 = 0x0002_0432;
/// objectAttributes of the Azure AK: fixedTPM | fixedParent | sensitiveDataOrigin | userWithAuth | noDA |
/// restricted | sign.
pub const AK_ATTRIBUTES: u32 = 0x0005_0472;

/// An open connection to a TPM: one client at a time, so keep it only as long as needed.
#[derive(Debug)]
pub struct Vtpm {
    context: Context,
    tcti: Tcti,
}

impl Vtpm {
    /// Parses `tcti` (see [`Tcti`]) and connects.
    pub fn open(tcti: &str) -> Result<Vtpm, Error> {
        Vtpm::connect(&tcti.parse()?)
    }

    /// Connects to the TPM. A device node is checked first, so that a missing node
    /// ([`Error::NoTpmDevice`]) and a permission problem ([`Error::PermissionDenied`]) get their own
    /// errors.
    pub fn connect(tcti: &Tcti) -> Result<Vtpm, Error> {
        Ok(Vtpm { context: tcti.context()?, tcti: tcti.clone() })
    }

    /// The interface this connection uses.
    pub fn tcti(&self) -> &Tcti {
        &self.tcti
    }
}
