//! The paravisor's own NV indices, served by the proxy instead of swtpm: the HCL report (larger than
//! swtpm's 2048-byte NV limit, and produced on demand by the HCL report builder) and the report user
//! data the guest writes to ask for a fresh report. Commands on these indices are answered here with
//! the response a TPM gives; everything else goes to swtpm.

use sha2::{Digest as _, Sha256};

use super::wire::{
    Command, Reader, TPM_RH_OWNER, TPM_RH_PLATFORM, TPM_RS_PW, cc, error_response, put_tpm2b, rc,
    success_response,
};

/// NV index of the HCL report.
pub const HCL_REPORT_INDEX: u32 = 0x0140_0001;
/// NV index of the report user data.
pub const USER_DATA_INDEX: u32 = 0x0140_0002;
/// Size of the report user data.
pub const USER_DATA_LEN: usize = 64;
/// The most an NV_Read or NV_Write moves in one command: `TPM2_PT_NV_BUFFER_MAX` of swtpm (libtpms),
/// which the client reads in chunks of, so the simulated indices behave like swtpm's own.
pub const NV_BUFFER_MAX: usize = 1024;
/// TPM_ALG_SHA256, the nameAlg of both indices.
const TPM_ALG_SHA256: u16 = 0x000B;

/// TPMA_NV bits (TPM 2.0 Part 2 §13.4) used by the simulated indices.
pub mod tpma_nv {
    pub const PPWRITE: u32 = 1 << 0;
    pub const OWNERWRITE: u32 = 1 << 1;
    pub const AUTHWRITE: u32 = 1 << 2;
    pub const PPREAD: u32 = 1 << 16;
    pub const OWNERREAD: u32 = 1 << 17;
    pub const AUTHREAD: u32 = 1 << 18;
    pub const NO_DA: u32 = 1 << 25;
    pub const WRITTEN: u32 = 1 << 29;
    pub const PLATFORMCREATE: u32 = 1 << 30;
}

/// Attributes of the HCL report index (0x62060001): written by the paravisor, which owns the platform
/// hierarchy (PPWRITE, PLATFORMCREATE), readable with owner or index authorisation (OWNERREAD,
/// AUTHREAD, as the clients read it with `-C o`), NO_DA, always WRITTEN. Azure's exact value is not
/// recorded in docs/protocol.md; the bits the clients depend on (OWNERREAD, WRITTEN) are certain.
pub const HCL_REPORT_ATTRIBUTES: u32 = tpma_nv::PPWRITE
    | tpma_nv::OWNERREAD
    | tpma_nv::AUTHREAD
    | tpma_nv::NO_DA
    | tpma_nv::WRITTEN
    | tpma_nv::PLATFORMCREATE;
/// Attributes of the user data index before its first write (0x00060006): OWNERWRITE | AUTHWRITE |
/// OWNERREAD | AUTHREAD, as Azure's clients define it (docs/protocol.md §2); WRITTEN is added by the
/// first write.
pub const USER_DATA_ATTRIBUTES: u32 =
    tpma_nv::OWNERWRITE | tpma_nv::AUTHWRITE | tpma_nv::OWNERREAD | tpma_nv::AUTHREAD;

/// Makes the HCL report for the given report user data (all zeros until the guest writes some).
pub type HclReportProvider = Box<dyn Fn(&[u8; USER_DATA_LEN]) -> Vec<u8> + Send + 'static>;

/// The simulated indices' state.
pub(crate) struct NvState {
    provider: HclReportProvider,
    /// The current report; `None` until first read and after each user data write, so that the next
    /// read gets a report made with the latest user data, and the chunks of one read come from one
    /// report.
    report: Option<Vec<u8>>,
    user_data: [u8; USER_DATA_LEN],
    user_data_written: bool,
}

impl std::fmt::Debug for NvState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NvState")
            .field("report_len", &self.report.as_ref().map(Vec::len))
            .field("user_data_written", &self.user_data_written)
            .finish_non_exhaustive()
    }
}

/// The public area of an NV index (TPMS_NV_PUBLIC, with an empty authPolicy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NvPublic {
    pub index: u32,
    pub attributes: u32,
    pub data_size: u16,
}

impl NvPublic {
    /// TPMS_NV_PUBLIC: nvIndex ‖ nameAlg ‖ attributes ‖ authPolicy (empty TPM2B) ‖ dataSize.
    pub fn marshal(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(14);
        out.extend_from_slice(&self.index.to_be_bytes());
        out.extend_from_slice(&TPM_ALG_SHA256.to_be_bytes());
        out.extend_from_slice(&self.attributes.to_be_bytes());
        out.extend_from_slice(&0u16.to_be_bytes());
        out.extend_from_slice(&self.data_size.to_be_bytes());
        out
    }

    /// The index's name: nameAlg ‖ SHA-256(TPMS_NV_PUBLIC) (Part 1 §16). ESYS checks it against the
    /// public area it gets, and HMAC sessions bind to it, so it must be exact.
    pub fn name(&self) -> Vec<u8> {
        let mut out = TPM_ALG_SHA256.to_be_bytes().to_vec();
        out.extend_from_slice(&Sha256::digest(self.marshal()));
        out
    }
}

/// Whether the proxy serves `index` itself.
pub(crate) fn is_simulated(index: u32) -> bool {
    index == HCL_REPORT_INDEX || index == USER_DATA_INDEX
}

impl NvState {
    pub(crate) fn new(provider: HclReportProvider) -> NvState {
        NvState { provider, report: None, user_data: [0; USER_DATA_LEN], user_data_written: false }
    }

    /// The current HCL report, made now if there is none. A provider output that does not fit an NV
    /// index (more than 65535 bytes, or none) is TPM_RC_FAILURE rather than a truncated report.
    fn report(&mut self) -> Result<&[u8], u32> {
        let report = match self.report.take() {
            Some(report) => report,
            None => (self.provider)(&self.user_data),
        };
        if report.is_empty() || u16::try_from(report.len()).is_err() {
            return Err(rc::FAILURE);
        }
        Ok(self.report.insert(report))
    }

    /// The public area of a simulated index.
    fn public(&mut self, index: u32) -> Result<NvPublic, u32> {
        if index == HCL_REPORT_INDEX {
            let size = u16::try_from(self.report()?.len()).map_err(|_| rc::FAILURE)?;
            return Ok(NvPublic { index, attributes: HCL_REPORT_ATTRIBUTES, data_size: size });
        }
        let written = if self.user_data_written { tpma_nv::WRITTEN } else { 0 };
        Ok(NvPublic { index, attributes: USER_DATA_ATTRIBUTES | written, data_size: USER_DATA_LEN as u16 })
    }

    /// Answers a command the proxy intercepts, or `None` when it is not about a simulated index.
    pub(crate) fn handle(&mut self, command: &[u8]) -> Option<Vec<u8>> {
        let code = command.get(6..10).and_then(|b| b.try_into().ok()).map(u32::from_be_bytes)?;
        let handle_at = |i: usize| {
            command.get(10 + 4 * i..14 + 4 * i).and_then(|b| b.try_into().ok()).map(u32::from_be_bytes)
        };
        let ours = |i: usize| handle_at(i).is_some_and(is_simulated);
        let result = match code {
            cc::NV_READ_PUBLIC if ours(0) => self.read_public(command),
            cc::NV_READ if ours(1) => self.read(command),
            cc::NV_WRITE if ours(1) => self.write(command),
            // The paravisor's indices cannot be deleted by the guest (simulator limitation for the user
            // data index, which a client could delete and define again on Azure).
            cc::NV_UNDEFINE_SPACE if ours(1) => Err(rc::NV_AUTHORIZATION),
            cc::NV_UNDEFINE_SPACE_SPECIAL if ours(0) => Err(rc::NV_AUTHORIZATION),
            cc::NV_DEFINE_SPACE if defines_simulated(command) => Err(rc::NV_DEFINED),
            _ => return None,
        };
        Some(result.unwrap_or_else(error_response))
    }

    /// TPM2_NV_ReadPublic: TPM2B_NV_PUBLIC ‖ TPM2B_NAME. The command has no authorisation handle, so
    /// sessions (audit or encryption, whose HMAC the proxy cannot compute) are refused.
    fn read_public(&mut self, bytes: &[u8]) -> Result<Vec<u8>, u32> {
        let command = Command::parse(bytes, 1)?;
        if !command.sessions.is_empty() {
            return Err(rc::AUTH_CONTEXT);
        }
        command.parameters.finish()?;
        let public = self.public(command.handle(0))?;
        let mut parameters = Vec::new();
        put_tpm2b(&mut parameters, &public.marshal());
        put_tpm2b(&mut parameters, &public.name());
        Ok(success_response(&parameters, 0))
    }

    /// TPM2_NV_Read(authHandle, nvIndex; size, offset): at most [`NV_BUFFER_MAX`] bytes within the
    /// index, from a written index.
    fn read(&mut self, bytes: &[u8]) -> Result<Vec<u8>, u32> {
        let mut command = Command::parse(bytes, 2)?;
        let index = command.handle(1);
        let size = usize::from(command.parameters.u16()?);
        let offset = usize::from(command.parameters.u16()?);
        command.parameters.finish()?;
        let public = self.public(index)?;
        authorize(&command, &public, Access::Read)?;
        if size > NV_BUFFER_MAX {
            return Err(rc::VALUE_P1);
        }
        if offset + size > usize::from(public.data_size) {
            return Err(rc::NV_RANGE);
        }
        if public.attributes & tpma_nv::WRITTEN == 0 {
            return Err(rc::NV_UNINITIALIZED);
        }
        let data = if index == HCL_REPORT_INDEX { self.report()? } else { &self.user_data[..] };
        let chunk = data.get(offset..offset + size).ok_or(rc::NV_RANGE)?;
        let mut parameters = Vec::with_capacity(2 + size);
        put_tpm2b(&mut parameters, chunk);
        Ok(success_response(&parameters, command.sessions.len()))
    }

    /// TPM2_NV_Write(authHandle, nvIndex; data, offset): the user data only. A write makes the next
    /// read of the HCL report a fresh report with the new user data, as the paravisor does.
    fn write(&mut self, bytes: &[u8]) -> Result<Vec<u8>, u32> {
        let mut command = Command::parse(bytes, 2)?;
        let index = command.handle(1);
        let data = command.parameters.tpm2b()?;
        let offset = usize::from(command.parameters.u16()?);
        command.parameters.finish()?;
        let public = self.public(index)?;
        authorize(&command, &public, Access::Write)?;
        if index == HCL_REPORT_INDEX {
            // Only the paravisor writes the report; the guest cannot authorise as the platform.
            return Err(rc::NV_AUTHORIZATION);
        }
        if data.len() > NV_BUFFER_MAX {
            return Err(rc::SIZE_P1);
        }
        let target = self.user_data.get_mut(offset..offset + data.len()).ok_or(rc::NV_RANGE)?;
        target.copy_from_slice(data);
        self.user_data_written = true;
        self.report = None;
        Ok(success_response(&[], command.sessions.len()))
    }
}

/// Whether an NV_DefineSpace command defines one of the simulated indices (authHandle; auth,
/// TPM2B_NV_PUBLIC whose first field is the index).
fn defines_simulated(bytes: &[u8]) -> bool {
    let Ok(mut command) = Command::parse(bytes, 1) else { return false };
    let parameters = &mut command.parameters;
    let index = parameters.tpm2b().and_then(|_auth| parameters.u16()).and_then(|_size| parameters.u32());
    index.is_ok_and(is_simulated)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    Read,
    Write,
}

/// Checks the authorisation of an NV_Read or NV_Write as a TPM does for the empty password Azure's
/// objects have: exactly one session, the password session (the proxy cannot verify HMAC or policy
/// sessions, nor compute an audit HMAC), with an empty password, for an authHandle the index's
/// attributes allow (owner, platform, or the index itself).
fn authorize(command: &Command<'_>, public: &NvPublic, access: Access) -> Result<(), u32> {
    let [session] = command.sessions.as_slice() else {
        return Err(if command.sessions.is_empty() { rc::AUTH_MISSING } else { rc::AUTH_UNAVAILABLE });
    };
    if session.handle != TPM_RS_PW || !session.nonce.is_empty() {
        return Err(rc::AUTH_UNAVAILABLE);
    }
    if !session.hmac.is_empty() {
        return Err(rc::AUTH_FAIL_S1);
    }
    let (owner, platform, index) = match access {
        Access::Read => (tpma_nv::OWNERREAD, tpma_nv::PPREAD, tpma_nv::AUTHREAD),
        Access::Write => (tpma_nv::OWNERWRITE, tpma_nv::PPWRITE, tpma_nv::AUTHWRITE),
    };
    let needed = match command.handle(0) {
        TPM_RH_OWNER => owner,
        TPM_RH_PLATFORM => platform,
        h if h == public.index => index,
        _ => return Err(rc::HANDLE_H1),
    };
    if public.attributes & needed == 0 {
        return Err(rc::NV_AUTHORIZATION);
    }
    Ok(())
}

/// TPM_CAP_HANDLES.
const TPM_CAP_HANDLES: u32 = 1;
/// The most handles a GetCapability response holds in swtpm's 4096-byte buffer.
const MAX_CAP_HANDLES: u32 = 254;

/// The property and count of a GetCapability(TPM_CAP_HANDLES) over NV indices without sessions: its
/// response must list the simulated indices too, since the client asks whether an index exists this
/// way before using it.
pub(crate) fn nv_handle_listing(bytes: &[u8]) -> Option<(u32, u32)> {
    let mut command = Command::parse(bytes, 0).ok()?;
    if command.code != cc::GET_CAPABILITY || !command.sessions.is_empty() {
        return None;
    }
    let capability = command.parameters.u32().ok()?;
    let property = command.parameters.u32().ok()?;
    let count = command.parameters.u32().ok()?;
    (capability == TPM_CAP_HANDLES && property >> 24 == 0x01 && count > 0).then_some((property, count))
}

/// swtpm's answer to a handle listing from `property` with up to `count` handles, with the simulated
/// indices merged in ascending order. A response that is not a plain successful handle list is
/// returned unchanged.
pub(crate) fn merge_nv_handles(response: Vec<u8>, property: u32, count: u32) -> Vec<u8> {
    let Some((more, mut handles)) = parse_handle_list(&response) else { return response };
    // When swtpm has more, its list ends at its last handle: ours beyond that belong to a later page.
    let last = if more { handles.last().copied() } else { None };
    handles.extend(
        [HCL_REPORT_INDEX, USER_DATA_INDEX]
            .into_iter()
            .filter(|&h| h >= property && last.is_none_or(|last| h <= last)),
    );
    handles.sort_unstable();
    handles.dedup();
    let limit = usize::try_from(count.min(MAX_CAP_HANDLES)).unwrap_or(0);
    let truncated = handles.len() > limit;
    handles.truncate(limit);
    let mut parameters = vec![u8::from(more || truncated)];
    parameters.extend_from_slice(&TPM_CAP_HANDLES.to_be_bytes());
    parameters.extend_from_slice(&u32::try_from(handles.len()).unwrap_or(0).to_be_bytes());
    for handle in handles {
        parameters.extend_from_slice(&handle.to_be_bytes());
    }
    success_response(&parameters, 0)
}

/// moreData and the handles of a successful GetCapability(TPM_CAP_HANDLES) response without sessions.
fn parse_handle_list(response: &[u8]) -> Option<(bool, Vec<u32>)> {
    let mut reader = Reader::new(response);
    let (tag, _size, code) = (reader.u16().ok()?, reader.u32().ok()?, reader.u32().ok()?);
    if tag != super::wire::TPM_ST_NO_SESSIONS || code != rc::SUCCESS {
        return None;
    }
    let more = reader.u8().ok()? != 0;
    if reader.u32().ok()? != TPM_CAP_HANDLES {
        return None;
    }
    let n = reader.u32().ok()?;
    if n > MAX_CAP_HANDLES {
        return None;
    }
    let handles = (0..n).map(|_| reader.u32().ok()).collect::<Option<Vec<_>>>()?;
    reader.finish().ok()?;
    Some((more, handles))
}
