//! "Now", in the forms the tool needs, from one place.

use std::time::{SystemTime, UNIX_EPOCH};

use cvm_attest_formats::bundle::Timestamp;

/// Milliseconds since the Unix epoch (0 for a clock set before it).
pub fn now_unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Now as an RFC 3339 timestamp (UTC, whole seconds), as bundles record it.
pub fn now() -> Timestamp {
    let text = x509_cert::der::DateTime::from_system_time(SystemTime::now())
        .map_or_else(|_| "1970-01-01T00:00:00Z".to_owned(), |time| time.to_string());
    Timestamp::parse(&text).unwrap_or_else(|_| unreachable!("der::DateTime prints RFC 3339"))
}
