//! TPM response codes, decoded for people, and the one way commands are sent: every TPM command goes
//! through [`run`], which resends it while the TPM says "busy" and turns a failure into an
//! [`Error`] naming the command and the response code by its TPM 2.0 name, because a bare hex code tells
//! an operator nothing.

use std::fmt;
use std::time::Duration;

use tss_esapi::Context;
use tss_esapi::constants::response_code::Tss2ResponseCode;

use super::Error;

/// How often a command answered with TPM_RC_RETRY / YIELDED / TESTING is sent, in all.
const BUSY_ATTEMPTS: u32 = 10;
/// Pause between those attempts.
const BUSY_PAUSE: Duration = Duration::from_millis(100);

/// A TPM command and the handle it acted on, as named in error messages ("NV_Read of 0x01400001").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Command {
    /// The command's name in the TPM 2.0 specification, without the `TPM2_` prefix.
    pub name: &'static str,
    /// The NV index, persistent handle or hierarchy it addressed, if any.
    pub handle: Option<u32>,
}

impl Command {
    pub(super) const fn on(name: &'static str, handle: u32) -> Command {
        Command { name, handle: Some(handle) }
    }

    pub(super) const fn plain(name: &'static str) -> Command {
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
pub(super) const TPM_RC_HANDLE: u32 = 0x08B;
pub(super) const TPM_RC_NV_UNINITIALIZED: u32 = 0x14A;
pub(super) const TPM_RC_POLICY_FAIL: u32 = 0x09D;
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
pub(super) fn run<T>(
    ctx: &mut Context,
    command: Command,
    f: impl FnMut(&mut Context) -> tss_esapi::Result<T>,
) -> Result<T, Error> {
    retry(ctx, command, BUSY_ATTEMPTS, BUSY_PAUSE, f)
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
}
