//! What Azure provisions in the vTPM besides the paravisor's own indices, put into swtpm with
//! tss-esapi: the attestation key (AK) persisted at [`AK_HANDLE`] and, when given, its certificate in
//! NV [`AK_CERT_INDEX`]. Both fit in swtpm, so they live there and reach the client through the proxy
//! unchanged.

use std::str::FromStr;

use tss_esapi::attributes::{NvIndexAttributesBuilder, ObjectAttributes};
use tss_esapi::constants::CapabilityType;
use tss_esapi::handles::{
    KeyHandle, NvIndexHandle, NvIndexTpmHandle, ObjectHandle, PersistentTpmHandle, TpmHandle,
};
use tss_esapi::interface_types::algorithm::HashingAlgorithm;
use tss_esapi::interface_types::dynamic_handles::Persistent;
use tss_esapi::interface_types::key_bits::RsaKeyBits;
use tss_esapi::interface_types::resource_handles::{Hierarchy, NvAuth, Provision};
use tss_esapi::interface_types::session_handles::AuthSession;
use tss_esapi::structures::{
    CapabilityData, Digest, HashScheme, MaxNvBuffer, NvPublicBuilder, Public, PublicKeyRsa,
    PublicRsaParameters, RsaExponent, RsaScheme, SymmetricDefinitionObject,
};
use tss_esapi::traits::Marshall;
use tss_esapi::{Context, TctiNameConf};

use super::NV_BUFFER_MAX;

/// Persistent handle of the AK.
pub const AK_HANDLE: u32 = 0x8100_0003;
/// NV index of the AK certificate.
pub const AK_CERT_INDEX: u32 = 0x01C1_01D0;
/// objectAttributes of Azure's AK (docs/protocol.md §2, verified on a sample): fixedTPM | fixedParent |
/// sensitiveDataOrigin | userWithAuth | noDA | restricted | sign.
pub const AK_ATTRIBUTES: u32 = 0x0005_0472;
/// The largest AK certificate swtpm stores: libtpms 0.9's NV index limit.
pub const AK_CERT_MAX: usize = 2048;
/// The RSA public exponent a TPM uses when the template says 0.
const DEFAULT_EXPONENT: u32 = 65_537;

/// The AK's public key, for the HCL report's `HCLAkPub` and for checking quotes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AkPublic {
    /// The RSA modulus, big-endian (256 bytes).
    pub modulus: Vec<u8>,
    /// The RSA public exponent (65537).
    pub exponent: u32,
    /// The TPMT_PUBLIC the TPM returned, marshalled.
    pub tpmt_public: Vec<u8>,
}

/// Why provisioning failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProvisionError {
    #[error("cannot connect to the TPM at `{tcti}`: {source}")]
    Connect { tcti: String, source: tss_esapi::Error },
    #[error("{step} failed: {source}")]
    Tpm { step: &'static str, source: tss_esapi::Error },
    #[error("the AK certificate has {len} bytes, more than the {max} an NV index holds in swtpm")]
    CertTooLarge { len: usize, max: usize },
    #[error("the AK certificate is empty")]
    CertEmpty,
    #[error("the key at {AK_HANDLE:#010x} is not an RSA key")]
    NotRsa,
}

/// Provisions the TPM behind `tcti` (a tpm2-tss TCTI string: the proxy's or swtpm's own) as Azure
/// provisions a vTPM: the AK — an RSA-2048 restricted signing primary key of the owner hierarchy,
/// RSASSA/SHA-256, objectAttributes [`AK_ATTRIBUTES`] — persisted at [`AK_HANDLE`] (an AK already there
/// is kept, so provisioning twice is harmless), and `ak_cert_der` in NV [`AK_CERT_INDEX`] (defined with
/// exactly its size, replacing an index already there). Returns the AK's public key.
pub fn provision(tcti: &str, ak_cert_der: Option<&[u8]>) -> Result<AkPublic, ProvisionError> {
    if let Some(cert) = ak_cert_der {
        if cert.is_empty() {
            return Err(ProvisionError::CertEmpty);
        }
        if cert.len() > AK_CERT_MAX {
            return Err(ProvisionError::CertTooLarge { len: cert.len(), max: AK_CERT_MAX });
        }
    }
    let connect = |source| ProvisionError::Connect { tcti: tcti.to_owned(), source };
    let mut ctx = Context::new(TctiNameConf::from_str(tcti).map_err(connect)?).map_err(connect)?;
    let public = if exists(&mut ctx, AK_HANDLE)? { read_ak(&mut ctx)? } else { create_ak(&mut ctx)? };
    if let Some(cert) = ak_cert_der {
        write_ak_cert(&mut ctx, cert)?;
    }
    ak_public(&public)
}

/// Shorthand for a failed TPM step.
fn step(step: &'static str) -> impl FnOnce(tss_esapi::Error) -> ProvisionError {
    move |source| ProvisionError::Tpm { step, source }
}

/// Runs `f` with the empty owner password in the first session slot.
fn with_password<T>(ctx: &mut Context, f: impl FnOnce(&mut Context) -> T) -> T {
    ctx.execute_with_session(Some(AuthSession::Password), f)
}

/// Whether the TPM has the persistent object or NV index `raw` (asked with GetCapability, so that a
/// missing handle does not make tpm2-tss log errors).
fn exists(ctx: &mut Context, raw: u32) -> Result<bool, ProvisionError> {
    let (data, _) = ctx
        .execute_without_session(|ctx| ctx.get_capability(CapabilityType::Handles, raw, 1))
        .map_err(step("GetCapability(handles)"))?;
    Ok(matches!(data, CapabilityData::Handles(list) if list.first().is_some_and(|h| u32::from(*h) == raw)))
}

/// The ESYS handle of an existing persistent object or NV index. tpm2-tss 3.2.1 crashes in
/// `Esys_TR_FromTPMPublic` while a password session is set, hence no session.
fn esys_handle(ctx: &mut Context, handle: TpmHandle) -> Result<ObjectHandle, ProvisionError> {
    ctx.execute_without_session(|ctx| ctx.tr_from_tpm_public(handle)).map_err(step("TR_FromTPMPublic"))
}

/// Releases an ESYS handle (tpm2-tss metadata only; nothing is sent to the TPM, so a failure is moot).
fn close(ctx: &mut Context, mut handle: ObjectHandle) {
    let _ = ctx.tr_close(&mut handle);
}

/// The public area of the AK already persisted.
fn read_ak(ctx: &mut Context) -> Result<Public, ProvisionError> {
    let persistent = PersistentTpmHandle::new(AK_HANDLE).map_err(step("AK handle"))?;
    let handle = esys_handle(ctx, TpmHandle::Persistent(persistent))?;
    let public = ctx.execute_without_session(|ctx| ctx.read_public(KeyHandle::from(handle)));
    close(ctx, handle);
    Ok(public.map_err(step("ReadPublic of the AK"))?.0)
}

/// Creates the AK as a primary key of the owner hierarchy and persists it at [`AK_HANDLE`]; the
/// transient copy is flushed (swtpm has three transient slots and no resource manager).
fn create_ak(ctx: &mut Context) -> Result<Public, ProvisionError> {
    let template = Public::Rsa {
        object_attributes: ObjectAttributes::from(AK_ATTRIBUTES),
        name_hashing_algorithm: HashingAlgorithm::Sha256,
        auth_policy: Digest::default(),
        parameters: PublicRsaParameters::new(
            SymmetricDefinitionObject::Null,
            RsaScheme::RsaSsa(HashScheme::new(HashingAlgorithm::Sha256)),
            RsaKeyBits::Rsa2048,
            RsaExponent::ZERO_EXPONENT,
        ),
        unique: PublicKeyRsa::default(),
    };
    let created =
        with_password(ctx, |ctx| ctx.create_primary(Hierarchy::Owner, template, None, None, None, None))
            .map_err(step("CreatePrimary of the AK"))?;
    let transient: ObjectHandle = created.key_handle.into();
    let persistent =
        PersistentTpmHandle::new(AK_HANDLE).map(Persistent::Persistent).map_err(step("AK handle"));
    let evicted = persistent.and_then(|persistent| {
        with_password(ctx, |ctx| ctx.evict_control(Provision::Owner, transient, persistent))
            .map_err(step("EvictControl of the AK"))
    });
    let flushed = ctx.flush_context(transient).map_err(step("FlushContext of the transient AK"));
    close(ctx, evicted?);
    flushed?;
    Ok(created.out_public)
}

/// Writes the AK certificate to [`AK_CERT_INDEX`], defined with exactly its size (owner- and
/// auth-readable and -writable, nameAlg SHA-256), in chunks of [`NV_BUFFER_MAX`].
fn write_ak_cert(ctx: &mut Context, cert: &[u8]) -> Result<(), ProvisionError> {
    let tpm_index = NvIndexTpmHandle::new(AK_CERT_INDEX).map_err(step("AK certificate index"))?;
    if exists(ctx, AK_CERT_INDEX)? {
        let handle = esys_handle(ctx, TpmHandle::NvIndex(tpm_index))?;
        // NV_UndefineSpace frees the ESYS handle itself: close it only when the command failed.
        with_password(ctx, |ctx| ctx.nv_undefine_space(Provision::Owner, NvIndexHandle::from(handle)))
            .inspect_err(|_| close(ctx, handle))
            .map_err(step("NV_UndefineSpace of the AK certificate index"))?;
    }
    let attributes = NvIndexAttributesBuilder::new()
        .with_owner_write(true)
        .with_auth_write(true)
        .with_owner_read(true)
        .with_auth_read(true)
        .build()
        .map_err(step("AK certificate index attributes"))?;
    let public = NvPublicBuilder::new()
        .with_nv_index(tpm_index)
        .with_index_name_algorithm(HashingAlgorithm::Sha256)
        .with_index_attributes(attributes)
        .with_data_area_size(cert.len())
        .build()
        .map_err(step("AK certificate index public area"))?;
    let nv = with_password(ctx, |ctx| ctx.nv_define_space(Provision::Owner, None, public))
        .map_err(step("NV_DefineSpace of the AK certificate index"))?;
    let written = write_chunks(ctx, nv, cert);
    close(ctx, nv.into());
    written
}

/// NV_Write of `data` at offset 0 in chunks of at most [`NV_BUFFER_MAX`] bytes.
fn write_chunks(ctx: &mut Context, nv: NvIndexHandle, data: &[u8]) -> Result<(), ProvisionError> {
    for (i, chunk) in data.chunks(NV_BUFFER_MAX).enumerate() {
        let buffer = MaxNvBuffer::try_from(chunk.to_vec()).map_err(step("NV_Write buffer"))?;
        let offset = u16::try_from(i * NV_BUFFER_MAX)
            .map_err(|_| ProvisionError::CertTooLarge { len: data.len(), max: AK_CERT_MAX })?;
        with_password(ctx, |ctx| ctx.nv_write(NvAuth::Owner, nv, buffer, offset))
            .map_err(step("NV_Write of the AK certificate"))?;
    }
    Ok(())
}

/// Modulus, exponent and marshalled public area of an RSA key.
fn ak_public(public: &Public) -> Result<AkPublic, ProvisionError> {
    let Public::Rsa { parameters, unique, .. } = public else { return Err(ProvisionError::NotRsa) };
    let exponent = match parameters.exponent().value() {
        0 => DEFAULT_EXPONENT,
        e => e,
    };
    let tpmt_public = public.marshall().map_err(step("marshalling the AK public area"))?;
    Ok(AkPublic { modulus: unique.value().to_vec(), exponent, tpmt_public })
}
