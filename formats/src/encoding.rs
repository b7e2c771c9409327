//! Base64 as the Azure and MAA clients write it: they disagree on the alphabet (standard or
//! URL-safe) and on padding, and MAA accepts them all (docs/protocol.md §10.2), so readers do too.

use base64::Engine;
use base64::alphabet::{STANDARD, URL_SAFE};
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

const ANY_PADDING: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
const STANDARD_ANY: GeneralPurpose = GeneralPurpose::new(&STANDARD, ANY_PADDING);
const URL_SAFE_ANY: GeneralPurpose = GeneralPurpose::new(&URL_SAFE, ANY_PADDING);

/// `text` decoded as base64 of either alphabet, padded or not; `None` when it is neither.
pub fn base64_any(text: &str) -> Option<Vec<u8>> {
    STANDARD_ANY.decode(text).or_else(|_| URL_SAFE_ANY.decode(text)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_flavour_decodes_and_nothing_else() {
        let bytes = [0xfb, 0xff, 0xfe, 0x00];
        for text in ["+//+AA==", "+//+AA", "-__-AA==", "-__-AA"] {
            assert_eq!(base64_any(text).as_deref(), Some(&bytes[..]), "{text}");
        }
        for bad in ["***", "+/_-AA", "A"] {
            assert_eq!(base64_any(bad), None, "{bad}");
        }
    }
}
