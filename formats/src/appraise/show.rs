//! How step details and error messages show bytes, digests and PCR lists to a person.

use crate::tpm::PcrSelection;

/// The first 8 bytes in hex and an ellipsis: enough to tell chips apart in a message.
pub(crate) fn short_hex(bytes: &[u8]) -> String {
    format!("{}…", hex_prefix(bytes))
}

/// The first 8 bytes in hex, enough to tell two moduli apart in a message.
pub(crate) fn hex_prefix(bytes: &[u8]) -> String {
    hex::encode(bytes.get(..8).unwrap_or(bytes))
}

/// Bytes for a person: UTF-8 text when they are printable text, and always hex.
pub(crate) fn show_bytes(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "empty".to_owned();
    }
    match std::str::from_utf8(bytes) {
        Ok(text) if !text.chars().any(char::is_control) => format!("{text:?} (hex {})", hex::encode(bytes)),
        _ => format!("hex {}", hex::encode(bytes)),
    }
}

/// A digest in hex, or `empty`.
pub(crate) fn show_digest(bytes: &[u8]) -> String {
    if bytes.is_empty() { "empty".to_owned() } else { hex::encode(bytes) }
}

/// PCR indices as ranges: `0-7, 14, 23`.
pub(crate) fn pcr_list(indices: impl IntoIterator<Item = u32>) -> String {
    let mut ranges: Vec<(u32, u32)> = Vec::new();
    for index in indices {
        match ranges.last_mut() {
            Some((_, last)) if last.checked_add(1) == Some(index) => *last = index,
            _ => ranges.push((index, index)),
        }
    }
    let text: Vec<String> = ranges
        .iter()
        .map(|&(first, last)| if first == last { first.to_string() } else { format!("{first}-{last}") })
        .collect();
    text.join(", ")
}

/// PCR selections as banks and indices: `sha256 PCRs [0, 1] and sha1 PCRs [7]`, or `no bank`.
pub(crate) fn describe_selections(selections: &[PcrSelection]) -> String {
    if selections.is_empty() {
        return "no bank".to_owned();
    }
    let banks: Vec<String> =
        selections.iter().map(|s| format!("{} PCRs {:?}", s.hash, s.indices())).collect();
    banks.join(" and ")
}
