//! TCG event logs against real logs: the TDX CCEL of an OVMF TD (crypto-agile, SHA-384), a Windows
//! GCP Shielded VM's SHA-1 log with its recorded PCRs, and the crypto-agile log of MAA's AzureGuest
//! REST example with its quoted SHA-256 PCRs. Expected values come from `verify/verify_eventlog.py`
//! and `verify/verify_restspec.py`.

use std::collections::BTreeMap;

use crate::common::byte_mutations;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use cvm_attest_formats::ParseError;
use cvm_attest_formats::eventlog::{EventLog, EventType, LogFormat, ReplayError};
use cvm_attest_formats::tpm::{AlgorithmId, HashAlg};
use proptest::prelude::*;
use serde_json::Value;

const CCEL: &[u8] = include_bytes!("../../testdata/eventlog/trustee-CCEL_data_ovmf");
const GCP_DUMP: &str = include_str!("../../testdata/eventlog/go-eventlog-windows_gcp_shielded_vm.json");
const AZURE_GUEST: &str = include_str!("../../testdata/maa-rest-spec/AttestAzureGuestVm.json");

/// RTMR0..3 that trustee's own tests assert for this CCEL (`deps/eventlog/src/lib.rs`,
/// `test_rtmr_integrity`), as copied into `verify/verify_eventlog.py`.
const CCEL_RTMRS: [&str; 4] = [
    "8566f998798db09443b244c62de9a3041fb02e2e6936c4396d784bba2e90177329ec5aba3bb484404f2ab9cc90abe193",
    "775b9f6bfe99f8a31396f0d0218e67ffa796d3b96ccf961cbb0deba48c79c00f082cda1a5567c1c16305f1fc210c13c6",
    "94eaf7a7bf398ed8d888c91057ae0261802e4f3df084213a76ca7f0b5055ac9d2241de43cd58d9e8b49c503bbf25f34a",
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
];

fn b64(value: &Value) -> Vec<u8> {
    STANDARD.decode(value.as_str().expect("a base64 string")).expect("valid base64")
}

/// `[{"Index": n, "Digest": base64}, ...]` as a map.
fn pcr_list(list: &Value) -> BTreeMap<u32, Vec<u8>> {
    let list = list.as_array().expect("a PCR list");
    list.iter()
        .map(|p| {
            let index = p["Index"].as_u64().and_then(|i| u32::try_from(i).ok()).expect("a PCR index");
            (index, b64(&p["Digest"]))
        })
        .collect()
}

/// The SHA-1 log and the recorded PCRs of the GCP vTPM dump.
fn gcp_log() -> (Vec<u8>, BTreeMap<u32, Vec<u8>>) {
    let dump: Value = serde_json::from_str(GCP_DUMP).expect("the dump is JSON");
    (b64(&dump["Log"]["Raw"]), pcr_list(&dump["Log"]["PCRs"]))
}

/// TcgLogs and the quoted PCRs of the AzureGuest request.
fn azure_guest_log() -> (Vec<u8>, BTreeMap<u32, Vec<u8>>) {
    let doc: Value = serde_json::from_str(AZURE_GUEST).expect("the example is JSON");
    let info = doc["parameters"]["request"]["attestationInfo"].as_str().expect("attestationInfo");
    let info = URL_SAFE_NO_PAD.decode(info).expect("attestationInfo is base64url");
    let info: Value = serde_json::from_slice(&info).expect("attestationInfo is JSON");
    (b64(&info["TcgLogs"]), pcr_list(&info["TpmInfo"]["PCRs"]))
}

#[test]
fn ccel_replays_to_trustee_rtmrs() {
    let log = EventLog::parse(CCEL).unwrap();
    assert_eq!(log.format(), LogFormat::CryptoAgile);
    assert_eq!(log.algorithms(), vec![AlgorithmId::SHA384]);
    let spec = log.spec_id().unwrap();
    assert_eq!((spec.spec_version_major, spec.spec_version_minor, spec.uintn_size), (2, 0, 2));
    assert_eq!(log.events().len(), 21);
    // 2120 bytes of records, then 0xFF filler to 64 KiB.
    assert_eq!(log.padding(), 65536 - 2120);
    let rtmrs = log.replay_rtmrs().unwrap();
    assert_eq!(rtmrs.map(hex::encode), CCEL_RTMRS.map(String::from));
    // The generic replay gives the same registers under their CC MR indices.
    let by_index = log.replay(HashAlg::Sha384).unwrap();
    assert_eq!(by_index.keys().copied().collect::<Vec<_>>(), vec![1, 2, 3]);
    assert_eq!(by_index[&1], rtmrs[0]);
    // There is no SHA-256 bank.
    assert!(matches!(
        log.replay(HashAlg::Sha256),
        Err(ReplayError::BankNotInLog { bank: HashAlg::Sha256, .. })
    ));
}

#[test]
fn ccel_with_a_changed_digest_replays_differently() {
    let log = EventLog::parse(CCEL).unwrap();
    // Flip one bit of the first measured event's digest (an RTMR0 extend).
    let digest = log.events()[1].digest(AlgorithmId::SHA384).unwrap().to_vec();
    let at = CCEL.windows(48).position(|w| w == digest.as_slice()).unwrap();
    let mut tampered = CCEL.to_vec();
    tampered[at] ^= 1;
    let rtmrs = EventLog::parse(&tampered).unwrap().replay_rtmrs().unwrap();
    assert_ne!(hex::encode(rtmrs[0]), CCEL_RTMRS[0]);
    assert_eq!(hex::encode(rtmrs[1]), CCEL_RTMRS[1]);
}

#[test]
fn ccel_event_for_an_unknown_register_is_refused() {
    let mut tampered = CCEL.to_vec();
    // The second record (right after the 65-byte Spec ID record) names MR index 1; make it 7.
    assert_eq!(tampered[65..69], 1u32.to_le_bytes());
    tampered[65] = 7;
    let log = EventLog::parse(&tampered).unwrap();
    assert_eq!(log.replay_rtmrs(), Err(ReplayError::InvalidMrIndex { event: 1, index: 7 }));
}

#[test]
fn gcp_sha1_log_replays_to_the_recorded_pcrs() {
    let (raw, recorded) = gcp_log();
    let log = EventLog::parse(&raw).unwrap();
    assert_eq!(log.format(), LogFormat::Sha1);
    assert_eq!(log.events().len(), 21);
    assert_eq!(log.padding(), 0);
    assert_eq!(log.events()[0].event_type, EventType::EV_S_CRTM_VERSION);
    let replayed = log.replay(HashAlg::Sha1).unwrap();
    assert_eq!(replayed.keys().copied().collect::<Vec<_>>(), vec![0, 4, 5, 7, 11, 12, 13, 14]);
    assert_eq!(recorded.len(), 24);
    for (index, value) in &recorded {
        let expected = match replayed.get(index) {
            Some(v) => v.clone(),
            // The log does not touch these: DRTM PCRs 17–22 reset to all ones, the others to zero.
            None if (17..=22).contains(index) => vec![0xff; 20],
            None => vec![0; 20],
        };
        assert_eq!(&expected, value, "PCR {index}");
    }
}

#[test]
fn azure_guest_log_replays_to_the_quoted_pcrs() {
    let (raw, quoted) = azure_guest_log();
    assert_eq!(raw.len(), 67113);
    let log = EventLog::parse(&raw).unwrap();
    assert_eq!(log.format(), LogFormat::CryptoAgile);
    assert_eq!(log.algorithms(), vec![AlgorithmId::SHA1, AlgorithmId::SHA256, AlgorithmId::SHA384]);
    assert_eq!(log.events().len(), 34);
    let replayed = log.replay(HashAlg::Sha256).unwrap();
    assert_eq!(quoted.keys().copied().collect::<Vec<_>>(), vec![0, 1, 2, 3, 4, 5, 6, 7, 11, 12, 13, 14]);
    for (index, value) in &quoted {
        assert_eq!(replayed.get(index), Some(value), "PCR {index}");
    }
    // Windows extends PCRs 11–14 in the SHA-256 bank only, so the SHA-1 bank has no value for them.
    let sha1 = log.replay(HashAlg::Sha1).unwrap();
    assert!(sha1.contains_key(&0) && !sha1.contains_key(&11));

    // One bit of an event's SHA-256 digest changes its PCR (0) and no other.
    let digest = log.events()[2].digest(AlgorithmId::SHA256).unwrap().to_vec();
    let at = raw.windows(32).position(|w| w == digest.as_slice()).unwrap();
    let mut tampered = raw.clone();
    tampered[at + 31] ^= 0x40;
    let replayed = EventLog::parse(&tampered).unwrap().replay(HashAlg::Sha256).unwrap();
    assert_ne!(replayed.get(&0), quoted.get(&0));
    assert_eq!(replayed.get(&7), quoted.get(&7));
}

/// A crypto-agile Spec ID record listing `algorithms`.
fn spec_id_record(algorithms: &[(u16, u16)]) -> Vec<u8> {
    let mut data = b"Spec ID Event03\0".to_vec();
    data.extend(0u32.to_le_bytes()); // platformClass
    data.extend([0, 2, 0, 2]); // version 2.0, errata 0, uintnSize 2
    data.extend(u32::try_from(algorithms.len()).expect("a small test record").to_le_bytes());
    for (alg, size) in algorithms {
        data.extend(alg.to_le_bytes());
        data.extend(size.to_le_bytes());
    }
    data.push(0); // vendorInfoSize
    let mut out = 0u32.to_le_bytes().to_vec();
    out.extend(3u32.to_le_bytes());
    out.extend([0u8; 20]);
    out.extend(u32::try_from(data.len()).expect("a small test record").to_le_bytes());
    out.extend(data);
    out
}

fn event2(pcr: u32, event_type: u32, digests: &[(u16, &[u8])], data: &[u8]) -> Vec<u8> {
    let mut out = pcr.to_le_bytes().to_vec();
    out.extend(event_type.to_le_bytes());
    out.extend(u32::try_from(digests.len()).expect("a small test record").to_le_bytes());
    for (alg, digest) in digests {
        out.extend(alg.to_le_bytes());
        out.extend(*digest);
    }
    out.extend(u32::try_from(data.len()).expect("a small test record").to_le_bytes());
    out.extend(data);
    out
}

#[test]
fn startup_locality_sets_pcr0_in_a_crypto_agile_log() {
    let mut raw = spec_id_record(&[(0x000B, 32)]);
    raw.extend(event2(0, 3, &[(0x000B, &[0; 32])], b"StartupLocality\0\x03"));
    raw.extend(event2(0, 8, &[(0x000B, &[0xaa; 32])], b"crtm"));
    let pcrs = EventLog::parse(&raw).unwrap().replay(HashAlg::Sha256).unwrap();
    let mut initial = [0u8; 32];
    initial[31] = 3;
    assert_eq!(pcrs[&0], HashAlg::Sha256.extend(&initial, &[0xaa; 32]));
}

#[test]
fn malformed_records_are_refused_with_the_field() {
    let spec = spec_id_record(&[(0x000B, 32)]);

    // A digest of a bank the Spec ID event does not list.
    let mut raw = spec.clone();
    raw.extend(event2(0, 8, &[(0x000C, &[0; 48])], b""));
    let err = EventLog::parse(&raw).unwrap_err();
    assert!(matches!(err, ParseError::InvalidField { field: "event2.digests.hashAlg", .. }), "{err}");

    // A digest count larger than the banks (here 2^32 - 1) is refused before anything is read.
    let mut raw = spec.clone();
    raw.extend(0u32.to_le_bytes());
    raw.extend(8u32.to_le_bytes());
    raw.extend(u32::MAX.to_le_bytes());
    let err = EventLog::parse(&raw).unwrap_err();
    assert!(matches!(err, ParseError::InvalidField { field: "event2.digests.count", .. }), "{err}");
    assert!(err.to_string().contains("expected 1 to 1"), "{err}");

    // An event size beyond the input.
    let mut raw = spec.clone();
    let mut record = event2(0, 8, &[(0x000B, &[0; 32])], b"abc");
    let size_at = record.len() - 7;
    record[size_at..size_at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    raw.extend(record);
    let err = EventLog::parse(&raw).unwrap_err();
    assert!(matches!(err, ParseError::Truncated { field: "event2.event", .. }), "{err}");

    // A Spec ID event that gives SHA-256 a 20-byte digest.
    let err = EventLog::parse(&spec_id_record(&[(0x000B, 20)])).unwrap_err();
    assert!(matches!(err, ParseError::InvalidField { field: "specId.digestSizes.digestSize", .. }), "{err}");

    // A Spec ID event claiming more algorithms than it has room for.
    let mut raw = spec_id_record(&[(0x000B, 32)]);
    raw[32 + 24] = 200;
    let err = EventLog::parse(&raw).unwrap_err();
    assert!(
        matches!(err, ParseError::InvalidField { field: "specId.numberOfAlgorithms", offset: 56, .. }),
        "{err}"
    );

    // Garbage after the last record that is not filler.
    let (mut raw, _) = gcp_log();
    raw.extend([0xff, 0x00, 0xff]);
    assert!(matches!(EventLog::parse(&raw), Err(ParseError::Truncated { .. })));
    assert!(matches!(EventLog::parse(&[]), Err(ParseError::Truncated { field: "event[0].pcrIndex", .. })));
}

#[test]
fn many_empty_events_stay_linear() {
    // 200 000 SHA-1 records with no data: 6.4 MB of log, one Event each, parsed and replayed.
    let record: Vec<u8> =
        [&5u32.to_le_bytes()[..], &4u32.to_le_bytes(), &[0x5a; 20], &0u32.to_le_bytes()].concat();
    let count = 200_000;
    let raw = record.repeat(count);
    let log = EventLog::parse(&raw).unwrap();
    assert_eq!(log.events().len(), count);
    assert_eq!(log.replay(HashAlg::Sha1).unwrap().len(), 1);
}

fn parse_and_replay(bytes: &[u8]) {
    if let Ok(log) = EventLog::parse(bytes) {
        for bank in [HashAlg::Sha1, HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512] {
            let _ = log.replay(bank);
        }
        let _ = log.replay_rtmrs();
    }
}

proptest! {
    #[test]
    fn parser_never_panics_on_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..1024)) {
        parse_and_replay(&bytes);
    }

    #[test]
    fn parser_never_panics_on_a_random_crypto_agile_body(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let mut raw = spec_id_record(&[(0x0004, 20), (0x000B, 32)]);
        raw.extend(body);
        parse_and_replay(&raw);
    }

    #[test]
    fn parser_never_panics_on_a_mutated_ccel(bytes in byte_mutations(&CCEL[..2200])) {
        parse_and_replay(&bytes);
    }

    #[test]
    fn parser_never_panics_on_a_mutated_sha1_log(bytes in byte_mutations(&gcp_log().0[..3000])) {
        parse_and_replay(&bytes);
    }
}
