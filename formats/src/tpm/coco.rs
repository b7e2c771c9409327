//! The az-cvm-vtpm `Quote` of Confidential Containers evidence, in its bincode and hex JSON encodings.

use rsa::RsaPublicKey;

use super::algorithm::HashAlg;
use super::attest::Attest;
use super::signature::{SignatureError, verify_rsassa};
use crate::ParseError;
use crate::reader::Reader;

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
