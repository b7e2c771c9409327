//! Everything `cvm-attest-sim up` starts, in one value: the simulated CVM's vTPM ([`Cvm`]), its IMDS
//! ([`Imds`]) and an MAA-compatible service ([`MaaService`], HTTPS) on free loopback ports, and the
//! files that point cvm-attest at them, in one directory:
//!
//! * `config.toml`: a cvm-attest configuration whose `[trust_anchors]` are the simulated platform's
//!   test roots (`anchors/NAME.pem`), for `cvm-attest --config … verify`;
//! * `tls-ca.pem`: the CA of the MAA service's TLS certificate;
//! * `binary_bios_measurements`: the TCG event log of the CVM's boot (see [`Cvm::event_log`]);
//! * `swtpm/`: swtpm's state and log;
//! * `env`: the variables as `export NAME='value'` lines, written last, once everything listens.
//!
//! The directory is a temporary one removed on drop, or the caller's, which is kept. Dropping the
//! [`Environment`] stops the services, then the vTPM (swtpm is killed and reaped), then removes the
//! temporary directory.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::cvm::{Cvm, CvmError, CvmOptions, Tee};
use crate::imds::{Imds, ImdsConfig};
use crate::maa::{self, MaaConfig, MaaService};
use crate::pki;

/// What to start.
#[derive(Debug, Clone)]
pub struct EnvironmentOptions {
    pub tee: Tee,
    /// Where to write the files (created if missing, kept on drop); a temporary directory when
    /// `None`.
    pub dir: Option<PathBuf>,
    /// The Azure region IMDS reports; IMDS's default when `None`.
    pub location: Option<String>,
    /// The CVM booted with Secure Boot off, which MAA's policy refuses (see [`CvmOptions`]).
    pub secure_boot_off: bool,
}

/// Why the environment could not be started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnvironmentError {
    #[error("cannot create the directory {}: {source}", path.display())]
    Dir { path: PathBuf, source: io::Error },
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
    #[error("cannot write the cvm-attest configuration: {0}")]
    Config(#[from] toml::ser::Error),
    #[error("starting the simulated CVM failed: {0}")]
    Cvm(#[from] CvmError),
    #[error("starting the simulated IMDS failed: {0}")]
    Imds(io::Error),
    #[error("starting the simulated MAA failed: {0}")]
    Maa(#[from] maa::Error),
}

/// A running simulated environment; see the module documentation.
#[derive(Debug)]
pub struct Environment {
    // Dropped in this order: the services, the vTPM, then the directory.
    maa: MaaService,
    imds: Imds,
    cvm: Cvm,
    config: PathBuf,
    ca_file: PathBuf,
    dir: WorkDir,
}

/// The directory the files live in.
#[derive(Debug)]
enum WorkDir {
    Given(PathBuf),
    Temporary(tempfile::TempDir),
}

impl WorkDir {
    fn path(&self) -> &Path {
        match self {
            WorkDir::Given(path) => path,
            WorkDir::Temporary(dir) => dir.path(),
        }
    }
}

/// The configuration file's contents: the trust anchors only.
#[derive(Serialize)]
struct SimConfig<'a> {
    trust_anchors: BTreeMap<&'a str, &'a Path>,
}

impl Environment {
    /// Starts the CVM, IMDS and MAA and writes the files; see the module documentation.
    pub fn start(options: EnvironmentOptions) -> Result<Environment, EnvironmentError> {
        let dir = work_dir(options.dir.as_deref())?;
        let root = dir.path().to_owned();
        // A kept directory's `env` is an earlier run's: whoever waits for it must not take that one.
        let env_file = root.join("env");
        let _ = std::fs::remove_file(&env_file);
        let (config, ca_file) = write_files(&root, options.tee)?;
        let cvm = Cvm::start(
            options.tee,
            CvmOptions {
                state_dir: Some(root.join("swtpm")),
                secure_boot_off: options.secure_boot_off,
                ..CvmOptions::default()
            },
        )?;
        write_atomically(&root.join(EVENT_LOG), cvm.event_log())?;
        let defaults = ImdsConfig::default();
        let imds = Imds::start(ImdsConfig {
            location: options.location.unwrap_or(defaults.location),
            // On Azure IMDS's vmId is the report's vmUniqueId, in lower case.
            vm_id: cvm.vm_unique_id().to_ascii_lowercase(),
            ..defaults
        })
        .map_err(EnvironmentError::Imds)?;
        // It trusts the test roots of both platforms, as a shared MAA instance trusts AMD's and Intel's.
        let maa = MaaService::start(MaaConfig::test_pki()?)?;
        let environment = Environment { maa, imds, cvm, config, ca_file, dir };
        write_atomically(&env_file, environment.shell_lines().as_bytes())?;
        Ok(environment)
    }

    /// The variables that point cvm-attest at this environment, in the order printed:
    /// `CVM_ATTEST_TCTI`, `CVM_ATTEST_IMDS_URL`, `CVM_ATTEST_MAA_URL`, `CVM_ATTEST_CA_FILE`,
    /// `CVM_ATTEST_EVENT_LOG`, `CVM_ATTEST_SIM_MAA_ADMIN_URL` (MAA's fault injection) and, last,
    /// `CVM_ATTEST_SIM_CONFIG`.
    ///
    /// `CVM_ATTEST_EVENT_LOG` is the simulated boot's log, which replays to the vTPM's PCRs (the
    /// machine's own log would not).
    pub fn variables(&self) -> Vec<(&'static str, String)> {
        vec![
            ("CVM_ATTEST_TCTI", self.cvm.tcti()),
            ("CVM_ATTEST_IMDS_URL", self.imds.url()),
            ("CVM_ATTEST_MAA_URL", self.maa.base_url().to_owned()),
            ("CVM_ATTEST_CA_FILE", self.ca_file.display().to_string()),
            ("CVM_ATTEST_EVENT_LOG", self.dir().join(EVENT_LOG).display().to_string()),
            ("CVM_ATTEST_SIM_MAA_ADMIN_URL", self.maa.admin_url().to_owned()),
            ("CVM_ATTEST_SIM_CONFIG", self.config.display().to_string()),
        ]
    }

    /// [`Environment::variables`] as lines a POSIX shell can `eval` or source:
    /// `export NAME='value'`.
    pub fn shell_lines(&self) -> String {
        self.variables()
            .iter()
            .map(|(name, value)| format!("export {name}={}\n", shell_quote(value)))
            .collect()
    }

    pub fn cvm(&self) -> &Cvm {
        &self.cvm
    }

    pub fn imds(&self) -> &Imds {
        &self.imds
    }

    pub fn maa(&self) -> &MaaService {
        &self.maa
    }

    /// The cvm-attest configuration file trusting the test roots.
    pub fn config_path(&self) -> &Path {
        &self.config
    }

    /// The directory holding the files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// The caller's directory (created, made absolute so the files name each other from anywhere), or
/// a fresh temporary one.
fn work_dir(given: Option<&Path>) -> Result<WorkDir, EnvironmentError> {
    let Some(path) = given else {
        return tempfile::Builder::new()
            .prefix("cvm-attest-sim-")
            .tempdir()
            .map(WorkDir::Temporary)
            .map_err(|source| EnvironmentError::Dir { path: std::env::temp_dir(), source });
    };
    let failed = |source| EnvironmentError::Dir { path: path.to_owned(), source };
    std::fs::create_dir_all(path).map_err(failed)?;
    path.canonicalize().map(WorkDir::Given).map_err(failed)
}

/// Writes the trust anchors, the configuration naming them and the TLS CA; returns the paths of
/// the configuration and the CA.
fn write_files(root: &Path, tee: Tee) -> Result<(PathBuf, PathBuf), EnvironmentError> {
    let anchors_dir = root.join("anchors");
    std::fs::create_dir_all(&anchors_dir)
        .map_err(|source| EnvironmentError::Dir { path: anchors_dir.clone(), source })?;
    let mut anchors = Vec::new();
    for (name, pem) in tee.trust_anchors() {
        let path = anchors_dir.join(format!("{name}.pem"));
        write_atomically(&path, pem.as_bytes())?;
        anchors.push((*name, path));
    }
    let config =
        SimConfig { trust_anchors: anchors.iter().map(|(name, path)| (*name, path.as_path())).collect() };
    let text = format!(
        "# cvm-attest configuration for the simulated {} CVM of cvm-attest-sim: it trusts the TEST roots\n\
         # of tests/sim/testdata/pki, and nothing else. Use it with `cvm-attest --config FILE verify …`.\n\n{}",
        tee.display_name(),
        toml::to_string(&config)?
    );
    let config_path = root.join("config.toml");
    write_atomically(&config_path, text.as_bytes())?;
    let ca_file = root.join("tls-ca.pem");
    write_atomically(&ca_file, pki::TLS_CA_PEM.as_bytes())?;
    Ok((config_path, ca_file))
}

/// Writes `path` whole or not at all (a sibling temporary file, renamed), so that a reader polling
/// for it never sees half of it.
/// The event log's file name, as Linux names it in securityfs.
const EVENT_LOG: &str = "binary_bios_measurements";

fn write_atomically(path: &Path, contents: &[u8]) -> Result<(), EnvironmentError> {
    let failed = |source| EnvironmentError::Write { path: path.to_owned(), source };
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    std::fs::write(&partial, contents).map_err(failed)?;
    std::fs::rename(&partial, path).map_err(failed)
}

/// `value` in single quotes, each `'` in it written `'\''`: one word to any POSIX shell.
pub fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}
