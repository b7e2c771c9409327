//! Claims in MAA's shape, from appraised evidence.
//!
//! The offline verifier produces the claim set MAA would put in an `azurevm` guest token
//! (docs/protocol.md §11.1, §11.2), so claim-check plugins read MAA tokens and offline results
//! alike. Call [`azure_vm`] only once appraisal passed: the claims assert what the steps checked.
//! `x-ms-compliance-status` is asserted only when the steps show the debug check it stands for
//! passed (`snp-policy`, `tdx-td-attributes`) and no step failed. Claim values use MAA's encodings:
//! lower-case hex for byte strings (TDX 64-bit fields as their little-endian bytes, as in the
//! quote), numbers for SVNs.
//!
//! MAA claims not produced, because the evidence cannot support them:
//! * `iss`, `iat`, `nbf`, `exp`, `jti`: there is no token; `x-ms-policy-hash`: there is no MAA policy.
//! * `x-ms-azurevm-attestation-protocol-ver`: a field of the AzureGuest request, not of the evidence.
//! * `x-ms-azurevm-ostype`, `-osdistro`, `-osversion-major`, `-osversion-minor`, `-is-windows`,
//!   `-osbuild`, `-os-provisioning`: the only source is the bundle's `os` block, which nothing signs
//!   (neither the hardware report, the runtime claims nor the vTPM quote covers it), so whoever sends
//!   the evidence could write anything there. Show it apart from the claims, as unverified.
//! * `x-ms-azurevm-bootdebug-enabled`, `-dbvalidated`, `-dbxvalidated`, `-debuggersdisabled`,
//!   `-default-securebootkeysvalidated`, `-elam-enabled`, `-flightsigning-enabled`,
//!   `-hypervisordebug-enabled`, `-kerneldebug-enabled`, `-signingdisabled`, `-testsigning-enabled`,
//!   `-hvci-policy`: MAA reads them from Windows boot-log events, which this crate does not interpret.
//! * The `TdxVm` token's EAT claims `eat_profile`, `dbgstat`, `intuse`: they describe that token
//!   profile, not the TD (its `tdx_*` claims are all here, checked against a real token).
//!   `attester_tcb_status` is produced only when Intel's TCB collateral was supplied and
//!   `tdx-tcb-status` evaluated ([`add_tdx_tcb`]).

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rsa::BigUint;
use serde_json::{Map, Value, json};

use super::{Steps, snp, tdx};
use crate::bundle::{EphemeralKey, TpmEvidence};
use crate::hcl::{HclReport, RuntimeClaims};
use crate::intel::TcbVerdict;
use crate::snp::SnpReport;
use crate::tdx::{TdAttributes, TdQuote};
use crate::tpm::Public;

/// `x-ms-ver` of MAA's tokens.
const VERSION: &str = "1.0";
/// What MAA asserts of a CVM on an Azure-compliant host; here, of one whose debug check passed.
const COMPLIANT: &str = "azure-compliant-cvm";
/// The `kid` MAA gives the ephemeral key in `x-ms-runtime.keys`.
const EPHEMERAL_KID: &str = "TpmEphemeralEncryptionKey";

/// The appraised hardware report: SEV-SNP from the HCL report, or the TDX TD quote.
#[derive(Debug, Clone, Copy)]
pub enum Hardware<'a> {
    Snp(&'a SnpReport),
    Tdx(&'a TdQuote),
}

/// The `azurevm` claim set of appraised evidence. `verified_nonce` is the nonce appraisal found
/// bound (never the bundle's own, unchecked `nonce` field); `steps` are the appraisal's, from which
/// `x-ms-compliance-status` is decided.
pub fn azure_vm(
    tpm: &TpmEvidence,
    hcl: &HclReport,
    runtime: &RuntimeClaims,
    hardware: Hardware<'_>,
    verified_nonce: Option<&[u8]>,
    steps: &Steps,
) -> Value {
    let mut claims = Map::new();
    claims.insert("x-ms-attestation-type".into(), "azurevm".into());
    claims.insert("x-ms-ver".into(), VERSION.into());
    let configuration = &runtime.vm_configuration;
    claims.insert("secureboot".into(), configuration.secure_boot.into());
    claims.insert("x-ms-azurevm-vmid".into(), configuration.vm_unique_id.clone().into());
    // Exactly the quoted PCRs, once the `vtpm-pcr-digest` step passed.
    let pcrs: Vec<u8> = tpm.pcrs.values().keys().copied().collect();
    claims.insert("x-ms-azurevm-attested-pcrs".into(), pcrs.into());
    let client_runtime = client_runtime(tpm, verified_nonce);
    if !client_runtime.is_empty() {
        claims.insert("x-ms-runtime".into(), client_runtime.into());
    }
    claims.insert("x-ms-isolation-tee".into(), isolation_tee(hcl, hardware, steps).into());
    claims.into()
}

/// The `azurevm` claim set of an appraised Trusted Launch VM: what its vTPM evidence shows. There is
/// no hardware report, hence no `x-ms-isolation-tee`, and no runtime claims, hence no VM id or
/// secure-boot flag (MAA reads those from the Windows boot log, which this crate does not
/// interpret).
pub fn trusted_launch(tpm: &TpmEvidence, verified_nonce: Option<&[u8]>) -> Value {
    let mut claims = Map::new();
    claims.insert("x-ms-attestation-type".into(), "azurevm".into());
    claims.insert("x-ms-ver".into(), VERSION.into());
    let pcrs: Vec<u8> = tpm.pcrs.values().keys().copied().collect();
    claims.insert("x-ms-azurevm-attested-pcrs".into(), pcrs.into());
    let client_runtime = client_runtime(tpm, verified_nonce);
    if !client_runtime.is_empty() {
        claims.insert("x-ms-runtime".into(), client_runtime.into());
    }
    claims.into()
}

/// The claim set of a platform token (MAA's answer to `SevSnpVm` and `TdxVm`): the hardware
/// report's claims at the top level, the runtime claims as `x-ms-runtime`, no vTPM claims.
pub fn platform(hcl: &HclReport, hardware: Hardware<'_>, steps: &Steps) -> Value {
    let mut claims = isolation_tee(hcl, hardware, steps);
    claims.insert("x-ms-ver".into(), VERSION.into());
    claims.into()
}

/// `x-ms-runtime`: the ephemeral key MAA would encrypt to, and the nonce as a client payload (the
/// way the official client sends it).
fn client_runtime(tpm: &TpmEvidence, verified_nonce: Option<&[u8]>) -> Map<String, Value> {
    let mut runtime = Map::new();
    if let Some(key) = tpm.ephemeral_key.as_ref().and_then(ephemeral_jwk) {
        runtime.insert("keys".into(), json!([key]));
    }
    if let Some(nonce) = verified_nonce {
        runtime.insert("client-payload".into(), json!({ "nonce": STANDARD.encode(nonce) }));
    }
    runtime
}

fn ephemeral_jwk(key: &EphemeralKey) -> Option<Value> {
    let public = Public::parse_tpm2b(&key.public).ok()?;
    let exponent = BigUint::from(public.effective_exponent()).to_bytes_be();
    Some(json!({
        "kid": EPHEMERAL_KID,
        "kty": "RSA",
        "key_ops": ["encrypt"],
        "n": URL_SAFE_NO_PAD.encode(public.modulus()),
        "e": URL_SAFE_NO_PAD.encode(exponent),
    }))
}

fn isolation_tee(hcl: &HclReport, hardware: Hardware<'_>, steps: &Steps) -> Map<String, Value> {
    let (tee_type, debug_check, mut claims) = match hardware {
        Hardware::Snp(report) => ("sevsnpvm", snp::POLICY, sevsnpvm(report)),
        Hardware::Tdx(quote) => ("tdxvm", tdx::TD_ATTRIBUTES, tdxvm(quote)),
    };
    claims.insert("x-ms-attestation-type".into(), tee_type.into());
    // Asserted from the checks' outcome, not from being called: a caller that skipped or failed
    // the debug check gets no compliance claim.
    if steps.failure().is_none() && steps.passed(debug_check) {
        claims.insert("x-ms-compliance-status".into(), COMPLIANT.into());
    }
    if let Ok(runtime) = crate::json::value_from_slice(hcl.runtime_claims_json()) {
        claims.insert("x-ms-runtime".into(), runtime);
    }
    claims
}

/// The `x-ms-sevsnpvm-*` claims of an SEV-SNP report. SVNs are the reported TCB's (the one the
/// VCEK certifies), the booleans the guest policy's bits.
pub fn sevsnpvm(report: &SnpReport) -> Map<String, Value> {
    let tcb = report.reported_tcb();
    let policy = report.policy();
    let claims = [
        ("authorkeydigest", hex::encode(report.author_key_digest()).into()),
        ("bootloader-svn", tcb.bootloader.into()),
        ("familyId", hex::encode(report.family_id()).into()),
        ("guestsvn", report.guest_svn().into()),
        ("hostdata", hex::encode(report.host_data()).into()),
        ("idkeydigest", hex::encode(report.id_key_digest()).into()),
        ("imageId", hex::encode(report.image_id()).into()),
        ("is-debuggable", policy.debug_allowed().into()),
        ("launchmeasurement", hex::encode(report.measurement()).into()),
        ("microcode-svn", tcb.microcode.into()),
        ("migration-allowed", policy.migrate_ma_allowed().into()),
        ("reportdata", hex::encode(report.report_data()).into()),
        ("reportid", hex::encode(report.report_id()).into()),
        ("smt-allowed", policy.smt_allowed().into()),
        ("snpfw-svn", tcb.snp.into()),
        ("tee-svn", tcb.tee.into()),
        ("vmpl", report.vmpl().into()),
    ];
    claims.into_iter().map(|(name, value): (&str, Value)| (format!("x-ms-sevsnpvm-{name}"), value)).collect()
}

/// TD attributes bits MAA names (Intel TDX Module ABI, ATTRIBUTES) that [`TdAttributes`] does not.
const HGS_PLUS_PROF: u64 = 1 << 4;
const PERF_PROF: u64 = 1 << 5;
const PMT_PROF: u64 = 1 << 6;
const ICSSD: u64 = 1 << 16;
const MIGRATABLE: u64 = 1 << 29;
const PROTECTION_KEYS: u64 = 1 << 30;
const KEY_LOCKER: u64 = 1 << 31;
const PERFMON: u64 = 1 << 63;
/// XFAM bits MAA names: CET user and supervisor state (Intel SDM, XSAVE state components 11, 12).
const XFAM_CET_U: u64 = 1 << 11;
const XFAM_CET_S: u64 = 1 << 12;

/// The `tdx_*` claims of a TD quote's body.
pub fn tdxvm(quote: &TdQuote) -> Map<String, Value> {
    let body = quote.body();
    let attributes = body.td_attributes;
    let [rtmr0, rtmr1, rtmr2, rtmr3] = &body.rtmr;
    let claims = [
        ("tdx_mrseam", hex::encode(body.mrseam).into()),
        ("tdx_mrsignerseam", hex::encode(body.mrsignerseam).into()),
        ("tdx_mrtd", hex::encode(body.mrtd).into()),
        ("tdx_mrconfigid", hex::encode(body.mrconfigid).into()),
        ("tdx_mrowner", hex::encode(body.mrowner).into()),
        ("tdx_mrownerconfig", hex::encode(body.mrownerconfig).into()),
        ("tdx_rtmr0", hex::encode(rtmr0).into()),
        ("tdx_rtmr1", hex::encode(rtmr1).into()),
        ("tdx_rtmr2", hex::encode(rtmr2).into()),
        ("tdx_rtmr3", hex::encode(rtmr3).into()),
        ("tdx_report_data", hex::encode(body.report_data).into()),
        ("tdx_seam_attributes", le_hex(body.seam_attributes).into()),
        ("tdx_tee_tcb_svn", hex::encode(body.tee_tcb_svn).into()),
        ("tdx_xfam", le_hex(body.xfam).into()),
        ("tdx_td_attributes", le_hex(attributes.0).into()),
        ("tdx_td_attributes_debug", attributes.debug().into()),
        ("tdx_td_attributes_septve_disable", attributes.sept_ve_disable().into()),
        ("tdx_td_attributes_protection_keys", has(attributes, PROTECTION_KEYS).into()),
        ("tdx_td_attributes_key_locker", has(attributes, KEY_LOCKER).into()),
        ("tdx_td_attributes_perfmon", has(attributes, PERFMON).into()),
        ("tdx_td_attributes_hgs_plus_prof", has(attributes, HGS_PLUS_PROF).into()),
        ("tdx_td_attributes_perf_prof", has(attributes, PERF_PROF).into()),
        ("tdx_td_attributes_pmt_prof", has(attributes, PMT_PROF).into()),
        ("tdx_td_attributes_icssd", has(attributes, ICSSD).into()),
        ("tdx_td_attributes_migratable", has(attributes, MIGRATABLE).into()),
        ("tdx_xfam_cet_u", (body.xfam & XFAM_CET_U != 0).into()),
        ("tdx_xfam_cet_s", (body.xfam & XFAM_CET_S != 0).into()),
        ("tdx_seamsvn", seamsvn(body.tee_tcb_svn).into()),
    ];
    claims.into_iter().map(|(name, value): (&str, Value)| (name.to_owned(), value)).collect()
}

/// The TCB claims of an evaluated `tdx-tcb-status`: `attester_tcb_status`, MAA's claim, with Intel's
/// status name (`UpToDate`, `OutOfDate` …), and `attester_advisory_ids`, Intel's advisory IDs
/// (`INTEL-SA-00960` …) of the platform's, the TDX module's and the TD_QE's levels. MAA's public TDX
/// claim set has no advisory claim: that name is this crate's, chosen to sit beside MAA's.
pub fn tdx_tcb(verdict: &TcbVerdict) -> Map<String, Value> {
    let mut claims = Map::new();
    claims.insert("attester_tcb_status".into(), verdict.status.name().into());
    claims.insert("attester_advisory_ids".into(), verdict.advisory_ids.clone().into());
    claims
}

/// Add [`tdx_tcb`]'s claims to the TDX claims of a claim set from [`azure_vm`] (its
/// `x-ms-isolation-tee`) or [`platform`] (the top level). Call it only with the verdict of the
/// appraisal the claims come from, and only when `tdx-tcb-status` passed.
pub fn add_tdx_tcb(claims: &mut Value, verdict: &TcbVerdict) {
    let tee = match claims.get("x-ms-isolation-tee") {
        Some(_) => claims.get_mut("x-ms-isolation-tee"),
        None => Some(claims),
    };
    if let Some(tee) = tee.and_then(Value::as_object_mut) {
        tee.extend(tdx_tcb(verdict));
    }
}

/// MAA's `tdx_seamsvn`: TEE_TCB_SVN bytes 0 and 1 (the TDX module's minor SVN and major version) as
/// a little-endian number — 269 for `0d01…` in a real sharedwus token, 3 for `0300…` in Microsoft's
/// documented example.
fn seamsvn(tee_tcb_svn: [u8; 16]) -> u16 {
    u16::from_le_bytes([tee_tcb_svn[0], tee_tcb_svn[1]])
}

fn has(attributes: TdAttributes, bit: u64) -> bool {
    attributes.0 & bit != 0
}

/// A 64-bit quote field as MAA shows it: its little-endian bytes in hex, as they are in the quote.
fn le_hex(value: u64) -> String {
    hex::encode(value.to_le_bytes())
}
