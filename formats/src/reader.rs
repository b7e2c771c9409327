//! A bounds-checked cursor: every read names the structure and field, so a short input fails with
//! an error that says exactly what was missing. Parsers read through this, never by indexing.

use crate::ParseError;

#[derive(Debug, Clone)]
pub struct Reader<'a> {
    structure: &'static str,
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Reader<'a> {
    pub fn new(structure: &'static str, bytes: &'a [u8]) -> Self {
        Reader { structure, bytes, offset: 0 }
    }

    /// Offset of the next byte to read.
    pub fn offset(&self) -> usize {
        self.offset
    }

    pub fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.offset)
    }

    /// The next `n` bytes.
    pub fn take(&mut self, field: &'static str, n: usize) -> Result<&'a [u8], ParseError> {
        let out = self.offset.checked_add(n).and_then(|end| self.bytes.get(self.offset..end)).ok_or(
            ParseError::Truncated {
                structure: self.structure,
                field,
                offset: self.offset,
                needed: n,
                available: self.remaining(),
            },
        )?;
        self.offset += n;
        Ok(out)
    }

    /// The next `N` bytes as an array.
    pub fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], ParseError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(field, N)?);
        Ok(out)
    }

    /// Skip a reserved range of known size.
    pub fn skip(&mut self, field: &'static str, n: usize) -> Result<(), ParseError> {
        self.take(field, n).map(drop)
    }

    /// Everything not read yet.
    pub fn rest(&mut self) -> &'a [u8] {
        let out = self.bytes.get(self.offset..).unwrap_or_default();
        self.offset = self.bytes.len();
        out
    }

    pub fn u8(&mut self, field: &'static str) -> Result<u8, ParseError> {
        self.array(field).map(u8::from_le_bytes)
    }

    pub fn u16_le(&mut self, field: &'static str) -> Result<u16, ParseError> {
        self.array(field).map(u16::from_le_bytes)
    }

    pub fn u32_le(&mut self, field: &'static str) -> Result<u32, ParseError> {
        self.array(field).map(u32::from_le_bytes)
    }

    pub fn u64_le(&mut self, field: &'static str) -> Result<u64, ParseError> {
        self.array(field).map(u64::from_le_bytes)
    }

    pub fn u16_be(&mut self, field: &'static str) -> Result<u16, ParseError> {
        self.array(field).map(u16::from_be_bytes)
    }

    pub fn u32_be(&mut self, field: &'static str) -> Result<u32, ParseError> {
        self.array(field).map(u32::from_be_bytes)
    }

    pub fn u64_be(&mut self, field: &'static str) -> Result<u64, ParseError> {
        self.array(field).map(u64::from_be_bytes)
    }

    /// A TPM2B: big-endian u16 size, then that many bytes.
    pub fn tpm2b(&mut self, field: &'static str) -> Result<&'a [u8], ParseError> {
        let size = self.u16_be(field)?;
        self.take(field, usize::from(size))
    }

    /// Fail unless the whole input was read.
    pub fn finish(&self) -> Result<(), ParseError> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(ParseError::TrailingBytes { structure: self.structure, offset: self.offset, count }),
        }
    }

    /// An error about the field just read (at `offset`, the start of that field).
    pub fn invalid(
        &self,
        field: &'static str,
        offset: usize,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) -> ParseError {
        ParseError::InvalidField {
            structure: self.structure,
            field,
            offset,
            expected: expected.into(),
            found: found.into(),
        }
    }

    /// An unsupported version or type in the field read at `offset`.
    pub fn unsupported(
        &self,
        field: &'static str,
        offset: usize,
        found: impl Into<String>,
        supported: &'static str,
    ) -> ParseError {
        ParseError::Unsupported { structure: self.structure, field, offset, found: found.into(), supported }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_read_names_structure_field_and_sizes() {
        let mut r = Reader::new("HCL report", &[1, 2, 3]);
        assert_eq!(r.u16_le("signature"), Ok(0x0201));
        let err = r.u32_le("version").unwrap_err();
        assert_eq!(
            err,
            ParseError::Truncated {
                structure: "HCL report",
                field: "version",
                offset: 2,
                needed: 4,
                available: 1
            }
        );
        assert!(err.to_string().contains("offset 2"));
    }

    #[test]
    fn finish_rejects_trailing_bytes() {
        let mut r = Reader::new("x", &[0; 5]);
        r.skip("a", 4).unwrap();
        assert!(matches!(r.finish(), Err(ParseError::TrailingBytes { count: 1, .. })));
    }

    #[test]
    fn tpm2b_reads_its_size_prefix() {
        let mut r = Reader::new("x", &[0, 2, 0xaa, 0xbb, 0xcc]);
        assert_eq!(r.tpm2b("name").unwrap(), &[0xaa, 0xbb]);
        assert_eq!(r.remaining(), 1);
    }
}
