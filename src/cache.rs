//! The incremental cache: results of expensive per-file work kept between builds, outside the
//! output folder, so a rebuild after a small change redoes only what the change touched.
//!
//! Invariants:
//! - **Never trusted blindly.** Every entry carries the SHA-256 of its stored bytes, checked on each
//!   read; a damaged entry is deleted, counted in [`CacheStats::corrupt`], and the work is done
//!   again. A damaged or foreign stamp empties the whole cache.
//! - **Keyed by content.** A key is a hash of everything that determines the value (the input
//!   bytes, the options that reach it); the cache as a whole is stamped with a fingerprint of
//!   what reaches every entry (the leakpress version, the configuration, the theme). A build
//!   with another fingerprint starts from an empty cache.
//! - **Crash-safe.** An entry is written to a temporary file and renamed into place, so a killed
//!   build leaves whole entries or none.
//! - **Bounded.** [`Cache::prune`] removes every entry the build did not use, so the cache holds
//!   one build's working set, not the history of every build.
//! - **Deterministic output.** The cache only ever stands in for work whose result it stores
//!   byte for byte; a build with a cold cache, a warm one or none writes the same site.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result, ResultExt};

/// The stamp file: names the cache format and the fingerprint its entries were made under.
const STAMP_FILE: &str = "leakpress-cache";
/// Format of the stamp and of entries; bump when either changes.
const FORMAT: &str = "leakpress-cache v2";
/// Written so backup and archiving tools skip the folder (<https://bford.info/cachedir/>).
const CACHEDIR_TAG: &str = "CACHEDIR.TAG";
const CACHEDIR_TAG_BODY: &str = "Signature: 8a477f597d28d172789f06886806bc55\n\
    # This file marks a cache folder made by leakpress (https://github.com/leakpress).\n\
    # It can be deleted at any time; the next build makes it again.\n";
/// First line of every entry; the SHA-256 of the stored bytes follows on the second, then the
/// payload as one zstd frame (v2): an extraction entry holds a body's HTML and its text, and
/// 50,000 of them took 2.0 GB uncompressed.
const ENTRY_MAGIC: &[u8] = b"LPC2\n";

/// What the cache did during one build, for the build report and `--timings`.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct CacheStats {
    /// Why an earlier build's entries were thrown away when the cache was opened, if they were.
    pub emptied_because: Option<String>,
    /// Entries found and intact.
    pub hits: usize,
    /// Entries looked for and absent.
    pub misses: usize,
    /// Entries found damaged, deleted and redone.
    pub corrupt: usize,
    /// Entries written.
    pub written: usize,
    /// Entries removed by [`Cache::prune`] because this build did not use them.
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

/// A folder of content-addressed entries, shared by the build's threads (`Sync`).
pub struct Cache {
    /// `None`: caching is off and every lookup misses.
    dir: Option<PathBuf>,
    /// Entry paths (relative to `dir`) read or written by this build, kept by `prune`.
    used: Mutex<HashSet<PathBuf>>,
    counters: Counters,
    /// Why the entries of an earlier build were thrown away, if they were.
    invalidated: Option<String>,
}

impl Cache {
    /// A cache that stores nothing: every lookup misses, every store is dropped.
    pub fn disabled() -> Cache {
        Cache {
            dir: None,
            used: Mutex::default(),
            counters: Counters::default(),
            invalidated: None,
        }
    }

    /// Opens (or creates) the cache at `dir` for a build whose fingerprint is `fingerprint`.
    /// Entries made under another fingerprint, or under a stamp that cannot be read, are
    /// removed first. A non-empty folder that is not a leakpress cache is refused, never
    /// emptied.
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
                    std::fs::remove_dir_all(dir).with_path(dir)?;
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
        if invalidated.is_some() || !stamp_path.exists() {
            write_atomic(&dir.join(CACHEDIR_TAG), CACHEDIR_TAG_BODY.as_bytes())?;
            write_atomic(&stamp_path, wanted.as_bytes())?;
        }
        Ok(Cache {
            dir: Some(dir.to_path_buf()),
            used: Mutex::default(),
            counters: Counters::default(),
            invalidated,
        })
    }

    /// Whether entries are kept at all.
    pub fn is_enabled(&self) -> bool {
        self.dir.is_some()
    }

    /// Why an earlier build's entries were discarded when the cache was opened, if they were.
    pub fn invalidated(&self) -> Option<&str> {
        self.invalidated.as_deref()
    }

    /// The payload stored under `namespace`/`key`, if present and intact.
    pub fn get(&self, namespace: &str, key: &str) -> Option<Vec<u8>> {
        let dir = self.dir.as_ref()?;
        let rel = entry_path(namespace, key);
        let path = dir.join(&rel);
        let Ok(bytes) = std::fs::read(&path) else {
            self.counters.misses.fetch_add(1, Ordering::Relaxed);
            return None;
        };
        match verify(&bytes).and_then(|frame| crate::spill::decompress(frame).ok()) {
            Some(payload) => {
                self.counters.hits.fetch_add(1, Ordering::Relaxed);
                lock(&self.used).insert(rel);
                Some(payload)
            }
            None => {
                // Truncated by a full disk, flipped by a bad sector, edited by hand: redo it.
                self.counters.corrupt.fetch_add(1, Ordering::Relaxed);
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }

    /// Stores `payload` under `namespace`/`key`. A failure to write only costs the next build
    /// the work again, so it is reported to the caller as an error to warn about, not to stop.
    pub fn put(&self, namespace: &str, key: &str, payload: &[u8]) -> Result<()> {
        let Some(dir) = &self.dir else {
            return Ok(());
        };
        let rel = entry_path(namespace, key);
        let frame = crate::spill::compress(payload)
            .map_err(|err| Error::Other(format!("cannot compress a cache entry: {err}")))?;
        let mut bytes = Vec::with_capacity(ENTRY_MAGIC.len() + 65 + frame.len());
        bytes.extend_from_slice(ENTRY_MAGIC);
        bytes.extend_from_slice(sha256_hex(&frame).as_bytes());
        bytes.push(b'\n');
        bytes.extend_from_slice(&frame);
        write_atomic(&dir.join(&rel), &bytes)?;
        self.counters.written.fetch_add(1, Ordering::Relaxed);
        lock(&self.used).insert(rel);
        Ok(())
    }

    /// [`Cache::get`], decoded from JSON. An entry that no longer decodes (its type changed
    /// without a format bump) counts as damaged.
    pub fn get_json<T: DeserializeOwned>(&self, namespace: &str, key: &str) -> Option<T> {
        self.get_decoded(namespace, key, |bytes| serde_json::from_slice(bytes).ok())
    }

    /// [`Cache::get`], then `decode`; an entry that `decode` rejects counts as damaged and is
    /// deleted, like one that fails its checksum.
    pub fn get_decoded<T>(
        &self,
        namespace: &str,
        key: &str,
        decode: impl FnOnce(&[u8]) -> Option<T>,
    ) -> Option<T> {
        let bytes = self.get(namespace, key)?;
        match decode(&bytes) {
            Some(value) => Some(value),
            None => {
                self.counters.hits.fetch_sub(1, Ordering::Relaxed);
                self.counters.corrupt.fetch_add(1, Ordering::Relaxed);
                if let Some(dir) = &self.dir {
                    let rel = entry_path(namespace, key);
                    lock(&self.used).remove(&rel);
                    let _ = std::fs::remove_file(dir.join(rel));
                }
                None
            }
        }
    }

    /// [`Cache::put`], encoded as JSON.
    pub fn put_json<T: Serialize>(&self, namespace: &str, key: &str, value: &T) -> Result<()> {
        if self.dir.is_none() {
            return Ok(());
        }
        let bytes = serde_json::to_vec(value)
            .map_err(|err| Error::Other(format!("cannot encode a cache entry: {err}")))?;
        self.put(namespace, key, &bytes)
    }

    /// Removes every entry this build neither read nor wrote, and any temporary file a killed
    /// build left behind. Call once, after the last lookup.
    pub fn prune(&self) -> Result<()> {
        let Some(dir) = &self.dir else {
            return Ok(());
        };
        let used = lock(&self.used);
        for entry in walkdir::WalkDir::new(dir).min_depth(1) {
            let entry =
                entry.map_err(|err| Error::Other(format!("cannot read the cache: {err}")))?;
            if !entry.file_type().is_file() {
                continue;
            }
            let rel = entry.path().strip_prefix(dir).unwrap_or(entry.path());
            let top_level = rel.components().count() == 1;
            if top_level && (rel == Path::new(STAMP_FILE) || rel == Path::new(CACHEDIR_TAG)) {
                continue;
            }
            if !used.contains(rel) {
                std::fs::remove_file(entry.path()).with_path(entry.path())?;
                self.counters.pruned.fetch_add(1, Ordering::Relaxed);
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

/// Namespace of extraction results.
pub const EXTRACT: &str = "extract";

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

/// The cached form of one file's extraction: a JSON line with everything but the derived
/// files' bytes, then those bytes one after another (thumbnails would triple in size as JSON).
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
    body_html: String,
    text: String,
    facts: Vec<(String, String)>,
    warnings: Vec<String>,
    mail_ids: Option<(Option<String>, Vec<String>, Vec<String>)>,
    /// Derived files: name and byte length, in order.
    derived: Vec<(String, usize)>,
}

/// Encodes an extraction result for [`Cache::put`].
pub fn encode_outcome(outcome: &crate::extract::Outcome) -> Vec<u8> {
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
        body_html: x.body_html.clone(),
        text: x.text.clone(),
        facts: x.facts.clone(),
        warnings: x.warnings.clone(),
        mail_ids: x.mail_ids.as_ref().map(|m| {
            (
                m.message_id.clone(),
                m.parents.clone(),
                m.in_mailbox.clone(),
            )
        }),
        derived: x
            .derived
            .iter()
            .map(|f| (f.name.clone(), f.bytes.len()))
            .collect(),
    };
    let mut bytes = serde_json::to_vec(&entry).expect("plain data always encodes");
    bytes.push(b'\n');
    for file in &x.derived {
        bytes.extend_from_slice(&file.bytes);
    }
    bytes
}

/// Decodes what [`encode_outcome`] wrote; `None` if it does not fit (a damaged or foreign
/// entry), or names a format `extractors` does not have.
pub fn decode_outcome(
    bytes: &[u8],
    extractors: &[Box<dyn crate::extract::Extractor>],
) -> Option<crate::extract::Outcome> {
    use crate::extract::{DerivedFile, Extracted, MailIds, Metadata, Outcome};
    let split = bytes.iter().position(|&b| b == b'\n')?;
    let entry: ExtractEntry = serde_json::from_slice(&bytes[..split]).ok()?;
    let kind = extractors
        .iter()
        .map(|e| e.name())
        .find(|name| *name == entry.kind)?;
    let mut rest = &bytes[split + 1..];
    let mut derived = Vec::with_capacity(entry.derived.len());
    for (name, len) in entry.derived {
        if rest.len() < len {
            return None;
        }
        let (data, tail) = rest.split_at(len);
        derived.push(DerivedFile {
            name,
            bytes: data.to_vec(),
        });
        rest = tail;
    }
    if !rest.is_empty() {
        return None;
    }
    let date = match entry.date {
        Some((secs, nanos, has_time)) => Some(crate::dates::DocDate {
            datetime: chrono::DateTime::from_timestamp(secs, nanos)?.naive_utc(),
            has_time,
        }),
        None => None,
    };
    Some(Outcome {
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
            body_html: entry.body_html,
            text: entry.text,
            facts: entry.facts,
            derived,
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

/// `<namespace>/<first two hex digits>/<key>`: a fan-out that keeps folders small at 1M entries.
fn entry_path(namespace: &str, key: &str) -> PathBuf {
    debug_assert!(
        namespace
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'-')
            && key.len() > 2
            && key.bytes().all(|b| b.is_ascii_hexdigit()),
        "cache namespace {namespace:?} and key {key:?} must be plain"
    );
    PathBuf::from(namespace).join(&key[..2]).join(key)
}

/// The stored bytes of an intact entry.
fn verify(bytes: &[u8]) -> Option<&[u8]> {
    let rest = bytes.strip_prefix(ENTRY_MAGIC)?;
    let (hash, payload) = (rest.get(..64)?, rest.get(65..)?);
    (rest.get(64) == Some(&b'\n') && hash == sha256_hex(payload).as_bytes()).then_some(payload)
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

    #[test]
    fn stores_and_finds_entries_across_opens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache");
        let cache = Cache::open(&path, "fp").unwrap();
        assert_eq!(cache.get("extract", &k("a")), None);
        cache.put("extract", &k("a"), b"payload").unwrap();
        assert_eq!(
            cache.get("extract", &k("a")).as_deref(),
            Some(&b"payload"[..])
        );
        let again = Cache::open(&path, "fp").unwrap();
        assert_eq!(again.invalidated(), None);
        assert_eq!(
            again.get("extract", &k("a")).as_deref(),
            Some(&b"payload"[..])
        );
        assert_eq!(
            again.stats(),
            CacheStats {
                hits: 1,
                ..CacheStats::default()
            }
        );
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
    fn entries_are_stored_compressed() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path(), "fp").unwrap();
        let payload = "<p>the same leaked memo, again and again</p>".repeat(2_000);
        cache.put("extract", &k("big"), payload.as_bytes()).unwrap();
        let stored = std::fs::metadata(dir.path().join(entry_path("extract", &k("big"))))
            .unwrap()
            .len();
        assert!(stored * 10 < payload.len() as u64, "{stored} bytes stored");
        assert_eq!(
            cache.get("extract", &k("big")).as_deref(),
            Some(payload.as_bytes())
        );
    }

    #[test]
    fn another_fingerprint_empties_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path(), "version 1").unwrap();
        cache.put("pages", &k("a"), b"x").unwrap();
        let other = Cache::open(dir.path(), "version 2").unwrap();
        assert!(other.invalidated().unwrap().contains("changed"));
        assert_eq!(other.get("pages", &k("a")), None);
    }

    #[test]
    fn damaged_entries_and_stamps_are_detected_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path(), "fp").unwrap();
        for (name, damage) in [
            (
                "flipped",
                Box::new(|b: &mut Vec<u8>| *b.last_mut().unwrap() ^= 1)
                    as Box<dyn Fn(&mut Vec<u8>)>,
            ),
            (
                "truncated",
                Box::new(|b: &mut Vec<u8>| b.truncate(b.len() - 3)),
            ),
            ("empty", Box::new(|b: &mut Vec<u8>| b.clear())),
            (
                // Checksummed, but not a zstd frame: the checksum alone would pass it.
                "resealed",
                Box::new(|b: &mut Vec<u8>| {
                    let garbage = b"not a frame".to_vec();
                    *b = [
                        ENTRY_MAGIC,
                        sha256_hex(&garbage).as_bytes(),
                        b"\n",
                        &garbage,
                    ]
                    .concat();
                }),
            ),
        ] {
            cache
                .put("extract", &k(name), b"some payload bytes")
                .unwrap();
            let file = dir.path().join(entry_path("extract", &k(name)));
            let mut bytes = std::fs::read(&file).unwrap();
            damage(&mut bytes);
            std::fs::write(&file, bytes).unwrap();
            assert_eq!(cache.get("extract", &k(name)), None, "{name} entry trusted");
            assert!(!file.exists(), "{name} entry kept");
        }
        assert_eq!(cache.stats().corrupt, 4);

        std::fs::write(dir.path().join(STAMP_FILE), "garbage").unwrap();
        let reopened = Cache::open(dir.path(), "fp").unwrap();
        assert!(reopened.invalidated().unwrap().contains("damaged"));
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
    fn prune_keeps_only_what_this_build_used() {
        let dir = tempfile::tempdir().unwrap();
        let first = Cache::open(dir.path(), "fp").unwrap();
        first.put("pages", &k("kept"), b"1").unwrap();
        first.put("pages", &k("dropped"), b"2").unwrap();
        std::fs::write(dir.path().join("pages").join("left-by-a-crash.tmp-1"), b"").unwrap();
        let second = Cache::open(dir.path(), "fp").unwrap();
        assert!(second.get("pages", &k("kept")).is_some());
        second.prune().unwrap();
        assert_eq!(second.stats().pruned, 2);
        let third = Cache::open(dir.path(), "fp").unwrap();
        assert!(third.get("pages", &k("kept")).is_some());
        assert!(third.get("pages", &k("dropped")).is_none());
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
        cache.prune().unwrap();
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
        let bytes = encode_outcome(&outcome);
        let back = decode_outcome(&bytes, &extractors).expect("decodes");
        assert_eq!(format!("{back:?}"), format!("{outcome:?}"));
        assert!(decode_outcome(&bytes[..bytes.len() - 1], &extractors).is_none());
        assert!(decode_outcome(&[bytes.as_slice(), b"x"].concat(), &extractors).is_none());
    }

    #[test]
    fn keys_separate_their_parts() {
        assert_ne!(key([&b"ab"[..], b"c"]), key([&b"a"[..], b"bc"]));
        assert_eq!(key([&b"ab"[..]]).len(), 64);
    }
}
