//! The SGX extension of a PCK certificate (OID 1.2.840.113741.1.13.1): the platform's FMSPC, PCE ID
//! and the TCB Intel certified (16 SGX TCB component SVNs, PCESVN, CPUSVN), which select and are
//! compared with the levels of Intel's TCB Info.

use x509_cert::der::asn1::{ObjectIdentifier, OctetStringRef};
use x509_cert::der::{Any, Decode, Reader, SliceReader, Tag, Tagged};

use super::PckError;
use x509_cert::Certificate;

use crate::appraise::CertError;
use crate::appraise::cert::Cert;
use crate::tdx::TdQuote;
use crate::tdx::pem_blocks;

/// Intel's SGX extensions of PCK certificates.
pub const SGX_EXTENSIONS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113741.1.13.1");
const TCB: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113741.1.13.1.2");
const PCE_ID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113741.1.13.1.3");
const FMSPC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113741.1.13.1.4");
/// The arc of the TCB's members: `.1`–`.16` the component SVNs, `.17` PCESVN, `.18` CPUSVN.
const TCB_ARC: &str = "1.2.840.113741.1.13.1.2.";

/// What a PCK certificate says about its platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PckExtensions {
    /// Family-Model-Stepping-Platform-CustomSKU: which TCB Info applies.
    pub fmspc: [u8; 6],
    pub pce_id: [u8; 2],
    /// The 16 SGX TCB component SVNs, in order.
    pub sgx_tcb_components: [u8; 16],
    pub pcesvn: u16,
    pub cpusvn: [u8; 16],
}

impl PckExtensions {
    /// The extensions of the PCK leaf certificate of a TD quote's certification data (the first
    /// certificate of its PCK chain). The chain itself is not verified here.
    pub fn from_quote(quote: &TdQuote) -> Result<Self, PckError> {
        let blocks = quote.pck_cert_chain_blocks();
        let leaf = blocks.first().ok_or(PckError::NoPckCertificate)?;
        Self::from_pem(leaf)
    }

    /// The extensions of a PEM PCK certificate (the first of the text's certificates).
    pub fn from_pem(pem: &str) -> Result<Self, PckError> {
        let block = pem_blocks(pem).first().copied().ok_or(PckError::NoPckCertificate)?;
        Self::from_certificate(&Cert::from_pem(block).map_err(|e| PckError::Certificate(e.to_string()))?)
    }

    /// The extensions of a DER PCK certificate.
    pub fn from_der(der: &[u8]) -> Result<Self, PckError> {
        let x509 = Certificate::from_der(der)
            .map_err(|e| PckError::Certificate(CertError::NotX509 { reason: e.to_string() }.to_string()))?;
        Self::from_certificate(&Cert { der: der.to_vec(), x509 })
    }

    fn from_certificate(cert: &Cert) -> Result<Self, PckError> {
        let value = cert.extension(SGX_EXTENSIONS).ok_or(PckError::NoSgxExtensions)?;
        let (mut fmspc, mut pce_id, mut tcb) = (None, None, None);
        let value = Any::from_der(value)
            .map_err(|err| PckError::Malformed { field: "SGX extensions", reason: err.to_string() })?;
        for (oid, value) in entries(&value, "SGX extensions")? {
            match oid {
                FMSPC => fmspc = Some(octets::<6>(&value, "FMSPC")?),
                PCE_ID => pce_id = Some(octets::<2>(&value, "PCE-ID")?),
                TCB => tcb = Some(value),
                _ => {}
            }
        }
        let fmspc = fmspc.ok_or(PckError::Missing { field: "FMSPC" })?;
        let pce_id = pce_id.ok_or(PckError::Missing { field: "PCE-ID" })?;
        let tcb = tcb.ok_or(PckError::Missing { field: "TCB" })?;
        let mut components: [Option<u8>; 16] = [None; 16];
        let (mut pcesvn, mut cpusvn) = (None, None);
        for (oid, value) in entries(&tcb, "TCB")? {
            let Some(index) = oid.to_string().strip_prefix(TCB_ARC).and_then(|n| n.parse::<usize>().ok())
            else {
                continue;
            };
            match index {
                1..=16 => {
                    let svn = value.decode_as::<u8>().map_err(|err| PckError::Malformed {
                        field: "TCB component SVN",
                        reason: format!("component {index}: {err}"),
                    })?;
                    if let Some(slot) = components.get_mut(index - 1) {
                        *slot = Some(svn);
                    }
                }
                17 => {
                    pcesvn =
                        Some(value.decode_as::<u16>().map_err(|err| PckError::Malformed {
                            field: "PCESVN",
                            reason: err.to_string(),
                        })?);
                }
                18 => cpusvn = Some(octets::<16>(&value, "CPUSVN")?),
                _ => {}
            }
        }
        let mut sgx_tcb_components = [0u8; 16];
        for (index, (slot, svn)) in sgx_tcb_components.iter_mut().zip(components).enumerate() {
            *slot = svn.ok_or(PckError::MissingComponent { index: index + 1 })?;
        }
        Ok(PckExtensions {
            fmspc,
            pce_id,
            sgx_tcb_components,
            pcesvn: pcesvn.ok_or(PckError::Missing { field: "PCESVN" })?,
            cpusvn: cpusvn.ok_or(PckError::Missing { field: "CPUSVN" })?,
        })
    }
}

/// A SEQUENCE of SEQUENCE { OID, value }, as the SGX extensions nest them.
fn entries(outer: &Any, field: &'static str) -> Result<Vec<(ObjectIdentifier, Any)>, PckError> {
    let malformed = |err: x509_cert::der::Error| PckError::Malformed { field, reason: err.to_string() };
    if outer.tag() != Tag::Sequence {
        return Err(PckError::Malformed { field, reason: format!("a {}, not a SEQUENCE", outer.tag()) });
    }
    let mut reader = SliceReader::new(outer.value()).map_err(malformed)?;
    let mut out = Vec::new();
    while !reader.is_finished() {
        let entry = Any::decode(&mut reader).map_err(malformed)?;
        if entry.tag() != Tag::Sequence {
            return Err(PckError::Malformed {
                field,
                reason: format!("an entry is a {}, not a SEQUENCE", entry.tag()),
            });
        }
        let mut inner = SliceReader::new(entry.value()).map_err(malformed)?;
        let oid = ObjectIdentifier::decode(&mut inner).map_err(malformed)?;
        let value = Any::decode(&mut inner).map_err(malformed)?;
        out.push((oid, value));
    }
    Ok(out)
}

/// An OCTET STRING of exactly `N` bytes.
fn octets<const N: usize>(value: &Any, field: &'static str) -> Result<[u8; N], PckError> {
    let octets = value
        .decode_as::<OctetStringRef<'_>>()
        .map_err(|err| PckError::Malformed { field, reason: err.to_string() })?;
    octets.as_bytes().try_into().map_err(|_| PckError::Malformed {
        field,
        reason: format!("{} bytes; expected {N}", octets.as_bytes().len()),
    })
}
