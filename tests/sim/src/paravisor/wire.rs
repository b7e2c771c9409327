//! TPM 2.0 command and response framing (TPM 2.0 Part 1 §18, Part 3 §5): the bounded reader the
//! interception parses untrusted commands with, the response builders, and the response codes the
//! simulated indices answer with. Nothing here panics on input: every read is checked against what is
//! left of the buffer.

/// Command and response tag without an authorisation area.
pub(crate) const TPM_ST_NO_SESSIONS: u16 = 0x8001;
/// Command and response tag with an authorisation area.
pub(crate) const TPM_ST_SESSIONS: u16 = 0x8002;
/// A TPM header is tag (2) ‖ size (4) ‖ command or response code (4).
pub(crate) const HEADER_LEN: usize = 10;
/// The largest command the proxy accepts: swtpm's (libtpms') input buffer is 4096 bytes, so anything
/// larger is a client error, answered without reading an unbounded amount.
pub(crate) const MAX_COMMAND: usize = 4096;
/// The largest response the proxy accepts from swtpm (twice its buffer, to be lenient).
pub(crate) const MAX_RESPONSE: usize = 8192;
/// The password authorisation session handle.
pub(crate) const TPM_RS_PW: u32 = 0x4000_0009;
/// Authorisation handles of the hierarchies NV commands name.
pub(crate) const TPM_RH_OWNER: u32 = 0x4000_0001;
pub(crate) const TPM_RH_PLATFORM: u32 = 0x4000_000C;

/// Command codes the proxy looks at (Part 2 §6.5).
pub(crate) mod cc {
    pub(crate) const NV_UNDEFINE_SPACE_SPECIAL: u32 = 0x11F;
    pub(crate) const NV_UNDEFINE_SPACE: u32 = 0x122;
    pub(crate) const NV_DEFINE_SPACE: u32 = 0x12A;
    pub(crate) const NV_WRITE: u32 = 0x137;
    pub(crate) const NV_READ: u32 = 0x14E;
    pub(crate) const NV_READ_PUBLIC: u32 = 0x169;
    pub(crate) const GET_CAPABILITY: u32 = 0x17A;
}

/// Response codes the simulated indices answer with (Part 2 §6.6). `P1`/`H1`/`S1` variants carry the
/// parameter, handle or session number the way a TPM reports them, so that tpm2-tss decodes them as a
/// TPM would (`tpm:parameter(1):…`).
pub(crate) mod rc {
    pub(crate) const SUCCESS: u32 = 0x000;
    pub(crate) const BAD_TAG: u32 = 0x01E;
    pub(crate) const FAILURE: u32 = 0x101;
    pub(crate) const AUTH_MISSING: u32 = 0x125;
    pub(crate) const AUTH_UNAVAILABLE: u32 = 0x12F;
    pub(crate) const COMMAND_SIZE: u32 = 0x142;
    pub(crate) const AUTHSIZE: u32 = 0x144;
    pub(crate) const AUTH_CONTEXT: u32 = 0x145;
    pub(crate) const NV_RANGE: u32 = 0x146;
    pub(crate) const NV_AUTHORIZATION: u32 = 0x149;
    pub(crate) const NV_UNINITIALIZED: u32 = 0x14A;
    pub(crate) const NV_DEFINED: u32 = 0x14C;
    /// TPM_RC_INSUFFICIENT: the command ended before all its fields.
    pub(crate) const INSUFFICIENT: u32 = 0x09A;
    /// TPM_RC_SIZE for the whole command (extra bytes after the last parameter).
    pub(crate) const SIZE: u32 = 0x095;
    /// TPM_RC_VALUE on parameter 1 (an NV_Read size above the NV buffer).
    pub(crate) const VALUE_P1: u32 = 0x1C4;
    /// TPM_RC_SIZE on parameter 1 (an NV_Write buffer above the NV buffer).
    pub(crate) const SIZE_P1: u32 = 0x1D5;
    /// TPM_RC_HANDLE on handle 1 (an authorisation handle that is not owner, platform or the index).
    pub(crate) const HANDLE_H1: u32 = 0x18B;
    /// TPM_RC_AUTH_FAIL on session 1 (a password that is not the empty one).
    pub(crate) const AUTH_FAIL_S1: u32 = 0x98E;
}

/// A bounded big-endian reader over a command or response; every getter fails with
/// [`rc::INSUFFICIENT`] instead of reading past the end.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { rest: bytes }
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8], u32> {
        if n > self.rest.len() {
            return Err(rc::INSUFFICIENT);
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, u32> {
        let [b] = self.array::<1>()?;
        Ok(b)
    }

    pub(crate) fn u16(&mut self) -> Result<u16, u32> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, u32> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    /// A TPM2B: a u16 size and that many bytes.
    pub(crate) fn tpm2b(&mut self) -> Result<&'a [u8], u32> {
        let n = self.u16()?;
        self.bytes(usize::from(n))
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], u32> {
        let bytes = self.bytes(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    pub(crate) fn remaining(&self) -> usize {
        self.rest.len()
    }

    /// Fails with [`rc::SIZE`] when bytes are left: a TPM refuses a command with trailing bytes.
    pub(crate) fn finish(&self) -> Result<(), u32> {
        if self.rest.is_empty() { Ok(()) } else { Err(rc::SIZE) }
    }
}

/// The fixed header of a command or response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) tag: u16,
    pub(crate) size: u32,
    /// The command code of a command, the response code of a response.
    pub(crate) code: u32,
}

impl Header {
    pub(crate) fn parse(bytes: &[u8; HEADER_LEN]) -> Header {
        let [t0, t1, s0, s1, s2, s3, c0, c1, c2, c3] = *bytes;
        Header {
            tag: u16::from_be_bytes([t0, t1]),
            size: u32::from_be_bytes([s0, s1, s2, s3]),
            code: u32::from_be_bytes([c0, c1, c2, c3]),
        }
    }
}

/// An error response: always TPM_ST_NO_SESSIONS and just the header (Part 1 §18.5).
pub(crate) fn error_response(code: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN);
    out.extend_from_slice(&TPM_ST_NO_SESSIONS.to_be_bytes());
    out.extend_from_slice(&(HEADER_LEN as u32).to_be_bytes());
    out.extend_from_slice(&code.to_be_bytes());
    out
}

/// A successful response with `parameters`. With `sessions` password sessions in the command, the
/// response has tag TPM_ST_SESSIONS, a parameterSize and one password acknowledgement per session
/// (empty nonceTPM, continueSession set, empty hmac: Part 1 §19.8.4); without, it is just the
/// parameters.
pub(crate) fn success_response(parameters: &[u8], sessions: usize) -> Vec<u8> {
    let mut body = Vec::with_capacity(parameters.len() + 4 + sessions * 5);
    if sessions > 0 {
        body.extend_from_slice(&len_u32(parameters.len()).to_be_bytes());
    }
    body.extend_from_slice(parameters);
    for _ in 0..sessions {
        body.extend_from_slice(&[0, 0, 0x01, 0, 0]);
    }
    let tag = if sessions > 0 { TPM_ST_SESSIONS } else { TPM_ST_NO_SESSIONS };
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.extend_from_slice(&tag.to_be_bytes());
    out.extend_from_slice(&len_u32(HEADER_LEN + body.len()).to_be_bytes());
    out.extend_from_slice(&rc::SUCCESS.to_be_bytes());
    out.extend_from_slice(&body);
    out
}

/// Appends a TPM2B (u16 size ‖ bytes). Callers only pass what they bounded to `u16` before.
pub(crate) fn put_tpm2b(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&u16::try_from(bytes.len()).unwrap_or(u16::MAX).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// Lengths here are bounded by [`MAX_RESPONSE`]-sized buffers, far below `u32::MAX`.
fn len_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// One session of a command's authorisation area.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Session<'a> {
    pub(crate) handle: u32,
    pub(crate) nonce: &'a [u8],
    pub(crate) hmac: &'a [u8],
}

/// A command split into its areas (Part 1 §18.2): handles (as many as the command code defines), the
/// authorisation sessions, and a reader over the parameters.
#[derive(Debug, Clone)]
pub(crate) struct Command<'a> {
    pub(crate) code: u32,
    pub(crate) handles: Vec<u32>,
    pub(crate) sessions: Vec<Session<'a>>,
    pub(crate) parameters: Reader<'a>,
}

/// A TPM takes at most three sessions per command.
const MAX_SESSIONS: usize = 3;

impl<'a> Command<'a> {
    /// Splits a whole command (header included, its size already checked against the buffer) with
    /// `handle_count` handles. Tags other than the two command tags are [`rc::BAD_TAG`]; an area that
    /// does not fit is [`rc::INSUFFICIENT`] or [`rc::AUTHSIZE`].
    pub(crate) fn parse(bytes: &'a [u8], handle_count: usize) -> Result<Command<'a>, u32> {
        let mut reader = Reader::new(bytes);
        let tag = reader.u16()?;
        let _size = reader.u32()?;
        let code = reader.u32()?;
        let handles = (0..handle_count).map(|_| reader.u32()).collect::<Result<Vec<_>, _>>()?;
        let sessions = match tag {
            TPM_ST_NO_SESSIONS => Vec::new(),
            TPM_ST_SESSIONS => parse_sessions(&mut reader)?,
            _ => return Err(rc::BAD_TAG),
        };
        Ok(Command { code, handles, sessions, parameters: reader })
    }

    /// The handle at `i`, which [`Command::parse`] read.
    pub(crate) fn handle(&self, i: usize) -> u32 {
        self.handles.get(i).copied().unwrap_or(0)
    }
}

/// The authorisation area: authorizationSize, then sessions that fill it exactly.
fn parse_sessions<'a>(reader: &mut Reader<'a>) -> Result<Vec<Session<'a>>, u32> {
    let size = usize::try_from(reader.u32()?).map_err(|_| rc::AUTHSIZE)?;
    if size > reader.remaining() || size == 0 {
        return Err(rc::AUTHSIZE);
    }
    let mut area = Reader::new(reader.bytes(size)?);
    let mut sessions = Vec::new();
    while area.remaining() > 0 {
        if sessions.len() == MAX_SESSIONS {
            return Err(rc::AUTHSIZE);
        }
        let handle = area.u32().map_err(|_| rc::AUTHSIZE)?;
        let nonce = area.tpm2b().map_err(|_| rc::AUTHSIZE)?;
        let _attributes = area.u8().map_err(|_| rc::AUTHSIZE)?;
        let hmac = area.tpm2b().map_err(|_| rc::AUTHSIZE)?;
        sessions.push(Session { handle, nonce, hmac });
    }
    Ok(sessions)
}
