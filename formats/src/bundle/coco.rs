//! The Confidential Containers (trustee / guest-components) evidence encodings.
//!
//! * v0 (no `version` key): SNP `{quote, report, vcek}`, TDX `{tpm_quote, hcl_report, td_quote}`;
//!   byte strings are JSON arrays of numbers, the SNP `vcek` is PEM text.
//! * v1 and v2 (`"version": 1 | 2`, same shape; v2 fills the runtime claims' `user-data`):
//!   `{version, tpm_quote, hcl_report, vcek | td_quote}`; `hcl_report`, `vcek` (DER) and
//!   `td_quote` are base64url (padded or not), the quote's fields are hex.
//! * The quote is az-cvm-vtpm's `Quote`: `signature` (raw RSASSA), `message` (TPMS_ATTEST) and
//!   `pcrs` (the 24 SHA-256 PCR values, PCR 0 first).

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

use super::{
    COCO_SNP, COCO_TDX, Error, EvidenceBundle, MAX_PCR, PcrBank, Pcrs, Platform, Timestamp, TpmEvidence,
};
use crate::thim::pem_certificate_count;

const COCO: &str = "Confidential Containers evidence";

const BASE64URL: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

#[derive(Deserialize)]
struct QuoteV0 {
    signature: Vec<u8>,
    message: Vec<u8>,
    pcrs: Vec<Vec<u8>>,
}

#[derive(Deserialize)]
struct SnpV0 {
    quote: QuoteV0,
    report: Vec<u8>,
    vcek: String,
}

#[derive(Deserialize)]
struct TdxV0 {
    tpm_quote: QuoteV0,
    hcl_report: Vec<u8>,
    td_quote: Vec<u8>,
}

#[derive(Deserialize)]
struct QuoteV1 {
    signature: String,
    message: String,
    pcrs: Vec<String>,
}

#[derive(Deserialize)]
struct SnpV1 {
    tpm_quote: QuoteV1,
    hcl_report: String,
    vcek: String,
}

#[derive(Deserialize)]
struct TdxV1 {
    tpm_quote: QuoteV1,
    hcl_report: String,
    td_quote: String,
}

/// The raw items of either platform, decoded.
struct Items {
    platform: Platform,
    /// `quote` (SNP v0) or `tpm_quote`, for error messages.
    quote_key: &'static str,
    hcl_report: Vec<u8>,
    vcek_pem: Option<String>,
    td_quote: Option<Vec<u8>>,
    signature: Vec<u8>,
    message: Vec<u8>,
    pcrs: Vec<Vec<u8>>,
}

pub(super) fn read(json: &[u8], collected_at: Timestamp) -> Result<EvidenceBundle, Error> {
    let value =
        crate::json::value_from_slice(json).map_err(|source| Error::Json { document: COCO, source })?;
    let items = match coco_kind(&value) {
        Some(Platform::AzureSevSnp) => read_snp(value)?,
        Some(Platform::AzureTdx) => read_tdx(value)?,
        _ => {
            return Err(Error::field(
                COCO,
                "keys",
                "expected {quote, report, vcek}, {tpm_quote, hcl_report, vcek} (az-snp-vtpm) or \
                 {tpm_quote, hcl_report, td_quote} (az-tdx-vtpm)",
            ));
        }
    };
    let document = document(items.platform);
    let bank = PcrBank::Sha256;
    let mut values = BTreeMap::new();
    for (position, value) in items.pcrs.into_iter().enumerate() {
        let field = || format!("{}.pcrs[{position}]", items.quote_key);
        let index = u8::try_from(position)
            .ok()
            .filter(|&index| index <= MAX_PCR)
            .ok_or_else(|| Error::field(document, field(), "more than 24 PCR values"))?;
        if value.len() != bank.digest_size() {
            return Err(Error::field(
                document,
                field(),
                format!("a {} PCR is {} bytes, found {}", bank.name(), bank.digest_size(), value.len()),
            ));
        }
        values.insert(index, value);
    }
    let pcrs = Pcrs::new(bank, values)?;
    Ok(EvidenceBundle {
        platform: items.platform,
        collected_at,
        nonce: None,
        hcl_report: items.hcl_report,
        vcek_chain: items.vcek_pem,
        td_quote: items.td_quote,
        tpm: Some(TpmEvidence {
            ak_public: Vec::new(),
            ak_cert: None,
            quote: items.message,
            quote_signature: items.signature,
            pcrs,
            ephemeral_key: None,
        }),
        event_log: None,
        os: None,
        collateral: BTreeMap::new(),
    })
}

fn document(platform: Platform) -> &'static str {
    match platform {
        Platform::AzureTdx => COCO_TDX,
        _ => COCO_SNP,
    }
}

/// `None` for v0 (no version key), else the version, which must be 1 or 2.
fn version(value: &serde_json::Value, document: &'static str) -> Result<Option<u64>, Error> {
    match value.get("version") {
        None => Ok(None),
        Some(version) => match version.as_u64() {
            Some(v @ (1 | 2)) => Ok(Some(v)),
            _ => Err(Error::UnsupportedVersion {
                document,
                found: version.to_string(),
                supported: "0 (no version key), 1, 2",
            }),
        },
    }
}

fn from_value<T: for<'de> Deserialize<'de>>(
    value: serde_json::Value,
    document: &'static str,
) -> Result<T, Error> {
    // The value came from strict JSON: converting it parses nothing again.
    serde_json::from_value(value).map_err(|source| Error::Json { document, source: source.into() })
}

fn read_snp(value: serde_json::Value) -> Result<Items, Error> {
    let document = COCO_SNP;
    if version(&value, document)?.is_none() {
        let v0: SnpV0 = from_value(value, document)?;
        if pem_certificate_count(&v0.vcek) != 1 {
            return Err(Error::field(document, "vcek", "expected one PEM certificate"));
        }
        return Ok(Items {
            platform: Platform::AzureSevSnp,
            quote_key: "quote",
            hcl_report: v0.report,
            vcek_pem: Some(v0.vcek),
            td_quote: None,
            signature: v0.quote.signature,
            message: v0.quote.message,
            pcrs: v0.quote.pcrs,
        });
    }
    let v1: SnpV1 = from_value(value, document)?;
    let vcek = base64url(document, "vcek", &v1.vcek)?;
    let (signature, message, pcrs) = quote_v1(document, v1.tpm_quote)?;
    Ok(Items {
        platform: Platform::AzureSevSnp,
        quote_key: "tpm_quote",
        hcl_report: base64url(document, "hcl_report", &v1.hcl_report)?,
        vcek_pem: Some(der_to_pem(&vcek)),
        td_quote: None,
        signature,
        message,
        pcrs,
    })
}

fn read_tdx(value: serde_json::Value) -> Result<Items, Error> {
    let document = COCO_TDX;
    if version(&value, document)?.is_none() {
        let v0: TdxV0 = from_value(value, document)?;
        return Ok(Items {
            platform: Platform::AzureTdx,
            quote_key: "tpm_quote",
            hcl_report: v0.hcl_report,
            vcek_pem: None,
            td_quote: Some(v0.td_quote),
            signature: v0.tpm_quote.signature,
            message: v0.tpm_quote.message,
            pcrs: v0.tpm_quote.pcrs,
        });
    }
    let v1: TdxV1 = from_value(value, document)?;
    let (signature, message, pcrs) = quote_v1(document, v1.tpm_quote)?;
    Ok(Items {
        platform: Platform::AzureTdx,
        quote_key: "tpm_quote",
        hcl_report: base64url(document, "hcl_report", &v1.hcl_report)?,
        vcek_pem: None,
        td_quote: Some(base64url(document, "td_quote", &v1.td_quote)?),
        signature,
        message,
        pcrs,
    })
}

type QuoteParts = (Vec<u8>, Vec<u8>, Vec<Vec<u8>>);

fn quote_v1(document: &'static str, quote: QuoteV1) -> Result<QuoteParts, Error> {
    let hex_field = |field: &str, text: &str| {
        hex::decode(text).map_err(|err| Error::field(document, field, format!("invalid hex: {err}")))
    };
    let pcrs = quote
        .pcrs
        .iter()
        .enumerate()
        .map(|(i, text)| hex_field(&format!("tpm_quote.pcrs[{i}]"), text))
        .collect::<Result<_, _>>()?;
    Ok((
        hex_field("tpm_quote.signature", &quote.signature)?,
        hex_field("tpm_quote.message", &quote.message)?,
        pcrs,
    ))
}

fn base64url(document: &'static str, field: &str, text: &str) -> Result<Vec<u8>, Error> {
    BASE64URL
        .decode(text.as_bytes())
        .map_err(|err| Error::field(document, field, format!("invalid base64url: {err}")))
}

/// A DER certificate as PEM text (64-character lines, final newline).
fn der_to_pem(der: &[u8]) -> String {
    let encoded = STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in encoded.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// Which Confidential Containers evidence a JSON object is, by its keys.
pub(super) fn coco_kind(value: &serde_json::Value) -> Option<Platform> {
    let has = |key: &str| value.get(key).is_some();
    if has("vcek") && (has("report") || has("hcl_report")) {
        Some(Platform::AzureSevSnp)
    } else if has("td_quote") && has("hcl_report") {
        Some(Platform::AzureTdx)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_to_pem_wraps_at_64_columns() {
        let pem = der_to_pem(&[0xAB; 100]);
        let lines: Vec<&str> = pem.lines().collect();
        assert_eq!(lines.first(), Some(&"-----BEGIN CERTIFICATE-----"));
        assert_eq!(lines.get(1).map(|l| l.len()), Some(64));
        assert_eq!(lines.last(), Some(&"-----END CERTIFICATE-----"));
        assert!(pem.ends_with('\n'));
        assert_eq!(pem_certificate_count(&pem), 1);
    }
}
