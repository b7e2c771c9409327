//! Attestation structures (Part 2 §10.12): TPMS_ATTEST as TPM2_Quote and TPM2_Certify sign it, with
//! its clock, quote and certification information.

use super::algorithm::AlgorithmId;
use super::pcr::PcrSelection;
use crate::ParseError;
use crate::reader::Reader;

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
