//! A simulated Azure confidential VM, for tests and demonstrations only: everything it signs is
//! signed by the test PKI in `testdata/pki/`, which no verifier trusts unless told to.
//!
//! * [`pki`]: the test keys and certificates, compiled in.
//! * [`hcl`], [`snp`], [`tdx`]: the HCL report the paravisor publishes, with an SEV-SNP report or a
//!   TD report inside, and the TD quote IMDS turns a TD report into.
//! * [`paravisor`]: the vTPM front end: a proxy speaking swtpm's TCP protocol that serves the
//!   paravisor's NV indices itself and forwards everything else to a real swtpm.
//! * [`swtpm`]: a private swtpm process on free loopback ports, killed on drop.
//! * [`cvm`]: the CVM's vTPM assembled: swtpm provisioned like Azure's (AK, AK certificate issued at
//!   run time) behind the paravisor, which serves HCL reports for SEV-SNP or TDX.
//! * [`environment`]: what `cvm-attest-sim up` runs: the CVM, IMDS and MAA, and the files (a
//!   cvm-attest configuration trusting the test roots, the TLS CA) and the variables pointing at them.
//! * [`maa`]: a Microsoft Azure Attestation compatible service: attestation routes appraising with
//!   the project's own code, RS256 tokens, the AzureGuest envelope, `/certs`, fault injection.
//! * [`imds`]: the Instance Metadata Service on loopback: THIM's VCEK chain, `/acc/tdquote`, the
//!   instance metadata (region), with IMDS's request rules.

pub mod cvm;
pub mod environment;
pub mod hcl;
pub mod imds;
pub mod maa;
pub mod paravisor;
pub mod pki;
pub mod snp;
pub mod swtpm;
pub mod tdx;
