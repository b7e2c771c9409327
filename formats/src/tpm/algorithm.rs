//! Algorithms (Part 2 §6.3, TPM_ALG_ID) and the hash functions this crate computes with them: PCR
//! banks, name algorithms and signature hashes.

use std::fmt;

use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};

use crate::ParseError;
use crate::reader::Reader;

/// A TPM_ALG_ID (Part 2 §6.3), kept as the raw value so unknown algorithms can still be named in
/// errors. The associated constants are the algorithms this crate meets in Azure evidence.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AlgorithmId(pub u16);

impl AlgorithmId {
    pub const RSA: Self = Self(0x0001);
    pub const SHA1: Self = Self(0x0004);
    pub const AES: Self = Self(0x0006);
    pub const KEYEDHASH: Self = Self(0x0008);
    pub const SHA256: Self = Self(0x000B);
    pub const SHA384: Self = Self(0x000C);
    pub const SHA512: Self = Self(0x000D);
    pub const NULL: Self = Self(0x0010);
    pub const SM3_256: Self = Self(0x0012);
    pub const RSASSA: Self = Self(0x0014);
    pub const RSAES: Self = Self(0x0015);
    pub const RSAPSS: Self = Self(0x0016);
    pub const OAEP: Self = Self(0x0017);
    pub const ECDSA: Self = Self(0x0018);
    pub const ECC: Self = Self(0x0023);
    pub const SYMCIPHER: Self = Self(0x0025);
    pub const CFB: Self = Self(0x0043);

    /// The specification's name of the algorithm, lower case, when this crate knows it.
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            Self::RSA => "rsa",
            Self::SHA1 => "sha1",
            Self::AES => "aes",
            Self::KEYEDHASH => "keyedhash",
            Self::SHA256 => "sha256",
            Self::SHA384 => "sha384",
            Self::SHA512 => "sha512",
            Self::NULL => "null",
            Self::SM3_256 => "sm3_256",
            Self::RSASSA => "rsassa",
            Self::RSAES => "rsaes",
            Self::RSAPSS => "rsapss",
            Self::OAEP => "oaep",
            Self::ECDSA => "ecdsa",
            Self::ECC => "ecc",
            Self::SYMCIPHER => "symcipher",
            Self::CFB => "cfb",
            _ => return None,
        })
    }
}

impl fmt::Display for AlgorithmId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name} (0x{:04x})", self.0),
            None => write!(f, "0x{:04x}", self.0),
        }
    }
}

impl fmt::Debug for AlgorithmId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AlgorithmId({self})")
    }
}

/// A hash algorithm this crate can compute: the PCR banks, name algorithms and signature hashes
/// that occur in vTPM evidence, and the hash binding the HCL report's runtime claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HashAlg {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlg {
    /// The TPM_ALG_ID of this algorithm.
    pub const fn id(self) -> AlgorithmId {
        match self {
            Self::Sha1 => AlgorithmId::SHA1,
            Self::Sha256 => AlgorithmId::SHA256,
            Self::Sha384 => AlgorithmId::SHA384,
            Self::Sha512 => AlgorithmId::SHA512,
        }
    }

    /// The hash algorithm with this TPM_ALG_ID, if this crate implements it.
    pub const fn from_id(id: AlgorithmId) -> Option<Self> {
        match id {
            AlgorithmId::SHA1 => Some(Self::Sha1),
            AlgorithmId::SHA256 => Some(Self::Sha256),
            AlgorithmId::SHA384 => Some(Self::Sha384),
            AlgorithmId::SHA512 => Some(Self::Sha512),
            _ => None,
        }
    }

    /// The name FIPS 180-4 gives the algorithm, `SHA-256` (`Display` gives the TPM's, `sha256`).
    pub const fn standard_name(self) -> &'static str {
        match self {
            Self::Sha1 => "SHA-1",
            Self::Sha256 => "SHA-256",
            Self::Sha384 => "SHA-384",
            Self::Sha512 => "SHA-512",
        }
    }

    /// Digest length in bytes.
    pub const fn digest_size(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }

    /// The digest of `data`.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        self.digest_parts(&[data])
    }

    /// The digest of the concatenation of `parts`, without building it.
    pub fn digest_parts(self, parts: &[&[u8]]) -> Vec<u8> {
        fn run<D: Digest>(parts: &[&[u8]]) -> Vec<u8> {
            let mut hasher = D::new();
            for part in parts {
                hasher.update(part);
            }
            hasher.finalize().to_vec()
        }
        match self {
            Self::Sha1 => run::<Sha1>(parts),
            Self::Sha256 => run::<Sha256>(parts),
            Self::Sha384 => run::<Sha384>(parts),
            Self::Sha512 => run::<Sha512>(parts),
        }
    }

    /// A PCR extend: `H(register || digest)`.
    pub fn extend(self, register: &[u8], digest: &[u8]) -> Vec<u8> {
        self.digest_parts(&[register, digest])
    }

    /// The DER DigestInfo prefix that PKCS#1 v1.5 signatures put before the digest (RFC 8017
    /// §9.2, note 1). Written out so SHA-1 needs no `oid` feature of the `sha1` crate.
    pub(super) const fn digest_info_prefix(self) -> &'static [u8] {
        match self {
            Self::Sha1 => {
                &[0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14]
            }
            Self::Sha256 => &[
                0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
                0x05, 0x00, 0x04, 0x20,
            ],
            Self::Sha384 => &[
                0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02,
                0x05, 0x00, 0x04, 0x30,
            ],
            Self::Sha512 => &[
                0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03,
                0x05, 0x00, 0x04, 0x40,
            ],
        }
    }
}

impl fmt::Display for HashAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
            Self::Sha384 => "sha384",
            Self::Sha512 => "sha512",
        })
    }
}

/// Read a TPM_ALG_ID that must name a hash this crate implements.
pub(super) fn read_hash_alg(r: &mut Reader<'_>, field: &'static str) -> Result<HashAlg, ParseError> {
    let offset = r.offset();
    let id = AlgorithmId(r.u16_be(field)?);
    HashAlg::from_id(id)
        .ok_or_else(|| r.unsupported(field, offset, id.to_string(), "sha1, sha256, sha384, sha512"))
}

#[cfg(test)]
mod tests {
    use rsa::Pkcs1v15Sign;

    use super::*;

    #[test]
    fn sha256_digest_info_prefix_matches_the_rsa_crate() {
        assert_eq!(Pkcs1v15Sign::new::<Sha256>().prefix.as_ref(), HashAlg::Sha256.digest_info_prefix());
        assert_eq!(Pkcs1v15Sign::new::<Sha384>().prefix.as_ref(), HashAlg::Sha384.digest_info_prefix());
        assert_eq!(Pkcs1v15Sign::new::<Sha512>().prefix.as_ref(), HashAlg::Sha512.digest_info_prefix());
    }
}
