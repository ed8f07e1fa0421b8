//! The search index's raw postings, kept in the incremental cache between builds in term
//! order, so that a rebuild takes an unchanged document's terms from one sequential file
//! instead of tokenizing, decoding or even looking the document up again.
//!
//! When one document of 50,000 changes, only the changed document's terms are new. A build
//! writes, next
//! to its index, every term's unscored postings (document number, field counts, positions),
//! and for each number the *content key* of what was indexed under it, its lengths and its
//! excerpt. The next build numbers its documents and records, and for each one whose content
//! key the snapshot holds it *claims* the old number ([`Previous::claim`]): its lengths and
//! excerpt come from the snapshot, its postings stay in the snapshot's file, and at finish
//! they are streamed in term order, renumbered, beside the postings of what was tokenized
//! ([`PostingsReader`]). A claimed number costs a hash-map lookup and a positioned read of
//! its excerpt; an unclaimed one (a changed, removed or renumbered-away document) simply has
//! its postings skipped. Where every other number of a term stayed, the term is not even
//! decoded: most of an edited document's postings are what they were, and each new one is
//! compared in place with the one it replaces ([`RawSlice::same_after`]).
//!
//! The content key hashes the fields that were tokenized (title and tags, body text, file
//! name, agency name). A document's body text enters it as the text itself or, for a body the
//! cache holds, as that body's [`BodyIdentity`], so an unchanged document is recognised
//! without reading its body. Tokenizer changes come with a new leakpress version, which
//! empties the cache.
//!
//! The postings go in blocks, cut where the index cuts its packs ([`Cutter`]), each with a
//! [`BlockRecord`] of what the index made of it: its terms' dictionary entries and its packs'
//! names and SHA-256. A rebuild encodes each term's postings again (for a term all of whose
//! postings kept their numbers, it takes the bytes it read) and cuts them the same way; a
//! block whose bytes come out the same, in a build that scores as the previous one did
//! ([`Previous::scored_like`]: the same count of numbers and mean lengths), gives the same
//! entries and packs, so its terms are not scored and its index files are kept as the
//! previous build wrote them. After a one-document edit that is every block but those of the
//! terms whose postings changed: 764 of 767 at 50,000 documents.
//!
//! Files, in the cache folder's `search/`: `head` (below), `postings.<n>` and `excerpts.<n>`
//! of generation `n`. A build reads generation `n` and writes `n + 1`, renames the new head
//! into place when both files are complete, then deletes every other file: a killed build
//! leaves the previous snapshot whole. Nothing is trusted unread: the head ends with its own
//! SHA-256 and holds the length and CRC-32 of both files, checked before the snapshot is
//! used; a mismatch is a warning and a build that tokenizes everything again. The files'
//! check guards against damage (a cut, a flipped bit), not against forgery, which nobody who
//! can write the cache needs: a CRC-32 does that at a small fraction of a SHA-256's cost
//! (with SHA-256, a one-edit rebuild's index stage at 50,000 documents, which writes the
//! 200 MB file again, took 0.1 s longer, 1.25-1.33 s against 1.14-1.23 s).
//!
//! - `head`: [`HEAD_MAGIC`], the index format and position limit (u32 LE each), the
//!   generation (u64), the mean title and body lengths scored with (f64 bits, u64 each), the
//!   term count (u64), the number count (u32), each file's length (u64) and CRC-32 (u32),
//!   then per number [`SLOT_BYTES`]: content key (16), whether it was indexed (1), title
//!   and body length (u32 each), excerpt offset (u64) and byte length (u32); then the
//!   SHA-256 of all before it. Integers are little-endian.
//! - `postings.<n>`: blocks, each a u32 byte length and an LZ4 block ([`compress`]) of whole
//!   terms in byte order, then a u32 byte length and an LZ4 block of its [`BlockRecord`]. A
//!   block ends after a term chosen by a hash of its text ([`ends_block`]), so an edit that
//!   changes a few terms' postings leaves the other blocks' bytes as they were, and the next
//!   build copies those frames instead of compressing them again ([`Reuse`]). Per term:
//!   its text's byte length and bytes, the posting count, the byte length of its postings
//!   and of their numbers' gaps; then the gaps, each posting's number (by number) from the
//!   one before; then per posting its title tf, body tf, agency tf, position count (one
//!   byte) and positions as gaps. The gaps come first so that finding which numbers a term
//!   holds reads nothing else ([`numbers`]). Numbers are LEB128 varints.
//! - `excerpts.<n>`: the excerpts' UTF-8 bytes, where the head says.

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::hash::Hasher;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use super::{FORMAT_VERSION, FxHasher, MAX_POSITIONS, RawPosting, put_varint};
use crate::document::BodyIdentity;

/// What was indexed under a number: the first half of a SHA-256 of its fields.
pub(super) type ContentKey = [u8; 16];

/// The cache folder the snapshot lives in ([`crate::cache::Cache::side_dir`]).
pub(super) const DIR: &str = "search";
pub(super) const HEAD_FILE: &str = "head";
const HEAD_MAGIC: &[u8] = b"LPSS7\n";
/// Bytes per number in the head.
const SLOT_BYTES: usize = 16 + 1 + 4 + 4 + 8 + 4;
/// Fixed head bytes before the slots.
const HEAD_FIXED: usize = HEAD_MAGIC.len() + 4 + 4 + 8 + 2 * 8 + 8 + 4 + 2 * (8 + 4);
/// Goes into every content key: bump when what a key stands for changes.
const LAYOUT: &[u8] = b"leakpress search content v1";
/// Raw bytes of terms per postings block, at least: big enough to compress well, small
/// enough that one edited document, whose few hundred terms are spread across the
/// vocabulary, leaves most blocks as they were.
const BLOCK_MIN_BYTES: usize = 192 << 10;
/// Past [`BLOCK_MIN_BYTES`], a block ends after a term with a chance of the term's bytes in
/// this many, so blocks hold about `BLOCK_MIN_BYTES + BLOCK_END_BYTES` whether the terms are
/// many and short or few and long.
const BLOCK_END_BYTES: u64 = 256 << 10;
/// Past this a block ends after any term (about one block in 25), so a block stays
/// small enough to hold.
const BLOCK_MAX_BYTES: usize = 1 << 20;
/// A number no build claimed.
const UNCLAIMED: u32 = u32::MAX;

/// A snapshot block compressed: LZ4, its raw length first. Every rebuild decompresses every
/// block (it streams all terms), and LZ4 does that about three times as fast as zstd at level
/// 1 on these bytes for a file a fifth larger: the index stage of a one-edit rebuild at
/// 50,000 documents took 1.17-1.22 s with zstd, 0.97-1.06 s with LZ4.
fn compress(raw: &[u8]) -> Vec<u8> {
    lz4_flex::compress_prepend_size(raw)
}

/// The bytes of a block [`compress`] made; an error if it is damaged.
fn decompress(frame: &[u8]) -> std::io::Result<Vec<u8>> {
    lz4_flex::decompress_size_prepended(frame)
        .map_err(|err| std::io::Error::new(std::io::ErrorKind::InvalidData, err))
}

/// How a document's body text enters its content key.
#[derive(Clone, Copy)]
pub(super) enum BodyText<'a> {
    /// The text itself.
    Text(&'a str),
    /// The identity of the extracted body the text belongs to.
    Extracted(&'a BodyIdentity),
}

/// The content key of a document whose fields are these.
pub(super) fn document_key(
    title: &str,
    body: BodyText<'_>,
    file_name: &str,
    agency_name: &str,
) -> ContentKey {
    let (kind, body): (&[u8], &[u8]) = match body {
        BodyText::Text(text) => (b"text", text.as_bytes()),
        BodyText::Extracted(identity) => (b"extracted", identity),
    };
    digest([
        LAYOUT,
        b"document",
        title.as_bytes(),
        kind,
        body,
        file_name.as_bytes(),
        agency_name.as_bytes(),
    ])
}

/// The content key of a table record whose fields are these.
pub(super) fn record_key(title: &str, text: &str, agency_name: &str) -> ContentKey {
    digest([
        LAYOUT,
        b"record",
        title.as_bytes(),
        text.as_bytes(),
        agency_name.as_bytes(),
    ])
}

fn digest<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> ContentKey {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    let mut key = [0; 16];
    key.copy_from_slice(&hasher.finalize()[..16]);
    key
}

/// What the head keeps of one number.
#[derive(Clone, Copy, Default)]
pub(super) struct Slot {
    /// `None`: nothing was indexed under the number (its body could not be read).
    pub(super) key: Option<ContentKey>,
    pub(super) lengths: (u32, u32),
    /// Where the excerpt lies in the excerpts file: offset and byte length.
    pub(super) excerpt: (u64, u32),
}

/// The snapshot the previous build left, checked whole.
pub(super) struct Previous {
    generation: u64,
    /// The mean (title, body) lengths the postings were scored with.
    averages: (f64, f64),
    /// How many terms the snapshot holds.
    terms: u64,
    slots: Vec<Slot>,
    /// Content key → its first old number; [`Previous::same_key`] chains the others.
    by_key: HashMap<ContentKey, u32>,
    same_key: Vec<u32>,
    /// Old number → the new number that claimed it, or [`UNCLAIMED`].
    claimed: Vec<AtomicU32>,
    postings: PathBuf,
    excerpts: File,
}

/// What a claimed number brings: its lengths and excerpt.
pub(super) struct Claimed {
    pub(super) lengths: (u32, u32),
    pub(super) excerpt: String,
}

impl Previous {
    /// Loads the snapshot in `dir`: `Ok(None)` when there is none, `Err` (why) when it is
    /// damaged or unreadable, which the caller reports and builds without.
    pub(super) fn load(dir: &Path) -> Result<Option<Previous>, String> {
        let head = match std::fs::read(dir.join(HEAD_FILE)) {
            Ok(head) => head,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(format!("its head is unreadable: {err}")),
        };
        let parsed = parse_head(&head).ok_or("its head is damaged")?;
        let Head {
            generation,
            averages,
            terms,
            files,
            slots,
        } = parsed;
        let postings = dir.join(format!("postings.{generation}"));
        let excerpts = dir.join(format!("excerpts.{generation}"));
        // Not in parallel: this runs on a thread outside the build's pool
        // ([`super::SnapshotLoad`]), and the excerpts are a twentieth of the postings.
        check_file(&postings, files[0])?;
        check_file(&excerpts, files[1])?;
        let excerpts = File::open(&excerpts).map_err(|err| err.to_string())?;
        let mut by_key = HashMap::with_capacity(slots.len());
        let mut same_key = vec![UNCLAIMED; slots.len()];
        // Chained from the last, so a key's numbers are tried lowest first (which one a
        // document gets does not matter: the same key means the same postings).
        for (number, slot) in slots.iter().enumerate().rev() {
            if let Some(key) = slot.key
                && let Some(next) = by_key.insert(key, number as u32)
            {
                same_key[number] = next;
            }
        }
        Ok(Some(Previous {
            generation,
            averages,
            terms,
            claimed: (0..slots.len())
                .map(|_| AtomicU32::new(UNCLAIMED))
                .collect(),
            slots,
            by_key,
            same_key,
            postings,
            excerpts,
        }))
    }

    /// Gives the new number `number` an old number indexed under `key`, if one is left; its
    /// postings then come from the snapshot. Returns its lengths and excerpt.
    pub(super) fn claim(&self, key: &ContentKey, number: u32) -> Option<Claimed> {
        let mut old = *self.by_key.get(key)?;
        while old != UNCLAIMED {
            let slot = &self.claimed[old as usize];
            if slot
                .compare_exchange(UNCLAIMED, number, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
            {
                let found = &self.slots[old as usize];
                match self.excerpt(found.excerpt) {
                    Ok(excerpt) => {
                        return Some(Claimed {
                            lengths: found.lengths,
                            excerpt,
                        });
                    }
                    // Its postings are skipped; another number may still serve, or the
                    // document is tokenized instead.
                    Err(_) => slot.store(UNCLAIMED, Ordering::Relaxed),
                }
            }
            old = self.same_key[old as usize];
        }
        None
    }

    fn excerpt(&self, (offset, len): (u64, u32)) -> std::io::Result<String> {
        let mut bytes = vec![0; len as usize];
        crate::cache::read_exact_at(&self.excerpts, &mut bytes, offset)?;
        String::from_utf8(bytes)
            .map_err(|err| std::io::Error::new(std::io::ErrorKind::InvalidData, err))
    }

    /// Deletes the head after the snapshot failed to read back whole, so that the next
    /// build starts without it; returns the message for the build's error.
    pub(super) fn discard(&self, err: &std::io::Error) -> String {
        if let Some(dir) = self.postings.parent() {
            std::fs::remove_file(dir.join(HEAD_FILE)).ok();
        }
        format!(
            "search index snapshot unreadable ({err}): it is deleted, and the next build tokenizes every document again"
        )
    }

    /// How many terms the snapshot holds.
    pub(super) fn terms(&self) -> usize {
        usize::try_from(self.terms).unwrap_or(usize::MAX)
    }

    /// How many old numbers a new one claimed.
    pub(super) fn claimed_count(&self) -> usize {
        self.claimed
            .iter()
            .filter(|c| c.load(Ordering::Relaxed) != UNCLAIMED)
            .count()
    }

    /// Whether this build scores postings as the previous one did: the same count of numbers
    /// and the same mean lengths. Only then can a block whose bytes are the same keep the
    /// index files made from it ([`BlockRecord`]).
    pub(super) fn scored_like(&self, numbers: usize, averages: (f64, f64)) -> bool {
        self.slots.len() == numbers
            && self.averages.0.to_bits() == averages.0.to_bits()
            && self.averages.1.to_bits() == averages.1.to_bits()
    }

    /// Which new number claimed each old one; call once every number is claimed.
    pub(super) fn numbering(&self) -> Numbering<'_> {
        // Past the last number that moved, every number is its own: a term whose numbers
        // reach it unmoved is known to keep them all without reading on.
        let moved_below = self
            .claimed
            .iter()
            .enumerate()
            .rposition(|(n, c)| c.load(Ordering::Relaxed) != n as u32)
            .map_or(0, |n| n + 1) as u32;
        Numbering {
            claimed: &self.claimed,
            moved_below,
        }
    }

    /// Streams the claimed postings, term by term; passes each block read to `reuse`.
    pub(super) fn reader(&self, reuse: Option<Reuse>) -> std::io::Result<PostingsReader<'_>> {
        let mut reader = PostingsReader {
            previous: self,
            numbering: self.numbering(),
            file: BufReader::with_capacity(256 << 10, File::open(&self.postings)?),
            ready: VecDeque::new(),
            done: false,
            reuse,
        };
        reader.fill()?;
        Ok(reader)
    }
}

/// What a head holds.
struct Head {
    generation: u64,
    averages: (f64, f64),
    terms: u64,
    /// Length and CRC-32 of the postings file, then of the excerpts file.
    files: [(u64, u32); 2],
    slots: Vec<Slot>,
}

/// Reads the head; `None` when it does not parse whole or its checksum fails.
fn parse_head(head: &[u8]) -> Option<Head> {
    let (body, sum) = head.split_at_checked(head.len().checked_sub(32)?)?;
    if Sha256::digest(body)[..] != sum[..] {
        return None;
    }
    let mut r = Fixed(body.strip_prefix(HEAD_MAGIC)?);
    if r.u32()? != FORMAT_VERSION || r.u32()? as usize != MAX_POSITIONS {
        return None;
    }
    let generation = r.u64()?;
    let averages = (f64::from_bits(r.u64()?), f64::from_bits(r.u64()?));
    let terms = r.u64()?;
    let count = r.u32()? as usize;
    let mut files = [(0, 0); 2];
    for file in &mut files {
        *file = (r.u64()?, r.u32()?);
    }
    if r.0.len() != count.checked_mul(SLOT_BYTES)? {
        return None;
    }
    let mut slots = Vec::with_capacity(count);
    for _ in 0..count {
        let mut key = [0; 16];
        key.copy_from_slice(r.take(16)?);
        let indexed = r.take(1)?[0] == 1;
        slots.push(Slot {
            key: indexed.then_some(key),
            lengths: (r.u32()?, r.u32()?),
            excerpt: (r.u64()?, r.u32()?),
        });
    }
    Some(Head {
        generation,
        averages,
        terms,
        files,
        slots,
    })
}

/// Fixed-width little-endian fields from the front of a byte slice.
struct Fixed<'a>(&'a [u8]);

impl<'a> Fixed<'a> {
    fn take(&mut self, len: usize) -> Option<&'a [u8]> {
        let (taken, rest) = self.0.split_at_checked(len)?;
        self.0 = rest;
        Some(taken)
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
}

/// Checks a file's length and CRC-32 against what the head says.
fn check_file(path: &Path, (len, sum): (u64, u32)) -> Result<(), String> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let mut file = File::open(path).map_err(|err| format!("{name} is unreadable: {err}"))?;
    let mut hasher = crc32fast::Hasher::new();
    let mut buf = vec![0; 1 << 20];
    let mut seen = 0u64;
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|err| format!("{name} is unreadable: {err}"))?;
        if n == 0 {
            break;
        }
        seen += n as u64;
        hasher.update(&buf[..n]);
    }
    if seen != len || hasher.finalize() != sum {
        return Err(format!("{name} does not match its checksum"));
    }
    Ok(())
}

/// Old number → the new number that claimed it, or [`UNCLAIMED`].
#[derive(Clone, Copy)]
pub(super) struct Numbering<'p> {
    claimed: &'p [AtomicU32],
    /// Every old number from this one on is claimed by itself.
    moved_below: u32,
}

impl Numbering<'_> {
    fn of(&self, old: u32) -> std::io::Result<u32> {
        Ok(self
            .claimed
            .get(old as usize)
            .ok_or_else(damaged)?
            .load(Ordering::Relaxed))
    }
}

/// The previous build's postings, term by term in byte order, renumbered: a posting whose
/// old number nobody claimed is skipped, and so is a term left without postings.
pub(super) struct PostingsReader<'p> {
    previous: &'p Previous,
    numbering: Numbering<'p>,
    file: BufReader<File>,
    /// Terms decoded and not yet taken, in order, block by block: each block's list as
    /// decoded. Moving them all into one queue (the first blocks hold tens of thousands of
    /// rare terms each) cost a one-edit rebuild 0.03 s of copying onto freshly faulted pages.
    ready: VecDeque<std::vec::IntoIter<TermPostings>>,
    /// Whether the file is read to its end.
    done: bool,
    /// Where decoded blocks go for the next snapshot's writer to copy.
    reuse: Option<Reuse>,
}

/// The previous snapshot's blocks, passed from its reader to the index's assembly, which
/// copies the compressed frame (and keeps the index files) of every block whose raw bytes it
/// would write again. The reader is about two batches ahead of the assembly (one scored, one
/// read), some tens of blocks; where few old numbers are claimed a batch spans many blocks,
/// so the queue keeps [`REUSE_QUEUE_BYTES`] at most and drops the oldest past that, which only
/// costs copies (and scoring a block that could have been kept).
#[derive(Clone, Default)]
pub(super) struct Reuse(Arc<ReuseQueue>);

/// Bytes of old blocks (raw and compressed) waiting to be matched, at most.
const REUSE_QUEUE_BYTES: usize = 128 << 20;

#[derive(Default)]
struct ReuseQueue {
    /// The blocks, and their bytes.
    blocks: Mutex<(VecDeque<OldBlock>, usize)>,
    /// Set when the writer stops (its file failed): the reader then keeps nothing.
    closed: AtomicBool,
}

/// An old block's compressed frame and record frame.
pub(super) type OldFrames = (Vec<u8>, Vec<u8>);

/// A block of the previous snapshot: its terms' bytes, and its compressed frame and record.
struct OldBlock {
    raw: Arc<Vec<u8>>,
    frame: Vec<u8>,
    record: Vec<u8>,
}

impl OldBlock {
    fn bytes(&self) -> usize {
        self.raw.len() + self.frame.len() + self.record.len()
    }
}

impl Reuse {
    /// Queues the blocks that yielded terms (a block none of whose postings were claimed
    /// cannot be written again).
    fn push(&self, blocks: impl IntoIterator<Item = OldBlock>) {
        let mut queue = self.lock();
        if self.0.closed.load(Ordering::Relaxed) {
            return;
        }
        let (blocks_queued, bytes) = &mut *queue;
        for block in blocks {
            *bytes += block.bytes();
            blocks_queued.push_back(block);
        }
        while *bytes > REUSE_QUEUE_BYTES
            && let Some(old) = blocks_queued.pop_front()
        {
            *bytes -= old.bytes();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (VecDeque<OldBlock>, usize)> {
        self.0.blocks.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The frame and record frame of the old block whose bytes are `raw`, if there is one.
    /// Blocks start where terms do, both in term order: every old block before `raw`'s
    /// first term is passed and dropped.
    pub(super) fn take_same(&self, raw: &[u8]) -> Option<OldFrames> {
        let first = term_text(raw);
        let mut queue = self.lock();
        let (blocks, bytes) = &mut *queue;
        while let Some(old) = blocks.front() {
            let order = term_text(&old.raw).cmp(first);
            if order == std::cmp::Ordering::Greater {
                return None;
            }
            let old = blocks.pop_front()?;
            *bytes -= old.bytes();
            if order == std::cmp::Ordering::Equal {
                return (old.raw[..] == *raw).then_some((old.frame, old.record));
            }
        }
        None
    }

    /// [`Reuse::take_same`] for the bytes `open` holds, which when they are an old block's
    /// whole are matched to it by identity, without a byte compared. Returns the bytes
    /// (empty when a frame is found: they are not needed then) and the frames.
    pub(super) fn take_open(&self, open: OpenBytes) -> (Vec<u8>, Option<OldFrames>) {
        if let Some((block, end)) = &open.run
            && *end == block.len()
        {
            let first = term_text(block);
            let mut queue = self.lock();
            let (blocks, bytes) = &mut *queue;
            while let Some(old) = blocks.front() {
                if Arc::ptr_eq(&old.raw, block) {
                    let old = blocks.pop_front().expect("a front block");
                    *bytes -= old.bytes();
                    return (Vec::new(), Some((old.frame, old.record)));
                }
                if term_text(&old.raw) > first {
                    break;
                }
                let old = blocks.pop_front().expect("a front block");
                *bytes -= old.bytes();
            }
        }
        let raw = open.into_bytes();
        let same = self.take_same(&raw);
        (raw, same)
    }

    pub(super) fn close(&self) {
        let mut queue = self.lock();
        self.0.closed.store(true, Ordering::Relaxed);
        *queue = (VecDeque::new(), 0);
    }
}

/// The bytes of the block being assembled. While they are one run of an old block's
/// bytes from its start (as after an edit they mostly are), only where the run ends is
/// kept: copying the 200 MB of a 50,000-document snapshot's kept blocks, and comparing
/// them with the old ones, cost a one-edit rebuild's index stage 0.06 s (1.14-1.23 s
/// against 1.07-1.16 s, four runs each) and 30 MiB of peak memory.
#[derive(Default)]
pub(super) struct OpenBytes {
    copied: Vec<u8>,
    run: Option<(Arc<Vec<u8>>, usize)>,
}

impl OpenBytes {
    /// Appends a term's bytes in an old block.
    pub(super) fn push_slice(&mut self, slice: &RawSlice) {
        if self.copied.is_empty() {
            match &mut self.run {
                None if slice.range.start == 0 => {
                    self.run = Some((Arc::clone(&slice.block), slice.range.end));
                    return;
                }
                Some((block, end))
                    if Arc::ptr_eq(block, &slice.block) && *end == slice.range.start =>
                {
                    *end = slice.range.end;
                    return;
                }
                _ => {}
            }
        }
        self.push(slice.bytes());
    }

    /// Appends bytes.
    pub(super) fn push(&mut self, bytes: &[u8]) {
        if let Some((block, end)) = self.run.take() {
            self.copied.extend_from_slice(&block[..end]);
        }
        self.copied.extend_from_slice(bytes);
    }

    pub(super) fn into_bytes(mut self) -> Vec<u8> {
        self.push(&[]);
        self.copied
    }
}

/// The text of the first term encoded in `bytes` (empty if they do not hold one).
fn term_text(bytes: &[u8]) -> &[u8] {
    let mut r = Cursor { bytes, pos: 0 };
    match r.varint() {
        Ok(len) => bytes.get(r.pos..r.pos + len as usize).unwrap_or_default(),
        Err(_) => &[],
    }
}

/// Whether a block holding `len` bytes ends after the term `text`, whose encoding
/// ([`encode_term`]) takes `bytes` of them. The choice rests on a hash of the term's text,
/// not on where the block began, so the blocks after an edited term end where they ended
/// before.
fn ends_block(text: &[u8], bytes: usize, len: usize) -> bool {
    if len >= BLOCK_MAX_BYTES {
        return true;
    }
    if len < BLOCK_MIN_BYTES {
        return false;
    }
    let mut hasher = FxHasher::default();
    hasher.write(text);
    // The top 24 bits, as a fraction of 2^24 (FxHash's low bits mix poorly), against the
    // term's share of BLOCK_END_BYTES.
    (hasher.finish() >> 40) * BLOCK_END_BYTES < (bytes as u64) << 24
}

/// Where blocks end, term by term. The index closes its packs where a block ends, so it
/// cuts the same way whether or not a snapshot is written.
#[derive(Default)]
pub(super) struct Cutter {
    len: usize,
}

impl Cutter {
    /// Adds the term `text`, `bytes` long encoded; returns whether the block ends after it.
    pub(super) fn add(&mut self, text: &str, bytes: usize) -> bool {
        self.len += bytes;
        let ends = ends_block(text.as_bytes(), bytes, self.len);
        if ends {
            self.len = 0;
        }
        ends
    }
}

/// One term's postings from the snapshot: `postings` index `positions` by `pos_start`.
pub(super) struct TermPostings {
    pub(super) term: String,
    /// How many postings it has, decoded or not.
    pub(super) count: usize,
    /// Empty until decoded, when `raw` is set.
    pub(super) postings: Vec<RawPosting>,
    pub(super) positions: Vec<u32>,
    /// The term's bytes in its block, when every posting kept its number: what
    /// [`encode_term`] would make of it again.
    pub(super) raw: Option<RawSlice>,
    /// The term's bytes in its block, undecoded, when every posting kept its number but
    /// those whose number nobody claimed (`count` leaves them out): the documents that
    /// changed. Their new postings may well be the old ones ([`RawSlice::same_after`]).
    pub(super) stale: Option<RawSlice>,
}

/// A term's bytes within a decoded block.
#[derive(Clone)]
pub(super) struct RawSlice {
    block: Arc<Vec<u8>>,
    range: std::ops::Range<usize>,
}

impl RawSlice {
    pub(super) fn bytes(&self) -> &[u8] {
        &self.block[self.range.clone()]
    }

    /// The term's postings (its numbers are those it keeps) and their positions.
    pub(super) fn decode(&self) -> std::io::Result<(Vec<RawPosting>, Vec<u32>)> {
        self.read(None)
    }

    /// [`RawSlice::decode`], renumbered by `numbering`: an unclaimed number's posting is
    /// left out.
    pub(super) fn decode_claimed(
        &self,
        numbering: Numbering<'_>,
    ) -> std::io::Result<(Vec<RawPosting>, Vec<u32>)> {
        self.read(Some(numbering))
    }

    fn read(
        &self,
        numbering: Option<Numbering<'_>>,
    ) -> std::io::Result<(Vec<RawPosting>, Vec<u32>)> {
        let mut r = Cursor {
            bytes: self.bytes(),
            pos: 0,
        };
        let head = read_term_head(&mut r)?;
        let (mut postings, mut positions) = (Vec::new(), Vec::new());
        read_postings(&mut r, &head, numbering, (&mut postings, &mut positions))?;
        Ok((postings, positions))
    }

    /// Whether the term, renumbered by `numbering` and given this build's postings `fresh`
    /// (sorted by number), encodes to these same bytes; if so, its posting count. So it does
    /// when each fresh posting takes the place of an unclaimed number's, byte for byte, and
    /// every other number is its own: a document edited where the term is not, whose
    /// number stayed. Reads only as far as the last number that moved or is fresh, and
    /// decodes nothing.
    pub(super) fn same_after(
        &self,
        numbering: Numbering<'_>,
        fresh: &[(u32, &RawPosting, &[u32])],
    ) -> std::io::Result<Option<usize>> {
        let bytes = self.bytes();
        let mut r = Cursor { bytes, pos: 0 };
        let head = read_term_head(&mut r)?;
        let count = head.count;
        let mut rests = Cursor {
            bytes,
            pos: head.rests,
        };
        let mut fresh = fresh.iter().peekable();
        let mut rest = Vec::new();
        let mut old = 0u32;
        for _ in 0..count {
            old = old.wrapping_add(r.varint()?);
            let next_fresh = fresh.peek().map(|&&(number, ..)| number);
            if old >= numbering.moved_below && next_fresh.is_none() {
                return Ok(Some(count));
            }
            if next_fresh.is_some_and(|number| number < old) {
                return Ok(None);
            }
            let start = rests.pos;
            rests.skip_posting_rest(head.end)?;
            let new = numbering.of(old)?;
            if next_fresh == Some(old) {
                let (_, posting, positions) = fresh.next().ok_or_else(damaged)?;
                rest.clear();
                put_posting_rest(&mut rest, posting, positions);
                if new != UNCLAIMED || rest[..] != bytes[start..rests.pos] {
                    return Ok(None);
                }
            } else if new != old {
                return Ok(None);
            }
        }
        if r.pos != head.rests || rests.pos != head.end {
            return Err(damaged());
        }
        Ok(fresh.peek().is_none().then_some(count))
    }
}

/// Blocks decoded at once, in parallel: reading is serial, decoding is most of the work.
const BLOCKS_AT_ONCE: usize = 16;

fn damaged() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        "search index snapshot damaged",
    )
}

impl PostingsReader<'_> {
    /// The next term, if any.
    pub(super) fn head(&self) -> Option<&str> {
        self.ready
            .front()
            .and_then(|block| block.as_slice().first())
            .map(|t| t.term.as_str())
    }

    /// [`Previous::discard`].
    pub(super) fn discard(&self, err: &std::io::Error) -> String {
        self.previous.discard(err)
    }

    /// Takes the next term with its postings.
    pub(super) fn take(&mut self) -> std::io::Result<TermPostings> {
        let block = self.ready.front_mut().ok_or_else(damaged)?;
        let term = block.next().ok_or_else(damaged)?;
        if block.len() == 0 {
            self.ready.pop_front();
            self.fill()?;
        }
        Ok(term)
    }

    /// Decodes blocks until a term is ready or the file ends.
    fn fill(&mut self) -> std::io::Result<()> {
        while self.ready.is_empty() && !self.done {
            let mut frames = Vec::with_capacity(BLOCKS_AT_ONCE);
            while frames.len() < BLOCKS_AT_ONCE {
                let mut len = [0u8; 4];
                match self.file.read_exact(&mut len) {
                    Ok(()) => {}
                    Err(err) if err.kind() == std::io::ErrorKind::UnexpectedEof => {
                        self.done = true;
                        break;
                    }
                    Err(err) => return Err(err),
                }
                let frame = read_frame(&mut self.file, len)?;
                self.file.read_exact(&mut len)?;
                let record = read_frame(&mut self.file, len)?;
                frames.push((frame, record));
            }
            let numbering = self.numbering;
            type Decoded = std::io::Result<(Vec<TermPostings>, Arc<Vec<u8>>)>;
            let blocks: Vec<Decoded> = frames
                .par_iter()
                .map(|(frame, _)| {
                    let raw = Arc::new(decompress(frame)?);
                    Ok((decode_block(&raw, numbering)?, raw))
                })
                .collect();
            let mut old = Vec::with_capacity(blocks.len());
            for (block, (frame, record)) in blocks.into_iter().zip(frames) {
                let (terms, raw) = block?;
                if !terms.is_empty() {
                    old.push(OldBlock { raw, frame, record });
                    self.ready.push_back(terms.into_iter());
                }
            }
            if let Some(reuse) = &self.reuse {
                reuse.push(old);
            }
        }
        Ok(())
    }
}

/// `len` (little-endian) bytes from `file`, read into memory not zeroed first: every
/// rebuild reads the whole snapshot, and zeroing each frame before reading it was a fifth
/// of the time its reads took.
fn read_frame(file: &mut impl Read, len: [u8; 4]) -> std::io::Result<Vec<u8>> {
    let len = u32::from_le_bytes(len) as usize;
    let mut frame = Vec::with_capacity(len);
    file.take(len as u64).read_to_end(&mut frame)?;
    if frame.len() != len {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(frame)
}

/// The terms of one block, renumbered by `numbering`. A term all of whose postings kept
/// their numbers is only checked, not decoded: its bytes are all a rebuild needs unless the
/// term changed ([`TermPostings::decode`]); nor is one whose other postings did, those of
/// changed documents left aside ([`TermPostings::stale`]).
fn decode_block(
    block: &Arc<Vec<u8>>,
    numbering: Numbering<'_>,
) -> std::io::Result<Vec<TermPostings>> {
    let bytes = &block[..];
    let mut r = Cursor { bytes, pos: 0 };
    let mut terms = Vec::new();
    while r.pos < bytes.len() {
        let start = r.pos;
        let head = read_term_head(&mut r)?;
        let (term, count) = (head.text, head.count);
        let gaps_at = r.pos;
        match numbers(&mut r, &head, numbering)? {
            Numbers::Kept => {
                if count > 0 {
                    terms.push(term_undecoded(block, start..r.pos, term, count, false)?);
                }
            }
            Numbers::Dropped(dropped) => {
                if count > dropped {
                    terms.push(term_undecoded(
                        block,
                        start..r.pos,
                        term,
                        count - dropped,
                        true,
                    )?);
                }
            }
            Numbers::Moved => {
                r.pos = gaps_at;
                let (mut postings, mut positions) = (Vec::new(), Vec::new());
                read_postings(
                    &mut r,
                    &head,
                    Some(numbering),
                    (&mut postings, &mut positions),
                )?;
                if !postings.is_empty() {
                    terms.push(TermPostings {
                        term: String::from_utf8(term.to_vec()).map_err(|_| damaged())?,
                        count: postings.len(),
                        postings,
                        positions,
                        raw: None,
                        stale: None,
                    });
                }
            }
        }
    }
    Ok(terms)
}

/// A term of `block` left undecoded: its bytes are `range`; `stale` says whether some of
/// its postings are an unclaimed number's (`count` leaves them out).
fn term_undecoded(
    block: &Arc<Vec<u8>>,
    range: std::ops::Range<usize>,
    text: &[u8],
    count: usize,
    stale: bool,
) -> std::io::Result<TermPostings> {
    let slice = RawSlice {
        block: Arc::clone(block),
        range,
    };
    let (raw, stale) = if stale {
        (None, Some(slice))
    } else {
        (Some(slice), None)
    };
    Ok(TermPostings {
        term: String::from_utf8(text.to_vec()).map_err(|_| damaged())?,
        count,
        postings: Vec::new(),
        positions: Vec::new(),
        raw,
        stale,
    })
}

/// The front of a term's bytes ([`encode_term`]).
struct TermHead<'b> {
    text: &'b [u8],
    /// How many postings it has.
    count: usize,
    /// Where its numbers' gaps end and its postings' other fields begin.
    rests: usize,
    /// Where its bytes end.
    end: usize,
}

/// Reads a term's head, leaving `r` at its first number's gap.
fn read_term_head<'b>(r: &mut Cursor<'b>) -> std::io::Result<TermHead<'b>> {
    let len = r.varint()? as usize;
    let text = r.bytes.get(r.pos..r.pos + len).ok_or_else(damaged)?;
    r.pos += len;
    let count = r.varint()? as usize;
    let postings_len = r.varint()? as usize;
    let gaps_len = r.varint()? as usize;
    let end = r
        .pos
        .checked_add(postings_len)
        .filter(|&end| end <= r.bytes.len())
        .ok_or_else(damaged)?;
    let rests = r
        .pos
        .checked_add(gaps_len)
        .filter(|&rests| rests <= end)
        .ok_or_else(damaged)?;
    Ok(TermHead {
        text,
        count,
        rests,
        end,
    })
}

/// How the numbers of a term's postings were claimed.
#[derive(Debug, PartialEq, Eq)]
enum Numbers {
    /// Each by itself.
    Kept,
    /// Each by itself but this many, which nobody claimed.
    Dropped(usize),
    /// Some by another number.
    Moved,
}

/// How the numbers of `head`'s postings were claimed, where every number from
/// `numbering.moved_below` on is its own. Reads only as far as it must: to the first number
/// claimed by another, or to the first at `moved_below` or past it, and leaves `r` at the
/// term's end unless the answer is [`Numbers::Moved`]. After a one-document edit, only the
/// numbers up to that document's are read, and only they: the numbers' gaps come before
/// the postings' other fields, where walking the postings themselves to an edited
/// document's number (14,000 of 50,000 in the benchmark corpus) took 3.5% of a one-edit
/// rebuild's CPU samples. Postings past the stop are not checked: the file's CRC-32, checked at
/// load, stands for them.
fn numbers(
    r: &mut Cursor<'_>,
    head: &TermHead<'_>,
    numbering: Numbering<'_>,
) -> std::io::Result<Numbers> {
    let mut old = 0u32;
    let mut dropped = 0;
    for _ in 0..head.count {
        old = old.wrapping_add(r.varint()?);
        if old >= numbering.moved_below {
            break;
        }
        match numbering.of(old)? {
            new if new == old => {}
            UNCLAIMED => dropped += 1,
            _ => return Ok(Numbers::Moved),
        }
    }
    if r.pos > head.rests {
        return Err(damaged());
    }
    r.pos = head.end;
    Ok(match dropped {
        0 => Numbers::Kept,
        dropped => Numbers::Dropped(dropped),
    })
}

/// Reads `head`'s postings, `r` at their first number's gap, renumbered by `numbering`
/// (`None`: numbers kept), into `postings` and `positions`, leaving out an unclaimed
/// number's; leaves `r` at the term's end.
fn read_postings(
    r: &mut Cursor<'_>,
    head: &TermHead<'_>,
    numbering: Option<Numbering<'_>>,
    (postings, positions): (&mut Vec<RawPosting>, &mut Vec<u32>),
) -> std::io::Result<()> {
    let end = head.end;
    // Each posting takes at least five bytes.
    postings.reserve(head.count.min(end.saturating_sub(r.pos) / 5));
    let mut rests = Cursor {
        bytes: r.bytes,
        pos: head.rests,
    };
    let mut old = 0u32;
    for _ in 0..head.count {
        old = old.wrapping_add(r.varint()?);
        let new = match numbering {
            Some(numbering) => numbering.of(old)?,
            None => old,
        };
        if new == UNCLAIMED {
            rests.skip_posting_rest(end)?;
            continue;
        }
        let title_tf = u16::try_from(rests.varint()?).map_err(|_| damaged())?;
        let body_tf = rests.varint()?;
        let agency_tf = u16::try_from(rests.varint()?).map_err(|_| damaged())?;
        let pos_len = rests.byte()?;
        if pos_len as usize > MAX_POSITIONS {
            return Err(damaged());
        }
        let pos_start = positions.len() as u32;
        let mut last = 0u32;
        for _ in 0..pos_len {
            last = last.wrapping_add(rests.varint()?);
            positions.push(last);
        }
        postings.push(RawPosting {
            term: 0,
            doc: new,
            title_tf,
            body_tf,
            agency_tf,
            pos_start,
            pos_len,
        });
    }
    if r.pos != head.rests || rests.pos != end {
        return Err(damaged());
    }
    r.pos = end;
    Ok(())
}

/// Reads a decompressed block front to back.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn byte(&mut self) -> std::io::Result<u8> {
        let byte = *self.bytes.get(self.pos).ok_or_else(damaged)?;
        self.pos += 1;
        Ok(byte)
    }

    #[inline]
    fn varint(&mut self) -> std::io::Result<u32> {
        // Most counts and gaps fit one byte, and most positions' gaps two.
        match self.bytes.get(self.pos..) {
            Some(&[low, ..]) if low < 0x80 => {
                self.pos += 1;
                Ok(low.into())
            }
            Some(&[low, high, ..]) if high < 0x80 => {
                self.pos += 2;
                Ok(u32::from(low & 0x7f) | u32::from(high) << 7)
            }
            _ => super::read_varint(|| self.byte(), damaged),
        }
    }

    /// Moves past a posting's fields after its number's gap: its frequencies, position
    /// count and positions; an error past `end`.
    fn skip_posting_rest(&mut self, end: usize) -> std::io::Result<()> {
        self.skip_varints(3)?;
        let pos_len = self.byte()?;
        if pos_len as usize > MAX_POSITIONS {
            return Err(damaged());
        }
        self.skip_varints(pos_len.into())?;
        if self.pos > end {
            return Err(damaged());
        }
        Ok(())
    }

    /// Moves past `n` varints without decoding them: each ends at its first byte below 0x80,
    /// so eight bytes at a time are checked for ends.
    fn skip_varints(&mut self, mut n: usize) -> std::io::Result<()> {
        const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
        while n > 0 {
            let word = self
                .bytes
                .get(self.pos..self.pos + 8)
                .and_then(|chunk| <[u8; 8]>::try_from(chunk).ok());
            let Some(word) = word else {
                if self.byte()? < 0x80 {
                    n -= 1;
                }
                continue;
            };
            // Bit 8i+7 set where byte i ends a varint.
            let mut ends = !u64::from_le_bytes(word) & HIGH_BITS;
            let found = ends.count_ones() as usize;
            if found < n {
                n -= found;
                self.pos += 8;
                continue;
            }
            for _ in 1..n {
                ends &= ends - 1;
            }
            self.pos += ends.trailing_zeros() as usize / 8 + 1;
            return Ok(());
        }
        Ok(())
    }
}

/// The length of [`encode_term`]'s bytes, without making them (a build that keeps no
/// snapshot still cuts blocks, see [`Cutter`]).
pub(super) fn encoded_len(term: &str, postings: &[(u32, &RawPosting, &[u32])]) -> usize {
    let varint = |v: u32| (32 - (v | 1).leading_zeros()).div_ceil(7) as usize;
    let (mut gaps, mut rests) = (0, 0);
    let mut last_doc = 0u32;
    for &(doc, p, positions) in postings {
        gaps += varint(doc.wrapping_sub(last_doc));
        rests += varint(p.title_tf.into()) + varint(p.body_tf) + varint(p.agency_tf.into()) + 1;
        last_doc = doc;
        let mut last = 0u32;
        for &pos in positions {
            rests += varint(pos.wrapping_sub(last));
            last = pos;
        }
    }
    varint(term.len() as u32)
        + term.len()
        + varint(postings.len() as u32)
        + varint(postings_len(gaps + rests))
        + varint(postings_len(gaps))
        + gaps
        + rests
}

/// A term's postings' byte length as the snapshot holds it. A posting takes at most 101
/// bytes (four varints of five bytes at most, a count byte and [`MAX_POSITIONS`] gaps of
/// five bytes at most), so a term's fit in a u32 up to 42 million numbers.
fn postings_len(len: usize) -> u32 {
    u32::try_from(len).expect("a term's postings fit in 4 GiB")
}

/// One term's postings for the next snapshot, `postings` sorted by number.
pub(super) fn encode_term(term: &str, postings: &[(u32, &RawPosting, &[u32])]) -> Vec<u8> {
    let mut gaps = Vec::with_capacity(postings.len() * 2);
    let mut rests = Vec::with_capacity(postings.len() * 8);
    let mut last_doc = 0u32;
    for &(doc, p, positions) in postings {
        put_varint(&mut gaps, doc.wrapping_sub(last_doc));
        last_doc = doc;
        put_posting_rest(&mut rests, p, positions);
    }
    let mut out = Vec::with_capacity(term.len() + 20 + gaps.len() + rests.len());
    put_varint(&mut out, term.len() as u32);
    out.extend_from_slice(term.as_bytes());
    put_varint(&mut out, postings.len() as u32);
    put_varint(&mut out, postings_len(gaps.len() + rests.len()));
    put_varint(&mut out, postings_len(gaps.len()));
    out.extend_from_slice(&gaps);
    out.extend_from_slice(&rests);
    out
}

/// A posting's fields after its number's gap, as [`encode_term`] writes them.
fn put_posting_rest(out: &mut Vec<u8>, p: &RawPosting, positions: &[u32]) {
    put_varint(out, p.title_tf.into());
    put_varint(out, p.body_tf);
    put_varint(out, p.agency_tf.into());
    out.push(positions.len() as u8);
    let mut last = 0u32;
    for &pos in positions {
        put_varint(out, pos.wrapping_sub(last));
        last = pos;
    }
}

/// The snapshot this build writes, as it goes: excerpts as documents arrive, postings at
/// finish, the head last.
pub(super) struct Next {
    dir: PathBuf,
    generation: u64,
    excerpts: Mutex<Appender>,
}

/// A file written front to back, with its length and checksum so far; the first error stops
/// it.
struct Appender {
    file: Option<BufWriter<File>>,
    len: u64,
    hasher: crc32fast::Hasher,
    error: Option<String>,
}

impl Appender {
    fn create(path: &Path) -> Appender {
        let (file, error) = match File::create(path) {
            Ok(file) => (Some(BufWriter::with_capacity(256 << 10, file)), None),
            Err(err) => (None, Some(err.to_string())),
        };
        Appender {
            file,
            len: 0,
            hasher: crc32fast::Hasher::new(),
            error,
        }
    }

    /// Appends `bytes`; returns where they start, or `None` once the file has failed.
    fn put(&mut self, bytes: &[u8]) -> Option<u64> {
        let file = self.file.as_mut()?;
        if let Err(err) = file.write_all(bytes) {
            self.error = Some(err.to_string());
            self.file = None;
            return None;
        }
        self.hasher.update(bytes);
        let at = self.len;
        self.len += bytes.len() as u64;
        Some(at)
    }

    /// Flushes; returns the length and checksum, or why the file is incomplete.
    fn close(mut self) -> Result<(u64, u32), String> {
        if let Some(err) = self.error.take() {
            return Err(err);
        }
        let mut file = self.file.take().ok_or("not written")?;
        file.flush().map_err(|err| err.to_string())?;
        Ok((self.len, self.hasher.finalize()))
    }
}

/// The next snapshot's postings file, written a batch of blocks at a time.
pub(super) struct PostingsWriter {
    file: Appender,
    blocks: Blocks,
}

/// How the postings blocks of a snapshot were written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Blocks {
    /// Blocks written.
    pub written: usize,
    /// Of those, the ones whose frame was copied from the previous snapshot.
    pub copied: usize,
    /// Of those, the ones kept whole: their index files too were the previous build's.
    pub whole: usize,
}

/// What the index made of one block of terms: the name its packs go by, the packs (script
/// id and SHA-256 in hex) and each term's dictionary entry and document frequency. A build
/// that keeps the block whole takes all this from here instead of scoring its terms.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct BlockRecord {
    pub(super) name: String,
    pub(super) packs: Vec<(String, String)>,
    pub(super) entries: Vec<(String, usize)>,
}

impl BlockRecord {
    /// The record's bytes: the name, the packs and the entries, each string after its
    /// length, counts and lengths as varints.
    pub(super) fn encode<'e>(
        name: &str,
        packs: &[(String, String)],
        entries: impl ExactSizeIterator<Item = (&'e str, usize)>,
    ) -> Vec<u8> {
        let mut out = Vec::new();
        let put_str = |out: &mut Vec<u8>, s: &str| {
            put_varint(out, s.len() as u32);
            out.extend_from_slice(s.as_bytes());
        };
        put_str(&mut out, name);
        put_varint(&mut out, packs.len() as u32);
        for (id, sha) in packs {
            put_str(&mut out, id);
            put_str(&mut out, sha);
        }
        put_varint(&mut out, entries.len() as u32);
        for (entry, df) in entries {
            put_varint(&mut out, df as u32);
            put_str(&mut out, entry);
        }
        out
    }

    /// Reads a record back from its compressed frame.
    pub(super) fn read(frame: &[u8]) -> std::io::Result<BlockRecord> {
        Self::decode(&decompress(frame)?)
    }

    fn decode(bytes: &[u8]) -> std::io::Result<BlockRecord> {
        let mut r = Cursor { bytes, pos: 0 };
        let string = |r: &mut Cursor<'_>| -> std::io::Result<String> {
            let len = r.varint()? as usize;
            let text = bytes.get(r.pos..r.pos + len).ok_or_else(damaged)?;
            r.pos += len;
            String::from_utf8(text.to_vec()).map_err(|_| damaged())
        };
        let name = string(&mut r)?;
        let packs = (0..r.varint()?)
            .map(|_| Ok((string(&mut r)?, string(&mut r)?)))
            .collect::<std::io::Result<Vec<_>>>()?;
        let entries = (0..r.varint()?)
            .map(|_| {
                let df = r.varint()? as usize;
                Ok((string(&mut r)?, df))
            })
            .collect::<std::io::Result<Vec<_>>>()?;
        if r.pos != bytes.len() {
            return Err(damaged());
        }
        Ok(BlockRecord {
            name,
            packs,
            entries,
        })
    }
}

/// A block's bytes for the next snapshot: as made, or already compressed (a frame copied
/// from the previous snapshot).
pub(super) enum Frame {
    Raw(Vec<u8>),
    Compressed(Vec<u8>),
}

/// A block for the next snapshot: its terms ([`encode_term`]) and its [`BlockRecord`].
pub(super) struct BlockOut {
    pub(super) terms: Frame,
    pub(super) record: Frame,
}

impl Next {
    /// Starts the generation after `previous` in `dir`, or without one after every
    /// generation whose files are there (a head that did not load may name one of them).
    pub(super) fn create(dir: &Path, previous: Option<&Previous>) -> Next {
        let generation = match previous {
            Some(previous) => previous.generation + 1,
            None => std::fs::read_dir(dir)
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|entry| {
                    let name = entry.file_name();
                    let (_, n) = name.to_str()?.split_once('.')?;
                    n.parse::<u64>().ok()
                })
                .max()
                .map_or(0, |n| n + 1),
        };
        Next {
            dir: dir.to_path_buf(),
            generation,
            excerpts: Mutex::new(Appender::create(
                &dir.join(format!("excerpts.{generation}")),
            )),
        }
    }

    /// Appends an excerpt; returns where it lies, or `None` once the file has failed.
    pub(super) fn put_excerpt(&self, excerpt: &str) -> Option<(u64, u32)> {
        let mut excerpts = self.excerpts.lock().unwrap_or_else(|e| e.into_inner());
        excerpts
            .put(excerpt.as_bytes())
            .map(|at| (at, excerpt.len() as u32))
    }

    /// The postings file's writer.
    pub(super) fn postings(&self) -> PostingsWriter {
        PostingsWriter {
            file: Appender::create(&self.dir.join(format!("postings.{}", self.generation))),
            blocks: Blocks::default(),
        }
    }

    /// Completes the snapshot: the head names both files, and every other file in the folder
    /// goes; returns the postings blocks written and copied. `Err` (why) leaves the folder
    /// without a usable snapshot but never a wrong one.
    pub(super) fn commit(
        self,
        postings: PostingsWriter,
        slots: &[Slot],
        averages: (f64, f64),
        terms: usize,
    ) -> Result<Blocks, String> {
        let (postings, blocks) = postings.close()?;
        let excerpts = self
            .excerpts
            .into_inner()
            .unwrap_or_else(|e| e.into_inner())
            .close()?;
        let mut head = Vec::with_capacity(HEAD_FIXED + slots.len() * SLOT_BYTES + 32);
        head.extend_from_slice(HEAD_MAGIC);
        head.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        head.extend_from_slice(&(MAX_POSITIONS as u32).to_le_bytes());
        head.extend_from_slice(&self.generation.to_le_bytes());
        head.extend_from_slice(&averages.0.to_bits().to_le_bytes());
        head.extend_from_slice(&averages.1.to_bits().to_le_bytes());
        head.extend_from_slice(&(terms as u64).to_le_bytes());
        head.extend_from_slice(&(slots.len() as u32).to_le_bytes());
        for (len, sum) in [postings, excerpts] {
            head.extend_from_slice(&len.to_le_bytes());
            head.extend_from_slice(&sum.to_le_bytes());
        }
        for slot in slots {
            head.extend_from_slice(&slot.key.unwrap_or_default());
            head.push(u8::from(slot.key.is_some()));
            head.extend_from_slice(&slot.lengths.0.to_le_bytes());
            head.extend_from_slice(&slot.lengths.1.to_le_bytes());
            head.extend_from_slice(&slot.excerpt.0.to_le_bytes());
            head.extend_from_slice(&slot.excerpt.1.to_le_bytes());
        }
        let sum = Sha256::digest(&head);
        head.extend_from_slice(&sum);
        let tmp = self.dir.join("head.tmp");
        std::fs::write(&tmp, &head).map_err(|err| err.to_string())?;
        std::fs::rename(&tmp, self.dir.join(HEAD_FILE)).map_err(|err| err.to_string())?;
        let keep = [
            HEAD_FILE.to_owned(),
            format!("postings.{}", self.generation),
            format!("excerpts.{}", self.generation),
        ];
        remove_all_but(&self.dir, &keep);
        Ok(blocks)
    }
}

/// Best effort: a leftover file costs disk, never correctness, and the next commit retries.
fn remove_all_but(dir: &Path, keep: &[String]) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !keep.iter().any(|k| name.as_os_str() == k.as_str()) {
            std::fs::remove_file(entry.path()).ok();
        }
    }
}

impl PostingsWriter {
    /// Appends blocks, in term order, compressing in parallel what needs it.
    pub(super) fn write(&mut self, blocks: Vec<BlockOut>) {
        if self.failed() {
            return;
        }
        for block in &blocks {
            self.count(
                matches!(block.terms, Frame::Compressed(_)),
                matches!(block.record, Frame::Compressed(_)),
            );
        }
        let bytes = |frame: Frame| match frame {
            Frame::Compressed(bytes) => bytes,
            Frame::Raw(raw) => compress(&raw),
        };
        let frames: Vec<(Vec<u8>, Vec<u8>)> = blocks
            .into_par_iter()
            .map(|block| (bytes(block.terms), bytes(block.record)))
            .collect();
        for (frame, record) in frames {
            for bytes in [frame, record] {
                self.file.put(&(bytes.len() as u32).to_le_bytes());
                self.file.put(&bytes);
            }
        }
    }

    /// Whether the file failed: nothing more goes in.
    pub(super) fn failed(&self) -> bool {
        self.file.file.is_none()
    }

    /// Counts a block written by [`PostingsWriter::write`]: whether its frame was copied,
    /// and whether it was kept whole.
    fn count(&mut self, copied: bool, whole: bool) {
        self.blocks.written += 1;
        self.blocks.copied += usize::from(copied || whole);
        self.blocks.whole += usize::from(whole);
    }

    /// Returns the file's length and checksum, and how its blocks were written.
    fn close(self) -> Result<((u64, u32), Blocks), String> {
        let blocks = self.blocks;
        Ok((self.file.close()?, blocks))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_read_and_skipped_land_where_decoding_each_would() {
        // Lengths of one to five bytes, ends falling anywhere in an eight-byte word.
        let values: Vec<u32> = (0..2000u32)
            .map(|i| match i % 7 {
                0 => i % 0x80,
                1 => 0x80 + i,
                2 => 0x3fff - i % 3,
                3 => 0x4000 + i * 31,
                4 => 0x20_0000 + i * 977,
                5 => u32::MAX - i,
                _ => 0x7f,
            })
            .collect();
        let mut bytes = Vec::new();
        let mut ends = Vec::new();
        for &v in &values {
            put_varint(&mut bytes, v);
            ends.push(bytes.len());
        }
        let mut r = Cursor {
            bytes: &bytes,
            pos: 0,
        };
        for (&v, &end) in values.iter().zip(&ends) {
            assert_eq!(r.varint().unwrap(), v);
            assert_eq!(r.pos, end);
        }
        for start in 0..40 {
            for n in 0..20 {
                let from = if start == 0 { 0 } else { ends[start - 1] };
                let mut r = Cursor {
                    bytes: &bytes,
                    pos: from,
                };
                r.skip_varints(n).unwrap();
                let want = if n == 0 { from } else { ends[start + n - 1] };
                assert_eq!(r.pos, want, "{n} varints from the {start}th");
            }
        }
        // Near the end, bytes are taken one at a time; past it is an error.
        let last = values.len() - 3;
        let mut r = Cursor {
            bytes: &bytes,
            pos: ends[last - 1],
        };
        r.skip_varints(3).unwrap();
        assert_eq!(r.pos, bytes.len());
        r.pos = ends[last - 1];
        assert!(r.skip_varints(4).is_err());
    }

    /// Writes `terms` (from [`encode_term`]) as the index does: cut by a [`Cutter`], a
    /// block's frame copied when `reuse` holds the same bytes, each with an empty record.
    fn put_terms(writer: &mut PostingsWriter, reuse: Option<&Reuse>, terms: Vec<Vec<u8>>) {
        let mut cutter = Cutter::default();
        let mut blocks = Vec::new();
        let mut raw = Vec::new();
        let count = terms.len();
        for (i, term) in terms.into_iter().enumerate() {
            raw.extend_from_slice(&term);
            let text = std::str::from_utf8(term_text(&term)).unwrap();
            if cutter.add(text, term.len()) || i + 1 == count {
                let raw = std::mem::take(&mut raw);
                let record = Frame::Raw(BlockRecord::encode("", &[], std::iter::empty()));
                blocks.push(match reuse.and_then(|reuse| reuse.take_same(&raw)) {
                    Some((frame, _)) => BlockOut {
                        terms: Frame::Compressed(frame),
                        record,
                    },
                    None => BlockOut {
                        terms: Frame::Raw(raw),
                        record,
                    },
                });
            }
        }
        writer.write(blocks);
    }

    fn posting(doc: u32, body_tf: u32, pos_start: u32, pos_len: u8) -> RawPosting {
        RawPosting {
            term: 0,
            doc,
            title_tf: 1,
            body_tf,
            agency_tf: 0,
            pos_start,
            pos_len,
        }
    }

    #[test]
    fn a_kept_snapshot_loads_and_a_cut_or_padded_head_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let next = Next::create(dir.path(), None);
        let key = document_key("Title", BodyText::Text("body"), "a.md", "Agency");
        let excerpt = next.put_excerpt("An excerpt").unwrap();
        let mut postings = next.postings();
        let positions = [3u32, 9];
        let p = posting(0, 2, 0, 2);
        put_terms(
            &mut postings,
            None,
            vec![encode_term("body", &[(0, &p, &positions[..])])],
        );
        let slots = [Slot {
            key: Some(key),
            lengths: (1, 2),
            excerpt,
        }];
        next.commit(postings, &slots, (1.5, 2.0), 0).unwrap();

        let previous = Previous::load(dir.path()).unwrap().expect("a snapshot");
        assert!(previous.scored_like(1, (1.5, 2.0)));
        assert!(!previous.scored_like(2, (1.5, 2.0)));
        assert!(!previous.scored_like(1, (1.5, 2.5)));
        let claimed = previous.claim(&key, 5).expect("the key is there");
        assert_eq!(
            (claimed.lengths, claimed.excerpt.as_str()),
            ((1, 2), "An excerpt")
        );
        assert!(previous.claim(&key, 6).is_none(), "claimed once");
        let mut reader = previous.reader(None).unwrap();
        let term = reader.take().unwrap();
        assert_eq!(term.term, "body");
        assert_eq!(term.postings[0].doc, 5, "renumbered");
        assert_eq!(term.positions, [3, 9]);
        assert!(reader.head().is_none());

        let head = std::fs::read(dir.path().join(HEAD_FILE)).unwrap();
        for bad in [&head[..head.len() - 1], &[&head[..], b"x"].concat()[..]] {
            std::fs::write(dir.path().join(HEAD_FILE), bad).unwrap();
            assert!(Previous::load(dir.path()).is_err());
        }
        // A build after a head that did not load writes a generation of its own.
        assert_eq!(Next::create(dir.path(), None).generation, 1);
    }

    #[test]
    fn a_snapshot_that_fails_to_read_back_is_deleted() {
        // Sound checksums over bytes that do not decode (a writer's bug): the build that
        // meets them fails, and the next one starts without them.
        let dir = tempfile::tempdir().unwrap();
        let next = Next::create(dir.path(), None);
        let mut postings = next.postings();
        postings.write(vec![BlockOut {
            terms: Frame::Raw(vec![0xff; 12]),
            record: Frame::Raw(Vec::new()),
        }]);
        next.commit(postings, &[], (1.0, 1.0), 0).unwrap();
        let previous = Previous::load(dir.path())
            .unwrap()
            .expect("checksums match");
        let err = previous
            .reader(None)
            .err()
            .expect("the block does not decode");
        assert!(previous.discard(&err).contains("next build"));
        assert!(Previous::load(dir.path()).unwrap().is_none());
    }

    /// Encodes one term the way the index hands it to the writer.
    fn encoded(term: &TermPostings) -> Vec<u8> {
        let all: Vec<(u32, &RawPosting, &[u32])> = term
            .postings
            .iter()
            .map(|p| {
                let start = p.pos_start as usize;
                (p.doc, p, &term.positions[start..start + p.pos_len as usize])
            })
            .collect();
        encode_term(&term.term, &all)
    }

    /// Every term of the snapshot in `dir`, each number claimed by itself.
    fn read_all(dir: &Path, docs: u32, reuse: Option<Reuse>) -> (Previous, Vec<TermPostings>) {
        let previous = Previous::load(dir).unwrap().expect("a snapshot");
        for d in 0..docs {
            previous.claim(&key_of(d), d).expect("claimed");
        }
        let mut terms = Vec::new();
        {
            let mut reader = previous.reader(reuse).unwrap();
            while reader.head().is_some() {
                let mut term = reader.take().unwrap();
                if let Some(raw) = &term.raw {
                    (term.postings, term.positions) = raw.decode().unwrap();
                }
                terms.push(term);
            }
        }
        (previous, terms)
    }

    fn key_of(d: u32) -> ContentKey {
        document_key(&format!("d{d}"), BodyText::Text("body"), "a.md", "Agency")
    }

    #[test]
    fn an_edit_copies_the_blocks_it_leaves_alone_and_rewrites_the_one_it_changed() {
        let dir = tempfile::tempdir().unwrap();
        let docs = 40u32;
        let write = |next: Next, reuse: Option<Reuse>, terms: Vec<Vec<u8>>| {
            let slots: Vec<Slot> = (0..docs)
                .map(|d| Slot {
                    key: Some(key_of(d)),
                    lengths: (1, 9),
                    excerpt: next.put_excerpt("x").unwrap(),
                })
                .collect();
            let mut postings = next.postings();
            put_terms(&mut postings, reuse.as_ref(), terms);
            next.commit(postings, &slots, (1.0, 9.0), 0).unwrap()
        };
        // About 4 MB of terms: ten blocks or so.
        let positions = [2u32, 30, 31, 400];
        let first: Vec<Vec<u8>> = (0..10_000)
            .map(|i| {
                let ps: Vec<RawPosting> = (0..docs)
                    .map(|d| posting(d, 1 + (i + d) % 7, 0, 4))
                    .collect();
                let all: Vec<(u32, &RawPosting, &[u32])> =
                    ps.iter().map(|p| (p.doc, p, &positions[..])).collect();
                encode_term(&format!("t{i:05}"), &all)
            })
            .collect();
        let Blocks {
            written: blocks,
            copied,
            ..
        } = write(Next::create(dir.path(), None), None, first);
        assert_eq!(copied, 0, "nothing to copy from");
        assert!(blocks >= 8, "{blocks} blocks");

        // The next build changes one posting of one term (its bytes grow) and keeps every
        // other term.
        let reuse = Reuse::default();
        let (previous, mut terms) = read_all(dir.path(), docs, Some(reuse.clone()));
        assert_eq!(terms.len(), 10_000);
        let edited = terms.iter().position(|t| t.term == "t05000").unwrap();
        terms[edited].postings[3].body_tf = 300;
        let next = Next::create(dir.path(), Some(&previous));
        let Blocks {
            written: again,
            copied,
            ..
        } = write(next, Some(reuse), terms.iter().map(encoded).collect());
        assert_eq!(again, blocks);
        assert_eq!(
            copied,
            blocks - 1,
            "every block but the edited one is copied"
        );
        drop(previous);

        // What the copies make up reads back as what was written.
        let (_, read) = read_all(dir.path(), docs, None);
        assert_eq!(read.len(), terms.len());
        for (got, want) in read.iter().zip(&terms) {
            assert_eq!(encoded(got), encoded(want), "{}", want.term);
        }
        assert_eq!(read[edited].postings[3].body_tf, 300);
    }

    fn numbering(claimed: &[AtomicU32], moved_below: u32) -> Numbering<'_> {
        Numbering {
            claimed,
            moved_below,
        }
    }

    #[test]
    fn terms_whose_numbers_all_stay_are_kept_as_bytes_and_the_others_decoded() {
        let positions = [4u32, 9];
        let (a, b, c) = (
            posting(2, 1, 0, 2),
            posting(7, 3, 0, 1),
            posting(9, 2, 0, 0),
        );
        let kept = encode_term("kept", &[(2, &a, &positions[..]), (9, &c, &[])]);
        let stale = encode_term(
            "stale",
            &[(2, &a, &positions[..]), (7, &b, &positions[..1])],
        );
        let moved = encode_term("moved", &[(5, &c, &[]), (9, &c, &[])]);
        let gone = encode_term("gone", &[(7, &b, &[])]);
        let bytes = [kept.clone(), stale.clone(), moved, gone].concat();
        // Number 7 is unclaimed (its document changed), 5 is now 6 (a document before it
        // went); the others keep their numbers.
        let claimed: Vec<AtomicU32> = (0..10)
            .map(|n| {
                AtomicU32::new(match n {
                    7 => UNCLAIMED,
                    5 => 6,
                    n => n,
                })
            })
            .collect();
        let numbers = numbering(&claimed, 8);
        let terms = decode_block(&Arc::new(bytes), numbers).unwrap();
        let names: Vec<&str> = terms.iter().map(|t| t.term.as_str()).collect();
        assert_eq!(
            names,
            ["kept", "stale", "moved"],
            "a term left without postings goes"
        );

        let unchanged = &terms[0];
        assert!(unchanged.postings.is_empty(), "not decoded");
        assert!(unchanged.stale.is_none());
        assert_eq!(unchanged.count, 2);
        let raw = unchanged.raw.as_ref().expect("its bytes");
        assert_eq!(raw.bytes(), &kept[..]);
        let (postings, read_positions) = raw.decode().unwrap();
        assert_eq!(
            postings
                .iter()
                .map(|p| (p.doc, p.body_tf))
                .collect::<Vec<_>>(),
            [(2, 1), (9, 2)]
        );
        assert_eq!(read_positions, positions);

        // A changed document's posting leaves the term undecoded, its bytes set aside.
        let changed = &terms[1];
        assert!(changed.raw.is_none() && changed.postings.is_empty());
        assert_eq!(changed.count, 1, "the unclaimed number's posting left out");
        let slice = changed.stale.as_ref().expect("its bytes");
        assert_eq!(slice.bytes(), &stale[..]);
        let (postings, read_positions) = slice.decode_claimed(numbers).unwrap();
        assert_eq!(postings.iter().map(|p| p.doc).collect::<Vec<_>>(), [2]);
        assert_eq!(read_positions, positions);
        // The same posting under the same number gives the same bytes; any other does not.
        let same = [(7, &b, &positions[..1])];
        assert_eq!(slice.same_after(numbers, &same).unwrap(), Some(2));
        let b2 = posting(7, 4, 0, 1);
        for fresh in [
            &[][..],
            &[(7, &b2, &positions[..1])][..],
            &[(7, &b, &positions[1..])][..],
            &[(7, &b, &positions[..])][..],
            &[(6, &b, &positions[..1]), (7, &b, &positions[..1])][..],
            &[(7, &b, &positions[..1]), (8, &b, &positions[..1])][..],
        ] {
            assert_eq!(slice.same_after(numbers, fresh).unwrap(), None);
        }
        // A number claimed by another makes the term read whole.
        let renumbered = &terms[2];
        assert!(renumbered.raw.is_none() && renumbered.stale.is_none());
        assert_eq!(
            renumbered
                .postings
                .iter()
                .map(|p| p.doc)
                .collect::<Vec<_>>(),
            [6, 9]
        );
        let moved = encode_term("moved", &[(5, &c, &[]), (9, &c, &[])]);
        let moved = RawSlice {
            range: 0..moved.len(),
            block: Arc::new(moved),
        };
        assert_eq!(moved.same_after(numbers, &[]).unwrap(), None);
    }

    #[test]
    fn an_old_block_made_again_from_its_own_bytes_is_found_without_a_copy() {
        let p = posting(0, 1, 0, 0);
        let (a, b) = (
            encode_term("a", &[(0, &p, &[])]),
            encode_term("b", &[(0, &p, &[])]),
        );
        let block = Arc::new([a.clone(), b.clone()].concat());
        let slice = |range| RawSlice {
            block: Arc::clone(&block),
            range,
        };
        let reuse = Reuse::default();
        let queue_old = || {
            reuse.push([OldBlock {
                raw: Arc::clone(&block),
                frame: b"frame".to_vec(),
                record: b"record".to_vec(),
            }])
        };
        let frames = Some((b"frame".to_vec(), b"record".to_vec()));
        // The block's own terms, in order: matched by identity, nothing copied.
        queue_old();
        let mut open = OpenBytes::default();
        open.push_slice(&slice(0..a.len()));
        open.push_slice(&slice(a.len()..block.len()));
        assert_eq!(reuse.take_open(open), (Vec::new(), frames.clone()));
        // The same bytes, one term made again: copied, compared, found.
        queue_old();
        let mut open = OpenBytes::default();
        open.push(&a);
        open.push_slice(&slice(a.len()..block.len()));
        assert_eq!(reuse.take_open(open), (block.to_vec(), frames));
        // Its first term only: another block.
        queue_old();
        let mut open = OpenBytes::default();
        open.push_slice(&slice(0..a.len()));
        assert_eq!(reuse.take_open(open), (a.clone(), None));
        // Its second term first: copied.
        let mut open = OpenBytes::default();
        open.push_slice(&slice(a.len()..block.len()));
        open.push_slice(&slice(0..a.len()));
        assert_eq!(open.into_bytes(), [b.clone(), a].concat());
    }

    #[test]
    fn a_cut_block_is_an_error_not_a_panic() {
        let positions = [1u32, 200, 70_000];
        let (a, b) = (posting(0, 1, 0, 3), posting(300, 5, 0, 0));
        let mut bytes = encode_term("term", &[(0, &a, &positions[..]), (300, &b, &[])]);
        let first = bytes.len();
        bytes.extend(encode_term("zed", &[(1, &b, &[])]));
        let claimed: Vec<AtomicU32> = (0..400).map(AtomicU32::new).collect();
        let block = |bytes: &[u8]| Arc::new(bytes.to_vec());
        // Every number is its own: read to the end of each term, or only its head.
        for moved_below in [400, 0] {
            let whole = decode_block(&block(&bytes), numbering(&claimed, moved_below)).unwrap();
            assert_eq!(whole.len(), 2);
            let (postings, read_positions) = whole[0].raw.as_ref().unwrap().decode().unwrap();
            assert_eq!(postings.len(), 2);
            assert_eq!(read_positions, positions);
            for len in (1..bytes.len()).filter(|&len| len != first) {
                assert!(
                    decode_block(&block(&bytes[..len]), numbering(&claimed, moved_below)).is_err(),
                    "cut at {len}"
                );
            }
            assert_eq!(
                decode_block(&block(&bytes[..first]), numbering(&claimed, moved_below))
                    .unwrap()
                    .len(),
                1
            );
        }
    }

    #[test]
    fn a_term_is_read_only_up_to_the_first_number_past_the_last_that_moved() {
        let (a, b, c) = (
            posting(1, 1, 0, 0),
            posting(5, 1, 0, 0),
            posting(9, 1, 0, 0),
        );
        let mut bytes = encode_term("term", &[(1, &a, &[]), (5, &b, &[]), (9, &c, &[])]);
        // The last number's gap is damaged: it runs on into the postings' other fields.
        let rests = read_term_head(&mut Cursor {
            bytes: &bytes,
            pos: 0,
        })
        .unwrap()
        .rests;
        bytes[rests - 1] = 0x80;
        let claimed: Vec<AtomicU32> = (0..10)
            .map(|n| AtomicU32::new(if n == 3 { UNCLAIMED } else { n }))
            .collect();
        let block = Arc::new(bytes);
        // Number 3 moved, so 5 and 9 are known to stay: the damaged gap is not read and the
        // term's bytes are kept.
        let kept = decode_block(&block, numbering(&claimed, 4)).unwrap();
        assert_eq!(kept.len(), 1);
        assert!(kept[0].raw.is_some(), "kept as bytes");
        // Told that number 9 may have moved, it reads the last gap too.
        assert!(decode_block(&block, numbering(&claimed, 10)).is_err());
        // A changed document's number before the stop leaves the term undecoded.
        claimed[1].store(UNCLAIMED, Ordering::Relaxed);
        let stale = decode_block(&block, numbering(&claimed, 4)).unwrap();
        assert_eq!(stale[0].count, 2);
        assert!(stale[0].stale.is_some(), "kept as bytes, set aside");
        // A number claimed by another before the stop makes the term decoded.
        claimed[1].store(2, Ordering::Relaxed);
        assert!(
            decode_block(&block, numbering(&claimed, 4)).is_err(),
            "decoding reads it all"
        );
    }
}
