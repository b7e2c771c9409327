//! Every way talking to the vTPM can fail, each with a message that says what went wrong *and* what to
//! do about it, because the person reading it is usually an operator on a VM, not a TPM expert.

use std::path::PathBuf;

use super::{Command, TpmRc};

/// A failure talking to the vTPM. Each variant is one cause the user can act on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The `--tpm` value is not a TCTI this tool understands.
    #[error(
        "invalid TPM interface `{tcti}`: {reason}; use `device:/dev/tpmrm0` (the default), `device:PATH` \
         or `swtpm:host=HOST,port=PORT`"
    )]
    InvalidTcti { tcti: String, reason: String },

    /// The TPM device node does not exist.
    #[error(
        "no TPM device at {}: this machine is not a VM with a vTPM (on Azure, use a confidential VM or a \
         Trusted Launch VM), or the kernel's TPM driver is not loaded; pass --tpm to use another TPM",
        path.display()
    )]
    NoTpmDevice { path: PathBuf },

    /// The TPM device node exists but this user may not open it.
    #[error(
        "permission denied opening {}: run as root, or join the `tss` group (`sudo usermod -aG tss $USER`, \
         then log in again)",
        path.display()
    )]
    PermissionDenied { path: PathBuf },

    /// The TPM device node exists but could not be opened for another reason.
    #[error(
        "cannot open TPM device {}: {source}{hint}",
        path.display(),
        hint = if path.ends_with("tpm0") {
            " (only one process may hold /dev/tpm0; use the kernel resource manager /dev/tpmrm0)"
        } else {
            ""
        }
    )]
    DeviceOpen {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// tpm2-tss could not connect to the TPM (device or simulator).
    #[error(
        "cannot connect to the TPM at `{tcti}`: {code}; check that the TPM (or swtpm) is running and that \
         libtss2-tcti for this interface is installed"
    )]
    Connect { tcti: String, code: TpmRc },

    /// An NV index or persistent object that Azure provisions is absent.
    #[error(
        "the vTPM has no {what} at {handle:#010x}: this is not an Azure confidential VM or Trusted Launch \
         VM (the Azure paravisor provisions {handle:#010x}), or the TPM is not the Azure vTPM"
    )]
    Missing { what: &'static str, handle: u32 },

    /// The NV index exists but was never written (TPM_RC_NV_UNINITIALIZED).
    #[error(
        "the vTPM's {what} at NV index {index:#010x} is defined but has not been written yet \
         (TPM_RC_NV_UNINITIALIZED): Azure has not provisioned it yet (the AK certificate is written some \
         time after a VM is created); retry in a few minutes"
    )]
    NotWritten { what: &'static str, index: u32 },

    /// The AK certificate is Azure's "provisioning delayed" placeholder.
    #[error(
        "the AK certificate at NV index {index:#010x} is Azure's placeholder (issuer `{issuer}`): the real \
         AK certificate is not provisioned yet (\"AK cert provisioning delayed\"); retry attestation in a \
         few minutes"
    )]
    AkCertNotProvisioned { index: u32, issuer: String },

    /// The AK certificate is not a DER X.509 certificate.
    #[error("the AK certificate at NV index {index:#010x} is not a valid DER X.509 certificate: {reason}")]
    MalformedAkCert { index: u32, reason: String },

    /// The TPM kept answering "retry later" (TPM_RC_RETRY, TPM_RC_YIELDED, TPM_RC_TESTING).
    #[error("{command} failed: the TPM stayed busy ({code}) through {attempts} attempts; retry later")]
    Busy { command: Command, code: TpmRc, attempts: u32 },

    /// Any other TPM (or TSS library) response code.
    #[error("{command} failed: {code}")]
    Tpm { command: Command, code: TpmRc },

    /// tss-esapi refused a value before sending it to the TPM, or could not convert the answer.
    #[error("{command} failed in tss-esapi: {source}")]
    Library {
        command: Command,
        #[source]
        source: tss_esapi::Error,
    },

    /// A caller passed a PCR index outside the 24 PCRs of the Azure vTPM.
    #[error("PCR index {index} is out of range: the vTPM has PCRs 0 to 23")]
    InvalidPcrIndex { index: u8 },

    /// A caller passed an empty PCR selection.
    #[error("no PCRs selected: give at least one PCR index (Azure Linux clients quote 0-7)")]
    NoPcrsSelected,

    /// The qualifying data (nonce) for a quote is longer than a TPM2B_DATA holds.
    #[error("qualifying data is {len} bytes, but a TPM quote carries at most {max} (hash it first)")]
    QualifyingDataTooLong { len: usize, max: usize },

    /// The ephemeral key's policy failed: PCRs changed since they were quoted.
    #[error(
        "the vTPM refused the ephemeral key (TPM_RC_POLICY_FAIL): a PCR it is bound to changed since the \
         quote (something was measured in between, or the TPM was reset), so MAA's answer can no longer \
         be decrypted; attest again"
    )]
    PcrsMoved,

    /// The PCRs kept changing between reading them and quoting them.
    #[error(
        "the quoted PCR digest did not match the PCR values read just before, {attempts} times in a row: \
         something is extending PCRs right now; retry when the system is idle"
    )]
    PcrsChanged { attempts: u32 },

    /// The TPM answered with something other than what the command must return.
    #[error("{command} returned an unexpected answer: {reason}")]
    UnexpectedResponse { command: Command, reason: String },
}

impl Error {
    /// Whether the machine is at fault (no TPM, no permission, not provisioned, busy), not the
    /// caller's arguments: the CLI exits 3 for these.
    pub fn is_environment(&self) -> bool {
        !matches!(self, Error::InvalidTcti { .. } | Error::InvalidPcrIndex { .. } | Error::NoPcrsSelected)
    }
}
