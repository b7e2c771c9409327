//! How a relying party's nonce is bound into the evidence (docs/protocol.md §9).
//!
//! A nonce is bytes. Up to 64 bytes are bound as they are; a longer one is bound as its SHA-512, so
//! the bound value always fits both places it goes: the TPM quote's qualifying data (a TPM2B_DATA,
//! at most 64 bytes) and the 64 bytes of user data the paravisor copies into a fresh HCL report.

use sha2::{Digest, Sha512};

/// Size of the user data a fresh HCL report carries (vTPM NV `0x01400002`, docs/protocol.md §3.4).
pub const USER_DATA_LEN: usize = 64;

/// Largest nonce bound verbatim: whatever fits the user data.
pub const MAX_VERBATIM: usize = USER_DATA_LEN;

/// The bytes that stand for `nonce` in the evidence.
pub fn bound(nonce: &[u8]) -> Vec<u8> {
    if nonce.len() <= MAX_VERBATIM { nonce.to_vec() } else { Sha512::digest(nonce).to_vec() }
}

/// The 64 bytes written to vTPM NV `0x01400002`: the bound nonce, zero-padded.
pub fn user_data(nonce: &[u8]) -> [u8; USER_DATA_LEN] {
    let mut out = [0u8; USER_DATA_LEN];
    for (slot, byte) in out.iter_mut().zip(bound(nonce)) {
        *slot = byte;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_nonces_are_bound_verbatim_and_long_ones_hashed() {
        assert_eq!(bound(b"challenge"), b"challenge");
        assert_eq!(bound(&[7; 64]), [7; 64]);
        let long = [7u8; 65];
        assert_eq!(bound(&long), Sha512::digest(long).to_vec());
    }

    #[test]
    fn user_data_is_zero_padded() {
        let data = user_data(b"abc");
        assert_eq!(&data[..3], b"abc");
        assert!(data[3..].iter().all(|&b| b == 0));
        assert_eq!(user_data(&[1; 100]).to_vec(), Sha512::digest([1u8; 100]).to_vec());
    }
}
