//! TDX: TD quote and QE report signatures, QE binding, PCK chain to the Intel root, and the quote's
//! agreement with the HCL TD report.
//!
//! The order follows the chain of trust: the pinned Intel root vouches for the PCK certificate, the
//! PCK key for the quoting enclave's report, that report for the attestation key, and the attestation
//! key for the quote. Only then is the quote's body compared with the TD report from the HCL report,
//! which is MAC'd by the CPU but cannot be authenticated offline on its own.
//!
//! `tdx-td-attributes` then refuses a TD under debug, as `snp-policy` does for SEV-SNP: the attributes
//! come from the signed quote body, so this needs the quote signature to have passed.
//!
//! Every certificate of the PCK chain (the PCK, its CA and the pinned root) must be valid at the time
//! judged at, or `tdx-pck-chain` fails. `tdx-revocation` then checks Intel's CRLs when supplied as
//! collateral: the Intel SGX Root CA's (`intel-root-crl`, listing revoked PCK CAs) and the PCK CA's
//! (`intel-pck-crl`, listing revoked PCK certificates); see [`revocation`].
//!
//! `tdx-tcb-status` places the platform in Intel's TCB Info as Intel's QVL does ([`crate::intel::tcb`]):
//! the TCB Info and TD_QE identity (`tdx-tcb-info`, `tdx-qe-identity`) must be signed by the TCB
//! signing key of `intel-tcb-signing-chain`, which chains to a pinned Intel root, and be current at the
//! time judged at. Without TCB Info the step is not evaluated; with it but without the other two it
//! fails, as does expired, foreign or tampered collateral, a platform below every level, and `Revoked`.
//! Out-of-date and configuration-needed statuses pass with a warning: `attester_tcb_status` carries the
//! status, and a claim check decides, as with MAA's tokens.

use std::sync::Arc;

use p256::ecdsa::{Signature, VerifyingKey};
use sha2::{Digest, Sha256};
use x509_cert::der::Decode;
use x509_cert::der::asn1::ObjectIdentifier;
use x509_cert::der::oid::AssociatedOid;
use x509_cert::ext::pkix::BasicConstraints;

use super::cert::Cert;
use super::collateral::{self, Collateral};
use super::revocation::{self, CrlAlgorithm};
use super::{Steps, TdxError, TrustAnchors};
use crate::crypto;
use crate::intel::tcb::{self, TcbVerdict};
use crate::intel::{Document, EnclaveIdentity, Signed, TcbInfo, TcbSigningChain};
use crate::tdx::{Measurement, TdQuote, TdReport};
use crate::time::DateTime;

const PCK_CHAIN: &str = "tdx-pck-chain";
const REVOCATION: &str = "tdx-revocation";
const QE_REPORT_SIGNATURE: &str = "tdx-qe-report-signature";
const QE_BINDING: &str = "tdx-qe-binding";
const QUOTE_SIGNATURE: &str = "tdx-quote-signature";
const TD_REPORT_MATCH: &str = "tdx-td-report-match";
/// The step that refuses a debuggable TD; `x-ms-compliance-status` rests on it.
pub const TD_ATTRIBUTES: &str = "tdx-td-attributes";
const TCB_STATUS: &str = "tdx-tcb-status";

/// The TD attribute bits with a name (Intel TDX Module ABI, ATTRIBUTES; the names are Linux's).
const ATTRIBUTE_NAMES: [(u32, &str); 12] = [
    (0, "DEBUG"),
    (4, "HGS_PLUS_PROF"),
    (5, "PERF_PROF"),
    (6, "PMT_PROF"),
    (16, "ICSSD"),
    (27, "LASS"),
    (28, "SEPT_VE_DISABLE"),
    (29, "MIGRATABLE"),
    (30, "PKS"),
    (31, "KL"),
    (62, "TPA"),
    (63, "PERFMON"),
];
/// Bits 7:0, "TD under debug" (TUD) in TDX 1.0: Intel's quote verification library distrusts a TD
/// with any of them set, DEBUG (bit 0) and the profiling bits TDX 1.5 later put there alike.
pub(crate) const UNDER_DEBUG: u64 = 0xFF;

/// ecdsa-with-SHA256 (RFC 5758): how Intel signs every certificate in the SGX/TDX PKI.
const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");

/// Appraise a TD quote: the steps `tdx-pck-chain`, `tdx-revocation`, `tdx-qe-report-signature`, `tdx-qe-binding`,
/// `tdx-quote-signature`, `tdx-td-report-match`, `tdx-td-attributes` and `tdx-tcb-status`, in that
/// order. Returns `None` at the first failed step, else the TCB verdict when `tdx-tcb-status` was
/// evaluated (the claims `attester_tcb_status` and `attester_advisory_ids` come from it).
///
/// `td_report` is the TDREPORT from the HCL report (parse [`crate::hcl::RawTdReport::as_bytes`] with
/// [`TdReport::parse`]); without it the quote cannot be tied to the HCL runtime claims, and
/// `tdx-td-report-match` is not evaluated.
pub fn appraise(
    quote: &TdQuote,
    td_report: Option<&TdReport>,
    anchors: &TrustAnchors,
    collateral: &Collateral<'_>,
    at: &DateTime,
    steps: &mut Steps,
) -> Option<Option<TcbVerdict>> {
    let pck = check_with(steps, PCK_CHAIN, pck_chain(quote, anchors, at))?;
    check_revocation(&pck, collateral, at, steps)?;
    steps.check(QE_REPORT_SIGNATURE, qe_report_signature(quote, &pck.key))?;
    steps.check(QE_BINDING, qe_binding(quote))?;
    steps.check(QUOTE_SIGNATURE, quote_signature(quote))?;
    match td_report {
        Some(report) => steps.check(TD_REPORT_MATCH, compare_td_report(quote, report))?,
        None => steps.not_evaluated(
            TD_REPORT_MATCH,
            "no TD report was given (an MAA request carries the quote alone): the runtime claims are bound to the quote's report_data",
        ),
    }
    steps.check(TD_ATTRIBUTES, td_attributes(quote))?;
    tcb_status(quote, anchors, collateral, at, steps)
}

/// Record a check that yields a value later steps need.
fn check_with<T>(steps: &mut Steps, name: &'static str, outcome: Result<(T, String), TdxError>) -> Option<T> {
    let (value, _) = steps.require(name, outcome, |(_, detail)| detail.clone())?;
    Some(value)
}

/// The Intel PKI's side of a certificate: its P-256 key and ECDSA signature.
impl Cert {
    fn from_intel_pem(pem: &str, what: &str) -> Result<Self, TdxError> {
        Cert::from_pem(pem).map_err(|error| TdxError::Certificate { what: what.to_owned(), error })
    }

    /// `CN=…` of the subject, as step details name Intel's certificates.
    pub(crate) fn subject(&self) -> String {
        format!("CN={}", self.common_name())
    }

    /// The same certificate, or another issuance with the same key (Intel reissued its root so).
    pub(crate) fn same_key_as(&self, other: &Cert) -> bool {
        self.der == other.der
            || self.x509.tbs_certificate.subject_public_key_info
                == other.x509.tbs_certificate.subject_public_key_info
    }

    pub(crate) fn key(&self) -> Result<VerifyingKey, TdxError> {
        let spki = &self.x509.tbs_certificate.subject_public_key_info;
        VerifyingKey::from_sec1_bytes(spki.subject_public_key.raw_bytes())
            .map_err(|_| TdxError::KeyNotP256 { subject: self.subject() })
    }

    /// The TBSCertificate exactly as received (the first element of the outer SEQUENCE).
    fn tbs_der(&self) -> Result<&[u8], TdxError> {
        self.signed_part()
            .map_err(|e| TdxError::NoSignedPart { subject: self.subject(), reason: e.to_string() })
    }

    /// Check that `issuer`'s key signed this certificate with ECDSA P-256/SHA-256.
    pub(crate) fn verify_signed_by(&self, issuer: &Cert) -> Result<(), TdxError> {
        let algorithm = &self.x509.signature_algorithm.oid;
        if *algorithm != ECDSA_WITH_SHA256 {
            return Err(TdxError::UnsupportedCertificateAlgorithm {
                subject: self.subject(),
                algorithm: algorithm.to_string(),
            });
        }
        let signature = Signature::from_der(self.x509.signature.raw_bytes())
            .map_err(|_| TdxError::MalformedCertificateSignature { subject: self.subject() })?;
        if crypto::verify_p256(&issuer.key()?, self.tbs_der()?, &signature) {
            Ok(())
        } else {
            Err(TdxError::CertificateSignature { subject: self.subject(), issuer: issuer.subject() })
        }
    }

    /// Whether basicConstraints says this certificate may sign others.
    fn is_ca(&self) -> bool {
        let extensions = self.x509.tbs_certificate.extensions.iter().flatten();
        extensions
            .filter(|extension| extension.extn_id == BasicConstraints::OID)
            .filter_map(|extension| BasicConstraints::from_der(extension.extn_value.as_bytes()).ok())
            .any(|constraints| constraints.ca)
    }
}

/// A PCK chain that verified to a pinned root.
struct PckChain {
    /// The PCK key, which signs the QE report.
    key: VerifyingKey,
    leaf: Cert,
    /// The PCK Platform or Processor CA.
    intermediate: Cert,
    /// The pinned root that signed the intermediate.
    root: Cert,
}

/// PCK leaf → intermediate CA → a pinned Intel root, each certificate valid at `at`.
fn pck_chain(quote: &TdQuote, anchors: &TrustAnchors, at: &DateTime) -> Result<(PckChain, String), TdxError> {
    let blocks = quote.pck_cert_chain_blocks();
    let (leaf, intermediate, root) = match blocks.as_slice() {
        [leaf, intermediate] => (leaf, intermediate, None),
        [leaf, intermediate, root] => (leaf, intermediate, Some(root)),
        other => return Err(TdxError::PckChainLength { count: other.len() }),
    };
    let leaf = Cert::from_intel_pem(leaf, "PCK chain certificate 1 (PCK)")?;
    let intermediate = Cert::from_intel_pem(intermediate, "PCK chain certificate 2 (intermediate CA)")?;
    let root = root.map(|pem| Cert::from_intel_pem(pem, "PCK chain certificate 3 (root)")).transpose()?;
    let pinned = pinned_root(anchors, &intermediate, root.as_ref())?;
    if !intermediate.is_ca() {
        return Err(TdxError::NotCa { subject: intermediate.subject() });
    }
    leaf.verify_signed_by(&intermediate)?;
    let key = leaf.key()?;
    for cert in [&leaf, &intermediate, &pinned] {
        cert.valid_at(at)?;
    }
    let detail =
        format!("{} ← {} ← {} (pinned Intel root)", leaf.subject(), intermediate.subject(), pinned.subject());
    Ok((PckChain { key, leaf, intermediate, root: pinned }, detail))
}

/// `tdx-revocation`: the root's CRL must not list the PCK CA, and the PCK CA's CRL must not list the
/// PCK. Each is checked when supplied; with neither the step is not evaluated, with one the detail
/// says which was not checked.
fn check_revocation(
    chain: &PckChain,
    collateral: &Collateral<'_>,
    at: &DateTime,
    steps: &mut Steps,
) -> Option<()> {
    let (root_crl, pck_crl) = (collateral.intel_root_crl, collateral.intel_pck_crl);
    if root_crl.is_none() && pck_crl.is_none() {
        steps.not_evaluated(
            REVOCATION,
            format!(
                "no Intel CRLs were supplied, so whether {} or {} is revoked is not checked; supply the Intel \
                 SGX Root CA's CRL and {}'s CRL (DER, from Intel's PCS) as `--collateral {}=FILE` and \
                 `--collateral {}=FILE`",
                chain.intermediate.subject(),
                chain.leaf.subject(),
                chain.intermediate.subject(),
                collateral::INTEL_ROOT_CRL,
                collateral::INTEL_PCK_CRL,
            ),
        );
        return Some(());
    }
    let root = intel_crl(collateral::INTEL_ROOT_CRL, root_crl, &chain.root, &chain.intermediate, at);
    let pck = intel_crl(collateral::INTEL_PCK_CRL, pck_crl, &chain.intermediate, &chain.leaf, at);
    let outcome = root.and_then(|root| pck.map(|pck| format!("{root}; {pck}")));
    steps.check(REVOCATION, outcome)
}

/// One Intel CRL's part of `tdx-revocation`: `issuer`'s CRL `name` does not list `subject`, or, when
/// it was not supplied, a note saying so.
fn intel_crl(
    name: &'static str,
    crl: Option<&[u8]>,
    issuer: &Cert,
    subject: &Cert,
    at: &DateTime,
) -> Result<String, TdxError> {
    let Some(crl) = crl else {
        return Ok(format!("`{name}` was not supplied, so {} was not checked against it", subject.subject()));
    };
    revocation::check(crl, issuer, subject, CrlAlgorithm::EcdsaP256Sha256, at)
        .map(|check| format!("`{name}`: {check}"))
        .map_err(|error| TdxError::Revocation { crl: name, error: Box::new(error) })
}

/// The pinned Intel root that signed `intermediate`. When the quote carries its own root, it must be
/// a pinned one or share its key.
fn pinned_root(
    anchors: &TrustAnchors,
    intermediate: &Cert,
    chain_root: Option<&Cert>,
) -> Result<Cert, TdxError> {
    if anchors.intel_roots().is_empty() {
        return Err(TdxError::NoIntelRoots);
    }
    let mut failures = Vec::new();
    for (index, pem) in anchors.intel_roots().iter().enumerate() {
        let pinned = Cert::from_intel_pem(pem, &format!("pinned Intel root {}", index + 1))?;
        if chain_root.is_some_and(|root| !root.same_key_as(&pinned)) {
            failures.push(TdxError::RootKeyDiffers { root: pinned.subject() });
            continue;
        }
        match intermediate.verify_signed_by(&pinned) {
            Ok(()) => return Ok(pinned),
            Err(why) => failures.push(why),
        }
    }
    Err(TdxError::NoPinnedRoot {
        intermediate: intermediate.subject(),
        pinned: anchors.intel_roots().len(),
        chain_root: chain_root.map(Cert::subject),
        failures,
    })
}

/// A quote's raw ECDSA P-256 key (x ‖ y) as a verifying key.
fn raw_key(xy: &[u8; 64]) -> Result<VerifyingKey, TdxError> {
    let sec1: Vec<u8> = [0x04].iter().chain(xy).copied().collect();
    VerifyingKey::from_sec1_bytes(&sec1).map_err(|_| TdxError::AttestationKeyNotP256)
}

/// The QE report, signed by the PCK key.
fn qe_report_signature(quote: &TdQuote, pck_key: &VerifyingKey) -> Result<String, TdxError> {
    let signature = Signature::from_slice(quote.qe_report_signature())
        .map_err(|_| TdxError::MalformedQeReportSignature)?;
    if !crypto::verify_p256(pck_key, quote.qe_report().bytes(), &signature) {
        return Err(TdxError::QeReportSignature);
    }
    Ok("the QE report is signed by the PCK certificate's key".to_owned())
}

/// The QE report's `report_data` binds the attestation key: SHA-256(key ‖ QE auth data) ‖ zeros.
fn qe_binding(quote: &TdQuote) -> Result<String, TdxError> {
    let expected =
        Sha256::new().chain_update(quote.attestation_key()).chain_update(quote.qe_auth_data()).finalize();
    let report_data = quote.qe_report().report_data;
    let (head, tail) = report_data.split_at(expected.len());
    if head != &expected[..] {
        return Err(TdxError::QeBindingMismatch { found: head.to_vec(), expected: expected.to_vec() });
    }
    if tail.iter().any(|&b| b != 0) {
        return Err(TdxError::QeReportDataPadding { found: tail.to_vec() });
    }
    Ok(format!(
        "QE report_data = SHA-256(attestation key ‖ {} bytes of QE auth data) ‖ zeros",
        quote.qe_auth_data().len()
    ))
}

/// The quote's header and body, signed by the attestation key.
fn quote_signature(quote: &TdQuote) -> Result<String, TdxError> {
    let key = raw_key(quote.attestation_key())?;
    let signature =
        Signature::from_slice(quote.signature()).map_err(|_| TdxError::MalformedQuoteSignature)?;
    let signed = quote.signed_bytes();
    if !crypto::verify_p256(&key, signed, &signature) {
        return Err(TdxError::QuoteSignature { signed_len: signed.len() });
    }
    Ok(format!(
        "the quote v{} header and body ({} bytes) are signed by the attestation key",
        quote.header().version,
        signed.len()
    ))
}

/// The quote's body and the HCL TD report describe the same TD: the fields the runtime claims and
/// the measured boot rest on.
pub fn compare_td_report(quote: &TdQuote, report: &TdReport) -> Result<String, TdxError> {
    let body = quote.body();
    if body.report_data != report.report_mac.report_data {
        return Err(TdxError::TdReportMismatch {
            field: "report_data",
            quote: body.report_data.to_vec(),
            report: report.report_mac.report_data.to_vec(),
        });
    }
    let registers: [(&str, &Measurement, &Measurement); 5] = [
        ("MRTD", &body.mrtd, &report.td_info.mrtd),
        ("RTMR0", &body.rtmr[0], &report.td_info.rtmr[0]),
        ("RTMR1", &body.rtmr[1], &report.td_info.rtmr[1]),
        ("RTMR2", &body.rtmr[2], &report.td_info.rtmr[2]),
        ("RTMR3", &body.rtmr[3], &report.td_info.rtmr[3]),
    ];
    for (name, in_quote, in_report) in registers {
        if in_quote != in_report {
            return Err(TdxError::TdReportMismatch {
                field: name,
                quote: in_quote.to_vec(),
                report: in_report.to_vec(),
            });
        }
    }
    Ok(format!("report_data, MRTD ({}…) and RTMR0-3 equal the TD report's", hex::encode(&body.mrtd[..8])))
}

/// The `tdx-td-attributes` check: the TD is not under debug (no bit of 7:0 set, DEBUG above all,
/// which lets the host read and write the TD's memory and registers). The detail names every
/// attribute bit that is set. Only meaningful once the quote signature verified.
pub fn td_attributes(quote: &TdQuote) -> Result<String, TdxError> {
    let attributes = quote.body().td_attributes.0;
    if attributes & UNDER_DEBUG != 0 {
        return Err(TdxError::UnderDebug { attributes });
    }
    Ok(format!(
        "TD attributes {attributes:#x}: not under debug (DEBUG and the rest of bits 7:0 clear); other bits \
         set: {}",
        other_attributes(attributes)
    ))
}

/// The bits set in `bits`, named: `DEBUG (bit 0), PERF_PROF (bit 5)`.
pub(crate) fn attribute_names(bits: u64) -> String {
    let named = |bit: u32| {
        let name = ATTRIBUTE_NAMES.iter().find(|(b, _)| *b == bit).map_or("unnamed", |(_, name)| name);
        format!("{name} (bit {bit})")
    };
    (0..64).filter(|bit| bits & (1 << bit) != 0).map(named).collect::<Vec<_>>().join(", ")
}

/// The attribute bits set outside 7:0, named, or `none`.
pub(crate) fn other_attributes(attributes: u64) -> String {
    let other = attributes & !UNDER_DEBUG;
    if other == 0 { "none".to_owned() } else { attribute_names(other) }
}

/// Why a TD under debug is not trusted: DEBUG itself, or another of bits 7:0.
pub(crate) fn debug_reason(attributes: u64) -> &'static str {
    if attributes & 1 != 0 {
        "the TD is in debug mode, so the host can read and change its memory and registers"
    } else {
        "bits 7:0 mark a TD under debug or profiling, which Intel's quote verification does not trust"
    }
}

/// `tdx-tcb-status`: Intel's verdict on the platform's TCB, from the collateral the quote does not
/// carry. Not evaluated without TCB Info; `Some(None)` then, `None` when the step failed.
fn tcb_status(
    quote: &TdQuote,
    anchors: &TrustAnchors,
    collateral: &Collateral<'_>,
    at: &DateTime,
    steps: &mut Steps,
) -> Option<Option<TcbVerdict>> {
    let Some(tcb_info) = collateral.tdx_tcb_info else {
        steps.not_evaluated(
            TCB_STATUS,
            format!(
                "TCB status needs Intel's TDX TCB Info for the platform's FMSPC (`{}`), its signing chain \
                 (`{}`) and the TD_QE identity (`{}`) as collateral; supply them with `--collateral NAME=FILE`",
                collateral::TDX_TCB_INFO,
                collateral::INTEL_TCB_SIGNING_CHAIN,
                collateral::TDX_QE_IDENTITY,
            ),
        );
        return Some(None);
    };
    let verdict = evaluate_tcb(quote, anchors, tcb_info, collateral, at);
    steps.require(TCB_STATUS, verdict, ToString::to_string).map(Some)
}

/// Verify the TCB collateral at `at` and evaluate the quote's TCB with it.
fn evaluate_tcb(
    quote: &TdQuote,
    anchors: &TrustAnchors,
    tcb_info: &[u8],
    collateral: &Collateral<'_>,
    at: &DateTime,
) -> Result<TcbVerdict, TdxError> {
    let (chain, qe_identity) = match (collateral.intel_tcb_signing_chain, collateral.tdx_qe_identity) {
        (Some(chain), Some(qe_identity)) => (chain, qe_identity),
        (chain, qe_identity) => {
            let missing =
                [(chain, collateral::INTEL_TCB_SIGNING_CHAIN), (qe_identity, collateral::TDX_QE_IDENTITY)];
            let missing = missing.into_iter().filter(|(given, _)| given.is_none()).map(|(_, name)| name);
            return Err(TdxError::IncompleteTcbCollateral { missing: missing.collect() });
        }
    };
    let chain = tcb_signing_chain(chain, anchors, at)?;
    let info = verified::<TcbInfo>(collateral::TDX_TCB_INFO, tcb_info, &chain, at)?;
    let identity = verified::<EnclaveIdentity>(collateral::TDX_QE_IDENTITY, qe_identity, &chain, at)?;
    Ok(tcb::evaluate_quote(&info, &identity, quote)?)
}

/// The TCB signing chain, leading to a pinned Intel root, each certificate valid at `at`.
fn tcb_signing_chain(pem: &[u8], anchors: &TrustAnchors, at: &DateTime) -> Result<TcbSigningChain, TdxError> {
    let collateral_error =
        |error| TdxError::TcbCollateral { name: collateral::INTEL_TCB_SIGNING_CHAIN, error: Arc::new(error) };
    let text = String::from_utf8_lossy(pem);
    let chain = TcbSigningChain::from_pem(&text, anchors.intel_roots()).map_err(collateral_error)?;
    chain.valid_at(at).map_err(TdxError::TcbSigningChainNotValid)?;
    Ok(chain)
}

/// A collateral document, parsed, signed by the chain's key and current at `at`.
fn verified<T: Document + Clone>(
    name: &'static str,
    json: &[u8],
    chain: &TcbSigningChain,
    at: &DateTime,
) -> Result<T, TdxError> {
    let document = Signed::<T>::parse(json).and_then(|signed| signed.verify_at(chain, at).cloned());
    document.map_err(|error| TdxError::TcbCollateral { name, error: Arc::new(error) })
}
