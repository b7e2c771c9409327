//! PCR selections (Part 2 §10.6, TPMS_PCR_SELECTION), the digest a quote signs over PCR values, and
//! the PolicyPCR digest (Part 3 §23.7) that binds a key to them.

use super::algorithm::{AlgorithmId, HashAlg};

/// One TPMS_PCR_SELECTION: a bank and a bitmap of PCR indices (bit `i % 8` of byte `i / 8`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcrSelection {
    /// The bank (its hash algorithm), as marshalled.
    pub hash: AlgorithmId,
    /// The `pcrSelect` bitmap; its length is `sizeofSelect`.
    pub select: Vec<u8>,
}

impl PcrSelection {
    /// A selection of `indices` in `bank` with the usual 3-byte bitmap (24 PCRs), grown if needed.
    /// A bitmap has at most 255 bytes, so indices from 2040 on cannot be selected and are left out.
    pub fn new(bank: HashAlg, indices: &[u32]) -> Self {
        let bytes = indices.iter().map(|i| i / 8 + 1).max().unwrap_or(0).max(3);
        let mut select = vec![0u8; usize::try_from(bytes).unwrap_or(usize::MAX).min(255)];
        for i in indices {
            if let Some(byte) = usize::try_from(i / 8).ok().and_then(|b| select.get_mut(b)) {
                *byte |= 1 << (i % 8);
            }
        }
        PcrSelection { hash: bank.id(), select }
    }

    /// The bank as a hash this crate implements, if it is one.
    pub fn hash_alg(&self) -> Option<HashAlg> {
        HashAlg::from_id(self.hash)
    }

    /// The selected PCR indices in ascending order, the order their values enter the PCR digest.
    pub fn indices(&self) -> Vec<u32> {
        let mut out = Vec::new();
        for (byte_index, byte) in (0u32..).zip(&self.select) {
            for bit in 0..8 {
                if byte & (1 << bit) != 0 {
                    out.push(byte_index * 8 + bit);
                }
            }
        }
        out
    }

    /// The TPMS_PCR_SELECTION marshalling (as it appears in a TPML_PCR_SELECTION).
    pub fn marshal(&self) -> Vec<u8> {
        let mut out = self.hash.0.to_be_bytes().to_vec();
        out.push(u8::try_from(self.select.len()).unwrap_or(u8::MAX));
        out.extend(self.select.iter().take(usize::from(u8::MAX)));
        out
    }
}

/// The digest a quote signs over its PCRs: H_bank(values concatenated in selection order).
pub fn pcr_digest<'a>(
    bank: HashAlg,
    values_in_selection_order: impl IntoIterator<Item = &'a [u8]>,
) -> Vec<u8> {
    let parts: Vec<&[u8]> = values_in_selection_order.into_iter().collect();
    bank.digest_parts(&parts)
}

/// TPM_CC_PolicyPCR (Part 2 §6.5.2), the command code a PolicyPCR digest hashes in.
pub const TPM_CC_POLICY_PCR: u32 = 0x0000_017F;

/// The authPolicy of a key usable only while `selection` holds these values: the digest a lone
/// TPM2_PolicyPCR leaves in a fresh session (Part 3 §23.7), `H(0…0 ‖ TPM_CC_PolicyPCR ‖
/// TPML_PCR_SELECTION ‖ H(values))`. `policy` is the session's hash, which must be the key's
/// nameAlg; it also hashes the PCR values, whatever their bank. Values come selection by
/// selection, each in ascending index order.
pub fn policy_pcr<'a>(
    policy: HashAlg,
    selection: &[PcrSelection],
    values_in_selection_order: impl IntoIterator<Item = &'a [u8]>,
) -> Vec<u8> {
    let mut pcrs = u32::try_from(selection.len()).unwrap_or(u32::MAX).to_be_bytes().to_vec();
    for bank in selection {
        pcrs.extend(bank.marshal());
    }
    let values = pcr_digest(policy, values_in_selection_order);
    let start = vec![0u8; policy.digest_size()];
    policy.digest_parts(&[&start, &TPM_CC_POLICY_PCR.to_be_bytes(), &pcrs, &values])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcr_selection_bitmap_round_trips_indices() {
        let sel = PcrSelection::new(HashAlg::Sha256, &[0, 1, 2, 3, 4, 5, 6, 7, 11, 12, 13, 14]);
        assert_eq!(sel.select, vec![0xff, 0x78, 0x00]);
        assert_eq!(sel.indices(), vec![0, 1, 2, 3, 4, 5, 6, 7, 11, 12, 13, 14]);
        assert_eq!(sel.marshal(), vec![0x00, 0x0b, 0x03, 0xff, 0x78, 0x00]);
    }
}
