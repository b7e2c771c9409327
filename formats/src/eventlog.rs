//! TCG PC Client event logs, replayed into PCR (or TDX RTMR) values.
//!
//! Two formats exist (TCG PC Client Platform Firmware Profile, §10). Both are little-endian, unlike
//! the TPM structures they describe:
//!
//! * **SHA-1** ("TCG 1.2" format): every record is a TCG_PCR_EVENT (pcrIndex u32, eventType u32,
//!   SHA-1 digest (20 bytes), eventSize u32, event).
//! * **Crypto-agile**: the first record is a TCG_PCR_EVENT of type EV_NO_ACTION whose data is the
//!   `Spec ID Event03` structure listing the banks and their digest sizes; every later record is a
//!   TCG_PCR_EVENT2 (pcrIndex, eventType, TPML_DIGEST_VALUES = count + (algId u16, digest)…,
//!   eventSize, event). Linux's `binary_bios_measurements` and the TDX CCEL use it.
//!
//! [`EventLog::parse`] detects the format. Digest sizes come from the Spec ID event, every length is
//! checked against the bytes that remain before anything is allocated, and the number of events is
//! bounded by the input size (each record is at least 19 bytes), so memory and time stay linear in
//! the input. A log in a fixed-size region (the CCEL ACPI table area) is followed by 0xFF or 0x00
//! filler; a tail made only of one of those bytes ends the log.

use std::collections::BTreeMap;
use std::fmt;

use crate::ParseError;
use crate::reader::Reader;
use crate::tpm::{AlgorithmId, HashAlg};

/// A TCG event type (PC Client PFP §10.4.1).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventType(pub u32);

impl EventType {
    pub const EV_PREBOOT_CERT: Self = Self(0x0000_0000);
    pub const EV_POST_CODE: Self = Self(0x0000_0001);
    /// Informational: never extended into a PCR.
    pub const EV_NO_ACTION: Self = Self(0x0000_0003);
    pub const EV_SEPARATOR: Self = Self(0x0000_0004);
    pub const EV_ACTION: Self = Self(0x0000_0005);
    pub const EV_EVENT_TAG: Self = Self(0x0000_0006);
    pub const EV_S_CRTM_CONTENTS: Self = Self(0x0000_0007);
    pub const EV_S_CRTM_VERSION: Self = Self(0x0000_0008);
    pub const EV_CPU_MICROCODE: Self = Self(0x0000_0009);
    pub const EV_PLATFORM_CONFIG_FLAGS: Self = Self(0x0000_000A);
    pub const EV_TABLE_OF_DEVICES: Self = Self(0x0000_000B);
    pub const EV_COMPACT_HASH: Self = Self(0x0000_000C);
    pub const EV_IPL: Self = Self(0x0000_000D);
    pub const EV_IPL_PARTITION_DATA: Self = Self(0x0000_000E);
    pub const EV_NONHOST_CODE: Self = Self(0x0000_000F);
    pub const EV_NONHOST_CONFIG: Self = Self(0x0000_0010);
    pub const EV_NONHOST_INFO: Self = Self(0x0000_0011);
    pub const EV_OMIT_BOOT_DEVICE_EVENTS: Self = Self(0x0000_0012);
    pub const EV_EFI_VARIABLE_DRIVER_CONFIG: Self = Self(0x8000_0001);
    pub const EV_EFI_VARIABLE_BOOT: Self = Self(0x8000_0002);
    pub const EV_EFI_BOOT_SERVICES_APPLICATION: Self = Self(0x8000_0003);
    pub const EV_EFI_BOOT_SERVICES_DRIVER: Self = Self(0x8000_0004);
    pub const EV_EFI_RUNTIME_SERVICES_DRIVER: Self = Self(0x8000_0005);
    pub const EV_EFI_GPT_EVENT: Self = Self(0x8000_0006);
    pub const EV_EFI_ACTION: Self = Self(0x8000_0007);
    pub const EV_EFI_PLATFORM_FIRMWARE_BLOB: Self = Self(0x8000_0008);
    pub const EV_EFI_HANDOFF_TABLES: Self = Self(0x8000_0009);
    pub const EV_EFI_PLATFORM_FIRMWARE_BLOB2: Self = Self(0x8000_000A);
    pub const EV_EFI_HANDOFF_TABLES2: Self = Self(0x8000_000B);
    pub const EV_EFI_HCRTM_EVENT: Self = Self(0x8000_0010);
    pub const EV_EFI_VARIABLE_AUTHORITY: Self = Self(0x8000_00E0);
    pub const EV_EFI_SPDM_FIRMWARE_BLOB: Self = Self(0x8000_00E1);
    pub const EV_EFI_SPDM_FIRMWARE_CONFIG: Self = Self(0x8000_00E2);

    /// The specification's name, when this crate knows it.
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            Self::EV_PREBOOT_CERT => "EV_PREBOOT_CERT",
            Self::EV_POST_CODE => "EV_POST_CODE",
            Self::EV_NO_ACTION => "EV_NO_ACTION",
            Self::EV_SEPARATOR => "EV_SEPARATOR",
            Self::EV_ACTION => "EV_ACTION",
            Self::EV_EVENT_TAG => "EV_EVENT_TAG",
            Self::EV_S_CRTM_CONTENTS => "EV_S_CRTM_CONTENTS",
            Self::EV_S_CRTM_VERSION => "EV_S_CRTM_VERSION",
            Self::EV_CPU_MICROCODE => "EV_CPU_MICROCODE",
            Self::EV_PLATFORM_CONFIG_FLAGS => "EV_PLATFORM_CONFIG_FLAGS",
            Self::EV_TABLE_OF_DEVICES => "EV_TABLE_OF_DEVICES",
            Self::EV_COMPACT_HASH => "EV_COMPACT_HASH",
            Self::EV_IPL => "EV_IPL",
            Self::EV_IPL_PARTITION_DATA => "EV_IPL_PARTITION_DATA",
            Self::EV_NONHOST_CODE => "EV_NONHOST_CODE",
            Self::EV_NONHOST_CONFIG => "EV_NONHOST_CONFIG",
            Self::EV_NONHOST_INFO => "EV_NONHOST_INFO",
            Self::EV_OMIT_BOOT_DEVICE_EVENTS => "EV_OMIT_BOOT_DEVICE_EVENTS",
            Self::EV_EFI_VARIABLE_DRIVER_CONFIG => "EV_EFI_VARIABLE_DRIVER_CONFIG",
            Self::EV_EFI_VARIABLE_BOOT => "EV_EFI_VARIABLE_BOOT",
            Self::EV_EFI_BOOT_SERVICES_APPLICATION => "EV_EFI_BOOT_SERVICES_APPLICATION",
            Self::EV_EFI_BOOT_SERVICES_DRIVER => "EV_EFI_BOOT_SERVICES_DRIVER",
            Self::EV_EFI_RUNTIME_SERVICES_DRIVER => "EV_EFI_RUNTIME_SERVICES_DRIVER",
            Self::EV_EFI_GPT_EVENT => "EV_EFI_GPT_EVENT",
            Self::EV_EFI_ACTION => "EV_EFI_ACTION",
            Self::EV_EFI_PLATFORM_FIRMWARE_BLOB => "EV_EFI_PLATFORM_FIRMWARE_BLOB",
            Self::EV_EFI_HANDOFF_TABLES => "EV_EFI_HANDOFF_TABLES",
            Self::EV_EFI_PLATFORM_FIRMWARE_BLOB2 => "EV_EFI_PLATFORM_FIRMWARE_BLOB2",
            Self::EV_EFI_HANDOFF_TABLES2 => "EV_EFI_HANDOFF_TABLES2",
            Self::EV_EFI_HCRTM_EVENT => "EV_EFI_HCRTM_EVENT",
            Self::EV_EFI_VARIABLE_AUTHORITY => "EV_EFI_VARIABLE_AUTHORITY",
            Self::EV_EFI_SPDM_FIRMWARE_BLOB => "EV_EFI_SPDM_FIRMWARE_BLOB",
            Self::EV_EFI_SPDM_FIRMWARE_CONFIG => "EV_EFI_SPDM_FIRMWARE_CONFIG",
            _ => return None,
        })
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name} (0x{:08x})", self.0),
            None => write!(f, "0x{:08x}", self.0),
        }
    }
}

impl fmt::Debug for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EventType({self})")
    }
}

/// Which of the two record formats the log uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// TCG_PCR_EVENT records with SHA-1 digests only.
    Sha1,
    /// A Spec ID Event03, then TCG_PCR_EVENT2 records with a digest per bank.
    CryptoAgile,
}

/// A bank listed in the Spec ID event, with the digest size its records use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlgorithmSize {
    pub algorithm: AlgorithmId,
    pub digest_size: u16,
}

/// TCG_EfiSpecIDEvent: the data of the first event of a crypto-agile log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecIdEvent {
    pub platform_class: u32,
    pub spec_version_minor: u8,
    pub spec_version_major: u8,
    pub spec_errata: u8,
    /// 1 for 32-bit UINTN, 2 for 64-bit.
    pub uintn_size: u8,
    /// The banks every later record may carry, in the order listed.
    pub algorithms: Vec<AlgorithmSize>,
    pub vendor_info: Vec<u8>,
}

/// One digest of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventDigest {
    pub algorithm: AlgorithmId,
    pub digest: Vec<u8>,
}

/// One record of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The PCR extended (for the CCEL: the CC measurement register index, 1..=4 = RTMR0..3).
    pub pcr_index: u32,
    pub event_type: EventType,
    /// One digest per bank the event was extended into (a SHA-1 log has exactly one).
    pub digests: Vec<EventDigest>,
    /// The event data, as logged. Its meaning depends on `event_type`; often, but not always, the
    /// digests are its hash.
    pub data: Vec<u8>,
}

/// "StartupLocality\0": the signature of TCG_EfiStartupLocalityEvent.
const STARTUP_LOCALITY_SIGNATURE: &[u8; 16] = b"StartupLocality\0";
/// "Spec ID Event03\0": the signature of TCG_EfiSpecIDEvent (crypto-agile logs).
const SPEC_ID_EVENT03_SIGNATURE: &[u8; 16] = b"Spec ID Event03\0";
/// TPM digests are at most 64 bytes (SHA-512); a larger size in a Spec ID event is corrupt.
const MAX_DIGEST_SIZE: u16 = 64;

impl Event {
    /// The digest for the bank `algorithm`, if the event carries one.
    pub fn digest(&self, algorithm: AlgorithmId) -> Option<&[u8]> {
        self.digests.iter().find(|d| d.algorithm == algorithm).map(|d| d.digest.as_slice())
    }

    /// The locality of a TCG_EfiStartupLocalityEvent (EV_NO_ACTION in PCR 0 with data
    /// "StartupLocality\0" + locality byte): the TPM was started from this locality, which is the
    /// initial value of PCR 0's last byte.
    pub fn startup_locality(&self) -> Option<u8> {
        if self.pcr_index != 0 || self.event_type != EventType::EV_NO_ACTION || self.data.len() != 17 {
            return None;
        }
        let (signature, locality) = self.data.split_first_chunk::<16>()?;
        if signature != STARTUP_LOCALITY_SIGNATURE {
            return None;
        }
        locality.first().copied()
    }
}

/// A parsed event log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventLog {
    format: LogFormat,
    spec_id: Option<SpecIdEvent>,
    events: Vec<Event>,
    padding: usize,
}

impl EventLog {
    /// Parse a SHA-1 or crypto-agile log (the format is detected from the first record).
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new("TCG event log", bytes);
        // Filler after the last record: a tail made only of 0x00 or only of 0xFF. Computed once, so
        // telling filler from a record is O(1) per record.
        let filler_start = tail_run_start(bytes, 0x00).min(tail_run_start(bytes, 0xFF));

        let (first, spec_id) = read_first_event(&mut r)?;
        let format = if spec_id.is_some() { LogFormat::CryptoAgile } else { LogFormat::Sha1 };
        let mut events = vec![first];
        while r.remaining() > 0 && r.offset() < filler_start {
            let event = match &spec_id {
                Some(spec) => read_event2(&mut r, &spec.algorithms)?,
                None => read_sha1_event(&mut r)?,
            };
            events.push(event);
        }
        let padding = r.remaining();
        Ok(EventLog { format, spec_id, events, padding })
    }

    pub fn format(&self) -> LogFormat {
        self.format
    }
    /// The Spec ID event's contents, for a crypto-agile log.
    pub fn spec_id(&self) -> Option<&SpecIdEvent> {
        self.spec_id.as_ref()
    }
    /// All records, the first one (the Spec ID event of a crypto-agile log) included.
    pub fn events(&self) -> &[Event] {
        &self.events
    }
    /// How many filler bytes (0x00 or 0xFF) followed the last record.
    pub fn padding(&self) -> usize {
        self.padding
    }
    /// The banks the log's records can carry.
    pub fn algorithms(&self) -> Vec<AlgorithmId> {
        match &self.spec_id {
            Some(spec) => spec.algorithms.iter().map(|a| a.algorithm).collect(),
            None => vec![AlgorithmId::SHA1],
        }
    }

    /// Replay the log into the PCRs of `bank`: every PCR starts at zero and each event's `bank`
    /// digest is extended into its PCR. EV_NO_ACTION events are not extended; a StartupLocality one
    /// sets PCR 0's initial value to the locality in its last byte. An event without a `bank` digest
    /// is skipped, as the TPM did: TPM2_PCR_Extend extends only the banks it is given (Windows logs
    /// PCRs 11–14 in SHA-256 alone). Only PCRs the log touches are in the result.
    pub fn replay(&self, bank: HashAlg) -> Result<BTreeMap<u32, Vec<u8>>, ReplayError> {
        self.require_bank(bank)?;
        let size = bank.digest_size();
        let mut pcrs: BTreeMap<u32, Vec<u8>> = BTreeMap::new();
        for (index, event) in self.events.iter().enumerate() {
            if event.event_type == EventType::EV_NO_ACTION {
                if let Some(locality) = event.startup_locality() {
                    if pcrs.contains_key(&0) {
                        return Err(ReplayError::StartupLocalityAfterExtend { event: index });
                    }
                    let mut initial = vec![0u8; size];
                    if let Some(last) = initial.last_mut() {
                        *last = locality;
                    }
                    pcrs.insert(0, initial);
                }
                continue;
            }
            let Some(digest) = event.digest(bank.id()) else { continue };
            let register = pcrs.entry(event.pcr_index).or_insert_with(|| vec![0u8; size]);
            *register = bank.extend(register, digest);
        }
        Ok(pcrs)
    }

    /// The events that extend a PCR but carry no `bank` digest, with their index in the log.
    /// [`replay`](Self::replay) skips them, so a replay of `bank` checks nothing about them: a
    /// verifier must refuse those that extend PCRs it relies on.
    pub fn events_without(&self, bank: HashAlg) -> impl Iterator<Item = (usize, &Event)> {
        self.events.iter().enumerate().filter(move |(_, event)| {
            event.event_type != EventType::EV_NO_ACTION && event.digest(bank.id()).is_none()
        })
    }

    /// Replay a TDX CC event log (CCEL) into RTMR0..3. CC measurement register index 0 is MRTD,
    /// which the TDX module measures and the log does not extend; 1..=4 are RTMR0..3. RTMRs are
    /// SHA-384 registers that start at zero.
    pub fn replay_rtmrs(&self) -> Result<[[u8; 48]; 4], ReplayError> {
        self.require_bank(HashAlg::Sha384)?;
        let mut rtmrs = [[0u8; 48]; 4];
        for (index, event) in self.events.iter().enumerate() {
            if event.event_type == EventType::EV_NO_ACTION || event.pcr_index == 0 {
                continue;
            }
            let register = usize::try_from(event.pcr_index - 1)
                .ok()
                .and_then(|i| rtmrs.get_mut(i))
                .ok_or(ReplayError::InvalidMrIndex { event: index, index: event.pcr_index })?;
            let digest = event
                .digest(AlgorithmId::SHA384)
                .ok_or(ReplayError::MissingDigest { event: index, bank: HashAlg::Sha384 })?;
            let extended = HashAlg::Sha384.extend(register.as_slice(), digest);
            for (dst, src) in register.iter_mut().zip(extended) {
                *dst = src;
            }
        }
        Ok(rtmrs)
    }

    fn require_bank(&self, bank: HashAlg) -> Result<(), ReplayError> {
        let algorithms = self.algorithms();
        if algorithms.contains(&bank.id()) {
            return Ok(());
        }
        let available = algorithms.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
        Err(ReplayError::BankNotInLog { bank, available })
    }
}

/// Why a log could not be replayed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// The log does not record this bank at all.
    #[error("the event log has no {bank} bank (its banks: {available})")]
    BankNotInLog { bank: HashAlg, available: String },
    /// A StartupLocality event came after PCR 0 was already extended (or a second one came): the
    /// locality only defines PCR 0's initial value.
    #[error("event {event}: StartupLocality after PCR 0 already has a value")]
    StartupLocalityAfterExtend { event: usize },
    /// A CCEL event names a measurement register other than MRTD (0) and RTMR0..3 (1..=4).
    #[error("event {event}: CC measurement register index {index} is not 0..=4 (MRTD, RTMR0..3)")]
    InvalidMrIndex { event: usize, index: u32 },
    /// A CCEL event extends an RTMR but carries no digest of the RTMRs' algorithm.
    #[error("event {event} extends an RTMR but has no {bank} digest")]
    MissingDigest { event: usize, bank: HashAlg },
}

/// Start of the run of `byte` that ends the input (the input's length when it does not end in it).
fn tail_run_start(bytes: &[u8], byte: u8) -> usize {
    bytes.iter().rposition(|b| *b != byte).map_or(0, |i| i + 1)
}

/// The first record is always a TCG_PCR_EVENT; in a crypto-agile log it is an EV_NO_ACTION whose
/// data is the Spec ID Event03.
fn read_first_event(r: &mut Reader<'_>) -> Result<(Event, Option<SpecIdEvent>), ParseError> {
    let pcr_index = r.u32_le("event[0].pcrIndex")?;
    let event_type = EventType(r.u32_le("event[0].eventType")?);
    let digest = r.take("event[0].digest", 20)?.to_vec();
    let size = read_u32_len(r, "event[0].eventSize")?;
    let data_start = r.offset();
    // Read the Spec ID event through a copy of the cursor, so its errors carry offsets in the log.
    let mut spec_reader = r.clone();
    let data = r.take("event[0].event", size)?;
    let spec_id = if event_type == EventType::EV_NO_ACTION && data.starts_with(SPEC_ID_EVENT03_SIGNATURE) {
        Some(read_spec_id(&mut spec_reader, data_start + size)?)
    } else {
        None
    };
    let event = Event {
        pcr_index,
        event_type,
        digests: vec![EventDigest { algorithm: AlgorithmId::SHA1, digest }],
        data: data.to_vec(),
    };
    Ok((event, spec_id))
}

fn read_spec_id(r: &mut Reader<'_>, end: usize) -> Result<SpecIdEvent, ParseError> {
    r.skip("specId.signature", 16)?;
    let platform_class = r.u32_le("specId.platformClass")?;
    let spec_version_minor = r.u8("specId.specVersionMinor")?;
    let spec_version_major = r.u8("specId.specVersionMajor")?;
    let spec_errata = r.u8("specId.specErrata")?;
    let uintn_size = r.u8("specId.uintnSize")?;
    let count_offset = r.offset();
    let count = r.u32_le("specId.numberOfAlgorithms")?;
    let room = end.saturating_sub(r.offset()) / 4;
    if count == 0 || usize::try_from(count).map_or(true, |c| c > room) {
        return Err(r.invalid(
            "specId.numberOfAlgorithms",
            count_offset,
            format!("1 to {room} (what the event's size leaves room for)"),
            count.to_string(),
        ));
    }
    let mut algorithms: Vec<AlgorithmSize> = Vec::new();
    for _ in 0..count {
        let alg_offset = r.offset();
        let algorithm = AlgorithmId(r.u16_le("specId.digestSizes.algorithmId")?);
        let size_offset = r.offset();
        let digest_size = r.u16_le("specId.digestSizes.digestSize")?;
        if algorithms.iter().any(|a| a.algorithm == algorithm) {
            return Err(r.invalid(
                "specId.digestSizes.algorithmId",
                alg_offset,
                "each bank listed once",
                format!("{algorithm} again"),
            ));
        }
        let expected = HashAlg::from_id(algorithm).map(HashAlg::digest_size);
        let valid = match expected {
            Some(size) => usize::from(digest_size) == size,
            None => (1..=MAX_DIGEST_SIZE).contains(&digest_size),
        };
        if !valid {
            let want = match expected {
                Some(size) => format!("{size} for {algorithm}"),
                None => format!("1 to {MAX_DIGEST_SIZE}"),
            };
            return Err(r.invalid(
                "specId.digestSizes.digestSize",
                size_offset,
                want,
                digest_size.to_string(),
            ));
        }
        algorithms.push(AlgorithmSize { algorithm, digest_size });
    }
    let vendor_info_size = usize::from(r.u8("specId.vendorInfoSize")?);
    let vendor_info = r.take("specId.vendorInfo", vendor_info_size)?.to_vec();
    if r.offset() != end {
        return Err(r.invalid(
            "event[0].eventSize",
            end,
            "the size of the Spec ID event",
            format!("{} bytes after it", end.saturating_sub(r.offset())),
        ));
    }
    Ok(SpecIdEvent {
        platform_class,
        spec_version_minor,
        spec_version_major,
        spec_errata,
        uintn_size,
        algorithms,
        vendor_info,
    })
}

fn read_sha1_event(r: &mut Reader<'_>) -> Result<Event, ParseError> {
    let pcr_index = r.u32_le("event.pcrIndex")?;
    let event_type = EventType(r.u32_le("event.eventType")?);
    let digest = r.take("event.digest", 20)?.to_vec();
    let size = read_u32_len(r, "event.eventSize")?;
    let data = r.take("event.event", size)?.to_vec();
    Ok(Event {
        pcr_index,
        event_type,
        digests: vec![EventDigest { algorithm: AlgorithmId::SHA1, digest }],
        data,
    })
}

fn read_event2(r: &mut Reader<'_>, algorithms: &[AlgorithmSize]) -> Result<Event, ParseError> {
    let pcr_index = r.u32_le("event2.pcrIndex")?;
    let event_type = EventType(r.u32_le("event2.eventType")?);
    let count_offset = r.offset();
    let count = r.u32_le("event2.digests.count")?;
    if count == 0 || usize::try_from(count).map_or(true, |c| c > algorithms.len()) {
        return Err(r.invalid(
            "event2.digests.count",
            count_offset,
            format!("1 to {} (the banks in the Spec ID event)", algorithms.len()),
            count.to_string(),
        ));
    }
    let mut digests: Vec<EventDigest> = Vec::new();
    for _ in 0..count {
        let alg_offset = r.offset();
        let algorithm = AlgorithmId(r.u16_le("event2.digests.hashAlg")?);
        let Some(spec) = algorithms.iter().find(|a| a.algorithm == algorithm) else {
            let listed = algorithms.iter().map(|a| a.algorithm.to_string()).collect::<Vec<_>>().join(", ");
            return Err(r.invalid(
                "event2.digests.hashAlg",
                alg_offset,
                format!("a bank of the Spec ID event ({listed})"),
                algorithm.to_string(),
            ));
        };
        if digests.iter().any(|d| d.algorithm == algorithm) {
            return Err(r.invalid(
                "event2.digests.hashAlg",
                alg_offset,
                "each bank once",
                format!("{algorithm} again"),
            ));
        }
        let digest = r.take("event2.digests.digest", usize::from(spec.digest_size))?.to_vec();
        digests.push(EventDigest { algorithm, digest });
    }
    let size = read_u32_len(r, "event2.eventSize")?;
    let data = r.take("event2.event", size)?.to_vec();
    Ok(Event { pcr_index, event_type, digests, data })
}

fn read_u32_len(r: &mut Reader<'_>, field: &'static str) -> Result<usize, ParseError> {
    let offset = r.offset();
    let size = r.u32_le(field)?;
    usize::try_from(size)
        .map_err(|_| r.invalid(field, offset, "a size that fits in memory", size.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha1_event(pcr: u32, event_type: u32, digest: [u8; 20], data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend(pcr.to_le_bytes());
        out.extend(event_type.to_le_bytes());
        out.extend(digest);
        out.extend(u32::try_from(data.len()).unwrap().to_le_bytes());
        out.extend(data);
        out
    }

    #[test]
    fn startup_locality_sets_pcr0_initial_value() {
        let mut log = sha1_event(0, 3, [0; 20], b"StartupLocality\0\x03");
        log.extend(sha1_event(0, 8, [0xab; 20], b"crtm"));
        let parsed = EventLog::parse(&log).unwrap();
        assert_eq!(parsed.format(), LogFormat::Sha1);
        let mut initial = [0u8; 20];
        initial[19] = 3;
        let pcrs = parsed.replay(HashAlg::Sha1).unwrap();
        assert_eq!(pcrs[&0], HashAlg::Sha1.extend(&initial, &[0xab; 20]));
    }

    #[test]
    fn startup_locality_after_an_extend_is_refused() {
        let mut log = sha1_event(0, 8, [0xab; 20], b"crtm");
        log.extend(sha1_event(0, 3, [0; 20], b"StartupLocality\0\x03"));
        let parsed = EventLog::parse(&log).unwrap();
        assert_eq!(parsed.replay(HashAlg::Sha1), Err(ReplayError::StartupLocalityAfterExtend { event: 1 }));
    }

    #[test]
    fn sha1_log_has_no_sha256_bank() {
        let log = sha1_event(0, 8, [0xab; 20], b"crtm");
        let err = EventLog::parse(&log).unwrap().replay(HashAlg::Sha256).unwrap_err();
        assert!(matches!(err, ReplayError::BankNotInLog { bank: HashAlg::Sha256, .. }), "{err}");
    }
}
