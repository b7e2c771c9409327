//! Which TPM to talk to, and opening the tss-esapi context on it: the `--tpm` value parsed into a
//! tpm2-tss TCTI, checked strictly (tss-esapi silently ignores options it does not know), and a device
//! node probed before tpm2-tss opens it, so that "no TPM" and "not allowed" get messages of their own.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use tss_esapi::{Context, TctiNameConf};

use super::Error;

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

    /// Opens a tss-esapi context on this TPM. A device node is checked first, so that a missing node
    /// ([`Error::NoTpmDevice`]) and a permission problem ([`Error::PermissionDenied`]) get their own
    /// errors.
    pub(super) fn context(&self) -> Result<Context, Error> {
        if let Some(path) = self.device_path() {
            check_device(path)?;
        }
        Context::new(self.conf.clone()).map_err(|e| match e {
            tss_esapi::Error::Tss2Error(code) => Error::Connect { tcti: self.to_string(), code: code.into() },
            e => Error::InvalidTcti { tcti: self.to_string(), reason: e.to_string() },
        })
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
}
