//! HCL reports from real Azure CVMs: layout, binding, runtime claims, tampering, truncation.

use base64::Engine;
use cvm_attest_formats::ParseError;
use cvm_attest_formats::hcl::{BindingError, HardwareReport, HclReport, ReportType, RuntimeClaims};
use cvm_attest_formats::tpm::HashAlg;
use proptest::prelude::*;
use sha2::Digest;

/// SEV-SNP, Milan, SNP report v2, header v1, 2600 bytes (trustee az-snp-vtpm test data).
const TRUSTEE_SNP: &[u8] = include_bytes!("../../testdata/tpm/trustee-milan-hcl-report.bin");
/// SEV-SNP, older host: 2048 bytes, no `user-data`, `current-time` present.
const KINVOLK_SNP: &[u8] = include_bytes!("../../testdata/azure-snp/kinvolk-hcl-report-snp.bin");
/// TDX, header v2 (trustee az-tdx-vtpm test data; same TD as trustee-td-quote.bin).
const TRUSTEE_TDX: &[u8] = include_bytes!("../../testdata/azure-tdx/trustee-hcl-report-tdx.bin");
const KINVOLK_TDX: &[u8] = include_bytes!("../../testdata/azure-tdx/kinvolk-hcl-report-tdx.bin");
/// Named `snp_hcl_report.bin` upstream, but a TDX report.
const CVMTOOLS_TDX: &[u8] = include_bytes!("../../testdata/azure-tdx/cvmtools-snp_hcl_report.bin");
const MAA_SEVSNPVM_EXAMPLE: &str = include_str!("../../testdata/maa-rest-spec/AttestSevSnpVm.json");

const ALL: [(&str, &[u8]); 5] = [
    ("trustee-milan-hcl-report.bin", TRUSTEE_SNP),
    ("kinvolk-hcl-report-snp.bin", KINVOLK_SNP),
    ("trustee-hcl-report-tdx.bin", TRUSTEE_TDX),
    ("kinvolk-hcl-report-tdx.bin", KINVOLK_TDX),
    ("cvmtools-snp_hcl_report.bin", CVMTOOLS_TDX),
];

const RUNTIME_CLAIMS: usize = 0x4D4;
const SNP_REPORT_DATA: usize = 0x20 + 0x50;
const TD_REPORT_DATA: usize = 0x20 + 0x80;

fn runtime_json(bytes: &[u8]) -> &[u8] {
    let size = u32::from_le_bytes(bytes[0x4D0..0x4D4].try_into().expect("4 bytes")) as usize;
    &bytes[RUNTIME_CLAIMS..RUNTIME_CLAIMS + size]
}

fn put_u32(bytes: &mut [u8], offset: usize, value: u32) {
    bytes[offset..offset + 4].copy_from_slice(&value.to_le_bytes());
}

#[test]
fn parses_trustee_snp_report() {
    let hcl = HclReport::parse(TRUSTEE_SNP).unwrap();
    let header = hcl.header();
    assert_eq!((header.version, header.report_size, header.request_type, header.status), (1, 2346, 2, 0));
    let runtime = hcl.runtime_claims_header();
    assert_eq!(runtime.report_type, ReportType::Snp);
    assert_eq!(runtime.hash_type, HashAlg::Sha256);
    assert_eq!((runtime.data_size, runtime.version, runtime.variable_data_size), (1130, 1, 1110));
    assert_eq!(hcl.runtime_claims_json(), runtime_json(TRUSTEE_SNP));
    assert_eq!(hcl.as_bytes(), TRUSTEE_SNP);

    let HardwareReport::Snp(snp) = hcl.hardware_report() else { panic!("not SNP") };
    assert_eq!(snp.version(), 2);
    assert_eq!(snp.as_bytes(), &TRUSTEE_SNP[0x20..0x20 + 1184]);
    assert_eq!(hex::encode(&snp.chip_id()[..8]), "19752a447db501a3");

    let report_data = hcl.report_data().unwrap();
    assert_eq!(
        hex::encode(&report_data[..32]),
        "b3fbad6514c83caeb0380882145e49f794229ef37c421b91fc47ff93556bafac"
    );
    assert_eq!(hcl.runtime_claims_hash(), report_data[..32]);
    hcl.verify_binding().unwrap();

    let claims = hcl.runtime_claims().unwrap();
    let kids: Vec<&str> = claims.keys.iter().map(|k| k.kid.as_str()).collect();
    assert_eq!(kids, ["HCLAkPub", "HCLEkPub"]);
    let ak = claims.ak_pub().unwrap();
    assert_eq!(ak.kty, "RSA");
    assert_eq!(ak.key_ops, ["sign"]);
    let n = ak.n.as_deref().unwrap();
    assert_eq!((n.len(), hex::encode(&n[..4])), (256, "a91ecba8".to_owned()));
    assert_eq!(ak.e.as_deref(), Some(&[1, 0, 1][..]));
    let vm = &claims.vm_configuration;
    assert!(vm.secure_boot && vm.tpm_enabled);
    assert_eq!(vm.console_enabled, Some(true));
    assert_eq!(vm.vm_unique_id, "911B0EF8-9DBA-48B0-B275-4E4DF2D39252");
    assert_eq!(vm.current_time, None);
    assert_eq!(claims.user_data, Some([0; 64]));
}

#[test]
fn parses_older_2048_byte_snp_report() {
    assert_eq!(KINVOLK_SNP.len(), 2048);
    let hcl = HclReport::parse(KINVOLK_SNP).unwrap();
    assert_eq!((hcl.header().version, hcl.header().report_size), (1, 1819));
    assert_eq!(hcl.runtime_claims_header().variable_data_size, 583);
    assert_eq!(
        hex::encode(hcl.runtime_claims_hash()),
        "1d0a466a9eed975e88f889f7aed4abc1c97e87c4f43e5e3478c9a4a5853cbd7d"
    );
    hcl.verify_binding().unwrap();
    let claims = hcl.runtime_claims().unwrap();
    assert_eq!(claims.keys.len(), 1);
    assert_eq!(claims.ak_pub().unwrap().key_ops, ["encrypt"]);
    assert_eq!(claims.vm_configuration.current_time, Some(1678652405));
    assert_eq!(claims.vm_configuration.vm_unique_id, "BAEFD3E1-184B-4C4C-AB88-0BDAD260505F");
    assert_eq!(claims.user_data, None);
}

#[test]
fn parses_tdx_reports() {
    let expected = [
        (TRUSTEE_TDX, 2437, "9734504f161d104c74e3165c15f779b06a9bb40dfa71937817d7eee68e593839", "c89b1782"),
        (KINVOLK_TDX, 2438, "e8f0796193ba21d6d43d2ea4bb6e4081ce4920729b348f39099cd2f65ecb6170", "b207a815"),
        (CVMTOOLS_TDX, 2418, "07bbc6d96c02eef864e542634b8aa7245d4a854313cd759e4620589817182edb", "d2d32018"),
    ];
    for (bytes, report_size, digest, ak_prefix) in expected {
        let hcl = HclReport::parse(bytes).unwrap();
        assert_eq!((hcl.header().version, hcl.header().report_size), (2, report_size));
        assert_eq!(hcl.report_type(), ReportType::Tdx);
        let HardwareReport::Tdx(td) = hcl.hardware_report() else { panic!("not TDX") };
        assert_eq!(td.as_bytes(), &bytes[0x20..0x20 + 1024]);
        assert_eq!(td.as_bytes()[0], 0x81);
        let report_data = hcl.report_data().unwrap();
        assert_eq!(report_data, td.report_data());
        assert_eq!(hex::encode(&report_data[..32]), digest);
        assert_eq!(report_data[32..], [0; 32]);
        hcl.verify_binding().unwrap();
        let claims = hcl.runtime_claims().unwrap();
        assert_eq!(hex::encode(&claims.ak_pub().unwrap().n.as_deref().unwrap()[..4]), ak_prefix);
    }
}

#[test]
fn cvmtools_snp_named_report_is_tdx_with_zero_vm_id() {
    let hcl = HclReport::parse(CVMTOOLS_TDX).unwrap();
    assert_eq!(hcl.report_type(), ReportType::Tdx);
    let claims = hcl.runtime_claims().unwrap();
    let vm = &claims.vm_configuration;
    assert_eq!(vm.vm_unique_id, "00000000-0000-0000-0000-000000000000");
    assert!(!vm.tpm_enabled && !vm.secure_boot);
    assert_eq!(vm.console_enabled, Some(false));
    let user_data = claims.user_data.unwrap();
    assert_eq!(hex::encode_upper(&user_data[..8]), "D0CDC2B18C690B35");
    assert_eq!(user_data[32..], [0; 32]);
}

#[test]
fn every_fixture_parses_and_is_bound() {
    for (name, bytes) in ALL {
        let hcl = HclReport::parse(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        hcl.verify_binding().unwrap_or_else(|e| panic!("{name}: {e}"));
        hcl.runtime_claims().unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

/// Change one character of `vmUniqueId`: the JSON stays valid, the hash changes.
fn tamper_vm_id(bytes: &[u8]) -> Vec<u8> {
    let mut tampered = bytes.to_vec();
    let needle = b"\"vmUniqueId\":\"";
    let at = tampered.windows(needle.len()).position(|w| w == needle).expect("vmUniqueId") + needle.len();
    tampered[at] = if tampered[at] == b'0' { b'1' } else { b'0' };
    tampered
}

#[test]
fn tampered_runtime_claims_break_the_binding() {
    for (name, bytes) in [("snp", TRUSTEE_SNP), ("tdx", TRUSTEE_TDX)] {
        let tampered = tamper_vm_id(bytes);
        let hcl = HclReport::parse(&tampered).unwrap();
        assert_ne!(hcl.runtime_claims().unwrap().vm_configuration.vm_unique_id, "");
        let original = HclReport::parse(bytes).unwrap().report_data().unwrap();
        let err = hcl.verify_binding().unwrap_err();
        assert_eq!(
            err,
            BindingError::DigestMismatch {
                hash_type: HashAlg::Sha256,
                expected: hex::encode(sha2::Sha256::digest(runtime_json(&tampered))),
                found: hex::encode(&original[..32]),
            },
            "{name}"
        );
        let message = err.to_string();
        assert!(message.contains("expected SHA-256(runtime claims)"), "{message}");
        assert!(message.contains(&hex::encode(&original[..32])), "{message}");
    }
}

#[test]
fn tampered_report_data_breaks_the_binding() {
    for (bytes, offset) in [(TRUSTEE_SNP, SNP_REPORT_DATA), (TRUSTEE_TDX, TD_REPORT_DATA)] {
        let mut tampered = bytes.to_vec();
        tampered[offset + 3] ^= 0x01;
        let hcl = HclReport::parse(&tampered).unwrap();
        match hcl.verify_binding() {
            Err(BindingError::DigestMismatch { expected, found, .. }) => {
                assert_eq!(expected, hex::encode(sha2::Sha256::digest(runtime_json(bytes))));
                assert_eq!(found, hex::encode(&tampered[offset..offset + 32]));
            }
            other => panic!("{other:?}"),
        }

        let mut tail = bytes.to_vec();
        tail[offset + 40] = 0xAA;
        let err = HclReport::parse(&tail).unwrap().verify_binding().unwrap_err();
        assert!(matches!(err, BindingError::NonZeroPadding { hash_type: HashAlg::Sha256, .. }), "{err:?}");
        assert!(err.to_string().contains("report_data[32..] must be zero"), "{err}");
    }
}

#[test]
fn longer_hash_types_compare_their_whole_digest() {
    for (code, hash_type, size) in [(2, HashAlg::Sha384, 48), (3, HashAlg::Sha512, 64)] {
        let mut bytes = TRUSTEE_SNP.to_vec();
        put_u32(&mut bytes, 0x4CC, code);
        let digest = hash_type.digest(runtime_json(TRUSTEE_SNP));
        assert_eq!(digest.len(), size);
        bytes[SNP_REPORT_DATA..SNP_REPORT_DATA + 64].fill(0);
        bytes[SNP_REPORT_DATA..SNP_REPORT_DATA + size].copy_from_slice(&digest);
        let hcl = HclReport::parse(&bytes).unwrap();
        assert_eq!(hcl.runtime_claims_header().hash_type, hash_type);
        assert_eq!(hcl.runtime_claims_hash(), digest);
        hcl.verify_binding().unwrap();

        // The original SHA-256 binding does not satisfy a SHA-384/512 report.
        let mut sha256_bound = TRUSTEE_SNP.to_vec();
        put_u32(&mut sha256_bound, 0x4CC, code);
        let err = HclReport::parse(&sha256_bound).unwrap().verify_binding().unwrap_err();
        assert!(matches!(err, BindingError::DigestMismatch { hash_type: h, .. } if h == hash_type));
    }
}

#[test]
fn trusted_launch_report_has_no_hardware_report() {
    let mut bytes = TRUSTEE_SNP.to_vec();
    put_u32(&mut bytes, 0x4C8, 3);
    let hcl = HclReport::parse(&bytes).unwrap();
    assert_eq!(hcl.hardware_report(), &HardwareReport::TrustedLaunch);
    assert_eq!(hcl.report_data(), None);
    assert_eq!(hcl.verify_binding(), Err(BindingError::NoHardwareReport));
}

#[test]
fn truncation_names_the_field() {
    let cases: [(usize, &str, usize, usize); 7] = [
        (2, "signature", 0, 4),
        (10, "report_size", 8, 4),
        (0x20 + 100, "hardware report", 0x20, 1184),
        (0x4C0 + 2, "data_size", 0x4C0, 4),
        (0x4C8, "report_type", 0x4C8, 4),
        (0x4D0 + 1, "variable_data_size", 0x4D0, 4),
        (RUNTIME_CLAIMS + 10, "variable_data (runtime claims)", RUNTIME_CLAIMS, 1110),
    ];
    for (len, field, offset, needed) in cases {
        let err = HclReport::parse(&TRUSTEE_SNP[..len]).unwrap_err();
        assert_eq!(
            err,
            ParseError::Truncated { structure: "HCL report", field, offset, needed, available: len - offset }
        );
    }
    let err = HclReport::parse(&TRUSTEE_SNP[..RUNTIME_CLAIMS + 10]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "HCL report: truncated at offset 1236 reading variable_data (runtime claims): needed 1110 bytes, 10 left"
    );
    // Exactly report_size bytes (no NV padding) is a whole report.
    HclReport::parse(&TRUSTEE_SNP[..2346]).unwrap().verify_binding().unwrap();
}

fn invalid_field(bytes: &[u8]) -> (&'static str, usize) {
    match HclReport::parse(bytes).expect_err("must be refused") {
        ParseError::InvalidField { field, offset, .. } | ParseError::Unsupported { field, offset, .. } => {
            (field, offset)
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn rejects_impossible_header_fields() {
    let mut b = TRUSTEE_SNP.to_vec();
    b[3] = b'B';
    assert_eq!(invalid_field(&b), ("signature", 0));
    assert!(HclReport::parse(&b).unwrap_err().to_string().contains("expected \"HCLA\""));

    let mut b = TRUSTEE_SNP.to_vec();
    put_u32(&mut b, 4, 3);
    assert_eq!(invalid_field(&b), ("version", 4));
    assert_eq!(
        HclReport::parse(&b).unwrap_err().to_string(),
        "HCL report: unsupported version 3 at offset 4 (supported: 1, 2)"
    );

    let mut b = TRUSTEE_SNP.to_vec();
    put_u32(&mut b, 0x4C8, 1);
    assert_eq!(invalid_field(&b), ("report_type", 0x4C8));

    let mut b = TRUSTEE_SNP.to_vec();
    put_u32(&mut b, 0x4CC, 0);
    assert_eq!(invalid_field(&b), ("hash_type", 0x4CC));

    let mut b = TRUSTEE_SNP.to_vec();
    put_u32(&mut b, 0x4C0, 1131);
    assert_eq!(invalid_field(&b), ("data_size", 0x4C0));

    let mut b = TRUSTEE_SNP.to_vec();
    put_u32(&mut b, 8, 2600);
    assert_eq!(invalid_field(&b), ("report_size", 8));

    // A huge variable_data_size is a truncation, never an allocation.
    let mut b = TRUSTEE_SNP.to_vec();
    put_u32(&mut b, 0x4D0, u32::MAX - 20);
    put_u32(&mut b, 0x4C0, u32::MAX);
    assert!(matches!(HclReport::parse(&b), Err(ParseError::InvalidField { field: "report_size", .. })));
}

#[test]
fn rejects_malformed_hardware_reports() {
    let mut b = TRUSTEE_TDX.to_vec();
    b[0x20] = 0x00;
    assert_eq!(invalid_field(&b), ("REPORTMACSTRUCT.type", 0x20));

    let mut b = TRUSTEE_TDX.to_vec();
    b[0x20 + 1024 + 5] = 1;
    assert_eq!(invalid_field(&b), ("TDREPORT padding", 0x20 + 1024));

    // An SNP report type over a TDX hardware report: the SNP parser refuses its version (0x81).
    let mut b = TRUSTEE_TDX.to_vec();
    put_u32(&mut b, 0x4C8, 2);
    assert!(HclReport::parse(&b).is_err());

    // Errors from the SNP report carry offsets in the HCL report.
    let mut b = TRUSTEE_SNP.to_vec();
    put_u32(&mut b, 0x20, 0);
    assert_eq!(invalid_field(&b), ("version", 0x20));
}

#[test]
fn malformed_runtime_json_still_parses_the_report() {
    let mut b = TRUSTEE_SNP.to_vec();
    b[RUNTIME_CLAIMS] = b'x';
    let hcl = HclReport::parse(&b).unwrap();
    assert!(matches!(hcl.verify_binding(), Err(BindingError::DigestMismatch { .. })));
    match hcl.runtime_claims().unwrap_err() {
        ParseError::InvalidField { structure, field, offset, .. } => {
            assert_eq!((structure, field), ("HCL runtime claims", "JSON"));
            assert_eq!(offset, RUNTIME_CLAIMS);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn reads_maa_runtime_data_without_console_enabled() {
    let example: serde_json::Value = serde_json::from_str(MAA_SEVSNPVM_EXAMPLE).unwrap();
    let data = example["parameters"]["body"]["runtimeData"]["data"].as_str().unwrap();
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(data.trim_end_matches('=')).unwrap();
    let claims = RuntimeClaims::parse(&json).unwrap();
    assert!(claims.ak_pub().is_none());
    let key = claims.key("HCLTransferKey").unwrap();
    assert_eq!(key.key_ops, ["encrypt"]);
    assert_eq!(claims.vm_configuration.console_enabled, None);
    assert_eq!(claims.vm_configuration.vm_unique_id, "AE5CBB2A-DC95-4870-A74A-EE4FB33B1A9C");
    assert_eq!(
        hex::encode(sha2::Sha256::digest(&json)),
        "99dd4593a43f4b0f5f10f1856c7326eba309b943251fededc15592e3250ca9e9"
    );
}

#[test]
fn rejects_user_data_of_the_wrong_length() {
    let json = br#"{"keys":[],"vm-configuration":{"secure-boot":true,"tpm-enabled":true,"vmUniqueId":"X"},"user-data":"00"}"#;
    let err = RuntimeClaims::parse(json).unwrap_err();
    assert!(err.to_string().contains("user-data must be 128 hex digits"), "{err}");
}

fn fixture() -> impl Strategy<Value = &'static [u8]> {
    prop::sample::select(ALL.iter().map(|(_, bytes)| *bytes).collect::<Vec<_>>())
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..3000)) {
        let _ = HclReport::parse(&bytes);
        let mut with_signature = b"HCLA".to_vec();
        with_signature.extend_from_slice(&bytes);
        let _ = HclReport::parse(&with_signature);
    }

    #[test]
    fn mutated_fixtures_never_panic(
        bytes in fixture(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut mutated = bytes.to_vec();
        for (at, value) in edits {
            let i = at.index(mutated.len());
            mutated[i] = value;
        }
        for input in [&mutated[..], &mutated[..cut.index(mutated.len())]] {
            if let Ok(hcl) = HclReport::parse(input) {
                let _ = hcl.verify_binding();
                let _ = hcl.runtime_claims();
                let _ = hcl.report_data();
            }
        }
    }

    #[test]
    fn header_fields_never_panic(fields in prop::collection::vec(any::<u32>(), 10), bytes in fixture()) {
        // The integer fields the parser trusts least: header and runtime-claims header.
        let mut mutated = bytes.to_vec();
        for (offset, value) in [4, 8, 12, 16, 0x4C0, 0x4C4, 0x4C8, 0x4CC, 0x4D0, 0x20].into_iter().zip(fields) {
            put_u32(&mut mutated, offset, value);
        }
        if let Ok(hcl) = HclReport::parse(&mutated) {
            let _ = hcl.verify_binding();
        }
    }
}
