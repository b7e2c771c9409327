//! The test PKI (`testdata/pki/`, made by its `make.sh`), compiled in so the simulator runs from any
//! directory. Test-only keys: see that folder's README.

macro_rules! pki_file {
    ($name:literal) => {
        include_str!(concat!("../testdata/pki/", $name))
    };
}

/// AMD-style SEV-SNP chain (Milan): ARK and ASK (RSA-4096, RSA-PSS/SHA-384) and the VCEK (P-384).
pub const AMD_ARK_PEM: &str = pki_file!("amd-test-ark.pem");
pub const AMD_ASK_PEM: &str = pki_file!("amd-test-ask.pem");
pub const AMD_VCEK_PEM: &str = pki_file!("amd-test-vcek.pem");
pub const AMD_VCEK_KEY: &str = pki_file!("amd-test-vcek.key");

/// Intel-style chain: root, PCK Platform CA, PCK leaf (signs QE reports), TCB signing (signs TCB Info).
pub const INTEL_ROOT_PEM: &str = pki_file!("intel-test-root.pem");
pub const INTEL_PCK_CA_PEM: &str = pki_file!("intel-test-pck-platform-ca.pem");
pub const INTEL_PCK_PEM: &str = pki_file!("intel-test-pck.pem");
pub const INTEL_PCK_KEY: &str = pki_file!("intel-test-pck.key");
pub const INTEL_TCB_SIGNING_CHAIN_PEM: &str = pki_file!("intel-test-tcb-signing-chain.pem");
pub const INTEL_TCB_SIGNING_KEY: &str = pki_file!("intel-test-tcb-signing.key");

/// Azure-vTPM-style CA: root and the CA that issues AK certificates.
pub const VTPM_ROOT_PEM: &str = pki_file!("vtpm-test-root.pem");
pub const VTPM_CA_PEM: &str = pki_file!("vtpm-test-ca.pem");
pub const VTPM_CA_KEY: &str = pki_file!("vtpm-test-ca.key");

/// MAA-style token signing: the key the simulated MAA signs with and its self-signed certificate
/// (served in `/certs`), and a key it never publishes (for the "unknown signer" fault).
pub const MAA_SIGNING_PEM: &str = pki_file!("maa-test-signing.pem");
pub const MAA_SIGNING_KEY: &str = pki_file!("maa-test-signing.key");
pub const MAA_UNKNOWN_SIGNING_PEM: &str = pki_file!("maa-test-unknown-signing.pem");
pub const MAA_UNKNOWN_SIGNING_KEY: &str = pki_file!("maa-test-unknown-signing.key");

/// TLS: the CA clients of the simulator trust, and the server certificate (SAN 127.0.0.1 and
/// localhost) with its key that the simulator's HTTPS listeners present.
pub const TLS_CA_PEM: &str = pki_file!("tls-test-ca.pem");
pub const TLS_SERVER_PEM: &str = pki_file!("tls-test-server.pem");
pub const TLS_SERVER_KEY: &str = pki_file!("tls-test-server.key");

/// The fixed values the test certificates carry and reports must match (see the PKI README).
pub const CHIP_ID: [u8; 64] = [0x5a; 64];
/// TCB_VERSION of Milan: bootloader 4, TEE 0, SNP 24, microcode 219.
pub const TCB_VERSION: u64 = 0xDB18_0000_0000_0004;
pub const FMSPC: [u8; 6] = [0x00, 0x80, 0x6f, 0x05, 0x00, 0x00];
