//! The vTPM reader against a private swtpm provisioned like an Azure vTPM, with a real Azure HCL report
//! and a real Azure AK certificate. The TPM structures that come back are decoded here by hand, from the
//! TPM 2.0 layouts, so that the tests do not trust the code (or the tss-esapi parsing) they check.

use std::str::FromStr;
use std::time::{Duration, SystemTime};

use cvm_attest::evidence::vtpm::{AkCert, AkCertWarning, Error, Vtpm};
use sha2::{Digest as _, Sha256};
use x509_cert::Certificate;
use x509_cert::der::{Decode, Encode};
use x509_cert::name::Name;

use crate::swtpm::{self, AK_ATTRIBUTES, AK_CERT_INDEX, HCL_REPORT_INDEX, Swtpm, expected_pcr};

/// 2048-byte HCL report of an Azure SEV-SNP CVM (kinvolk/azure-cvm-tooling test data, shared with the
/// formats crate's tests).
const HCL_REPORT: &[u8] = include_bytes!("../../../formats/testdata/azure-snp/kinvolk-hcl-report-snp.bin");
/// AK certificate of an Azure Trusted Launch VM (MAA REST API example `AttestAzureGuestVm.json`).
const AK_CERT: &[u8] = include_bytes!("../../testdata/vtpm/azure-trustedvm-ak-cert.der");
const USER_DATA_INDEX: u32 = 0x0140_0002;
const AK_HANDLE: u32 = 0x8100_0003;
/// What the Azure Linux clients quote.
const LINUX_PCRS: [u8; 8] = [0, 1, 2, 3, 4, 5, 6, 7];
/// 2025-10-30T00:00:00Z, the real certificate's notAfter.
const AK_CERT_NOT_AFTER: u64 = 1_761_782_400;

fn at(unix: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(unix)
}

/// The AK certificate as it sits in NV: the DER followed by zero padding.
fn padded(der: &[u8]) -> Vec<u8> {
    let mut nv = der.to_vec();
    nv.resize(der.len() + 233, 0);
    nv
}

/// A swtpm provisioned like Azure, and the AK public that provisioning created.
fn azure_like() -> (Swtpm, Vec<u8>) {
    let tpm = Swtpm::start();
    let ak_public = tpm.provision_like_azure(HCL_REPORT, &padded(AK_CERT));
    (tpm, ak_public)
}

/// A bounds-checked reader of TPM (big-endian) structures.
struct Tpm<'a>(&'a [u8]);

impl<'a> Tpm<'a> {
    fn take(&mut self, n: usize) -> &'a [u8] {
        assert!(self.0.len() >= n, "structure truncated: need {n} bytes, {} left", self.0.len());
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        head
    }
    fn u16(&mut self) -> u16 {
        u16::from_be_bytes(self.take(2).try_into().expect("2 bytes"))
    }
    fn u32(&mut self) -> u32 {
        u32::from_be_bytes(self.take(4).try_into().expect("4 bytes"))
    }
    fn tpm2b(&mut self) -> &'a [u8] {
        let n = usize::from(self.u16());
        self.take(n)
    }
    fn end(&self) {
        assert!(self.0.is_empty(), "{} trailing bytes", self.0.len());
    }
}

/// The fields of an RSA TPMT_PUBLIC inside a TPM2B_PUBLIC.
#[derive(Debug)]
struct RsaPublic<'a> {
    object_attributes: u32,
    auth_policy: &'a [u8],
    symmetric: u16,
    scheme: u16,
    scheme_hash: Option<u16>,
    key_bits: u16,
    exponent: u32,
    modulus: &'a [u8],
}

fn parse_rsa_public(tpm2b: &[u8]) -> RsaPublic<'_> {
    let mut outer = Tpm(tpm2b);
    let mut p = Tpm(outer.tpm2b());
    outer.end();
    assert_eq!(p.u16(), 0x0001, "type TPM_ALG_RSA");
    assert_eq!(p.u16(), 0x000B, "nameAlg SHA-256");
    let object_attributes = p.u32();
    let auth_policy = p.tpm2b();
    let symmetric = p.u16();
    assert_eq!(symmetric, 0x0010, "symmetric TPM_ALG_NULL");
    let scheme = p.u16();
    let scheme_hash = (scheme != 0x0010).then(|| p.u16());
    let key_bits = p.u16();
    let exponent = p.u32();
    let modulus = p.tpm2b();
    p.end();
    RsaPublic { object_attributes, auth_policy, symmetric, scheme, scheme_hash, key_bits, exponent, modulus }
}

/// TPMS_ATTEST up to `attested`: checks the magic and the type, returns extraData and the rest.
fn parse_attest(attest: &[u8], expected_type: u16) -> (&[u8], Tpm<'_>) {
    let mut a = Tpm(attest);
    assert_eq!(a.u32(), 0xFF54_4347, "magic TPM_GENERATED_VALUE");
    assert_eq!(a.u16(), expected_type, "attestation type");
    let _qualified_signer = a.tpm2b();
    let extra_data = a.tpm2b();
    let _clock_info = a.take(8 + 4 + 4 + 1);
    let _firmware_version = a.take(8);
    (extra_data, a)
}

/// PolicyPCR digest from a fresh policy: SHA-256(0^32 || TPM_CC_PolicyPCR || TPML_PCR_SELECTION ||
/// SHA-256(PCR values)), the selection being one SHA-256 bank with sizeofSelect 3.
fn policy_pcr_digest(indices: &[u8], values: &[[u8; 32]]) -> [u8; 32] {
    let mut bitmap = [0u8; 3];
    for &i in indices {
        bitmap[usize::from(i / 8)] |= 1 << (i % 8);
    }
    let mut pcr_hash = Sha256::new();
    for v in values {
        pcr_hash.update(v);
    }
    let mut policy = Sha256::new();
    policy.update([0u8; 32]);
    policy.update(0x0000_017Fu32.to_be_bytes());
    policy.update(1u32.to_be_bytes());
    policy.update(0x000Bu16.to_be_bytes());
    policy.update([3]);
    policy.update(bitmap);
    policy.update(pcr_hash.finalize());
    policy.finalize().into()
}

#[test]
fn reads_the_hcl_report_byte_for_byte() {
    let (tpm, _) = azure_like();
    let mut vtpm = Vtpm::open(&tpm.tcti()).unwrap();
    let report = vtpm.read_hcl_report().unwrap();
    assert_eq!(report.len(), 2048);
    assert_eq!(report, HCL_REPORT);
    assert_eq!(&report[..4], b"HCLA");
}

#[test]
fn reads_the_ak_public_as_provisioned() {
    let (tpm, provisioned) = azure_like();
    let mut vtpm = Vtpm::open(&tpm.tcti()).unwrap();
    let ak = vtpm.read_ak_public().unwrap();
    assert_eq!(hex::encode(&ak), hex::encode(&provisioned));
    let public = parse_rsa_public(&ak);
    assert_eq!(public.object_attributes, 0x0005_0472);
    assert_eq!(public.object_attributes, AK_ATTRIBUTES);
    assert!(public.auth_policy.is_empty());
    assert_eq!((public.scheme, public.scheme_hash), (0x0014, Some(0x000B)), "RSASSA SHA-256");
    assert_eq!((public.key_bits, public.exponent, public.modulus.len()), (2048, 0, 256));
}

#[test]
fn reads_the_real_ak_cert_through_zero_padding() {
    let (tpm, _) = azure_like();
    let mut vtpm = Vtpm::open(&tpm.tcti()).unwrap();
    let cert = vtpm.read_ak_cert().unwrap();
    assert_eq!(cert.der(), AK_CERT);
    assert_eq!(cert.der().len(), 991);
    assert_eq!(cert.subject(), "CN=3098098a126b.TrustedVM.Azure.Microsoft");
    assert_eq!(cert.issuer(), "CN=Global Virtual TPM CA - 01");
    assert_eq!(cert.not_before(), at(1_707_264_000));
    assert_eq!(cert.not_after(), at(AK_CERT_NOT_AFTER));

    let warnings = cert.warnings(SystemTime::now());
    assert_eq!(warnings, vec![AkCertWarning::Expired { not_after: at(AK_CERT_NOT_AFTER) }]);
    assert!(warnings[0].to_string().contains("expired on 2025-10-30"), "{}", warnings[0]);
    let sixty_days = Duration::from_secs(60 * 86_400);
    assert_eq!(
        cert.warnings(at(AK_CERT_NOT_AFTER) - sixty_days),
        vec![AkCertWarning::ExpiresSoon { not_after: at(AK_CERT_NOT_AFTER), remaining: sixty_days }]
    );
    assert_eq!(cert.warnings(at(AK_CERT_NOT_AFTER) - Duration::from_secs(91 * 86_400)), vec![]);
}

/// The real certificate with its issuer replaced by the placeholder issuer Azure uses until the AK
/// certificate is provisioned (the C++ client matches `/CN=MICROSOFT AZURE TRUSTED VM RSA` in it). The
/// signature is left as it was, so it no longer verifies; the reader never checks it.
fn placeholder_cert(issuer: &str) -> Vec<u8> {
    let mut cert = Certificate::from_der(AK_CERT).expect("the real AK certificate parses");
    cert.tbs_certificate.issuer = Name::from_str(issuer).expect("RFC 4514 issuer");
    cert.to_der().expect("encode")
}

#[test]
fn placeholder_ak_cert_is_provisioning_delayed() {
    let tpm = Swtpm::start();
    tpm.write_nv(AK_CERT_INDEX, &padded(&placeholder_cert("CN=Microsoft Azure Trusted VM RSA CA")));
    let mut vtpm = Vtpm::open(&tpm.tcti()).unwrap();
    let err = vtpm.read_ak_cert().unwrap_err();
    let Error::AkCertNotProvisioned { index, issuer } = &err else { panic!("{err:?}") };
    assert_eq!((*index, issuer.as_str()), (AK_CERT_INDEX, "CN=Microsoft Azure Trusted VM RSA CA"));
    let message = err.to_string();
    assert!(message.contains("not provisioned yet") && message.contains("retry"), "{message}");

    // Case does not matter; a CN that merely contains the words elsewhere is not the placeholder.
    let shouted = placeholder_cert("O=Contoso,CN=MICROSOFT azure trusted vm rsa 2");
    assert!(matches!(AkCert::from_nv(&shouted), Err(Error::AkCertNotProvisioned { .. })));
    let other = placeholder_cert("CN=Not Microsoft Azure Trusted VM RSA");
    assert!(AkCert::from_nv(&other).is_ok());
}

#[test]
fn ak_cert_parser_rejects_truncated_and_survives_mutated_bytes() {
    // Every proper prefix of the real certificate is cut inside some DER element.
    for len in 0..AK_CERT.len() {
        let err = AkCert::from_nv(&AK_CERT[..len]).unwrap_err();
        assert!(matches!(err, Error::MalformedAkCert { index: AK_CERT_INDEX, .. }), "{len}: {err:?}");
    }
    // Any single corrupted byte: an error or a certificate, never a panic; trailing garbage is ignored.
    for i in 0..AK_CERT.len() {
        for flip in [0x01, 0x80, 0xFF] {
            let mut nv = padded(AK_CERT);
            nv[i] ^= flip;
            if let Ok(cert) = AkCert::from_nv(&nv) {
                assert!(cert.der().len() <= nv.len());
            }
        }
    }
    let mut garbage_after = AK_CERT.to_vec();
    garbage_after.extend_from_slice(&[0xFF; 100]);
    assert_eq!(AkCert::from_nv(&garbage_after).unwrap().der(), AK_CERT);
}

#[test]
fn quote_signature_verifies_and_binds_nonce_and_pcrs() {
    let (tpm, ak_public) = azure_like();
    let nonce = Sha256::digest(b"a verifier's nonce");
    let mut vtpm = Vtpm::open(&tpm.tcti()).unwrap();
    let quote = vtpm.quote(&LINUX_PCRS, &nonce).unwrap();
    let read = vtpm.read_pcrs(&LINUX_PCRS).unwrap();
    drop(vtpm);

    let expected: Vec<[u8; 32]> = LINUX_PCRS.iter().map(|&i| expected_pcr(i)).collect();
    let values: Vec<(u8, Vec<u8>)> =
        LINUX_PCRS.iter().zip(&expected).map(|(&i, v)| (i, v.to_vec())).collect();
    assert_eq!(quote.pcrs, values);
    assert_eq!(read, values);
    assert_eq!(quote.signature.len(), 256);

    let (extra_data, mut rest) = parse_attest(&quote.attest, 0x8018);
    assert_eq!(extra_data, nonce.as_slice());
    assert_eq!(rest.u32(), 1, "one PCR bank");
    assert_eq!(rest.u16(), 0x000B, "SHA-256 bank");
    assert_eq!(rest.take(4), [3, 0xFF, 0x00, 0x00], "sizeofSelect 3, PCRs 0-7");
    let mut concatenated = Vec::new();
    for v in &expected {
        concatenated.extend_from_slice(v);
    }
    assert_eq!(rest.tpm2b(), Sha256::digest(&concatenated).as_slice(), "pcrDigest");
    rest.end();

    tpm.verify_signature(&ak_public, &quote.attest, &quote.signature).unwrap();
    let mut tampered = quote.attest.clone();
    *tampered.last_mut().unwrap() ^= 1;
    assert!(tpm.verify_signature(&ak_public, &tampered, &quote.signature).is_err());
}

#[test]
fn quote_over_all_24_pcrs_reads_them_in_several_calls() {
    let (tpm, ak_public) = azure_like();
    let all: Vec<u8> = (0..24).collect();
    let mut vtpm = Vtpm::open(&tpm.tcti()).unwrap();
    let pcrs = vtpm.read_pcrs(&all).unwrap();
    let quote = vtpm.quote(&all, b"").unwrap();
    drop(vtpm);
    let expected: Vec<(u8, Vec<u8>)> = all.iter().map(|&i| (i, expected_pcr(i).to_vec())).collect();
    assert_eq!(pcrs, expected);
    assert_eq!(quote.pcrs, expected);
    let (extra_data, mut rest) = parse_attest(&quote.attest, 0x8018);
    assert!(extra_data.is_empty());
    assert_eq!((rest.u32(), rest.u16()), (1, 0x000B));
    assert_eq!(rest.take(4), [3, 0xFF, 0xFF, 0xFF]);
    tpm.verify_signature(&ak_public, &quote.attest, &quote.signature).unwrap();
}

#[test]
fn quote_rejects_bad_arguments_before_the_tpm() {
    let (tpm, _) = azure_like();
    let mut vtpm = Vtpm::open(&tpm.tcti()).unwrap();
    assert!(matches!(
        vtpm.quote(&LINUX_PCRS, &[0; 65]),
        Err(Error::QualifyingDataTooLong { len: 65, max: 64 })
    ));
    assert!(matches!(vtpm.quote(&[0, 24], b""), Err(Error::InvalidPcrIndex { index: 24 })));
    assert!(matches!(vtpm.quote(&[], b""), Err(Error::NoPcrsSelected)));
    assert!(matches!(
        vtpm.create_ephemeral_key(&[(30, vec![0; 32])]),
        Err(Error::InvalidPcrIndex { index: 30 })
    ));
    // A 64-byte nonce (a SHA-512) is the largest that fits.
    assert!(vtpm.quote(&LINUX_PCRS, &[7; 64]).is_ok());
}

#[test]
fn ephemeral_key_is_certified_and_bound_to_the_pcrs() {
    let (tpm, ak_public) = azure_like();
    let mut vtpm = Vtpm::open(&tpm.tcti()).unwrap();
    let pcrs = vtpm.read_pcrs(&LINUX_PCRS).unwrap();
    let key = vtpm.create_ephemeral_key(&pcrs).unwrap();
    drop(vtpm);

    let public = parse_rsa_public(&key.public);
    assert_eq!(public.object_attributes, 0x0002_0432);
    assert_eq!((public.symmetric, public.scheme, public.scheme_hash), (0x0010, 0x0010, None), "NULL, NULL");
    assert_eq!((public.key_bits, public.exponent, public.modulus.len()), (2048, 0, 256));
    let values: Vec<[u8; 32]> = LINUX_PCRS.iter().map(|&i| expected_pcr(i)).collect();
    assert_eq!(hex::encode(public.auth_policy), hex::encode(policy_pcr_digest(&LINUX_PCRS, &values)));

    let (extra_data, mut rest) = parse_attest(&key.certify_info, 0x8017);
    assert!(extra_data.is_empty());
    let name = rest.tpm2b();
    let _qualified_name = rest.tpm2b();
    rest.end();
    let mut expected_name = vec![0x00, 0x0B];
    expected_name.extend_from_slice(&Sha256::digest(&key.public[2..]));
    assert_eq!(hex::encode(name), hex::encode(expected_name), "name = 0x000B || SHA-256(TPMT_PUBLIC)");

    assert_eq!(key.certify_signature.len(), 256);
    tpm.verify_signature(&ak_public, &key.certify_info, &key.certify_signature).unwrap();
    let mut tampered = key.certify_info.clone();
    tampered[10] ^= 0x80;
    assert!(tpm.verify_signature(&ak_public, &tampered, &key.certify_signature).is_err());
    assert!(tpm.verify_signature(&key.public, &key.certify_info, &key.certify_signature).is_err());
}

#[test]
fn repeated_quotes_and_keys_leave_no_transient_objects() {
    let (tpm, ak_public) = azure_like();
    let mut vtpm = Vtpm::open(&tpm.tcti()).unwrap();
    let mut keys = Vec::new();
    // swtpm has three transient object slots: anything left behind fails within a few rounds.
    for round in 0..5u8 {
        let quote = vtpm.quote(&LINUX_PCRS, &[round; 32]).unwrap();
        assert_eq!(parse_attest(&quote.attest, 0x8018).0, [round; 32]);
        keys.push(vtpm.create_ephemeral_key(&quote.pcrs).unwrap());
    }
    drop(vtpm);
    assert_eq!(tpm.loaded_handles(), vec![], "transient objects or sessions left in the TPM");
    // Same seed, template and PCRs: the NULL-hierarchy key is the same every time.
    assert!(keys.iter().all(|k| k.public == keys[0].public));
    for key in &keys {
        tpm.verify_signature(&ak_public, &key.certify_info, &key.certify_signature).unwrap();
    }
}

#[test]
fn writes_user_data_defining_the_index() {
    let (tpm, _) = azure_like();
    let data: [u8; 64] = std::array::from_fn(|i| i as u8 ^ 0x5A);
    let mut vtpm = Vtpm::open(&tpm.tcti()).unwrap();
    vtpm.write_user_data(&data).unwrap();
    drop(vtpm);
    let (stored, attributes) = tpm.read_nv(USER_DATA_INDEX);
    assert_eq!(stored, data);
    assert!(
        attributes.owner_write()
            && attributes.auth_write()
            && attributes.owner_read()
            && attributes.auth_read()
    );
    assert!(attributes.written());

    // Again, with the index in place.
    let data = [0xA5; 64];
    Vtpm::open(&tpm.tcti()).unwrap().write_user_data(&data).unwrap();
    assert_eq!(tpm.read_nv(USER_DATA_INDEX).0, data);
}

#[test]
fn writes_user_data_over_an_index_of_another_size() {
    let tpm = Swtpm::start();
    tpm.write_nv(USER_DATA_INDEX, &[1; 32]);
    let data = [0x42; 64];
    Vtpm::open(&tpm.tcti()).unwrap().write_user_data(&data).unwrap();
    assert_eq!(tpm.read_nv(USER_DATA_INDEX).0, data);
}

#[test]
fn missing_objects_say_this_is_not_an_azure_vm() {
    let tpm = Swtpm::start();
    let mut vtpm = Vtpm::open(&tpm.tcti()).unwrap();
    let cases: [(Result<(), Error>, u32); 5] = [
        (vtpm.read_hcl_report().map(drop), HCL_REPORT_INDEX),
        (vtpm.read_ak_cert().map(drop), AK_CERT_INDEX),
        (vtpm.read_ak_public().map(drop), AK_HANDLE),
        (vtpm.quote(&LINUX_PCRS, b"").map(drop), AK_HANDLE),
        (vtpm.create_ephemeral_key(&[(0, vec![0; 32])]).map(drop), AK_HANDLE),
    ];
    for (result, handle) in cases {
        let err = result.unwrap_err();
        assert!(matches!(err, Error::Missing { handle: h, .. } if h == handle), "{err:?}");
        let message = err.to_string();
        assert!(message.contains(&format!("{handle:#010x}")), "{message}");
        assert!(message.contains("not an Azure confidential VM or Trusted Launch VM"), "{message}");
    }
    // A failed lookup leaves nothing behind either (the ephemeral key's trial session included).
    drop(vtpm);
    assert_eq!(tpm.loaded_handles(), vec![]);
}

#[test]
fn unwritten_ak_cert_says_retry_later() {
    let tpm = Swtpm::start();
    tpm.define_nv(AK_CERT_INDEX, 1024);
    let err = Vtpm::open(&tpm.tcti()).unwrap().read_ak_cert().unwrap_err();
    assert!(matches!(err, Error::NotWritten { index: AK_CERT_INDEX, .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("0x01c101d0") && message.contains("TPM_RC_NV_UNINITIALIZED"), "{message}");
    assert!(message.contains("not provisioned it yet") && message.contains("retry"), "{message}");
}

#[test]
fn missing_device_is_no_tpm() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tpmrm0");
    let err = Vtpm::open(&format!("device:{}", path.display())).unwrap_err();
    assert!(matches!(&err, Error::NoTpmDevice { path: p } if *p == path), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("not a VM with a vTPM") && message.contains("--tpm"), "{message}");
}

/// Set in the child process of [`unreadable_device_is_permission_denied`].
const DEVICE_ENV: &str = "CVM_ATTEST_TEST_UNREADABLE_DEVICE";

#[test]
fn unreadable_device_is_permission_denied() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::os::unix::process::CommandExt;

    if let Ok(path) = std::env::var(DEVICE_ENV) {
        // The child, running as `nobody`.
        let err = Vtpm::open(&format!("device:{path}")).unwrap_err();
        assert!(matches!(&err, Error::PermissionDenied { .. }), "{err:?}");
        let message = err.to_string();
        assert!(message.contains("run as root") && message.contains("`tss` group"), "{message}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let device = dir.path().join("tpmrm0");
    std::fs::write(&device, b"").unwrap();
    std::fs::set_permissions(&device, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::metadata("/proc/self").unwrap().uid() != 0 {
        let err = Vtpm::open(&format!("device:{}", device.display())).unwrap_err();
        assert!(matches!(&err, Error::PermissionDenied { path } if *path == device), "{err:?}");
        return;
    }
    // Root opens anything: run this test again as `nobody`, which may not open the root-owned node.
    // Run a copy of the test binary from the temp dir: the checkout may sit where `nobody` cannot go.
    let exe = dir.path().join("test-binary");
    std::fs::copy(std::env::current_exe().unwrap(), &exe).unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    let output = std::process::Command::new(&exe)
        .current_dir(dir.path())
        .args(["vtpm::unreadable_device_is_permission_denied", "--exact", "--nocapture"])
        .env(DEVICE_ENV, &device)
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "child as nobody: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn unreachable_simulator_is_a_connect_error() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let err = Vtpm::open(&format!("swtpm:host=127.0.0.1,port={port}")).unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
    assert!(err.to_string().contains(&format!("port={port}")), "{err}");
}

#[test]
fn the_harness_fixtures_are_what_the_readme_says() {
    // Pinned here so that a changed testdata file cannot go unnoticed (host/testdata/README.md).
    assert_eq!(
        hex::encode(Sha256::digest(HCL_REPORT)),
        "c1035b2534e3066942a34a4b4e2b88fe5b9e66256ebb59f3699a794667d85185"
    );
    assert_eq!(
        hex::encode(Sha256::digest(AK_CERT)),
        "4e852fdd5991c1da65ea695cfca476e2716b601a2bb53360f950cfd9647b2c97"
    );
    assert_eq!(swtpm::expected_pcr(8), [0; 32]);
}

#[test]
fn the_ephemeral_key_is_bound_to_the_quoted_values_even_if_a_pcr_moves_on() {
    use cvm_attest_formats::tpm::{self, Public};
    let (tpm, _) = azure_like();
    let mut vtpm = Vtpm::open(&tpm.tcti()).unwrap();
    let quote = vtpm.quote(&LINUX_PCRS, b"nonce").unwrap();
    drop(vtpm);
    tpm.extend_pcrs(); // something measures between the quote and the key
    let mut vtpm = Vtpm::open(&tpm.tcti()).unwrap();
    let now = vtpm.read_pcrs(&LINUX_PCRS).unwrap();
    assert_ne!(now, quote.pcrs, "the PCRs moved on");
    let key = vtpm.create_ephemeral_key(&quote.pcrs).unwrap();

    let public = Public::parse_tpm2b(&key.public).unwrap();
    let selection = tpm::Attest::parse(&quote.attest).unwrap().quote().unwrap().pcr_select.clone();
    let quoted = tpm::policy_pcr(public.name_alg(), &selection, quote.pcrs.iter().map(|(_, v)| v.as_slice()));
    assert_eq!(hex::encode(public.auth_policy()), hex::encode(quoted));
}

/// The inner key as MAA wraps it: RSAES-PKCS1-v1_5 to the ephemeral key's public modulus.
fn wrap_for(key_public: &[u8], secret: &[u8]) -> Vec<u8> {
    use rsa::{BigUint, Pkcs1v15Encrypt, RsaPublicKey};
    let public = cvm_attest_formats::tpm::Public::parse_tpm2b(key_public).expect("TPM2B_PUBLIC");
    let rsa = RsaPublicKey::new(
        BigUint::from_bytes_be(public.modulus()),
        BigUint::from(public.effective_exponent()),
    )
    .expect("an RSA key");
    rsa.encrypt(&mut aes_gcm::aead::OsRng, Pkcs1v15Encrypt, secret).expect("encrypted")
}

#[test]
fn the_ephemeral_key_decrypts_what_was_wrapped_for_it_while_the_pcrs_hold() {
    let (tpm, _) = azure_like();
    let mut vtpm = Vtpm::open(&tpm.tcti()).unwrap();
    let quote = vtpm.quote(&LINUX_PCRS, b"nonce").unwrap();
    let key = vtpm.create_ephemeral_key(&quote.pcrs).unwrap();
    let secret = [0x5c; 32];
    let wrapped = wrap_for(&key.public, &secret);
    assert_eq!(vtpm.decrypt_with_ephemeral_key(&quote.pcrs, &wrapped).unwrap(), secret);
    // Twice: the key is recreated, not kept.
    assert_eq!(vtpm.decrypt_with_ephemeral_key(&quote.pcrs, &wrapped).unwrap(), secret);
    let mut tampered = wrapped.clone();
    tampered[100] ^= 1;
    assert!(vtpm.decrypt_with_ephemeral_key(&quote.pcrs, &tampered).is_err(), "padding check fails");
}

#[test]
fn a_pcr_change_between_quote_and_decryption_is_refused_by_the_tpm() {
    let (tpm, _) = azure_like();
    let mut vtpm = Vtpm::open(&tpm.tcti()).unwrap();
    let quote = vtpm.quote(&LINUX_PCRS, b"nonce").unwrap();
    let key = vtpm.create_ephemeral_key(&quote.pcrs).unwrap();
    let wrapped = wrap_for(&key.public, &[1; 32]);
    drop(vtpm);
    tpm.extend_pcrs();
    let mut vtpm = Vtpm::open(&tpm.tcti()).unwrap();
    let err = vtpm.decrypt_with_ephemeral_key(&quote.pcrs, &wrapped).unwrap_err();
    assert!(matches!(err, Error::PcrsMoved), "{err}");
    assert!(err.to_string().contains("a PCR it is bound to changed since the quote"), "{err}");
}
