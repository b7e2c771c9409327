//! The THIM certification document (microsoft/confidential-sidecar-containers test data).

use cvm_attest_formats::snp::{SnpReport, Tcb};
use cvm_attest_formats::thim::{Error, ThimCertification};
use proptest::prelude::*;

const CERTIFICATION: &[u8] = include_bytes!("../../testdata/thim/sidecar-uvm_host_amd_certificate.json");
/// The SNP report that VCEK signs.
const REPORT: &[u8] = include_bytes!("../../testdata/thim/sidecar-snp_report.bin");

fn document() -> serde_json::Value {
    serde_json::from_slice(CERTIFICATION).expect("fixture is JSON")
}

fn certificates(pem: &str) -> usize {
    pem.matches("-----BEGIN CERTIFICATE-----").count()
}

#[test]
fn parses_the_sidecar_document() {
    let thim = ThimCertification::parse(CERTIFICATION).unwrap();
    assert_eq!(thim.tcbm(), "7308000000000003");
    assert_eq!(thim.tcb(), Tcb { bootloader: 3, tee: 0, snp: 8, microcode: 115, fmc: None });
    assert_eq!(thim.cache_control(), Some("86400"));
    assert_eq!(certificates(thim.vcek_cert_pem()), 1);
    assert_eq!(certificates(thim.certificate_chain_pem()), 2);

    let chain = thim.vcek_chain_pem();
    assert_eq!(certificates(&chain), 3);
    let doc = document();
    assert_eq!(
        chain,
        doc["vcekCert"].as_str().unwrap().to_owned() + doc["certificateChain"].as_str().unwrap()
    );
}

#[test]
fn tcbm_is_the_reported_tcb_of_the_report_the_vcek_signs() {
    let thim = ThimCertification::parse(CERTIFICATION).unwrap();
    assert_eq!(SnpReport::parse(REPORT).unwrap().reported_tcb(), thim.tcb());
}

#[test]
fn accepts_the_chain_as_a_list() {
    let mut doc = document();
    let chain = doc["certificateChain"].as_str().unwrap().to_owned();
    let end = "-----END CERTIFICATE-----\n";
    let split = chain.find(end).unwrap() + end.len();
    doc["certificateChain"] = serde_json::json!([&chain[..split], chain[split..].trim_end()]);
    let thim = ThimCertification::parse(doc.to_string().as_bytes()).unwrap();
    assert_eq!(thim.certificate_chain_pem(), chain);
    assert_eq!(thim.vcek_chain_pem(), ThimCertification::parse(CERTIFICATION).unwrap().vcek_chain_pem());
}

#[test]
fn rejects_malformed_tcbm() {
    for tcbm in ["730800000000003", "73080000000000030", "+308000000000003", "73080000000000zz", ""] {
        let mut doc = document();
        doc["tcbm"] = tcbm.into();
        let err = ThimCertification::parse(doc.to_string().as_bytes()).unwrap_err();
        assert!(matches!(err, Error::InvalidField { field: "tcbm", .. }), "{tcbm}: {err:?}");
        assert!(err.to_string().contains("16 hex digits"), "{err}");
    }
    let mut doc = document();
    doc["tcbm"] = "db18000000000004".into();
    let tcb = ThimCertification::parse(doc.to_string().as_bytes()).unwrap().tcb();
    assert_eq!(tcb, Tcb { bootloader: 4, tee: 0, snp: 0x18, microcode: 0xDB, fmc: None });
}

#[test]
fn rejects_missing_or_empty_certificates() {
    let mut doc = document();
    doc.as_object_mut().unwrap().remove("vcekCert");
    let err = ThimCertification::parse(doc.to_string().as_bytes()).unwrap_err();
    assert!(matches!(err, Error::Json(_)) && err.to_string().contains("vcekCert"), "{err}");

    let mut doc = document();
    doc["vcekCert"] = doc["certificateChain"].clone();
    let err = ThimCertification::parse(doc.to_string().as_bytes()).unwrap_err();
    assert!(matches!(err, Error::InvalidField { field: "vcekCert", .. }), "{err:?}");

    let mut doc = document();
    doc["certificateChain"] = "".into();
    let err = ThimCertification::parse(doc.to_string().as_bytes()).unwrap_err();
    assert!(matches!(err, Error::InvalidField { field: "certificateChain", .. }), "{err:?}");
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = ThimCertification::parse(&bytes);
    }

    #[test]
    fn mutated_documents_never_panic(
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = CERTIFICATION.to_vec();
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        let _ = ThimCertification::parse(&bytes);
        let _ = ThimCertification::parse(&bytes[..cut.index(bytes.len())]);
    }

    #[test]
    fn any_tcbm_string_never_panics(tcbm in "\\PC{0,20}") {
        let mut doc = document();
        doc["tcbm"] = tcbm.into();
        let _ = ThimCertification::parse(doc.to_string().as_bytes());
    }
}
