//! Parse errors: where in the input, which field, what was expected and what was found.

/// Why bytes could not be turned into a structure. Offsets are from the start of the outermost
/// structure being parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The input ended inside a field.
    #[error(
        "{structure}: truncated at offset {offset} reading {field}: needed {needed} bytes, {available} left"
    )]
    Truncated { structure: &'static str, field: &'static str, offset: usize, needed: usize, available: usize },

    /// Bytes were left over after a structure that must consume its whole input.
    #[error("{structure}: {count} unexpected trailing bytes at offset {offset}")]
    TrailingBytes { structure: &'static str, offset: usize, count: usize },

    /// A version or type this crate does not implement.
    #[error("{structure}: unsupported {field} {found} at offset {offset} (supported: {supported})")]
    Unsupported {
        structure: &'static str,
        field: &'static str,
        offset: usize,
        found: String,
        supported: &'static str,
    },

    /// A field whose value is impossible for this structure.
    #[error("{structure}: invalid {field} at offset {offset}: expected {expected}, found {found}")]
    InvalidField {
        structure: &'static str,
        field: &'static str,
        offset: usize,
        expected: String,
        found: String,
    },
}
