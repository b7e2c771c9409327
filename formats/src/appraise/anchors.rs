//! The roots appraisal trusts: built in, or replaced as a whole by the operator.
//!
//! Anchors are kept as PEM text; each section parses what it uses (the `sev` crate for AMD,
//! `x509-cert` for Intel and the Azure vTPM). Built-in anchors are trusted as they are. Operator
//! anchors are checked once, in [`TrustAnchors::from_operator`]: each must be one X.509 certificate,
//! each AMD pair must hold together (the ARK signs itself and the ASK), since appraisal then trusts
//! the ASK as it is, and each Azure vTPM root must sign itself. Azure vTPM intermediates are not
//! anchors: appraisal uses one only when it verifies under a trusted root. The fields are private so
//! that no other way of building anchors skips those checks.

use super::ak_cert::rsa_pkcs1_signs;
use super::cert::Cert;
use super::snp::rsa_pss_signs;
use crate::snp::Generation;
use crate::thim::pem_certificate_count;

/// AMD's root (ARK) and intermediate (ASK) for one processor generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmdRoots {
    pub generation: Generation,
    /// The ARK, PEM.
    pub ark_pem: String,
    /// The ASK the ARK signed for VCEKs, PEM.
    pub ask_pem: String,
}

/// Every root appraisal may chain evidence to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustAnchors {
    /// One entry per processor generation that may be trusted.
    amd: Vec<AmdRoots>,
    /// Intel SGX root CA certificates (PEM) a PCK chain may end in.
    intel_roots: Vec<String>,
    /// Azure vTPM root CA certificates (PEM) an AK certificate chain may end in.
    azure_vtpm_roots: Vec<String>,
    /// Azure vTPM CA certificates (PEM) an AK certificate chain may pass through.
    azure_vtpm_intermediates: Vec<String>,
}

/// The name of the Intel SGX root CA anchor (it may be given more than once).
pub const INTEL_SGX_ROOT: &str = "intel-sgx-root";

/// The name of an Azure vTPM root CA anchor, which AK certificates chain to (it may repeat: Azure
/// runs more than one vTPM hierarchy, and a test vTPM CA stands in for them on simulated CVMs).
pub const AZURE_VTPM_ROOT: &str = "azure-vtpm-root";

/// The name of an Azure vTPM intermediate CA that may issue AK certificates (it may repeat). Not
/// trusted by itself: a chain uses it only when it verifies under an `azure-vtpm-root`.
pub const AZURE_VTPM_INTERMEDIATE: &str = "azure-vtpm-intermediate";

/// Every name an operator anchor may have (`--trust-anchor NAME=FILE`), for help texts.
pub const NAMES: [&str; 9] = [
    "amd-ark-milan",
    "amd-ask-milan",
    "amd-ark-genoa",
    "amd-ask-genoa",
    "amd-ark-turin",
    "amd-ask-turin",
    INTEL_SGX_ROOT,
    AZURE_VTPM_ROOT,
    AZURE_VTPM_INTERMEDIATE,
];

/// Why operator-supplied anchors were refused. Every variant names the anchor.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AnchorError {
    #[error(
        "unknown trust anchor `{0}`: expected one of amd-ark-milan, amd-ask-milan, amd-ark-genoa, \
         amd-ask-genoa, amd-ark-turin, amd-ask-turin, intel-sgx-root, azure-vtpm-root, \
         azure-vtpm-intermediate"
    )]
    UnknownName(String),
    #[error(
        "trust anchor `{0}` is given twice; only intel-sgx-root, azure-vtpm-root and \
         azure-vtpm-intermediate may repeat"
    )]
    Duplicate(String),
    /// Not one PEM X.509 certificate; the reason says what it is instead.
    #[error("trust anchor `{name}` is {reason}")]
    Invalid { name: String, reason: String },
    #[error("trust anchor `{present}` is given without `{missing}`: AMD roots are trusted in pairs")]
    Incomplete { present: String, missing: String },
    /// Azure vTPM intermediates without a root: no chain through them could verify.
    #[error(
        "trust anchor `azure-vtpm-intermediate` is given without `azure-vtpm-root`: an intermediate is used \
         only under a trusted root, and operator anchors replace the built-in ones, Azure's root included"
    )]
    IntermediateWithoutRoot,
    /// `issuer` did not sign `subject` (for an ARK, itself).
    #[error("trust anchor {subject} is not signed by {issuer}: {reason}")]
    NotSignedBy { subject: String, issuer: String, reason: String },
}

const GENERATIONS: [(Generation, &str, &str, &str); 3] = [
    (
        Generation::Milan,
        "milan",
        include_str!("../../anchors/milan-ark.pem"),
        include_str!("../../anchors/milan-ask.pem"),
    ),
    (
        Generation::Genoa,
        "genoa",
        include_str!("../../anchors/genoa-ark.pem"),
        include_str!("../../anchors/genoa-ask.pem"),
    ),
    (
        Generation::Turin,
        "turin",
        include_str!("../../anchors/turin-ark.pem"),
        include_str!("../../anchors/turin-ask.pem"),
    ),
];

const INTEL_SGX_ROOT_PEM: &str = include_str!("../../anchors/intel-sgx-root-ca.pem");

/// Azure Virtual TPM Root Certificate Authority 2023.
const AZURE_VTPM_ROOT_PEM: &str = include_str!("../../anchors/azure-vtpm-root-ca-2023.pem");

/// Global Virtual TPM CA - 01 and - 03, the published CAs under that root that issue AK certificates.
const AZURE_VTPM_INTERMEDIATE_PEMS: [&str; 2] = [
    include_str!("../../anchors/azure-vtpm-global-ca-01.pem"),
    include_str!("../../anchors/azure-vtpm-global-ca-03.pem"),
];

/// One operator AMD anchor, parsed.
struct AmdAnchor<'a> {
    name: &'a str,
    pem: String,
    cert: Cert,
}

impl TrustAnchors {
    /// AMD's published roots for Milan, Genoa and Turin, Intel's SGX root CA, and the Azure Virtual
    /// TPM root CA with its published intermediates Global Virtual TPM CA - 01 and - 03.
    pub fn builtin() -> Self {
        TrustAnchors {
            amd: GENERATIONS
                .iter()
                .map(|&(generation, _, ark, ask)| AmdRoots {
                    generation,
                    ark_pem: ark.to_owned(),
                    ask_pem: ask.to_owned(),
                })
                .collect(),
            intel_roots: vec![INTEL_SGX_ROOT_PEM.to_owned()],
            azure_vtpm_roots: vec![AZURE_VTPM_ROOT_PEM.to_owned()],
            azure_vtpm_intermediates: AZURE_VTPM_INTERMEDIATE_PEMS.map(str::to_owned).to_vec(),
        }
    }

    /// The anchors an operator supplied as named PEM certificates (names in [`NAMES`];
    /// `intel-sgx-root`, `azure-vtpm-root` and `azure-vtpm-intermediate` may repeat). They replace
    /// the built-in set entirely: a kind the operator leaves out is not trusted at all, and an empty
    /// list trusts nothing.
    ///
    /// Each must be exactly one PEM X.509 certificate, each ARK must sign itself and the ASK given
    /// with it (two RSA-4096 verifications per generation, made here once rather than at every
    /// appraisal), and each Azure vTPM root must be self-signed. Intermediates are checked at use,
    /// against the roots (a hierarchy may have more than one level). Call it before appraising to
    /// report an operator's mistake as such.
    pub fn from_operator(anchors: &[(&str, &[u8])]) -> Result<Self, AnchorError> {
        let mut arks: Vec<(Generation, AmdAnchor<'_>)> = Vec::new();
        let mut asks: Vec<(Generation, AmdAnchor<'_>)> = Vec::new();
        let mut intel_roots = Vec::new();
        let mut azure_vtpm_roots = Vec::new();
        let mut azure_vtpm_intermediates = Vec::new();
        for &(name, data) in anchors {
            if !NAMES.contains(&name) {
                return Err(AnchorError::UnknownName(name.to_owned()));
            }
            let (pem, cert) = parse(name, data)?;
            // These may repeat; the AMD names below may not.
            match name {
                INTEL_SGX_ROOT => {
                    intel_roots.push(pem);
                    continue;
                }
                AZURE_VTPM_ROOT => {
                    self_signed(name, &cert)?;
                    azure_vtpm_roots.push(pem);
                    continue;
                }
                AZURE_VTPM_INTERMEDIATE => {
                    azure_vtpm_intermediates.push(pem);
                    continue;
                }
                _ => {}
            }
            let (list, suffix) = match (name.strip_prefix("amd-ark-"), name.strip_prefix("amd-ask-")) {
                (Some(suffix), _) => (&mut arks, suffix),
                (_, Some(suffix)) => (&mut asks, suffix),
                _ => return Err(AnchorError::UnknownName(name.to_owned())),
            };
            let (generation, ..) = GENERATIONS
                .iter()
                .find(|(_, key, _, _)| *key == suffix)
                .ok_or_else(|| AnchorError::UnknownName(name.to_owned()))?;
            if list.iter().any(|(g, _)| g == generation) {
                return Err(AnchorError::Duplicate(name.to_owned()));
            }
            list.push((*generation, AmdAnchor { name, pem, cert }));
        }
        let mut amd = Vec::new();
        for (generation, ark) in arks {
            let index =
                asks.iter().position(|(g, _)| *g == generation).ok_or_else(|| AnchorError::Incomplete {
                    present: ark.name.to_owned(),
                    missing: ark.name.replace("-ark-", "-ask-"),
                })?;
            let (_, ask) = asks.swap_remove(index);
            let not_signed = |subject: &AmdAnchor<'_>, reason| AnchorError::NotSignedBy {
                subject: subject.name.to_owned(),
                issuer: ark.name.to_owned(),
                reason,
            };
            rsa_pss_signs(&ark.cert, &ark.cert).map_err(|err| not_signed(&ark, err))?;
            rsa_pss_signs(&ark.cert, &ask.cert).map_err(|err| not_signed(&ask, err))?;
            amd.push(AmdRoots { generation, ark_pem: ark.pem, ask_pem: ask.pem });
        }
        if let Some((_, ask)) = asks.first() {
            return Err(AnchorError::Incomplete {
                present: ask.name.to_owned(),
                missing: ask.name.replace("-ask-", "-ark-"),
            });
        }
        if azure_vtpm_roots.is_empty() && !azure_vtpm_intermediates.is_empty() {
            return Err(AnchorError::IntermediateWithoutRoot);
        }
        Ok(TrustAnchors { amd, intel_roots, azure_vtpm_roots, azure_vtpm_intermediates })
    }

    /// The AMD roots for one generation, if trusted.
    pub fn amd(&self, generation: Generation) -> Option<&AmdRoots> {
        self.amd.iter().find(|roots| roots.generation == generation)
    }

    /// Every trusted generation's AMD roots.
    pub fn amd_roots(&self) -> &[AmdRoots] {
        &self.amd
    }

    /// The trusted Intel SGX root CA certificates, PEM.
    pub fn intel_roots(&self) -> &[String] {
        &self.intel_roots
    }

    /// The trusted Azure vTPM root CA certificates, PEM.
    pub fn azure_vtpm_roots(&self) -> &[String] {
        &self.azure_vtpm_roots
    }

    /// The Azure vTPM CA certificates an AK certificate chain may pass through, PEM; each is used
    /// only when it verifies under a trusted root.
    pub fn azure_vtpm_intermediates(&self) -> &[String] {
        &self.azure_vtpm_intermediates
    }
}

/// An operator's vTPM root must be self-issued and self-signed (RSA PKCS#1 v1.5): appraisal trusts
/// it as it is and ends chains at it by name.
fn self_signed(name: &str, cert: &Cert) -> Result<(), AnchorError> {
    let not_signed = |reason: String| AnchorError::NotSignedBy {
        subject: name.to_owned(),
        issuer: name.to_owned(),
        reason,
    };
    let tbs = &cert.x509.tbs_certificate;
    if tbs.subject.to_string() != tbs.issuer.to_string() {
        return Err(not_signed(format!(
            "it is issued by `{}`, not by itself (`{}`): give the root of its hierarchy",
            tbs.issuer, tbs.subject
        )));
    }
    rsa_pkcs1_signs(cert, cert).map_err(|err| not_signed(err.to_string()))
}

/// One PEM X.509 certificate, as text and parsed.
fn parse(name: &str, data: &[u8]) -> Result<(String, Cert), AnchorError> {
    let invalid = |reason: String| AnchorError::Invalid { name: name.to_owned(), reason };
    let text = std::str::from_utf8(data).map_err(|_| invalid("not PEM text (not UTF-8)".to_owned()))?;
    let count = pem_certificate_count(text);
    if count > 1 {
        return Err(invalid(format!("{count} PEM certificates; give one certificate per anchor")));
    }
    let cert = Cert::from_pem(text).map_err(|err| invalid(err.to_string()))?;
    Ok((text.to_owned(), cert))
}

impl Default for TrustAnchors {
    fn default() -> Self {
        Self::builtin()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_generations_the_intel_root_and_the_azure_vtpm_cas() {
        let expected: Vec<String> = GENERATIONS
            .iter()
            .flat_map(|(_, key, _, _)| [format!("amd-ark-{key}"), format!("amd-ask-{key}")])
            .chain([INTEL_SGX_ROOT, AZURE_VTPM_ROOT, AZURE_VTPM_INTERMEDIATE].map(str::to_owned))
            .collect();
        assert_eq!(NAMES.to_vec(), expected);
    }
}
