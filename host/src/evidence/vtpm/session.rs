//! Authorisation and the lifetime of what commands open: the empty-password session Azure's objects
//! take, ESYS handles of NV indices and persistent objects (looked up without tpm2-tss noise, always
//! closed), transient objects and sessions flushed on every path, errors included (a TPM without a
//! resource manager has only three transient object slots), and the trial policy session that computes
//! a PolicyPCR digest.

use tss_esapi::Context;
use tss_esapi::constants::{CapabilityType, SessionType};
use tss_esapi::handles::{NvIndexTpmHandle, ObjectHandle, PersistentTpmHandle, SessionHandle, TpmHandle};
use tss_esapi::interface_types::algorithm::HashingAlgorithm;
use tss_esapi::interface_types::session_handles::{AuthSession, PolicySession};
use tss_esapi::structures::{CapabilityData, Digest, PcrSelectionList, SymmetricDefinition};

use super::Error;
use super::rc::{Command, TPM_RC_HANDLE, run};

/// Runs `f` with owner/object authorisation by the empty password in the first session slot.
pub(super) fn with_password<T>(ctx: &mut Context, f: impl FnOnce(&mut Context) -> T) -> T {
    ctx.execute_with_session(Some(AuthSession::Password), f)
}

/// Looks up an NV index or persistent object and returns its ESYS handle (close it with [`close`]). A
/// handle the TPM does not know is [`Error::Missing`].
pub(super) fn lookup(ctx: &mut Context, raw: u32, what: &'static str) -> Result<ObjectHandle, Error> {
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
pub(super) fn close(ctx: &mut Context, mut handle: ObjectHandle) {
    if let Err(e) = ctx.tr_close(&mut handle) {
        tracing::debug!(error = %e, "closing an ESYS handle failed");
    }
}

/// Runs `f` with the ESYS handle of an NV index or persistent object (see [`lookup`]) and closes the
/// handle afterwards.
pub(super) fn with_tpm_handle<T>(
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
pub(super) fn with_flushed<T>(
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

/// Policy digest of PolicyPCR over `selection` with `values` (SHA-256 of the selected PCR values in
/// ascending order), from a trial session: a trial session takes the given digest as it is, so the key
/// is bound to the values the caller quoted, not to whatever the PCRs hold a moment later.
pub(super) fn trial_policy_pcr(
    ctx: &mut Context,
    selection: &PcrSelectionList,
    values: Digest,
) -> Result<Digest, Error> {
    let (_, policy) = start_policy_session(ctx, SessionType::Trial)?;
    with_flushed(ctx, SessionHandle::from(policy).into(), |ctx, _| {
        run(ctx, Command::plain("PolicyPCR"), |ctx| {
            // In a trial session the given digest of the values is used as it is.
            ctx.policy_pcr(policy, values.clone(), selection.clone())
        })?;
        run(ctx, Command::plain("PolicyGetDigest"), |ctx| ctx.policy_get_digest(policy))
    })
}

/// Runs `f` with a policy session in which PolicyPCR over `selection` has been run with the PCRs'
/// current values (an empty digest makes the TPM take them), flushed afterwards.
pub(super) fn with_policy_pcr<T>(
    ctx: &mut Context,
    selection: &PcrSelectionList,
    f: impl FnOnce(&mut Context, AuthSession) -> Result<T, Error>,
) -> Result<T, Error> {
    let (session, policy) = start_policy_session(ctx, SessionType::Policy)?;
    with_flushed(ctx, SessionHandle::from(policy).into(), |ctx, _| {
        run(ctx, Command::plain("PolicyPCR"), |ctx| {
            ctx.policy_pcr(policy, Digest::default(), selection.clone())
        })?;
        f(ctx, session)
    })
}

/// An unsalted, unbound SHA-256 policy (or trial) session; the caller flushes it.
fn start_policy_session(ctx: &mut Context, kind: SessionType) -> Result<(AuthSession, PolicySession), Error> {
    let start = Command::plain("StartAuthSession");
    let session = run(ctx, start, |ctx| {
        ctx.start_auth_session(None, None, None, kind, SymmetricDefinition::Null, HashingAlgorithm::Sha256)
    })?
    .ok_or(Error::UnexpectedResponse { command: start, reason: "no session handle".to_owned() })?;
    let policy =
        PolicySession::try_from(session).map_err(|source| Error::Library { command: start, source })?;
    Ok((session, policy))
}
