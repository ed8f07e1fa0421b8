//! Temporary files that the build parks bytes in: bodies between extraction and rendering
//! ([`crate::document::BodySpill`]), postings past the search index's memory budget.
//!
//! A [`SpillFile`] is appended to and read back by byte range; [`compress`] and
//! [`decompress`] shrink what goes in (and the cache's entries). It is unlinked as soon as it
//! is created where the OS allows (elsewhere on drop), so a killed build leaves nothing behind.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// zstd level for parked bytes: the fastest regular level, since each frame is read back
/// about once.
const LEVEL: i32 = 1;

thread_local! {
    // A context per thread, reused: making one per frame would allocate its tables a million
    // times.
    static COMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> =
        const { std::cell::RefCell::new(None) };
    static DECOMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { std::cell::RefCell::new(None) };
}

/// `bytes` as one zstd frame that records its size.
pub(crate) fn compress(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    COMPRESSOR.with_borrow_mut(|slot| {
        let compressor = match slot {
            Some(compressor) => compressor,
            None => slot.insert(zstd::bulk::Compressor::new(LEVEL)?),
        };
        compressor.compress(bytes)
    })
}

/// The bytes of a frame made by [`compress`]; an error if it is damaged.
pub(crate) fn decompress(frame: &[u8]) -> std::io::Result<Vec<u8>> {
    // The frame records its size, so the buffer is allocated once, exactly.
    let size = zstd::zstd_safe::get_frame_content_size(frame)
        .ok()
        .flatten()
        .and_then(|size| usize::try_from(size).ok())
        .ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, "not a sized zstd frame")
        })?;
    DECOMPRESSOR.with_borrow_mut(|slot| {
        let decompressor = match slot {
            Some(decompressor) => decompressor,
            None => slot.insert(zstd::bulk::Decompressor::new()?),
        };
        decompressor.decompress(frame, size)
    })
}

/// An unnamed temporary file, appended to from any thread and read back by range.
pub(crate) struct SpillFile {
    file: File,
    /// Next free offset; the lock also keeps each append's bytes contiguous.
    end: Mutex<u64>,
    /// The file's path while it still has one (where an open file cannot be unlinked).
    path: Option<PathBuf>,
}

impl SpillFile {
    /// Creates `.leakpress-<what>-….tmp` in the first of `dirs` where that works.
    pub(crate) fn create(dirs: &[&Path], what: &str) -> std::io::Result<SpillFile> {
        static SERIAL: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            ".leakpress-{what}-{}-{}.tmp",
            std::process::id(),
            SERIAL.fetch_add(1, Ordering::Relaxed)
        );
        let mut failure = std::io::Error::other("no folder for a temporary file");
        for dir in dirs {
            let path = dir.join(&name);
            match std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(file) => {
                    let path = std::fs::remove_file(&path).err().map(|_| path);
                    return Ok(SpillFile {
                        file,
                        end: Mutex::new(0),
                        path,
                    });
                }
                Err(err) => failure = err,
            }
        }
        Err(failure)
    }

    /// Appends `bytes`; returns where they start.
    pub(crate) fn append(&self, bytes: &[u8]) -> std::io::Result<u64> {
        let mut end = self.end.lock().unwrap_or_else(|e| e.into_inner());
        let start = *end;
        write_at(&self.file, bytes, start)?;
        *end += bytes.len() as u64;
        Ok(start)
    }

    /// Fills `bytes` from `offset` on.
    pub(crate) fn read(&self, bytes: &mut [u8], offset: u64) -> std::io::Result<()> {
        read_at(&self.file, bytes, offset, &self.end)
    }
}

impl Drop for SpillFile {
    fn drop(&mut self) {
        if let Some(path) = &self.path {
            // Best effort: a leftover temporary file is harmless and outside the site.
            std::fs::remove_file(path).ok();
        }
    }
}

#[cfg(unix)]
fn write_at(file: &File, bytes: &[u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, bytes, offset)
}

#[cfg(unix)]
fn read_at(file: &File, bytes: &mut [u8], offset: u64, _: &Mutex<u64>) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, bytes, offset)
}

/// Writes hold the appenders' lock, so the shared cursor is theirs to move.
#[cfg(not(unix))]
fn write_at(mut file: &File, bytes: &[u8], offset: u64) -> std::io::Result<()> {
    use std::io::{Seek, Write};
    file.seek(std::io::SeekFrom::Start(offset))?;
    file.write_all(bytes)
}

/// Without positioned reads, the file cursor is shared: reads take the appenders' lock.
#[cfg(not(unix))]
fn read_at(
    mut file: &File,
    bytes: &mut [u8],
    offset: u64,
    lock: &Mutex<u64>,
) -> std::io::Result<()> {
    use std::io::{Read, Seek};
    let _guard = lock.lock().unwrap_or_else(|e| e.into_inner());
    file.seek(std::io::SeekFrom::Start(offset))?;
    file.read_exact(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appended_ranges_read_back_and_the_file_is_unlinked() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no-such-folder");
        let spill = SpillFile::create(&[&missing, dir.path()], "test").unwrap();
        assert_eq!(spill.append(b"hello").unwrap(), 0);
        assert_eq!(spill.append(b"").unwrap(), 5);
        assert_eq!(spill.append(b", world").unwrap(), 5);
        let mut back = [0u8; 5];
        spill.read(&mut back, 7).unwrap();
        assert_eq!(&back, b"world");
        assert!(spill.read(&mut back, 10).is_err(), "past the end");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        assert!(SpillFile::create(&[&missing], "test").is_err());
    }
}
