//! A simulated Azure confidential VM's vTPM, assembled: a private [`Swtpm`], provisioned as Azure
//! provisions a vTPM (the AK at `0x81000003`, an AK certificate issued now for that AK by the test
//! vTPM CA at `0x01C101D0`), and the [`Paravisor`] in front of it serving HCL reports made for the
//! current report user data: runtime claims carrying the AK as `HCLAkPub`, an SEV-SNP report or a
//! TD report binding them, signed by the test PKI.
//!
//! The client under test is given [`Cvm::tcti`] and nothing else: what it reads there is what it
//! would read on Azure, except that every signature chains to a test root ([`Tee::trust_anchors`]).

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest as _, Sha256};

use crate::hcl::RsaPublic;
use crate::paravisor::{self, AkPublic, Paravisor, ProvisionError};
use crate::pki;
use crate::swtpm::{self, Swtpm, SwtpmError};

mod ak_cert;
mod boot;
mod ek;
mod report;

pub use ak_cert::AkCertError;
pub use boot::BootError;
pub use ek::EkError;

use report::ReportBuilder;

/// The launch measurement (SNP) or MRTD (TDX) of the simulated guest when none is chosen.
pub const DEFAULT_MEASUREMENT: [u8; 48] = [0x4d; 48];

/// The trusted execution environment the CVM runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tee {
    /// AMD SEV-SNP (Milan): the HCL report carries an SNP report signed by the test VCEK.
    Snp,
    /// Intel TDX: the HCL report carries a TD report; IMDS turns it into a quote.
    Tdx,
}

impl Tee {
    /// The verifier's trust anchors (`--trust-anchor NAME=FILE`, `[trust_anchors]`) under which
    /// this platform's evidence verifies, as (name, PEM): the test platform roots, and the test vTPM
    /// root and CA that the AK certificate chains to.
    pub fn trust_anchors(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Tee::Snp => &[
                ("amd-ark-milan", pki::AMD_ARK_PEM),
                ("amd-ask-milan", pki::AMD_ASK_PEM),
                ("azure-vtpm-root", pki::VTPM_ROOT_PEM),
                ("azure-vtpm-intermediate", pki::VTPM_CA_PEM),
            ],
            Tee::Tdx => &[
                ("intel-sgx-root", pki::INTEL_ROOT_PEM),
                ("azure-vtpm-root", pki::VTPM_ROOT_PEM),
                ("azure-vtpm-intermediate", pki::VTPM_CA_PEM),
            ],
        }
    }

    /// A name for people: `SEV-SNP` or `TDX`.
    pub fn display_name(self) -> &'static str {
        match self {
            Tee::Snp => "SEV-SNP",
            Tee::Tdx => "TDX",
        }
    }
}

impl fmt::Display for Tee {
    /// `snp` or `tdx`, as [`FromStr`] reads it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Tee::Snp => "snp",
            Tee::Tdx => "tdx",
        })
    }
}

impl FromStr for Tee {
    type Err = String;

    fn from_str(s: &str) -> Result<Tee, String> {
        match s {
            "snp" => Ok(Tee::Snp),
            "tdx" => Ok(Tee::Tdx),
            other => Err(format!("unknown TEE `{other}`: expected `snp` or `tdx`")),
        }
    }
}

/// What may be chosen about a CVM; the defaults suit tests.
#[derive(Debug, Clone, Default)]
pub struct CvmOptions {
    /// Where swtpm keeps its state (created if missing); a temporary directory removed on drop when
    /// `None`.
    pub state_dir: Option<PathBuf>,
    /// The VM's `vmUniqueId` (a UUID); a fresh one when `None`.
    pub vm_unique_id: Option<String>,
    /// The SNP launch measurement or the TD's MRTD; [`DEFAULT_MEASUREMENT`] when `None`.
    pub measurement: Option<[u8; 48]>,
    /// The VM booted with Secure Boot off (its reports say so); on, as on an Azure CVM, when false.
    pub secure_boot_off: bool,
}

/// Why the CVM could not be started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CvmError {
    #[error(transparent)]
    Swtpm(#[from] SwtpmError),
    #[error("provisioning the vTPM failed: {0}")]
    Provision(#[from] ProvisionError),
    #[error(transparent)]
    Ek(#[from] EkError),
    #[error(transparent)]
    Boot(#[from] BootError),
    #[error("issuing the AK certificate failed: {0}")]
    AkCert(#[from] AkCertError),
    #[error("starting the paravisor failed: {0}")]
    Paravisor(std::io::Error),
}

/// A running simulated CVM vTPM; dropping it stops the paravisor, then kills swtpm.
#[derive(Debug)]
pub struct Cvm {
    // Declared first: the proxy stops before swtpm goes away.
    paravisor: Paravisor,
    swtpm: Swtpm,
    tee: Tee,
    ak: AkPublic,
    ak_cert: Vec<u8>,
    vm_unique_id: String,
    event_log: Vec<u8>,
}

impl Cvm {
    /// Starts swtpm, provisions it (AK, then a certificate issued now for it), boots (the firmware's
    /// measurements, [`boot`]), and puts the paravisor in front of it.
    pub fn start(tee: Tee, options: CvmOptions) -> Result<Cvm, CvmError> {
        let swtpm = Swtpm::start(options.state_dir.as_deref())?;
        // Provisioned on swtpm directly, as Azure does before the guest boots.
        let direct = swtpm::direct_connections();
        let ak = paravisor::provision(&swtpm.tcti(), None)?;
        let ak_cert = ak_cert::issue(&ak, SystemTime::now())?;
        paravisor::provision(&swtpm.tcti(), Some(&ak_cert))?;
        let ek = ek::endorsement_key(&swtpm.tcti())?;
        let event_log = boot::measure(&swtpm.tcti(), !options.secure_boot_off)?;
        drop(direct);
        let vm_unique_id = options.vm_unique_id.unwrap_or_else(|| fresh_uuid(&ak));
        let builder = ReportBuilder {
            tee,
            ak: RsaPublic { modulus: ak.modulus.clone(), exponent: ak.exponent.to_be_bytes().to_vec() },
            ek,
            vm_unique_id: vm_unique_id.clone(),
            measurement: options.measurement.unwrap_or(DEFAULT_MEASUREMENT),
            secure_boot: !options.secure_boot_off,
        };
        let paravisor = Paravisor::start(swtpm.command_addr(), swtpm.control_addr(), move |user_data| {
            builder.hcl_report(user_data)
        })
        .map_err(CvmError::Paravisor)?;
        Ok(Cvm { paravisor, swtpm, tee, ak, ak_cert, vm_unique_id, event_log })
    }

    /// The TCTI string the client under test is given: `swtpm:host=127.0.0.1,port=P`, the paravisor.
    pub fn tcti(&self) -> String {
        self.paravisor.tcti()
    }

    pub fn tee(&self) -> Tee {
        self.tee
    }

    /// The AK provisioned at `0x81000003`.
    pub fn ak(&self) -> &AkPublic {
        &self.ak
    }

    /// The AK certificate (DER) provisioned at `0x01C101D0`.
    pub fn ak_cert_der(&self) -> &[u8] {
        &self.ak_cert
    }

    /// The runtime claims' `vmUniqueId`.
    pub fn vm_unique_id(&self) -> &str {
        &self.vm_unique_id
    }

    /// The TCG event log of the firmware's measurements, which replays to the vTPM's PCRs at boot.
    pub fn event_log(&self) -> &[u8] {
        &self.event_log
    }

    /// The swtpm behind the paravisor (its process, its state).
    pub fn swtpm(&self) -> &Swtpm {
        &self.swtpm
    }
}

/// A version-4-shaped UUID, upper case as Azure writes `vmUniqueId`, unique to this AK and moment.
fn fresh_uuid(ak: &AkPublic) -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos();
    let mut bytes = [0u8; 16];
    let digest = Sha256::new().chain_update(&ak.modulus).chain_update(nanos.to_be_bytes()).finalize();
    bytes.copy_from_slice(digest.get(..16).unwrap_or(&[0; 16]));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode_upper(bytes);
    let part = |range: std::ops::Range<usize>| hex.get(range).unwrap_or_default();
    format!("{}-{}-{}-{}-{}", part(0..8), part(8..12), part(12..16), part(16..20), part(20..32))
}
