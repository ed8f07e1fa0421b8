//! The incremental cache: results of expensive per-file work kept between builds, outside the
//! output folder, so a rebuild after a small change redoes only what the change touched.
//!
//! Layout: entries are records appended to *pack files* (`packs/<n>.pack`), and an *index*
//! (`index`) says where each live entry lies. A build reads the packs it found and appends
//! what it makes to one new pack; at its end [`Cache::commit`] writes the new index. One file
//! per entry cost a 10,000-document build 1.5 s of its 9.8 (ext4 creating and renaming 10,000
//! small files, measured against the same cache on tmpfs), and a million of them would be a
//! million inodes.
//!
//! Invariants:
//! - **Never trusted blindly.** Every record carries its key and the SHA-256 of its stored
//!   bytes, checked on each read; a damaged record is counted in [`CacheStats::corrupt`], left
//!   out of the next index, and the work is done again. A damaged or foreign stamp or index
//!   empties the whole cache.
//! - **Keyed by content.** A key is a hash of everything that determines the value (the input
//!   bytes, the options that reach it); the cache as a whole is stamped with a fingerprint of
//!   what reaches every entry (the leakpress version, the configuration, the theme). A build
//!   with another fingerprint starts from an empty cache.
//! - **Crash-safe.** Packs are only appended to while a build runs, and the index is replaced
//!   by a rename after its pack is written, so a killed build leaves the previous index and
//!   every pack it names intact (the new pack is an orphan, deleted by the next commit).
//! - **One build at a time.** A build holds an exclusive lock on the `lock` file while it has
//!   the cache open; a second build on the same cache goes without one.
//! - **Bounded.** [`Cache::commit`] drops every entry the build did not use, and rewrites a
//!   pack whose live records are under half its bytes into the new pack, so the cache holds
//!   about one build's working set, at most twice over.
//! - **Deterministic output.** The cache only ever stands in for work whose result it stores
//!   byte for byte; a build with a cold cache, a warm one or none writes the same site.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result, ResultExt};

/// The stamp file: names the cache format and the fingerprint its entries were made under.
const STAMP_FILE: &str = "leakpress-cache";
/// Format of the stamp, the index and the records; bump when any of them changes.
const FORMAT: &str = "leakpress-cache v4";
/// Written so backup and archiving tools skip the folder (<https://bford.info/cachedir/>).
const CACHEDIR_TAG: &str = "CACHEDIR.TAG";
const CACHEDIR_TAG_BODY: &str = "Signature: 8a477f597d28d172789f06886806bc55\n\
    # This file marks a cache folder made by leakpress (https://github.com/leakpress).\n\
    # It can be deleted at any time; the next build makes it again.\n";
/// Held locked while a build uses the cache.
const LOCK_FILE: &str = "lock";
const INDEX_FILE: &str = "index";
const PACK_DIR: &str = "packs";
/// First bytes of the index, then the entry count (u64 LE), the entries, and the SHA-256 of
/// everything before it.
const INDEX_MAGIC: &[u8] = b"LPCI3\n";
/// An index entry: key digest (32), pack number (u32), offset (u64), record length (u32).
const INDEX_ENTRY: usize = 48;
/// First bytes of a record, then the key digest (32), the stored length (u32 LE), the
/// SHA-256 of the stored bytes (32), and the stored bytes: the payload compressed (an
/// extraction record holds a body's HTML and its text; 50,000 of them took 2.0 GB
/// uncompressed), see [`seal`].
const RECORD_MAGIC: &[u8] = b"LPR4";
const RECORD_HEADER: usize = 4 + 32 + 4 + 32;
/// The first stored byte of a record whose payload follows as one zstd frame.
const SEALED_ZSTD: u8 = 0;
/// The first stored byte of a record whose payload follows as an LZ4 block, its length first.
const SEALED_LZ4: u8 = 1;
/// Payloads shorter than this are stored as LZ4. Most entries are a document's extraction
/// record without its body (a Markdown body is made again from its file), a few hundred
/// bytes compressed, for which zstd spends most of its time setting up its tables. A
/// rebuild reads every one of them; at 50,000 documents zstd's functions were a fifth of
/// the extract stage's profile samples.
const SMALL_PAYLOAD: usize = 16 << 10;

/// The bytes a record stores for `payload`: a tag, then the payload compressed, by zstd
/// (which shrinks a body's HTML and text the most) or, when it is small, by LZ4.
fn seal(payload: &[u8]) -> std::io::Result<Vec<u8>> {
    if payload.len() < SMALL_PAYLOAD {
        let mut stored = vec![SEALED_LZ4];
        stored.extend_from_slice(&lz4_flex::compress_prepend_size(payload));
        Ok(stored)
    } else {
        let frame = crate::spill::compress(payload)?;
        let mut stored = Vec::with_capacity(frame.len() + 1);
        stored.push(SEALED_ZSTD);
        stored.extend_from_slice(&frame);
        Ok(stored)
    }
}

/// The payload of bytes [`seal`] made; an error if they are damaged.
fn unseal(stored: &[u8]) -> std::io::Result<Vec<u8>> {
    let damaged = || std::io::Error::new(std::io::ErrorKind::InvalidData, "cache record damaged");
    match stored.split_first() {
        Some((&SEALED_ZSTD, frame)) => crate::spill::decompress(frame),
        Some((&SEALED_LZ4, block)) => {
            // Only small payloads are stored so: a larger length is damage, not a size to
            // allocate.
            let (len, block) = block.split_first_chunk::<4>().ok_or_else(damaged)?;
            let len = u32::from_le_bytes(*len) as usize;
            if len >= SMALL_PAYLOAD {
                return Err(damaged());
            }
            lz4_flex::decompress(block, len)
                .ok()
                .filter(|payload| payload.len() == len)
                .ok_or_else(damaged)
        }
        _ => Err(damaged()),
    }
}

/// Where the pack being written sits in [`Location::pack`].
const NEW_PACK: u32 = u32::MAX;

/// What the cache did during one build, for the build report and `--timings`.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct CacheStats {
    /// Why an earlier build's entries were thrown away when the cache was opened, if they were.
    pub emptied_because: Option<String>,
    /// Entries found and intact.
    pub hits: usize,
    /// Entries looked for and absent.
    pub misses: usize,
    /// Entries found damaged and redone.
    pub corrupt: usize,
    /// Entries written.
    pub written: usize,
    /// Entries dropped by [`Cache::commit`] because this build did not use them.
    pub pruned: usize,
}

#[derive(Default)]
struct Counters {
    hits: AtomicUsize,
    misses: AtomicUsize,
    corrupt: AtomicUsize,
    written: AtomicUsize,
    pruned: AtomicUsize,
}

/// Where a record lies: a pack (its number, or [`NEW_PACK`]), an offset and a length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Location {
    pack: u32,
    offset: u64,
    len: u32,
}

/// An entry of the index this build found, and whether the build has read it intact.
struct Found {
    at: Location,
    used: AtomicBool,
}

/// The pack this build appends to, created at the first [`Cache::put`].
struct NewPack {
    number: u32,
    /// `None` until the first record.
    writer: Option<std::io::BufWriter<File>>,
    /// The same file, for reading back what this build wrote.
    reader: Option<File>,
    len: u64,
    /// Records this build wrote, by key digest (a later write of a key wins).
    entries: HashMap<KeyDigest, Location>,
}

/// Where an entry this build found or stored lies, for [`Cache::read`].
#[derive(Debug, Clone, Copy)]
pub struct EntryRef(Location);

/// SHA-256 of a namespace and key: what the index and records hold instead of the names.
type KeyDigest = [u8; 32];

/// An open cache folder, shared by the build's threads (`Sync`).
struct Store {
    dir: PathBuf,
    /// Held for the cache's lifetime: the lock on [`LOCK_FILE`].
    _lock: File,
    found: HashMap<KeyDigest, Found>,
    /// Packs the index names, by number.
    packs: HashMap<u32, File>,
    new: Mutex<NewPack>,
}

/// Content-addressed entries in pack files, shared by the build's threads (`Sync`).
pub struct Cache {
    /// `None`: caching is off and every lookup misses.
    store: Option<Store>,
    counters: Counters,
    /// Why the entries of an earlier build were thrown away, if they were.
    invalidated: Option<String>,
}

impl Cache {
    /// A cache that stores nothing: every lookup misses, every store is dropped.
    pub fn disabled() -> Cache {
        Cache {
            store: None,
            counters: Counters::default(),
            invalidated: None,
        }
    }

    /// Opens (or creates) the cache at `dir` for a build whose fingerprint is `fingerprint`.
    /// Entries made under another fingerprint, or under a stamp or index that cannot be read,
    /// are removed first. A non-empty folder that is not a leakpress cache is refused, never
    /// emptied; so is a cache another build has open.
    pub fn open(dir: &Path, fingerprint: &str) -> Result<Cache> {
        let stamp_path = dir.join(STAMP_FILE);
        let wanted = format!("{FORMAT}\n{}\n", sha256_hex(fingerprint.as_bytes()));
        let mut invalidated = None;
        if dir.exists() {
            match std::fs::read_to_string(&stamp_path) {
                Ok(stamp) if stamp == wanted => {}
                Ok(stamp) => {
                    invalidated = Some(if stamp.starts_with(FORMAT) {
                        "the leakpress version, configuration or theme changed".to_owned()
                    } else {
                        "its stamp is damaged or from another cache format".to_owned()
                    });
                }
                Err(_) => {
                    let is_empty = std::fs::read_dir(dir).with_path(dir)?.next().is_none();
                    if !is_empty {
                        return Err(Error::Other(format!(
                            "refusing to use {} as the cache: it is not empty and holds no {STAMP_FILE} stamp",
                            dir.display()
                        )));
                    }
                }
            }
        }
        std::fs::create_dir_all(dir).with_path(dir)?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .with_path(&lock_path)?;
        // A file system without locks (some network mounts) gets no protection, not no cache.
        if let Err(std::fs::TryLockError::WouldBlock) = lock.try_lock() {
            return Err(Error::Other(format!(
                "{} is in use by another leakpress build",
                dir.display()
            )));
        }
        let mut found = HashMap::new();
        if invalidated.is_none() && stamp_path.exists() {
            match read_index(&dir.join(INDEX_FILE)) {
                Ok(entries) => found = entries,
                Err(why) => invalidated = Some(why),
            }
        }
        if invalidated.is_some() {
            // Everything but the lock, which this build holds.
            for entry in std::fs::read_dir(dir).with_path(dir)? {
                let path = entry.with_path(dir)?.path();
                if path == lock_path {
                    continue;
                }
                if path.is_dir() {
                    std::fs::remove_dir_all(&path).with_path(&path)?;
                } else {
                    std::fs::remove_file(&path).with_path(&path)?;
                }
            }
        }
        if invalidated.is_some() || !stamp_path.exists() {
            write_atomic(&dir.join(CACHEDIR_TAG), CACHEDIR_TAG_BODY.as_bytes())?;
            write_atomic(&stamp_path, wanted.as_bytes())?;
        }
        let pack_dir = dir.join(PACK_DIR);
        std::fs::create_dir_all(&pack_dir).with_path(&pack_dir)?;
        let mut packs = HashMap::new();
        let mut invalid = None;
        for f in found.values() {
            let number = f.at.pack;
            if let std::collections::hash_map::Entry::Vacant(slot) = packs.entry(number) {
                match File::open(pack_path(dir, number)) {
                    Ok(file) => {
                        slot.insert(file);
                    }
                    Err(_) => invalid = Some(number),
                }
            }
        }
        if let Some(number) = invalid {
            // A pack deleted by hand: its entries miss, and are redone.
            found.retain(|_, f| f.at.pack != number && packs.contains_key(&f.at.pack));
        }
        let number = existing_packs(dir)?
            .into_iter()
            .chain(packs.keys().copied())
            .max()
            .map_or(0, |n| n + 1);
        Ok(Cache {
            store: Some(Store {
                dir: dir.to_path_buf(),
                _lock: lock,
                found,
                packs,
                new: Mutex::new(NewPack {
                    number,
                    writer: None,
                    reader: None,
                    len: 0,
                    entries: HashMap::new(),
                }),
            }),
            counters: Counters::default(),
            invalidated,
        })
    }

    /// Whether entries are kept at all.
    pub fn is_enabled(&self) -> bool {
        self.store.is_some()
    }

    /// A folder of the cache for a stage that keeps its own files (created, and emptied with
    /// the rest of the cache), or `None` when caching is off or it cannot be made.
    pub fn side_dir(&self, name: &str) -> Option<PathBuf> {
        let dir = self.store.as_ref()?.dir.join(name);
        std::fs::create_dir_all(&dir).ok()?;
        Some(dir)
    }

    /// Why an earlier build's entries were discarded when the cache was opened, if they were.
    pub fn invalidated(&self) -> Option<&str> {
        self.invalidated.as_deref()
    }

    /// The payload stored under `namespace`/`key`, if present and intact.
    pub fn get(&self, namespace: &str, key: &str) -> Option<Vec<u8>> {
        self.fetch(namespace, key).map(|(payload, _)| payload)
    }

    /// [`Cache::get`], and where the entry lies, for [`Cache::read`].
    fn fetch(&self, namespace: &str, key: &str) -> Option<(Vec<u8>, EntryRef)> {
        self.fetch_with(namespace, key, |stored| unseal(stored).ok())
    }

    /// Where the entry under `namespace`/`key` lies, for a later [`Cache::read`], if it is
    /// present and intact: its checksum is verified now, but it is not decompressed.
    pub fn check(&self, namespace: &str, key: &str) -> Option<EntryRef> {
        self.fetch_with(namespace, key, |_| Some(()))
            .map(|((), at)| at)
    }

    /// Finds and verifies a record, then makes `take` of its stored frame.
    fn fetch_with<T>(
        &self,
        namespace: &str,
        key: &str,
        take: impl FnOnce(&[u8]) -> Option<T>,
    ) -> Option<(T, EntryRef)> {
        let store = self.store.as_ref()?;
        let digest = key_digest(namespace, key);
        let written = lock(&store.new).entries.get(&digest).copied();
        let (at, found) = match written {
            Some(at) => (at, None),
            None => match store.found.get(&digest) {
                Some(found) => (found.at, Some(found)),
                None => {
                    self.counters.misses.fetch_add(1, Ordering::Relaxed);
                    return None;
                }
            },
        };
        let payload = store
            .read_record(at)
            .ok()
            .and_then(|record| take(verify(&record, Some(&digest))?));
        match payload {
            Some(payload) => {
                self.counters.hits.fetch_add(1, Ordering::Relaxed);
                if let Some(found) = found {
                    found.used.store(true, Ordering::Relaxed);
                }
                Some((payload, EntryRef(at)))
            }
            None => {
                // Cut short by a full disk, flipped by a bad sector, edited by hand: redo it.
                self.counters.corrupt.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// The payload of an entry this build found or stored, read again (and checked again):
    /// the build keeps where a body lies instead of a second copy of it.
    pub fn read(&self, entry: EntryRef) -> std::io::Result<Vec<u8>> {
        let store = self.store.as_ref().ok_or_else(cut_short)?;
        let record = store.read_record(entry.0)?;
        let frame = verify(&record, None).ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, "cache record damaged")
        })?;
        unseal(frame)
    }

    /// Stores `payload` under `namespace`/`key`. A failure to write only costs the next build
    /// the work again, so it is reported to the caller as an error to warn about, not to stop.
    /// Returns where it lies (`None` when caching is off).
    pub fn put(&self, namespace: &str, key: &str, payload: &[u8]) -> Result<Option<EntryRef>> {
        let Some(store) = &self.store else {
            return Ok(None);
        };
        let digest = key_digest(namespace, key);
        let frame = seal(payload)
            .map_err(|err| Error::Other(format!("cannot compress a cache entry: {err}")))?;
        let len = u32::try_from(frame.len())
            .map_err(|_| Error::Other("a cache entry over 4 GB is not kept".to_owned()))?;
        let mut record = Vec::with_capacity(RECORD_HEADER + frame.len());
        record.extend_from_slice(RECORD_MAGIC);
        record.extend_from_slice(&digest);
        record.extend_from_slice(&len.to_le_bytes());
        record.extend_from_slice(&Sha256::digest(&frame));
        record.extend_from_slice(&frame);
        drop(frame);
        let mut new = lock(&store.new);
        let offset = new.append(&store.dir, &record)?;
        let at = Location {
            pack: NEW_PACK,
            offset,
            len: record.len() as u32,
        };
        new.entries.insert(digest, at);
        self.counters.written.fetch_add(1, Ordering::Relaxed);
        Ok(Some(EntryRef(at)))
    }

    /// [`Cache::get`], decoded from JSON. An entry that no longer decodes (its type changed
    /// without a format bump) counts as damaged.
    pub fn get_json<T: DeserializeOwned>(&self, namespace: &str, key: &str) -> Option<T> {
        self.get_decoded(namespace, key, |bytes| serde_json::from_slice(bytes).ok())
    }

    /// [`Cache::get`], then `decode`; an entry that `decode` rejects counts as damaged and is
    /// dropped, like one that fails its checksum.
    pub fn get_decoded<T>(
        &self,
        namespace: &str,
        key: &str,
        decode: impl FnOnce(&[u8]) -> Option<T>,
    ) -> Option<T> {
        self.get_decoded_at(namespace, key, decode)
            .map(|(value, _)| value)
    }

    /// [`Cache::get_decoded`], and where the entry lies, for [`Cache::read`].
    pub fn get_decoded_at<T>(
        &self,
        namespace: &str,
        key: &str,
        decode: impl FnOnce(&[u8]) -> Option<T>,
    ) -> Option<(T, EntryRef)> {
        let (bytes, at) = self.fetch(namespace, key)?;
        match decode(&bytes) {
            Some(value) => Some((value, at)),
            None => {
                self.counters.hits.fetch_sub(1, Ordering::Relaxed);
                self.counters.corrupt.fetch_add(1, Ordering::Relaxed);
                if let Some(store) = &self.store {
                    let digest = key_digest(namespace, key);
                    lock(&store.new).entries.remove(&digest);
                    if let Some(found) = store.found.get(&digest) {
                        found.used.store(false, Ordering::Relaxed);
                    }
                }
                None
            }
        }
    }

    /// [`Cache::put`], encoded as JSON.
    pub fn put_json<T: Serialize>(&self, namespace: &str, key: &str, value: &T) -> Result<()> {
        if self.store.is_none() {
            return Ok(());
        }
        let bytes = serde_json::to_vec(value)
            .map_err(|err| Error::Other(format!("cannot encode a cache entry: {err}")))?;
        self.put(namespace, key, &bytes).map(drop)
    }

    /// Ends the build's use of the cache: keeps the entries this build read or wrote and drops
    /// the rest, moves the live records of a mostly dead pack into the new pack, writes the
    /// new index and deletes the packs it no longer names. Call once, after the last lookup;
    /// without it, the next build sees the cache as this one found it.
    pub fn commit(&self) -> Result<()> {
        let Some(store) = &self.store else {
            return Ok(());
        };
        let mut new = lock(&store.new);
        let mut live: HashMap<KeyDigest, Location> = HashMap::new();
        let mut live_bytes: HashMap<u32, u64> = HashMap::new();
        let mut pruned = 0;
        for (digest, found) in &store.found {
            if new.entries.contains_key(digest) {
                continue;
            }
            if found.used.load(Ordering::Relaxed) {
                live.insert(*digest, found.at);
                *live_bytes.entry(found.at.pack).or_default() += u64::from(found.at.len);
            } else {
                pruned += 1;
            }
        }
        self.counters.pruned.store(pruned, Ordering::Relaxed);
        // A pack mostly garbage is copied out, its live records first (in offset order, so
        // the copy reads it front to back).
        let mut doomed: Vec<u32> = Vec::new();
        for (&number, file) in &store.packs {
            let size = file.metadata().map_or(0, |m| m.len());
            if live_bytes.get(&number).copied().unwrap_or(0) * 2 < size {
                doomed.push(number);
            }
        }
        doomed.sort_unstable();
        let mut moving: Vec<(KeyDigest, Location)> = live
            .iter()
            .filter(|(_, at)| doomed.contains(&at.pack))
            .map(|(d, at)| (*d, *at))
            .collect();
        moving.sort_unstable_by_key(|(_, at)| (at.pack, at.offset));
        for (digest, at) in moving {
            let record = store.read_record(at).with_path(&store.dir)?;
            let offset = new.append(&store.dir, &record)?;
            live.insert(
                digest,
                Location {
                    pack: NEW_PACK,
                    offset,
                    ..at
                },
            );
        }
        let path = pack_path(&store.dir, new.number);
        if let Some(writer) = new.writer.as_mut() {
            writer.flush().with_path(&path)?;
        }
        let number = new.number;
        for (digest, at) in &new.entries {
            live.insert(
                *digest,
                Location {
                    pack: number,
                    ..*at
                },
            );
        }
        for at in live.values_mut() {
            if at.pack == NEW_PACK {
                at.pack = number;
            }
        }
        write_index(&store.dir.join(INDEX_FILE), &live)?;
        // Now that the index no longer names them: packs copied out, packs no entry lives
        // in any more, and packs of builds that stopped before their commit.
        let named: HashSet<u32> = live.values().map(|at| at.pack).collect();
        for pack in existing_packs(&store.dir)? {
            if !named.contains(&pack) {
                let path = pack_path(&store.dir, pack);
                std::fs::remove_file(&path).with_path(&path)?;
            }
        }
        Ok(())
    }

    /// What the cache did so far.
    pub fn stats(&self) -> CacheStats {
        let c = &self.counters;
        CacheStats {
            emptied_because: self.invalidated.clone(),
            hits: c.hits.load(Ordering::Relaxed),
            misses: c.misses.load(Ordering::Relaxed),
            corrupt: c.corrupt.load(Ordering::Relaxed),
            written: c.written.load(Ordering::Relaxed),
            pruned: c.pruned.load(Ordering::Relaxed),
        }
    }
}

impl NewPack {
    /// Appends a record to the pack (creating it first); returns where the record starts.
    fn append(&mut self, dir: &Path, record: &[u8]) -> Result<u64> {
        let path = pack_path(dir, self.number);
        if self.writer.is_none() {
            let file = File::create_new(&path).with_path(&path)?;
            self.reader = Some(file.try_clone().with_path(&path)?);
            self.writer = Some(std::io::BufWriter::with_capacity(1 << 20, file));
        }
        let offset = self.len;
        let writer = self.writer.as_mut().expect("created above");
        writer.write_all(record).with_path(&path)?;
        self.len += record.len() as u64;
        Ok(offset)
    }
}

impl Store {
    /// The bytes of the record at `at`.
    fn read_record(&self, at: Location) -> std::io::Result<Vec<u8>> {
        let mut bytes = vec![0u8; at.len as usize];
        if at.pack == NEW_PACK {
            let mut new = lock(&self.new);
            if let Some(writer) = new.writer.as_mut() {
                writer.flush()?;
            }
            let file = new.reader.as_ref().ok_or_else(cut_short)?;
            read_exact_at(file, &mut bytes, at.offset)?;
        } else {
            let file = self.packs.get(&at.pack).ok_or_else(cut_short)?;
            read_exact_at(file, &mut bytes, at.offset)?;
        }
        Ok(bytes)
    }
}

fn cut_short() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "cache record missing")
}

#[cfg(unix)]
pub(crate) fn read_exact_at(file: &File, bytes: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, bytes, offset)
}

#[cfg(windows)]
pub(crate) fn read_exact_at(
    file: &File,
    mut bytes: &mut [u8],
    mut offset: u64,
) -> std::io::Result<()> {
    while !bytes.is_empty() {
        match std::os::windows::fs::FileExt::seek_read(file, bytes, offset) {
            Ok(0) => return Err(cut_short()),
            Ok(n) => {
                bytes = &mut bytes[n..];
                offset += n as u64;
            }
            Err(err) => return Err(err),
        }
    }
    Ok(())
}

fn pack_path(dir: &Path, number: u32) -> PathBuf {
    dir.join(PACK_DIR).join(format!("{number}.pack"))
}

/// Numbers of the pack files in the cache, named or not.
fn existing_packs(dir: &Path) -> Result<Vec<u32>> {
    let pack_dir = dir.join(PACK_DIR);
    let mut numbers = Vec::new();
    let Ok(entries) = std::fs::read_dir(&pack_dir) else {
        return Ok(numbers);
    };
    for entry in entries {
        let name = entry.with_path(&pack_dir)?.file_name();
        let number = name
            .to_str()
            .and_then(|n| n.strip_suffix(".pack"))
            .and_then(|n| n.parse().ok());
        if let Some(number) = number {
            numbers.push(number);
        }
    }
    Ok(numbers)
}

/// The index at `path`: nothing if there is none yet, or why it cannot be trusted.
fn read_index(path: &Path) -> std::result::Result<HashMap<KeyDigest, Found>, String> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(HashMap::new()),
        Err(err) => return Err(format!("its index cannot be read ({err})")),
    };
    let damaged = || "its index is damaged".to_owned();
    let (body, sum) = bytes
        .split_at_checked(bytes.len().wrapping_sub(32))
        .ok_or_else(damaged)?;
    if Sha256::digest(body).as_slice() != sum {
        return Err(damaged());
    }
    let rest = body.strip_prefix(INDEX_MAGIC).ok_or_else(damaged)?;
    let (count, entries) = rest.split_first_chunk::<8>().ok_or_else(damaged)?;
    let count = u64::from_le_bytes(*count) as usize;
    if entries.len() != count.checked_mul(INDEX_ENTRY).ok_or_else(damaged)? {
        return Err(damaged());
    }
    let mut found = HashMap::with_capacity(count);
    for e in entries.chunks_exact(INDEX_ENTRY) {
        let at = Location {
            pack: u32::from_le_bytes(e[32..36].try_into().expect("4 bytes")),
            offset: u64::from_le_bytes(e[36..44].try_into().expect("8 bytes")),
            len: u32::from_le_bytes(e[44..48].try_into().expect("4 bytes")),
        };
        let digest: KeyDigest = e[..32].try_into().expect("32 bytes");
        found.insert(
            digest,
            Found {
                at,
                used: AtomicBool::new(false),
            },
        );
    }
    Ok(found)
}

/// Writes the index (sorted, so the same entries give the same file).
fn write_index(path: &Path, live: &HashMap<KeyDigest, Location>) -> Result<()> {
    let mut entries: Vec<(&KeyDigest, &Location)> = live.iter().collect();
    entries.sort_unstable_by_key(|(digest, _)| **digest);
    let mut bytes = Vec::with_capacity(INDEX_MAGIC.len() + 8 + entries.len() * INDEX_ENTRY + 32);
    bytes.extend_from_slice(INDEX_MAGIC);
    bytes.extend_from_slice(&(entries.len() as u64).to_le_bytes());
    for (digest, at) in entries {
        bytes.extend_from_slice(digest);
        bytes.extend_from_slice(&at.pack.to_le_bytes());
        bytes.extend_from_slice(&at.offset.to_le_bytes());
        bytes.extend_from_slice(&at.len.to_le_bytes());
    }
    let sum = Sha256::digest(&bytes);
    bytes.extend_from_slice(&sum);
    write_atomic(path, &bytes)
}

fn key_digest(namespace: &str, key: &str) -> KeyDigest {
    let mut hasher = Sha256::new();
    hasher.update(namespace.as_bytes());
    hasher.update([0]);
    hasher.update(key.as_bytes());
    hasher.finalize().into()
}

/// The stored bytes of an intact record (of `digest`, if given).
fn verify<'r>(record: &'r [u8], digest: Option<&KeyDigest>) -> Option<&'r [u8]> {
    let rest = record.strip_prefix(RECORD_MAGIC)?;
    let (key, rest) = rest.split_first_chunk::<32>()?;
    let (len, rest) = rest.split_first_chunk::<4>()?;
    let (sum, frame) = rest.split_first_chunk::<32>()?;
    (digest.is_none_or(|d| d == key)
        && frame.len() == u32::from_le_bytes(*len) as usize
        && Sha256::digest(frame).as_slice() == sum)
        .then_some(frame)
}

/// Namespace of extracted bodies ([`encode_body`]).
pub const EXTRACT: &str = "extract";
/// Namespace of extraction results without their bodies ([`encode_outcome`]): a rebuild
/// reads these for every unchanged file, and bodies only for the pages it renders.
pub const EXTRACT_META: &str = "extract-meta";

/// How the build's own code is identified in the cache's fingerprint: the version, and the
/// running executable's size and modification time, so a rebuilt binary (a development build,
/// a reinstall) never reads entries an older build of the same version made.
pub fn code_identity() -> String {
    let exe = std::env::current_exe()
        .and_then(std::fs::metadata)
        .map(|m| {
            let modified = m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            format!("{} {modified}", m.len())
        })
        .unwrap_or_default();
    format!("leakpress {} ({exe})", env!("CARGO_PKG_VERSION"))
}

/// The cached form of one file's extraction without its body, as JSON: the metadata, and
/// what the document needs of its body before the page renders (the start of the text, for
/// a document without a summary, and whether derived files come with it).
#[derive(Serialize, serde::Deserialize)]
struct ExtractEntry {
    kind: String,
    title: Option<String>,
    /// Seconds and nanoseconds since the epoch of the naive date-time, and whether it had a time.
    date: Option<(i64, u32, bool)>,
    tags: Vec<String>,
    summary: Option<String>,
    slug: Option<String>,
    extra: Vec<(String, String)>,
    facts: Vec<(String, String)>,
    warnings: Vec<String>,
    mail_ids: Option<(Option<String>, Vec<String>, Vec<String>)>,
    text_start: String,
    derived: bool,
    /// The body is not stored: it is made again from the file.
    remade: bool,
}

/// An extraction result read back without its body: the body's fields are empty.
pub struct CachedOutcome {
    /// The result, its body fields empty.
    pub outcome: crate::extract::Outcome,
    /// The text's first [`crate::SUMMARY_CHARS`] characters, as [`crate::document::excerpt`]
    /// cut them.
    pub text_start: String,
    /// Whether the body carries derived files.
    pub derived: bool,
    /// Whether the body is not stored but made again from the file.
    pub remade: bool,
}

/// Encodes an extraction result's metadata for [`Cache::put`] under [`EXTRACT_META`];
/// `remade` when its body is not stored but made again from the file.
pub fn encode_outcome(outcome: &crate::extract::Outcome, remade: bool) -> Vec<u8> {
    let x = &outcome.extracted;
    let entry = ExtractEntry {
        kind: outcome.kind.to_owned(),
        title: x.meta.title.clone(),
        date: x.meta.date.map(|d| {
            let utc = d.datetime.and_utc();
            (utc.timestamp(), utc.timestamp_subsec_nanos(), d.has_time)
        }),
        tags: x.meta.tags.clone(),
        summary: x.meta.summary.clone(),
        slug: x.meta.slug.clone(),
        extra: x.meta.extra.clone(),
        facts: x.facts.clone(),
        warnings: x.warnings.clone(),
        mail_ids: x.mail_ids.as_ref().map(|m| {
            (
                m.message_id.clone(),
                m.parents.clone(),
                m.in_mailbox.clone(),
            )
        }),
        text_start: crate::document::excerpt(&x.text, crate::SUMMARY_CHARS),
        derived: !x.derived.is_empty(),
        remade,
    };
    serde_json::to_vec(&entry).expect("plain data always encodes")
}

/// Encodes an extraction result's body for [`Cache::put`] under [`EXTRACT`], as
/// [`crate::document::Body::encode_parts`] lays it out (lengths, then bytes: the HTML, the
/// text, the derived files).
pub fn encode_body(outcome: &crate::extract::Outcome) -> Vec<u8> {
    let x = &outcome.extracted;
    let mut bytes = Vec::new();
    crate::document::Body::encode_parts(&x.body_html, &x.text, &x.derived, &mut bytes);
    bytes
}

/// The body [`encode_body`] wrote.
pub fn body_of(bytes: &[u8]) -> std::io::Result<crate::document::Body> {
    crate::document::Body::decode(bytes)
}

/// Decodes what [`encode_outcome`] wrote; `None` if it does not fit (a damaged or foreign
/// entry), or names a format `extractors` does not have.
pub fn decode_outcome(
    bytes: &[u8],
    extractors: &[Box<dyn crate::extract::Extractor>],
) -> Option<CachedOutcome> {
    use crate::extract::{Extracted, MailIds, Metadata, Outcome};
    let entry: ExtractEntry = serde_json::from_slice(bytes).ok()?;
    let kind = extractors
        .iter()
        .map(|e| e.name())
        .find(|name| *name == entry.kind)?;
    let date = match entry.date {
        Some((secs, nanos, has_time)) => Some(crate::dates::DocDate {
            datetime: chrono::DateTime::from_timestamp(secs, nanos)?.naive_utc(),
            has_time,
        }),
        None => None,
    };
    let outcome = Outcome {
        kind,
        extracted: Extracted {
            meta: Metadata {
                title: entry.title,
                date,
                tags: entry.tags,
                summary: entry.summary,
                slug: entry.slug,
                extra: entry.extra,
            },
            body_html: String::new(),
            text: String::new(),
            facts: entry.facts,
            derived: Vec::new(),
            warnings: entry.warnings,
            mail_ids: entry
                .mail_ids
                .map(|(message_id, parents, in_mailbox)| MailIds {
                    message_id,
                    parents,
                    in_mailbox,
                }),
            transient: false,
        },
    };
    Some(CachedOutcome {
        outcome,
        text_start: entry.text_start,
        derived: entry.derived,
        remade: entry.remade,
    })
}

/// A cache key: the hex SHA-256 of `parts`, each length-prefixed so no two part lists collide.
pub fn key<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    hex::encode(hasher.finalize())
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_path(parent)?;
    }
    // Unique per thread and process, so concurrent writers of one key never share a file.
    let tmp = path.with_extension(format!(
        "tmp-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::write(&tmp, bytes).with_path(&tmp)?;
    std::fs::rename(&tmp, path).with_path(path)
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(s: &str) -> String {
        key([s.as_bytes()])
    }

    /// The one pack file of the cache at `dir`.
    fn only_pack(dir: &Path) -> PathBuf {
        let packs = existing_packs(dir).unwrap();
        assert_eq!(packs.len(), 1, "{packs:?}");
        pack_path(dir, packs[0])
    }

    #[test]
    fn stores_and_finds_entries_across_opens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache");
        let cache = Cache::open(&path, "fp").unwrap();
        assert_eq!(cache.get("extract", &k("a")), None);
        cache.put("extract", &k("a"), b"payload").unwrap();
        cache.put("pages", &k("a"), b"another namespace").unwrap();
        assert_eq!(
            cache.get("extract", &k("a")).as_deref(),
            Some(&b"payload"[..])
        );
        cache.commit().unwrap();
        drop(cache);
        let again = Cache::open(&path, "fp").unwrap();
        assert_eq!(again.invalidated(), None);
        assert_eq!(
            again.get("extract", &k("a")).as_deref(),
            Some(&b"payload"[..])
        );
        assert_eq!(
            again.get("pages", &k("a")).as_deref(),
            Some(&b"another namespace"[..])
        );
        assert_eq!(
            again.stats(),
            CacheStats {
                hits: 2,
                ..CacheStats::default()
            }
        );
        drop(again);
        assert_eq!(
            Cache::open(&path, "fp2")
                .unwrap()
                .stats()
                .emptied_because
                .as_deref(),
            Some("the leakpress version, configuration or theme changed")
        );
        assert!(path.join(CACHEDIR_TAG).exists());
    }

    #[test]
    fn a_build_that_does_not_commit_leaves_the_cache_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let first = Cache::open(dir.path(), "fp").unwrap();
        first.put("extract", &k("kept"), b"1").unwrap();
        first.commit().unwrap();
        drop(first);
        let killed = Cache::open(dir.path(), "fp").unwrap();
        killed.put("extract", &k("lost"), b"2").unwrap();
        // Its pack is written (flushed by a read), but no index names it.
        assert!(killed.get("extract", &k("lost")).is_some());
        drop(killed);
        let next = Cache::open(dir.path(), "fp").unwrap();
        assert_eq!(next.get("extract", &k("lost")), None);
        assert!(next.get("extract", &k("kept")).is_some());
        next.commit().unwrap();
        assert_eq!(
            existing_packs(dir.path()).unwrap().len(),
            1,
            "the orphan pack stays"
        );
    }

    #[test]
    fn entries_are_read_again_where_they_lie() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path(), "fp").unwrap();
        let new = cache
            .put("extract", &k("a"), b"written now")
            .unwrap()
            .unwrap();
        assert_eq!(cache.read(new).unwrap(), b"written now");
        cache.commit().unwrap();
        drop(cache);
        let cache = Cache::open(dir.path(), "fp").unwrap();
        let (value, old) = cache
            .get_decoded_at("extract", &k("a"), |b| Some(b.to_vec()))
            .unwrap();
        assert_eq!(cache.read(old).unwrap(), value);
        drop(cache);
        // Damaged since it was found: an error, not other bytes.
        let pack = only_pack(dir.path());
        let mut bytes = std::fs::read(&pack).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&pack, bytes).unwrap();
        let cache = Cache::open(dir.path(), "fp").unwrap();
        assert!(cache.read(old).is_err());
        assert!(Cache::disabled().read(old).is_err());
    }

    #[test]
    fn one_build_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let first = Cache::open(dir.path(), "fp").unwrap();
        let err = Cache::open(dir.path(), "fp").err().unwrap();
        assert!(err.to_string().contains("in use"), "{err}");
        drop(first);
        assert!(Cache::open(dir.path(), "fp").is_ok());
    }

    #[test]
    fn entries_are_stored_compressed() {
        // Past SMALL_PAYLOAD (zstd) and below it (LZ4).
        for copies in [2_000, 200] {
            let dir = tempfile::tempdir().unwrap();
            let cache = Cache::open(dir.path(), "fp").unwrap();
            let payload = "<p>the same leaked memo, again and again</p>".repeat(copies);
            cache
                .put("extract", &k("memo"), payload.as_bytes())
                .unwrap();
            cache.commit().unwrap();
            let stored = std::fs::metadata(only_pack(dir.path())).unwrap().len();
            assert!(stored * 10 < payload.len() as u64, "{stored} bytes stored");
            assert_eq!(
                cache.get("extract", &k("memo")).as_deref(),
                Some(payload.as_bytes())
            );
        }
    }

    #[test]
    fn another_fingerprint_empties_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path(), "version 1").unwrap();
        cache.put("pages", &k("a"), b"x").unwrap();
        cache.commit().unwrap();
        drop(cache);
        let other = Cache::open(dir.path(), "version 2").unwrap();
        assert!(other.invalidated().unwrap().contains("changed"));
        assert_eq!(other.get("pages", &k("a")), None);
        assert!(existing_packs(dir.path()).unwrap().is_empty());
    }

    #[test]
    fn damaged_records_are_detected_not_trusted() {
        type Damage = Box<dyn Fn(&mut Vec<u8>, usize)>;
        let cases: Vec<(&str, Damage)> = vec![
            ("flipped", Box::new(|b, at| b[at + RECORD_HEADER + 2] ^= 1)),
            ("header", Box::new(|b, at| b[at] = b'X')),
            // The record of another key where this one should be.
            ("misplaced", Box::new(|b, at| b[at + 4] ^= 1)),
            ("length", Box::new(|b, at| b[at + 36] ^= 1)),
            (
                // Checksummed, but not compressed bytes: the checksum alone would pass it.
                "resealed",
                Box::new(|b, at| {
                    let frame = &mut b[at + RECORD_HEADER..];
                    frame.fill(b'z');
                    let sum = Sha256::digest(&*frame);
                    b[at + 40..at + 72].copy_from_slice(&sum);
                }),
            ),
            (
                // Tagged as LZ4, with a length no small payload has, or garbled.
                "resealed as LZ4",
                Box::new(|b, at| {
                    b[at + RECORD_HEADER + 1..].fill(b'z');
                    let sum = Sha256::digest(&b[at + RECORD_HEADER..]);
                    b[at + 40..at + 72].copy_from_slice(&sum);
                }),
            ),
            (
                "garbled LZ4",
                Box::new(|b, at| {
                    b[at + RECORD_HEADER + 5..].fill(0xff);
                    let sum = Sha256::digest(&b[at + RECORD_HEADER..]);
                    b[at + 40..at + 72].copy_from_slice(&sum);
                }),
            ),
            ("truncated", Box::new(|b, at| b.truncate(at + 50))),
        ];
        for (name, damage) in cases {
            let dir = tempfile::tempdir().unwrap();
            let cache = Cache::open(dir.path(), "fp").unwrap();
            cache
                .put("extract", &k("before"), b"an intact neighbour")
                .unwrap();
            cache
                .put("extract", &k(name), b"some payload bytes, long enough")
                .unwrap();
            cache.commit().unwrap();
            drop(cache);
            let pack = only_pack(dir.path());
            let mut bytes = std::fs::read(&pack).unwrap();
            let second = bytes.windows(4).rposition(|w| w == RECORD_MAGIC).unwrap();
            damage(&mut bytes, second);
            std::fs::write(&pack, bytes).unwrap();
            let cache = Cache::open(dir.path(), "fp").unwrap();
            assert_eq!(cache.get("extract", &k(name)), None, "{name} entry trusted");
            assert!(cache.get("extract", &k("before")).is_some(), "{name}");
            assert_eq!(cache.stats().corrupt, 1, "{name}");
            // Redone, it is found again by the next build.
            cache.put("extract", &k(name), b"redone").unwrap();
            cache.commit().unwrap();
            drop(cache);
            let cache = Cache::open(dir.path(), "fp").unwrap();
            assert_eq!(
                cache.get("extract", &k(name)).as_deref(),
                Some(&b"redone"[..])
            );
        }
    }

    #[test]
    fn damaged_stamps_and_indexes_empty_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let fill = || {
            let cache = Cache::open(dir.path(), "fp").unwrap();
            cache.put("extract", &k("a"), b"x").unwrap();
            cache.commit().unwrap();
        };
        fill();
        std::fs::write(dir.path().join(STAMP_FILE), "garbage").unwrap();
        let reopened = Cache::open(dir.path(), "fp").unwrap();
        assert!(reopened.invalidated().unwrap().contains("damaged"));
        drop(reopened);

        fill();
        let index = dir.path().join(INDEX_FILE);
        let mut bytes = std::fs::read(&index).unwrap();
        bytes[INDEX_MAGIC.len() + 8 + 33] ^= 1;
        std::fs::write(&index, bytes).unwrap();
        let reopened = Cache::open(dir.path(), "fp").unwrap();
        assert_eq!(reopened.invalidated(), Some("its index is damaged"));
        assert_eq!(reopened.get("extract", &k("a")), None);
        assert!(existing_packs(dir.path()).unwrap().is_empty());
    }

    #[test]
    fn json_entries_that_no_longer_decode_count_as_damaged() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path(), "fp").unwrap();
        cache.put_json("extract", &k("v"), &vec![1, 2, 3]).unwrap();
        assert_eq!(
            cache.get_json::<Vec<u32>>("extract", &k("v")),
            Some(vec![1, 2, 3])
        );
        assert_eq!(cache.get_json::<String>("extract", &k("v")), None);
        assert_eq!(cache.stats().corrupt, 1);
    }

    #[test]
    fn commit_keeps_only_what_this_build_used_and_compacts_dead_packs() {
        let dir = tempfile::tempdir().unwrap();
        let first = Cache::open(dir.path(), "fp").unwrap();
        first.put("pages", &k("kept"), b"1").unwrap();
        for i in 0..20 {
            first
                .put("pages", &k(&format!("dropped {i}")), &[i; 100])
                .unwrap();
        }
        first.commit().unwrap();
        drop(first);
        let old_pack = only_pack(dir.path());
        // Left by a build that stopped before its commit.
        std::fs::write(pack_path(dir.path(), 1000), b"LPR3 half a record").unwrap();
        let second = Cache::open(dir.path(), "fp").unwrap();
        assert!(second.get("pages", &k("kept")).is_some());
        second.commit().unwrap();
        assert_eq!(second.stats().pruned, 20);
        drop(second);
        // The old pack was mostly dead: its live record moved to a new one, and the orphan
        // went with it.
        let new_pack = only_pack(dir.path());
        assert_ne!(new_pack, old_pack);
        let third = Cache::open(dir.path(), "fp").unwrap();
        assert_eq!(third.get("pages", &k("kept")).as_deref(), Some(&b"1"[..]));
        assert!(third.get("pages", &k("dropped 3")).is_none());
        third.commit().unwrap();
        assert_eq!(only_pack(dir.path()), new_pack, "a live pack stays put");
    }

    #[test]
    fn a_foreign_folder_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("thesis.tex"), b"precious").unwrap();
        let err = Cache::open(dir.path(), "fp").err().unwrap();
        assert!(err.to_string().contains("refusing"), "{err}");
        assert!(dir.path().join("thesis.tex").exists());
    }

    #[test]
    fn disabled_cache_stores_nothing() {
        let cache = Cache::disabled();
        cache.put("pages", &k("a"), b"x").unwrap();
        assert_eq!(cache.get("pages", &k("a")), None);
        assert!(!cache.is_enabled());
        cache.commit().unwrap();
    }

    #[test]
    fn extraction_results_round_trip_byte_for_byte() {
        use crate::extract::{DerivedFile, Extracted, MailIds, Metadata, Outcome, registry};
        let extractors = registry();
        let date = crate::dates::DocDate {
            datetime: chrono::NaiveDate::from_ymd_opt(2020, 5, 31)
                .unwrap()
                .and_hms_nano_opt(14, 30, 1, 5)
                .unwrap(),
            has_time: true,
        };
        let outcome = Outcome {
            kind: extractors[4].name(),
            extracted: Extracted {
                meta: Metadata {
                    title: Some("Tïtle\nwith a line".into()),
                    date: Some(date),
                    tags: vec!["a".into(), "b".into()],
                    summary: None,
                    slug: Some("s".into()),
                    extra: vec![("k".into(), "v".into())],
                },
                body_html: "<p>body</p>".into(),
                text: "body".into(),
                facts: vec![("Pages".into(), "3".into())],
                derived: vec![
                    DerivedFile {
                        name: "thumb.webp".into(),
                        bytes: vec![0, 10, 255, 10],
                    },
                    DerivedFile {
                        name: "empty".into(),
                        bytes: Vec::new(),
                    },
                ],
                warnings: vec!["w".into()],
                mail_ids: Some(MailIds {
                    message_id: Some("m@x".into()),
                    parents: vec!["p@x".into()],
                    in_mailbox: Vec::new(),
                }),
                transient: false,
            },
        };
        let bytes = encode_outcome(&outcome, false);
        let back = decode_outcome(&bytes, &extractors).expect("decodes");
        let body = body_of(&encode_body(&outcome)).expect("the body decodes");
        assert_eq!(
            (body.html.as_str(), body.text.as_str(), body.derived.len()),
            ("<p>body</p>", "body", 2)
        );
        assert_eq!((back.text_start.as_str(), back.derived), ("body", true));
        // The metadata comes back whole, the body's fields empty.
        let mut expected = outcome;
        expected.extracted.body_html.clear();
        expected.extracted.text.clear();
        expected.extracted.derived.clear();
        assert_eq!(format!("{:?}", back.outcome), format!("{expected:?}"));
        assert!(decode_outcome(&bytes[..bytes.len() - 1], &extractors).is_none());
        assert!(decode_outcome(&[bytes.as_slice(), b"x"].concat(), &extractors).is_none());
    }

    #[test]
    fn keys_separate_their_parts() {
        assert_ne!(key([&b"ab"[..], b"c"]), key([&b"a"[..], b"bc"]));
        assert_eq!(key([&b"ab"[..]]).len(), 64);
    }
}
