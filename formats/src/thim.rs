//! The THIM certification document: what IMDS returns for
//! `GET http://169.254.169.254/metadata/THIM/amd/certification` on an SEV-SNP CVM.
//!
//! ```json
//! { "vcekCert": "-----BEGIN CERTIFICATE-----\n...", "certificateChain": "<ASK PEM><ARK PEM>",
//!   "tcbm": "7308000000000003", "cacheControl": "86400" }
//! ```
//!
//! `tcbm` is the VCEK's TCB as the little-endian u64 `TCB_VERSION` printed as 16 hex digits, most
//! significant first: `7308000000000003` is microcode 0x73, SNP 0x08, TEE 0, bootloader 3.
//! Azure's THIM serves Milan and Genoa VCEKs, whose TCB layout this decodes.

use serde::Deserialize;

use crate::snp::Tcb;

/// Why a THIM document was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Not JSON, a field has the wrong JSON type, or an object repeats a key.
    #[error("THIM certification: {0}")]
    Json(#[from] crate::json::Error),

    /// A field has an impossible value.
    #[error("THIM certification: invalid {field}: expected {expected}, found {found}")]
    InvalidField { field: &'static str, expected: &'static str, found: String },
}

/// A parsed THIM certification document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThimCertification {
    vcek_cert: String,
    certificate_chain: String,
    tcbm: String,
    tcb: Tcb,
    cache_control: Option<String>,
}

/// The document as IMDS sends it.
#[derive(Deserialize)]
struct Wire {
    #[serde(rename = "vcekCert")]
    vcek_cert: String,
    #[serde(rename = "certificateChain")]
    certificate_chain: Chain,
    tcbm: String,
    #[serde(rename = "cacheControl", default)]
    cache_control: Option<String>,
}

/// IMDS sends the chain as one PEM string; accept a list of PEM strings too.
#[derive(Deserialize)]
#[serde(untagged)]
enum Chain {
    Text(String),
    List(Vec<String>),
}

impl ThimCertification {
    /// Parse the JSON body IMDS returned.
    pub fn parse(json: &[u8]) -> Result<Self, Error> {
        let wire: Wire = crate::json::from_slice(json)?;
        let certificate_chain = match wire.certificate_chain {
            Chain::Text(text) => text,
            Chain::List(certs) => certs.iter().map(|cert| with_final_newline(cert)).collect(),
        };
        let vcek_count = pem_certificate_count(&wire.vcek_cert);
        if vcek_count != 1 {
            return Err(Error::InvalidField {
                field: "vcekCert",
                expected: "one PEM certificate",
                found: format!("{vcek_count} certificates"),
            });
        }
        if pem_certificate_count(&certificate_chain) == 0 {
            return Err(Error::InvalidField {
                field: "certificateChain",
                expected: "PEM certificates (ASK, then ARK)",
                found: "no PEM certificate".to_owned(),
            });
        }
        let tcb = parse_tcbm(&wire.tcbm)?;
        Ok(ThimCertification {
            vcek_cert: wire.vcek_cert,
            certificate_chain,
            tcbm: wire.tcbm,
            tcb,
            cache_control: wire.cache_control,
        })
    }

    /// The VCEK certificate, PEM.
    pub fn vcek_cert_pem(&self) -> &str {
        &self.vcek_cert
    }

    /// The ASK and ARK certificates, PEM.
    pub fn certificate_chain_pem(&self) -> &str {
        &self.certificate_chain
    }

    /// VCEK, ASK and ARK as one PEM text: the evidence bundle's `vcek_chain` and MAA's
    /// `VcekCertChain`.
    pub fn vcek_chain_pem(&self) -> String {
        let mut out = with_final_newline(&self.vcek_cert);
        out.push_str(&with_final_newline(&self.certificate_chain));
        out
    }

    /// `tcbm` as sent.
    pub fn tcbm(&self) -> &str {
        &self.tcbm
    }

    /// The VCEK's TCB, decoded from `tcbm`.
    pub fn tcb(&self) -> Tcb {
        self.tcb
    }

    /// How long the document may be cached, as sent (seconds, e.g. `86400`).
    pub fn cache_control(&self) -> Option<&str> {
        self.cache_control.as_deref()
    }
}

fn parse_tcbm(tcbm: &str) -> Result<Tcb, Error> {
    let invalid = || Error::InvalidField {
        field: "tcbm",
        expected: "16 hex digits (the TCB_VERSION as a little-endian u64)",
        found: format!("{tcbm:?}"),
    };
    if tcbm.len() != 16 || !tcbm.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid());
    }
    let value = u64::from_str_radix(tcbm, 16).map_err(|_| invalid())?;
    Ok(Tcb::from_milan_genoa_bytes(value.to_le_bytes()))
}

fn with_final_newline(pem: &str) -> String {
    let mut out = pem.to_owned();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// Complete `CERTIFICATE` PEM blocks in `text`.
pub(crate) fn pem_certificate_count(text: &str) -> usize {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let mut count = 0;
    let mut rest = text;
    while let Some((_, after_begin)) = rest.split_once(BEGIN) {
        match after_begin.split_once(END) {
            Some((_, after_end)) => {
                count += 1;
                rest = after_end;
            }
            None => break,
        }
    }
    count
}
