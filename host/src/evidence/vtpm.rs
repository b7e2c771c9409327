//! The Azure paravisor's vTPM, read through tss-esapi.
//!
//! What Azure provisions in the vTPM of a confidential VM or Trusted Launch VM (protocol write-up §2):
//!
//! | object | handle | read by |
//! |---|---|---|
//! | HCL report | NV [`HCL_REPORT_INDEX`] | [`Vtpm::read_hcl_report`] |
//! | report user data | NV [`USER_DATA_INDEX`] (64 bytes, written by the guest) | [`Vtpm::write_user_data`] |
//! | attestation key (AK) | persistent [`AK_HANDLE`] | [`Vtpm::read_ak_public`], [`Vtpm::quote`] |
//! | AK certificate | NV [`AK_CERT_INDEX`] | [`Vtpm::read_ak_cert`] |
//!
//! Everything is authorised the way the official Azure clients do it: NV indices with the owner
//! hierarchy and its empty password, the AK with its empty password.
//!
//! Bytes are returned in the encodings the MAA `AzureGuest` request carries (protocol §6): TPM2B_PUBLIC
//! for keys, TPMS_ATTEST (no size prefix) for quotes and certifications, raw RSA signature bytes. tss-esapi
//! parses TPM answers into Rust types, so the bytes here are re-marshalled; every function checks the
//! re-marshalled bytes against something the TPM computed itself (an object's name, the quote's PCR
//! digest) so that a marshalling difference is an error here, not a signature failure at the verifier.
//!
//! Transient objects and sessions are flushed on every path, errors included: a TPM without a resource
//! manager (swtpm, `/dev/tpm0`) has only three transient object slots.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use cvm_attest_formats::tpm;
use sha2::{Digest as _, Sha256};
use tss_esapi::Context;
use tss_esapi::TctiNameConf;
use tss_esapi::attributes::ObjectAttributes;
use tss_esapi::constants::response_code::Tss2ResponseCode;
use tss_esapi::constants::{CapabilityType, SessionType};
use tss_esapi::handles::{
    KeyHandle, NvIndexHandle, NvIndexTpmHandle, ObjectHandle, PersistentTpmHandle, SessionHandle, TpmHandle,
};
use tss_esapi::interface_types::algorithm::HashingAlgorithm;
use tss_esapi::interface_types::key_bits::RsaKeyBits;
use tss_esapi::interface_types::resource_handles::{Hierarchy, NvAuth, Provision};
use tss_esapi::interface_types::session_handles::{AuthSession, PolicySession};
use tss_esapi::structures::{
    Attest, AttestInfo, CapabilityData, Data, Digest, HashScheme, MaxNvBuffer, Name, NvPublicBuilder,
    PcrSelectSize, PcrSelectionList, PcrSelectionListBuilder, PcrSlot, Public, PublicKeyRsa,
    PublicRsaParameters, RsaExponent, RsaScheme, Signature, SignatureScheme, SymmetricDefinition,
    SymmetricDefinitionObject,
};
use tss_esapi::traits::Marshall;
use x509_cert::Certificate;
use x509_cert::der::{Decode, Reader, SliceReader};

use super::Error;

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
pub const USER_DATA_LEN: usize = 64;
/// The vTPM has PCRs 0 to 23 (`sizeofSelect` 3).
pub const PCR_COUNT: u8 = 24;
/// The largest qualifying data (nonce) a quote carries: TPM2B_DATA holds one TPMT_HA.
pub const MAX_QUALIFYING_DATA: usize = 64;
/// objectAttributes of the ephemeral key (protocol §6): fixedTPM | fixedParent | sensitiveDataOrigin |
/// noDA | decrypt. No userWithAuth: the key is usable only through its PCR policy.
pub const EPHEMERAL_KEY_ATTRIBUTES: u32 = 0x0002_0432;
/// objectAttributes of the Azure AK: fixedTPM | fixedParent | sensitiveDataOrigin | userWithAuth | noDA |
/// restricted | sign.
pub const AK_ATTRIBUTES: u32 = 0x0005_0472;
/// `TPM_RH_NULL`, the hierarchy the ephemeral key is created in.
const TPM_RH_NULL: u32 = 0x4000_0007;

/// NV reads and writes move at most this many bytes per command (`TPM2_PT_NV_BUFFER_MAX` on swtpm; the
/// Python client uses the same size on Azure).
const NV_CHUNK: usize = 1024;
/// How often a command answered with TPM_RC_RETRY / YIELDED / TESTING is sent, in all.
const BUSY_ATTEMPTS: u32 = 10;
/// Pause between those attempts.
const BUSY_PAUSE: Duration = Duration::from_millis(100);
/// How often a quote is retaken when the PCRs changed between reading and quoting them.
const QUOTE_ATTEMPTS: u32 = 3;
/// An AK certificate that expires sooner than this gets a warning (the C++ client renews it then).
const AK_CERT_RENEWAL_WINDOW: Duration = Duration::from_secs(90 * 24 * 60 * 60);
/// Issuer common name of the placeholder AK certificate Azure installs until the real one is issued.
const PLACEHOLDER_ISSUER_CN: &str = "CN=MICROSOFT AZURE TRUSTED VM RSA";

/// Where the TPM is: a device node or a TCP simulator, as a tpm2-tss TCTI.
///
/// Accepted forms: `device:/dev/tpmrm0` (the default, also for an empty string or a bare `device`),
/// `device:PATH` (or just an absolute `PATH`), `swtpm:host=HOST,port=PORT`, and the other tss-esapi TCTI strings (`mssim:...`,
/// `tabrmd:...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tcti {
    conf: TctiNameConf,
    /// The canonical text, for messages.
    text: String,
    /// The device node, for a `device:` TCTI: checked before tpm2-tss opens it, because tpm2-tss
    /// reports a missing node and a permission problem alike.
    device: Option<PathBuf>,
}

impl Tcti {
    /// The kernel's TPM resource manager, which the Azure clients use.
    pub const DEFAULT_DEVICE: &str = "/dev/tpmrm0";

    /// The device node, for a `device:` TCTI.
    pub fn device_path(&self) -> Option<&Path> {
        self.device.as_deref()
    }

    fn device(path: &str, text: &str) -> Result<Tcti, Error> {
        let conf = TctiNameConf::from_str(&format!("device:{path}")).map_err(|_| Error::InvalidTcti {
            tcti: text.to_owned(),
            reason: "the device path is not valid".to_owned(),
        })?;
        Ok(Tcti { conf, text: format!("device:{path}"), device: Some(PathBuf::from(path)) })
    }
}

impl Default for Tcti {
    fn default() -> Tcti {
        // A constant that tss-esapi accepts: building it cannot fail, but never panic on it either.
        Tcti::device(Tcti::DEFAULT_DEVICE, Tcti::DEFAULT_DEVICE).unwrap_or_else(|_| Tcti {
            conf: TctiNameConf::Device(Default::default()),
            text: "device".to_owned(),
            device: None,
        })
    }
}

impl FromStr for Tcti {
    type Err = Error;

    fn from_str(text: &str) -> Result<Tcti, Error> {
        let text = text.trim();
        if text.is_empty() || text == "device" {
            return Ok(Tcti::default());
        }
        if let Some(path) = text.strip_prefix("device:") {
            return if path.is_empty() { Ok(Tcti::default()) } else { Tcti::device(path, text) };
        }
        if text.starts_with('/') {
            return Tcti::device(text, text);
        }
        let invalid = |reason: String| Error::InvalidTcti { tcti: text.to_owned(), reason };
        // tss-esapi silently ignores unknown `key=value` options of network TCTIs (and falls back to
        // localhost:2321); a typo there would connect somewhere else, so check them here.
        for prefix in ["swtpm:", "mssim:"] {
            if let Some(options) = text.strip_prefix(prefix) {
                for option in options.split(',') {
                    match option.split_once('=') {
                        Some(("host", host)) if !host.is_empty() => {}
                        Some(("port", port)) if port.parse::<u16>().is_ok_and(|p| p != 0) => {}
                        _ => return Err(invalid(format!("`{option}` is not `host=HOST` or `port=PORT`"))),
                    }
                }
            }
        }
        let conf = TctiNameConf::from_str(text)
            .map_err(|e| invalid(format!("not a TCTI that tss-esapi understands ({e})")))?;
        Ok(Tcti { conf, text: text.to_owned(), device: None })
    }
}

impl fmt::Display for Tcti {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A TPM command and the handle it acted on, as named in error messages ("NV_Read of 0x01400001").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Command {
    /// The command's name in the TPM 2.0 specification, without the `TPM2_` prefix.
    pub name: &'static str,
    /// The NV index, persistent handle or hierarchy it addressed, if any.
    pub handle: Option<u32>,
}

impl Command {
    const fn on(name: &'static str, handle: u32) -> Command {
        Command { name, handle: Some(handle) }
    }

    const fn plain(name: &'static str) -> Command {
        Command { name, handle: None }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.handle {
            Some(handle) => write!(f, "{} of {handle:#010x}", self.name),
            None => f.write_str(self.name),
        }
    }
}

/// A TSS2 return code: a TPM response code (layer 0), or an error from a tpm2-tss layer (TCTI, ESYS …).
///
/// Displayed with its TPM 2.0 name, e.g. `TPM_RC_NV_UNINITIALIZED (0x0000014a)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TpmRc(u32);

/// TPM_RC base codes this module acts on.
const TPM_RC_HANDLE: u32 = 0x08B;
const TPM_RC_NV_UNINITIALIZED: u32 = 0x14A;
const TPM_RC_YIELDED: u32 = 0x908;
const TPM_RC_TESTING: u32 = 0x90A;
const TPM_RC_RETRY: u32 = 0x922;

impl TpmRc {
    /// Wraps a raw TSS2_RC.
    pub const fn new(raw: u32) -> TpmRc {
        TpmRc(raw)
    }

    /// The raw TSS2_RC.
    pub const fn raw(self) -> u32 {
        self.0
    }

    /// The tpm2-tss layer (bits 16–23): 0 is the TPM itself.
    pub const fn layer(self) -> u8 {
        (self.0 >> 16) as u8
    }

    /// The TPM_RC without the handle, parameter or session number of a format-one code, if this code
    /// came from the TPM (directly, or through a resource manager).
    pub const fn base(self) -> Option<u32> {
        match self.layer() {
            // TSS2_TPM_RC_LAYER, TSS2_RESMGR_TPM_RC_LAYER
            0 | 12 => {
                let rc = self.0 & 0xFFFF;
                if rc & 0x80 != 0 { Some(rc & 0xBF) } else { Some(rc & 0xFFF) }
            }
            _ => None,
        }
    }

    /// TPM_RC_RETRY, TPM_RC_YIELDED or TPM_RC_TESTING: the command did not run and may be sent again.
    pub const fn is_busy(self) -> bool {
        matches!(self.base(), Some(TPM_RC_RETRY | TPM_RC_YIELDED | TPM_RC_TESTING))
    }

    /// The TPM 2.0 name of a TPM response code (`TPM_RC_HANDLE`), or of a tpm2-tss base code.
    pub fn name(self) -> Option<&'static str> {
        match self.base() {
            Some(base) => tpm_rc_name(base),
            None => tss_rc_name(self.0 & 0xFFFF),
        }
    }
}

impl From<Tss2ResponseCode> for TpmRc {
    /// tss-esapi 7.7 keeps the raw code private and only shows it through the `Display` of the
    /// format-specific code ("Response code value: 0x14a"); that text is pinned by a unit test.
    fn from(code: Tss2ResponseCode) -> TpmRc {
        use std::error::Error as _;
        if code.is_success() {
            return TpmRc(0);
        }
        let raw = code.source().map(|inner| inner.to_string()).and_then(|text| {
            text.strip_prefix("Response code value: 0x").and_then(|hex| u32::from_str_radix(hex, 16).ok())
        });
        TpmRc(raw.unwrap_or(u32::MAX))
    }
}

impl fmt::Display for TpmRc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let raw = self.0;
        match (self.base(), self.name()) {
            (Some(base), name) => {
                match name {
                    Some(name) => f.write_str(name)?,
                    None if raw & 0x400 != 0 && raw & 0x80 == 0 => {
                        f.write_str("vendor-specific TPM error")?
                    }
                    None => write!(f, "TPM response code {base:#05x}")?,
                }
                if raw & 0x80 != 0 {
                    let number = (raw >> 8) & 0xF;
                    if raw & 0x40 != 0 {
                        write!(f, " on parameter {number}")?;
                    } else if (1..=7).contains(&number) {
                        write!(f, " on handle {number}")?;
                    } else if number >= 8 {
                        write!(f, " on session {}", number - 8)?;
                    }
                }
                write!(f, " ({raw:#010x})")
            }
            (None, name) => {
                let layer = match self.layer() {
                    6 => "FAPI",
                    7 => "ESYS",
                    8 => "SYS",
                    9 => "MU",
                    10 => "TCTI",
                    11 => "resource manager",
                    _ => "unknown layer",
                };
                write!(f, "tpm2-tss {layer} error {}", name.unwrap_or("(unknown code)"))?;
                write!(f, " ({raw:#010x})")
            }
        }
    }
}

fn tpm_rc_name(base: u32) -> Option<&'static str> {
    Some(match base {
        0x100 => "TPM_RC_INITIALIZE",
        0x101 => "TPM_RC_FAILURE",
        0x103 => "TPM_RC_SEQUENCE",
        0x10B => "TPM_RC_PRIVATE",
        0x119 => "TPM_RC_HMAC",
        0x120 => "TPM_RC_DISABLED",
        0x121 => "TPM_RC_EXCLUSIVE",
        0x124 => "TPM_RC_AUTH_TYPE",
        0x125 => "TPM_RC_AUTH_MISSING",
        0x126 => "TPM_RC_POLICY",
        0x127 => "TPM_RC_PCR",
        0x128 => "TPM_RC_PCR_CHANGED",
        0x12D => "TPM_RC_UPGRADE",
        0x12E => "TPM_RC_TOO_MANY_CONTEXTS",
        0x12F => "TPM_RC_AUTH_UNAVAILABLE",
        0x130 => "TPM_RC_REBOOT",
        0x131 => "TPM_RC_UNBALANCED",
        0x142 => "TPM_RC_COMMAND_SIZE",
        0x143 => "TPM_RC_COMMAND_CODE",
        0x144 => "TPM_RC_AUTHSIZE",
        0x145 => "TPM_RC_AUTH_CONTEXT",
        0x146 => "TPM_RC_NV_RANGE",
        0x147 => "TPM_RC_NV_SIZE",
        0x148 => "TPM_RC_NV_LOCKED",
        0x149 => "TPM_RC_NV_AUTHORIZATION",
        0x14A => "TPM_RC_NV_UNINITIALIZED",
        0x14B => "TPM_RC_NV_SPACE",
        0x14C => "TPM_RC_NV_DEFINED",
        0x150 => "TPM_RC_BAD_CONTEXT",
        0x151 => "TPM_RC_CPHASH",
        0x152 => "TPM_RC_PARENT",
        0x153 => "TPM_RC_NEEDS_TEST",
        0x154 => "TPM_RC_NO_RESULT",
        0x155 => "TPM_RC_SENSITIVE",
        0x081 => "TPM_RC_ASYMMETRIC",
        0x082 => "TPM_RC_ATTRIBUTES",
        0x083 => "TPM_RC_HASH",
        0x084 => "TPM_RC_VALUE",
        0x085 => "TPM_RC_HIERARCHY",
        0x087 => "TPM_RC_KEY_SIZE",
        0x088 => "TPM_RC_MGF",
        0x089 => "TPM_RC_MODE",
        0x08A => "TPM_RC_TYPE",
        0x08B => "TPM_RC_HANDLE",
        0x08C => "TPM_RC_KDF",
        0x08D => "TPM_RC_RANGE",
        0x08E => "TPM_RC_AUTH_FAIL",
        0x08F => "TPM_RC_NONCE",
        0x090 => "TPM_RC_PP",
        0x092 => "TPM_RC_SCHEME",
        0x095 => "TPM_RC_SIZE",
        0x096 => "TPM_RC_SYMMETRIC",
        0x097 => "TPM_RC_TAG",
        0x098 => "TPM_RC_SELECTOR",
        0x09A => "TPM_RC_INSUFFICIENT",
        0x09B => "TPM_RC_SIGNATURE",
        0x09C => "TPM_RC_KEY",
        0x09D => "TPM_RC_POLICY_FAIL",
        0x09F => "TPM_RC_INTEGRITY",
        0x0A0 => "TPM_RC_TICKET",
        0x0A1 => "TPM_RC_RESERVED_BITS",
        0x0A2 => "TPM_RC_BAD_AUTH",
        0x0A3 => "TPM_RC_EXPIRED",
        0x0A4 => "TPM_RC_POLICY_CC",
        0x0A5 => "TPM_RC_BINDING",
        0x0A6 => "TPM_RC_CURVE",
        0x0A7 => "TPM_RC_ECC_POINT",
        0x901 => "TPM_RC_CONTEXT_GAP",
        0x902 => "TPM_RC_OBJECT_MEMORY",
        0x903 => "TPM_RC_SESSION_MEMORY",
        0x904 => "TPM_RC_MEMORY",
        0x905 => "TPM_RC_SESSION_HANDLES",
        0x906 => "TPM_RC_OBJECT_HANDLES",
        0x907 => "TPM_RC_LOCALITY",
        0x908 => "TPM_RC_YIELDED",
        0x909 => "TPM_RC_CANCELED",
        0x90A => "TPM_RC_TESTING",
        0x920 => "TPM_RC_NV_RATE",
        0x921 => "TPM_RC_LOCKOUT",
        0x922 => "TPM_RC_RETRY",
        0x923 => "TPM_RC_NV_UNAVAILABLE",
        _ => return None,
    })
}

fn tss_rc_name(base: u32) -> Option<&'static str> {
    Some(match base {
        1 => "TSS2_BASE_RC_GENERAL_FAILURE",
        2 => "TSS2_BASE_RC_NOT_IMPLEMENTED",
        3 => "TSS2_BASE_RC_BAD_CONTEXT",
        4 => "TSS2_BASE_RC_ABI_MISMATCH",
        5 => "TSS2_BASE_RC_BAD_REFERENCE",
        6 => "TSS2_BASE_RC_INSUFFICIENT_BUFFER",
        7 => "TSS2_BASE_RC_BAD_SEQUENCE",
        8 => "TSS2_BASE_RC_NO_CONNECTION",
        9 => "TSS2_BASE_RC_TRY_AGAIN",
        10 => "TSS2_BASE_RC_IO_ERROR",
        11 => "TSS2_BASE_RC_BAD_VALUE",
        12 => "TSS2_BASE_RC_NOT_PERMITTED",
        13 => "TSS2_BASE_RC_INVALID_SESSIONS",
        14 => "TSS2_BASE_RC_NO_DECRYPT_PARAM",
        15 => "TSS2_BASE_RC_NO_ENCRYPT_PARAM",
        16 => "TSS2_BASE_RC_BAD_SIZE",
        17 => "TSS2_BASE_RC_MALFORMED_RESPONSE",
        18 => "TSS2_BASE_RC_INSUFFICIENT_CONTEXT",
        19 => "TSS2_BASE_RC_INSUFFICIENT_RESPONSE",
        20 => "TSS2_BASE_RC_INCOMPATIBLE_TCTI",
        21 => "TSS2_BASE_RC_NOT_SUPPORTED",
        22 => "TSS2_BASE_RC_BAD_TCTI_STRUCTURE",
        23 => "TSS2_BASE_RC_MEMORY",
        24 => "TSS2_BASE_RC_BAD_TR",
        25 => "TSS2_BASE_RC_MULTIPLE_DECRYPT_SESSIONS",
        26 => "TSS2_BASE_RC_MULTIPLE_ENCRYPT_SESSIONS",
        27 => "TSS2_BASE_RC_RSP_AUTH_FAILED",
        _ => return None,
    })
}

/// Runs one TPM command, resending it while the TPM answers "busy" (at most `attempts` sends, `pause`
/// apart), and turns a failure into an [`Error`] that names the command.
fn retry<C, T>(
    ctx: &mut C,
    command: Command,
    attempts: u32,
    pause: Duration,
    mut f: impl FnMut(&mut C) -> tss_esapi::Result<T>,
) -> Result<T, Error> {
    let mut sent = 0;
    loop {
        sent += 1;
        match f(ctx) {
            Ok(value) => return Ok(value),
            Err(tss_esapi::Error::Tss2Error(code)) => {
                let code = TpmRc::from(code);
                if !code.is_busy() {
                    return Err(Error::Tpm { command, code });
                }
                if sent >= attempts {
                    return Err(Error::Busy { command, code, attempts: sent });
                }
                tracing::debug!(%command, %code, sent, "TPM busy, sending the command again");
                std::thread::sleep(pause);
            }
            Err(source) => return Err(Error::Library { command, source }),
        }
    }
}

/// [`retry`] with the default bounds.
fn run<T>(
    ctx: &mut Context,
    command: Command,
    f: impl FnMut(&mut Context) -> tss_esapi::Result<T>,
) -> Result<T, Error> {
    retry(ctx, command, BUSY_ATTEMPTS, BUSY_PAUSE, f)
}

/// Runs `f` with owner/object authorisation by the empty password in the first session slot.
fn with_password<T>(ctx: &mut Context, f: impl FnOnce(&mut Context) -> T) -> T {
    ctx.execute_with_session(Some(AuthSession::Password), f)
}

/// Looks up an NV index or persistent object and returns its ESYS handle (close it with [`close`]). A
/// handle the TPM does not know is [`Error::Missing`].
fn lookup(ctx: &mut Context, raw: u32, what: &'static str) -> Result<ObjectHandle, Error> {
    let is_nv = raw >> 24 == 0x01;
    let command = Command::on(if is_nv { "NV_ReadPublic" } else { "ReadPublic" }, raw);
    let tpm_handle = if is_nv {
        NvIndexTpmHandle::new(raw).map(TpmHandle::NvIndex)
    } else {
        PersistentTpmHandle::new(raw).map(TpmHandle::Persistent)
    }
    .map_err(|source| Error::Library { command, source })?;
    // Ask first whether the handle exists: a failing Esys_TR_FromTPMPublic makes tpm2-tss print ERROR
    // lines on stderr, which would bury this tool's own message on a machine that is not an Azure VM.
    let listed = run(ctx, Command::on("GetCapability", raw), |ctx| {
        ctx.get_capability(CapabilityType::Handles, raw, 1)
    })?;
    let exists = matches!(&listed.0, CapabilityData::Handles(list) if list.first().is_some_and(|h| u32::from(*h) == raw));
    if !exists {
        return Err(Error::Missing { what, handle: raw });
    }
    // tpm2-tss 3.2.1 crashes in Esys_TR_FromTPMPublic while a password session is set.
    run(ctx, command, |ctx| ctx.execute_without_session(|ctx| ctx.tr_from_tpm_public(tpm_handle))).map_err(
        |e| match e {
            Error::Tpm { code, .. } if code.base() == Some(TPM_RC_HANDLE) => {
                Error::Missing { what, handle: raw }
            }
            e => e,
        },
    )
}

/// Releases an ESYS handle. This only frees tpm2-tss metadata (nothing is sent to the TPM), so a
/// failure is logged, not returned.
fn close(ctx: &mut Context, mut handle: ObjectHandle) {
    if let Err(e) = ctx.tr_close(&mut handle) {
        tracing::debug!(error = %e, "closing an ESYS handle failed");
    }
}

/// Runs `f` with the ESYS handle of an NV index or persistent object (see [`lookup`]) and closes the
/// handle afterwards.
fn with_tpm_handle<T>(
    ctx: &mut Context,
    raw: u32,
    what: &'static str,
    f: impl FnOnce(&mut Context, ObjectHandle) -> Result<T, Error>,
) -> Result<T, Error> {
    let handle = lookup(ctx, raw, what)?;
    let result = f(ctx, handle);
    close(ctx, handle);
    result
}

/// Runs `f` with a transient object or session and flushes it from the TPM afterwards, also when `f`
/// failed (the first error wins).
fn with_flushed<T>(
    ctx: &mut Context,
    handle: ObjectHandle,
    f: impl FnOnce(&mut Context, ObjectHandle) -> Result<T, Error>,
) -> Result<T, Error> {
    let result = f(ctx, handle);
    let flushed = run(ctx, Command::plain("FlushContext"), |ctx| ctx.flush_context(handle));
    match (result, flushed) {
        (Ok(value), Ok(())) => Ok(value),
        (Err(e), _) | (Ok(_), Err(e)) => Err(e),
    }
}

/// Checks and sorts a PCR index list.
fn pcr_set(indices: &[u8]) -> Result<Vec<u8>, Error> {
    if indices.is_empty() {
        return Err(Error::NoPcrsSelected);
    }
    let mut set = indices.to_vec();
    set.sort_unstable();
    set.dedup();
    match set.iter().find(|&&index| index >= PCR_COUNT) {
        Some(&index) => Err(Error::InvalidPcrIndex { index }),
        None => Ok(set),
    }
}

/// `TPML_PCR_SELECTION` of the SHA-256 bank with `sizeofSelect` 3, as on Azure.
fn sha256_selection(command: Command, set: &[u8]) -> Result<PcrSelectionList, Error> {
    let slots = set
        .iter()
        .map(|&index| PcrSlot::try_from(1u32 << index))
        .collect::<tss_esapi::Result<Vec<_>>>()
        .map_err(|source| Error::Library { command, source })?;
    PcrSelectionListBuilder::new()
        .with_size_of_select(PcrSelectSize::ThreeOctets)
        .with_selection(HashingAlgorithm::Sha256, &slots)
        .build()
        .map_err(|source| Error::Library { command, source })
}

fn pcr_index(slot: PcrSlot) -> u8 {
    // A PcrSlot is a single bit of a u32, so this is 0..=31.
    u32::from(slot).trailing_zeros() as u8
}

/// SHA-256 of the PCR values in the order given: the quote's `pcrDigest`, and the digest PolicyPCR binds.
fn pcr_digest(pcrs: &[(u8, Vec<u8>)]) -> Vec<u8> {
    tpm::pcr_digest(tpm::HashAlg::Sha256, pcrs.iter().map(|(_, value)| value.as_slice()))
}

/// Reads SHA-256 PCR values, looping because a TPM returns at most 8 digests per PCR_Read.
fn read_sha256_pcrs(ctx: &mut Context, set: &[u8]) -> Result<Vec<(u8, Vec<u8>)>, Error> {
    let command = Command::plain("PCR_Read");
    let unexpected = |reason: String| Error::UnexpectedResponse { command, reason };
    let mut values = BTreeMap::new();
    let mut remaining = set.to_vec();
    while !remaining.is_empty() {
        let selection = sha256_selection(command, &remaining)?;
        let (_, read, digests) = run(ctx, command, |ctx| ctx.pcr_read(selection.clone()))?;
        let mut returned: Vec<u8> = read
            .get_selections()
            .iter()
            .filter(|s| s.hashing_algorithm() == HashingAlgorithm::Sha256)
            .flat_map(|s| s.selected())
            .map(pcr_index)
            .collect();
        returned.sort_unstable();
        if returned.is_empty() {
            return Err(unexpected(format!("no values returned for PCRs {remaining:?}")));
        }
        if returned.len() != digests.len() {
            return Err(unexpected(format!(
                "{} PCRs selected but {} digests returned",
                returned.len(),
                digests.len()
            )));
        }
        for (index, digest) in returned.iter().zip(digests.value()) {
            if !remaining.contains(index) {
                return Err(unexpected(format!("PCR {index} returned but not asked for")));
            }
            if digest.len() != 32 {
                return Err(unexpected(format!("PCR {index} has {} bytes, not 32", digest.len())));
            }
            values.insert(*index, digest.value().to_vec());
        }
        remaining.retain(|index| !returned.contains(index));
    }
    Ok(values.into_iter().collect())
}

/// TPM2B_PUBLIC bytes (2-byte size + TPMT_PUBLIC) of `public`, checked against the name the TPM
/// computed over its own marshalling (`nameAlg || H(TPMT_PUBLIC)`).
fn tpm2b_public(command: Command, public: &Public, name: &Name) -> Result<Vec<u8>, Error> {
    let tpmt = public.marshall().map_err(|source| Error::Library { command, source })?;
    if public.name_hashing_algorithm() == HashingAlgorithm::Sha256 {
        let mut expected = vec![0x00, 0x0B];
        expected.extend_from_slice(&Sha256::digest(&tpmt));
        if name.value() != expected.as_slice() {
            return Err(Error::UnexpectedResponse {
                command,
                reason: format!(
                    "the re-marshalled public area does not hash to the object's name {} (tss-esapi \
                     marshalling differs from the TPM's)",
                    hex::encode(name.value())
                ),
            });
        }
    }
    let size = u16::try_from(tpmt.len()).map_err(|_| Error::UnexpectedResponse {
        command,
        reason: format!("public area of {} bytes", tpmt.len()),
    })?;
    let mut out = size.to_be_bytes().to_vec();
    out.extend_from_slice(&tpmt);
    Ok(out)
}

/// The raw signature bytes of an RSASSA/SHA-256 signature.
fn rsassa_sha256(command: Command, signature: Signature) -> Result<Vec<u8>, Error> {
    match signature {
        Signature::RsaSsa(sig) if sig.hashing_algorithm() == HashingAlgorithm::Sha256 => {
            Ok(sig.signature().value().to_vec())
        }
        other => Err(Error::UnexpectedResponse {
            command,
            reason: format!("expected an RSASSA SHA-256 signature, got {:?}", other.algorithm()),
        }),
    }
}

/// TPMS_ATTEST bytes of `attest` (no size prefix).
fn tpms_attest(command: Command, attest: &Attest) -> Result<Vec<u8>, Error> {
    attest.marshall().map_err(|source| Error::Library { command, source })
}

/// Policy digest of PolicyPCR over `selection` with `values` (SHA-256 of the selected PCR values in
/// ascending order), from a trial session: a trial session takes the given digest as it is, so the key
/// is bound to the values the caller quoted, not to whatever the PCRs hold a moment later.
fn trial_policy_pcr(
    ctx: &mut Context,
    selection: &PcrSelectionList,
    values: Digest,
) -> Result<Digest, Error> {
    let start = Command::plain("StartAuthSession");
    let session = run(ctx, start, |ctx| {
        ctx.start_auth_session(
            None,
            None,
            None,
            SessionType::Trial,
            SymmetricDefinition::Null,
            HashingAlgorithm::Sha256,
        )
    })?
    .ok_or(Error::UnexpectedResponse { command: start, reason: "no session handle".to_owned() })?;
    let policy =
        PolicySession::try_from(session).map_err(|source| Error::Library { command: start, source })?;
    with_flushed(ctx, SessionHandle::from(policy).into(), |ctx, _| {
        run(ctx, Command::plain("PolicyPCR"), |ctx| {
            // In a trial session the given digest of the values is used as it is.
            ctx.policy_pcr(policy, values.clone(), selection.clone())
        })?;
        run(ctx, Command::plain("PolicyGetDigest"), |ctx| ctx.policy_get_digest(policy))
    })
}

/// The ephemeral key template of protocol §6: RSA-2048, nameAlg SHA-256, objectAttributes
/// [`EPHEMERAL_KEY_ATTRIBUTES`], symmetric NULL, scheme NULL, exponent 0 (65537), empty unique.
fn ephemeral_key_template(auth_policy: Digest) -> Public {
    Public::Rsa {
        object_attributes: ObjectAttributes::from(EPHEMERAL_KEY_ATTRIBUTES),
        name_hashing_algorithm: HashingAlgorithm::Sha256,
        auth_policy,
        parameters: PublicRsaParameters::new(
            SymmetricDefinitionObject::Null,
            RsaScheme::Null,
            RsaKeyBits::Rsa2048,
            RsaExponent::ZERO_EXPONENT,
        ),
        unique: PublicKeyRsa::default(),
    }
}

/// A quote of SHA-256 PCRs by the AK, in the encodings of the MAA request (`PcrQuote`, `PcrSignature`,
/// `PCRs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    /// TPMS_ATTEST bytes (type TPM_ST_ATTEST_QUOTE), without the TPM2B size prefix.
    pub attest: Vec<u8>,
    /// The raw RSASSA-PKCS1-v1_5 SHA-256 signature over `attest` (256 bytes).
    pub signature: Vec<u8>,
    /// The quoted PCRs, ascending, with their SHA-256 values; `pcrDigest` in `attest` is the SHA-256 of
    /// their concatenation.
    pub pcrs: Vec<(u8, Vec<u8>)>,
}

/// The ephemeral RSA key bound to PCR values and certified by the AK (`EncKeyPub`,
/// `EncKeyCertifyInfo`, `EncKeyCertifyInfoSignature` of the MAA request), as the evidence bundle holds it.
pub use cvm_attest_formats::bundle::EphemeralKey;

/// Something about the AK certificate the user should know, though it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AkCertWarning {
    /// `not_after` has passed.
    Expired { not_after: SystemTime },
    /// `not_after` is less than 90 days away.
    ExpiresSoon { not_after: SystemTime, remaining: Duration },
}

fn format_time(time: SystemTime) -> String {
    match x509_cert::der::DateTime::from_system_time(time) {
        Ok(date) => date.to_string(),
        Err(_) => format!("{time:?}"),
    }
}

impl fmt::Display for AkCertWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AkCertWarning::Expired { not_after } => write!(
                f,
                "the AK certificate expired on {}: Azure renews it through IMDS (the official C++ client \
                 does so before attesting); a verifier that checks validity will reject it",
                format_time(*not_after)
            ),
            AkCertWarning::ExpiresSoon { not_after, remaining } => write!(
                f,
                "the AK certificate expires on {} (in {} days): Azure renews it through IMDS",
                format_time(*not_after),
                remaining.as_secs() / 86_400
            ),
        }
    }
}

/// The AK certificate from NV [`AK_CERT_INDEX`], trimmed of the NV index's zero padding.
#[derive(Debug, Clone)]
pub struct AkCert {
    der: Vec<u8>,
    certificate: Certificate,
}

impl AkCert {
    /// Parses the content of the AK certificate NV index: one DER certificate, whose outer SEQUENCE
    /// gives its length, followed by padding that is ignored (Azure may define the index larger than the
    /// certificate). Azure's "provisioning delayed" placeholder is [`Error::AkCertNotProvisioned`].
    pub fn from_nv(nv: &[u8]) -> Result<AkCert, Error> {
        let index = AK_CERT_INDEX;
        let malformed = |reason: String| Error::MalformedAkCert { index, reason };
        if nv.iter().all(|&b| b == 0) {
            return Err(malformed(format!("the NV index holds no certificate ({} zero bytes)", nv.len())));
        }
        let mut reader = SliceReader::new(nv).map_err(|e| malformed(e.to_string()))?;
        let certificate = Certificate::decode(&mut reader).map_err(|e| malformed(e.to_string()))?;
        let length = usize::try_from(u32::from(reader.position())).map_err(|e| malformed(e.to_string()))?;
        let der = nv
            .get(..length)
            .ok_or_else(|| {
                malformed(format!("certificate length {length} exceeds the {} NV bytes", nv.len()))
            })?
            .to_vec();
        let is_placeholder = certificate
            .tbs_certificate
            .issuer
            .0
            .iter()
            .flat_map(|rdn| rdn.0.iter())
            .any(|atv| atv.to_string().to_ascii_uppercase().starts_with(PLACEHOLDER_ISSUER_CN));
        if is_placeholder {
            return Err(Error::AkCertNotProvisioned {
                index,
                issuer: certificate.tbs_certificate.issuer.to_string(),
            });
        }
        Ok(AkCert { der, certificate })
    }

    /// The certificate's DER bytes, without padding.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The parsed certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    /// Subject DN, RFC 4514 (`CN=….TrustedVM.Azure.Microsoft`).
    pub fn subject(&self) -> String {
        self.certificate.tbs_certificate.subject.to_string()
    }

    /// Issuer DN, RFC 4514 (`CN=Global Virtual TPM CA - 01`).
    pub fn issuer(&self) -> String {
        self.certificate.tbs_certificate.issuer.to_string()
    }

    /// Start of validity.
    pub fn not_before(&self) -> SystemTime {
        self.certificate.tbs_certificate.validity.not_before.to_system_time()
    }

    /// End of validity.
    pub fn not_after(&self) -> SystemTime {
        self.certificate.tbs_certificate.validity.not_after.to_system_time()
    }

    /// Expired, or expiring within 90 days of `now` (when Azure's C++ client renews it).
    pub fn warnings(&self, now: SystemTime) -> Vec<AkCertWarning> {
        let not_after = self.not_after();
        match not_after.duration_since(now) {
            Err(_) => vec![AkCertWarning::Expired { not_after }],
            Ok(remaining) if remaining < AK_CERT_RENEWAL_WINDOW => {
                vec![AkCertWarning::ExpiresSoon { not_after, remaining }]
            }
            Ok(_) => Vec::new(),
        }
    }
}

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
        if let Some(path) = tcti.device_path() {
            check_device(path)?;
        }
        let context = Context::new(tcti.conf.clone()).map_err(|e| match e {
            tss_esapi::Error::Tss2Error(code) => Error::Connect { tcti: tcti.to_string(), code: code.into() },
            e => Error::InvalidTcti { tcti: tcti.to_string(), reason: e.to_string() },
        })?;
        Ok(Vtpm { context, tcti: tcti.clone() })
    }

    /// The interface this connection uses.
    pub fn tcti(&self) -> &Tcti {
        &self.tcti
    }

    /// The HCL report: the whole content of NV [`HCL_REPORT_INDEX`] (2600 bytes on current hosts, 2048 on
    /// older ones; the size comes from NV_ReadPublic).
    pub fn read_hcl_report(&mut self) -> Result<Vec<u8>, Error> {
        self.read_nv(HCL_REPORT_INDEX, "HCL report")
    }

    /// Writes 64 bytes of report user data to NV [`USER_DATA_INDEX`], defining the index first when it
    /// is absent (owner authorisation, nameAlg SHA-256, OWNERWRITE|AUTHWRITE|OWNERREAD|AUTHREAD, size
    /// 64, as Azure's clients do). An index of another size (an older client defined it with the data's
    /// length) is undefined and defined again, because a 64-byte write would not fit.
    ///
    /// On Azure the paravisor then regenerates the HCL report with these bytes as `user-data`.
    pub fn write_user_data(&mut self, data: &[u8; USER_DATA_LEN]) -> Result<(), Error> {
        let index = USER_DATA_INDEX;
        let what = "report user data NV index";
        let ctx = &mut self.context;
        let size = with_tpm_handle(ctx, index, what, |ctx, handle| {
            let nv = NvIndexHandle::from(handle);
            Ok(run(ctx, Command::on("NV_ReadPublic", index), |ctx| ctx.nv_read_public(nv))?.0.data_size())
        });
        match size {
            Ok(USER_DATA_LEN) => {}
            Ok(size) => {
                tracing::info!(index = format_args!("{index:#010x}"), size, "redefining with 64 bytes");
                // NV_UndefineSpace frees the ESYS handle itself: close it only when the command failed.
                let handle = lookup(ctx, index, what)?;
                let undefine = Command::on("NV_UndefineSpace", index);
                run(ctx, undefine, |ctx| {
                    with_password(ctx, |ctx| {
                        ctx.nv_undefine_space(Provision::Owner, NvIndexHandle::from(handle))
                    })
                })
                .inspect_err(|_| close(ctx, handle))?;
                define_user_data_index(ctx)?;
            }
            Err(Error::Missing { .. }) => define_user_data_index(ctx)?,
            Err(e) => return Err(e),
        }
        let write = Command::on("NV_Write", index);
        let buffer = MaxNvBuffer::try_from(data.to_vec())
            .map_err(|source| Error::Library { command: write, source })?;
        with_tpm_handle(ctx, index, "report user data NV index", |ctx, handle| {
            let nv = NvIndexHandle::from(handle);
            run(ctx, write, |ctx| {
                with_password(ctx, |ctx| ctx.nv_write(NvAuth::Owner, nv, buffer.clone(), 0))
            })
        })
    }

    /// The AK's public area (persistent [`AK_HANDLE`]) as TPM2B_PUBLIC bytes, the `AikPub` of the MAA
    /// request.
    pub fn read_ak_public(&mut self) -> Result<Vec<u8>, Error> {
        let command = Command::on("ReadPublic", AK_HANDLE);
        with_tpm_handle(&mut self.context, AK_HANDLE, "attestation key (AK)", |ctx, handle| {
            let (public, name, _) = run(ctx, command, |ctx| ctx.read_public(KeyHandle::from(handle)))?;
            tpm2b_public(command, &public, &name)
        })
    }

    /// The AK certificate from NV [`AK_CERT_INDEX`]; see [`AkCert::from_nv`].
    pub fn read_ak_cert(&mut self) -> Result<AkCert, Error> {
        AkCert::from_nv(&self.read_nv(AK_CERT_INDEX, "AK certificate")?)
    }

    /// Values of the given PCRs of the SHA-256 bank (the only bank Azure attestation uses), ascending by
    /// index, duplicates removed.
    pub fn read_pcrs(&mut self, indices: &[u8]) -> Result<Vec<(u8, Vec<u8>)>, Error> {
        read_sha256_pcrs(&mut self.context, &pcr_set(indices)?)
    }

    /// Quotes the given SHA-256 PCRs with the AK (RSASSA SHA-256) over `qualifying_data` (the nonce, at
    /// most 64 bytes; it becomes `extraData`). The PCR values are read right before the quote and the
    /// quote is retaken (up to 3 times) when its `pcrDigest` does not match them, because something may
    /// extend a PCR in between.
    pub fn quote(&mut self, indices: &[u8], qualifying_data: &[u8]) -> Result<Quote, Error> {
        let command = Command::on("Quote", AK_HANDLE);
        if qualifying_data.len() > MAX_QUALIFYING_DATA {
            return Err(Error::QualifyingDataTooLong {
                len: qualifying_data.len(),
                max: MAX_QUALIFYING_DATA,
            });
        }
        let set = pcr_set(indices)?;
        let selection = sha256_selection(command, &set)?;
        let data =
            Data::try_from(qualifying_data.to_vec()).map_err(|source| Error::Library { command, source })?;
        let scheme = SignatureScheme::RsaSsa { hash_scheme: HashScheme::new(HashingAlgorithm::Sha256) };
        let unexpected = |reason: String| Error::UnexpectedResponse { command, reason };
        with_tpm_handle(&mut self.context, AK_HANDLE, "attestation key (AK)", |ctx, ak| {
            for attempt in 1..=QUOTE_ATTEMPTS {
                let pcrs = read_sha256_pcrs(ctx, &set)?;
                let (attest, signature) = run(ctx, command, |ctx| {
                    with_password(ctx, |ctx| {
                        ctx.quote(KeyHandle::from(ak), data.clone(), scheme, selection.clone())
                    })
                })?;
                let AttestInfo::Quote { info } = attest.attested() else {
                    return Err(unexpected(format!("attestation type {:?}", attest.attestation_type())));
                };
                if info.pcr_selection() != &selection {
                    return Err(unexpected(
                        "the quoted PCR selection differs from the one asked for".to_owned(),
                    ));
                }
                if attest.extra_data().value() != qualifying_data {
                    return Err(unexpected("extraData differs from the qualifying data".to_owned()));
                }
                if info.pcr_digest().value() != pcr_digest(&pcrs).as_slice() {
                    tracing::debug!(attempt, "PCRs changed between PCR_Read and Quote; quoting again");
                    continue;
                }
                return Ok(Quote {
                    attest: tpms_attest(command, &attest)?,
                    signature: rsassa_sha256(command, signature)?,
                    pcrs,
                });
            }
            Err(Error::PcrsChanged { attempts: QUOTE_ATTEMPTS })
        })
    }

    /// Creates the ephemeral key of protocol §6, bound by PolicyPCR to the given SHA-256 PCR values
    /// (those a quote covered, so that the key's policy and the quote agree even if a PCR is extended
    /// in between), certifies it with the AK (TPM2_Certify, empty qualifying data, scheme NULL), and
    /// flushes it.
    ///
    /// It is a primary key of the NULL hierarchy, as the C++ and Go clients create it: that needs no
    /// owner authorisation and leaves nothing behind (the NULL seed changes at every TPM reset).
    /// The key is deterministic for seed, template and PCR values, so it can be recreated until the next
    /// reset to decrypt what MAA encrypted to it.
    pub fn create_ephemeral_key(&mut self, pcrs: &[(u8, Vec<u8>)]) -> Result<EphemeralKey, Error> {
        let create = Command::on("CreatePrimary", TPM_RH_NULL);
        let certify = Command::on("Certify", AK_HANDLE);
        let indices: Vec<u8> = pcrs.iter().map(|(index, _)| *index).collect();
        let set = pcr_set(&indices)?;
        let selection = sha256_selection(create, &set)?;
        // PolicyPCR hashes the values in selection (ascending) order.
        let mut ordered = pcrs.to_vec();
        ordered.sort_by_key(|(index, _)| *index);
        ordered.dedup_by_key(|(index, _)| *index);
        let values = Digest::try_from(pcr_digest(&ordered))
            .map_err(|source| Error::Library { command: create, source })?;
        let ctx = &mut self.context;
        let template = ephemeral_key_template(trial_policy_pcr(ctx, &selection, values)?);
        with_tpm_handle(ctx, AK_HANDLE, "attestation key (AK)", |ctx, ak| {
            let created = run(ctx, create, |ctx| {
                with_password(ctx, |ctx| {
                    ctx.create_primary(Hierarchy::Null, template.clone(), None, None, None, None)
                })
            })?;
            with_flushed(ctx, created.key_handle.into(), |ctx, key| {
                let read = Command::plain("ReadPublic");
                let (public, name, _) = run(ctx, read, |ctx| ctx.read_public(KeyHandle::from(key)))?;
                let public = tpm2b_public(read, &public, &name)?;
                let (attest, signature) = run(ctx, certify, |ctx| {
                    ctx.execute_with_sessions(
                        (Some(AuthSession::Password), Some(AuthSession::Password), None),
                        |ctx| ctx.certify(key, KeyHandle::from(ak), Data::default(), SignatureScheme::Null),
                    )
                })?;
                let AttestInfo::Certify { info } = attest.attested() else {
                    return Err(Error::UnexpectedResponse {
                        command: certify,
                        reason: format!("attestation type {:?}", attest.attestation_type()),
                    });
                };
                if info.name() != &name {
                    return Err(Error::UnexpectedResponse {
                        command: certify,
                        reason: "the certified name is not the ephemeral key's".to_owned(),
                    });
                }
                Ok(EphemeralKey {
                    public,
                    certify_info: tpms_attest(certify, &attest)?,
                    certify_signature: rsassa_sha256(certify, signature)?,
                })
            })
        })
    }

    /// The whole content of an NV index, read with owner authorisation in chunks of at most 1024 bytes.
    fn read_nv(&mut self, index: u32, what: &'static str) -> Result<Vec<u8>, Error> {
        with_tpm_handle(&mut self.context, index, what, |ctx, handle| {
            let nv = NvIndexHandle::from(handle);
            let (public, _) = run(ctx, Command::on("NV_ReadPublic", index), |ctx| ctx.nv_read_public(nv))?;
            if !public.attributes().written() {
                return Err(Error::NotWritten { what, index });
            }
            let command = Command::on("NV_Read", index);
            let unexpected = |reason: String| Error::UnexpectedResponse { command, reason };
            // NV_ReadPublic's dataSize is a u16, so this allocation is bounded by 64 KiB.
            let size = public.data_size();
            let mut data = Vec::with_capacity(size);
            while data.len() < size {
                let want = (size - data.len()).min(NV_CHUNK);
                let (Ok(want16), Ok(offset)) = (u16::try_from(want), u16::try_from(data.len())) else {
                    return Err(unexpected(format!("NV index of {size} bytes")));
                };
                let chunk = run(ctx, command, |ctx| {
                    with_password(ctx, |ctx| ctx.nv_read(NvAuth::Owner, nv, want16, offset))
                })
                .map_err(|e| match e {
                    Error::Tpm { code, .. } if code.base() == Some(TPM_RC_NV_UNINITIALIZED) => {
                        Error::NotWritten { what, index }
                    }
                    e => e,
                })?;
                if chunk.len() != want {
                    return Err(unexpected(format!("{} bytes returned for {want} asked", chunk.len())));
                }
                data.extend_from_slice(chunk.value());
            }
            tracing::debug!(index = format_args!("{index:#010x}"), size, "read NV index");
            Ok(data)
        })
    }
}

/// Defines NV [`USER_DATA_INDEX`] the way Azure's clients do.
fn define_user_data_index(ctx: &mut Context) -> Result<(), Error> {
    let command = Command::on("NV_DefineSpace", USER_DATA_INDEX);
    let library = |source| Error::Library { command, source };
    let attributes = tss_esapi::attributes::NvIndexAttributesBuilder::new()
        .with_owner_write(true)
        .with_auth_write(true)
        .with_owner_read(true)
        .with_auth_read(true)
        .build()
        .map_err(library)?;
    let public = NvPublicBuilder::new()
        .with_nv_index(NvIndexTpmHandle::new(USER_DATA_INDEX).map_err(library)?)
        .with_index_name_algorithm(HashingAlgorithm::Sha256)
        .with_index_attributes(attributes)
        .with_data_area_size(USER_DATA_LEN)
        .build()
        .map_err(library)?;
    let handle = run(ctx, command, |ctx| {
        with_password(ctx, |ctx| ctx.nv_define_space(Provision::Owner, None, public.clone()))
    })?;
    close(ctx, handle.into());
    Ok(())
}

/// Opens and closes the device node, to tell "no TPM" and "not allowed" apart before tpm2-tss tries.
fn check_device(path: &Path) -> Result<(), Error> {
    match std::fs::OpenOptions::new().read(true).write(true).open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(Error::NoTpmDevice { path: path.to_owned() })
        }
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            Err(Error::PermissionDenied { path: path.to_owned() })
        }
        Err(source) => Err(Error::DeviceOpen { path: path.to_owned(), source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_code_survives_tss_esapi() {
        for raw in
            [0x14A, 0x18B, 0x922, 0x908, 0x90A, 0x9A2, 0x000A_000A, 0x0007_0005, 0x0B_0101, 0xFFFF_FFFF]
        {
            assert_eq!(TpmRc::from(Tss2ResponseCode::from(raw)).raw(), raw, "{raw:#x}");
        }
        assert_eq!(TpmRc::from(Tss2ResponseCode::from(0)).raw(), 0);
    }

    #[test]
    fn names_tpm_codes_with_their_handle_or_parameter() {
        assert_eq!(TpmRc::new(0x14A).to_string(), "TPM_RC_NV_UNINITIALIZED (0x0000014a)");
        assert_eq!(TpmRc::new(0x18B).to_string(), "TPM_RC_HANDLE on handle 1 (0x0000018b)");
        assert_eq!(TpmRc::new(0x1D5).to_string(), "TPM_RC_SIZE on parameter 1 (0x000001d5)");
        assert_eq!(TpmRc::new(0x98E).to_string(), "TPM_RC_AUTH_FAIL on session 1 (0x0000098e)");
        assert_eq!(
            TpmRc::new(0x000A_000A).to_string(),
            "tpm2-tss TCTI error TSS2_BASE_RC_IO_ERROR (0x000a000a)"
        );
        assert_eq!(TpmRc::new(0x18B).base(), Some(TPM_RC_HANDLE));
        assert_eq!(TpmRc::new(0x000A_000A).base(), None);
    }

    #[test]
    fn busy_codes_are_exactly_retry_yielded_testing() {
        assert!(TpmRc::new(0x922).is_busy());
        assert!(TpmRc::new(0x908).is_busy());
        assert!(TpmRc::new(0x90A).is_busy());
        // Through the resource-manager layer too.
        assert!(TpmRc::new(0x000C_0922).is_busy());
        assert!(!TpmRc::new(0x14A).is_busy());
        assert!(!TpmRc::new(0x0008_0009).is_busy());
    }

    fn busy() -> tss_esapi::Error {
        tss_esapi::Error::Tss2Error(Tss2ResponseCode::from(TPM_RC_RETRY))
    }

    #[test]
    fn retry_resends_while_busy_then_succeeds() {
        let mut sent = 0;
        let result = retry(&mut sent, Command::plain("Test"), 5, Duration::ZERO, |sent| {
            *sent += 1;
            if *sent < 3 { Err(busy()) } else { Ok(*sent) }
        });
        assert_eq!(result.unwrap(), 3);
    }

    #[test]
    fn retry_gives_up_after_the_bound() {
        let mut sent = 0u32;
        let result: Result<(), _> =
            retry(&mut sent, Command::on("NV_Read", 0x0140_0001), 4, Duration::ZERO, |sent| {
                *sent += 1;
                Err(busy())
            });
        assert_eq!(sent, 4);
        let err = result.unwrap_err();
        assert!(matches!(err, Error::Busy { attempts: 4, .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            "NV_Read of 0x01400001 failed: the TPM stayed busy (TPM_RC_RETRY (0x00000922)) through 4 attempts; \
             retry later"
        );
    }

    #[test]
    fn retry_does_not_resend_other_errors() {
        let mut sent = 0u32;
        let result: Result<(), _> =
            retry(&mut sent, Command::on("NV_Read", 0x0140_0001), 4, Duration::ZERO, |sent| {
                *sent += 1;
                Err(tss_esapi::Error::Tss2Error(Tss2ResponseCode::from(0x149)))
            });
        assert_eq!(sent, 1);
        assert_eq!(
            result.unwrap_err().to_string(),
            "NV_Read of 0x01400001 failed: TPM_RC_NV_AUTHORIZATION (0x00000149)"
        );
    }

    #[test]
    fn parses_tcti_forms() {
        let default: Tcti = "".parse().unwrap();
        assert_eq!(default.device_path(), Some(Path::new("/dev/tpmrm0")));
        assert_eq!(default, Tcti::default());
        assert_eq!("device".parse::<Tcti>().unwrap(), Tcti::default());
        let device: Tcti = "device:/dev/tpm0".parse().unwrap();
        assert_eq!(device.device_path(), Some(Path::new("/dev/tpm0")));
        assert_eq!(device.to_string(), "device:/dev/tpm0");
        assert_eq!("/dev/tpm0".parse::<Tcti>().unwrap(), device);
        let swtpm: Tcti = "swtpm:host=127.0.0.1,port=2321".parse().unwrap();
        assert_eq!(swtpm.device_path(), None);
        assert_eq!(swtpm.to_string(), "swtpm:host=127.0.0.1,port=2321");
        assert!("swtpm:port=2321,host=localhost".parse::<Tcti>().is_ok());
        assert!("mssim:host=localhost,port=2321".parse::<Tcti>().is_ok());
        assert!("tabrmd".parse::<Tcti>().is_ok());
    }

    #[test]
    fn rejects_bad_tcti() {
        for bad in [
            "swtpm:host=127.0.0.1,prot=2321",
            "swtpm:port=99999",
            "swtpm:port=0",
            "swtpm:host=",
            "tpm:x",
            "dev/tpm0",
        ] {
            let err = bad.parse::<Tcti>().unwrap_err();
            assert!(matches!(err, Error::InvalidTcti { .. }), "{bad}: {err:?}");
            assert!(err.to_string().contains(bad), "{err}");
        }
    }

    #[test]
    fn pcr_sets_are_sorted_deduplicated_and_bounded() {
        assert_eq!(pcr_set(&[7, 0, 3, 3]).unwrap(), vec![0, 3, 7]);
        assert!(matches!(pcr_set(&[]), Err(Error::NoPcrsSelected)));
        assert!(matches!(pcr_set(&[1, 24]), Err(Error::InvalidPcrIndex { index: 24 })));
        assert!(matches!(pcr_set(&[255]), Err(Error::InvalidPcrIndex { index: 255 })));
    }

    #[test]
    fn selection_marshals_like_azure() {
        // TPML_PCR_SELECTION for PCRs 0-7: count 1, SHA-256, sizeofSelect 3, FF 00 00 (protocol §6).
        let selection = sha256_selection(Command::plain("Test"), &[0, 1, 2, 3, 4, 5, 6, 7]).unwrap();
        let [item] = selection.get_selections() else { panic!("one bank") };
        assert_eq!(item.hashing_algorithm(), HashingAlgorithm::Sha256);
        assert_eq!(item.size_of_select(), PcrSelectSize::ThreeOctets);
        assert_eq!(
            item.selected().into_iter().map(pcr_index).collect::<Vec<_>>(),
            vec![0, 1, 2, 3, 4, 5, 6, 7]
        );
    }

    #[test]
    fn ephemeral_template_is_protocol_section_6() {
        let template = ephemeral_key_template(Digest::try_from(vec![0xAA; 32]).unwrap());
        let tpmt = template.marshall().unwrap();
        // type RSA, nameAlg SHA-256, objectAttributes 0x00020432, authPolicy (32 bytes), symmetric NULL,
        // scheme NULL, keyBits 2048, exponent 0, unique empty.
        let mut expected = hex::decode("0001000b000204320020").unwrap();
        expected.extend_from_slice(&[0xAA; 32]);
        expected.extend_from_slice(&hex::decode("00100010080000000000").unwrap());
        expected.extend_from_slice(&[0x00, 0x00]);
        assert_eq!(hex::encode(tpmt), hex::encode(expected));
    }

    #[test]
    fn ak_cert_rejects_garbage_without_panicking() {
        for nv in
            [&[][..], &[0u8; 64][..], &[0x30, 0x82, 0xFF, 0xFF, 1, 2, 3][..], &[0x30][..], &[0xFF; 16][..]]
        {
            let err = AkCert::from_nv(nv).unwrap_err();
            assert!(matches!(err, Error::MalformedAkCert { index: AK_CERT_INDEX, .. }), "{err:?}");
        }
    }
}
