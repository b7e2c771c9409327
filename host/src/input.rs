//! Reading the files a user or operator names, safely: each is opened once, must be a regular file
//! (or stdin for `-`), and is read up to a limit, so `/dev/zero`, a FIFO or a huge file is an error
//! with its name rather than a hang or an exhausted host.

use std::fs::OpenOptions;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Evidence bundles are a few KiB to a few hundred (event logs included).
pub const MAX_EVIDENCE_BYTES: u64 = 16 << 20;
/// Configuration files, plugin configurations, manifests, claims, tokens, anchors, collateral.
pub const MAX_SMALL_FILE_BYTES: u64 = 4 << 20;
/// Plugin components; real ones are a few hundred KiB to a few MiB.
pub const MAX_COMPONENT_BYTES: u64 = 64 << 20;

/// An input file that could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("cannot read {what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{what} {} is not a regular file; give the path of a file", path.display())]
    NotRegular { what: &'static str, path: PathBuf },
    #[error("{what} {} is larger than the {limit}-byte limit", path.display())]
    TooLarge { what: &'static str, path: PathBuf, limit: u64 },
}

/// The bytes of `path` (stdin for `-`): at most `limit` of them, from a regular file.
pub fn read(path: &Path, what: &'static str, limit: u64) -> Result<Vec<u8>, Error> {
    let io = |source| Error::Io { what, path: path.to_owned(), source };
    if path == Path::new("-") {
        return read_bounded(std::io::stdin().lock(), limit).map_err(io)?.ok_or_else(|| Error::TooLarge {
            what,
            path: path.to_owned(),
            limit,
        });
    }
    let file = open(path, what)?;
    read_open(&file, path, what, limit)
}

/// `path` opened for reading, once: it must be a regular file (checked on the opened file, so a swap
/// between the check and the read cannot matter).
pub(crate) fn open(path: &Path, what: &'static str) -> Result<std::fs::File, Error> {
    let io = |source| Error::Io { what, path: path.to_owned(), source };
    // Non-blocking, so that opening a FIFO with no writer returns instead of waiting for one.
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(path)
        .map_err(io)?;
    if !file.metadata().map_err(io)?.is_file() {
        return Err(Error::NotRegular { what, path: path.to_owned() });
    }
    Ok(file)
}

/// The bytes of a file [`open`] returned (`path` only names it in errors): at most `limit` of them.
pub(crate) fn read_open(
    file: &std::fs::File,
    path: &Path,
    what: &'static str,
    limit: u64,
) -> Result<Vec<u8>, Error> {
    let io = |source| Error::Io { what, path: path.to_owned(), source };
    read_bounded(file, limit).map_err(io)?.ok_or_else(|| Error::TooLarge {
        what,
        path: path.to_owned(),
        limit,
    })
}

/// [`read`] as UTF-8 text.
pub fn read_text(path: &Path, what: &'static str, limit: u64) -> Result<String, Error> {
    String::from_utf8(read(path, what, limit)?).map_err(|_| Error::Io {
        what,
        path: path.to_owned(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"),
    })
}

/// Everything `reader` yields, or `None` when it yields more than `limit` bytes.
pub(crate) fn read_bounded(reader: impl Read, limit: u64) -> std::io::Result<Option<Vec<u8>>> {
    let mut data = Vec::new();
    reader.take(limit.saturating_add(1)).read_to_end(&mut data)?;
    Ok((data.len() as u64 <= limit).then_some(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_devices_directories_and_oversized_files() {
        let err = read(Path::new("/dev/zero"), "evidence", 1024).unwrap_err();
        assert!(matches!(err, Error::NotRegular { .. }), "{err}");
        let err = read(Path::new("/"), "evidence", 1024).unwrap_err();
        assert!(matches!(err, Error::NotRegular { .. }), "{err}");
        let dir = tempfile::tempdir().expect("tempdir");
        let fifo = dir.path().join("fifo");
        rustix::fs::mkfifoat(rustix::fs::CWD, &fifo, rustix::fs::Mode::RUSR | rustix::fs::Mode::WUSR)
            .expect("mkfifo");
        let err = read(&fifo, "evidence", 1024).unwrap_err();
        assert!(matches!(err, Error::NotRegular { .. }), "{err}");
        let path = dir.path().join("big");
        std::fs::write(&path, vec![b'x'; 1025]).expect("write");
        let err = read(&path, "evidence", 1024).unwrap_err();
        assert!(err.to_string().contains("1024-byte limit"), "{err}");
        assert_eq!(read(&path, "evidence", 1025).expect("within the limit").len(), 1025);
    }
}
