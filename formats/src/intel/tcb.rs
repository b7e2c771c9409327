//! Intel's TDX TCB evaluation, as Intel's quote verification library (QVL) does it: which level of a
//! verified TCB Info the platform is at, the TDX module's and the TD quoting enclave's own levels, and
//! how their statuses converge into one.
//!
//! The platform's TCB comes from two places: the PCK certificate (SGX TCB components, PCESVN, FMSPC,
//! PCE ID, certified by Intel) and the quote body (TEE_TCB_SVN, MRSIGNERSEAM, SEAMATTRIBUTES, signed by
//! the attestation key the PCK vouches for). Nothing here checks signatures or dates: pass documents
//! that [`Signed::verify_at`](super::Signed::verify_at) returned, from a quote whose signatures held.

use std::fmt;

use super::{EnclaveIdentity, IsvTcbLevel, PckExtensions, TcbError, TcbInfo, TcbLevel, TcbStatus, TdxModule};
use crate::tdx::{QeReport, TdQuote, TdQuoteBody};
use crate::time::DateTime;

/// The TCB a TD quote's platform claims: what is matched against a TCB Info's levels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformTcb {
    /// From the PCK certificate: which TCB Info applies.
    pub fmspc: [u8; 6],
    pub pce_id: [u8; 2],
    /// The PCK certificate's 16 SGX TCB component SVNs.
    pub sgx_tcb_components: [u8; 16],
    pub pcesvn: u16,
    /// The quote's TEE_TCB_SVN: byte 0 is the TDX module's SVN, byte 1 its major version.
    pub tee_tcb_svn: [u8; 16],
    /// The quote's MRSIGNERSEAM: who signed the TDX module.
    pub mrsignerseam: [u8; 48],
    /// The quote's SEAMATTRIBUTES, as the bytes appear in the quote.
    pub seam_attributes: [u8; 8],
}

impl PlatformTcb {
    /// The platform TCB of a PCK certificate's extensions and the quote body it vouches for.
    pub fn new(pck: &PckExtensions, body: &TdQuoteBody) -> Self {
        PlatformTcb {
            fmspc: pck.fmspc,
            pce_id: pck.pce_id,
            sgx_tcb_components: pck.sgx_tcb_components,
            pcesvn: pck.pcesvn,
            tee_tcb_svn: body.tee_tcb_svn,
            mrsignerseam: body.mrsignerseam,
            seam_attributes: body.seam_attributes.to_le_bytes(),
        }
    }

    /// The TDX module's major version (TEE_TCB_SVN[1]); 0 before TDX 1.5.
    pub fn module_version(&self) -> u8 {
        self.tee_tcb_svn[1]
    }

    /// The TDX module's SVN (TEE_TCB_SVN[0]).
    pub fn module_svn(&self) -> u8 {
        self.tee_tcb_svn[0]
    }
}

/// One matched level of an ISV SVN ladder (a TDX module identity's or the TD_QE's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsvTcb {
    /// `TDX_01`, `TD_QE` …
    pub id: String,
    /// The SVN that was matched (the module's TEE_TCB_SVN[0], the QE report's ISVSVN).
    pub isvsvn: u16,
    pub tcb_status: TcbStatus,
    pub tcb_date: DateTime,
    pub advisory_ids: Vec<String>,
}

impl IsvTcb {
    fn new(id: &str, isvsvn: u16, level: &IsvTcbLevel) -> Self {
        IsvTcb {
            id: id.to_owned(),
            isvsvn,
            tcb_status: level.tcb_status,
            tcb_date: level.tcb_date.clone(),
            advisory_ids: level.advisory_ids.clone(),
        }
    }
}

/// Where the platform stands in a TCB Info: the first level it meets, and the TDX module's level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformMatch {
    /// The first level (highest first) whose SGX, PCE and TDX SVNs the platform all meets.
    pub level: TcbLevel,
    /// The module identity's level; `None` when the quote's module is checked against `tdxModule`
    /// alone (module version 0, or a TCB Info without `tdxModuleIdentities`).
    pub module: Option<IsvTcb>,
    /// The level's status converged with the module's.
    pub status: TcbStatus,
}

/// The outcome of TDX TCB evaluation: the status a relying party judges the platform by, and what
/// it rests on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcbVerdict {
    /// The final status: the platform level's, converged with the TDX module's and the TD_QE's.
    pub status: TcbStatus,
    /// The platform's TCB level.
    pub level: TcbLevel,
    pub module: Option<IsvTcb>,
    pub qe: IsvTcb,
    /// The advisories of the platform level, the module level and the QE level, each once.
    pub advisory_ids: Vec<String>,
    /// The TCB Info's FMSPC, evaluation data number and issue date: which judgement this is.
    pub fmspc: [u8; 6],
    pub tcb_evaluation_data_number: u32,
    pub issue_date: DateTime,
}

impl TcbVerdict {
    /// Why a status that still lets the platform be used needs a relying party's look; `None` for
    /// `UpToDate` and `SWHardeningNeeded` (the TD's software carries the mitigations).
    pub fn warning(&self) -> Option<&'static str> {
        match self.status {
            TcbStatus::UpToDate | TcbStatus::SWHardeningNeeded | TcbStatus::Revoked => None,
            TcbStatus::ConfigurationNeeded => Some("the platform needs a configuration change"),
            TcbStatus::ConfigurationAndSWHardeningNeeded => {
                Some("the platform needs a configuration change and software hardening")
            }
            TcbStatus::OutOfDate => {
                Some("the platform's TCB is out of date, its firmware or TDX module needs an update")
            }
            TcbStatus::OutOfDateConfigurationNeeded => {
                Some("the platform's TCB is out of date and needs a configuration change")
            }
        }
    }
}

/// The step detail: the status first (with its warning), then what it rests on.
impl fmt::Display for TcbVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.status.name())?;
        if let Some(warning) = self.warning() {
            write!(f, " (warning: {warning}; a claim check on `attester_tcb_status` decides)")?;
        }
        write!(
            f,
            ": platform TCB level of {} ({}), advisories {}; ",
            self.level.tcb_date,
            self.level.tcb_status.name(),
            list(&self.advisory_ids)
        )?;
        match &self.module {
            Some(module) => write!(f, "TDX module {}", isv(module))?,
            None => write!(f, "TDX module signer and attributes as `tdxModule`; ")?,
        }
        write!(
            f,
            "{}TCB Info for FMSPC {}, tcbEvaluationDataNumber {}, issued {}",
            isv(&self.qe),
            hex::encode(self.fmspc),
            self.tcb_evaluation_data_number,
            self.issue_date
        )
    }
}

/// `ISVSVN 5: UpToDate (2024-03-13T00:00:00Z); `
fn isv(level: &IsvTcb) -> String {
    format!("{} ISVSVN {}: {} ({}); ", level.id, level.isvsvn, level.tcb_status.name(), level.tcb_date)
}

fn list(items: &[String]) -> String {
    if items.is_empty() { "none".to_owned() } else { items.join(", ") }
}

/// Evaluate a TD quote's TCB: its PCK certificate's extensions and body against `info`, its QE report
/// against `identity`. Both documents must already be verified; the quote's signatures too.
pub fn evaluate_quote(
    info: &TcbInfo,
    identity: &EnclaveIdentity,
    quote: &TdQuote,
) -> Result<TcbVerdict, TcbError> {
    let pck = PckExtensions::from_quote(quote)?;
    evaluate(info, identity, &PlatformTcb::new(&pck, quote.body()), quote.qe_report())
}

/// Evaluate a platform TCB and a QE report, as Intel's QVL: the TCB Info must be TDX's and for this
/// platform, the QE must be the one `identity` names; the platform's level, the module's and the QE's
/// statuses converge into one, and `Revoked` anywhere is an error.
pub fn evaluate(
    info: &TcbInfo,
    identity: &EnclaveIdentity,
    platform: &PlatformTcb,
    qe: &QeReport,
) -> Result<TcbVerdict, TcbError> {
    check_tcb_info(info, platform)?;
    let qe = match_qe(identity, qe)?;
    let matched = match_platform(info, platform)?;
    let status = converge(matched.status, qe.tcb_status);
    if status == TcbStatus::Revoked {
        let (what, advisories) = if matched.level.tcb_status == TcbStatus::Revoked {
            ("the platform's TCB level", &matched.level.advisory_ids)
        } else {
            ("the TD_QE's TCB level", &qe.advisory_ids)
        };
        return Err(TcbError::Revoked { what, advisory_ids: advisories.clone() });
    }
    let mut advisory_ids: Vec<String> = Vec::new();
    let module_advisories = matched.module.iter().flat_map(|module| &module.advisory_ids);
    for id in matched.level.advisory_ids.iter().chain(module_advisories).chain(&qe.advisory_ids) {
        if !advisory_ids.contains(id) {
            advisory_ids.push(id.clone());
        }
    }
    Ok(TcbVerdict {
        status,
        level: matched.level,
        module: matched.module,
        qe,
        advisory_ids,
        fmspc: info.fmspc,
        tcb_evaluation_data_number: info.tcb_evaluation_data_number,
        issue_date: info.issue_date.clone(),
    })
}

/// The TCB Info is TDX's (version 3) and for this platform's FMSPC and PCE.
pub fn check_tcb_info(info: &TcbInfo, platform: &PlatformTcb) -> Result<(), TcbError> {
    if info.id != "TDX" || info.version != 3 {
        return Err(TcbError::NotTdxTcbInfo { id: info.id.clone(), version: info.version });
    }
    if info.fmspc != platform.fmspc {
        return Err(TcbError::FmspcMismatch { tcb_info: info.fmspc, pck: platform.fmspc });
    }
    if info.pce_id != platform.pce_id {
        return Err(TcbError::PceIdMismatch { tcb_info: info.pce_id, pck: platform.pce_id });
    }
    Ok(())
}

/// The first level of `info` (in document order, highest first) the platform meets, with the TDX
/// module's level; an error when it meets none, naming what the lowest level needs.
pub fn match_platform(info: &TcbInfo, platform: &PlatformTcb) -> Result<PlatformMatch, TcbError> {
    let Some(level) = info.tcb_levels.iter().find(|level| unmet(level, platform).is_none()) else {
        let lowest = info.tcb_levels.last();
        return Err(TcbError::NoTcbLevel {
            sgx_tcb_components: platform.sgx_tcb_components,
            pcesvn: platform.pcesvn,
            tee_tcb_svn: platform.tee_tcb_svn,
            unmet: lowest
                .and_then(|level| unmet(level, platform))
                .unwrap_or_else(|| "the TCB Info has no levels".to_owned()),
        });
    };
    let module = match_module(info, platform)?;
    let mut status = level.tcb_status;
    if let Some(module) = &module {
        if module.tcb_status == TcbStatus::Revoked {
            return Err(TcbError::Revoked {
                what: "the TDX module's TCB level",
                advisory_ids: module.advisory_ids.clone(),
            });
        }
        status = converge(status, module.tcb_status);
    }
    Ok(PlatformMatch { level: level.clone(), module, status })
}

/// The first requirement of `level` the platform does not meet, described; `None` when it meets all.
///
/// TDX components are compared with TEE_TCB_SVN, except that from TDX 1.5 on (module major version,
/// byte 1, above 0) bytes 0 and 1 are the module's SVN and version, which the module identity judges
/// instead (Intel QVL's `isTdxTcbHigherOrEqual`).
fn unmet(level: &TcbLevel, platform: &PlatformTcb) -> Option<String> {
    let sgx = level.tcb.sgx_svns();
    for (index, (have, need)) in platform.sgx_tcb_components.iter().zip(sgx).enumerate() {
        if *have < need {
            let kind = level.tcb.sgxtcbcomponents.get(index).and_then(|c| c.kind.as_deref());
            return Some(format!(
                "SGX TCB component {}{} needs SVN {need}, the PCK certificate has {have}",
                index + 1,
                kind.map(|kind| format!(" ({kind})")).unwrap_or_default()
            ));
        }
    }
    if platform.pcesvn < level.tcb.pcesvn {
        return Some(format!(
            "PCESVN needs {}, the PCK certificate has {}",
            level.tcb.pcesvn, platform.pcesvn
        ));
    }
    let skip = if platform.module_version() > 0 { 2 } else { 0 };
    let tdx = level.tcb.tdx_svns();
    for (index, (have, need)) in platform.tee_tcb_svn.iter().zip(tdx).enumerate().skip(skip) {
        if *have < need {
            return Some(format!("TEE_TCB_SVN[{index}] needs {need}, the quote has {have}"));
        }
    }
    None
}

/// The TDX module's identity and level. For module version `n` > 0 the identity `TDX_0n` of
/// `tdxModuleIdentities` must exist, name the quote's MRSIGNERSEAM and (masked) SEAMATTRIBUTES, and
/// have a level the module's SVN meets. A TCB Info from before module identities (2023) and a
/// version-0 module are checked against `tdxModule` alone.
fn match_module(info: &TcbInfo, platform: &PlatformTcb) -> Result<Option<IsvTcb>, TcbError> {
    let version = platform.module_version();
    if version == 0 || info.tdx_module_identities.is_empty() {
        check_module_signer("tdxModule", &info.tdx_module, platform)?;
        return Ok(None);
    }
    let id = format!("TDX_{version:02X}");
    let Some(identity) = info.tdx_module_identities.iter().find(|m| m.id.eq_ignore_ascii_case(&id)) else {
        let available = info.tdx_module_identities.iter().map(|m| m.id.clone()).collect();
        return Err(TcbError::NoModuleIdentity { id, available });
    };
    check_module_signer(&identity.id, &identity.module, platform)?;
    let svn = platform.module_svn();
    let Some(level) = identity.tcb_levels.iter().find(|level| u16::from(svn) >= level.tcb.isvsvn) else {
        return Err(TcbError::ModuleSvnTooLow {
            id: identity.id.clone(),
            isvsvn: svn,
            lowest: identity.tcb_levels.last().map(|level| level.tcb.isvsvn),
        });
    };
    Ok(Some(IsvTcb::new(&identity.id, u16::from(svn), level)))
}

/// MRSIGNERSEAM is the module's signer, and SEAMATTRIBUTES under the mask are its attributes.
fn check_module_signer(id: &str, module: &TdxModule, platform: &PlatformTcb) -> Result<(), TcbError> {
    if platform.mrsignerseam != module.mrsigner {
        return Err(TcbError::ModuleMismatch {
            id: id.to_owned(),
            field: "MRSIGNERSEAM",
            expected: hex::encode(module.mrsigner),
            found: hex::encode(platform.mrsignerseam),
        });
    }
    let masked: Vec<u8> = platform
        .seam_attributes
        .iter()
        .zip(module.attributes_mask)
        .map(|(value, mask)| value & mask)
        .collect();
    if masked != module.attributes {
        return Err(TcbError::ModuleMismatch {
            id: id.to_owned(),
            field: "SEAMATTRIBUTES",
            expected: format!(
                "{} under mask {}",
                hex::encode(module.attributes),
                hex::encode(module.attributes_mask)
            ),
            found: hex::encode(platform.seam_attributes),
        });
    }
    Ok(())
}

/// The QE report is the enclave `identity` names (TD_QE, version 2 or later), and its level.
/// MISCSELECT's mask and value are hex numbers (Intel QVL reads them big-endian); ATTRIBUTES are
/// compared byte by byte, as in the report.
pub fn match_qe(identity: &EnclaveIdentity, qe: &QeReport) -> Result<IsvTcb, TcbError> {
    if identity.id != "TD_QE" || identity.version < 2 {
        return Err(TcbError::NotTdQeIdentity { id: identity.id.clone(), version: identity.version });
    }
    let mismatch = |field, expected: String, found: String| TcbError::QeMismatch { field, expected, found };
    if qe.mr_signer != identity.mrsigner {
        return Err(mismatch("MRSIGNER", hex::encode(identity.mrsigner), hex::encode(qe.mr_signer)));
    }
    if qe.isv_prod_id != identity.isvprodid {
        return Err(mismatch("ISVPRODID", identity.isvprodid.to_string(), qe.isv_prod_id.to_string()));
    }
    let (miscselect, mask) =
        (u32::from_be_bytes(identity.miscselect), u32::from_be_bytes(identity.miscselect_mask));
    if qe.misc_select & mask != miscselect {
        return Err(mismatch(
            "MISCSELECT",
            format!("{miscselect:08x} under mask {mask:08x}"),
            format!("{:08x}", qe.misc_select),
        ));
    }
    let masked: Vec<u8> =
        qe.attributes.iter().zip(identity.attributes_mask).map(|(value, mask)| value & mask).collect();
    if masked != identity.attributes {
        return Err(mismatch(
            "ATTRIBUTES",
            format!(
                "{} under mask {}",
                hex::encode(identity.attributes),
                hex::encode(identity.attributes_mask)
            ),
            hex::encode(qe.attributes),
        ));
    }
    match_isv_level(identity, qe.isv_svn)
}

/// The first level of the TD_QE identity (highest first) whose ISVSVN `isvsvn` meets.
pub fn match_isv_level(identity: &EnclaveIdentity, isvsvn: u16) -> Result<IsvTcb, TcbError> {
    match identity.tcb_levels.iter().find(|level| isvsvn >= level.tcb.isvsvn) {
        Some(level) => Ok(IsvTcb::new(&identity.id, isvsvn, level)),
        None => Err(TcbError::QeSvnTooLow {
            isvsvn,
            lowest: identity.tcb_levels.last().map(|level| level.tcb.isvsvn),
        }),
    }
}

/// Fold a TDX module's or the TD_QE's status into the platform's, as Intel QVL does
/// (`convergeTcbStatusWithTdxModuleStatus`, `convergeTcbStatusWithQeTcbStatus`): an out-of-date
/// module or QE makes an up-to-date or hardening-only platform `OutOfDate`, and one that needs
/// configuration `OutOfDateConfigurationNeeded`; a revoked one revokes; otherwise the platform's
/// status stands.
pub fn converge(platform: TcbStatus, other: TcbStatus) -> TcbStatus {
    use TcbStatus::*;
    match (other, platform) {
        (Revoked, _) => Revoked,
        (OutOfDate, UpToDate | SWHardeningNeeded) => OutOfDate,
        (OutOfDate, ConfigurationNeeded | ConfigurationAndSWHardeningNeeded) => OutOfDateConfigurationNeeded,
        _ => platform,
    }
}
