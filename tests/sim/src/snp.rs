//! The SEV-SNP attestation report the simulated AMD firmware signs: a version-3 `ATTESTATION_REPORT`
//! (1184 bytes, AMD SEV-SNP ABI specification, "ATTESTATION_REPORT Structure"), signed with the test
//! VCEK (`testdata/pki/amd-test-vcek.key`).
//!
//! Every field the caller does not choose mirrors a real report from an Azure Milan CVM: the
//! version-3 report inside `formats/testdata/azure-snp/trustee-evidence-v1.json` (trustee's
//! `az-snp-vtpm/evidence-v1.json`), whose TCB (`DB18000000000004`) is the one the test VCEK certifies.
//! Only `report_data`, `measurement`, `report_id` and `chip_id` differ from it.

use p384::ecdsa::signature::Signer;
use p384::ecdsa::{Signature, SigningKey};
use p384::pkcs8::DecodePrivateKey;
use sha2::{Digest, Sha256};

use crate::pki;

/// Size of an `ATTESTATION_REPORT`.
pub const REPORT_SIZE: usize = 1184;
/// The signature covers bytes `[0, SIGNED_SIZE)`; the SIGNATURE field starts there.
pub const SIGNED_SIZE: usize = 0x2A0;

/// Report format version 3: the first to carry the CPUID family/model (0x188), from which the
/// verifier picks the processor generation, and so the pinned roots (`Generation::from_cpuid`).
pub const REPORT_VERSION: u32 = 3;

/// The guest policy Azure's paravisor launches with (every Azure sample: 0x3001F): ABI 0.31, SMT
/// allowed (bit 16), the reserved bit 17 that must be 1, no migration agent (bit 18), no debug
/// (bit 19), so `snp-policy` passes.
pub const POLICY: u64 = 0x3_001F;

/// Width of each little-endian signature scalar (r, s) in the SIGNATURE field.
const SCALAR_FIELD: usize = 72;
/// Bytes of a P-384 scalar.
const P384_SCALAR: usize = 48;

/// Guest SVN from the ID block: 10 in the real v3 report.
const GUEST_SVN: u32 = 10;
/// FAMILY_ID of the ID block, as in the real v3 report (Microsoft's paravisor ID block).
const FAMILY_ID: [u8; 16] = [0x02, 0x21, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
/// IMAGE_ID of the ID block, as in every Azure report (`02 00…`).
const IMAGE_ID: [u8; 16] = [0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
/// VMPL 0: the paravisor (HCL) requests the report, not the guest OS; `snp-policy` requires it.
const VMPL: u32 = 0;
/// SIGNATURE_ALGO 1: ECDSA P-384 with SHA-384, the only one SEV-SNP defines.
const SIGNATURE_ALGO: u32 = 1;
/// PLATFORM_INFO of the real v3 report: SMT enabled (bit 0), ECC memory (bit 2), alias check
/// complete (bit 5).
const PLATFORM_INFO: u64 = 0x25;
/// KEY_INFO 0: signed by the VCEK (SIGNING_KEY 0), no author key, chip key not masked; the verifier
/// refuses any other signing key.
const KEY_INFO: u32 = 0;
/// ID_KEY_DIGEST of the real v3 report: the digest of Microsoft's ID key, which signs the ID block
/// of Azure's paravisor (the same in every Azure Milan report seen).
const ID_KEY_DIGEST: [u8; 48] = [
    0x94, 0x2f, 0xd9, 0x3e, 0xbd, 0xe6, 0xea, 0x7a, 0x96, 0xef, 0xad, 0xea, 0xfc, 0x60, 0xf1, 0xc6, 0xb3,
    0xd1, 0x0e, 0x70, 0x3b, 0x1d, 0xaf, 0xd7, 0x55, 0x5b, 0x92, 0xf7, 0xf3, 0xd3, 0x2d, 0x0e, 0x00, 0x67,
    0x67, 0x64, 0x8c, 0xba, 0x5b, 0x10, 0x2a, 0xf3, 0xd6, 0x57, 0x56, 0xaf, 0x41, 0x77,
];
/// REPORT_ID_MA: all ones, "no migration agent", as in every Azure report.
const REPORT_ID_MA: [u8; 32] = [0xff; 32];
/// CPUID_FAM_ID, CPUID_MOD_ID, CPUID_STEP of the real v3 report: family 0x19 model 0x01 stepping 1
/// is Milan (B1), which the verifier reads to choose the Milan anchors.
const CPUID: [u8; 3] = [0x19, 0x01, 0x01];
/// CURRENT_BUILD, CURRENT_MINOR, CURRENT_MAJOR (and a reserved byte) of the real v3 report: SNP
/// firmware 1.55 build 29. The committed version is the same.
const FIRMWARE_VERSION: [u8; 4] = [0x1d, 0x37, 0x01, 0x00];

/// A signed version-3 SEV-SNP report carrying `report_data` (on Azure: SHA-256 of the HCL runtime
/// claims, then 32 zero bytes; see [`crate::hcl::report_data`]) and the launch `measurement`.
///
/// Its chip ID and every TCB field are those of the test VCEK ([`pki::CHIP_ID`],
/// [`pki::TCB_VERSION`]), so `snp-chip-id` and `snp-tcb` pass; the signature is made with the test
/// VCEK's key over bytes `[0, 0x2A0)`, so it verifies only under the test ARK/ASK.
pub fn snp_report(report_data: [u8; 64], measurement: [u8; 48]) -> Vec<u8> {
    let mut report = unsigned_report(report_data, measurement);
    let signature = vcek_key().sign(report.get(..SIGNED_SIZE).unwrap_or_default());
    report.truncate(SIGNED_SIZE);
    report.extend_from_slice(&signature_field(&signature));
    report
}

/// The report up to and including its (zero) SIGNATURE field, in AMD's field order.
fn unsigned_report(report_data: [u8; 64], measurement: [u8; 48]) -> Vec<u8> {
    let tcb = pki::TCB_VERSION.to_le_bytes();
    let mut r = Vec::with_capacity(REPORT_SIZE);
    r.extend_from_slice(&REPORT_VERSION.to_le_bytes()); // 0x000 VERSION
    r.extend_from_slice(&GUEST_SVN.to_le_bytes()); // 0x004 GUEST_SVN
    r.extend_from_slice(&POLICY.to_le_bytes()); // 0x008 POLICY
    r.extend_from_slice(&FAMILY_ID); // 0x010 FAMILY_ID
    r.extend_from_slice(&IMAGE_ID); // 0x020 IMAGE_ID
    r.extend_from_slice(&VMPL.to_le_bytes()); // 0x030 VMPL
    r.extend_from_slice(&SIGNATURE_ALGO.to_le_bytes()); // 0x034 SIGNATURE_ALGO
    r.extend_from_slice(&tcb); // 0x038 CURRENT_TCB
    r.extend_from_slice(&PLATFORM_INFO.to_le_bytes()); // 0x040 PLATFORM_INFO
    r.extend_from_slice(&KEY_INFO.to_le_bytes()); // 0x048 KEY_INFO
    r.extend_from_slice(&[0; 4]); // 0x04C reserved
    r.extend_from_slice(&report_data); // 0x050 REPORT_DATA
    r.extend_from_slice(&measurement); // 0x090 MEASUREMENT
    r.extend_from_slice(&[0; 32]); // 0x0C0 HOST_DATA: zero on Azure
    r.extend_from_slice(&ID_KEY_DIGEST); // 0x0E0 ID_KEY_DIGEST
    r.extend_from_slice(&[0; 48]); // 0x110 AUTHOR_KEY_DIGEST: no author key
    r.extend_from_slice(&report_id(&measurement)); // 0x140 REPORT_ID
    r.extend_from_slice(&REPORT_ID_MA); // 0x160 REPORT_ID_MA
    r.extend_from_slice(&tcb); // 0x180 REPORTED_TCB: what the VCEK was derived from
    r.extend_from_slice(&CPUID); // 0x188 CPUID_FAM_ID, CPUID_MOD_ID, CPUID_STEP
    r.extend_from_slice(&[0; 21]); // 0x18B reserved
    r.extend_from_slice(&pki::CHIP_ID); // 0x1A0 CHIP_ID: the test VCEK's hwID
    r.extend_from_slice(&tcb); // 0x1E0 COMMITTED_TCB
    r.extend_from_slice(&FIRMWARE_VERSION); // 0x1E8 CURRENT_BUILD/MINOR/MAJOR
    r.extend_from_slice(&FIRMWARE_VERSION); // 0x1EC COMMITTED_BUILD/MINOR/MAJOR
    r.extend_from_slice(&tcb); // 0x1F0 LAUNCH_TCB
    r.resize(REPORT_SIZE, 0); // 0x1F8 reserved, then the SIGNATURE field
    r
}

/// REPORT_ID: random per guest on real hardware and the same for the guest's lifetime. Derived here
/// from the launch measurement, so one simulated VM keeps one ID and outputs stay reproducible.
fn report_id(measurement: &[u8; 48]) -> [u8; 32] {
    Sha256::new().chain_update(b"cvm-attest-sim SNP REPORT_ID").chain_update(measurement).finalize().into()
}

/// The test VCEK's signing key.
fn vcek_key() -> SigningKey {
    // A compiled-in constant made by testdata/pki/make.sh (`openssl genpkey` P-384, PKCS#8 PEM), checked by
    // every test that signs a report: it cannot fail at run time.
    SigningKey::from_pkcs8_pem(pki::AMD_VCEK_KEY)
        .expect("testdata/pki/amd-test-vcek.key is a PKCS#8 P-384 key")
}

/// The 512-byte SIGNATURE field: r and s as little-endian integers zero-extended to 72 bytes each,
/// then 368 reserved zero bytes (AMD SEV-SNP ABI, "ECDSA P-384 with SHA-384 Signature"), the encoding
/// `formats::appraise::snp` reads back (and insists on).
fn signature_field(signature: &Signature) -> Vec<u8> {
    let (r, s) = signature.split_bytes();
    let mut field = Vec::with_capacity(REPORT_SIZE - SIGNED_SIZE);
    for scalar in [r, s] {
        field.extend(scalar.iter().rev());
        field.resize(field.len() + SCALAR_FIELD - P384_SCALAR, 0);
    }
    field.resize(REPORT_SIZE - SIGNED_SIZE, 0);
    field
}
