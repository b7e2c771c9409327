//! SEV-SNP attestation reports from real Azure CVMs and ACI.

use base64::Engine;
use cvm_attest_formats::ParseError;
use cvm_attest_formats::hcl::{HardwareReport, HclReport};
use cvm_attest_formats::snp::{Cpuid, FirmwareVersion, Generation, SnpReport, Tcb};
use proptest::prelude::*;

/// Raw 1184-byte report, version 2, Milan (ACI; its VCEK is in the THIM fixture).
const SIDECAR: &[u8] = include_bytes!("../../testdata/thim/sidecar-snp_report.bin");
const TRUSTEE_HCL: &[u8] = include_bytes!("../../testdata/tpm/trustee-milan-hcl-report.bin");
const KINVOLK_HCL: &[u8] = include_bytes!("../../testdata/azure-snp/kinvolk-hcl-report-snp.bin");
/// Trustee's evidence v1: an HCL report holding an SNP report version 3.
const EVIDENCE_V1: &str = include_str!("../../testdata/azure-snp/trustee-evidence-v1.json");
/// MAA's SevSnpVm example: a version-1 SNP report.
const MAA_SEVSNPVM_EXAMPLE: &str = include_str!("../../testdata/maa-rest-spec/AttestSevSnpVm.json");

const BASE64URL: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

fn milan(bootloader: u8, tee: u8, snp: u8, microcode: u8) -> Tcb {
    Tcb { bootloader, tee, snp, microcode, fmc: None }
}

fn report_in_hcl(hcl: &[u8]) -> SnpReport {
    match HclReport::parse(hcl).expect("fixture parses").hardware_report() {
        HardwareReport::Snp(report) => (**report).clone(),
        other => panic!("{other:?}"),
    }
}

fn v3_report_bytes() -> Vec<u8> {
    let evidence: serde_json::Value = serde_json::from_str(EVIDENCE_V1).expect("fixture is JSON");
    let hcl = BASE64URL.decode(evidence["hcl_report"].as_str().expect("hcl_report")).expect("base64url");
    hcl[0x20..0x20 + 1184].to_vec()
}

#[test]
fn parses_raw_sidecar_report_v2() {
    let report = SnpReport::parse(SIDECAR).unwrap();
    assert_eq!(report.as_bytes(), SIDECAR);
    assert_eq!(report.version(), 2);
    assert_eq!(report.guest_svn(), 2);
    assert_eq!(report.vmpl(), 0);
    assert_eq!(report.sig_algo(), 1);
    let policy = report.policy();
    assert_eq!(policy.0, 0x3001F);
    assert!(!policy.debug_allowed() && !policy.migrate_ma_allowed() && !policy.single_socket_required());
    assert!(policy.smt_allowed());
    assert_eq!((policy.abi_major(), policy.abi_minor()), (0, 0x1F));
    // The report the THIM document's tcbm 7308000000000003 was issued for.
    assert_eq!(report.reported_tcb(), milan(3, 0, 8, 115));
    assert_eq!(report.current_tcb(), milan(3, 0, 8, 115));
    assert_eq!(report.committed_tcb(), milan(3, 0, 8, 115));
    assert_eq!(report.launch_tcb(), milan(3, 0, 8, 115));
    assert_eq!(hex::encode(&report.chip_id()[..8]), "b12164b45a2a2742");
    assert_eq!(
        hex::encode(report.report_data()),
        "ee986ff2bd7e3f22e29f640918627816cf8e23b9d9c312767168eab68c861c71".to_owned() + &"00".repeat(32)
    );
    assert_eq!(hex::encode(&report.measurement()[..16]), "51068107cdc7ee3d89c7821b05bca614");
    assert_eq!(report.current_version(), FirmwareVersion { major: 1, minor: 52, build: 4 });
    assert_eq!(report.cpuid(), None);
    // Version 2 carries no CPUID: the VCEK's product name decides the generation.
    assert_eq!(report.processor_generation(), None);
    assert_eq!(report.signed_bytes(), &SIDECAR[..0x2A0]);
    let signature = report.signature();
    assert_eq!(signature.r[..], SIDECAR[0x2A0..0x2E8]);
    assert_eq!(signature.s[..], SIDECAR[0x2E8..0x330]);
}

#[test]
fn parses_trustee_milan_report_v2() {
    let report = report_in_hcl(TRUSTEE_HCL);
    assert_eq!((report.version(), report.guest_svn(), report.vmpl()), (2, 5, 0));
    assert_eq!(hex::encode(&report.chip_id()[..8]), "19752a447db501a3");
    assert_eq!(report.reported_tcb(), milan(3, 0, 8, 115));
    assert_eq!(report.current_tcb(), milan(3, 0, 8, 210));
    assert_eq!(report.committed_tcb(), milan(3, 0, 8, 115));
    assert_eq!(report.launch_tcb(), milan(3, 0, 8, 115));
    assert_eq!(report.family_id(), [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(report.image_id(), [2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(report.host_data(), [0; 32]);
    assert_eq!(report.current_version().to_string(), "1.52.4");
    assert_eq!(hex::encode(&report.signature().r[..8]), "185c0e2b4b0029cd");
    assert_eq!(hex::encode(&report.signature().s[..8]), "8a713a957b3d697b");
    assert!(!report.policy().debug_allowed());
    assert_eq!(report.processor_generation(), None);
}

#[test]
fn parses_kinvolk_report_v2() {
    let report = report_in_hcl(KINVOLK_HCL);
    assert_eq!(report.version(), 2);
    assert_eq!(hex::encode(&report.chip_id()[..8]), "3a5d5b1d059d193e");
    assert_eq!(report.reported_tcb(), milan(3, 0, 8, 115));
    assert_eq!(report.current_tcb(), milan(3, 0, 8, 206));
}

#[test]
fn parses_report_v3_with_cpuid() {
    let bytes = v3_report_bytes();
    let report = SnpReport::parse(&bytes).unwrap();
    assert_eq!((report.version(), report.guest_svn(), report.vmpl()), (3, 10, 0));
    assert_eq!(report.cpuid(), Some(Cpuid { family: 0x19, model: 0x01, stepping: 0x01 }));
    assert_eq!(report.processor_generation(), Some(Generation::Milan));
    for tcb in [report.reported_tcb(), report.current_tcb(), report.committed_tcb(), report.launch_tcb()] {
        assert_eq!(tcb, milan(4, 0, 24, 219));
    }
    assert_eq!(hex::encode(&report.chip_id()[..8]), "66a5a7b4403a3006");
    assert_eq!(report.current_version().to_string(), "1.55.29");
    assert_eq!(
        hex::encode(&report.report_data()[..32]),
        "af2910341dd8108360e485f1b72494255190b9cdd5ccb44b73b883037cf99f21"
    );
}

#[test]
fn maps_cpuid_to_generations() {
    let generation = |family, model| Generation::from_cpuid(Cpuid { family, model, stepping: 0 });
    assert_eq!(generation(0x19, 0x01), Some(Generation::Milan));
    assert_eq!(generation(0x19, 0x11), Some(Generation::Genoa));
    assert_eq!(generation(0x19, 0xA0), Some(Generation::Genoa));
    assert_eq!(generation(0x1A, 0x02), Some(Generation::Turin));
    assert_eq!(generation(0x17, 0x31), None);
    assert_eq!(Generation::Genoa.to_string(), "Genoa");
}

#[test]
fn rejects_wrong_sizes() {
    assert_eq!(
        SnpReport::parse(&SIDECAR[..1183]).unwrap_err(),
        ParseError::Truncated {
            structure: "SEV-SNP attestation report",
            field: "ATTESTATION_REPORT",
            offset: 0,
            needed: 1184,
            available: 1183
        }
    );
    let mut long = SIDECAR.to_vec();
    long.push(0);
    assert!(matches!(SnpReport::parse(&long), Err(ParseError::TrailingBytes { offset: 1184, count: 1, .. })));
}

#[test]
fn reads_version_1_reports_and_rejects_version_0() {
    // MAA's own SevSnpVm example carries a version-1 report (SNP firmware before 1.51).
    let example: serde_json::Value = serde_json::from_str(MAA_SEVSNPVM_EXAMPLE).unwrap();
    let report = BASE64URL.decode(example["parameters"]["body"]["report"].as_str().unwrap()).unwrap();
    let report: serde_json::Value = serde_json::from_slice(&report).unwrap();
    let mut snp = BASE64URL.decode(report["SnpReport"].as_str().unwrap()).unwrap();
    let parsed = SnpReport::parse(&snp).unwrap();
    assert_eq!(parsed.version(), 1);
    assert_eq!(parsed.as_bytes(), &snp[..], "the source bytes are kept, version included");
    assert_eq!(parsed.vmpl(), 0);

    snp[0] = 0;
    let err = SnpReport::parse(&snp).unwrap_err();
    assert_eq!(
        err.to_string(),
        "SEV-SNP attestation report: unsupported version 0 at offset 0 (supported: 1 and later)"
    );
}

#[test]
fn rejects_unknown_processors_and_masked_chip_ids() {
    let mut unknown_cpu = v3_report_bytes();
    unknown_cpu[0x188] = 0x17;
    match SnpReport::parse(&unknown_cpu).unwrap_err() {
        ParseError::InvalidField { field, offset, found, .. } => {
            assert_eq!((field, offset), ("cpuid_fam_id/cpuid_mod_id", 0x188));
            assert_eq!(found, "family 0x17, model 0x01");
        }
        other => panic!("{other:?}"),
    }

    let mut masked = SIDECAR.to_vec();
    masked[0x1A0..0x1E0].fill(0);
    match SnpReport::parse(&masked).unwrap_err() {
        ParseError::InvalidField { field, offset, found, .. } => {
            assert_eq!((field, offset), ("chip_id", 0x1A0));
            assert!(found.contains("MASK_CHIP_ID"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn reads_the_debug_policy_bit() {
    let mut debug = SIDECAR.to_vec();
    debug[0x08 + 2] |= 0x08; // bit 19
    let report = SnpReport::parse(&debug).unwrap();
    assert!(report.policy().debug_allowed());
    assert_eq!(report.policy().0, 0xB001F);
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 1184)) {
        let _ = SnpReport::parse(&bytes);
    }

    #[test]
    fn random_versioned_reports_never_panic(
        version in 0u32..8,
        mut bytes in prop::collection::vec(any::<u8>(), 1184),
    ) {
        bytes[..4].copy_from_slice(&version.to_le_bytes());
        if let Ok(report) = SnpReport::parse(&bytes) {
            let _ = (report.processor_generation(), report.reported_tcb(), report.signature());
        }
    }

    #[test]
    fn mutated_reports_never_panic(
        edits in prop::collection::vec((0usize..1184, any::<u8>()), 1..8),
        len in 0usize..1300,
        v3 in any::<bool>(),
    ) {
        let mut bytes = if v3 { v3_report_bytes() } else { SIDECAR.to_vec() };
        for (at, value) in edits {
            bytes[at] = value;
        }
        bytes.resize(len, 0);
        let _ = SnpReport::parse(&bytes);
    }
}
