//! The assembled simulated CVM (`cvm_attest_sim::cvm::Cvm`), read through nothing but its TCTI by
//! the project's own vTPM client and judged by the project's own parsers: the HCL report binds
//! runtime claims that carry the vTPM's AK, a user data write makes a fresh report carrying it, and
//! the AK certificate issued at start chains to the test vTPM root (only), certifies that AK and has
//! the profile of Azure's.
//!
//! Each test starts its own CVM (swtpm and paravisor on free loopback ports), so they run in
//! parallel.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cvm_attest::evidence::vtpm::Vtpm;
use cvm_attest_formats::appraise::TrustAnchors;
use cvm_attest_formats::appraise::vtpm::ak_certificate;
use cvm_attest_formats::hcl::{HardwareReport, HclReport};
use cvm_attest_formats::time::DateTime;
use cvm_attest_sim::cvm::{Cvm, CvmOptions, DEFAULT_MEASUREMENT, Tee};
use rsa::{BigUint, RsaPublicKey};
use x509_cert::Certificate;
use x509_cert::der::Decode;
use x509_cert::der::oid::db::rfc5912;

fn start(tee: Tee) -> Cvm {
    Cvm::start(tee, CvmOptions::default()).unwrap_or_else(|e| panic!("start a {tee} CVM: {e}"))
}

fn now() -> DateTime {
    let seconds = SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_secs();
    DateTime::from_unix_seconds(i64::try_from(seconds).expect("seconds")).expect("a time")
}

fn anchors(tee: Tee) -> TrustAnchors {
    let named: Vec<(&str, &[u8])> =
        tee.trust_anchors().iter().map(|(name, pem)| (*name, pem.as_bytes())).collect();
    TrustAnchors::from_operator(&named).expect("the test anchors hold together")
}

/// The HCL report as the client reads it, parsed, with its binding checked.
fn read_report(vtpm: &mut Vtpm) -> HclReport {
    let bytes = vtpm.read_hcl_report().expect("read the HCL report through the paravisor");
    let report = HclReport::parse(&bytes).expect("the HCL report parses");
    report.verify_binding().expect("report_data is SHA-256 of the runtime claims");
    report
}

/// The report's `HCLAkPub` is the AK the client reads at 0x81000003; `user-data` is what was written.
fn check_claims(report: &HclReport, cvm: &Cvm, vtpm: &mut Vtpm, user_data: [u8; 64]) {
    let claims = report.runtime_claims().expect("runtime claims");
    let ak = claims.ak_pub().expect("HCLAkPub");
    assert_eq!(ak.n.as_deref(), Some(cvm.ak().modulus.as_slice()));
    assert_eq!(ak.e.as_deref(), Some(&[1u8, 0, 1][..]));
    let public = vtpm.read_ak_public().expect("the AK's TPM2B_PUBLIC");
    assert!(public.windows(256).any(|w| w == cvm.ak().modulus.as_slice()), "the same AK as the TPM's");
    assert_eq!(claims.vm_configuration.vm_unique_id, cvm.vm_unique_id());
    assert_eq!(claims.user_data, Some(user_data));
}

#[test]
fn an_snp_cvm_serves_reports_bound_to_its_ak_and_fresh_after_a_user_data_write() {
    let cvm = start(Tee::Snp);
    let mut vtpm = Vtpm::open(&cvm.tcti()).expect("the client opens the CVM's TCTI");
    let report = read_report(&mut vtpm);
    let HardwareReport::Snp(snp) = report.hardware_report() else { panic!("an SEV-SNP report") };
    assert_eq!(snp.measurement(), DEFAULT_MEASUREMENT);
    check_claims(&report, &cvm, &mut vtpm, [0; 64]);

    let nonce: [u8; 64] = std::array::from_fn(|i| i as u8 ^ 0x5c);
    vtpm.write_user_data(&nonce).expect("write the report user data");
    let fresh = read_report(&mut vtpm);
    assert_ne!(fresh.report_data(), report.report_data(), "a fresh report");
    check_claims(&fresh, &cvm, &mut vtpm, nonce);
}

#[test]
fn a_tdx_cvm_serves_a_td_report_bound_to_its_ak() {
    let cvm = start(Tee::Tdx);
    let mut vtpm = Vtpm::open(&cvm.tcti()).expect("the client opens the CVM's TCTI");
    let report = read_report(&mut vtpm);
    assert!(matches!(report.hardware_report(), HardwareReport::Tdx(_)), "a TD report");
    check_claims(&report, &cvm, &mut vtpm, [0; 64]);
}

#[test]
fn the_ak_certificate_chains_to_the_test_vtpm_root_only_and_looks_like_azures() {
    let cvm = start(Tee::Snp);
    let mut vtpm = Vtpm::open(&cvm.tcti()).expect("the client opens the CVM's TCTI");
    let cert = vtpm.read_ak_cert().expect("the AK certificate at 0x01C101D0");
    assert_eq!(cert.der(), cvm.ak_cert_der());
    assert!(cert.warnings(SystemTime::now()).is_empty(), "neither expired nor due for renewal");

    let ak = RsaPublicKey::new(BigUint::from_bytes_be(&cvm.ak().modulus), BigUint::from(cvm.ak().exponent))
        .expect("the AK");
    for tee in [Tee::Snp, Tee::Tdx] {
        let detail = ak_certificate(cert.der(), &ak, "the AK", &anchors(tee), &now())
            .unwrap_or_else(|e| panic!("vtpm-ak-cert under the {tee} anchors: {e}"));
        assert!(detail.contains("cvm-attest test Virtual TPM Root"), "{detail}");
    }
    let refused = ak_certificate(cert.der(), &ak, "the AK", &TrustAnchors::builtin(), &now());
    assert!(refused.is_err(), "the built-in Azure root does not vouch for a test AK certificate");

    // The profile of Azure's AK certificates (testdata/pki/README.md).
    let x509 = Certificate::from_der(cert.der()).expect("DER certificate");
    let tbs = &x509.tbs_certificate;
    assert_eq!(x509.signature_algorithm.oid, rfc5912::SHA_256_WITH_RSA_ENCRYPTION);
    assert_eq!(tbs.serial_number.as_bytes().len(), 16);
    assert_eq!(tbs.issuer.to_string(), "CN=cvm-attest test Virtual TPM CA - 01");
    let subject = tbs.subject.to_string();
    let host = subject.strip_prefix("CN=").and_then(|cn| cn.strip_suffix(".TrustedVM.Azure.Microsoft"));
    assert!(host.is_some_and(|h| h.len() == 12 && h.bytes().all(|b| b.is_ascii_hexdigit())), "{subject}");
    let days = |t: &x509_cert::time::Time| t.to_unix_duration().as_secs() / 86_400;
    let (from, to) = (&tbs.validity.not_before, &tbs.validity.not_after);
    assert_eq!(from.to_unix_duration().as_secs() % 86_400, 0, "from midnight");
    assert_eq!(days(to) - days(from), 630, "about 21 months");
    assert!(from.to_system_time() <= SystemTime::now() + Duration::from_secs(1));
    let extensions: Vec<(String, bool)> =
        tbs.extensions.iter().flatten().map(|e| (e.extn_id.to_string(), e.critical)).collect();
    let expected = [
        ("2.5.29.15", true),
        ("2.5.29.32", false),
        ("2.5.29.37", false),
        ("2.5.29.14", false),
        ("1.3.6.1.4.1.311.13.2.3", false),
        ("1.3.6.1.4.1.311.21.20", false),
        ("2.5.29.35", false),
    ];
    let expected: Vec<(String, bool)> = expected.iter().map(|(oid, c)| ((*oid).to_owned(), *c)).collect();
    assert_eq!(extensions, expected, "Azure's extensions in Azure's order, only keyUsage critical");
}

#[test]
fn each_cvm_has_its_own_ak_and_vm_id() {
    let (a, b) = (start(Tee::Snp), start(Tee::Snp));
    assert_ne!(a.ak().modulus, b.ak().modulus);
    assert_ne!(a.vm_unique_id(), b.vm_unique_id());
    assert_ne!(a.tcti(), b.tcti());
}
