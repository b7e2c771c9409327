//! CRL parsing, verification and lookup (`appraise::revocation`): on AMD's and Intel's real CRLs,
//! and on a test CA made here, whose CRL does revoke (no real CRL lists a certificate we hold).

use std::str::FromStr;
use std::time::Duration;

use cvm_attest_formats::appraise::RevocationError;
use cvm_attest_formats::appraise::revocation::{Crl, CrlAlgorithm, check_der};
use cvm_attest_formats::time::DateTime;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use proptest::prelude::*;
use x509_cert::certificate::{Certificate, TbsCertificate, Version};
use x509_cert::crl::{CertificateList, RevokedCert, TbsCertList};
use x509_cert::der::asn1::{Any, BitString, GeneralizedTime, ObjectIdentifier};
use x509_cert::der::{DecodePem, Encode};
use x509_cert::ext::Extension;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::time::{Time, Validity};

use crate::common::byte_mutations;

const MILAN_CRL: &[u8] = include_bytes!("../../testdata/crl/milan-vcek-crl-2026-06-22.der");
const INTEL_ROOT_CRL: &[u8] = include_bytes!("../../testdata/crl/intel-sgx-root-ca-crl-2026-02-26.der");
const PLATFORM_CRL_2025: &[u8] = include_bytes!("../../testdata/crl/pck-platform-ca-crl-2025-10-13.der");
/// The Intel SGX PCK Processor CA, then the root.
const PROCESSOR_CHAIN: &str = include_str!("../../testdata/crl/pck-processor-ca-crl-issuer-chain.pem");

const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
/// issuingDistributionPoint: marks a partitioned CRL, which this verifier does not process.
const ISSUING_DISTRIBUTION_POINT: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.28");

/// 2026-01-01T00:00:00Z and 2027-01-01T00:00:00Z.
const JAN_2026: u64 = 1_767_225_600;
const JAN_2027: u64 = 1_798_761_600;

fn at(text: &str) -> DateTime {
    DateTime::parse(text).expect("an RFC 3339 time")
}

fn time(unix: u64) -> Time {
    Time::GeneralTime(GeneralizedTime::from_unix_duration(Duration::from_secs(unix)).expect("a time"))
}

fn ecdsa_sha256() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned { oid: ECDSA_WITH_SHA256, parameters: None }
}

/// A deterministic P-256 key: tests need no randomness, only distinct keys.
fn key(seed: u8) -> SigningKey {
    SigningKey::from_slice(&[seed; 32]).expect("a valid scalar")
}

fn sign(key: &SigningKey, tbs: &[u8]) -> BitString {
    let signature: Signature = key.sign(tbs);
    BitString::from_bytes(signature.to_der().as_bytes()).expect("a bit string")
}

/// A certificate for `subject` with `subject_key`, signed by `issuer_key` in `issuer`'s name.
fn certificate(
    subject: &str,
    serial: u8,
    subject_key: &SigningKey,
    issuer: &str,
    issuer_key: &SigningKey,
) -> Vec<u8> {
    let point = subject_key.verifying_key().to_encoded_point(false);
    let tbs = TbsCertificate {
        version: Version::V3,
        serial_number: SerialNumber::new(&[serial]).expect("a serial"),
        signature: ecdsa_sha256(),
        issuer: Name::from_str(issuer).expect("a name"),
        validity: Validity { not_before: time(JAN_2026), not_after: time(JAN_2027) },
        subject: Name::from_str(subject).expect("a name"),
        subject_public_key_info: SubjectPublicKeyInfoOwned {
            algorithm: AlgorithmIdentifierOwned {
                oid: EC_PUBLIC_KEY,
                parameters: Some(Any::encode_from(&SECP256R1).expect("an OID")),
            },
            subject_public_key: BitString::from_bytes(point.as_bytes()).expect("a bit string"),
        },
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: None,
    };
    let signature = sign(issuer_key, &tbs.to_der().expect("DER"));
    let cert = Certificate { tbs_certificate: tbs, signature_algorithm: ecdsa_sha256(), signature };
    cert.to_der().expect("DER")
}

/// A CRL in `issuer`'s name, signed by `key`, current in 2026, listing `revoked` serials.
fn crl(issuer: &str, key: &SigningKey, revoked: &[u8], extensions: Option<Vec<Extension>>) -> Vec<u8> {
    let entries = revoked
        .iter()
        .map(|serial| RevokedCert {
            serial_number: SerialNumber::new(&[*serial]).expect("a serial"),
            revocation_date: time(JAN_2026 + 86_400),
            crl_entry_extensions: None,
        })
        .collect();
    let tbs = TbsCertList {
        version: Version::V2,
        signature: ecdsa_sha256(),
        issuer: Name::from_str(issuer).expect("a name"),
        this_update: time(JAN_2026 + 2 * 86_400),
        next_update: Some(time(JAN_2027)),
        revoked_certificates: Some(entries),
        crl_extensions: extensions,
    };
    let signature = sign(key, &tbs.to_der().expect("DER"));
    let list = CertificateList { tbs_cert_list: tbs, signature_algorithm: ecdsa_sha256(), signature };
    list.to_der().expect("DER")
}

/// A test CA and two leaves it issued (serials 0x21 and 0x22).
struct TestPki {
    ca_key: SigningKey,
    ca: Vec<u8>,
    revoked_leaf: Vec<u8>,
    good_leaf: Vec<u8>,
}

const CA: &str = "CN=Test CA,O=cvm-attest tests";

fn test_pki() -> TestPki {
    let ca_key = key(1);
    let ca = certificate(CA, 1, &ca_key, CA, &ca_key);
    let revoked_leaf = certificate("CN=Revoked Leaf", 0x21, &key(2), CA, &ca_key);
    let good_leaf = certificate("CN=Good Leaf", 0x22, &key(3), CA, &ca_key);
    TestPki { ca_key, ca, revoked_leaf, good_leaf }
}

const MID_2026: &str = "2026-06-01T00:00:00Z";

#[test]
fn a_listed_serial_is_reported_revoked_with_its_serial_and_date() {
    let pki = test_pki();
    let crl = crl(CA, &pki.ca_key, &[0x21], None);
    let error = check_der(&crl, &pki.ca, &pki.revoked_leaf, CrlAlgorithm::EcdsaP256Sha256, &at(MID_2026))
        .expect_err("the leaf is revoked");
    let RevocationError::Revoked { subject, serial, revoked_on, issuer } = &error else {
        panic!("not a revocation: {error:?}");
    };
    assert_eq!((subject.as_str(), serial.as_str(), issuer.as_str()), ("Revoked Leaf", "21", "Test CA"));
    assert_eq!(*revoked_on, at("2026-01-02T00:00:00Z"));
    assert_eq!(
        error.to_string(),
        "lists Revoked Leaf (serial 21) as revoked on 2026-01-02T00:00:00Z: Test CA withdrew it, so nothing it \
         signed is trusted"
    );
}

#[test]
fn a_serial_not_listed_passes_with_the_crls_dates() {
    let pki = test_pki();
    let crl = crl(CA, &pki.ca_key, &[0x21], None);
    let check = check_der(&crl, &pki.ca, &pki.good_leaf, CrlAlgorithm::EcdsaP256Sha256, &at(MID_2026))
        .expect("the good leaf is not listed");
    assert_eq!(check.entries, 1);
    assert_eq!(
        check.to_string(),
        "Test CA's CRL (1 entries, current from 2026-01-03T00:00:00Z to 2027-01-01T00:00:00Z) is signed by Test \
         CA and does not list Good Leaf (serial 22)"
    );
}

#[test]
fn a_crl_signed_by_another_key_in_the_cas_name_is_refused() {
    let pki = test_pki();
    let forged = crl(CA, &key(9), &[], None);
    let error = check_der(&forged, &pki.ca, &pki.revoked_leaf, CrlAlgorithm::EcdsaP256Sha256, &at(MID_2026))
        .expect_err("another key");
    assert_eq!(error, RevocationError::Signature { issuer: "Test CA".to_owned() });
}

#[test]
fn a_crl_of_another_ca_is_refused_by_name() {
    let pki = test_pki();
    let other = crl("CN=Other CA", &pki.ca_key, &[], None);
    let error = check_der(&other, &pki.ca, &pki.good_leaf, CrlAlgorithm::EcdsaP256Sha256, &at(MID_2026))
        .expect_err("another issuer");
    assert!(
        matches!(error, RevocationError::IssuerMismatch { ref crl_issuer, .. } if crl_issuer == "Other CA")
    );
}

#[test]
fn the_wrong_algorithm_and_critical_extensions_are_refused() {
    let pki = test_pki();
    let crl_der = crl(CA, &pki.ca_key, &[], None);
    let error = check_der(&crl_der, &pki.ca, &pki.good_leaf, CrlAlgorithm::RsaPssSha384, &at(MID_2026))
        .expect_err("ECDSA where RSA-PSS is expected");
    assert!(matches!(error, RevocationError::UnsupportedAlgorithm { .. }), "{error:?}");

    let idp = Extension {
        extn_id: ISSUING_DISTRIBUTION_POINT,
        critical: true,
        extn_value: x509_cert::der::asn1::OctetString::new(vec![0x30, 0x00]).expect("an octet string"),
    };
    let partitioned = crl(CA, &pki.ca_key, &[], Some(vec![idp]));
    let error =
        check_der(&partitioned, &pki.ca, &pki.good_leaf, CrlAlgorithm::EcdsaP256Sha256, &at(MID_2026))
            .expect_err("a partitioned CRL");
    assert_eq!(error, RevocationError::CriticalExtension { oid: "2.5.29.28".to_owned() });
}

#[test]
fn a_crl_is_used_only_between_this_update_and_next_update() {
    let pki = test_pki();
    let crl = crl(CA, &pki.ca_key, &[], None);
    let check = |when| check_der(&crl, &pki.ca, &pki.good_leaf, CrlAlgorithm::EcdsaP256Sha256, &at(when));
    assert!(check("2026-01-03T00:00:00Z").is_ok());
    assert!(check("2027-01-01T00:00:00Z").is_ok());
    assert!(matches!(check("2026-01-02T23:59:59Z"), Err(RevocationError::NotYetIssued { .. })));
    assert!(matches!(check("2027-01-01T00:00:00.5Z"), Err(RevocationError::Expired { .. })));
}

#[test]
fn real_crls_parse_with_their_issuer_dates_and_entries() {
    let milan = Crl::from_der(MILAN_CRL).expect("AMD's CRL");
    assert_eq!(milan.issuer(), "ARK-Milan");
    assert_eq!(milan.entries(), 0);
    assert_eq!(milan.this_update().unwrap(), at("2026-06-22T05:53:52Z"));
    assert_eq!(milan.next_update().unwrap(), at("2026-08-08T00:00:00Z"));
    let platform = Crl::from_der(PLATFORM_CRL_2025).expect("Intel's CRL");
    assert_eq!((platform.issuer().as_str(), platform.entries()), ("Intel SGX PCK Platform CA", 44));
}

#[test]
fn the_intel_root_crl_does_not_revoke_the_processor_ca() {
    let chain = x509_cert::Certificate::load_pem_chain(PROCESSOR_CHAIN.as_bytes()).expect("two certificates");
    let [processor_ca, root] = chain.as_slice() else { panic!("{} certificates", chain.len()) };
    let (processor_ca, root) = (processor_ca.to_der().unwrap(), root.to_der().unwrap());
    let check = check_der(
        INTEL_ROOT_CRL,
        &root,
        &processor_ca,
        CrlAlgorithm::EcdsaP256Sha256,
        &at("2026-12-01T00:00:00Z"),
    )
    .expect("current, signed by the root, and empty");
    assert_eq!(check.subject, "Intel SGX PCK Processor CA");
    // AMD's CRL is no Intel CRL, whatever algorithm is asked for.
    let error =
        check_der(MILAN_CRL, &root, &processor_ca, CrlAlgorithm::RsaPssSha384, &at("2026-07-01T00:00:00Z"))
            .expect_err("another issuer");
    assert!(matches!(error, RevocationError::IssuerMismatch { .. }), "{error:?}");
}

#[test]
fn bytes_that_are_not_a_crl_are_refused() {
    for bytes in [&b""[..], b"-----BEGIN X509 CRL-----", &[0x30, 0x03, 0x02, 0x01, 0x01]] {
        assert!(matches!(Crl::from_der(bytes), Err(RevocationError::NotCrl { .. })));
    }
}

proptest! {
    #[test]
    fn crl_parsing_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..1024)) {
        let _ = Crl::from_der(&bytes);
    }

    #[test]
    fn checking_a_mutated_crl_never_panics(crl in byte_mutations(MILAN_CRL.to_vec())) {
        let milan_ark = x509_cert::Certificate::from_pem(include_bytes!("../../anchors/milan-ark.pem"))
            .expect("the pinned ARK")
            .to_der()
            .expect("DER");
        let _ = check_der(&crl, &milan_ark, &milan_ark, CrlAlgorithm::RsaPssSha384, &at("2026-07-01T00:00:00Z"));
    }
}
