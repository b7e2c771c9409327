//! PCRs and quotes by the AK: checking a PCR selection, reading the SHA-256 bank, quoting it, and
//! re-marshalling what tss-esapi parsed into the exact bytes of the MAA `AzureGuest` request
//! (docs/protocol.md §6.5: TPM2B_PUBLIC, TPMS_ATTEST without size prefix, raw RSASSA signatures),
//! each checked against something the TPM computed itself so that a marshalling difference fails
//! here, not as a signature failure at the verifier.

use std::collections::BTreeMap;

use cvm_attest_formats::tpm;
use sha2::{Digest as _, Sha256};
use tss_esapi::Context;
use tss_esapi::handles::KeyHandle;
use tss_esapi::interface_types::algorithm::HashingAlgorithm;
use tss_esapi::structures::{
    Attest, AttestInfo, Data, HashScheme, Name, PcrSelectSize, PcrSelectionList, PcrSelectionListBuilder,
    PcrSlot, Public, Signature, SignatureScheme,
};
use tss_esapi::traits::Marshall;

use super::rc::{Command, run};
use super::session::{with_password, with_tpm_handle};
use super::{AK_HANDLE, Error, MAX_QUALIFYING_DATA, PCR_COUNT, Vtpm};

/// How often a quote is retaken when the PCRs changed between reading and quoting them.
const QUOTE_ATTEMPTS: u32 = 3;

/// A quote of SHA-256 PCRs by the AK, in the encodings of the MAA request (`PcrQuote`, `PcrSignature`,
/// `PCRs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    /// TPMS_ATTEST bytes (type TPM_ST_ATTEST_QUOTE), without the TPM2B size prefix.
    pub attest: Vec<u8>,
    /// The raw RSASSA-PKCS1-v1_5 SHA-256 signature over `attest` (256 bytes).
    pub signature: Vec<u8>,
    /// The quoted PCRs, ascending, with their SHA-256 values; `pcrDigest` in `attest` is the SHA-256 of
    /// their concatenation.
    pub pcrs: Vec<(u8, Vec<u8>)>,
}

impl Vtpm {
    /// The AK's public area (persistent [`AK_HANDLE`]) as TPM2B_PUBLIC bytes, the `AikPub` of the MAA
    /// request.
    pub fn read_ak_public(&mut self) -> Result<Vec<u8>, Error> {
        let command = Command::on("ReadPublic", AK_HANDLE);
        with_tpm_handle(&mut self.context, AK_HANDLE, "attestation key (AK)", |ctx, handle| {
            let (public, name, _) = run(ctx, command, |ctx| ctx.read_public(KeyHandle::from(handle)))?;
            tpm2b_public(command, &public, &name)
        })
    }

    /// Values of the given PCRs of the SHA-256 bank (the only bank Azure attestation uses), ascending by
    /// index, duplicates removed.
    pub fn read_pcrs(&mut self, indices: &[u8]) -> Result<Vec<(u8, Vec<u8>)>, Error> {
        read_sha256_pcrs(&mut self.context, &pcr_set(indices)?)
    }

    /// Quotes the given SHA-256 PCRs with the AK (RSASSA SHA-256) over `qualifying_data` (the nonce, at
    /// most 64 bytes; it becomes `extraData`). The PCR values are read right before the quote and the
    /// quote is retaken (up to 3 times) when its `pcrDigest` does not match them, because something may
    /// extend a PCR in between.
    pub fn quote(&mut self, indices: &[u8], qualifying_data: &[u8]) -> Result<Quote, Error> {
        let command = Command::on("Quote", AK_HANDLE);
        if qualifying_data.len() > MAX_QUALIFYING_DATA {
            return Err(Error::QualifyingDataTooLong {
                len: qualifying_data.len(),
                max: MAX_QUALIFYING_DATA,
            });
        }
        let set = pcr_set(indices)?;
        let selection = sha256_selection(command, &set)?;
        let data =
            Data::try_from(qualifying_data.to_vec()).map_err(|source| Error::Library { command, source })?;
        let scheme = SignatureScheme::RsaSsa { hash_scheme: HashScheme::new(HashingAlgorithm::Sha256) };
        let unexpected = |reason: String| Error::UnexpectedResponse { command, reason };
        with_tpm_handle(&mut self.context, AK_HANDLE, "attestation key (AK)", |ctx, ak| {
            for attempt in 1..=QUOTE_ATTEMPTS {
                let pcrs = read_sha256_pcrs(ctx, &set)?;
                let (attest, signature) = run(ctx, command, |ctx| {
                    with_password(ctx, |ctx| {
                        ctx.quote(KeyHandle::from(ak), data.clone(), scheme, selection.clone())
                    })
                })?;
                let AttestInfo::Quote { info } = attest.attested() else {
                    return Err(unexpected(format!("attestation type {:?}", attest.attestation_type())));
                };
                if info.pcr_selection() != &selection {
                    return Err(unexpected(
                        "the quoted PCR selection differs from the one asked for".to_owned(),
                    ));
                }
                if attest.extra_data().value() != qualifying_data {
                    return Err(unexpected("extraData differs from the qualifying data".to_owned()));
                }
                if info.pcr_digest().value() != pcr_digest(&pcrs).as_slice() {
                    tracing::debug!(attempt, "PCRs changed between PCR_Read and Quote; quoting again");
                    continue;
                }
                return Ok(Quote {
                    attest: tpms_attest(command, &attest)?,
                    signature: rsassa_sha256(command, signature)?,
                    pcrs,
                });
            }
            Err(Error::PcrsChanged { attempts: QUOTE_ATTEMPTS })
        })
    }
}

/// Checks and sorts a PCR index list.
pub(super) fn pcr_set(indices: &[u8]) -> Result<Vec<u8>, Error> {
    if indices.is_empty() {
        return Err(Error::NoPcrsSelected);
    }
    let mut set = indices.to_vec();
    set.sort_unstable();
    set.dedup();
    match set.iter().find(|&&index| index >= PCR_COUNT) {
        Some(&index) => Err(Error::InvalidPcrIndex { index }),
        None => Ok(set),
    }
}

/// `TPML_PCR_SELECTION` of the SHA-256 bank with `sizeofSelect` 3, as on Azure.
pub(super) fn sha256_selection(command: Command, set: &[u8]) -> Result<PcrSelectionList, Error> {
    let slots = set
        .iter()
        .map(|&index| PcrSlot::try_from(1u32 << index))
        .collect::<tss_esapi::Result<Vec<_>>>()
        .map_err(|source| Error::Library { command, source })?;
    PcrSelectionListBuilder::new()
        .with_size_of_select(PcrSelectSize::ThreeOctets)
        .with_selection(HashingAlgorithm::Sha256, &slots)
        .build()
        .map_err(|source| Error::Library { command, source })
}

fn pcr_index(slot: PcrSlot) -> u8 {
    // A PcrSlot is a single bit of a u32, so this is 0..=31.
    u32::from(slot).trailing_zeros() as u8
}

/// SHA-256 of the PCR values in the order given: the quote's `pcrDigest`, and the digest PolicyPCR binds.
pub(super) fn pcr_digest(pcrs: &[(u8, Vec<u8>)]) -> Vec<u8> {
    tpm::pcr_digest(tpm::HashAlg::Sha256, pcrs.iter().map(|(_, value)| value.as_slice()))
}

/// Reads SHA-256 PCR values, looping because a TPM returns at most 8 digests per PCR_Read.
fn read_sha256_pcrs(ctx: &mut Context, set: &[u8]) -> Result<Vec<(u8, Vec<u8>)>, Error> {
    let command = Command::plain("PCR_Read");
    let unexpected = |reason: String| Error::UnexpectedResponse { command, reason };
    let mut values = BTreeMap::new();
    let mut remaining = set.to_vec();
    while !remaining.is_empty() {
        let selection = sha256_selection(command, &remaining)?;
        let (_, read, digests) = run(ctx, command, |ctx| ctx.pcr_read(selection.clone()))?;
        let mut returned: Vec<u8> = read
            .get_selections()
            .iter()
            .filter(|s| s.hashing_algorithm() == HashingAlgorithm::Sha256)
            .flat_map(|s| s.selected())
            .map(pcr_index)
            .collect();
        returned.sort_unstable();
        if returned.is_empty() {
            return Err(unexpected(format!("no values returned for PCRs {remaining:?}")));
        }
        if returned.len() != digests.len() {
            return Err(unexpected(format!(
                "{} PCRs selected but {} digests returned",
                returned.len(),
                digests.len()
            )));
        }
        for (index, digest) in returned.iter().zip(digests.value()) {
            if !remaining.contains(index) {
                return Err(unexpected(format!("PCR {index} returned but not asked for")));
            }
            if digest.len() != 32 {
                return Err(unexpected(format!("PCR {index} has {} bytes, not 32", digest.len())));
            }
            values.insert(*index, digest.value().to_vec());
        }
        remaining.retain(|index| !returned.contains(index));
    }
    Ok(values.into_iter().collect())
}

/// TPM2B_PUBLIC bytes (2-byte size + TPMT_PUBLIC) of `public`, checked against the name the TPM
/// computed over its own marshalling (`nameAlg || H(TPMT_PUBLIC)`).
pub(super) fn tpm2b_public(command: Command, public: &Public, name: &Name) -> Result<Vec<u8>, Error> {
    let tpmt = public.marshall().map_err(|source| Error::Library { command, source })?;
    if public.name_hashing_algorithm() == HashingAlgorithm::Sha256 {
        let mut expected = vec![0x00, 0x0B];
        expected.extend_from_slice(&Sha256::digest(&tpmt));
        if name.value() != expected.as_slice() {
            return Err(Error::UnexpectedResponse {
                command,
                reason: format!(
                    "the re-marshalled public area does not hash to the object's name {} (tss-esapi \
                     marshalling differs from the TPM's)",
                    hex::encode(name.value())
                ),
            });
        }
    }
    let size = u16::try_from(tpmt.len()).map_err(|_| Error::UnexpectedResponse {
        command,
        reason: format!("public area of {} bytes", tpmt.len()),
    })?;
    let mut out = size.to_be_bytes().to_vec();
    out.extend_from_slice(&tpmt);
    Ok(out)
}

/// The raw signature bytes of an RSASSA/SHA-256 signature.
pub(super) fn rsassa_sha256(command: Command, signature: Signature) -> Result<Vec<u8>, Error> {
    match signature {
        Signature::RsaSsa(sig) if sig.hashing_algorithm() == HashingAlgorithm::Sha256 => {
            Ok(sig.signature().value().to_vec())
        }
        other => Err(Error::UnexpectedResponse {
            command,
            reason: format!("expected an RSASSA SHA-256 signature, got {:?}", other.algorithm()),
        }),
    }
}

/// TPMS_ATTEST bytes of `attest` (no size prefix).
pub(super) fn tpms_attest(command: Command, attest: &Attest) -> Result<Vec<u8>, Error> {
    attest.marshall().map_err(|source| Error::Library { command, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcr_sets_are_sorted_deduplicated_and_bounded() {
        assert_eq!(pcr_set(&[7, 0, 3, 3]).unwrap(), vec![0, 3, 7]);
        assert!(matches!(pcr_set(&[]), Err(Error::NoPcrsSelected)));
        assert!(matches!(pcr_set(&[1, 24]), Err(Error::InvalidPcrIndex { index: 24 })));
        assert!(matches!(pcr_set(&[255]), Err(Error::InvalidPcrIndex { index: 255 })));
    }

    #[test]
    fn selection_marshals_like_azure() {
        // TPML_PCR_SELECTION for PCRs 0-7: count 1, SHA-256, sizeofSelect 3, FF 00 00
        // (docs/protocol.md §6.1).
        let selection = sha256_selection(Command::plain("Test"), &[0, 1, 2, 3, 4, 5, 6, 7]).unwrap();
        let [item] = selection.get_selections() else { panic!("one bank") };
        assert_eq!(item.hashing_algorithm(), HashingAlgorithm::Sha256);
        assert_eq!(item.size_of_select(), PcrSelectSize::ThreeOctets);
        assert_eq!(
            item.selected().into_iter().map(pcr_index).collect::<Vec<_>>(),
            vec![0, 1, 2, 3, 4, 5, 6, 7]
        );
    }
}
