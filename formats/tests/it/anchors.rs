//! Operator trust anchors and collateral names: checked once, when built, and refused by name.

use cvm_attest_formats::appraise::anchors::{AnchorError, NAMES, TrustAnchors};
use cvm_attest_formats::appraise::collateral::{self, Collateral, CollateralError};
use cvm_attest_formats::appraise::{Status, Steps, snp};
use cvm_attest_formats::hcl::{HardwareReport, HclReport};
use cvm_attest_formats::snp::Generation;
use cvm_attest_formats::time::DateTime;

const MILAN_ARK: &[u8] = include_bytes!("../../anchors/milan-ark.pem");
const MILAN_ASK: &[u8] = include_bytes!("../../anchors/milan-ask.pem");
const GENOA_ARK: &[u8] = include_bytes!("../../anchors/genoa-ark.pem");
const GENOA_ASK: &[u8] = include_bytes!("../../anchors/genoa-ask.pem");
const INTEL_ROOT: &[u8] = include_bytes!("../../anchors/intel-sgx-root-ca.pem");
/// A PEM that is not a certificate (an AK public key).
const PUBLIC_KEY_PEM: &[u8] = include_bytes!("../../testdata/tpm/kinvolk-akpub.pem");
const TRUSTEE_HCL: &[u8] = include_bytes!("../../testdata/tpm/trustee-milan-hcl-report.bin");
const TRUSTEE_CHAIN: &str = include_str!("../../testdata/azure-snp/trustee-milan-vcek-chain.pem");
const AZURE_VTPM_ROOT: &[u8] = include_bytes!("../../anchors/azure-vtpm-root-ca-2023.pem");
const AZURE_VTPM_CA_01: &[u8] = include_bytes!("../../anchors/azure-vtpm-global-ca-01.pem");
const AZURE_VTPM_CA_03: &[u8] = include_bytes!("../../anchors/azure-vtpm-global-ca-03.pem");
const TEST_VTPM_ROOT: &[u8] = include_bytes!("../../testdata/azure-vtpm/test-root.pem");
const MILAN_CRL: &[u8] = include_bytes!("../../testdata/crl/milan-vcek-crl-2026-06-22.der");

fn refused(anchors: &[(&str, &[u8])]) -> AnchorError {
    TrustAnchors::from_operator(anchors).expect_err("must be refused")
}

#[test]
fn amds_own_roots_given_by_the_operator_are_accepted_and_appraise() {
    let anchors = TrustAnchors::from_operator(&[
        ("amd-ark-milan", MILAN_ARK),
        ("amd-ask-milan", MILAN_ASK),
        ("intel-sgx-root", INTEL_ROOT),
    ])
    .expect("AMD's and Intel's roots");
    assert!(anchors.amd(Generation::Milan).is_some());
    assert!(anchors.amd(Generation::Genoa).is_none(), "what the operator leaves out is not trusted");
    assert_eq!(anchors.intel_roots().len(), 1);

    let HardwareReport::Snp(report) = HclReport::parse(TRUSTEE_HCL).unwrap().hardware_report().clone() else {
        panic!("an SNP HCL report")
    };
    let mut steps = Steps::default();
    // With AMD's CRL, current then, every step (revocation too) is evaluated.
    let collateral = Collateral { amd_crl: Some(MILAN_CRL), ..Collateral::default() };
    let when = DateTime::parse("2026-07-01T00:00:00Z").unwrap();
    let outcome = snp::appraise(&report, Some(TRUSTEE_CHAIN), &anchors, &collateral, &when, &mut steps);
    assert_eq!(outcome, Some(()), "{steps:#?}");
    assert!(steps.as_slice().iter().all(|step| step.status == Status::Passed), "{steps:#?}");
}

/// AMD's genuine ARK with an ASK it did not sign (Genoa's, standing for an attacker's): appraisal
/// trusts the pinned ASK as it is, so it must be refused here.
#[test]
fn an_operator_ask_not_signed_by_the_ark_is_refused() {
    let err = refused(&[("amd-ark-milan", MILAN_ARK), ("amd-ask-milan", GENOA_ASK)]);
    assert!(
        matches!(&err, AnchorError::NotSignedBy { subject, issuer, .. }
            if subject == "amd-ask-milan" && issuer == "amd-ark-milan"),
        "{err:?}"
    );
    assert!(
        err.to_string().starts_with("trust anchor amd-ask-milan is not signed by amd-ark-milan: "),
        "{err}"
    );
}

#[test]
fn an_operator_ark_that_does_not_sign_itself_is_refused() {
    // Milan's ASK is signed by the ARK, not by itself.
    let err = refused(&[("amd-ark-milan", MILAN_ASK), ("amd-ask-milan", MILAN_ASK)]);
    assert!(
        err.to_string().starts_with("trust anchor amd-ark-milan is not signed by amd-ark-milan: "),
        "{err}"
    );
    // A genuine ARK of another generation signs itself, but not this ASK.
    let err = refused(&[("amd-ark-milan", GENOA_ARK), ("amd-ask-milan", MILAN_ASK)]);
    assert!(
        err.to_string().starts_with("trust anchor amd-ask-milan is not signed by amd-ark-milan"),
        "{err}"
    );
}

#[test]
fn an_operator_anchor_that_is_not_one_pem_certificate_is_refused_by_name() {
    let two = [MILAN_ARK, MILAN_ASK].concat();
    for (name, data, reason) in [
        ("amd-ark-milan", &b"not PEM"[..], "not PEM"),
        ("amd-ark-milan", &[0xFF, 0xFE][..], "not PEM text (not UTF-8)"),
        ("amd-ask-milan", PUBLIC_KEY_PEM, "a PEM `PUBLIC KEY`, not a CERTIFICATE"),
        ("amd-ark-milan", &two[..], "2 PEM certificates; give one certificate per anchor"),
        (
            "intel-sgx-root",
            &b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"[..],
            "not an X.509",
        ),
    ] {
        let anchors = [("amd-ark-milan", MILAN_ARK), ("amd-ask-milan", MILAN_ASK)];
        let mut given: Vec<(&str, &[u8])> = anchors.into_iter().filter(|(n, _)| *n != name).collect();
        given.push((name, data));
        let err = refused(&given);
        match &err {
            AnchorError::Invalid { name: named, reason: why } => {
                assert_eq!(named, name);
                assert!(why.starts_with(reason), "{why}");
            }
            other => panic!("{other:?}"),
        }
        assert!(err.to_string().starts_with(&format!("trust anchor `{name}` is ")), "{err}");
    }
}

#[test]
fn unknown_duplicate_and_unpaired_anchor_names_are_refused() {
    let err = refused(&[("amd-ark-naples", MILAN_ARK)]);
    assert_eq!(err, AnchorError::UnknownName("amd-ark-naples".to_owned()));
    assert!(err.to_string().contains("amd-ark-milan, amd-ask-milan"), "{err}");

    let err = refused(&[("amd-ark-milan", MILAN_ARK), ("amd-ark-milan", MILAN_ARK)]);
    assert_eq!(err, AnchorError::Duplicate("amd-ark-milan".to_owned()));

    let err = refused(&[("amd-ark-milan", MILAN_ARK)]);
    assert_eq!(
        err.to_string(),
        "trust anchor `amd-ark-milan` is given without `amd-ask-milan`: AMD roots are trusted in pairs"
    );
    let err = refused(&[("amd-ask-genoa", GENOA_ASK)]);
    assert_eq!(
        err.to_string(),
        "trust anchor `amd-ask-genoa` is given without `amd-ark-genoa`: AMD roots are trusted in pairs"
    );

    // Intel roots may repeat (Intel reissued its root with the same key).
    let anchors =
        TrustAnchors::from_operator(&[("intel-sgx-root", INTEL_ROOT), ("intel-sgx-root", INTEL_ROOT)]);
    assert_eq!(anchors.map(|a| a.intel_roots().len()), Ok(2));
}

#[test]
fn every_listed_anchor_name_is_known() {
    assert_eq!(NAMES.len(), 9);
    for name in NAMES {
        // One certificate, whatever it is: the name must not be the error.
        let err = TrustAnchors::from_operator(&[(name, MILAN_ARK)]).err();
        assert!(!matches!(err, Some(AnchorError::UnknownName(_))), "{name}: {err:?}");
    }
}

#[test]
fn collateral_is_taken_by_name_and_misspelt_or_repeated_names_are_refused() {
    let items: Vec<(&str, &[u8])> = collateral::NAMES.iter().map(|name| (*name, name.as_bytes())).collect();
    let all = Collateral::from_named(items).expect("known names");
    let slots = [
        all.tdx_tcb_info,
        all.tdx_qe_identity,
        all.intel_tcb_signing_chain,
        all.intel_root_crl,
        all.intel_pck_crl,
        all.amd_crl,
    ];
    for (name, slot) in collateral::NAMES.iter().zip(slots) {
        assert_eq!(slot, Some(name.as_bytes()), "{name} lands in its own slot");
    }
    let err = Collateral::from_named([("intel-tcb-info", &b"{}"[..])]).unwrap_err();
    assert_eq!(err, CollateralError::UnknownName("intel-tcb-info".to_owned()));
    assert_eq!(
        err.to_string(),
        "unknown collateral `intel-tcb-info`: expected one of tdx-tcb-info, tdx-qe-identity, \
         intel-tcb-signing-chain, intel-root-crl, intel-pck-crl, amd-crl"
    );
    let twice = Collateral::from_named([("amd-crl", &b"a"[..]), ("amd-crl", &b"b"[..])]).unwrap_err();
    assert_eq!(twice, CollateralError::Repeated("amd-crl".to_owned()));
}

#[test]
fn the_built_in_anchors_hold_the_azure_vtpm_root_and_its_published_intermediates() {
    let anchors = TrustAnchors::builtin();
    let text = |pem: &[u8]| String::from_utf8(pem.to_vec()).unwrap();
    assert_eq!(anchors.azure_vtpm_roots(), [text(AZURE_VTPM_ROOT)]);
    assert_eq!(anchors.azure_vtpm_intermediates(), [text(AZURE_VTPM_CA_01), text(AZURE_VTPM_CA_03)]);
}

#[test]
fn operator_azure_vtpm_roots_and_intermediates_are_accepted_and_may_repeat() {
    let anchors = TrustAnchors::from_operator(&[
        ("azure-vtpm-root", AZURE_VTPM_ROOT),
        ("azure-vtpm-root", TEST_VTPM_ROOT),
        ("azure-vtpm-intermediate", AZURE_VTPM_CA_01),
        ("azure-vtpm-intermediate", AZURE_VTPM_CA_03),
    ])
    .expect("two self-signed roots and two CAs");
    assert_eq!((anchors.azure_vtpm_roots().len(), anchors.azure_vtpm_intermediates().len()), (2, 2));
    assert!(anchors.intel_roots().is_empty() && anchors.amd_roots().is_empty(), "replaced as a whole");

    let root_only =
        TrustAnchors::from_operator(&[("azure-vtpm-root", TEST_VTPM_ROOT)]).expect("a root alone");
    assert!(root_only.azure_vtpm_intermediates().is_empty());
}

#[test]
fn an_operator_azure_vtpm_root_must_be_one_self_signed_certificate() {
    // CA - 01 is issued by the root, not by itself.
    let err = refused(&[("azure-vtpm-root", AZURE_VTPM_CA_01)]);
    assert!(
        err.to_string().starts_with(
            "trust anchor azure-vtpm-root is not signed by azure-vtpm-root: it is issued by \
             `CN=Azure Virtual TPM Root Certificate Authority 2023,O=Microsoft Corporation,C=US`, not by itself"
        ),
        "{err}"
    );
    // The Milan ARK is self-signed, but with RSA-PSS, which the vTPM PKI does not use.
    let err = refused(&[("azure-vtpm-root", MILAN_ARK)]);
    assert!(
        matches!(&err, AnchorError::NotSignedBy { subject, reason, .. }
            if subject == "azure-vtpm-root" && reason.contains("only sha256-, sha384- and sha512WithRSAEncryption")),
        "{err:?}"
    );
    let two = [AZURE_VTPM_ROOT, TEST_VTPM_ROOT].concat();
    for (name, data, reason) in [
        ("azure-vtpm-root", &two[..], "2 PEM certificates; give one certificate per anchor"),
        ("azure-vtpm-root", PUBLIC_KEY_PEM, "a PEM `PUBLIC KEY`, not a CERTIFICATE"),
        ("azure-vtpm-intermediate", &b"not PEM"[..], "not PEM"),
    ] {
        let err = refused(&[("azure-vtpm-root", AZURE_VTPM_ROOT), (name, data)]);
        assert!(
            matches!(&err, AnchorError::Invalid { name: named, reason: why } if named == name && why.starts_with(reason)),
            "{err:?}"
        );
    }
}

#[test]
fn operator_azure_vtpm_intermediates_without_a_root_are_refused() {
    let err = refused(&[("azure-vtpm-intermediate", AZURE_VTPM_CA_01), ("intel-sgx-root", INTEL_ROOT)]);
    assert_eq!(err, AnchorError::IntermediateWithoutRoot);
    assert!(
        err.to_string().contains("operator anchors replace the built-in ones, Azure's root included"),
        "{err}"
    );
}
