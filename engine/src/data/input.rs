//! Opening the files a data set is read from. Each must be a regular file, checked before it is
//! opened (opening a FIFO blocks until a writer appears, so `digits:<a FIFO>` would hang), and
//! each is read through a stated maximum length (`/dev/zero`, or a `/proc` file whose size reads
//! as 0, never ends).

use crate::error::{EngineError, Result};
use std::fs::{File, FileType};
use std::io::{self, Read};
use std::path::Path;

/// The bytes a file on disk may have when what it decompresses to is bounded by `decompressed`:
/// gzip's stored blocks add 5 bytes per 64 KiB of incompressible data, well within 1/64.
pub(crate) const fn file_bound(decompressed: u64) -> u64 {
    decompressed.saturating_add(decompressed / 64)
}

/// What a file that is not a regular file is, for messages.
fn kind_of(file_type: FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if file_type.is_char_device() {
            return "a character device";
        }
        if file_type.is_block_device() {
            return "a block device";
        }
        if file_type.is_socket() {
            return "a socket";
        }
    }
    if file_type.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

/// The error about the file `path`.
fn file_err(path: &Path, detail: impl Into<String>) -> EngineError {
    EngineError::DataFile {
        path: path.to_path_buf(),
        detail: detail.into(),
    }
}

/// The refusal of a file that is not a regular file.
fn not_regular(path: &Path, file_type: FileType) -> EngineError {
    file_err(
        path,
        format!(
            "is {}, not a regular file; a data set is read from regular files only",
            kind_of(file_type)
        ),
    )
}

/// The I/O error a [`Capped`] reader returns once more than its maximum came through.
#[derive(Debug)]
pub(crate) struct TooLong {
    /// The most bytes the file may have.
    pub max: u64,
}

impl std::fmt::Display for TooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "longer than the {} bytes a file of this kind may have; stopped reading at byte \
             offset {}",
            self.max, self.max
        )
    }
}

impl std::error::Error for TooLong {}

/// The [`TooLong`] inside `e`, if that is what it is (also when a gzip decoder passed it on).
pub(crate) fn too_long(e: &io::Error) -> Option<&TooLong> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<TooLong>())
}

/// A reader that fails with [`TooLong`] once more than `max` bytes came through: `Read::take`
/// with one byte of room, so that a file of exactly `max` bytes reads whole and a longer one is
/// an error rather than silently cut.
pub(crate) struct Capped<R> {
    inner: io::Take<R>,
    seen: u64,
    max: u64,
}

impl<R: Read> Capped<R> {
    /// `inner`, allowed `max` bytes.
    pub(crate) fn new(inner: R, max: u64) -> Self {
        Self {
            inner: inner.take(max.saturating_add(1)),
            seen: 0,
            max,
        }
    }
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let too_long = || io::Error::new(io::ErrorKind::InvalidData, TooLong { max: self.max });
        let n = match self.inner.read(buf) {
            Ok(n) => n,
            // The read of the byte beyond the maximum can fail where a longer one would not
            // (`/proc/self/pagemap` refuses reads of fewer than 8 bytes): the file goes on.
            Err(e) if self.seen == self.max && e.kind() != io::ErrorKind::Interrupted => {
                return Err(too_long());
            }
            Err(e) => return Err(e),
        };
        self.seen += n as u64;
        if self.seen > self.max {
            return Err(too_long());
        }
        Ok(n)
    }
}

/// Whether `path` names something that exists (a regular file or not): the readers then open
/// it with [`open_data_file`], which refuses what is not a regular file.
pub(crate) fn exists(path: &Path) -> bool {
    std::fs::metadata(path).is_ok()
}

/// Opens `path` for reading: a regular file (following symlinks, checked before it is opened)
/// whose reported size is at most `max_bytes`, read through a [`Capped`] reader of `max_bytes`
/// (a reported size of 0, as under `/proc`, says nothing about what a read returns).
pub(crate) fn open_data_file(path: &Path, max_bytes: u64) -> Result<Capped<File>> {
    let meta = std::fs::metadata(path).map_err(|e| file_err(path, format!("cannot read: {e}")))?;
    if !meta.is_file() {
        return Err(not_regular(path, meta.file_type()));
    }
    if meta.len() > max_bytes {
        return Err(file_err(
            path,
            format!(
                "{} bytes, more than the {max_bytes} bytes a file of this kind may have",
                meta.len()
            ),
        ));
    }
    let file = File::open(path).map_err(|e| file_err(path, format!("cannot read: {e}")))?;
    // The path may have been replaced between the two looks; what was opened decides.
    let opened = file
        .metadata()
        .map_err(|e| file_err(path, format!("cannot read: {e}")))?;
    if !opened.is_file() {
        return Err(not_regular(path, opened.file_type()));
    }
    Ok(Capped::new(file, max_bytes))
}

/// The error for a failed read of the file `path`.
pub(crate) fn read_err(path: &Path, e: &io::Error) -> EngineError {
    match too_long(e) {
        Some(t) => file_err(path, t.to_string()),
        None => file_err(path, format!("cannot read: {e}")),
    }
}

/// Reads a whole data file of at most `max_bytes` (see [`open_data_file`]), naming it in errors.
pub fn read_data_file(path: &Path, max_bytes: u64) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    open_data_file(path, max_bytes)?
        .read_to_end(&mut bytes)
        .map_err(|e| read_err(path, &e))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_capped_reader_allows_its_maximum_and_refuses_one_byte_more() {
        let mut v = Vec::new();
        Capped::new(&[7u8; 10][..], 10).read_to_end(&mut v).unwrap();
        assert_eq!(v.len(), 10);
        let e = Capped::new(&[7u8; 11][..], 10)
            .read_to_end(&mut Vec::new())
            .unwrap_err();
        let t = too_long(&e).expect("a TooLong error");
        assert_eq!(t.max, 10);
        assert!(e.to_string().contains("longer than the 10 bytes"), "{e}");
        // An endless source stops at the maximum plus one byte.
        let mut endless = io::repeat(0);
        let e = Capped::new(&mut endless, 1 << 20)
            .read_to_end(&mut Vec::new())
            .unwrap_err();
        assert!(too_long(&e).is_some(), "{e}");
    }

    #[test]
    fn files_are_read_whole_up_to_their_bound() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.bin");
        std::fs::write(&p, [1u8; 100]).unwrap();
        assert_eq!(read_data_file(&p, 100).unwrap().len(), 100);
        let e = read_data_file(&p, 99).unwrap_err().to_string();
        assert!(
            e.contains("f.bin") && e.contains("more than the 99 bytes"),
            "{e}"
        );
        let e = read_data_file(dir.path(), 100).unwrap_err().to_string();
        assert!(e.contains("a directory"), "{e}");
        let e = read_data_file(&dir.path().join("nope"), 100)
            .unwrap_err()
            .to_string();
        assert!(e.contains("nope") && e.contains("cannot read"), "{e}");
    }

    /// A character device is refused by its type, before a byte of it is read.
    #[cfg(target_os = "linux")]
    #[test]
    fn devices_are_refused_before_they_are_read() {
        let e = read_data_file(Path::new("/dev/zero"), 1 << 40)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("/dev/zero") && e.contains("a character device"),
            "{e}"
        );
    }

    /// A FIFO is refused by its type without being opened: opening it would block until a
    /// writer came. The read runs on a thread so that a regression fails instead of hanging.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_fifo_is_refused_without_being_opened() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("digits.csv");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if !made.is_ok_and(|s| s.success()) {
            eprintln!("SKIPPED: mkfifo is not available");
            return;
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let path = fifo.clone();
        std::thread::spawn(move || {
            let _ = tx.send(read_data_file(&path, 1 << 20).map_err(|e| e.to_string()));
        });
        let outcome = rx
            .recv_timeout(std::time::Duration::from_secs(20))
            .expect("reading a FIFO returns at once instead of blocking");
        let e = outcome.unwrap_err();
        assert!(e.contains("digits.csv") && e.contains("a FIFO"), "{e}");
    }

    /// A `/proc` file reports size 0 but reads on: the cap stops it.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_file_that_reads_longer_than_its_size_is_stopped_at_the_bound() {
        let p = Path::new("/proc/self/pagemap");
        if !p.is_file() {
            eprintln!("SKIPPED: no {}", p.display());
            return;
        }
        let e = read_data_file(p, 4096).unwrap_err().to_string();
        assert!(
            e.contains("pagemap") && e.contains("longer than the 4096 bytes"),
            "{e}"
        );
    }
}
