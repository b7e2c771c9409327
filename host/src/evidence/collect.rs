//! Collect one evidence bundle, in the order the official Azure clients use (docs/protocol.md §8):
//! OS information, the HCL report (fresh, when a nonce is bound), the hardware endorsement (VCEK
//! chain from THIM for SEV-SNP, a TD quote from IMDS for TDX), the event log, then the AK, the quote
//! and the ephemeral key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use cvm_attest_formats::bundle::{EvidenceBundle, OsInfo, PcrBank, Pcrs, Platform, TpmEvidence};
use cvm_attest_formats::hcl::{HardwareReport, HclReport};
use cvm_attest_formats::nonce;
use cvm_attest_formats::thim::ThimCertification;

use super::imds::{self, Imds};
use super::vtpm::{self, Vtpm};

/// Where Linux exposes the firmware's TCG event log (root only).
pub const EVENT_LOG_PATH: &str = "/sys/kernel/security/tpm0/binary_bios_measurements";

/// Where the OS describes itself.
pub const OS_RELEASE_PATH: &str = "/etc/os-release";

/// What to collect.
#[derive(Debug, Clone)]
pub struct Request {
    /// Bound into the quote and, through a fresh report, the HCL report's `user-data`.
    pub nonce: Option<Vec<u8>>,
    /// SHA-256 PCRs to quote and to bind the ephemeral key to.
    pub pcrs: Vec<u8>,
    /// The TCG event log; a missing or unreadable file is a warning, as in the official clients.
    pub event_log: PathBuf,
    /// `os-release` to describe the OS from.
    pub os_release: PathBuf,
}

/// Why collection failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error(transparent)]
    Vtpm(#[from] vtpm::Error),
    #[error(transparent)]
    Imds(#[from] imds::Error),
    #[error("the HCL report read from the vTPM is not valid: {0}; is this an Azure confidential VM?")]
    HclReport(cvm_attest_formats::ParseError),
    #[error("the VCEK chain from IMDS (THIM) is not valid: {0}")]
    Thim(cvm_attest_formats::thim::Error),
    #[error("the PCR values read from the vTPM are not usable: {0}")]
    Pcrs(cvm_attest_formats::bundle::Error),
}

impl Error {
    /// Whether the machine or a service is at fault (see the vTPM's and IMDS's errors).
    pub fn is_environment(&self) -> bool {
        match self {
            Error::Vtpm(e) => e.is_environment(),
            Error::Imds(e) => e.is_environment(),
            _ => false,
        }
    }
}

/// Something the user should know about collected evidence that did not stop collection.
pub type Warning = String;

/// Collect a bundle from the vTPM and IMDS. Warnings (AK certificate state, missing event log) are
/// returned beside it.
pub fn collect(
    vtpm: &mut Vtpm,
    imds: &Imds,
    request: &Request,
) -> Result<(EvidenceBundle, Vec<Warning>), Error> {
    let mut warnings = Vec::new();
    let os = read_os_release(&request.os_release);

    if let Some(nonce) = &request.nonce {
        vtpm.write_user_data(&nonce::user_data(nonce))?;
    }
    let hcl_report = vtpm.read_hcl_report()?;
    let hcl = HclReport::parse(&hcl_report).map_err(Error::HclReport)?;
    let (platform, vcek_chain, td_quote) = match hcl.hardware_report() {
        HardwareReport::Snp(_) => {
            let thim = ThimCertification::parse(&imds.thim_certification()?).map_err(Error::Thim)?;
            (Platform::AzureSevSnp, Some(thim.vcek_chain_pem()), None)
        }
        HardwareReport::Tdx(td_report) => {
            (Platform::AzureTdx, None, Some(imds.td_quote(td_report.as_bytes())?))
        }
        HardwareReport::TrustedLaunch => (Platform::AzureTrustedLaunch, None, None),
    };

    let event_log = match std::fs::read(&request.event_log) {
        Ok(log) => Some(log),
        Err(err) => {
            warnings.push(format!(
                "no event log collected ({}: {err}); run as root to include it (verifiers then cannot replay PCRs)",
                request.event_log.display()
            ));
            None
        }
    };

    let ak_cert = match vtpm.read_ak_cert() {
        Ok(cert) => {
            warnings.extend(cert.warnings(SystemTime::now()).iter().map(ToString::to_string));
            Some(cert.der().to_vec())
        }
        Err(err) => {
            warnings.push(format!("no AK certificate collected: {err}"));
            None
        }
    };
    let ak_public = vtpm.read_ak_public()?;
    let bound = request.nonce.as_deref().map(nonce::bound).unwrap_or_default();
    let quote = vtpm.quote(&request.pcrs, &bound)?;
    let ephemeral_key = vtpm.create_ephemeral_key(&quote.pcrs)?;
    let pcrs = Pcrs::new(PcrBank::Sha256, quote.pcrs.into_iter().collect::<BTreeMap<_, _>>())
        .map_err(Error::Pcrs)?;

    let bundle = EvidenceBundle {
        platform,
        collected_at: crate::clock::now(),
        nonce: request.nonce.clone(),
        hcl_report,
        vcek_chain,
        td_quote,
        tpm: Some(TpmEvidence {
            ak_public,
            ak_cert,
            quote: quote.attest,
            quote_signature: quote.signature,
            pcrs,
            ephemeral_key: Some(ephemeral_key),
        }),
        event_log,
        os,
        collateral: BTreeMap::new(),
    };
    Ok((bundle, warnings))
}

/// The OS as `os-release` describes it; `None` when the file is absent or says too little.
fn read_os_release(path: &Path) -> Option<OsInfo> {
    parse_os_release(&std::fs::read_to_string(path).ok()?)
}

/// `NAME` is the distribution, `VERSION_ID` its version (`22.04` → 22, 4; `12` → 12, 0).
fn parse_os_release(text: &str) -> Option<OsInfo> {
    let value = |key: &str| {
        text.lines().find_map(|line| {
            let value = line.strip_prefix(key)?.strip_prefix('=')?;
            Some(value.trim().trim_matches('"').to_owned())
        })
    };
    let distro = value("NAME")?;
    let version = value("VERSION_ID").unwrap_or_default();
    let mut parts = version.split('.').map(|part| part.parse::<u32>().ok());
    Some(OsInfo {
        os_type: "Linux".to_owned(),
        distro,
        version_major: parts.next().flatten().unwrap_or(0),
        version_minor: parts.next().flatten().unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_release_versions() {
        let ubuntu = parse_os_release("NAME=\"Ubuntu\"\nVERSION_ID=\"22.04\"\nID=ubuntu\n").unwrap();
        assert_eq!((ubuntu.distro.as_str(), ubuntu.version_major, ubuntu.version_minor), ("Ubuntu", 22, 4));
        let debian =
            parse_os_release("PRETTY_NAME=\"x\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\n").unwrap();
        assert_eq!(
            (debian.distro.as_str(), debian.version_major, debian.version_minor),
            ("Debian GNU/Linux", 12, 0)
        );
        assert!(parse_os_release("ID=nameless\n").is_none());
    }
}
