//! The boot the simulated CVM's firmware measures before the guest runs: a few events of a UEFI boot
//! extended into the vTPM's PCRs, and the TCG2 crypto-agile event log recording them (what Linux
//! shows in `/sys/kernel/security/tpm0/binary_bios_measurements`). The log replays to the PCRs, so
//! `attest` sends it and a verifier replays it, as on Azure.
//!
//! The events: the S-CRTM version into PCR 0, the `SecureBoot` UEFI variable (1, or 0 for a VM booted
//! with Secure Boot off) into PCR 7, and a separator into each of PCRs 0–7, the end of the
//! firmware's measurements. Each event's digest is the hash of its data, in the SHA-1 and SHA-256
//! banks.

use std::str::FromStr;

use sha1::Sha1;
use sha2::{Digest as _, Sha256};
use tss_esapi::handles::PcrHandle;
use tss_esapi::interface_types::algorithm::HashingAlgorithm;
use tss_esapi::interface_types::session_handles::AuthSession;
use tss_esapi::structures::{Digest, DigestValues};
use tss_esapi::{Context, TctiNameConf};

/// TCG PC Client event types.
const EV_NO_ACTION: u32 = 0x03;
const EV_SEPARATOR: u32 = 0x04;
const EV_S_CRTM_VERSION: u32 = 0x08;
const EV_EFI_VARIABLE_DRIVER_CONFIG: u32 = 0x8000_0001;

/// TPM_ALG_ID of the banks measured, with their digest sizes.
const TPM_ALG_SHA1: u16 = 0x0004;
const TPM_ALG_SHA256: u16 = 0x000B;

/// EFI_GLOBAL_VARIABLE, the vendor GUID of `SecureBoot`, in its in-memory (mixed-endian) layout.
const EFI_GLOBAL_VARIABLE: [u8; 16] =
    [0x61, 0xdf, 0xe4, 0x8b, 0xca, 0x93, 0xd2, 0x11, 0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c];

/// Why the boot could not be measured.
#[derive(Debug, thiserror::Error)]
#[error("measuring the simulated boot into the vTPM failed at {step}: {source}")]
pub struct BootError {
    step: &'static str,
    source: tss_esapi::Error,
}

/// Extends the boot's events into the TPM behind `tcti` and returns the event log recording them.
pub(super) fn measure(tcti: &str, secure_boot: bool) -> Result<Vec<u8>, BootError> {
    let step = |step| move |source| BootError { step, source };
    let mut ctx =
        Context::new(TctiNameConf::from_str(tcti).map_err(step("the TCTI"))?).map_err(step("connecting"))?;
    for (pcr, _, data) in events(secure_boot) {
        let mut values = DigestValues::new();
        let sha1 = Digest::try_from(Sha1::digest(&data).to_vec()).map_err(step("a digest"))?;
        let sha256 = Digest::try_from(Sha256::digest(&data).to_vec()).map_err(step("a digest"))?;
        values.set(HashingAlgorithm::Sha1, sha1);
        values.set(HashingAlgorithm::Sha256, sha256);
        ctx.execute_with_session(Some(AuthSession::Password), |ctx| ctx.pcr_extend(pcr_handle(pcr), values))
            .map_err(step("PCR_Extend"))?;
    }
    Ok(event_log(secure_boot))
}

/// The event log of the boot: the Spec ID event, then a TCG_PCR_EVENT2 record per event (PCR, type,
/// the digests — count, then algorithm and digest each —, the data).
fn event_log(secure_boot: bool) -> Vec<u8> {
    let mut log = spec_id_event();
    for (pcr, kind, data) in events(secure_boot) {
        log.extend(pcr.to_le_bytes());
        log.extend(kind.to_le_bytes());
        log.extend(2u32.to_le_bytes());
        log.extend(TPM_ALG_SHA1.to_le_bytes());
        log.extend(Sha1::digest(&data));
        log.extend(TPM_ALG_SHA256.to_le_bytes());
        log.extend(Sha256::digest(&data));
        log.extend(length(&data).to_le_bytes());
        log.extend(data);
    }
    log
}

/// The events, in the order the firmware measures them: (PCR, event type, event data).
fn events(secure_boot: bool) -> Vec<(u32, u32, Vec<u8>)> {
    let version: Vec<u8> = "cvm-attest-sim 1.0\0".encode_utf16().flat_map(u16::to_le_bytes).collect();
    let mut events = vec![
        (0, EV_S_CRTM_VERSION, version),
        (7, EV_EFI_VARIABLE_DRIVER_CONFIG, uefi_variable("SecureBoot", &[u8::from(secure_boot)])),
    ];
    events.extend((0..8).map(|pcr| (pcr, EV_SEPARATOR, vec![0; 4])));
    events
}

/// UEFI_VARIABLE_DATA: the vendor GUID, the name's length in characters and the data's in bytes
/// (UINT64 each), the name in UTF-16LE (no terminator), the data.
fn uefi_variable(name: &str, data: &[u8]) -> Vec<u8> {
    let name: Vec<u16> = name.encode_utf16().collect();
    let mut out = EFI_GLOBAL_VARIABLE.to_vec();
    out.extend((name.len() as u64).to_le_bytes());
    out.extend((data.len() as u64).to_le_bytes());
    out.extend(name.iter().flat_map(|c| c.to_le_bytes()));
    out.extend(data);
    out
}

/// The log's first record, in the SHA-1 (TCG_PCR_EVENT) format every log starts with: EV_NO_ACTION
/// into PCR 0 with a zero digest, whose data, TCG_EfiSpecIDEvent, says that the records after it
/// carry SHA-1 and SHA-256 digests.
fn spec_id_event() -> Vec<u8> {
    let mut spec = b"Spec ID Event03\0".to_vec();
    spec.extend(0u32.to_le_bytes()); // platformClass: client
    spec.extend([0, 2, 0, 2]); // specVersionMinor, specVersionMajor, specErrata, uintnSize (UINT64)
    spec.extend(2u32.to_le_bytes()); // numberOfAlgorithms
    for (algorithm, size) in [(TPM_ALG_SHA1, 20u16), (TPM_ALG_SHA256, 32)] {
        spec.extend(algorithm.to_le_bytes());
        spec.extend(size.to_le_bytes());
    }
    spec.push(0); // vendorInfoSize
    let mut record = 0u32.to_le_bytes().to_vec();
    record.extend(EV_NO_ACTION.to_le_bytes());
    record.extend([0; 20]);
    record.extend(length(&spec).to_le_bytes());
    record.extend(spec);
    record
}

fn length(data: &[u8]) -> u32 {
    u32::try_from(data.len()).unwrap_or(u32::MAX)
}

fn pcr_handle(pcr: u32) -> PcrHandle {
    match pcr {
        0 => PcrHandle::Pcr0,
        1 => PcrHandle::Pcr1,
        2 => PcrHandle::Pcr2,
        3 => PcrHandle::Pcr3,
        4 => PcrHandle::Pcr4,
        5 => PcrHandle::Pcr5,
        6 => PcrHandle::Pcr6,
        _ => PcrHandle::Pcr7,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cvm_attest_formats::eventlog::EventLog;
    use cvm_attest_formats::tpm::HashAlg;

    /// PCR 7 after extending these data, from zero.
    fn pcr7(data: &[&[u8]]) -> Vec<u8> {
        data.iter().fold(vec![0; 32], |pcr, data| {
            Sha256::new().chain_update(pcr).chain_update(Sha256::digest(data)).finalize().to_vec()
        })
    }

    #[test]
    fn the_log_replays_to_what_was_extended() {
        for secure_boot in [true, false] {
            let log = EventLog::parse(&event_log(secure_boot)).expect("parses");
            assert_eq!(log.events().len(), 11, "the Spec ID event, the version, SecureBoot, 8 separators");
            let replayed = log.replay(HashAlg::Sha256).expect("replays");
            let variable = uefi_variable("SecureBoot", &[u8::from(secure_boot)]);
            assert_eq!(replayed[&7], pcr7(&[&variable, &[0; 4]]), "secure boot {secure_boot}");
        }
    }
}
