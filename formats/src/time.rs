//! RFC 3339 date-times as instants that can be compared: certificate validity, CRL and collateral
//! `nextUpdate` against the time a verifier judges at (`--at`, by default now). Syntax and field ranges are checked by
//! [`crate::bundle::Timestamp`]; this adds the arithmetic: the offset is applied, and a fraction
//! orders within its second. A leap second (`:60`) counts as the last instant of its minute.

use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Deserializer};

use crate::bundle::{InvalidTimestamp, Timestamp};

/// Days from 0000-03-01 to 1970-01-01.
const UNIX_EPOCH_DAYS: i64 = 719_468;

/// An RFC 3339 date-time, kept as written and ordered as the instant it names.
#[derive(Debug, Clone)]
pub struct DateTime {
    text: Timestamp,
    /// Seconds since 1970-01-01T00:00:00Z (proleptic Gregorian), offset applied.
    seconds: i64,
    /// The fraction's digits, right-padded with zeros to 9 (nanoseconds; finer digits are cut).
    nanos: u32,
}

impl DateTime {
    /// Parse an RFC 3339 date-time (`2025-10-19T17:48:50Z`, `…T17:48:50.5+02:00`).
    pub fn parse(text: &str) -> Result<Self, InvalidTimestamp> {
        let timestamp = Timestamp::parse(text)?;
        let invalid = || InvalidTimestamp(text.to_owned());
        let bytes = text.as_bytes();
        let number = |range: std::ops::Range<usize>| -> Option<i64> {
            bytes
                .get(range)?
                .iter()
                .try_fold(0i64, |acc, &d| d.is_ascii_digit().then(|| acc * 10 + i64::from(d - b'0')))
        };
        let field = |range| number(range).ok_or_else(invalid);
        let (year, month, day) = (field(0..4)?, field(5..7)?, field(8..10)?);
        let (hour, minute, second) = (field(11..13)?, field(14..16)?, field(17..19)?);
        let rest = bytes.get(19..).ok_or_else(invalid)?;
        let (fraction, zone) = match rest.split_first() {
            Some((b'.', after)) => {
                let digits = after.iter().take_while(|b| b.is_ascii_digit()).count();
                after.split_at(digits)
            }
            _ => (&[][..], rest),
        };
        let nanos = (0..9).fold(0u32, |acc, i| acc * 10 + fraction.get(i).map_or(0, |d| u32::from(d - b'0')));
        let offset = match zone {
            [b'Z' | b'z'] => 0,
            [sign @ (b'+' | b'-'), h0, h1, b':', m0, m1] => {
                let digits = [*h0, *h1, *m0, *m1];
                if !digits.iter().all(u8::is_ascii_digit) {
                    return Err(invalid());
                }
                let [h0, h1, m0, m1] = digits.map(|d| i64::from(d - b'0'));
                let minutes = (h0 * 10 + h1) * 60 + m0 * 10 + m1;
                if *sign == b'+' { minutes } else { -minutes }
            }
            _ => return Err(invalid()),
        };
        // Days from 0000-03-01 (years start in March, so February's length is the year's last).
        let (y, m) = if month > 2 { (year, month - 3) } else { (year - 1, month + 9) };
        let days =
            365 * y + y.div_euclid(4) - y.div_euclid(100) + y.div_euclid(400) + (153 * m + 2) / 5 + day - 1;
        // A leap second is the last instant of its minute, not the next minute's first.
        let (second, nanos) = if second == 60 { (59, 999_999_999) } else { (second, nanos) };
        let seconds = (days - UNIX_EPOCH_DAYS) * 86_400 + hour * 3600 + minute * 60 + second - offset * 60;
        Ok(DateTime { text: timestamp, seconds, nanos })
    }

    /// The instant `seconds` after the Unix epoch, written in UTC (`1970-01-01T00:00:00Z`).
    /// `None` outside the years 0000–9999, which RFC 3339 cannot write.
    pub fn from_unix_seconds(seconds: i64) -> Option<Self> {
        let days = seconds.div_euclid(86_400) + UNIX_EPOCH_DAYS;
        let time = seconds.rem_euclid(86_400);
        // The inverse of the day count in `parse` (years starting in March).
        let (era_year, day_of_year) = (days.div_euclid(146_097) * 400, days.rem_euclid(146_097));
        let year_of_era =
            (day_of_year - day_of_year / 1460 + day_of_year / 36_524 - day_of_year / 146_096) / 365;
        let day_in_year = day_of_year - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let m = (5 * day_in_year + 2) / 153;
        let day = day_in_year - (153 * m + 2) / 5 + 1;
        let month = if m < 10 { m + 3 } else { m - 9 };
        let year = era_year + year_of_era + i64::from(month <= 2);
        let text = format!(
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
            time / 3600,
            time % 3600 / 60,
            time % 60
        );
        if !(0..=9999).contains(&year) {
            return None;
        }
        DateTime::parse(&text).ok()
    }

    /// Whole seconds since the Unix epoch (the fraction is dropped).
    pub fn unix_seconds(&self) -> i64 {
        self.seconds
    }

    /// The text as written.
    pub fn as_str(&self) -> &str {
        self.text.as_str()
    }
}

impl PartialEq for DateTime {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for DateTime {}

impl PartialOrd for DateTime {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for DateTime {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.seconds, self.nanos).cmp(&(other.seconds, other.nanos))
    }
}

impl fmt::Display for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for DateTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        DateTime::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime {
        DateTime::parse(text).unwrap()
    }

    #[test]
    fn orders_instants_across_offsets_fractions_and_dates() {
        assert!(at("2025-10-19T17:48:50Z") < at("2025-10-19T17:48:51Z"));
        assert!(at("2025-10-19T17:48:50Z") < at("2025-10-19T17:48:50.000001Z"));
        assert_eq!(at("2025-10-19T19:48:50+02:00"), at("2025-10-19T17:48:50Z"));
        assert_eq!(at("2025-10-19T12:18:50-05:30"), at("2025-10-19T17:48:50Z"));
        assert!(at("2024-02-29T23:59:59Z") < at("2024-03-01T00:00:00Z"));
        assert!(at("1999-12-31T23:59:59Z") < at("2000-01-01T00:00:00Z"));
        assert!(at("2016-12-31T23:59:60Z") < at("2017-01-01T00:00:00Z"));
        assert!(at("2025-11-18T17:48:50Z") > at("2025-10-19T17:48:50Z"));
        assert!(DateTime::parse("2025-10-19").is_err());
    }

    #[test]
    fn unix_seconds_round_trip() {
        assert_eq!(at("1970-01-01T00:00:00Z").unix_seconds(), 0);
        assert_eq!(at("2025-10-19T17:48:50Z").unix_seconds(), 1_760_896_130);
        assert_eq!(at("1969-12-31T23:59:59Z").unix_seconds(), -1);
        for seconds in [0, -1, 951_782_400, 1_709_164_800, 1_760_896_130, 4_102_444_799, 253_402_300_799] {
            let instant = DateTime::from_unix_seconds(seconds).unwrap();
            assert_eq!(instant.unix_seconds(), seconds, "{instant}");
        }
        assert_eq!(DateTime::from_unix_seconds(951_782_400).unwrap().as_str(), "2000-02-29T00:00:00Z");
        assert!(DateTime::from_unix_seconds(253_402_300_800).is_none());
    }
}
