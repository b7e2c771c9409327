//! The paravisor vTPM front end against a real swtpm, driven by the project's own vTPM client
//! (`cvm_attest::evidence::vtpm::Vtpm`) through nothing but its TCTI string: the simulated NV indices
//! (HCL report, report user data) are served by the proxy, everything else reaches swtpm unchanged,
//! and malformed input gets TPM errors without stopping the proxy.
//!
//! Each test starts its own swtpm (`cvm_attest_sim::swtpm`) on free loopback ports with its own state
//! directory; the proxy forwards each command over a fresh connection, so tests run in parallel.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use cvm_attest::evidence::vtpm::Vtpm;
use cvm_attest_sim::paravisor::{
    self, AK_CERT_INDEX, AK_HANDLE, HCL_REPORT_ATTRIBUTES, HCL_REPORT_INDEX, Paravisor, USER_DATA_ATTRIBUTES,
    USER_DATA_INDEX, USER_DATA_LEN, tpma_nv,
};
use cvm_attest_sim::swtpm::Swtpm;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::signature::Verifier;
use rsa::{BigUint, RsaPublicKey};
use sha2::{Digest as _, Sha256};
use tss_esapi::constants::CapabilityType;
use tss_esapi::handles::{NvIndexHandle, NvIndexTpmHandle, TpmHandle};
use tss_esapi::structures::CapabilityData;
use tss_esapi::{Context, TctiNameConf};
use x509_cert::der::{DecodePem, Encode};

/// Size of current Azure HCL reports, above swtpm's 2048-byte NV limit.
const REPORT_LEN: usize = 2600;

/// The test HCL report builder: 2600 bytes, "HCLA", the user data at the runtime-claims offset, and a
/// pattern elsewhere, so that any misplaced chunk shows.
fn report_for(user_data: &[u8; USER_DATA_LEN]) -> Vec<u8> {
    let mut report: Vec<u8> = (0..REPORT_LEN).map(|i| (i % 251) as u8).collect();
    report[..4].copy_from_slice(b"HCLA");
    report[0x4D4..0x4D4 + USER_DATA_LEN].copy_from_slice(user_data);
    report
}

/// swtpm with the proxy in front, and how often the proxy asked for a report. The proxy is declared
/// first so that it stops before swtpm.
struct Sim {
    paravisor: Paravisor,
    reports_made: Arc<AtomicUsize>,
    _swtpm: Swtpm,
}

impl Sim {
    fn start() -> Sim {
        let swtpm = Swtpm::start(None).expect("start swtpm");
        let reports_made = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&reports_made);
        let paravisor = Paravisor::start(swtpm.command_addr(), swtpm.control_addr(), move |user_data| {
            counter.fetch_add(1, Ordering::SeqCst);
            report_for(user_data)
        })
        .expect("start the paravisor proxy");
        Sim { paravisor, reports_made, _swtpm: swtpm }
    }

    fn tcti(&self) -> String {
        self.paravisor.tcti()
    }

    fn vtpm(&self) -> Vtpm {
        Vtpm::open(&self.tcti()).expect("the project's client connects through the proxy")
    }

    /// A raw tss-esapi context through the proxy.
    fn context(&self) -> Context {
        Context::new(TctiNameConf::from_str(&self.tcti()).expect("TCTI")).expect("connect through the proxy")
    }

    /// A raw TCP connection to the proxy's command port.
    fn raw(&self) -> TcpStream {
        let stream = TcpStream::connect(("127.0.0.1", self.paravisor.port())).expect("connect to the proxy");
        stream.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
        stream
    }
}

/// The test vTPM CA certificate, as DER: any real certificate will do as an AK certificate here.
fn test_cert_der() -> Vec<u8> {
    x509_cert::Certificate::from_pem(cvm_attest_sim::pki::VTPM_CA_PEM)
        .and_then(|cert| cert.to_der())
        .expect("the test vTPM CA certificate")
}

#[test]
fn the_client_reads_the_whole_hcl_report_from_the_provider() {
    let sim = Sim::start();
    let mut vtpm = sim.vtpm();
    let report = vtpm.read_hcl_report().expect("read the HCL report through the proxy");
    assert_eq!(report.len(), REPORT_LEN);
    assert_eq!(report, report_for(&[0; USER_DATA_LEN]), "the boot report, made with zero user data");
    // A second read returns the same report without asking the provider again (and the three chunks
    // of each read come from one report).
    assert_eq!(vtpm.read_hcl_report().expect("read again"), report);
    assert_eq!(sim.reports_made.load(Ordering::SeqCst), 1);
}

#[test]
fn a_user_data_write_makes_the_next_report_fresh() {
    let sim = Sim::start();
    let mut vtpm = sim.vtpm();
    let before = vtpm.read_hcl_report().expect("boot report");
    for fill in [0xA5u8, 0x3C] {
        let user_data: [u8; USER_DATA_LEN] = std::array::from_fn(|i| fill ^ i as u8);
        vtpm.write_user_data(&user_data).expect("write the report user data through the proxy");
        let after = vtpm.read_hcl_report().expect("fresh report");
        assert_ne!(after, before);
        assert_eq!(after, report_for(&user_data), "the fresh report carries the user data");
    }
    assert_eq!(sim.reports_made.load(Ordering::SeqCst), 3, "one report at boot and one per write");
}

/// TPMS_NV_PUBLIC from the fields tss-esapi parsed, marshalled here independently of the proxy.
fn marshal_nv_public(public: &tss_esapi::structures::NvPublic) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&u32::from(public.nv_index()).to_be_bytes());
    out.extend_from_slice(&0x000Bu16.to_be_bytes());
    out.extend_from_slice(&attributes_of(public).to_be_bytes());
    let policy = public.authorization_policy();
    out.extend_from_slice(&(policy.len() as u16).to_be_bytes());
    out.extend_from_slice(policy.value());
    out.extend_from_slice(&(public.data_size() as u16).to_be_bytes());
    out
}

/// The raw TPMA_NV bits tss-esapi parsed.
fn attributes_of(public: &tss_esapi::structures::NvPublic) -> u32 {
    tss_esapi::tss2_esys::TPMA_NV::try_from(public.attributes()).expect("TPMA_NV")
}

/// NV_ReadPublic through tss-esapi (ESYS computes and checks the name itself in TR_FromTPMPublic).
fn read_public(ctx: &mut Context, index: u32) -> (tss_esapi::structures::NvPublic, Vec<u8>) {
    let tpm_handle = TpmHandle::NvIndex(NvIndexTpmHandle::new(index).expect("NV index"));
    let mut handle = ctx
        .execute_without_session(|ctx| ctx.tr_from_tpm_public(tpm_handle))
        .unwrap_or_else(|e| panic!("TR_FromTPMPublic of {index:#010x}: {e}"));
    let (public, name) = ctx.nv_read_public(NvIndexHandle::from(handle)).expect("NV_ReadPublic");
    ctx.tr_close(&mut handle).expect("close");
    (public, name.value().to_vec())
}

#[test]
fn nv_read_public_has_the_azure_attributes_size_and_name() {
    let sim = Sim::start();
    let mut ctx = sim.context();
    let cases = [
        (HCL_REPORT_INDEX, HCL_REPORT_ATTRIBUTES, REPORT_LEN),
        (USER_DATA_INDEX, USER_DATA_ATTRIBUTES, USER_DATA_LEN),
    ];
    for (index, attributes, size) in cases {
        let (public, name) = read_public(&mut ctx, index);
        assert_eq!(u32::from(public.nv_index()), index);
        assert_eq!(public.name_algorithm(), tss_esapi::interface_types::algorithm::HashingAlgorithm::Sha256);
        assert_eq!(attributes_of(&public), attributes, "{index:#010x}");
        assert_eq!(public.data_size(), size);
        let mut expected = vec![0x00, 0x0B];
        expected.extend_from_slice(&Sha256::digest(marshal_nv_public(&public)));
        assert_eq!(name, expected, "name of {index:#010x} = nameAlg || SHA-256(TPMS_NV_PUBLIC)");
    }
    assert_eq!(HCL_REPORT_ATTRIBUTES, 0x6206_0001);
    assert_eq!(USER_DATA_ATTRIBUTES, 0x0006_0006);
    drop(ctx);
    // After a write the user data index is WRITTEN, and its name changes accordingly.
    sim.vtpm().write_user_data(&[7; USER_DATA_LEN]).expect("write user data");
    let mut ctx = sim.context();
    let (public, name) = read_public(&mut ctx, USER_DATA_INDEX);
    assert_eq!(attributes_of(&public), USER_DATA_ATTRIBUTES | tpma_nv::WRITTEN);
    assert_eq!(&name[2..], Sha256::digest(marshal_nv_public(&public)).as_slice());
}

#[test]
fn nv_index_listings_include_the_simulated_indices() {
    let sim = Sim::start();
    paravisor::provision(&sim.tcti(), Some(&test_cert_der())).expect("provision through the proxy");
    let mut ctx = sim.context();
    let (data, more) = ctx.get_capability(CapabilityType::Handles, 0x0100_0000, 64).expect("GetCapability");
    let CapabilityData::Handles(list) = data else { panic!("a handle list") };
    let handles: Vec<u32> = list.into_inner().into_iter().map(u32::from).collect();
    assert!(!more);
    assert_eq!(handles, [HCL_REPORT_INDEX, USER_DATA_INDEX, AK_CERT_INDEX], "sorted, swtpm's and ours");
    // Paging: one at a time from just above the report index.
    let (data, more) =
        ctx.get_capability(CapabilityType::Handles, HCL_REPORT_INDEX + 1, 1).expect("GetCapability");
    let CapabilityData::Handles(list) = data else { panic!("a handle list") };
    assert_eq!(list.into_inner().into_iter().map(u32::from).collect::<Vec<_>>(), [USER_DATA_INDEX]);
    assert!(more, "the AK certificate index follows");
}

#[test]
fn ordinary_commands_reach_swtpm_through_the_proxy() {
    let sim = Sim::start();
    let cert = test_cert_der();
    let ak = paravisor::provision(&sim.tcti(), Some(&cert)).expect("provision through the proxy");
    assert_eq!(ak.modulus.len(), 256);
    assert_eq!(ak.exponent, 65_537);
    // Provisioning again keeps the AK.
    assert_eq!(paravisor::provision(&sim.tcti(), None).expect("provision again"), ak);

    let mut vtpm = sim.vtpm();
    let ak_public = vtpm.read_ak_public().expect("the AK at 0x81000003 through the proxy");
    assert_eq!(&ak_public[2..], ak.tpmt_public.as_slice(), "TPM2B_PUBLIC of the provisioned AK");
    assert_eq!(vtpm.read_ak_cert().expect("AK certificate").der(), cert.as_slice());

    let nonce = b"paravisor proxy quote nonce";
    let quote = vtpm.quote(&(0..24).collect::<Vec<u8>>(), nonce).expect("quote by the AK");
    assert_eq!(quote.pcrs.len(), 24);
    let key =
        RsaPublicKey::new(BigUint::from_bytes_be(&ak.modulus), BigUint::from(ak.exponent)).expect("key");
    let signature = Signature::try_from(quote.signature.as_slice()).expect("signature");
    VerifyingKey::<Sha256>::new(key)
        .verify(&quote.attest, &signature)
        .expect("the quote verifies with the AK");
    assert!(quote.attest.windows(nonce.len()).any(|w| w == nonce), "extraData is the nonce");
    assert_eq!(AK_HANDLE, 0x8100_0003);
}

/// Sends raw bytes and reads one response (header, then the rest it announces).
fn exchange(stream: &mut TcpStream, command: &[u8]) -> Vec<u8> {
    stream.write_all(command).expect("send");
    read_response(stream)
}

fn read_response(stream: &mut TcpStream) -> Vec<u8> {
    let mut response = vec![0u8; 10];
    stream.read_exact(&mut response).expect("a response header");
    let size = u32::from_be_bytes(response[2..6].try_into().expect("size field")) as usize;
    assert!((10..=8192).contains(&size), "response size {size}");
    response.resize(size, 0);
    stream.read_exact(&mut response[10..]).expect("the response body");
    response
}

fn response_code(response: &[u8]) -> u32 {
    u32::from_be_bytes(response[6..10].try_into().expect("response code field"))
}

/// NV_Read or NV_Write with one password session.
fn nv_command(code: u32, auth: u32, index: u32, password: &[u8], parameters: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&auth.to_be_bytes());
    body.extend_from_slice(&index.to_be_bytes());
    let mut session = 0x4000_0009u32.to_be_bytes().to_vec();
    session.extend_from_slice(&[0, 0, 0]);
    session.extend_from_slice(&(password.len() as u16).to_be_bytes());
    session.extend_from_slice(password);
    body.extend_from_slice(&(session.len() as u32).to_be_bytes());
    body.extend_from_slice(&session);
    body.extend_from_slice(parameters);
    let mut command = 0x8002u16.to_be_bytes().to_vec();
    command.extend_from_slice(&(10 + body.len() as u32).to_be_bytes());
    command.extend_from_slice(&code.to_be_bytes());
    command.extend_from_slice(&body);
    command
}

fn nv_read(auth: u32, index: u32, password: &[u8], size: u16, offset: u16) -> Vec<u8> {
    let mut parameters = size.to_be_bytes().to_vec();
    parameters.extend_from_slice(&offset.to_be_bytes());
    nv_command(0x14E, auth, index, password, &parameters)
}

const OWNER: u32 = 0x4000_0001;

#[test]
fn raw_nv_read_answers_like_a_tpm() {
    let sim = Sim::start();
    let mut raw = sim.raw();
    let response = exchange(&mut raw, &nv_read(OWNER, HCL_REPORT_INDEX, b"", 16, 2584));
    assert_eq!(response_code(&response), 0);
    // tag SESSIONS, parameterSize 18, TPM2B of 16 bytes, then the password acknowledgement.
    assert_eq!(&response[..2], &[0x80, 0x02]);
    assert_eq!(&response[10..16], &[0, 0, 0, 18, 0, 16]);
    assert_eq!(&response[16..32], &report_for(&[0; USER_DATA_LEN])[2584..]);
    assert_eq!(&response[32..], &[0, 0, 1, 0, 0]);
    // The index itself as authorisation (AUTHREAD) works too.
    let by_index = exchange(&mut raw, &nv_read(HCL_REPORT_INDEX, HCL_REPORT_INDEX, b"", 4, 0));
    assert_eq!(response_code(&by_index), 0);
    assert_eq!(&by_index[16..20], b"HCLA");
    let cases: [(&str, Vec<u8>, u32); 6] = [
        ("past the end", nv_read(OWNER, HCL_REPORT_INDEX, b"", 17, 2584), 0x146),
        ("above the NV buffer", nv_read(OWNER, HCL_REPORT_INDEX, b"", 1025, 0), 0x1C4),
        ("wrong password", nv_read(OWNER, HCL_REPORT_INDEX, b"secret", 16, 0), 0x98E),
        ("platform has no PPREAD", nv_read(0x4000_000C, HCL_REPORT_INDEX, b"", 16, 0), 0x149),
        ("user data never written", nv_read(OWNER, USER_DATA_INDEX, b"", 64, 0), 0x14A),
        (
            "the report is not the guest's to write",
            nv_command(0x137, OWNER, HCL_REPORT_INDEX, b"", &[0, 1, 0xFF, 0, 0]),
            0x149,
        ),
    ];
    for (what, command, code) in cases {
        let response = exchange(&mut raw, &command);
        assert_eq!(response_code(&response), code, "{what}");
        assert_eq!(response.len(), 10, "{what}: an error response is a bare header");
    }
    // A partial write at an offset, then reading it back.
    let write = nv_command(0x137, OWNER, USER_DATA_INDEX, b"", &[0, 2, 0xAB, 0xCD, 0, 62]);
    assert_eq!(response_code(&exchange(&mut raw, &write)), 0);
    let read = exchange(&mut raw, &nv_read(USER_DATA_INDEX, USER_DATA_INDEX, b"", 3, 61));
    assert_eq!(&read[16..19], &[0, 0xAB, 0xCD]);
    let overflow = nv_command(0x137, OWNER, USER_DATA_INDEX, b"", &[0, 2, 1, 2, 0, 63]);
    assert_eq!(response_code(&exchange(&mut raw, &overflow)), 0x146);
}

#[test]
fn malformed_commands_get_tpm_errors_and_the_proxy_keeps_serving() {
    let sim = Sim::start();
    let mut raw = sim.raw();
    // A bad tag with a plausible size: TPM_RC_BAD_TAG, and the connection stays usable.
    let response = exchange(&mut raw, &[0xDE, 0xAD, 0, 0, 0, 12, 0, 0, 1, 0x69, 0, 0]);
    assert_eq!(response_code(&response), 0x01E);
    // Our indices with truncated or padded areas.
    // NV_Read of the report without its parameters: TPM_RC_INSUFFICIENT.
    let truncated = nv_command(0x14E, OWNER, HCL_REPORT_INDEX, b"", &[0, 16]);
    assert_eq!(response_code(&exchange(&mut raw, &truncated)), 0x09A, "missing offset");
    // Without its second handle it is not recognisably about the report: swtpm answers
    // TPM_RC_INSUFFICIENT on handle 2 itself.
    let no_index = [0x80, 0x02, 0, 0, 0, 14, 0, 0, 1, 0x4E, 0x40, 0, 0, 1];
    assert_eq!(response_code(&exchange(&mut raw, &no_index)), 0x29A, "missing handle");
    let mut bad_auth = nv_read(OWNER, HCL_REPORT_INDEX, b"", 16, 0);
    bad_auth[21] = 0xFF; // authorizationSize far beyond the command
    assert_eq!(response_code(&exchange(&mut raw, &bad_auth)), 0x144);
    let mut padded = nv_read(OWNER, HCL_REPORT_INDEX, b"", 16, 0);
    padded.push(0);
    padded[5] += 1;
    assert_eq!(response_code(&exchange(&mut raw, &padded)), 0x095);
    let no_session = [0x80, 0x01, 0, 0, 0, 22, 0, 0, 1, 0x4E, 0x40, 0, 0, 1, 1, 0x40, 0, 1, 0, 16, 0, 0];
    assert_eq!(response_code(&exchange(&mut raw, &no_session)), 0x125);
    // Garbage with a valid frame goes to swtpm, which answers with its own error.
    let garbage = [0x80, 0x01, 0, 0, 0, 10, 0xFF, 0xFF, 0xFF, 0xFF];
    assert_ne!(response_code(&exchange(&mut raw, &garbage)), 0);
    // An impossible size: TPM_RC_COMMAND_SIZE, then the proxy ends this connection (no framing).
    let response = exchange(&mut raw, &[0x80, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 1, 0x44]);
    assert_eq!(response_code(&response), 0x142);
    let mut rest = Vec::new();
    assert_eq!(raw.read_to_end(&mut rest).expect("closed"), 0);
    // A client that sends half a command and stalls does not block others.
    let mut stalled = sim.raw();
    stalled.write_all(&[0x80, 0x01, 0, 0, 0, 100]).expect("half a header");
    // The proxy keeps serving the project's client.
    let report = sim.vtpm().read_hcl_report().expect("read after malformed input");
    assert_eq!(report, report_for(&[0; USER_DATA_LEN]));
}

#[test]
fn the_control_channel_reaches_swtpm() {
    let sim = Sim::start();
    let control = ("127.0.0.1", sim.paravisor.port() + 1);
    // CMD_GET_CAPABILITY: result 0 and swtpm's capability bits.
    let mut stream = TcpStream::connect(control).expect("control port");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    stream.write_all(&1u32.to_be_bytes()).expect("send");
    let mut response = [0u8; 8];
    stream.read_exact(&mut response).expect("capability response");
    assert_eq!(&response[..4], &[0, 0, 0, 0]);
    assert_ne!(&response[4..], &[0, 0, 0, 0], "swtpm supports some control commands");
    drop(stream);
    // CMD_SET_LOCALITY 0, as tpm2-tss sends it: one connection per control command.
    let mut stream = TcpStream::connect(control).expect("control port");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    stream.write_all(&[0, 0, 0, 5, 0]).expect("send");
    let mut response = [0u8; 4];
    stream.read_exact(&mut response).expect("locality response");
    assert_eq!(response, [0, 0, 0, 0]);
}

#[test]
fn dropping_the_proxy_closes_its_ports_even_with_clients_connected() {
    let sim = Sim::start();
    let port = sim.paravisor.port();
    // The client first: its TCTI sends a control command when it connects, and swtpm's control port
    // (hence the relay to it) serves one connection at a time.
    let _vtpm = sim.vtpm();
    let _idle_command = sim.raw();
    let _idle_control = TcpStream::connect(("127.0.0.1", port + 1)).expect("control port");
    let started = Instant::now();
    let Sim { paravisor, .. } = sim;
    drop(paravisor);
    assert!(started.elapsed() < Duration::from_secs(5), "drop took {:?}", started.elapsed());
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err(), "command port closed");
    assert!(TcpStream::connect(("127.0.0.1", port + 1)).is_err(), "control port closed");
}

#[test]
fn provision_refuses_certificates_swtpm_cannot_hold() {
    let too_large = vec![0x30; paravisor::AK_CERT_MAX + 1];
    let err = paravisor::provision("swtpm:host=127.0.0.1,port=1", Some(&too_large)).unwrap_err();
    assert!(matches!(err, paravisor::ProvisionError::CertTooLarge { .. }), "{err}");
    let err = paravisor::provision("swtpm:host=127.0.0.1,port=1", Some(&[])).unwrap_err();
    assert!(matches!(err, paravisor::ProvisionError::CertEmpty), "{err}");
}
