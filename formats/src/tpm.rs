//! TPM 2.0 structures carried by vTPM evidence: keys (TPM2B_PUBLIC / TPMT_PUBLIC), attestations
//! (TPMS_ATTEST from TPM2_Quote and TPM2_Certify), RSASSA signatures, PCR selections and digests, and
//! the az-cvm-vtpm `Quote` that Confidential Containers evidence embeds.
//!
//! TPM 2.0 marshals integers big-endian (TCG TPM 2.0 Library, Part 2). Parsed values keep the exact
//! bytes that signatures and names are computed over: [`Attest::bytes`] is what the AK signed and
//! [`Public::tpmt_bytes`] is what a TPM name hashes. Nothing is re-encoded before it is checked.
//!
//! * [`Public`]: an RSA key (the AK, the ephemeral encryption key), its [name](Public::name) and its
//!   [`rsa::RsaPublicKey`].
//! * [`Attest`]: a quote ([`QuoteInfo`]) or a certification ([`CertifyInfo`]).
//! * [`Signature`], [`verify_rsassa`], [`verify_rsassa_sha256`]: RSASSA-PKCS1-v1_5 checks.
//! * [`PcrSelection`], [`pcr_digest`]: which PCRs a quote covers and the digest it signs;
//!   [`policy_pcr`]: the authPolicy that binds a key to PCR values.
//! * [`CocoQuote`]: the Confidential Containers encodings (bincode and hex JSON).

use std::fmt;

use rsa::traits::{PublicKeyParts, SignatureScheme};
use rsa::{BigUint, Pkcs1v15Sign, RsaPublicKey};
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
/// that occur in vTPM evidence.
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
    const fn digest_info_prefix(self) -> &'static [u8] {
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
fn read_hash_alg(r: &mut Reader<'_>, field: &'static str) -> Result<HashAlg, ParseError> {
    let offset = r.offset();
    let id = AlgorithmId(r.u16_be(field)?);
    HashAlg::from_id(id)
        .ok_or_else(|| r.unsupported(field, offset, id.to_string(), "sha1, sha256, sha384, sha512"))
}

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

/// TPM_GENERATED_VALUE: every TPMS_ATTEST the TPM produces starts with it, which is what stops a
/// restricted key from signing an outside message that looks like an attestation.
pub const TPM_GENERATED_VALUE: u32 = 0xFF54_4347;
/// TPM_ST_ATTEST_CERTIFY.
pub const TPM_ST_ATTEST_CERTIFY: u16 = 0x8017;
/// TPM_ST_ATTEST_QUOTE.
pub const TPM_ST_ATTEST_QUOTE: u16 = 0x8018;

/// The TPM's clock when it signed (TPMS_CLOCK_INFO). `reset_count` and `restart_count` tell two
/// attestations from the same boot apart from ones across reboots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockInfo {
    pub clock: u64,
    pub reset_count: u32,
    pub restart_count: u32,
    pub safe: bool,
}

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

/// TPMS_QUOTE_INFO: the PCRs a quote covers and the digest of their values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuoteInfo {
    pub pcr_select: Vec<PcrSelection>,
    pub pcr_digest: Vec<u8>,
}

/// TPMS_CERTIFY_INFO: the name of the certified object (e.g. the ephemeral key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertifyInfo {
    pub name: Vec<u8>,
    pub qualified_name: Vec<u8>,
}

/// The `attested` union of TPMS_ATTEST, by its type tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attested {
    /// TPM_ST_ATTEST_QUOTE (0x8018), from TPM2_Quote.
    Quote(QuoteInfo),
    /// TPM_ST_ATTEST_CERTIFY (0x8017), from TPM2_Certify.
    Certify(CertifyInfo),
}

/// A TPMS_ATTEST, with the exact bytes the attestation key signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attest {
    qualified_signer: Vec<u8>,
    extra_data: Vec<u8>,
    clock_info: ClockInfo,
    firmware_version: u64,
    attested: Attested,
    raw: Vec<u8>,
}

/// How many banks a TPML_PCR_SELECTION may list (HASH_COUNT in the reference implementation is at
/// most a handful; 16 leaves room without letting a count run away).
const MAX_PCR_BANKS: u32 = 16;

impl Attest {
    /// Parse a TPMS_ATTEST (the contents of a TPM2B_ATTEST, no size prefix). The whole input must be
    /// this one structure.
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new("TPMS_ATTEST", bytes);
        let attest = Self::read(&mut r, bytes, 0)?;
        r.finish()?;
        Ok(attest)
    }

    /// Parse a TPM2B_ATTEST (u16 size, then TPMS_ATTEST), the form some TPM stacks hand out.
    pub fn parse_tpm2b(bytes: &[u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new("TPM2B_ATTEST", bytes);
        let size = usize::from(r.u16_be("size")?);
        let attest = Self::read(&mut r, bytes, 2)?;
        if attest.raw.len() != size {
            let consumed = attest.raw.len();
            return Err(r.invalid(
                "size",
                0,
                format!("{consumed} (the TPMS_ATTEST that follows)"),
                size.to_string(),
            ));
        }
        r.finish()?;
        Ok(attest)
    }

    fn read(r: &mut Reader<'_>, input: &[u8], start: usize) -> Result<Self, ParseError> {
        let magic_offset = r.offset();
        let magic = r.u32_be("magic")?;
        if magic != TPM_GENERATED_VALUE {
            return Err(r.invalid(
                "magic",
                magic_offset,
                format!("TPM_GENERATED_VALUE 0x{TPM_GENERATED_VALUE:08x}"),
                format!("0x{magic:08x}"),
            ));
        }
        let type_offset = r.offset();
        let attest_type = r.u16_be("type")?;
        if attest_type != TPM_ST_ATTEST_QUOTE && attest_type != TPM_ST_ATTEST_CERTIFY {
            return Err(r.unsupported(
                "type",
                type_offset,
                format!("0x{attest_type:04x}"),
                "TPM_ST_ATTEST_QUOTE 0x8018, TPM_ST_ATTEST_CERTIFY 0x8017",
            ));
        }
        let qualified_signer = r.tpm2b("qualifiedSigner")?.to_vec();
        let extra_data = r.tpm2b("extraData")?.to_vec();
        let clock = r.u64_be("clockInfo.clock")?;
        let reset_count = r.u32_be("clockInfo.resetCount")?;
        let restart_count = r.u32_be("clockInfo.restartCount")?;
        let safe_offset = r.offset();
        let safe = match r.u8("clockInfo.safe")? {
            0 => false,
            1 => true,
            other => {
                return Err(r.invalid(
                    "clockInfo.safe",
                    safe_offset,
                    "TPMI_YES_NO 0 or 1",
                    other.to_string(),
                ));
            }
        };
        let firmware_version = r.u64_be("firmwareVersion")?;
        let attested = if attest_type == TPM_ST_ATTEST_QUOTE {
            Attested::Quote(read_quote_info(r)?)
        } else {
            let name = r.tpm2b("attested.name")?.to_vec();
            let qualified_name = r.tpm2b("attested.qualifiedName")?.to_vec();
            Attested::Certify(CertifyInfo { name, qualified_name })
        };
        let raw = input.get(start..r.offset()).unwrap_or_default().to_vec();
        Ok(Attest {
            qualified_signer,
            extra_data,
            clock_info: ClockInfo { clock, reset_count, restart_count, safe },
            firmware_version,
            attested,
            raw,
        })
    }

    /// The TPM_ST_* tag of the attested structure.
    pub fn attest_type(&self) -> u16 {
        match self.attested {
            Attested::Quote(_) => TPM_ST_ATTEST_QUOTE,
            Attested::Certify(_) => TPM_ST_ATTEST_CERTIFY,
        }
    }
    /// The qualified name of the signing key.
    pub fn qualified_signer(&self) -> &[u8] {
        &self.qualified_signer
    }
    /// The caller's qualifying data (the nonce) as the TPM signed it.
    pub fn extra_data(&self) -> &[u8] {
        &self.extra_data
    }
    pub fn clock_info(&self) -> &ClockInfo {
        &self.clock_info
    }
    pub fn firmware_version(&self) -> u64 {
        self.firmware_version
    }
    pub fn attested(&self) -> &Attested {
        &self.attested
    }
    /// The quote information, when this is a quote.
    pub fn quote(&self) -> Option<&QuoteInfo> {
        match &self.attested {
            Attested::Quote(q) => Some(q),
            Attested::Certify(_) => None,
        }
    }
    /// The certification information, when this is a certification.
    pub fn certify(&self) -> Option<&CertifyInfo> {
        match &self.attested {
            Attested::Certify(c) => Some(c),
            Attested::Quote(_) => None,
        }
    }
    /// The exact TPMS_ATTEST bytes: the message the attestation key signed.
    pub fn bytes(&self) -> &[u8] {
        &self.raw
    }
}

fn read_quote_info(r: &mut Reader<'_>) -> Result<QuoteInfo, ParseError> {
    let count_offset = r.offset();
    let count = r.u32_be("attested.pcrSelect.count")?;
    if count > MAX_PCR_BANKS {
        return Err(r.invalid(
            "attested.pcrSelect.count",
            count_offset,
            format!("at most {MAX_PCR_BANKS} banks"),
            count.to_string(),
        ));
    }
    let mut pcr_select = Vec::new();
    for _ in 0..count {
        let hash = AlgorithmId(r.u16_be("attested.pcrSelect.hash")?);
        let size = r.u8("attested.pcrSelect.sizeofSelect")?;
        let select = r.take("attested.pcrSelect.pcrSelect", usize::from(size))?.to_vec();
        pcr_select.push(PcrSelection { hash, select });
    }
    let pcr_digest = r.tpm2b("attested.pcrDigest")?.to_vec();
    Ok(QuoteInfo { pcr_select, pcr_digest })
}

/// Why a signature did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The TPM key is not a usable RSA public key (modulus too large, exponent out of range).
    #[error("the RSA public key is not usable: {reason}")]
    InvalidKey { reason: String },
    /// An RSASSA signature is exactly as long as the modulus; this one is not.
    #[error("RSASSA signature is {found} bytes, the key's modulus is {expected} bytes")]
    Length { expected: usize, found: usize },
    /// The signature does not match the message under this key: wrong key, or altered message or
    /// signature.
    #[error("RSASSA-PKCS1-v1_5/{hash} signature does not verify with the key")]
    Mismatch { hash: HashAlg },
}

/// Verify an RSASSA-PKCS1-v1_5 signature with `hash` over `message` (the exact signed bytes).
/// The key is an [`RsaPublicKey`] because Azure publishes the AK both as a TPM key
/// ([`Public::rsa_public_key`]) and as the HCL report's `HCLAkPub` JWK.
pub fn verify_rsassa(
    key: &RsaPublicKey,
    hash: HashAlg,
    message: &[u8],
    signature: &[u8],
) -> Result<(), SignatureError> {
    if signature.len() != key.size() {
        return Err(SignatureError::Length { expected: key.size(), found: signature.len() });
    }
    let scheme =
        Pkcs1v15Sign { hash_len: Some(hash.digest_size()), prefix: hash.digest_info_prefix().into() };
    scheme.verify(key, &hash.digest(message), signature).map_err(|_| SignatureError::Mismatch { hash })
}

/// Verify an RSASSA-PKCS1-v1_5 / SHA-256 signature by a TPM key, the scheme of the Azure vTPM
/// attestation key.
pub fn verify_rsassa_sha256(public: &Public, message: &[u8], signature: &[u8]) -> Result<(), SignatureError> {
    verify_rsassa(&public.rsa_public_key()?, HashAlg::Sha256, message, signature)
}

/// An RSASSA signature. Evidence usually carries only the raw signature (the `sig` buffer of
/// TPMT_SIGNATURE, as the AzureGuest request and the Confidential Containers quote do); tss-esapi
/// hands out the marshalled TPMT_SIGNATURE, which [`Signature::parse_tpmt`] reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    hash: HashAlg,
    bytes: Vec<u8>,
}

impl Signature {
    /// A raw RSASSA signature made with `hash`.
    pub fn rsassa(hash: HashAlg, bytes: Vec<u8>) -> Self {
        Signature { hash, bytes }
    }

    /// A raw RSASSA-SHA256 signature, the form Azure evidence carries.
    pub fn rsassa_sha256(bytes: Vec<u8>) -> Self {
        Self::rsassa(HashAlg::Sha256, bytes)
    }

    /// Parse a marshalled TPMT_SIGNATURE (sigAlg, hash, TPM2B signature). Only RSASSA is
    /// implemented. The whole input must be this one structure.
    pub fn parse_tpmt(bytes: &[u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new("TPMT_SIGNATURE", bytes);
        let alg_offset = r.offset();
        let sig_alg = AlgorithmId(r.u16_be("sigAlg")?);
        if sig_alg != AlgorithmId::RSASSA {
            return Err(r.unsupported("sigAlg", alg_offset, sig_alg.to_string(), "rsassa (0x0014)"));
        }
        let hash = read_hash_alg(&mut r, "signature.hash")?;
        let bytes = r.tpm2b("signature.sig")?.to_vec();
        r.finish()?;
        Ok(Signature { hash, bytes })
    }

    /// The hash the signature was made with.
    pub fn hash(&self) -> HashAlg {
        self.hash
    }
    /// The raw signature, as long as the key's modulus.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Verify the signature over `message` with `key`.
    pub fn verify(&self, key: &RsaPublicKey, message: &[u8]) -> Result<(), SignatureError> {
        verify_rsassa(key, self.hash, message, &self.bytes)
    }
}

/// The az-cvm-vtpm `Quote` that Confidential Containers (kinvolk azure-cvm-tooling, trustee) put in
/// their Azure evidence: the raw RSASSA signature, the signed TPMS_ATTEST and the values of the
/// SHA-256 PCRs (all 24 in practice, indexed from 0, so a selection picks values by index).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CocoQuote {
    /// The raw RSASSA-SHA256 signature by the AK.
    pub signature: Vec<u8>,
    /// The signed quote.
    pub message: Attest,
    /// SHA-256 PCR values, PCR `i` at index `i`.
    pub pcrs: Vec<[u8; 32]>,
}

/// The hex JSON form of [`CocoQuote`] (`tpm_quote` in trustee's evidence v1):
/// `{"signature": hex, "message": hex, "pcrs": [hex, ...]}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CocoQuoteHex {
    pub signature: String,
    pub message: String,
    pub pcrs: Vec<String>,
}

impl CocoQuote {
    /// Parse the bincode encoding: `u64 LE length + signature`, `u64 LE length + TPMS_ATTEST`,
    /// `u64 LE count + count × 32-byte PCR values`. The whole input must be this one structure.
    /// Errors inside the TPMS_ATTEST count offsets from the start of the TPMS_ATTEST.
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new("az-cvm-vtpm quote (bincode)", bytes);
        let signature_len = read_len_u64(&mut r, "signature.len")?;
        let signature = r.take("signature", signature_len)?.to_vec();
        let message_len = read_len_u64(&mut r, "message.len")?;
        let message = Attest::parse(r.take("message", message_len)?)?;
        let count_offset = r.offset();
        let count = read_len_u64(&mut r, "pcrs.len")?;
        let pcr_bytes = count.checked_mul(32).ok_or_else(|| {
            r.invalid("pcrs.len", count_offset, "a PCR count that fits in memory", count.to_string())
        })?;
        let pcrs = r.take("pcrs", pcr_bytes)?.chunks_exact(32).map(to_pcr).collect();
        r.finish()?;
        Ok(CocoQuote { signature, message, pcrs })
    }

    /// Parse the hex JSON text form.
    pub fn parse_hex_json(text: &str) -> Result<Self, ParseError> {
        let hex: CocoQuoteHex = crate::json::from_str(text).map_err(|e| ParseError::InvalidField {
            structure: "az-cvm-vtpm quote (hex JSON)",
            field: "document",
            offset: 0,
            expected: "a JSON object {signature, message, pcrs} of hex strings".into(),
            found: e.to_string(),
        })?;
        Self::from_hex(&hex)
    }

    /// Decode the hex JSON form once it is deserialised (e.g. as part of a larger evidence document).
    pub fn from_hex(hex: &CocoQuoteHex) -> Result<Self, ParseError> {
        let signature = decode_hex("signature", &hex.signature)?;
        let message = decode_hex("message", &hex.message)?;
        let mut pcrs = Vec::with_capacity(hex.pcrs.len());
        for (i, text) in hex.pcrs.iter().enumerate() {
            let value = decode_hex("pcrs", text)?;
            let pcr = <[u8; 32]>::try_from(value.as_slice()).map_err(|_| ParseError::InvalidField {
                structure: "az-cvm-vtpm quote (hex JSON)",
                field: "pcrs",
                offset: 0,
                expected: format!("32 bytes (SHA-256) for PCR {i}"),
                found: format!("{} bytes", value.len()),
            })?;
            pcrs.push(pcr);
        }
        Self::from_parts(signature, &message, pcrs)
    }

    /// Build from the three parts as another encoding delivered them (e.g. JSON byte arrays).
    pub fn from_parts(signature: Vec<u8>, message: &[u8], pcrs: Vec<[u8; 32]>) -> Result<Self, ParseError> {
        Ok(CocoQuote { signature, message: Attest::parse(message)?, pcrs })
    }

    /// Verify the signature over the quote with the attestation key (RSASSA-SHA256), e.g. the
    /// HCL report's `HCLAkPub`.
    pub fn verify_signature(&self, ak: &RsaPublicKey) -> Result<(), SignatureError> {
        verify_rsassa(ak, HashAlg::Sha256, self.message.bytes(), &self.signature)
    }

    /// The value of PCR `index`, if the quote carries it.
    pub fn pcr(&self, index: u32) -> Option<&[u8; 32]> {
        usize::try_from(index).ok().and_then(|i| self.pcrs.get(i))
    }
}

fn to_pcr(chunk: &[u8]) -> [u8; 32] {
    let mut pcr = [0u8; 32];
    pcr.copy_from_slice(chunk);
    pcr
}

/// A bincode `u64` length, which must fit a `usize` (it can never on wasm32 for real data).
fn read_len_u64(r: &mut Reader<'_>, field: &'static str) -> Result<usize, ParseError> {
    let offset = r.offset();
    let len = r.u64_le(field)?;
    usize::try_from(len)
        .map_err(|_| r.invalid(field, offset, "a length that fits in memory", len.to_string()))
}

fn decode_hex(field: &'static str, text: &str) -> Result<Vec<u8>, ParseError> {
    hex::decode(text).map_err(|e| ParseError::InvalidField {
        structure: "az-cvm-vtpm quote (hex JSON)",
        field,
        offset: 0,
        expected: "a hex string".into(),
        found: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_digest_info_prefix_matches_the_rsa_crate() {
        assert_eq!(Pkcs1v15Sign::new::<Sha256>().prefix.as_ref(), HashAlg::Sha256.digest_info_prefix());
        assert_eq!(Pkcs1v15Sign::new::<Sha384>().prefix.as_ref(), HashAlg::Sha384.digest_info_prefix());
        assert_eq!(Pkcs1v15Sign::new::<Sha512>().prefix.as_ref(), HashAlg::Sha512.digest_info_prefix());
    }

    #[test]
    fn pcr_selection_bitmap_round_trips_indices() {
        let sel = PcrSelection::new(HashAlg::Sha256, &[0, 1, 2, 3, 4, 5, 6, 7, 11, 12, 13, 14]);
        assert_eq!(sel.select, vec![0xff, 0x78, 0x00]);
        assert_eq!(sel.indices(), vec![0, 1, 2, 3, 4, 5, 6, 7, 11, 12, 13, 14]);
        assert_eq!(sel.marshal(), vec![0x00, 0x0b, 0x03, 0xff, 0x78, 0x00]);
    }

    #[test]
    fn attributes_debug_names_the_bits() {
        let text = format!("{:?}", ObjectAttributes(0x0005_0472));
        assert_eq!(
            text,
            "ObjectAttributes(0x00050472: fixedTPM | fixedParent | sensitiveDataOrigin | userWithAuth | noDA | restricted | sign)"
        );
    }
}
