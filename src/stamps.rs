//! Source files recognised as unchanged by their file-system stamp, so that a rebuild does not
//! read and hash every file of the leak again: hundreds of gigabytes for a large one, where
//! the rest of a one-file rebuild takes seconds.
//!
//! A stamp is a file's size, modification time, inode change time (ctime), inode and device.
//! Any write, truncation, rename onto the path or change of times moves the ctime to the
//! present, and no program can set it back. The build records each file's stamp, taken before
//! the file is read, beside its SHA-256; the next build takes the SHA-256 without reading the
//! file when the stamp is the same and its ctime is older than the recording build's start
//! by [`CLOCK_MARGIN_NANOS`]. The margin covers a coarse file-system clock: a file changed
//! twice within one tick, once before its stamp was taken and once after, would keep its
//! stamp; a file that old cannot have changed after the recording build read it. This is the
//! rule git uses for its index ("racy git"), and what make and rsync trust with less. Only
//! the ctime's age counts: setting a modification time moves the ctime too, and leaked files
//! often carry modification times in the future, which would never vouch. What escapes the
//! rule escapes git and rsync as well: a clock set back; a file server whose clock lags the
//! build machine's by more than the margin; a network file system's client that caches
//! attributes (NFS keeps them up to a minute by default), so that a file changed on another
//! machine just before a build still shows its old stamp. `--no-cache` reads every file.
//!
//! Publishing a document's original hard-links it into the output, which moves the source's
//! ctime: after a build into an empty output folder, the next build reads every file once
//! more and records stamps that vouch from then on.
//!
//! The table is one cache entry ([`NAMESPACE`]): a magic line, the recording build's start
//! (i64 nanoseconds since the epoch) and the entry count (u32), then per file its path's
//! byte length (u32) and bytes, size, modification time, ctime, inode and device (u64 or
//! i64 each) and SHA-256 (32 bytes). Integers are little-endian. Paths are bytes with a
//! length, as a leaked file's name may hold any character.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::SystemTime;

/// The cache namespace the table is stored under.
pub const NAMESPACE: &str = "sources";
/// Its key, "sources" in hex (cache keys are hex).
const TABLE_KEY: &str = "736f7572636573";
/// First line of the stored table; bump when the layout changes.
const TABLE_MAGIC: &[u8] = b"leakpress sources v1\n";
/// How much older than the recording build's start a file's times must be for its stamp to
/// vouch for it: above the tick of any file-system clock in use (FAT's is two seconds).
pub const CLOCK_MARGIN_NANOS: i64 = 3_000_000_000;
/// Bytes per entry besides the path.
const ENTRY_FIXED: usize = 4 + 5 * 8 + 32;

/// What a file's metadata says about its contents, without reading them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    size: u64,
    /// Nanoseconds since the epoch.
    modified: i64,
    changed: i64,
    inode: u64,
    device: u64,
}

impl Stamp {
    /// The stamp of a regular file; `None` elsewhere, and where the file system has no
    /// inode change time.
    #[cfg(unix)]
    pub fn of(meta: &std::fs::Metadata) -> Option<Stamp> {
        use std::os::unix::fs::MetadataExt;
        let nanos = |secs: i64, nsec: i64| secs.checked_mul(1_000_000_000)?.checked_add(nsec);
        meta.is_file().then_some(())?;
        Some(Stamp {
            size: meta.len(),
            modified: nanos(meta.mtime(), meta.mtime_nsec())?,
            changed: nanos(meta.ctime(), meta.ctime_nsec())?,
            inode: meta.ino(),
            device: meta.dev(),
        })
    }

    /// The file's device and inode.
    pub fn file_id(&self) -> Option<(u64, u64)> {
        Some((self.device, self.inode))
    }

    /// The file's size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Without an inode change time no stamp vouches for a file: every file is read.
    #[cfg(not(unix))]
    pub fn of(_: &std::fs::Metadata) -> Option<Stamp> {
        None
    }
}

/// The previous build's stamps, and this build's as files are extracted.
pub struct SourceStamps {
    /// When the build that recorded `previous` started.
    recorded_at: i64,
    previous: HashMap<String, (Stamp, [u8; 32])>,
    /// When this build started.
    started: i64,
    current: Mutex<Vec<(String, Stamp, [u8; 32])>>,
    /// Whether a file was read this build: otherwise every entry is the previous table's,
    /// which stays as it was (its start time too).
    read_any: AtomicBool,
    /// Files read this build, and files taken on their stamp's word.
    read: AtomicUsize,
    vouched: AtomicUsize,
}

fn nanos_since_epoch(time: SystemTime) -> i64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

impl SourceStamps {
    /// No previous stamps, for a build that started at `started`.
    pub fn new(started: SystemTime) -> SourceStamps {
        SourceStamps {
            recorded_at: i64::MIN,
            previous: HashMap::new(),
            started: nanos_since_epoch(started),
            current: Mutex::default(),
            read_any: AtomicBool::new(false),
            read: AtomicUsize::new(0),
            vouched: AtomicUsize::new(0),
        }
    }

    /// Counts a file as read this build, or as taken on its stamp's word.
    pub fn count(&self, read: bool) {
        let counter = if read { &self.read } else { &self.vouched };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// (files read, files taken on their stamp's word) so far.
    pub fn counts(&self) -> (usize, usize) {
        (
            self.read.load(Ordering::Relaxed),
            self.vouched.load(Ordering::Relaxed),
        )
    }

    /// The table stored by [`SourceStamps::encode`], for a build that started at `started`;
    /// `None` when it does not parse.
    pub fn decode(bytes: &[u8], started: SystemTime) -> Option<SourceStamps> {
        let mut rest = bytes.strip_prefix(TABLE_MAGIC)?;
        let mut take = |n: usize| -> Option<&[u8]> {
            let (head, tail) = rest.split_at_checked(n)?;
            rest = tail;
            Some(head)
        };
        let u64_of = |b: &[u8]| u64::from_le_bytes(b.try_into().expect("8 bytes"));
        let recorded_at = u64_of(take(8)?) as i64;
        let count = u32::from_le_bytes(take(4)?.try_into().ok()?) as usize;
        let mut previous = HashMap::with_capacity(count.min(bytes.len() / ENTRY_FIXED));
        for _ in 0..count {
            let len = u32::from_le_bytes(take(4)?.try_into().ok()?) as usize;
            let path = std::str::from_utf8(take(len)?).ok()?.to_owned();
            let fixed = take(5 * 8 + 32)?;
            let word = |i: usize| u64_of(&fixed[i * 8..i * 8 + 8]);
            let stamp = Stamp {
                size: word(0),
                modified: word(1) as i64,
                changed: word(2) as i64,
                inode: word(3),
                device: word(4),
            };
            let sha: [u8; 32] = fixed[40..].try_into().ok()?;
            previous.insert(path, (stamp, sha));
        }
        take(1).is_none().then_some(())?;
        Some(SourceStamps {
            recorded_at,
            previous,
            ..SourceStamps::new(started)
        })
    }

    /// The SHA-256 (hex) the previous build recorded for the file at `path`, when `stamp`
    /// vouches that the file is unchanged since.
    pub fn known(&self, path: &str, stamp: &Stamp) -> Option<String> {
        let (old, sha) = self.previous.get(path)?;
        let settled = stamp.changed < self.recorded_at.saturating_sub(CLOCK_MARGIN_NANOS);
        (old == stamp && settled).then(|| hex::encode(sha))
    }

    /// Notes the file at `path`, its stamp taken before it was read, and its SHA-256 (hex);
    /// `read` says whether this build read it.
    pub fn record(&self, path: &str, stamp: Stamp, sha256: &str, read: bool) {
        let mut sha = [0u8; 32];
        if hex::decode_to_slice(sha256, &mut sha).is_err() {
            return;
        }
        if read {
            self.read_any.store(true, Ordering::Relaxed);
        }
        self.current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((path.to_owned(), stamp, sha));
    }

    /// This build's table, encoded, unless it is the previous one: every file vouched for by
    /// its stamp and none gone.
    pub fn changed(&self) -> Option<Vec<u8>> {
        let current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        let same = !self.read_any.load(Ordering::Relaxed) && current.len() == self.previous.len();
        drop(current);
        (!same).then(|| self.encode())
    }

    /// This build's stamps, in path order, recorded at its start.
    pub fn encode(&self) -> Vec<u8> {
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        current.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let size: usize = current.iter().map(|e| ENTRY_FIXED + e.0.len()).sum();
        let mut out = Vec::with_capacity(TABLE_MAGIC.len() + 12 + size);
        out.extend_from_slice(TABLE_MAGIC);
        out.extend_from_slice(&self.started.to_le_bytes());
        out.extend_from_slice(&(current.len() as u32).to_le_bytes());
        for (path, stamp, sha) in current.iter() {
            out.extend_from_slice(&(path.len() as u32).to_le_bytes());
            out.extend_from_slice(path.as_bytes());
            for word in [
                stamp.size,
                stamp.modified as u64,
                stamp.changed as u64,
                stamp.inode,
                stamp.device,
            ] {
                out.extend_from_slice(&word.to_le_bytes());
            }
            out.extend_from_slice(sha);
        }
        out
    }

    /// The cache key the table is stored under in [`NAMESPACE`].
    pub fn cache_key() -> &'static str {
        TABLE_KEY
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn stamp(changed: i64) -> Stamp {
        Stamp {
            size: 10,
            modified: changed - 5,
            changed,
            inode: 7,
            device: 1,
        }
    }

    const SHA: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

    #[test]
    fn a_stamp_vouches_only_when_the_same_and_changed_before_the_recording_build_by_the_margin() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let at = nanos_since_epoch(start);
        let first = SourceStamps::new(start);
        let old = stamp(at - CLOCK_MARGIN_NANOS - 1);
        let recent = stamp(at - CLOCK_MARGIN_NANOS + 1);
        // A modification time in the future (common in leaks) does not matter: the ctime
        // vouches.
        let future = Stamp {
            modified: at + 86_400_000_000_000,
            ..old
        };
        first.record("agency/old.pdf", old, SHA, true);
        first.record("agency/recent\tname\n.pdf", recent, SHA, true);
        first.record("agency/future.pdf", future, SHA, true);
        let bytes = first.changed().expect("files were read");

        let next = SourceStamps::decode(&bytes, start + Duration::from_secs(60)).unwrap();
        assert_eq!(next.known("agency/old.pdf", &old).as_deref(), Some(SHA));
        assert_eq!(
            next.known("agency/future.pdf", &future).as_deref(),
            Some(SHA)
        );
        assert_eq!(
            next.known("agency/recent\tname\n.pdf", &recent),
            None,
            "changed within the margin of the recording build's start"
        );
        for other in [
            Stamp { size: 11, ..old },
            Stamp {
                changed: old.changed - 1,
                ..old
            },
            Stamp {
                modified: old.modified + 1,
                ..old
            },
            Stamp { inode: 8, ..old },
            Stamp { device: 2, ..old },
        ] {
            assert_eq!(next.known("agency/old.pdf", &other), None, "{other:?}");
        }
        assert_eq!(next.known("agency/other.pdf", &old), None);

        // Every file vouched for and none gone: the table is kept as it was.
        next.record("agency/old.pdf", old, SHA, false);
        next.record("agency/future.pdf", future, SHA, false);
        next.record("agency/recent\tname\n.pdf", recent, SHA, true);
        let again = next.changed().expect("a file was read");
        let third = SourceStamps::decode(&again, start + Duration::from_secs(120)).unwrap();
        assert_eq!(
            third.known("agency/recent\tname\n.pdf", &recent).as_deref(),
            Some(SHA),
            "recorded again by a later build, it is old enough"
        );
        third.record("agency/old.pdf", old, SHA, false);
        third.record("agency/future.pdf", future, SHA, false);
        third.record("agency/recent\tname\n.pdf", recent, SHA, false);
        assert!(third.changed().is_none());
        let fourth = SourceStamps::decode(&again, start).unwrap();
        fourth.record("agency/old.pdf", old, SHA, false);
        assert!(fourth.changed().is_some(), "a file is gone");
    }

    #[test]
    fn a_cut_or_padded_table_does_not_decode() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let table = SourceStamps::new(start);
        table.record("a/b.md", stamp(1), SHA, true);
        let bytes = table.encode();
        assert!(SourceStamps::decode(&bytes, start).is_some());
        for len in 0..bytes.len() {
            assert!(
                SourceStamps::decode(&bytes[..len], start).is_none(),
                "{len}"
            );
        }
        assert!(SourceStamps::decode(&[&bytes[..], b"x"].concat(), start).is_none());
    }
}
