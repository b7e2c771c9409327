//! NV storage and the AK certificate: reading whole NV indices (the HCL report, the AK certificate) in
//! chunks, writing the report user data the way Azure's clients define it, and parsing the AK
//! certificate out of its zero-padded index, with Azure's "provisioning delayed" placeholder and an
//! expiring certificate reported as such instead of surfacing later as a verifier's rejection.

use std::fmt;
use std::time::{Duration, SystemTime};

use tss_esapi::Context;
use tss_esapi::handles::{NvIndexHandle, NvIndexTpmHandle};
use tss_esapi::interface_types::algorithm::HashingAlgorithm;
use tss_esapi::interface_types::resource_handles::{NvAuth, Provision};
use tss_esapi::structures::{MaxNvBuffer, NvPublicBuilder};
use x509_cert::Certificate;
use x509_cert::der::{Decode, Reader, SliceReader};

use super::rc::{Command, TPM_RC_NV_UNINITIALIZED, run};
use super::session::{close, lookup, with_password, with_tpm_handle};
use super::{AK_CERT_INDEX, Error, HCL_REPORT_INDEX, USER_DATA_INDEX, USER_DATA_LEN, Vtpm};

/// NV reads and writes move at most this many bytes per command (`TPM2_PT_NV_BUFFER_MAX` on swtpm; the
/// Python client uses the same size on Azure).
const NV_CHUNK: usize = 1024;
/// An AK certificate that expires sooner than this gets a warning (the C++ client renews it then).
const AK_CERT_RENEWAL_WINDOW: Duration = Duration::from_secs(90 * 24 * 60 * 60);
/// Issuer common name of the placeholder AK certificate Azure installs until the real one is issued.
const PLACEHOLDER_ISSUER_CN: &str = "CN=MICROSOFT AZURE TRUSTED VM RSA";

impl Vtpm {
    /// The HCL report: the whole content of NV [`HCL_REPORT_INDEX`] (2600 bytes on current hosts, 2048 on
    /// older ones; the size comes from NV_ReadPublic).
    pub fn read_hcl_report(&mut self) -> Result<Vec<u8>, Error> {
        self.read_nv(HCL_REPORT_INDEX, "HCL report")
    }

    /// Writes 64 bytes of report user data to NV [`USER_DATA_INDEX`], defining the index first when it
    /// is absent (owner authorisation, nameAlg SHA-256, OWNERWRITE|AUTHWRITE|OWNERREAD|AUTHREAD, size
    /// 64, as Azure's clients do). An index of another size (an older client defined it with the data's
    /// length) is undefined and defined again, because a 64-byte write would not fit.
    ///
    /// On Azure the paravisor then regenerates the HCL report with these bytes as `user-data`.
    pub fn write_user_data(&mut self, data: &[u8; USER_DATA_LEN]) -> Result<(), Error> {
        let index = USER_DATA_INDEX;
        let what = "report user data NV index";
        let ctx = &mut self.context;
        let size = with_tpm_handle(ctx, index, what, |ctx, handle| {
            let nv = NvIndexHandle::from(handle);
            Ok(run(ctx, Command::on("NV_ReadPublic", index), |ctx| ctx.nv_read_public(nv))?.0.data_size())
        });
        match size {
            Ok(USER_DATA_LEN) => {}
            Ok(size) => {
                tracing::info!(index = format_args!("{index:#010x}"), size, "redefining with 64 bytes");
                // NV_UndefineSpace frees the ESYS handle itself: close it only when the command failed.
                let handle = lookup(ctx, index, what)?;
                let undefine = Command::on("NV_UndefineSpace", index);
                run(ctx, undefine, |ctx| {
                    with_password(ctx, |ctx| {
                        ctx.nv_undefine_space(Provision::Owner, NvIndexHandle::from(handle))
                    })
                })
                .inspect_err(|_| close(ctx, handle))?;
                define_user_data_index(ctx)?;
            }
            Err(Error::Missing { .. }) => define_user_data_index(ctx)?,
            Err(e) => return Err(e),
        }
        let write = Command::on("NV_Write", index);
        let buffer = MaxNvBuffer::try_from(data.to_vec())
            .map_err(|source| Error::Library { command: write, source })?;
        with_tpm_handle(ctx, index, "report user data NV index", |ctx, handle| {
            let nv = NvIndexHandle::from(handle);
            run(ctx, write, |ctx| {
                with_password(ctx, |ctx| ctx.nv_write(NvAuth::Owner, nv, buffer.clone(), 0))
            })
        })
    }

    /// The AK certificate from NV [`AK_CERT_INDEX`]; see [`AkCert::from_nv`].
    pub fn read_ak_cert(&mut self) -> Result<AkCert, Error> {
        AkCert::from_nv(&self.read_nv(AK_CERT_INDEX, "AK certificate")?)
    }

    /// The whole content of an NV index, read with owner authorisation in chunks of at most 1024 bytes.
    fn read_nv(&mut self, index: u32, what: &'static str) -> Result<Vec<u8>, Error> {
        with_tpm_handle(&mut self.context, index, what, |ctx, handle| {
            let nv = NvIndexHandle::from(handle);
            let (public, _) = run(ctx, Command::on("NV_ReadPublic", index), |ctx| ctx.nv_read_public(nv))?;
            if !public.attributes().written() {
                return Err(Error::NotWritten { what, index });
            }
            let command = Command::on("NV_Read", index);
            let unexpected = |reason: String| Error::UnexpectedResponse { command, reason };
            // NV_ReadPublic's dataSize is a u16, so this allocation is bounded by 64 KiB.
            let size = public.data_size();
            let mut data = Vec::with_capacity(size);
            while data.len() < size {
                let want = (size - data.len()).min(NV_CHUNK);
                let (Ok(want16), Ok(offset)) = (u16::try_from(want), u16::try_from(data.len())) else {
                    return Err(unexpected(format!("NV index of {size} bytes")));
                };
                let chunk = run(ctx, command, |ctx| {
                    with_password(ctx, |ctx| ctx.nv_read(NvAuth::Owner, nv, want16, offset))
                })
                .map_err(|e| match e {
                    Error::Tpm { code, .. } if code.base() == Some(TPM_RC_NV_UNINITIALIZED) => {
                        Error::NotWritten { what, index }
                    }
                    e => e,
                })?;
                if chunk.len() != want {
                    return Err(unexpected(format!("{} bytes returned for {want} asked", chunk.len())));
                }
                data.extend_from_slice(chunk.value());
            }
            tracing::debug!(index = format_args!("{index:#010x}"), size, "read NV index");
            Ok(data)
        })
    }
}

/// Defines NV [`USER_DATA_INDEX`] the way Azure's clients do.
fn define_user_data_index(ctx: &mut Context) -> Result<(), Error> {
    let command = Command::on("NV_DefineSpace", USER_DATA_INDEX);
    let library = |source| Error::Library { command, source };
    let attributes = tss_esapi::attributes::NvIndexAttributesBuilder::new()
        .with_owner_write(true)
        .with_auth_write(true)
        .with_owner_read(true)
        .with_auth_read(true)
        .build()
        .map_err(library)?;
    let public = NvPublicBuilder::new()
        .with_nv_index(NvIndexTpmHandle::new(USER_DATA_INDEX).map_err(library)?)
        .with_index_name_algorithm(HashingAlgorithm::Sha256)
        .with_index_attributes(attributes)
        .with_data_area_size(USER_DATA_LEN)
        .build()
        .map_err(library)?;
    let handle = run(ctx, command, |ctx| {
        with_password(ctx, |ctx| ctx.nv_define_space(Provision::Owner, None, public.clone()))
    })?;
    close(ctx, handle.into());
    Ok(())
}

/// Something about the AK certificate the user should know, though it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AkCertWarning {
    /// `not_after` has passed.
    Expired { not_after: SystemTime },
    /// `not_after` is less than 90 days away.
    ExpiresSoon { not_after: SystemTime, remaining: Duration },
}

fn format_time(time: SystemTime) -> String {
    match x509_cert::der::DateTime::from_system_time(time) {
        Ok(date) => date.to_string(),
        Err(_) => format!("{time:?}"),
    }
}

impl fmt::Display for AkCertWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AkCertWarning::Expired { not_after } => write!(
                f,
                "the AK certificate expired on {}: Azure renews it through IMDS (the official C++ client \
                 does so before attesting); a verifier that checks validity will reject it",
                format_time(*not_after)
            ),
            AkCertWarning::ExpiresSoon { not_after, remaining } => write!(
                f,
                "the AK certificate expires on {} (in {} days): Azure renews it through IMDS",
                format_time(*not_after),
                remaining.as_secs() / 86_400
            ),
        }
    }
}

/// The AK certificate from NV [`AK_CERT_INDEX`], trimmed of the NV index's zero padding.
#[derive(Debug, Clone)]
pub struct AkCert {
    der: Vec<u8>,
    certificate: Certificate,
}

impl AkCert {
    /// Parses the content of the AK certificate NV index: one DER certificate, whose outer SEQUENCE
    /// gives its length, followed by padding that is ignored (Azure may define the index larger than the
    /// certificate). Azure's "provisioning delayed" placeholder is [`Error::AkCertNotProvisioned`].
    pub fn from_nv(nv: &[u8]) -> Result<AkCert, Error> {
        let index = AK_CERT_INDEX;
        let malformed = |reason: String| Error::MalformedAkCert { index, reason };
        if nv.iter().all(|&b| b == 0) {
            return Err(malformed(format!("the NV index holds no certificate ({} zero bytes)", nv.len())));
        }
        let mut reader = SliceReader::new(nv).map_err(|e| malformed(e.to_string()))?;
        let certificate = Certificate::decode(&mut reader).map_err(|e| malformed(e.to_string()))?;
        let length = usize::try_from(u32::from(reader.position())).map_err(|e| malformed(e.to_string()))?;
        let der = nv
            .get(..length)
            .ok_or_else(|| {
                malformed(format!("certificate length {length} exceeds the {} NV bytes", nv.len()))
            })?
            .to_vec();
        let is_placeholder = certificate
            .tbs_certificate
            .issuer
            .0
            .iter()
            .flat_map(|rdn| rdn.0.iter())
            .any(|atv| atv.to_string().to_ascii_uppercase().starts_with(PLACEHOLDER_ISSUER_CN));
        if is_placeholder {
            return Err(Error::AkCertNotProvisioned {
                index,
                issuer: certificate.tbs_certificate.issuer.to_string(),
            });
        }
        Ok(AkCert { der, certificate })
    }

    /// The certificate's DER bytes, without padding.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// Subject DN, RFC 4514 (`CN=….TrustedVM.Azure.Microsoft`).
    pub fn subject(&self) -> String {
        self.certificate.tbs_certificate.subject.to_string()
    }

    /// Issuer DN, RFC 4514 (`CN=Global Virtual TPM CA - 01`).
    pub fn issuer(&self) -> String {
        self.certificate.tbs_certificate.issuer.to_string()
    }

    /// Start of validity.
    pub fn not_before(&self) -> SystemTime {
        self.certificate.tbs_certificate.validity.not_before.to_system_time()
    }

    /// End of validity.
    pub fn not_after(&self) -> SystemTime {
        self.certificate.tbs_certificate.validity.not_after.to_system_time()
    }

    /// Expired, or expiring within 90 days of `now` (when Azure's C++ client renews it).
    pub fn warnings(&self, now: SystemTime) -> Vec<AkCertWarning> {
        let not_after = self.not_after();
        match not_after.duration_since(now) {
            Err(_) => vec![AkCertWarning::Expired { not_after }],
            Ok(remaining) if remaining < AK_CERT_RENEWAL_WINDOW => {
                vec![AkCertWarning::ExpiresSoon { not_after, remaining }]
            }
            Ok(_) => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ak_cert_rejects_garbage_without_panicking() {
        for nv in
            [&[][..], &[0u8; 64][..], &[0x30, 0x82, 0xFF, 0xFF, 1, 2, 3][..], &[0x30][..], &[0xFF; 16][..]]
        {
            let err = AkCert::from_nv(nv).unwrap_err();
            assert!(matches!(err, Error::MalformedAkCert { index: AK_CERT_INDEX, .. }), "{err:?}");
        }
    }
}
