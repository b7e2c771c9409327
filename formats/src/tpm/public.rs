//! The public area of a key (Part 2 §12.2, TPMT_PUBLIC and TPM2B_PUBLIC) with its object attributes
//! (§8.3, TPMA_OBJECT) and RSA parameters: the AK and the ephemeral encryption key.

use std::fmt;

use rsa::{BigUint, RsaPublicKey};

use super::algorithm::{AlgorithmId, HashAlg, read_hash_alg};
use super::signature::SignatureError;
use crate::ParseError;
use crate::reader::Reader;

/// TPMA_OBJECT (Part 2 §8.3): what a key may be used for and how it is protected.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ObjectAttributes(pub u32);

impl ObjectAttributes {
    pub const FIXED_TPM: u32 = 1 << 1;
    pub const ST_CLEAR: u32 = 1 << 2;
    pub const FIXED_PARENT: u32 = 1 << 4;
    pub const SENSITIVE_DATA_ORIGIN: u32 = 1 << 5;
    pub const USER_WITH_AUTH: u32 = 1 << 6;
    pub const ADMIN_WITH_POLICY: u32 = 1 << 7;
    pub const NO_DA: u32 = 1 << 10;
    pub const ENCRYPTED_DUPLICATION: u32 = 1 << 11;
    pub const RESTRICTED: u32 = 1 << 16;
    pub const DECRYPT: u32 = 1 << 17;
    pub const SIGN: u32 = 1 << 18;

    const NAMES: [(u32, &'static str); 11] = [
        (Self::FIXED_TPM, "fixedTPM"),
        (Self::ST_CLEAR, "stClear"),
        (Self::FIXED_PARENT, "fixedParent"),
        (Self::SENSITIVE_DATA_ORIGIN, "sensitiveDataOrigin"),
        (Self::USER_WITH_AUTH, "userWithAuth"),
        (Self::ADMIN_WITH_POLICY, "adminWithPolicy"),
        (Self::NO_DA, "noDA"),
        (Self::ENCRYPTED_DUPLICATION, "encryptedDuplication"),
        (Self::RESTRICTED, "restricted"),
        (Self::DECRYPT, "decrypt"),
        (Self::SIGN, "sign"),
    ];

    fn has(self, bit: u32) -> bool {
        self.0 & bit != 0
    }
    /// The key cannot leave this TPM (it cannot be duplicated).
    pub fn fixed_tpm(self) -> bool {
        self.has(Self::FIXED_TPM)
    }
    /// The key cannot be re-parented.
    pub fn fixed_parent(self) -> bool {
        self.has(Self::FIXED_PARENT)
    }
    /// The TPM generated the private part (it was never imported).
    pub fn sensitive_data_origin(self) -> bool {
        self.has(Self::SENSITIVE_DATA_ORIGIN)
    }
    /// The user role may authorise with the key's auth value, not only with its policy.
    pub fn user_with_auth(self) -> bool {
        self.has(Self::USER_WITH_AUTH)
    }
    /// Exempt from dictionary-attack lockout.
    pub fn no_da(self) -> bool {
        self.has(Self::NO_DA)
    }
    /// A restricted signing key only signs TPM-generated structures (a genuine attestation key).
    pub fn restricted(self) -> bool {
        self.has(Self::RESTRICTED)
    }
    /// The key decrypts.
    pub fn decrypt(self) -> bool {
        self.has(Self::DECRYPT)
    }
    /// The key signs.
    pub fn sign(self) -> bool {
        self.has(Self::SIGN)
    }
}

impl fmt::Display for ObjectAttributes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:08x}", self.0)
    }
}

impl fmt::Debug for ObjectAttributes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectAttributes(0x{:08x}", self.0)?;
        let mut sep = ": ";
        for (bit, name) in Self::NAMES {
            if self.has(bit) {
                write!(f, "{sep}{name}")?;
                sep = " | ";
            }
        }
        f.write_str(")")
    }
}

/// TPMT_SYM_DEF_OBJECT: the symmetric algorithm of a storage key, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SymmetricDefinition {
    /// TPM_ALG_NULL: not a storage parent (attestation and encryption keys).
    Null,
    /// A block cipher, e.g. AES-128 in CFB mode for a storage root key.
    Cipher { algorithm: AlgorithmId, key_bits: u16, mode: AlgorithmId },
}

/// TPMT_RSA_SCHEME: the signing or encryption scheme an RSA key is restricted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RsaScheme {
    /// TPM_ALG_NULL: the caller chooses the scheme per operation.
    Null,
    Rsassa(HashAlg),
    Rsapss(HashAlg),
    Oaep(HashAlg),
    Rsaes,
}

/// An RSA public key as the TPM describes it (TPMT_PUBLIC with type TPM_ALG_RSA), with the exact
/// TPMT_PUBLIC bytes its [name](Public::name) is computed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Public {
    name_alg: HashAlg,
    object_attributes: ObjectAttributes,
    auth_policy: Vec<u8>,
    symmetric: SymmetricDefinition,
    scheme: RsaScheme,
    key_bits: u16,
    exponent: u32,
    modulus: Vec<u8>,
    tpmt: Vec<u8>,
}

impl Public {
    /// Parse a TPM2B_PUBLIC (u16 size, then TPMT_PUBLIC), the form `TPM2_ReadPublic` returns and the
    /// AzureGuest request carries. The whole input must be this one structure.
    pub fn parse_tpm2b(bytes: &[u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new("TPM2B_PUBLIC", bytes);
        let size = usize::from(r.u16_be("size")?);
        let start = r.offset();
        let public = Self::read_tpmt(&mut r, bytes)?;
        let consumed = r.offset() - start;
        if consumed != size {
            return Err(r.invalid(
                "size",
                0,
                format!("{consumed} (the TPMT_PUBLIC that follows)"),
                size.to_string(),
            ));
        }
        r.finish()?;
        Ok(public)
    }

    /// Parse a bare TPMT_PUBLIC. The whole input must be this one structure.
    pub fn parse_tpmt(bytes: &[u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new("TPMT_PUBLIC", bytes);
        let public = Self::read_tpmt(&mut r, bytes)?;
        r.finish()?;
        Ok(public)
    }

    /// Read a TPMT_PUBLIC at the reader's position; `input` is the reader's whole input, from which
    /// the structure's exact bytes are kept.
    fn read_tpmt(r: &mut Reader<'_>, input: &[u8]) -> Result<Self, ParseError> {
        let start = r.offset();
        let key_type = AlgorithmId(r.u16_be("type")?);
        if key_type != AlgorithmId::RSA {
            return Err(r.unsupported("type", start, key_type.to_string(), "rsa (0x0001)"));
        }
        let name_alg = read_hash_alg(r, "nameAlg")?;
        let object_attributes = ObjectAttributes(r.u32_be("objectAttributes")?);
        let auth_policy = r.tpm2b("authPolicy")?.to_vec();

        let sym_offset = r.offset();
        let sym = AlgorithmId(r.u16_be("parameters.symmetric.algorithm")?);
        let symmetric = match sym {
            AlgorithmId::NULL => SymmetricDefinition::Null,
            algorithm if is_block_cipher(algorithm) => {
                let key_bits = r.u16_be("parameters.symmetric.keyBits")?;
                let mode = AlgorithmId(r.u16_be("parameters.symmetric.mode")?);
                SymmetricDefinition::Cipher { algorithm, key_bits, mode }
            }
            other => {
                return Err(r.unsupported(
                    "parameters.symmetric.algorithm",
                    sym_offset,
                    other.to_string(),
                    "null, aes, sm4, camellia",
                ));
            }
        };

        let scheme_offset = r.offset();
        let scheme_alg = AlgorithmId(r.u16_be("parameters.scheme.scheme")?);
        let scheme = match scheme_alg {
            AlgorithmId::NULL => RsaScheme::Null,
            AlgorithmId::RSAES => RsaScheme::Rsaes,
            AlgorithmId::RSASSA => RsaScheme::Rsassa(read_hash_alg(r, "parameters.scheme.hashAlg")?),
            AlgorithmId::RSAPSS => RsaScheme::Rsapss(read_hash_alg(r, "parameters.scheme.hashAlg")?),
            AlgorithmId::OAEP => RsaScheme::Oaep(read_hash_alg(r, "parameters.scheme.hashAlg")?),
            other => {
                return Err(r.unsupported(
                    "parameters.scheme.scheme",
                    scheme_offset,
                    other.to_string(),
                    "null, rsassa, rsapss, oaep, rsaes",
                ));
            }
        };
        let key_bits_offset = r.offset();
        let key_bits = r.u16_be("parameters.keyBits")?;
        let exponent = r.u32_be("parameters.exponent")?;
        let modulus_offset = r.offset();
        let modulus = r.tpm2b("unique")?.to_vec();
        if key_bits == 0 || key_bits % 8 != 0 {
            return Err(r.invalid(
                "parameters.keyBits",
                key_bits_offset,
                "a non-zero multiple of 8",
                key_bits.to_string(),
            ));
        }
        if modulus.len() != usize::from(key_bits / 8) {
            return Err(r.invalid(
                "unique",
                modulus_offset,
                format!("a {}-byte modulus (keyBits {key_bits})", key_bits / 8),
                format!("{} bytes", modulus.len()),
            ));
        }
        let tpmt = input.get(start..r.offset()).unwrap_or_default().to_vec();
        Ok(Public {
            name_alg,
            object_attributes,
            auth_policy,
            symmetric,
            scheme,
            key_bits,
            exponent,
            modulus,
            tpmt,
        })
    }

    /// The name algorithm: the hash of the key's [name](Self::name).
    pub fn name_alg(&self) -> HashAlg {
        self.name_alg
    }
    pub fn object_attributes(&self) -> ObjectAttributes {
        self.object_attributes
    }
    /// The policy digest that authorises use of the key (empty when there is none). Azure's
    /// ephemeral encryption key carries a PolicyPCR digest here.
    pub fn auth_policy(&self) -> &[u8] {
        &self.auth_policy
    }
    pub fn symmetric(&self) -> SymmetricDefinition {
        self.symmetric
    }
    pub fn scheme(&self) -> RsaScheme {
        self.scheme
    }
    pub fn key_bits(&self) -> u16 {
        self.key_bits
    }
    /// The public exponent as marshalled; 0 means the default, 65537.
    pub fn exponent(&self) -> u32 {
        self.exponent
    }
    /// The exponent in effect (the marshalled 0 replaced by 65537).
    pub fn effective_exponent(&self) -> u32 {
        if self.exponent == 0 { 65537 } else { self.exponent }
    }
    /// The RSA modulus, big-endian (the `unique` field).
    pub fn modulus(&self) -> &[u8] {
        &self.modulus
    }
    /// The exact TPMT_PUBLIC bytes.
    pub fn tpmt_bytes(&self) -> &[u8] {
        &self.tpmt
    }

    /// The TPM name of the key: nameAlg (u16 big-endian) followed by H_nameAlg(TPMT_PUBLIC). This is
    /// what TPM2_Certify attests.
    pub fn name(&self) -> Vec<u8> {
        let mut name = self.name_alg.id().0.to_be_bytes().to_vec();
        name.extend(self.name_alg.digest(&self.tpmt));
        name
    }

    /// The key as an [`RsaPublicKey`].
    pub fn rsa_public_key(&self) -> Result<RsaPublicKey, SignatureError> {
        RsaPublicKey::new(BigUint::from_bytes_be(&self.modulus), BigUint::from(self.effective_exponent()))
            .map_err(|e| SignatureError::InvalidKey { reason: e.to_string() })
    }
}

/// The block ciphers TPMT_SYM_DEF_OBJECT may name besides AES (SM4 0x0013, CAMELLIA 0x0026).
fn is_block_cipher(id: AlgorithmId) -> bool {
    matches!(id.0, 0x0006 | 0x0013 | 0x0026)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_debug_names_the_bits() {
        let text = format!("{:?}", ObjectAttributes(0x0005_0472));
        assert_eq!(
            text,
            "ObjectAttributes(0x00050472: fixedTPM | fixedParent | sensitiveDataOrigin | userWithAuth | noDA | restricted | sign)"
        );
    }
}
