//! SEV-SNP: VCEK chain to the pinned AMD roots, chip id, TCB, report signature, guest policy.
//!
//! The certificate links are RSA-PSS/SHA-384 and checked with the `sev` crate's [`Verifiable`]
//! impls. The report signature is checked with `p384` directly, because `sev` re-encodes the report
//! before hashing it, and a signature must cover the bytes that arrived, reserved fields included.
//! The VCEK's extensions (hwID, SPLs) are read with `x509-cert`, which `sev` does not expose.

use std::fmt;

use p384::ecdsa::signature::Verifier;
use sev::certs::snp::{Certificate as SevCertificate, Verifiable};
use x509_cert::der::Decode;
use x509_cert::der::asn1::{ObjectIdentifier, OctetStringRef};

use super::Steps;
use super::anchors::{AmdRoots, TrustAnchors};
use super::cert::Cert;
use crate::snp::{Generation, GuestPolicy, REPORT_SIZE, SIGNED_SIZE, SnpReport, Tcb};

// VCEK extensions, AMD's VCEK specification (57230) table 9.
const BOOTLOADER_SPL: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.1");
const TEE_SPL: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.2");
const SNP_SPL: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.3");
const MICROCODE_SPL: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.8");
const FMC_SPL: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.9");
const HW_ID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.4");

/// The step that refuses a debuggable guest; `x-ms-compliance-status` rests on it.
pub const POLICY: &str = "snp-policy";

/// `SIGNATURE_ALGO` 1: ECDSA P-384 with SHA-384, the only one SEV-SNP defines.
const ECDSA_P384_SHA384: u32 = 1;

const PEM_BEGIN: &str = "-----BEGIN CERTIFICATE-----";
const PEM_END: &str = "-----END CERTIFICATE-----";

/// Appraise an SNP report against its VCEK chain (PEM: VCEK, optionally ASK and ARK) and the pinned roots.
pub fn appraise(
    report: &SnpReport,
    vcek_chain_pem: Option<&str>,
    anchors: &TrustAnchors,
    steps: &mut Steps,
) -> Option<()> {
    let chain = verify_chain(report, vcek_chain_pem, anchors);
    steps.check("snp-vcek-chain", chain.as_ref().map(ToString::to_string).map_err(Clone::clone))?;
    let vcek = chain.ok()?.vcek;
    steps.check("snp-chip-id", check_chip_id(&vcek, report))?;
    steps.check("snp-tcb", check_tcb(&vcek, report))?;
    steps.check("snp-report-signature", check_signature(&vcek, report))?;
    steps.check(POLICY, check_policy(report.policy(), report.vmpl()))
}

/// Whether `issuer`'s key made `subject`'s RSA-PSS/SHA-384 signature.
fn signs(issuer: &Cert, subject: &Cert) -> Result<(), String> {
    rsa_pss_signs(issuer, subject)
        .map_err(|err| format!("{} is not signed by {} ({err})", subject.common_name(), issuer.common_name()))
}

/// [`signs`] with the bare reason, for callers that name the certificates their own way.
pub(super) fn rsa_pss_signs(issuer: &Cert, subject: &Cert) -> Result<(), String> {
    let issuer_cert = SevCertificate::from(issuer.x509.clone());
    let subject_cert = SevCertificate::from(subject.x509.clone());
    (&issuer_cert, &subject_cert).verify().map_err(|err| err.to_string())
}

/// The chain as the evidence carries it: VCEK first, then optionally its ASK and the ARK.
struct EvidenceChain {
    vcek: Cert,
    ask: Option<Cert>,
    ark: Option<Cert>,
}

impl EvidenceChain {
    fn parse(text: &str) -> Result<Self, String> {
        let mut certs = Vec::new();
        let mut rest = text;
        while let Some((_, after_begin)) = rest.split_once(PEM_BEGIN) {
            let position = certs.len() + 1;
            let (body, after_end) = after_begin
                .split_once(PEM_END)
                .ok_or_else(|| format!("certificate {position} of the VCEK chain has no `{PEM_END}`"))?;
            let cert = Cert::from_pem(&format!("{PEM_BEGIN}{body}{PEM_END}\n"))
                .map_err(|err| format!("certificate {position} of the VCEK chain is {err}"))?;
            certs.push(cert);
            rest = after_end;
        }
        let count = certs.len();
        let mut certs = certs.into_iter();
        match (certs.next(), certs.next(), certs.next(), certs.next()) {
            (Some(vcek), ask, ark, None) => Ok(EvidenceChain { vcek, ask, ark }),
            _ => Err(format!(
                "the VCEK chain holds {count} PEM certificates; expected the VCEK, optionally followed by \
                 its ASK and the ARK"
            )),
        }
    }

    /// Check VCEK → ASK → ARK against one generation's pinned roots. The ASK is the evidence's if
    /// it has one, else the pinned one; the ARK is always the pinned one.
    fn verify_to(&self, roots: &AmdRoots) -> Result<ChainPath, String> {
        let generation = roots.generation;
        let key = generation.name().to_lowercase();
        let ark = Cert::from_pem(&roots.ark_pem)
            .map_err(|err| format!("the pinned {generation} ARK (amd-ark-{key}) is {err}"))?;
        if let Some(theirs) = &self.ark
            && theirs.der != ark.der
        {
            return Err(format!(
                "the evidence's ARK ({}) is not the pinned {} byte for byte; remove it from the chain or \
                 trust the roots it belongs to",
                theirs.common_name(),
                ark.common_name()
            ));
        }
        let pinned_ask = Cert::from_pem(&roots.ask_pem)
            .map_err(|err| format!("the pinned {generation} ASK (amd-ask-{key}) is {err}"))?;
        let ask = self.ask.as_ref().unwrap_or(&pinned_ask);
        signs(ask, &self.vcek)?;
        // Pinned certificates are trusted as they are: built-in ones are AMD's, and operator ones were
        // checked (ARK self-signed, ASK signed by it) when the anchors were built; each check is an
        // RSA-4096 verification. An ASK that is not the pinned one byte for byte must be signed by
        // the pinned ARK.
        if ask.der != pinned_ask.der {
            signs(&ark, ask)?;
        }
        Ok(ChainPath {
            generation,
            ask: ask.common_name(),
            ask_pinned: ask.der == pinned_ask.der,
            ark: ark.common_name(),
        })
    }
}

/// Which certificates a verified chain went through.
struct ChainPath {
    generation: Generation,
    ask: String,
    ask_pinned: bool,
    ark: String,
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
            "{} → {ask}{ask_note} → {ark} (pinned); {generation} from {source}",
            self.vcek.common_name()
        )
    }
}

fn verify_chain(
    report: &SnpReport,
    vcek_chain_pem: Option<&str>,
    anchors: &TrustAnchors,
) -> Result<VerifiedChain, String> {
    let text = vcek_chain_pem.ok_or(
        "the evidence has no VCEK certificate; collect it with the report (IMDS THIM \
         /metadata/THIM/amd/certification on the VM, or AMD KDS by chip_id and reported_tcb)",
    )?;
    let evidence = EvidenceChain::parse(text)?;
    let (path, from_cpuid) = match report.processor_generation() {
        Some(generation) => {
            let roots = anchors.amd(generation).ok_or_else(|| {
                let key = generation.name().to_lowercase();
                format!(
                    "the report's CPUID says {generation}, but no {generation} roots are trusted; add the \
                     amd-ark-{key} and amd-ask-{key} anchors"
                )
            })?;
            (evidence.verify_to(roots).map_err(|err| format!("VCEK chain to {generation}: {err}"))?, true)
        }
        None => (search_generation(&evidence, anchors)?, false),
    };
    Ok(VerifiedChain { vcek: evidence.vcek, path, from_cpuid })
}

/// A report without CPUID (version 2) does not say its generation: take the first trusted one
/// whose roots the VCEK chains to.
fn search_generation(evidence: &EvidenceChain, anchors: &TrustAnchors) -> Result<ChainPath, String> {
    if anchors.amd_roots().is_empty() {
        return Err(
            "no AMD roots are trusted; add amd-ark-<generation> and amd-ask-<generation> anchors".to_owned()
        );
    }
    let mut reasons = Vec::new();
    for roots in anchors.amd_roots() {
        match evidence.verify_to(roots) {
            Ok(path) => return Ok(path),
            Err(why) => reasons.push(format!("{}: {why}", roots.generation)),
        }
    }
    Err(format!(
        "the VCEK chains to none of the trusted AMD roots (the report has no CPUID, so each was tried): {}",
        reasons.join("; ")
    ))
}

/// The VCEK is bound to one chip: its hwID must be the report's chip_id.
fn check_chip_id(vcek: &Cert, report: &SnpReport) -> Result<String, String> {
    let chip_id = report.chip_id();
    let hw_id = hw_id(vcek)?;
    if hw_id == chip_id {
        Ok(format!("VCEK hwID equals the report's chip_id {}", short_hex(&chip_id)))
    } else {
        Err(format!(
            "the VCEK's hwID {} is not the report's chip_id {}: the VCEK belongs to another chip; supply \
             this chip's VCEK (IMDS THIM on the VM, or AMD KDS by chip_id)",
            short_hex(&hw_id),
            short_hex(&chip_id)
        ))
    }
}

fn hw_id(vcek: &Cert) -> Result<[u8; 64], String> {
    let value = vcek.extension(HW_ID).ok_or(
        "the VCEK has no hwID extension (1.3.6.1.4.1.3704.1.4); VLEK-signed reports are not supported",
    )?;
    // AMD's KDS puts the 64 raw bytes in the extension; some issuers wrap them in an OCTET STRING.
    let bytes = match OctetStringRef::from_der(value) {
        Ok(inner) if value.len() != 64 => inner.as_bytes(),
        _ => value,
    };
    bytes.try_into().map_err(|_| format!("the VCEK's hwID is {} bytes, expected 64", bytes.len()))
}

/// The VCEK is derived from one TCB: its SPL extensions must be the report's reported_tcb.
fn check_tcb(vcek: &Cert, report: &SnpReport) -> Result<String, String> {
    let reported = report.reported_tcb();
    let certified = vcek_tcb(vcek)?;
    if certified == reported {
        Ok(format!("VCEK TCB equals the report's reported_tcb ({reported})"))
    } else {
        Err(format!(
            "the VCEK's TCB ({certified}) is not the report's reported_tcb ({reported}); supply the VCEK \
             issued for this reported_tcb"
        ))
    }
}

fn vcek_tcb(vcek: &Cert) -> Result<Tcb, String> {
    let spl = |name: &str, oid| -> Result<Option<u8>, String> {
        vcek.extension(oid)
            .map(|value| {
                u8::from_der(value)
                    .map_err(|err| format!("the VCEK's {name} ({oid}) is not a small INTEGER: {err}"))
            })
            .transpose()
    };
    let required =
        |name: &str, oid| spl(name, oid)?.ok_or_else(|| format!("the VCEK has no {name} extension ({oid})"));
    Ok(Tcb {
        bootloader: required("blSPL", BOOTLOADER_SPL)?,
        tee: required("teeSPL", TEE_SPL)?,
        snp: required("snpSPL", SNP_SPL)?,
        microcode: required("ucodeSPL", MICROCODE_SPL)?,
        fmc: spl("fmcSPL", FMC_SPL)?,
    })
}

/// ECDSA P-384/SHA-384 by the VCEK over the report's exact bytes `[0, 0x2A0)`.
fn check_signature(vcek: &Cert, report: &SnpReport) -> Result<String, String> {
    let algorithm = report.sig_algo();
    if algorithm != ECDSA_P384_SHA384 {
        return Err(format!(
            "the report's signature_algo is {algorithm}, expected 1 (ECDSA P-384 with SHA-384)"
        ));
    }
    // key_info bits 2..=4: 0 is the VCEK, 1 a VLEK, 7 no signature.
    let signing_key = (report.key_info() >> 2) & 0b111;
    if signing_key != 0 {
        return Err(format!(
            "the report's key_info says SIGNING_KEY {signing_key}, not 0 (VCEK); only VCEK-signed reports \
             are supported"
        ));
    }
    let public_key = vcek.x509.tbs_certificate.subject_public_key_info.subject_public_key.raw_bytes();
    let key = p384::ecdsa::VerifyingKey::from_sec1_bytes(public_key)
        .map_err(|_| format!("the VCEK's public key ({} bytes) is not a P-384 point", public_key.len()))?;
    let signature = canonical_signature(report.as_bytes())?;
    key.verify(report.signed_bytes(), &signature).map_err(|_| {
        "the report's ECDSA P-384/SHA-384 signature over bytes [0, 0x2A0) does not verify with the VCEK: \
         the report was altered, or signed by another chip or TCB"
            .to_owned()
    })?;
    Ok("ECDSA P-384/SHA-384 signature over the report's bytes [0, 0x2A0) verifies with the VCEK".to_owned())
}

/// The report's SIGNATURE field (0x2A0..0x4A0): r and s as 72-byte little-endian integers, then 368
/// reserved bytes (AMD SEV-SNP ABI, "ECDSA P-384 with SHA-384 Signature"). A P-384 scalar fills 48
/// bytes, so the top 24 of r and of s, and the reserved bytes, must be zero: bytes outside what the
/// signature covers that are free to change would give one report many valid encodings. `p384`
/// refuses an r or s that is zero or not below the group order. ECDSA's own malleability remains:
/// (r, n − s) verifies too, and AMD's firmware does not normalise s (genuine reports have high s),
/// so it cannot be refused; tell reports apart by their signed bytes, not their whole encoding.
fn canonical_signature(report: &[u8]) -> Result<p384::ecdsa::Signature, String> {
    const SCALAR: usize = 48;
    const FIELD: usize = 72;
    let field = report
        .get(SIGNED_SIZE..REPORT_SIZE)
        .ok_or_else(|| format!("the report is {} bytes, too short for its signature", report.len()))?;
    let (r, rest) = field.split_at_checked(FIELD).ok_or("the signature field is cut short")?;
    let (s, reserved) = rest.split_at_checked(FIELD).ok_or("the signature field is cut short")?;
    let mut big_endian = Vec::with_capacity(2 * SCALAR);
    for (name, value) in [("r", r), ("s", s)] {
        let (scalar, high) = value.split_at(SCALAR);
        if let Some(at) = high.iter().position(|&b| b != 0) {
            return Err(format!(
                "the report's signature is non-canonical: byte {} of {name} is {:#04x}, but bytes 48..72 of its \
                 72-byte little-endian field must be zero for P-384",
                SCALAR + at,
                high.get(at).copied().unwrap_or_default()
            ));
        }
        big_endian.extend(scalar.iter().rev());
    }
    if let Some(at) = reserved.iter().position(|&b| b != 0) {
        return Err(format!(
            "the report's signature is non-canonical: its reserved bytes (report offset {:#x}..{REPORT_SIZE:#x}) \
             must be zero, but offset {:#x} is not",
            SIGNED_SIZE + 2 * FIELD,
            SIGNED_SIZE + 2 * FIELD + at
        ));
    }
    p384::ecdsa::Signature::from_slice(&big_endian).map_err(|_| {
        "the report's signature is non-canonical: r or s is zero or not below the P-384 group order"
            .to_owned()
    })
}

/// A confidential VM's report must come from a guest the hypervisor cannot debug, and from the
/// paravisor at VMPL 0 (Azure's HCL), not from the less privileged guest OS.
fn check_policy(policy: GuestPolicy, vmpl: u32) -> Result<String, String> {
    let allowed = |bit: bool| if bit { "allowed" } else { "not allowed" };
    let seen = format!(
        "policy {:#x} (debug {}, migration agent {}, SMT {}), VMPL {vmpl}",
        policy.0,
        allowed(policy.debug_allowed()),
        allowed(policy.migrate_ma_allowed()),
        allowed(policy.smt_allowed()),
    );
    if policy.debug_allowed() {
        Err(format!(
            "{seen}: debugging is allowed (policy bit 19), so the hypervisor can read and write guest \
             memory; launch the VM with a policy that clears it"
        ))
    } else if vmpl != 0 {
        Err(format!(
            "{seen}: the report was requested at VMPL {vmpl}, not by the paravisor at VMPL 0; appraise the \
             HCL report from vTPM NV index 0x01400001"
        ))
    } else {
        Ok(seen)
    }
}

/// The first 8 bytes in hex: enough to tell chips apart in a message.
fn short_hex(bytes: &[u8]) -> String {
    format!("{}…", hex::encode(bytes.get(..8).unwrap_or(bytes)))
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
        let detail = check_policy(GuestPolicy(AZURE_POLICY.0 | 1 << 19), 0).unwrap_err();
        assert!(detail.starts_with("policy 0xb001f (debug allowed"), "{detail}");
        assert!(detail.contains("debugging is allowed (policy bit 19)"), "{detail}");
    }

    #[test]
    fn policy_rejects_reports_from_a_lower_vmpl() {
        let detail = check_policy(AZURE_POLICY, 2).unwrap_err();
        assert!(detail.contains("requested at VMPL 2, not by the paravisor at VMPL 0"), "{detail}");
    }
}
