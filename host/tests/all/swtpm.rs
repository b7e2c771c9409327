//! A private software TPM per test: `swtpm` on free loopback ports with its own state directory,
//! provisioned the way Azure provisions a vTPM (AK at 0x81000003, AK certificate and HCL report in NV).
//!
//! swtpm serves one client at a time and has three transient object slots, so each test starts its
//! own and every helper here opens a connection, does its job and drops it again. All TPM work goes
//! through tss-esapi; nothing shells out to tpm2-tools.

use std::io::ErrorKind;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use sha2::{Digest as _, Sha256};
use tss_esapi::Context;
use tss_esapi::TctiNameConf;
use tss_esapi::attributes::{NvIndexAttributes, NvIndexAttributesBuilder, ObjectAttributes};
use tss_esapi::constants::CapabilityType;
use tss_esapi::handles::{
    KeyHandle, NvIndexHandle, NvIndexTpmHandle, ObjectHandle, PcrHandle, PersistentTpmHandle, TpmHandle,
};
use tss_esapi::interface_types::algorithm::HashingAlgorithm;
use tss_esapi::interface_types::dynamic_handles::Persistent;
use tss_esapi::interface_types::key_bits::RsaKeyBits;
use tss_esapi::interface_types::resource_handles::{Hierarchy, NvAuth, Provision};
use tss_esapi::interface_types::session_handles::AuthSession;
use tss_esapi::structures::{
    CapabilityData, Digest, DigestValues, HashScheme, MaxNvBuffer, NvPublicBuilder, Public, PublicKeyRsa,
    PublicRsaParameters, RsaExponent, RsaScheme, RsaSignature, Signature, SymmetricDefinitionObject,
};
use tss_esapi::traits::{Marshall, UnMarshall};

/// NV indices and handles Azure provisions (the same numbers as `cvm_attest::evidence::vtpm`, written
/// out again so that a wrong constant there cannot hide here).
pub const HCL_REPORT_INDEX: u32 = 0x0140_0001;
pub const AK_CERT_INDEX: u32 = 0x01C1_01D0;
pub const AK_HANDLE: u32 = 0x8100_0003;
/// objectAttributes of the Azure AK: fixedTPM | fixedParent | sensitiveDataOrigin | userWithAuth | noDA |
/// restricted | sign.
pub const AK_ATTRIBUTES: u32 = 0x0005_0472;
/// The SHA-256 PCRs [`Swtpm::provision_like_azure`] extends, so that quoted values are not all zero.
pub const EXTENDED_PCRS: [u8; 10] = [0, 1, 2, 3, 4, 5, 6, 7, 14, 23];

/// One swtpm test at a time. swtpm serves one client at a time, and tpm2-tss opens its sockets without
/// `CLOEXEC`: a process another test spawns while a connection is open inherits it, and an inherited
/// connection held by a long-lived process (another test's swtpm, or a `cvm-attest` waiting for its own
/// TPM) takes that swtpm's only client slot for good. Tests that do not use a TPM still run in parallel.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// A running swtpm, killed and reaped on drop; the test holds the TPM turn while it lives.
pub struct Swtpm {
    child: Child,
    port: u16,
    state: tempfile::TempDir,
    // Last: released after `drop` has killed the child.
    _turn: MutexGuard<'static, ()>,
}

impl Swtpm {
    /// Starts `swtpm socket --tpm2` on two free loopback ports (TPM and control channel) with a fresh
    /// state directory, already started up (`--flags not-need-init,startup-clear`).
    pub fn start() -> Swtpm {
        const ATTEMPTS: usize = 20;
        // A test that failed while holding the turn poisons the lock; the next one may still run.
        let turn = ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
        for _ in 0..ATTEMPTS {
            let state = tempfile::tempdir().expect("temp dir for the swtpm state");
            let Some(port) = free_port_pair() else { continue };
            let pid_file = state.path().join("swtpm.pid");
            let spawned = Command::new("swtpm")
                .arg("socket")
                .arg("--tpm2")
                .arg("--server")
                .arg(format!("type=tcp,port={port},bindaddr=127.0.0.1"))
                .arg("--ctrl")
                .arg(format!("type=tcp,port={},bindaddr=127.0.0.1", port + 1))
                .arg("--tpmstate")
                .arg(format!("dir={}", state.path().display()))
                .arg("--pid")
                .arg(format!("file={}", pid_file.display()))
                .args(["--flags", "not-need-init,startup-clear"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn();
            let mut child = match spawned {
                Ok(child) => child,
                Err(e) if e.kind() == ErrorKind::NotFound => panic!(
                    "the `swtpm` binary is not installed, and the vTPM tests need it: run \
                     `apt-get install swtpm swtpm-tools` (or scripts/setup-debian12.sh)"
                ),
                Err(e) => panic!("cannot run swtpm: {e}"),
            };
            if wait_until_listening(&mut child, &pid_file) {
                return Swtpm { child, port, state, _turn: turn };
            }
            // Another process took one of the ports between our probe and swtpm's bind: try others.
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("swtpm did not start on free loopback ports in {ATTEMPTS} attempts")
    }

    /// The TCTI string for `cvm_attest::evidence::vtpm::Vtpm::open`.
    pub fn tcti(&self) -> String {
        format!("swtpm:host=127.0.0.1,port={}", self.port)
    }

    /// A new tss-esapi connection. swtpm serves one client at a time: drop it (and any `Vtpm`) before
    /// opening the next.
    pub fn context(&self) -> Context {
        Context::new(TctiNameConf::from_str(&self.tcti()).expect("TCTI")).expect("connect to swtpm")
    }

    /// The state directory (for diagnostics).
    #[allow(dead_code)]
    pub fn state_dir(&self) -> &Path {
        self.state.path()
    }

    /// Provisions the TPM like an Azure vTPM: the AK as a persistent key at 0x81000003, `ak_cert_nv` in
    /// NV 0x01C101D0 (exactly these bytes: pass a zero-padded certificate to test trimming),
    /// `hcl_report` in NV 0x01400001 (at most 2048 bytes on swtpm), and [`EXTENDED_PCRS`] extended.
    /// Returns the AK's TPM2B_PUBLIC as CreatePrimary returned it.
    pub fn provision_like_azure(&self, hcl_report: &[u8], ak_cert_nv: &[u8]) -> Vec<u8> {
        let ak_public = self.create_ak();
        self.write_nv(AK_CERT_INDEX, ak_cert_nv);
        self.write_nv(HCL_REPORT_INDEX, hcl_report);
        self.extend_pcrs();
        ak_public
    }

    /// Creates Azure's AK: an RSA-2048 restricted signing primary key of the owner hierarchy, scheme
    /// RSASSA SHA-256, objectAttributes 0x00050472, made persistent at 0x81000003. The transient copy is
    /// flushed. Returns its TPM2B_PUBLIC.
    pub fn create_ak(&self) -> Vec<u8> {
        let template = Public::Rsa {
            object_attributes: ObjectAttributes::from(AK_ATTRIBUTES),
            name_hashing_algorithm: HashingAlgorithm::Sha256,
            auth_policy: Digest::default(),
            parameters: PublicRsaParameters::new(
                SymmetricDefinitionObject::Null,
                RsaScheme::RsaSsa(HashScheme::new(HashingAlgorithm::Sha256)),
                RsaKeyBits::Rsa2048,
                RsaExponent::ZERO_EXPONENT,
            ),
            unique: PublicKeyRsa::default(),
        };
        let mut ctx = self.context();
        let created = ctx
            .execute_with_session(Some(AuthSession::Password), |ctx| {
                ctx.create_primary(Hierarchy::Owner, template, None, None, None, None)
            })
            .expect("CreatePrimary of the AK");
        let persistent = Persistent::Persistent(PersistentTpmHandle::new(AK_HANDLE).expect("handle"));
        let mut evicted = ctx
            .execute_with_session(Some(AuthSession::Password), |ctx| {
                ctx.evict_control(Provision::Owner, created.key_handle.into(), persistent)
            })
            .expect("EvictControl of the AK to 0x81000003");
        ctx.flush_context(created.key_handle.into()).expect("flush the transient AK");
        ctx.tr_close(&mut evicted).expect("close the persistent AK handle");
        tpm2b(&created.out_public)
    }

    /// Defines an NV index of `size` bytes (owner- and auth-readable and -writable, nameAlg SHA-256, as
    /// Azure's clients define theirs) without writing it.
    pub fn define_nv(&self, index: u32, size: usize) {
        let mut ctx = self.context();
        let mut handle: ObjectHandle = define(&mut ctx, index, size).into();
        ctx.tr_close(&mut handle).expect("close the NV handle");
    }

    /// Defines an NV index of exactly `data.len()` bytes and writes `data` in 1024-byte chunks.
    pub fn write_nv(&self, index: u32, data: &[u8]) {
        let mut ctx = self.context();
        let nv = define(&mut ctx, index, data.len());
        for (i, chunk) in data.chunks(1024).enumerate() {
            let buffer = MaxNvBuffer::try_from(chunk.to_vec()).expect("chunk fits");
            let offset = u16::try_from(i * 1024).expect("offset fits");
            ctx.execute_with_session(Some(AuthSession::Password), |ctx| {
                ctx.nv_write(NvAuth::Owner, nv, buffer, offset)
            })
            .unwrap_or_else(|e| panic!("NV_Write of {index:#010x} at {offset}: {e}"));
        }
        let mut handle: ObjectHandle = nv.into();
        ctx.tr_close(&mut handle).expect("close the NV handle");
    }

    /// The whole content of an NV index (owner authorisation) and its attributes, read independently of
    /// the code under test.
    pub fn read_nv(&self, index: u32) -> (Vec<u8>, NvIndexAttributes) {
        let mut ctx = self.context();
        let tpm_handle = TpmHandle::NvIndex(NvIndexTpmHandle::new(index).expect("NV index"));
        let mut handle = ctx
            .execute_without_session(|ctx| ctx.tr_from_tpm_public(tpm_handle))
            .unwrap_or_else(|e| panic!("NV index {index:#010x} is not there: {e}"));
        let nv = NvIndexHandle::from(handle);
        let (public, _) = ctx.nv_read_public(nv).expect("NV_ReadPublic");
        let mut data = Vec::new();
        while data.len() < public.data_size() {
            let want = (public.data_size() - data.len()).min(1024);
            let chunk = ctx
                .execute_with_session(Some(AuthSession::Password), |ctx| {
                    ctx.nv_read(NvAuth::Owner, nv, want as u16, data.len() as u16)
                })
                .expect("NV_Read");
            data.extend_from_slice(chunk.value());
        }
        ctx.tr_close(&mut handle).expect("close the NV handle");
        (data, public.attributes())
    }

    /// Extends each of [`EXTENDED_PCRS`] once in the SHA-256 bank with [`pcr_event`].
    pub fn extend_pcrs(&self) {
        let mut ctx = self.context();
        for index in EXTENDED_PCRS {
            let mut digests = DigestValues::new();
            digests
                .set(HashingAlgorithm::Sha256, Digest::try_from(pcr_event(index).to_vec()).expect("digest"));
            let pcr = pcr_handle(index);
            ctx.execute_with_session(Some(AuthSession::Password), |ctx| ctx.pcr_extend(pcr, digests))
                .unwrap_or_else(|e| panic!("PCR_Extend of PCR {index}: {e}"));
        }
    }

    /// Verifies an RSASSA-PKCS1-v1_5 SHA-256 signature over `message` with the RSA key of
    /// `public_tpm2b` (a TPM2B_PUBLIC), on this TPM: TPM2_VerifySignature after loading the modulus as an
    /// external verification key (the AK's own attributes, restricted and fixedTPM, cannot be loaded
    /// from outside). `Err` carries the TPM's answer.
    pub fn verify_signature(
        &self,
        public_tpm2b: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), String> {
        let size = usize::from(u16::from_be_bytes([public_tpm2b[0], public_tpm2b[1]]));
        assert_eq!(size + 2, public_tpm2b.len(), "TPM2B_PUBLIC size prefix");
        let Public::Rsa { unique, parameters, .. } =
            Public::unmarshall(&public_tpm2b[2..]).expect("TPMT_PUBLIC")
        else {
            panic!("not an RSA key")
        };
        let verifier = Public::Rsa {
            object_attributes: tss_esapi::attributes::ObjectAttributesBuilder::new()
                .with_sign_encrypt(true)
                .with_user_with_auth(true)
                .build()
                .expect("attributes"),
            name_hashing_algorithm: HashingAlgorithm::Sha256,
            auth_policy: Digest::default(),
            parameters: PublicRsaParameters::new(
                SymmetricDefinitionObject::Null,
                RsaScheme::RsaSsa(HashScheme::new(HashingAlgorithm::Sha256)),
                parameters.key_bits(),
                parameters.exponent(),
            ),
            unique,
        };
        let mut ctx = self.context();
        let key: KeyHandle = ctx.load_external_public(verifier, Hierarchy::Null).expect("LoadExternal");
        let digest = Digest::try_from(Sha256::digest(message).to_vec()).expect("digest");
        let signature = Signature::RsaSsa(
            RsaSignature::create(
                HashingAlgorithm::Sha256,
                PublicKeyRsa::try_from(signature.to_vec()).expect("sig"),
            )
            .expect("signature"),
        );
        let verified = ctx.verify_signature(key, digest, signature).map(|_| ()).map_err(|e| e.to_string());
        ctx.flush_context(key.into()).expect("flush the verification key");
        verified
    }

    /// Transient objects and sessions currently in the TPM: after the code under test has run, there
    /// must be none.
    pub fn loaded_handles(&self) -> Vec<TpmHandle> {
        let mut ctx = self.context();
        let mut handles = Vec::new();
        // Transient objects, loaded sessions, active (saved) sessions: GetCapability lists the handles
        // of the type in the first byte only.
        for first in [0x8000_0000, 0x0200_0000, 0x0300_0000] {
            let (data, _) = ctx.get_capability(CapabilityType::Handles, first, 64).expect("GetCapability");
            let CapabilityData::Handles(list) = data else { panic!("handles capability") };
            handles.extend(list.into_inner());
        }
        handles
    }
}

impl Drop for Swtpm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The digest [`Swtpm::provision_like_azure`] extends into SHA-256 PCR `index`.
pub fn pcr_event(index: u8) -> [u8; 32] {
    Sha256::digest(format!("cvm-attest test event for PCR {index}")).into()
}

/// The SHA-256 value of PCR `index` after provisioning: `SHA-256(initial || event)` for the extended
/// ones, the initial value for the others. A fresh swtpm starts PCRs 17 to 22 (the dynamic-launch PCRs of
/// the PC Client profile) at all ones and the rest at zero.
pub fn expected_pcr(index: u8) -> [u8; 32] {
    let initial = if (17..=22).contains(&index) { [0xFF; 32] } else { [0; 32] };
    if EXTENDED_PCRS.contains(&index) {
        let mut hasher = Sha256::new();
        hasher.update(initial);
        hasher.update(pcr_event(index));
        hasher.finalize().into()
    } else {
        initial
    }
}

fn pcr_handle(index: u8) -> PcrHandle {
    use PcrHandle::*;
    [
        Pcr0, Pcr1, Pcr2, Pcr3, Pcr4, Pcr5, Pcr6, Pcr7, Pcr8, Pcr9, Pcr10, Pcr11, Pcr12, Pcr13, Pcr14, Pcr15,
        Pcr16, Pcr17, Pcr18, Pcr19, Pcr20, Pcr21, Pcr22, Pcr23,
    ][usize::from(index)]
}

/// TPM2B_PUBLIC bytes of `public`.
pub fn tpm2b(public: &Public) -> Vec<u8> {
    let tpmt = public.marshall().expect("marshal TPMT_PUBLIC");
    let mut out = u16::try_from(tpmt.len()).expect("size").to_be_bytes().to_vec();
    out.extend_from_slice(&tpmt);
    out
}

fn define(ctx: &mut Context, index: u32, size: usize) -> NvIndexHandle {
    let attributes = NvIndexAttributesBuilder::new()
        .with_owner_write(true)
        .with_auth_write(true)
        .with_owner_read(true)
        .with_auth_read(true)
        .build()
        .expect("NV attributes");
    let public = NvPublicBuilder::new()
        .with_nv_index(NvIndexTpmHandle::new(index).expect("NV index"))
        .with_index_name_algorithm(HashingAlgorithm::Sha256)
        .with_index_attributes(attributes)
        .with_data_area_size(size)
        .build()
        .expect("NV public");
    ctx.execute_with_session(Some(AuthSession::Password), |ctx| {
        ctx.nv_define_space(Provision::Owner, None, public)
    })
    .unwrap_or_else(|e| panic!("NV_DefineSpace of {index:#010x} ({size} bytes): {e}"))
}

/// A port `p` such that `p` and `p + 1` were both free a moment ago.
fn free_port_pair() -> Option<u16> {
    let first = TcpListener::bind("127.0.0.1:0").ok()?;
    let port = first.local_addr().ok()?.port();
    let next = port.checked_add(1)?;
    let _second = TcpListener::bind(("127.0.0.1", next)).ok()?;
    Some(port)
}

/// swtpm writes its pid file only after it has bound both sockets (when a port is taken it exits
/// without writing it), so the pid file — not a probe connection, which could reach whoever else holds
/// the port — says the TPM is ours and listening.
fn wait_until_listening(child: &mut Child, pid_file: &Path) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        let written = std::fs::read_to_string(pid_file).ok();
        if written.is_some_and(|pid| pid.trim() == child.id().to_string()) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}
