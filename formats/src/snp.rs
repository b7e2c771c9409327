//! AMD SEV-SNP attestation reports (`ATTESTATION_REPORT`, 1184 bytes), parsed by the `sev` crate.
//!
//! The `sev` crate owns the layout (report versions 2, 3 and later, and the TCB layout that changes
//! with the processor generation). This module checks the few things `sev` cannot explain well
//! itself, so a bad report fails with an error that names the field and offset, then exposes the
//! fields by their names in the SEV-SNP ABI specification. The exact source bytes are kept: the
//! report signature is computed over bytes `[0, 0x2A0)` of them, never over a re-encoding.

use std::fmt;

use sev::firmware::guest::AttestationReport;
use sev::parser::ByteParser;

use crate::ParseError;
use crate::reader::Reader;

/// Size of an SEV-SNP `ATTESTATION_REPORT`, in every report version.
pub const REPORT_SIZE: usize = 1184;

/// The report signature covers the report's bytes `[0, SIGNED_SIZE)`.
pub const SIGNED_SIZE: usize = 0x2A0;

const STRUCTURE: &str = "SEV-SNP attestation report";
const CPUID_FAMILY_OFFSET: usize = 0x188;
const CHIP_ID_OFFSET: usize = 0x1A0;

/// A parsed SEV-SNP attestation report with its exact source bytes.
///
/// Fields are read through methods so that the parsed values and the bytes a signature is checked
/// over can never disagree.
#[derive(Clone)]
pub struct SnpReport {
    bytes: Vec<u8>,
    /// As in the bytes (the sev crate's copy says 2 for a version-1 report).
    version: u32,
    report: AttestationReport,
}

impl fmt::Debug for SnpReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SnpReport")
            .field("version", &self.version())
            .field("vmpl", &self.vmpl())
            .field("policy", &self.policy())
            .field("reported_tcb", &self.reported_tcb())
            .field("chip_id", &hex::encode(self.chip_id()))
            .field("report_data", &hex::encode(self.report_data()))
            .finish_non_exhaustive()
    }
}

impl PartialEq for SnpReport {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}

impl Eq for SnpReport {}

impl SnpReport {
    /// Parse exactly one 1184-byte report.
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new(STRUCTURE, bytes);
        let report = Self::read(&mut r)?;
        r.finish()?;
        Ok(report)
    }

    /// Read a report at the reader's position (inside an HCL report, for instance), so errors carry
    /// offsets and the structure name of the outer input.
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, ParseError> {
        let start = r.offset();
        let bytes = r.take("ATTESTATION_REPORT", REPORT_SIZE)?;
        let mut fields = Reader::new(STRUCTURE, bytes);
        let version = fields.u32_le("version")?;
        if version < 1 {
            return Err(r.unsupported("version", start, version.to_string(), "1 and later"));
        }
        if version >= 3 {
            // The sev crate picks the TCB layout from CPUID family/model; say which values it refused.
            fields.skip("reserved", CPUID_FAMILY_OFFSET - 4)?;
            let family = fields.u8("cpuid_fam_id")?;
            let model = fields.u8("cpuid_mod_id")?;
            if let Err(err) = sev::Generation::identify_cpu(family, model) {
                return Err(r.invalid(
                    "cpuid_fam_id/cpuid_mod_id",
                    start + CPUID_FAMILY_OFFSET,
                    format!("a known SEV-SNP processor family/model ({err})"),
                    format!("family {family:#04x}, model {model:#04x}"),
                ));
            }
        } else {
            // A version-2 report has no CPUID fields; sev infers the TCB layout from chip_id, which a
            // guest policy with MASK_CHIP_ID zeroes.
            let mut at_chip_id = Reader::new(STRUCTURE, bytes);
            at_chip_id.skip("reserved", CHIP_ID_OFFSET)?;
            if at_chip_id.take("chip_id", 64)?.iter().all(|&b| b == 0) {
                return Err(r.invalid(
                    "chip_id",
                    start + CHIP_ID_OFFSET,
                    "a chip ID (the TCB layout of a version-2 report is inferred from it)",
                    "all zeros (MASK_CHIP_ID)",
                ));
            }
        }
        let report = if version == 1 {
            // Version 1 (SNP firmware before 1.51) has version 2's layout with fewer fields defined,
            // and those read as zero; the sev crate only knows 2 and later, so it reads a relabelled
            // copy. The source bytes are kept as they are: the signature covers them.
            let mut relabelled = bytes.to_vec();
            relabelled.splice(0..4, 2u32.to_le_bytes());
            AttestationReport::from_bytes(&relabelled)
        } else {
            AttestationReport::from_bytes(bytes)
        };
        let report = report.map_err(|err| {
            r.invalid("ATTESTATION_REPORT", start, "a report the sev crate accepts", err.to_string())
        })?;
        Ok(SnpReport { bytes: bytes.to_vec(), version, report })
    }

    /// The exact 1184 source bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The bytes the ECDSA P-384 / SHA-384 signature covers: `[0, 0x2A0)`.
    pub fn signed_bytes(&self) -> &[u8] {
        self.bytes.get(..SIGNED_SIZE).unwrap_or_default()
    }

    /// The `sev` crate's view, for signature and chain verification with `sev`.
    pub fn sev_report(&self) -> &AttestationReport {
        &self.report
    }

    /// Report format version (2 and 3 are seen on Azure).
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The guest SVN from the ID block.
    pub fn guest_svn(&self) -> u32 {
        self.report.guest_svn
    }

    /// The guest policy the VM was launched with.
    pub fn policy(&self) -> GuestPolicy {
        GuestPolicy(u64::from(self.report.policy))
    }

    /// Family ID from the ID block (Azure: `01 00 ..`).
    pub fn family_id(&self) -> [u8; 16] {
        self.report.family_id
    }

    /// Image ID from the ID block (Azure: `02 00 ..`).
    pub fn image_id(&self) -> [u8; 16] {
        self.report.image_id
    }

    /// The VMPL that requested the report (the Azure paravisor runs at VMPL 0).
    pub fn vmpl(&self) -> u32 {
        self.report.vmpl
    }

    /// Signature algorithm: 1 is ECDSA P-384 with SHA-384.
    pub fn sig_algo(&self) -> u32 {
        self.report.sig_algo
    }

    /// The platform's current TCB.
    pub fn current_tcb(&self) -> Tcb {
        Tcb::from(self.report.current_tcb)
    }

    /// PLATFORM_INFO bits (SMT enabled, TSME enabled, ...).
    pub fn platform_info(&self) -> u64 {
        u64::from(self.report.plat_info)
    }

    /// The key-information word at 0x48 (AUTHOR_KEY_EN, MASK_CHIP_KEY, SIGNING_KEY).
    pub fn key_info(&self) -> u32 {
        u32::from(self.report.key_info)
    }

    /// The 64 bytes the guest asked to be signed (on Azure: the runtime claims' digest, zero-padded).
    pub fn report_data(&self) -> [u8; 64] {
        self.report.report_data
    }

    /// Launch measurement.
    pub fn measurement(&self) -> [u8; 48] {
        self.report.measurement
    }

    /// Data the host supplied at launch (zero on Azure).
    pub fn host_data(&self) -> [u8; 32] {
        self.report.host_data
    }

    /// SHA-384 of the ID key that signed the ID block.
    pub fn id_key_digest(&self) -> [u8; 48] {
        self.report.id_key_digest
    }

    /// SHA-384 of the author key that certified the ID key (zero if none).
    pub fn author_key_digest(&self) -> [u8; 48] {
        self.report.author_key_digest
    }

    /// Report ID of this guest.
    pub fn report_id(&self) -> [u8; 32] {
        self.report.report_id
    }

    /// Report ID of the guest's migration agent.
    pub fn report_id_ma(&self) -> [u8; 32] {
        self.report.report_id_ma
    }

    /// The TCB the signing VCEK was derived from; the VCEK's SPL extensions must equal it.
    pub fn reported_tcb(&self) -> Tcb {
        Tcb::from(self.report.reported_tcb)
    }

    /// CPUID family, model and stepping (report version 3 and later).
    pub fn cpuid(&self) -> Option<Cpuid> {
        Some(Cpuid {
            family: self.report.cpuid_fam_id?,
            model: self.report.cpuid_mod_id?,
            stepping: self.report.cpuid_step?,
        })
    }

    /// The chip's unique ID; the VCEK's hwID extension must equal it.
    pub fn chip_id(&self) -> [u8; 64] {
        self.report.chip_id
    }

    /// The committed TCB.
    pub fn committed_tcb(&self) -> Tcb {
        Tcb::from(self.report.committed_tcb)
    }

    /// The current firmware version.
    pub fn current_version(&self) -> FirmwareVersion {
        FirmwareVersion::from(self.report.current)
    }

    /// The committed firmware version.
    pub fn committed_version(&self) -> FirmwareVersion {
        FirmwareVersion::from(self.report.committed)
    }

    /// The current TCB when the guest was launched.
    pub fn launch_tcb(&self) -> Tcb {
        Tcb::from(self.report.launch_tcb)
    }

    /// The report signature.
    pub fn signature(&self) -> EcdsaSignature {
        EcdsaSignature { r: *self.report.signature.r(), s: *self.report.signature.s() }
    }

    /// The processor generation, from the CPUID family/model fields.
    ///
    /// `None` for version-2 reports, which do not carry them (and for processors newer than
    /// Turin): then the VCEK's product-name extension (e.g. `Milan-B0`) decides which AMD root
    /// certificates apply.
    pub fn processor_generation(&self) -> Option<Generation> {
        Generation::from_cpuid(self.cpuid()?)
    }
}

/// A TCB version (`TCB_VERSION`): the security version numbers of each firmware component.
///
/// Milan and Genoa store them as bootloader, tee, 4 reserved bytes, snp, microcode; Turin adds the
/// FMC and moves the others (`fmc` is `Some` only there).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tcb {
    /// PSP bootloader SVN.
    pub bootloader: u8,
    /// PSP OS (TEE) SVN.
    pub tee: u8,
    /// SNP firmware SVN.
    pub snp: u8,
    /// Microcode patch level.
    pub microcode: u8,
    /// FMC firmware SVN (Turin and later).
    pub fmc: Option<u8>,
}

impl Tcb {
    /// Decode the Milan/Genoa layout: `[bootloader, tee, 0, 0, 0, 0, snp, microcode]`.
    pub fn from_milan_genoa_bytes(bytes: [u8; 8]) -> Self {
        let [bootloader, tee, _, _, _, _, snp, microcode] = bytes;
        Tcb { bootloader, tee, snp, microcode, fmc: None }
    }
}

impl From<sev::firmware::host::TcbVersion> for Tcb {
    fn from(t: sev::firmware::host::TcbVersion) -> Self {
        Tcb { bootloader: t.bootloader, tee: t.tee, snp: t.snp, microcode: t.microcode, fmc: t.fmc }
    }
}

impl fmt::Display for Tcb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(fmc) = self.fmc {
            write!(f, "fmc {fmc}, ")?;
        }
        write!(
            f,
            "bootloader {}, tee {}, snp {}, microcode {}",
            self.bootloader, self.tee, self.snp, self.microcode
        )
    }
}

/// The guest policy (`GUEST_POLICY`), a bit field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GuestPolicy(pub u64);

impl GuestPolicy {
    /// Minimum ABI minor version.
    pub fn abi_minor(self) -> u8 {
        (self.0 & 0xFF) as u8
    }

    /// Minimum ABI major version.
    pub fn abi_major(self) -> u8 {
        ((self.0 >> 8) & 0xFF) as u8
    }

    /// Bit 16: SMT allowed.
    pub fn smt_allowed(self) -> bool {
        self.bit(16)
    }

    /// Bit 18: association with a migration agent allowed.
    pub fn migrate_ma_allowed(self) -> bool {
        self.bit(18)
    }

    /// Bit 19: debugging allowed (the hypervisor can read and write guest memory). Must be clear
    /// for a confidential VM.
    pub fn debug_allowed(self) -> bool {
        self.bit(19)
    }

    /// Bit 20: the guest may run on a single socket only.
    pub fn single_socket_required(self) -> bool {
        self.bit(20)
    }

    fn bit(self, n: u32) -> bool {
        self.0 >> n & 1 == 1
    }
}

/// CPUID family, model and stepping as a version-3 report records them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cpuid {
    /// Combined extended family and family.
    pub family: u8,
    /// Combined extended model and model.
    pub model: u8,
    /// Stepping.
    pub stepping: u8,
}

/// An AMD EPYC generation with SEV-SNP; each has its own ARK and ASK.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Generation {
    /// 3rd generation EPYC (family 0x19, models 0x00-0x0F).
    Milan,
    /// 4th generation EPYC (family 0x19, models 0x10-0x1F and 0xA0-0xAF).
    Genoa,
    /// 5th generation EPYC (family 0x1A, models 0x00-0x11).
    Turin,
}

impl Generation {
    /// The generation of a CPUID family/model, as AMD's ABI and the sev crate map them.
    pub fn from_cpuid(cpuid: Cpuid) -> Option<Self> {
        match (cpuid.family, cpuid.model) {
            (0x19, 0x00..=0x0F) => Some(Generation::Milan),
            (0x19, 0x10..=0x1F | 0xA0..=0xAF) => Some(Generation::Genoa),
            (0x1A, 0x00..=0x11) => Some(Generation::Turin),
            _ => None,
        }
    }

    /// The product name AMD's key server and VCEK certificates use.
    pub fn name(self) -> &'static str {
        match self {
            Generation::Milan => "Milan",
            Generation::Genoa => "Genoa",
            Generation::Turin => "Turin",
        }
    }
}

impl fmt::Display for Generation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A firmware version (major.minor.build).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FirmwareVersion {
    /// Major version.
    pub major: u8,
    /// Minor version.
    pub minor: u8,
    /// Build number.
    pub build: u8,
}

impl From<sev::firmware::guest::Version> for FirmwareVersion {
    fn from(v: sev::firmware::guest::Version) -> Self {
        FirmwareVersion { major: v.major, minor: v.minor, build: v.build }
    }
}

impl fmt::Display for FirmwareVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.build)
    }
}

/// The report's ECDSA P-384 signature: `r` and `s` as little-endian integers, zero-extended to
/// 72 bytes (only the first 48 are significant).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct EcdsaSignature {
    /// The `r` component, little-endian.
    pub r: [u8; 72],
    /// The `s` component, little-endian.
    pub s: [u8; 72],
}

impl fmt::Debug for EcdsaSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EcdsaSignature")
            .field("r", &hex::encode(self.r))
            .field("s", &hex::encode(self.s))
            .finish()
    }
}
