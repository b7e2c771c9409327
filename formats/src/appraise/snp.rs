//! SEV-SNP: VCEK chain to the pinned AMD roots, its revocation, chip id, TCB, report signature, guest
//! policy.
//!
//! Every certificate of the chain (VCEK, ASK, ARK, pinned ones included) must be valid at the time
//! judged at (`Policy::at`). Revocation is checked against AMD's CRL for the generation when it is
//! supplied as `amd-crl` collateral: the ARK's CRL lists revoked ASKs (see [`revocation`]).
//!
//! The certificate links are RSA-PSS/SHA-384 over each TBSCertificate as it arrived, and the report
//! signature ECDSA P-384/SHA-384 over the report's bytes as they arrived, reserved fields included;
//! both go through [`crypto`] (the `sev` crate's checks re-encode what they hash). The VCEK's
//! extensions (hwID, SPLs) are read with `x509-cert`.

use std::fmt;

use rsa::RsaPublicKey;
use x509_cert::der::Decode;
use x509_cert::der::asn1::{ObjectIdentifier, OctetStringRef};
use x509_cert::der::referenced::OwnedToRef;

use super::anchors::{AmdRoots, TrustAnchors};
use super::cert::Cert;
use super::collateral::{self, Collateral};
use super::revocation::{self, CrlAlgorithm};
use super::show::short_hex;
use super::{SnpError, Steps};
use crate::crypto::{self, Hash, Scheme};
use crate::snp::{Generation, GuestPolicy, REPORT_SIZE, SIGNED_SIZE, SnpReport, Tcb};
use crate::time::DateTime;

// VCEK extensions, AMD's VCEK specification (57230) table 9.
const BOOTLOADER_SPL: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.1");
const TEE_SPL: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.2");
const SNP_SPL: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.3");
const MICROCODE_SPL: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.8");
const FMC_SPL: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.9");
const HW_ID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.4");
/// id-RSASSA-PSS (RFC 4055), the algorithm of AMD's certificates.
const RSASSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");

const VCEK_CHAIN: &str = "snp-vcek-chain";
const REVOCATION: &str = "snp-revocation";

/// The step that refuses a debuggable guest; `x-ms-compliance-status` rests on it.
pub const POLICY: &str = "snp-policy";

/// `SIGNATURE_ALGO` 1: ECDSA P-384 with SHA-384, the only one SEV-SNP defines.
const ECDSA_P384_SHA384: u32 = 1;

/// Where the reserved bytes of the report's SIGNATURE field start (after r and s, 72 bytes each).
pub(crate) const SIGNATURE_RESERVED: usize = SIGNED_SIZE + 2 * 72;

const PEM_BEGIN: &str = "-----BEGIN CERTIFICATE-----";
const PEM_END: &str = "-----END CERTIFICATE-----";

/// Appraise an SNP report against its VCEK chain (PEM: VCEK, optionally ASK and ARK) and the pinned
/// roots, as of `at`: the steps `snp-vcek-chain`, `snp-revocation` (not evaluated without the
/// `amd-crl` collateral), `snp-chip-id`, `snp-tcb`, `snp-report-signature` and `snp-policy`.
pub fn appraise(
    report: &SnpReport,
    vcek_chain_pem: Option<&str>,
    anchors: &TrustAnchors,
    collateral: &Collateral<'_>,
    at: &DateTime,
    steps: &mut Steps,
) -> Option<()> {
    let chain =
        steps.require(VCEK_CHAIN, verify_chain(report, vcek_chain_pem, anchors, at), ToString::to_string)?;
    check_revocation(&chain.path, collateral.amd_crl, at, steps)?;
    let vcek = chain.vcek;
    steps.check("snp-chip-id", check_chip_id(&vcek, report))?;
    steps.check("snp-tcb", check_tcb(&vcek, report))?;
    steps.check("snp-report-signature", check_signature(&vcek, report))?;
    steps.check(POLICY, check_policy(report.policy(), report.vmpl()))
}

/// Whether `issuer`'s key made `subject`'s RSA-PSS/SHA-384 signature.
fn signs(issuer: &Cert, subject: &Cert) -> Result<(), SnpError> {
    rsa_pss_signs(issuer, subject).map_err(|err| SnpError::NotSignedBy {
        subject: subject.common_name(),
        issuer: issuer.common_name(),
        reason: err,
    })
}

/// `snp-revocation`: AMD's CRL for the chain's generation, issued and signed (RSA-PSS/SHA-384) by
/// its ARK, must be current at `at` and must not list the chain's ASK. Only the ASK is looked up:
/// the ARK issues ASKs, and VCEKs are issued by the ASK, so the ARK's CRL cannot list a VCEK (AMD
/// publishes no CRL of the ASK).
fn check_revocation(path: &ChainPath, crl: Option<&[u8]>, at: &DateTime, steps: &mut Steps) -> Option<()> {
    let Some(crl) = crl else {
        let generation = path.generation;
        steps.not_evaluated(
            REVOCATION,
            format!(
                "no AMD CRL was supplied, so whether {} revoked {} is not checked; supply {generation}'s CRL \
                 (DER, https://kdsintf.amd.com/vcek/v1/{generation}/crl) as `--collateral {}=FILE`",
                path.ark.common_name(),
                path.ask.common_name(),
                collateral::AMD_CRL,
            ),
        );
        return Some(());
    };
    let outcome = revocation::check(crl, &path.ark, &path.ask, CrlAlgorithm::RsaPssSha384, at)
        .map(|check| format!("`{}`: {check}; VCEKs are not on it (the ASK issues them)", collateral::AMD_CRL))
        .map_err(|error| SnpError::Revocation { crl: collateral::AMD_CRL, error: Box::new(error) });
    steps.check(REVOCATION, outcome)
}

/// [`signs`] with only the reason, for callers that name the certificates their own way: AMD signs
/// with RSASSA-PSS, SHA-384, MGF1-SHA-384 and a 48-byte salt (a certificate with other parameters
/// does not verify).
pub(super) fn rsa_pss_signs(issuer: &Cert, subject: &Cert) -> Result<(), String> {
    let algorithm = subject.x509.signature_algorithm.oid;
    if algorithm != RSASSA_PSS {
        return Err(format!("its signature algorithm is {algorithm}, not RSASSA-PSS ({RSASSA_PSS})"));
    }
    let spki = issuer.x509.tbs_certificate.subject_public_key_info.owned_to_ref();
    let key =
        RsaPublicKey::try_from(spki).map_err(|err| format!("the issuer's key is not an RSA key ({err})"))?;
    let signed = subject.signed_part().map_err(|err| format!("its TBSCertificate is unreadable ({err})"))?;
    let signature = subject.x509.signature.raw_bytes();
    if crypto::verify_rsa(Scheme::RsaPss(Hash::Sha384), &key, signed, signature) {
        Ok(())
    } else {
        Err("its RSASSA-PSS/SHA-384 signature does not verify with the issuer's key".to_owned())
    }
}

/// The chain as the evidence carries it: VCEK first, then optionally its ASK and the ARK.
struct EvidenceChain {
    vcek: Cert,
    ask: Option<Cert>,
    ark: Option<Cert>,
}

impl EvidenceChain {
    fn parse(text: &str) -> Result<Self, SnpError> {
        let mut certs = Vec::new();
        let mut rest = text;
        while let Some((_, after_begin)) = rest.split_once(PEM_BEGIN) {
            let position = certs.len() + 1;
            let (body, after_end) =
                after_begin.split_once(PEM_END).ok_or(SnpError::UnterminatedCertificate { position })?;
            let cert = Cert::from_pem(&format!("{PEM_BEGIN}{body}{PEM_END}\n"))
                .map_err(|error| SnpError::ChainCertificate { position, error })?;
            certs.push(cert);
            rest = after_end;
        }
        let count = certs.len();
        let mut certs = certs.into_iter();
        match (certs.next(), certs.next(), certs.next(), certs.next()) {
            (Some(vcek), ask, ark, None) => Ok(EvidenceChain { vcek, ask, ark }),
            _ => Err(SnpError::ChainLength { count }),
        }
    }

    /// Check VCEK → ASK → ARK against one generation's pinned roots. The ASK is the evidence's if
    /// it has one, else the pinned one; the ARK is always the pinned one.
    fn verify_to(&self, roots: &AmdRoots) -> Result<ChainPath, SnpError> {
        let generation = roots.generation;
        let pinned = |role, pem: &str| {
            Cert::from_pem(pem).map_err(|error| SnpError::PinnedCertificate { generation, role, error })
        };
        let ark = pinned("ARK", &roots.ark_pem)?;
        if let Some(theirs) = &self.ark
            && theirs.der != ark.der
        {
            return Err(SnpError::ArkNotPinned { evidence: theirs.common_name(), pinned: ark.common_name() });
        }
        let pinned_ask = pinned("ASK", &roots.ask_pem)?;
        let ask = self.ask.as_ref().unwrap_or(&pinned_ask);
        signs(ask, &self.vcek)?;
        // Pinned certificates are trusted as they are: built-in ones are AMD's, and operator ones were
        // checked (ARK self-signed, ASK signed by it) when the anchors were built; each check is an
        // RSA-4096 verification. An ASK that is not the pinned one byte for byte must be signed by
        // the pinned ARK.
        if ask.der != pinned_ask.der {
            signs(&ark, ask)?;
        }
        let ask_pinned = ask.der == pinned_ask.der;
        let ask = Cert { der: ask.der.clone(), x509: ask.x509.clone() };
        Ok(ChainPath { generation, ask, ask_pinned, ark })
    }
}

/// Which certificates a verified chain went through.
struct ChainPath {
    generation: Generation,
    ask: Cert,
    ask_pinned: bool,
    ark: Cert,
}

impl ChainPath {
    /// The chain is judged as of `at`: every certificate of it must be valid then.
    fn check_valid_at(&self, vcek: &Cert, at: &DateTime) -> Result<(), SnpError> {
        for cert in [vcek, &self.ask, &self.ark] {
            cert.valid_at(at)?;
        }
        Ok(())
    }
}

/// A VCEK chained to a pinned ARK, and how its generation was chosen.
struct VerifiedChain {
    vcek: Cert,
    path: ChainPath,
    /// The generation came from the report's CPUID, not from trying each trusted one.
    from_cpuid: bool,
}

impl fmt::Display for VerifiedChain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ChainPath { generation, ask, ask_pinned, ark } = &self.path;
        let ask_note = if *ask_pinned { " (pinned)" } else { "" };
        let source = if self.from_cpuid {
            "the report's CPUID"
        } else {
            "the pinned ASK that signed the VCEK (the report has no CPUID)"
        };
        write!(
            f,
            "{} → {}{ask_note} → {} (pinned); {generation} from {source}",
            self.vcek.common_name(),
            ask.common_name(),
            ark.common_name()
        )
    }
}

fn verify_chain(
    report: &SnpReport,
    vcek_chain_pem: Option<&str>,
    anchors: &TrustAnchors,
    at: &DateTime,
) -> Result<VerifiedChain, SnpError> {
    let text = vcek_chain_pem.ok_or(SnpError::MissingVcek)?;
    let evidence = EvidenceChain::parse(text)?;
    let (path, from_cpuid) = match report.processor_generation() {
        Some(generation) => {
            let roots = anchors.amd(generation).ok_or(SnpError::GenerationNotTrusted { generation })?;
            let path = evidence
                .verify_to(roots)
                .map_err(|error| SnpError::ChainToGeneration { generation, error: Box::new(error) })?;
            (path, true)
        }
        None => (search_generation(&evidence, anchors)?, false),
    };
    path.check_valid_at(&evidence.vcek, at)?;
    Ok(VerifiedChain { vcek: evidence.vcek, path, from_cpuid })
}

/// A report without CPUID (version 2) does not say its generation: take the first trusted one
/// whose roots the VCEK chains to.
fn search_generation(evidence: &EvidenceChain, anchors: &TrustAnchors) -> Result<ChainPath, SnpError> {
    if anchors.amd_roots().is_empty() {
        return Err(SnpError::NoAmdRoots);
    }
    let mut attempts = Vec::new();
    for roots in anchors.amd_roots() {
        match evidence.verify_to(roots) {
            Ok(path) => return Ok(path),
            Err(why) => attempts.push((roots.generation, why)),
        }
    }
    Err(SnpError::NoGenerationChains { attempts })
}

/// The VCEK is bound to one chip: its hwID must be the report's chip_id.
fn check_chip_id(vcek: &Cert, report: &SnpReport) -> Result<String, SnpError> {
    let chip_id = report.chip_id();
    let hw_id = hw_id(vcek)?;
    if hw_id == chip_id {
        Ok(format!("VCEK hwID equals the report's chip_id {}", short_hex(&chip_id)))
    } else {
        Err(SnpError::ChipIdMismatch { hw_id: hw_id.to_vec(), chip_id: chip_id.to_vec() })
    }
}

fn hw_id(vcek: &Cert) -> Result<[u8; 64], SnpError> {
    let value = vcek.extension(HW_ID).ok_or(SnpError::MissingHwId)?;
    // AMD's KDS puts the 64 raw bytes in the extension; some issuers wrap them in an OCTET STRING.
    let bytes = match OctetStringRef::from_der(value) {
        Ok(inner) if value.len() != 64 => inner.as_bytes(),
        _ => value,
    };
    bytes.try_into().map_err(|_| SnpError::HwIdLength { len: bytes.len() })
}

/// The VCEK is derived from one TCB: its SPL extensions must be the report's reported_tcb.
fn check_tcb(vcek: &Cert, report: &SnpReport) -> Result<String, SnpError> {
    let reported = report.reported_tcb();
    let certified = vcek_tcb(vcek)?;
    if certified == reported {
        Ok(format!("VCEK TCB equals the report's reported_tcb ({reported})"))
    } else {
        Err(SnpError::TcbMismatch { vcek: certified, reported })
    }
}

fn vcek_tcb(vcek: &Cert) -> Result<Tcb, SnpError> {
    let spl = |name: &'static str, oid: ObjectIdentifier| -> Result<Option<u8>, SnpError> {
        vcek.extension(oid)
            .map(|value| {
                u8::from_der(value).map_err(|err| SnpError::InvalidSpl {
                    name,
                    oid: oid.to_string(),
                    reason: err.to_string(),
                })
            })
            .transpose()
    };
    let required = |name, oid: ObjectIdentifier| {
        spl(name, oid)?.ok_or_else(|| SnpError::MissingSpl { name, oid: oid.to_string() })
    };
    Ok(Tcb {
        bootloader: required("blSPL", BOOTLOADER_SPL)?,
        tee: required("teeSPL", TEE_SPL)?,
        snp: required("snpSPL", SNP_SPL)?,
        microcode: required("ucodeSPL", MICROCODE_SPL)?,
        fmc: spl("fmcSPL", FMC_SPL)?,
    })
}

/// ECDSA P-384/SHA-384 by the VCEK over the report's exact bytes `[0, 0x2A0)`.
fn check_signature(vcek: &Cert, report: &SnpReport) -> Result<String, SnpError> {
    let algorithm = report.sig_algo();
    if algorithm != ECDSA_P384_SHA384 {
        return Err(SnpError::UnsupportedSignatureAlgorithm { found: algorithm });
    }
    // key_info bits 2..=4: 0 is the VCEK, 1 a VLEK, 7 no signature.
    let signing_key = (report.key_info() >> 2) & 0b111;
    if signing_key != 0 {
        return Err(SnpError::UnsupportedSigningKey { found: signing_key });
    }
    let public_key = vcek.x509.tbs_certificate.subject_public_key_info.subject_public_key.raw_bytes();
    let key = p384::ecdsa::VerifyingKey::from_sec1_bytes(public_key)
        .map_err(|_| SnpError::VcekKeyNotP384 { len: public_key.len() })?;
    let signature = canonical_signature(report.as_bytes())?;
    if !crypto::verify_p384(&key, report.signed_bytes(), &signature) {
        return Err(SnpError::ReportSignature);
    }
    Ok("ECDSA P-384/SHA-384 signature over the report's bytes [0, 0x2A0) verifies with the VCEK".to_owned())
}

/// The report's SIGNATURE field (0x2A0..0x4A0): r and s as 72-byte little-endian integers, then 368
/// reserved bytes (AMD SEV-SNP ABI, "ECDSA P-384 with SHA-384 Signature"). A P-384 scalar fills 48
/// bytes, so the top 24 of r and of s, and the reserved bytes, must be zero: bytes outside what the
/// signature covers that are free to change would give one report many valid encodings. `p384`
/// refuses an r or s that is zero or not below the group order. ECDSA's own malleability remains:
/// (r, n − s) verifies too, and AMD's firmware does not normalise s (genuine reports have high s),
/// so it cannot be refused; tell reports apart by their signed bytes, not their whole encoding.
fn canonical_signature(report: &[u8]) -> Result<p384::ecdsa::Signature, SnpError> {
    const SCALAR: usize = 48;
    const FIELD: usize = 72;
    let field = report.get(SIGNED_SIZE..REPORT_SIZE).ok_or(SnpError::ReportTooShort { len: report.len() })?;
    let (r, rest) = field.split_at_checked(FIELD).ok_or(SnpError::SignatureFieldShort)?;
    let (s, reserved) = rest.split_at_checked(FIELD).ok_or(SnpError::SignatureFieldShort)?;
    let mut big_endian = Vec::with_capacity(2 * SCALAR);
    for (name, value) in [("r", r), ("s", s)] {
        let (scalar, high) = value.split_at(SCALAR);
        if let Some(at) = high.iter().position(|&b| b != 0) {
            return Err(SnpError::NonCanonicalScalar {
                scalar: name,
                byte: SCALAR + at,
                value: high.get(at).copied().unwrap_or_default(),
            });
        }
        big_endian.extend(scalar.iter().rev());
    }
    if let Some(at) = reserved.iter().position(|&b| b != 0) {
        return Err(SnpError::NonZeroReserved { offset: SIGNATURE_RESERVED + at });
    }
    p384::ecdsa::Signature::from_slice(&big_endian).map_err(|_| SnpError::ScalarOutOfRange)
}

/// A confidential VM's report must come from a guest the hypervisor cannot debug, and from the
/// paravisor at VMPL 0 (Azure's HCL), not from the less privileged guest OS.
fn check_policy(policy: GuestPolicy, vmpl: u32) -> Result<String, SnpError> {
    if policy.debug_allowed() {
        Err(SnpError::DebugAllowed { policy, vmpl })
    } else if vmpl != 0 {
        Err(SnpError::NotVmpl0 { policy, vmpl })
    } else {
        Ok(describe_policy(policy, vmpl))
    }
}

/// The guest policy's bits that matter and the VMPL, as `snp-policy` reports them.
pub(crate) fn describe_policy(policy: GuestPolicy, vmpl: u32) -> String {
    let allowed = |bit: bool| if bit { "allowed" } else { "not allowed" };
    format!(
        "policy {:#x} (debug {}, migration agent {}, SMT {}), VMPL {vmpl}",
        policy.0,
        allowed(policy.debug_allowed()),
        allowed(policy.migrate_ma_allowed()),
        allowed(policy.smt_allowed()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Azure's paravisor launches with 0x3001F: ABI 0.31, SMT allowed, reserved bit 17, no debug.
    const AZURE_POLICY: GuestPolicy = GuestPolicy(0x3001F);

    #[test]
    fn policy_accepts_azure_paravisor_reports() {
        let detail = check_policy(AZURE_POLICY, 0).unwrap();
        assert_eq!(
            detail,
            "policy 0x3001f (debug not allowed, migration agent not allowed, SMT allowed), VMPL 0"
        );
    }

    #[test]
    fn policy_rejects_debug() {
        let error = check_policy(GuestPolicy(AZURE_POLICY.0 | 1 << 19), 0).unwrap_err();
        assert!(matches!(error, SnpError::DebugAllowed { vmpl: 0, .. }), "{error:?}");
        let detail = error.to_string();
        assert!(detail.starts_with("policy 0xb001f (debug allowed"), "{detail}");
        assert!(detail.contains("debugging is allowed (policy bit 19)"), "{detail}");
    }

    #[test]
    fn policy_rejects_reports_from_a_lower_vmpl() {
        let error = check_policy(AZURE_POLICY, 2).unwrap_err();
        assert_eq!(error, SnpError::NotVmpl0 { policy: AZURE_POLICY, vmpl: 2 });
        let detail = error.to_string();
        assert!(detail.contains("requested at VMPL 2, not by the paravisor at VMPL 0"), "{detail}");
    }
}
