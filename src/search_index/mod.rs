//! Stage 6, **index**: the sharded client-side search index under `search/<key>/`.
//!
//! Input: every [`Document`] (metadata, known before rendering) and every table's record
//! count ([`RecordTable`]); one at a time during the render loop, each document's [`Body`]
//! text ([`Indexer::add`]); then every table record as its page renders
//! ([`Indexer::add_record`]). Output: plain `<script>` files, each calling
//! `LEAKPRESS_SEARCH.load(id, data)`, so the index loads over `file://` where `fetch()` is
//! blocked. The reader (`themes/default/static/search.js`) loads the manifest, then only the
//! files a query's terms need.
//!
//! Invariants:
//! - Memory holds compact postings (numbers), never document or record text: each body is
//!   tokenized as its page renders and dropped (or, unchanged since the previous build, its
//!   terms stay in that build's [`snapshot`], read back in term order at finish); excerpt
//!   text goes out in
//!   [`DOC_CHUNK`]-document files as soon as a chunk is complete. Records are numbered before
//!   the first arrives (from their tables' row counts), so they go out the same way: memory
//!   holds a fixed slot per record (lengths, content key, where its excerpt lies in the
//!   next [`snapshot`]), not its title and excerpt.
//! - Output is deterministic whatever the thread count: terms sorted (scored and encoded in
//!   parallel, then packed one at a time in term order), documents numbered by a
//!   total order, records numbered after them by table (agency, display name, listing URL)
//!   then row, file names from a hash of the documents ([`Indexer::key`]), never from thread
//!   timing. Term ids are interned in [`TERM_SHARDS`] independently locked maps in arrival
//!   order, which is only ever used to find a term's postings again, then sorted away at
//!   finish.
//! - The manifest does not grow with documents or vocabulary: it holds counts, the shard count
//!   and the facet table (agency × kind × year ranges).
//!
//! # Files (all under `search/<key>/`, `<key>` = 12 hex digits)
//! - `manifest.js` → `load("manifest", {v, docs, shards, chunk, prefix, agencies: [[slug,
//!   name]], kinds: [name], years: [year], ranges: [[first_doc, agency, kind, year]]})`.
//!   Documents are numbered sorted by (agency, kind, year, source path), so each (agency,
//!   kind, year) combination is one contiguous range of numbers: filters and facet counts need
//!   no per-document data. `year` is -1 for undated. Records follow the documents, table by
//!   table sorted by (agency, display name, listing URL), each table's rows in table order,
//!   with `kind` the table's display name and `year` always -1: one range per agency and
//!   table instead of one per year too (a 500,000-row table spans many years), so a record
//!   cannot be filtered by year; its date still shows in results.
//! - `t<n>.js`, the dictionary's root shards → `load("t<n>", [{term: entry}, {prefix:
//!   [[first_term, id, max_df]]}])`. Terms are grouped by their first [`SHARD_PREFIX_CHARS`]
//!   characters (the *prefix*) and a group lives in shard `fnv1a(prefix) % shards`. A group
//!   over [`LEAF_BYTES`] is not inline: it is split into sorted sub-shards `s<s>.js` →
//!   `load("s<s>", {term: entry})`, each about [`LEAF_BYTES`], and the shard lists them as
//!   `[[first_term, "s<s>", max_df]]` by first term (terms compared as UTF-16, as JS
//!   compares strings) and largest document frequency. A group of more than [`FANOUT`]
//!   leaves gets a tree: its list names inner nodes `r<r>.js` → `load("r<r>", [[first_term,
//!   id, max_df]])`, each listing at most [`FANOUT`] leaves or inner nodes, so no list a
//!   reader fetches grows with the vocabulary. A heavy prefix thus costs a reader one small
//!   list per level (one level per [`FANOUT`]-fold growth) plus one leaf, and the manifest
//!   does not change.
//! - `entry` is `[df, docs, positions]` with both strings inline ([`encode`]) when together at
//!   most [`INLINE_BYTES`], else `[df, [[p, i, q, j, first_doc, last_doc, count,
//!   max_impact]]]`: *tiers* of postings by impact, highest first (the best [`TIERS`]\[0\],
//!   the next [`TIERS`]\[1\], …, then [`BLOCK_POSTINGS`] at a time), each sorted by
//!   document. A tier's documents string is item `i` of the *pack* `p<p>.js` → `load("p<p>",
//!   [docs, …])` and its positions string item `j` of the pack `q<q>.js` → `load("q<q>",
//!   [positions, …])`; the pack ids `p` and `q` are strings. A one-word query reads the
//!   first tier only and already has its best results; positions are fetched only for
//!   phrases.
//! - Packs hold the tiers of neighbouring terms (in term order), so the index is a few
//!   thousand files rather than two per tier: tier 0 blocks go to packs of at most
//!   [`DOC_PACK_BYTES`]\[0\] bytes (what a one-word query reads), tier 1 blocks to packs of
//!   [`DOC_PACK_BYTES`]\[1\], later tiers to [`DOC_PACK_BYTES`]\[2\]; positions, read only
//!   for phrases, to packs of [`POSITION_PACK_BYTES`]. A block larger than its pack size is
//!   a pack alone. Terms read together (a prefix's expansions) tend to share packs.
//! - Terms are cut into *blocks* of about 450 KB of raw postings, ending after a term chosen
//!   by a hash of its text ([`snapshot::Cutter`]); every pack closes where a block ends, and
//!   a pack's id is its block's name (a hash of the block's first term, in hex, `_<n>` added
//!   if another block has it) then `-<n>`, its number in the block. So an edit that changes
//!   a few terms changes the packs of their blocks only, and a rebuild keeps the files of
//!   every other block without scoring its terms (see [`snapshot`]).
//! - `d<n>.js` → `load("d<n>", [[title, url, date, excerpt]])`: documents `n*chunk ..`
//!   (`url` a site path without `/`, `date` ISO or "", `excerpt` the text's start, at most
//!   [`EXCERPT_CHARS`]). Small chunks, because the ten results of a page are usually ten
//!   chunks.
//!
//! # What the reader can match
//! Exact terms (stemmed or as typed); the last word typed as a prefix of three or more
//! letters (the prefix's group, or in a split group its sub-shards covering the prefix, the
//! four with the most frequent terms); one typo (an edit, insertion, deletion or swap) in a
//! word of four or more letters, searched among terms that share its prefix. So a typo in the
//! first three letters is never corrected, and in a split group the typo must also come after
//! the first letters that narrow the group to at most four sub-shards (in English text, the
//! fourth or fifth letter) within the last list on the word's path (in a tree, the inner node
//! of at most [`FANOUT`] leaves where the word would be). Prefix expansion walks the tree best
//! first by largest document frequency, so it reads the same four leaves as a flat list.
//!
//! Ranking inputs: each posting's `impact` is the document's BM25F score for the term
//! (title ×[`TITLE_WEIGHT`], agency name ×[`AGENCY_WEIGHT`], body ×1, lengths and their means
//! to four leading bits by [`coarse_length`]), times 16, rounded; the reader adds impacts up. Positions (title first, then the body after a gap) are kept for
//! the first [`MAX_POSITIONS`] occurrences per document, for phrase queries.

pub mod encode;
mod snapshot;
pub mod tokenize;
mod words;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rayon::prelude::*;
use serde_json::json;

use crate::cache::Cache;
use crate::collect::Agency;
use crate::config::Config;
use crate::document::{Document, LazyBody, excerpt};
use crate::error::Result;
use crate::output::{Output, sha256_hex};
use crate::spill::SpillFile;
use crate::tables::{RecordTable, SearchRecord};

pub use snapshot::Blocks;

pub use encode::{Posting, PostingRef, decode_block, encode_block, encode_refs, fnv1a};
pub use tokenize::{Mode, Token, tokenize};

/// Where a cache at `cache_dir` keeps the head of its search snapshot.
pub fn snapshot_head(cache_dir: &std::path::Path) -> std::path::PathBuf {
    cache_dir.join(snapshot::DIR).join(snapshot::HEAD_FILE)
}

/// Format version, in the manifest and the key: bumped whenever the same input gives other
/// bytes, so a reader never mixes files of two builds under one folder name. 7: packs close
/// where postings blocks end and are named by their block; 6: lengths and
/// mean lengths scored to four significant bits; 5: a split group's list names files (`s<n>`
/// or an inner node `r<n>`) instead of sub-shard numbers; 4: records numbered by table and
/// row (3 numbered them by URL), so the same input gives other numbers and needs another
/// folder.
pub const FORMAT_VERSION: u32 = 7;
/// Documents per `d<n>.js` file.
pub const DOC_CHUNK: usize = 4;
/// Characters of text kept per document for excerpts.
pub const EXCERPT_CHARS: usize = 160;
/// Positions kept per term per document.
pub const MAX_POSITIONS: usize = 16;
/// A term whose encoded documents and positions together are longer goes to tiers.
pub const INLINE_BYTES: usize = 384;
/// Postings in the first tiers of a long list, highest impacts first.
pub const TIERS: &[usize] = &[128, 512, 2048];
/// Postings per tier after [`TIERS`].
pub const BLOCK_POSTINGS: usize = 4096;
/// Largest `p<n>.js` pack (bytes of document strings) for tier 0, tier 1 and later tiers; a
/// larger block is a pack alone. Packing tiers of neighbouring terms keeps the file count
/// down at the cost of a few neighbours' bytes per file read.
pub const DOC_PACK_BYTES: [usize; 3] = [2560, 6144, 16384];
/// Largest `q<n>.js` pack (bytes of position strings): only phrase queries read them.
pub const POSITION_PACK_BYTES: usize = 64 * 1024;
/// Postings scored and encoded per parallel batch at finish. Two batches are in memory at
/// once (one scored, the next read back from the spill), so this is half what one batch held
/// before reading overlapped scoring, and the peak did not grow. `LEAKPRESS_INDEX_BATCH`
/// (postings) overrides it, for tests.
const BATCH_POSTINGS: usize = 1 << 19;

fn batch_postings() -> usize {
    std::env::var("LEAKPRESS_INDEX_BATCH")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(BATCH_POSTINGS)
}
/// Bytes of postings and positions held in memory while indexing; past this, each term
/// shard's postings go to a spill file as a sorted run, merged back per term at finish.
/// `LEAKPRESS_INDEX_MEMORY` (bytes) overrides it, for tests. (Vectors may hold up to twice
/// their length in capacity.) At 256 MiB a 10,000-document build peaked at 403-412 MiB, at
/// 128 MiB at 300-309 MiB, in the same wall time and with less system time (four
/// alternating pairs: 1.9-2.1 s against 1.9-2.7 s), its output byte-identical.
pub const MEMORY_BUDGET: usize = 128 << 20;

fn memory_budget() -> usize {
    std::env::var("LEAKPRESS_INDEX_MEMORY")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(MEMORY_BUDGET)
}
/// Target size of one root dictionary shard, used to pick the shard count.
pub const SHARD_BYTES: usize = 8 * 1024;
/// A prefix group larger than this is split into sub-shards of about this size.
pub const LEAF_BYTES: usize = 4 * 1024;
/// Most children listed by one node of a split group's tree (the root shard's list or an
/// inner node `r<n>.js`): about 1.5 KB of JSON.
pub const FANOUT: usize = 64;
/// BM25F weights and parameters.
pub const TITLE_WEIGHT: f64 = 4.0;
/// Agency-name weight.
pub const AGENCY_WEIGHT: f64 = 2.0;
const K1: f64 = 1.2;
const B: f64 = 0.75;
/// Impacts are BM25F × this, rounded.
pub const IMPACT_SCALE: f64 = 16.0;
/// The largest impact stored: far above any BM25F score times [`IMPACT_SCALE`] (idf times
/// 2.2 at most), it only bounds what ranking a term's postings by impact allocates.
pub const MAX_IMPACT: u32 = 1 << 16;
/// Position gap between the title and the body, so no phrase spans the two.
const FIELD_GAP: u32 = 8;

/// How many chars of a term pick its shard.
pub const SHARD_PREFIX_CHARS: usize = 3;

/// Independently locked term maps: render threads interning terms rarely meet on one lock.
pub const TERM_SHARDS: usize = 16;

/// FxHash (rustc's): the per-document term maps are hashed millions of times, and SipHash's
/// flooding resistance buys nothing against our own tokenizer's output.
#[derive(Default, Clone, Copy)]
pub(super) struct FxHasher(u64);

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        for &b in chunks.remainder() {
            self.add(b as u64);
        }
    }

    fn write_u8(&mut self, b: u8) {
        self.add(b as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// One term's counts in one document, before scoring.
#[derive(Debug, Clone)]
struct RawPosting {
    /// Term id within its [`TermShard`].
    term: u32,
    doc: u32,
    title_tf: u16,
    body_tf: u32,
    agency_tf: u16,
    /// Start in the shard's position pool, and count.
    pos_start: u32,
    pos_len: u8,
}

/// One of the [`TERM_SHARDS`] term maps with the postings of its terms (those not spilled).
#[derive(Default)]
struct TermShard {
    ids: FastMap<String, u32>,
    postings: Vec<RawPosting>,
    positions: Vec<u32>,
}

impl TermShard {
    fn held_bytes(&self) -> usize {
        self.postings.len() * std::mem::size_of::<RawPosting>() + self.positions.len() * 4
    }
}

/// A shard's postings grouped by term (a counting sort): those of term `id` are
/// `order[first[id]..first[id + 1]]`, as indices into `shard.postings` in arrival order.
/// Returns `(first, order)`: 4 bytes a term and 4 a posting, where a list per term would
/// cost a vector header and an allocation for each of a million terms.
fn group_by_term(shard: &TermShard) -> (Vec<u32>, Vec<u32>) {
    let mut first = vec![0u32; shard.ids.len() + 1];
    for p in &shard.postings {
        first[p.term as usize + 1] += 1;
    }
    for i in 1..first.len() {
        first[i] += first[i - 1];
    }
    let mut next = first.clone();
    let mut order = vec![0u32; shard.postings.len()];
    for (i, p) in shard.postings.iter().enumerate() {
        let slot = &mut next[p.term as usize];
        order[*slot as usize] = i as u32;
        *slot += 1;
    }
    (first, order)
}

/// A shard's postings as one spill run, grouped by term in term order (bytes, as `Ord` on
/// `String`, the order finish visits terms in). Per term: id and count, then per posting doc,
/// title_tf, body_tf, agency_tf, npos (one byte) and `npos` positions, each as the
/// difference from the one before (wrapping). Numbers are LEB128 varints: most counts and
/// gaps fit a byte, so a run is about half the fixed-width size, and a million documents'
/// postings (22 KB each in the benchmark corpus) need that much less free disk.
fn encode_run(shard: &TermShard) -> Vec<u8> {
    let (first, order) = group_by_term(shard);
    let mut present = vec![false; shard.ids.len()];
    for p in &shard.postings {
        present[p.term as usize] = true;
    }
    let mut terms: Vec<(&str, u32)> = shard
        .ids
        .iter()
        .filter(|(_, id)| present[**id as usize])
        .map(|(t, &id)| (t.as_str(), id))
        .collect();
    terms.sort_unstable();
    let mut out = Vec::with_capacity(shard.held_bytes() + terms.len() * 8);
    for (_, id) in terms {
        let list = &order[first[id as usize] as usize..first[id as usize + 1] as usize];
        put_varint(&mut out, id);
        put_varint(&mut out, list.len() as u32);
        for &i in list {
            let p = &shard.postings[i as usize];
            put_varint(&mut out, p.doc);
            put_varint(&mut out, p.title_tf.into());
            put_varint(&mut out, p.body_tf);
            put_varint(&mut out, p.agency_tf.into());
            out.push(p.pos_len);
            let start = p.pos_start as usize;
            let mut last = 0u32;
            for &pos in &shard.positions[start..start + p.pos_len as usize] {
                put_varint(&mut out, pos.wrapping_sub(last));
                last = pos;
            }
        }
    }
    out
}

/// Longest LEB128 `u32`.
const VARINT_MAX: usize = 5;
/// Longest encoded posting in a run: four varints, the count byte, and the positions.
const RUN_POSTING_MAX: usize = 4 * VARINT_MAX + 1 + MAX_POSITIONS * VARINT_MAX;

/// One LEB128 `u32` from `byte`; `bad` when it runs past [`VARINT_MAX`] bytes.
fn read_varint(
    mut byte: impl FnMut() -> std::io::Result<u8>,
    bad: fn() -> std::io::Error,
) -> std::io::Result<u32> {
    let mut value = 0u32;
    for shift in (0..VARINT_MAX as u32 * 7).step_by(7) {
        let byte = byte()?;
        value |= u32::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Ok(value);
        }
    }
    Err(bad())
}

fn put_varint(out: &mut Vec<u8>, mut value: u32) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Postings written out of memory: sorted runs in one temporary file ([`SpillFile`]), made
/// when the first run spills.
#[derive(Default)]
struct PostingSpill {
    file: Option<SpillFile>,
    /// By term shard: its runs as byte ranges, oldest first.
    runs: Vec<Vec<(u64, u64)>>,
    /// The first write error: indexing goes on, finish reports it.
    error: Option<String>,
}

impl PostingSpill {
    fn put(&mut self, shard: usize, run: &[u8]) {
        if self.error.is_some() {
            return;
        }
        if let Err(err) = self.try_put(shard, run) {
            self.error = Some(err.to_string());
        }
    }

    fn try_put(&mut self, shard: usize, run: &[u8]) -> std::io::Result<()> {
        let file = match &mut self.file {
            Some(file) => file,
            None => {
                self.runs = (0..TERM_SHARDS).map(|_| Vec::new()).collect();
                self.file
                    .insert(SpillFile::create(&[&std::env::temp_dir()], "index")?)
            }
        };
        let start = file.append(run)?;
        self.runs[shard].push((start, start + run.len() as u64));
        Ok(())
    }
}

/// Reads one spill run front to back through a small buffer.
struct RunReader<'f> {
    file: &'f SpillFile,
    /// Next file offset to read, and the run's end.
    at: u64,
    end: u64,
    buf: Vec<u8>,
    pos: usize,
    /// The term id of the next group, or `None` at the end.
    head: Option<u32>,
}

const RUN_BUFFER: usize = 64 * 1024;

fn cut_short() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::UnexpectedEof,
        "search index spill run cut short",
    )
}

impl<'f> RunReader<'f> {
    fn new(file: &'f SpillFile, start: u64, end: u64) -> std::io::Result<RunReader<'f>> {
        let mut reader = RunReader {
            file,
            at: start,
            end,
            buf: Vec::new(),
            pos: 0,
            head: None,
        };
        reader.next_head()?;
        Ok(reader)
    }

    /// Makes `want` unread bytes available, or all that are left of the run if fewer.
    fn fill(&mut self, want: usize) -> std::io::Result<()> {
        if self.buf.len() - self.pos >= want {
            return Ok(());
        }
        self.buf.drain(..self.pos);
        self.pos = 0;
        let more = want.max(RUN_BUFFER) - self.buf.len();
        let len = (more as u64).min(self.end - self.at) as usize;
        let old = self.buf.len();
        self.buf.resize(old + len, 0);
        self.file.read(&mut self.buf[old..], self.at)?;
        self.at += len as u64;
        Ok(())
    }

    fn byte(&mut self) -> std::io::Result<u8> {
        let byte = *self.buf.get(self.pos).ok_or_else(cut_short)?;
        self.pos += 1;
        Ok(byte)
    }

    /// One LEB128 varint from the buffer (filled by the caller).
    fn varint(&mut self) -> std::io::Result<u32> {
        read_varint(|| self.byte(), cut_short)
    }

    fn next_head(&mut self) -> std::io::Result<()> {
        if self.at == self.end && self.pos == self.buf.len() {
            self.head = None;
            return Ok(());
        }
        self.fill(2 * VARINT_MAX)?;
        self.head = Some(self.varint()?);
        Ok(())
    }

    /// Appends the head term's postings (positions into `positions`), then moves on.
    fn take(
        &mut self,
        postings: &mut Vec<RawPosting>,
        positions: &mut Vec<u32>,
    ) -> std::io::Result<()> {
        let term = self.head.unwrap_or(0);
        let count = self.varint()?;
        for _ in 0..count {
            self.fill(RUN_POSTING_MAX)?;
            let doc = self.varint()?;
            let title_tf = self.varint()? as u16;
            let body_tf = self.varint()?;
            let agency_tf = self.varint()? as u16;
            let pos_len = self.byte()?;
            let pos_start = positions.len() as u32;
            let mut last = 0u32;
            for _ in 0..pos_len {
                last = last.wrapping_add(self.varint()?);
                positions.push(last);
            }
            postings.push(RawPosting {
                term,
                doc,
                title_tf,
                body_tf,
                agency_tf,
                pos_start,
                pos_len,
            });
        }
        self.next_head()
    }
}

/// One term of a batch at finish: where its postings are.
struct BatchTerm {
    term: String,
    /// Its term shard and id there, if this build tokenized it anywhere.
    shard: Option<(usize, u32)>,
    /// Its postings read back from the spill runs and the snapshot, and their positions.
    disk: Vec<RawPosting>,
    disk_positions: Vec<u32>,
    /// Its bytes in the snapshot, when all its postings are from there, unchanged; `disk`
    /// is then empty until [`BatchTerm::decode`].
    raw: Option<snapshot::RawSlice>,
    /// Its bytes in the snapshot, when some of its postings there are changed documents'
    /// ([`snapshot::TermPostings::stale`]); until [`BatchTerm::settle`], `disk` holds only
    /// this build's spilled postings.
    stale: Option<snapshot::RawSlice>,
    /// How many postings are on disk, decoded or not.
    disk_count: usize,
}

impl From<snapshot::TermPostings> for BatchTerm {
    fn from(term: snapshot::TermPostings) -> BatchTerm {
        BatchTerm {
            term: term.term,
            shard: None,
            disk: term.postings,
            disk_positions: term.positions,
            raw: term.raw,
            stale: term.stale,
            disk_count: term.count,
        }
    }
}

impl BatchTerm {
    /// Decodes the postings of a term taken from the snapshot undecoded, for scoring.
    fn decode(&mut self) -> std::io::Result<()> {
        if let Some(raw) = &self.raw
            && self.disk.len() < self.disk_count
        {
            (self.disk, self.disk_positions) = raw.decode()?;
        }
        Ok(())
    }

    /// Settles a stale term: its snapshot bytes stand for it if this build's postings take
    /// the places of the changed documents' unchanged (the usual case after an edit: most
    /// of an edited document's terms stay as they were), else its snapshot postings are
    /// decoded without the changed documents', to be merged with this build's.
    fn settle(
        &mut self,
        numbering: snapshot::Numbering<'_>,
        shards: &[TermShard],
        by_term: &[(Vec<u32>, Vec<u32>)],
    ) -> std::io::Result<()> {
        let Some(stale) = self.stale.take() else {
            return Ok(());
        };
        let same = stale.same_after(numbering, &merge_postings(self, shards, by_term))?;
        if let Some(count) = same {
            self.shard = None;
            self.disk.clear();
            self.disk_positions.clear();
            self.disk_count = count;
            self.raw = Some(stale);
            return Ok(());
        }
        let (postings, positions) = stale.decode_claimed(numbering)?;
        let offset = self.disk_positions.len() as u32;
        self.disk_positions.extend_from_slice(&positions);
        self.disk.extend(postings.into_iter().map(|p| RawPosting {
            pos_start: p.pos_start + offset,
            ..p
        }));
        self.disk_count = self.disk.len();
        Ok(())
    }
}

/// Where finish reads terms from, in term order: this build's (in memory or spilled) and the
/// previous build's snapshot, merged.
struct Sources<'f> {
    /// This build's terms, sorted, with their shard and id; taken as they are read.
    terms: Vec<(String, usize, u32)>,
    next_term: usize,
    /// Spill runs by term shard.
    runs: Vec<Vec<RunReader<'f>>>,
    previous: Option<snapshot::PostingsReader<'f>>,
    /// How many terms the last batch held: the next is made that big at once (the first
    /// as big as it can be, which costs address space, not memory), where growing it term
    /// by term moved each of the first batch's terms several times, onto freshly faulted
    /// pages: the first terms in byte order are mostly rare, of one posting each, so the
    /// first batch holds the most.
    last_batch: usize,
}

impl Sources<'_> {
    /// The next terms, in order, until they hold `limit` postings (at least one term, none
    /// at the end). `in_memory` counts a term's postings still in its shard. A term of the
    /// snapshot whose documents all changed is left out.
    fn read_batch(
        &mut self,
        limit: usize,
        in_memory: impl Fn(Option<(usize, u32)>) -> usize,
    ) -> Result<Vec<BatchTerm>> {
        let mut batch = Vec::with_capacity(match self.last_batch {
            0 => limit,
            last => last,
        });
        let mut postings = 0;
        while batch.is_empty() || postings < limit {
            let ours = self.terms.get(self.next_term).map(|t| t.0.as_str());
            let theirs = self.previous.as_ref().and_then(|p| p.head());
            let (take_ours, take_theirs) = match (ours, theirs) {
                (None, None) => break,
                (Some(_), None) => (true, false),
                (None, Some(_)) => (false, true),
                (Some(a), Some(b)) => (a <= b, b <= a),
            };
            let mut term = BatchTerm {
                term: String::new(),
                shard: None,
                disk: Vec::new(),
                disk_positions: Vec::new(),
                raw: None,
                stale: None,
                disk_count: 0,
            };
            if take_ours {
                let (text, s, id) = &mut self.terms[self.next_term];
                self.next_term += 1;
                term.term = std::mem::take(text);
                term.shard = Some((*s, *id));
                for run in &mut self.runs[*s] {
                    if run.head == Some(*id) {
                        run.take(&mut term.disk, &mut term.disk_positions)?;
                    }
                }
                term.disk_count = term.disk.len();
            }
            if take_theirs && let Some(previous) = &mut self.previous {
                let mut theirs = previous
                    .take()
                    .map_err(|err| crate::error::Error::Other(previous.discard(&err)))?;
                if take_ours && theirs.stale.is_some() {
                    term.stale = theirs.stale;
                    term.disk_count += theirs.count;
                } else if take_ours {
                    if let Some(raw) = theirs.raw.take()
                        && theirs.postings.is_empty()
                    {
                        (theirs.postings, theirs.positions) = raw
                            .decode()
                            .map_err(|err| crate::error::Error::Other(previous.discard(&err)))?;
                    }
                    term.disk_count += theirs.postings.len();
                    let offset = term.disk_positions.len() as u32;
                    term.disk_positions.extend_from_slice(&theirs.positions);
                    term.disk
                        .extend(theirs.postings.into_iter().map(|p| RawPosting {
                            pos_start: p.pos_start + offset,
                            ..p
                        }));
                } else {
                    term = theirs.into();
                }
            }
            let count = in_memory(term.shard) + term.disk_count;
            if count > 0 {
                postings += count;
                batch.push(term);
            }
        }
        self.last_batch = batch.len();
        Ok(batch)
    }
}

/// A term interned in the shared [`TermShard`]s: its shard, and its id there.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
struct TermRef {
    shard: u32,
    id: u32,
}

/// One term's counts in one document, during tokenizing (no heap: this is built for every
/// term of every document).
#[derive(Clone, Copy, Default)]
struct DocTerm {
    term: TermRef,
    title_tf: u16,
    body_tf: u32,
    agency_tf: u16,
    npos: u8,
    positions: [u32; MAX_POSITIONS],
}

impl DocTerm {
    fn keep(&mut self, pos: u32) {
        if (self.npos as usize) < MAX_POSITIONS {
            self.positions[self.npos as usize] = pos;
            self.npos += 1;
        }
    }
}

/// Words this thread's memo holds before it starts afresh (a few MB).
const TERM_MEMO_LIMIT: usize = 200_000;

/// Distinct terms of one document past which its tables are dropped, not kept for the next
/// document: a text dump with millions of distinct tokens would otherwise pin hundreds of MB
/// per thread until indexing ends.
const DOC_TERMS_KEPT: usize = 1 << 20;

/// A document's or record's terms, and the thread's memo of words: reused per thread, since
/// allocating a map per document showed in the profile.
#[derive(Default)]
struct DocTerms {
    /// This document's words → index in `counts`: most words repeat within a document, and
    /// a repeat is one look-up in a table that stays in cache.
    words: words::WordTable<u32>,
    /// Term → index in `counts`, for a word new to the document: words with one stem share
    /// their counts.
    by_term: FastMap<TermRef, u32>,
    counts: Vec<DocTerm>,
    /// Every word this thread has indexed (up to [`TERM_MEMO_LIMIT`]) → its interned term, so
    /// a word is stemmed and looked up in the shared shards once per thread, not once per
    /// document. Valid for the [`Indexer`] whose `serial` is `memo_owner`.
    memo: words::WordTable<TermRef>,
    memo_owner: u64,
    /// Indices into `counts`, grouped by shard for [`Indexer::store`].
    order: Vec<u32>,
    /// A field's words waiting to be counted (see [`DocTerms::bump_all`]): each one's end in
    /// `ahead_text`, hash and position.
    ahead: Vec<(usize, u64, u32)>,
    ahead_text: String,
}

impl DocTerms {
    /// Starts a document for `indexer`.
    fn start(&mut self, indexer: &Indexer) {
        if self.counts.len() > DOC_TERMS_KEPT {
            self.words = words::WordTable::default();
            self.by_term = FastMap::default();
            self.counts = Vec::new();
            self.order = Vec::new();
        }
        self.words.clear();
        self.by_term.clear();
        self.counts.clear();
        if self.memo_owner != indexer.serial || self.memo.len() >= TERM_MEMO_LIMIT {
            self.memo.clear();
            self.memo_owner = indexer.serial;
        }
    }

    /// The counts of `word`'s term (a word of [`tokenize::tokenize_words`]).
    fn bump(&mut self, indexer: &Indexer, word: &str) -> &mut DocTerm {
        self.bump_hashed(indexer, word, words::hash(word))
    }

    /// Tokenizes `text` from `start` and calls `count` with each word's counts and position;
    /// returns the next free position. Words are cut a chunk at a time and counted after,
    /// so that each word's slot in the memo is fetched while the words before it are
    /// counted: a word new to the document is mostly a rare one, whose slot is not in cache.
    fn bump_all(
        &mut self,
        indexer: &Indexer,
        text: &str,
        start: u32,
        mut count: impl FnMut(&mut DocTerm, u32),
    ) -> u32 {
        /// Words cut before they are counted: the buffers stay small whatever the text.
        const CHUNK: usize = 4096;
        let mut ahead = std::mem::take(&mut self.ahead);
        let mut ahead_text = std::mem::take(&mut self.ahead_text);
        ahead.clear();
        ahead_text.clear();
        let end = tokenize::tokenize_words(text, Mode::Index, start, |word, pos| {
            ahead_text.push_str(word);
            ahead.push((ahead_text.len(), words::hash(word), pos));
            if ahead.len() == CHUNK {
                self.count_ahead(indexer, &ahead, &ahead_text, &mut count);
                ahead.clear();
                ahead_text.clear();
            }
        });
        self.count_ahead(indexer, &ahead, &ahead_text, &mut count);
        self.ahead = ahead;
        self.ahead_text = ahead_text;
        end
    }

    /// Counts the words cut by [`DocTerms::bump_all`], each one's memo slot prefetched a few
    /// words before its look-up.
    fn count_ahead(
        &mut self,
        indexer: &Indexer,
        ahead: &[(usize, u64, u32)],
        text: &str,
        count: &mut impl FnMut(&mut DocTerm, u32),
    ) {
        /// Words between a slot's prefetch and its look-up.
        const DISTANCE: usize = 16;
        let mut from = 0;
        for (i, &(to, hash, pos)) in ahead.iter().enumerate() {
            if let Some(&(_, later, _)) = ahead.get(i + DISTANCE) {
                self.memo.prefetch(later);
            }
            count(self.bump_hashed(indexer, &text[from..to], hash), pos);
            from = to;
        }
    }

    /// [`DocTerms::bump`] of a word whose [`words::hash`] is known.
    fn bump_hashed(&mut self, indexer: &Indexer, word: &str, hash: u64) -> &mut DocTerm {
        let DocTerms {
            words,
            by_term,
            counts,
            memo,
            ..
        } = self;
        let index = words.get_or_insert_with(word, hash, || {
            let term = memo.get_or_insert_with(word, hash, || indexer.intern(word));
            *by_term.entry(term).or_insert_with(|| {
                counts.push(DocTerm {
                    term,
                    ..DocTerm::default()
                });
                counts.len() as u32 - 1
            })
        });
        &mut counts[index as usize]
    }
}

/// The texts of a document or record that the index reads.
struct Fields<'a> {
    /// Title, then tags.
    title: &'a str,
    body: &'a str,
    file_name: &'a str,
    agency_name: &'a str,
}

impl<'a> Fields<'a> {
    fn of(title: &'a str, body: &'a str, file_name: &'a str, agency_name: &'a str) -> Fields<'a> {
        Fields {
            title,
            body,
            file_name,
            agency_name,
        }
    }
}

/// The term shard (of [`TERM_SHARDS`]) that interns `term`.
fn term_shard(term: &str) -> usize {
    let mut hasher = FxHasher::default();
    hasher.write(term.as_bytes());
    (hasher.finish() >> 32) as usize % TERM_SHARDS
}

thread_local! {
    static DOC_TERMS: RefCell<DocTerms> = RefCell::new(DocTerms::default());
}

/// One search result's display data: title, url, ISO date or "", excerpt.
type Entry = [String; 4];

/// What the numbered documents and records still need.
struct Pending {
    /// By number: what was indexed (content key, lengths in positions, excerpt), for scoring
    /// and for the next build's snapshot.
    slots: Vec<snapshot::Slot>,
    /// `d<n>` chunks still waiting for some documents or records (the last one waits for
    /// finish).
    chunks: BTreeMap<usize, Vec<Option<Entry>>>,
}

/// The numbers of one table's records: `first..first + records`, in row order.
struct RecordRange {
    first: u32,
    records: usize,
    agency: String,
    kind: String,
}

/// Builds the search index while documents and records render. Shared by the render threads
/// (`Sync`).
pub struct Indexer {
    key: String,
    /// Tells this indexer's term ids from another's in a thread's memo ([`DocTerms`]).
    serial: u64,
    /// Document id → document number in the index.
    number_of: Vec<u32>,
    /// Table index → where its records are numbered, in `record_ranges`; `None` for a table
    /// without records.
    range_of_table: Vec<Option<usize>>,
    /// Tables with records, in number order, after the documents.
    record_ranges: Vec<RecordRange>,
    /// Documents and records: every number given out.
    numbers_total: usize,
    agency_names: HashMap<String, String>,
    shards: Vec<Mutex<TermShard>>,
    /// Bytes of postings one term shard holds before they go to the spill file.
    shard_budget: usize,
    spill: Mutex<PostingSpill>,
    pending: Mutex<Pending>,
    /// The previous build's postings ([`snapshot`]), when the cache holds them intact.
    previous: Option<snapshot::Previous>,
    /// This build's, when there is a cache to keep them in.
    next: Option<snapshot::Next>,
    /// Why the previous snapshot was not used, or the next one not kept.
    warning: Mutex<Option<String>>,
    /// Whether [`Indexer::release_memos`] ran.
    memos_released: AtomicBool,
}

/// What [`Indexer::finish`] leaves.
pub struct Finished {
    /// Site path of the manifest script.
    pub manifest: String,
    /// Documents and records whose terms came from the previous build's snapshot.
    pub reused: usize,
    /// The postings blocks kept for the next build.
    pub blocks: Blocks,
    /// Why the previous snapshot could not be used, or this one could not be kept: the
    /// index is whole either way, but a build tokenizes everything again.
    pub warning: Option<String>,
}

/// The previous build's [`snapshot`], read and checked on a thread of its own from the start
/// of the build: checking it reads every byte (200 MB at 50,000 documents), which would
/// otherwise hold up the first page while one core waits. Discovery, which comes first,
/// uses one core.
pub struct SnapshotLoad(Loading);

enum Loading {
    /// The build keeps no cache.
    Off,
    /// The cache has no room for a snapshot: a warning, and one is neither read nor written.
    NoFolder,
    Started(
        std::path::PathBuf,
        std::thread::JoinHandle<Result<Option<snapshot::Previous>, String>>,
    ),
}

impl SnapshotLoad {
    /// Starts reading the snapshot `cache` holds, if any.
    pub fn start(cache: &Cache) -> SnapshotLoad {
        if !cache.is_enabled() {
            return SnapshotLoad(Loading::Off);
        }
        SnapshotLoad(match cache.side_dir(snapshot::DIR) {
            None => Loading::NoFolder,
            Some(dir) => {
                let at = dir.clone();
                Loading::Started(
                    dir,
                    std::thread::spawn(move || snapshot::Previous::load(&at)),
                )
            }
        })
    }
}

impl Indexer {
    /// Numbers the documents, then the records of `tables` (by table index, as
    /// [`crate::tables::TableSet::record_tables`] lists them), and derives the key from every
    /// input of the index. `inputs` names what else the records' text comes from (the table
    /// profile's fingerprint), since the profile files are not documents. The previous
    /// build's postings come from `cache`, and this build's go there.
    pub fn new(
        docs: &[Document],
        agencies: &[Agency],
        config: &Config,
        inputs: &str,
        tables: &[RecordTable<'_>],
        snapshot: SnapshotLoad,
    ) -> Indexer {
        let mut order: Vec<usize> = (0..docs.len()).collect();
        order.sort_by(|&a, &b| facet_key(&docs[a]).cmp(&facet_key(&docs[b])));
        let mut number_of = vec![0u32; docs.len()];
        for (number, &id) in order.iter().enumerate() {
            number_of[id] = number as u32;
        }
        // Records are numbered now, before any arrives, so each can go out like a document's
        // entry instead of waiting in memory for finish. Sorting by agency and kind keeps
        // each (agency, kind) one contiguous facet range; the URL orders tables that share
        // a kind, and rows keep table order within a table.
        let mut table_order: Vec<usize> = (0..tables.len())
            .filter(|&t| tables[t].records > 0)
            .collect();
        table_order.sort_by_key(|&t| (tables[t].agency, tables[t].kind, tables[t].url));
        let mut range_of_table = vec![None; tables.len()];
        let mut record_ranges = Vec::with_capacity(table_order.len());
        let mut next = docs.len();
        for t in table_order {
            range_of_table[t] = Some(record_ranges.len());
            record_ranges.push(RecordRange {
                first: next as u32,
                records: tables[t].records,
                agency: tables[t].agency.to_owned(),
                kind: tables[t].kind.to_owned(),
            });
            next += tables[t].records;
        }
        // Records are not in the key one by one: their text comes from the tables, which are
        // documents here (with their SHA-256), from the config, and from the profile (`inputs`).
        let mut key_input = format!(
            "leakpress {} index v{FORMAT_VERSION}\n{config:?}\n{inputs}\n",
            env!("CARGO_PKG_VERSION")
        );
        for doc in docs {
            // Writing into a String cannot fail.
            let _ = writeln!(
                key_input,
                "{}\t{}\t{}\t{}\t{}\t{:?}\t{}",
                doc.id,
                doc.url,
                doc.title,
                doc.agency(),
                doc.kind,
                doc.date,
                doc.sha256
            );
        }
        let agency_names: HashMap<String, String> = agencies
            .iter()
            .map(|a| (a.slug.clone(), a.name.clone()))
            .collect();
        for agency in agencies {
            key_input.push_str(&format!("{}\t{}\n", agency.slug, agency.name));
        }
        let mut warning = None;
        let (previous, upcoming) = match snapshot.0 {
            Loading::Off => (None, None),
            Loading::NoFolder => {
                warning = Some(
                    "search index snapshot not kept: its folder in the cache cannot be made"
                        .to_owned(),
                );
                (None, None)
            }
            Loading::Started(dir, loading) => {
                let loaded = loading
                    .join()
                    .unwrap_or_else(|_| Err("reading it stopped".to_owned()));
                let previous = loaded.unwrap_or_else(|why| {
                    warning = Some(format!(
                        "search index snapshot not used ({why}): every document's terms are read again"
                    ));
                    None
                });
                let upcoming = snapshot::Next::create(&dir, previous.as_ref());
                (previous, Some(upcoming))
            }
        };
        static SERIALS: AtomicU64 = AtomicU64::new(1);
        Indexer {
            key: sha256_hex(key_input.as_bytes())[..12].to_owned(),
            serial: SERIALS.fetch_add(1, Ordering::Relaxed),
            number_of,
            range_of_table,
            record_ranges,
            numbers_total: next,
            agency_names,
            shards: (0..TERM_SHARDS)
                .map(|_| Mutex::new(TermShard::default()))
                .collect(),
            pending: Mutex::new(Pending {
                slots: vec![snapshot::Slot::default(); next],
                chunks: BTreeMap::new(),
            }),
            shard_budget: memory_budget() / TERM_SHARDS,
            spill: Mutex::new(PostingSpill::default()),
            previous,
            next: upcoming,
            warning: Mutex::new(warning),
            memos_released: AtomicBool::new(false),
        }
    }

    /// The folder key: a hash of every input, so a changed index gets new file names.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Site path of the manifest script.
    pub fn manifest_path(&self) -> String {
        format!("search/{}/manifest.js", self.key)
    }

    /// Indexes one document; call from the render loop, from any thread. Writes its excerpt
    /// chunk when this document completes it. A document the previous build indexed with the
    /// same fields takes its terms from the [`snapshot`], without reading its body (a body the
    /// cache holds is known by its identity).
    pub fn add(&self, out: &Output, doc: &Document, body: &LazyBody<'_>) -> Result<()> {
        let number = self.number_of[doc.id];
        let mut title_text = doc.title.clone();
        for tag in &doc.tags {
            title_text.push_str(" \n ");
            title_text.push_str(tag);
        }
        let agency_name = self
            .agency_names
            .get(doc.agency())
            .map_or(doc.agency(), |n| n.as_str());
        let file_name = doc.source.file_name();
        let key = match &self.next {
            None => None,
            Some(_) => {
                let body_text = match body.identity() {
                    Some(identity) => snapshot::BodyText::Extracted(identity),
                    None => snapshot::BodyText::Text(&body.get()?.text),
                };
                Some(snapshot::document_key(
                    &title_text,
                    body_text,
                    file_name,
                    agency_name,
                ))
            }
        };
        let (lengths, excerpt) = match self.claim(key.as_ref(), number) {
            Some(claimed) => (claimed.lengths, claimed.excerpt),
            None => {
                let body = body.get()?;
                let fields = Fields::of(&title_text, &body.text, file_name, agency_name);
                let lengths = self.index_text(number, &fields);
                (lengths, excerpt(&body.text, EXCERPT_CHARS))
            }
        };
        let entry = [
            doc.title.clone(),
            doc.url.clone(),
            doc.date.map(|d| d.iso()).unwrap_or_default(),
            excerpt,
        ];
        self.place(out, number, key, lengths, entry)
    }

    /// The previous build's terms for what is now `number`, indexed under `key`.
    fn claim(&self, key: Option<&snapshot::ContentKey>, number: u32) -> Option<snapshot::Claimed> {
        self.previous.as_ref()?.claim(key?, number)
    }

    /// Indexes one table record (the [`crate::tables::RecordSink`] of the tables pass); from
    /// any thread, in any order. Writes its excerpt chunk when this record completes it.
    pub fn add_record(&self, out: &Output, record: &SearchRecord<'_>) -> Result<()> {
        let range = self
            .range_of_table
            .get(record.table)
            .copied()
            .flatten()
            .map(|i| &self.record_ranges[i])
            .filter(|range| record.row < range.records);
        let Some(range) = range else {
            // The table pass hands over rows `0..records` of the tables it was asked to
            // number, and nothing else.
            return Err(crate::error::Error::Other(format!(
                "search index: record {} of table {} was not numbered",
                record.row, record.table
            )));
        };
        let number = range.first + record.row as u32;
        let agency_name = self
            .agency_names
            .get(record.agency)
            .map_or(record.agency, |n| n.as_str());
        let fields = Fields {
            title: record.title,
            body: record.text,
            file_name: "",
            agency_name,
        };
        let key = self
            .next
            .as_ref()
            .map(|_| snapshot::record_key(record.title, record.text, agency_name));
        let (lengths, excerpt) = match self.claim(key.as_ref(), number) {
            Some(claimed) => (claimed.lengths, claimed.excerpt),
            None => (
                self.index_text(number, &fields),
                excerpt(record.text, EXCERPT_CHARS),
            ),
        };
        let entry = [
            record.title.to_owned(),
            record.url.to_owned(),
            record.date.map(|d| d.view().iso).unwrap_or_default(),
            excerpt,
        ];
        self.place(out, number, key, lengths, entry)
    }

    /// Keeps a document's or record's lengths (and for the next snapshot its content key and
    /// excerpt) and puts its entry in its `d<n>` chunk, writing the chunk if this entry
    /// completes it.
    fn place(
        &self,
        out: &Output,
        number: u32,
        key: Option<snapshot::ContentKey>,
        lengths: (u32, u32),
        entry: Entry,
    ) -> Result<()> {
        let chunk = number as usize / DOC_CHUNK;
        let excerpt_at = match (&self.next, key) {
            (Some(next), Some(_)) => next.put_excerpt(&entry[3]),
            _ => None,
        };
        let slot = snapshot::Slot {
            key: key.filter(|_| excerpt_at.is_some()),
            lengths,
            excerpt: excerpt_at.unwrap_or_default(),
        };
        let complete = {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            pending.slots[number as usize] = slot;
            let slots = pending
                .chunks
                .entry(chunk)
                .or_insert_with(|| vec![None; DOC_CHUNK]);
            slots[number as usize % DOC_CHUNK] = Some(entry);
            if slots.iter().all(Option::is_some) {
                pending.chunks.remove(&chunk)
            } else {
                None
            }
        };
        if let Some(slots) = complete {
            self.write_chunk(out, chunk, slots, DOC_CHUNK)?;
        }
        Ok(())
    }

    /// Tokenizes one document's or record's fields and stores its postings under `doc`, its
    /// number. Returns the lengths: (title, body) in positions.
    fn index_text(&self, doc: u32, fields: &Fields<'_>) -> (u32, u32) {
        let mut terms = DOC_TERMS.with(|t| t.take());
        let lengths = self.tokenize_fields(fields, &mut terms);
        self.store(doc, &mut terms);
        DOC_TERMS.with(|t| t.replace(terms));
        lengths
    }

    /// Tokenizes `fields` into `terms` (started afresh); returns the lengths: (title, body)
    /// in positions.
    fn tokenize_fields(&self, fields: &Fields<'_>, terms: &mut DocTerms) -> (u32, u32) {
        use tokenize::tokenize_words;
        terms.start(self);
        let title_end = tokenize_words(fields.title, Mode::Index, 0, |word, pos| {
            let entry = terms.bump(self, word);
            entry.title_tf = entry.title_tf.saturating_add(1);
            entry.keep(pos);
        });
        let body_start = title_end + FIELD_GAP;
        let mut body_end = terms.bump_all(self, fields.body, body_start, |entry, pos| {
            entry.body_tf = entry.body_tf.saturating_add(1);
            entry.keep(pos);
        });
        // The file name finds the document too (images and other files have little text).
        body_end = tokenize_words(
            fields.file_name,
            Mode::Index,
            body_end + FIELD_GAP,
            |word, _| {
                let entry = terms.bump(self, word);
                entry.body_tf = entry.body_tf.saturating_add(1);
            },
        );
        tokenize_words(fields.agency_name, Mode::Index, 0, |word, _| {
            let entry = terms.bump(self, word);
            entry.agency_tf = entry.agency_tf.saturating_add(1);
        });
        (title_end, body_end - body_start)
    }

    /// Stems `word` (a word of [`tokenize::tokenize_words`]) and interns its term.
    fn intern(&self, word: &str) -> TermRef {
        let term = tokenize::stem_once(word);
        let shard = term_shard(&term);
        let mut guard = self.shards[shard].lock().unwrap_or_else(|e| e.into_inner());
        let next = guard.ids.len() as u32;
        let id = match guard.ids.get(&*term) {
            Some(&id) => id,
            None => {
                guard.ids.insert(term.into_owned(), next);
                next
            }
        };
        TermRef {
            shard: shard as u32,
            id,
        }
    }

    /// Moves one document's terms into the shared shards as postings, taking each shard's
    /// lock once.
    fn store(&self, doc: u32, terms: &mut DocTerms) {
        let DocTerms { counts, order, .. } = terms;
        order.clear();
        order.extend(0..counts.len() as u32);
        order.sort_unstable_by_key(|&i| counts[i as usize].term.shard);
        for run in
            order.chunk_by(|&a, &b| counts[a as usize].term.shard == counts[b as usize].term.shard)
        {
            let shard_index = counts[run[0] as usize].term.shard as usize;
            let mut shard = self.shards[shard_index]
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let shard = &mut *shard;
            if shard.postings.capacity() == 0 {
                // Reserved whole on first use (untouched pages cost no memory on Linux):
                // grown by doubling, the vectors were copied several times over, each copy
                // into freshly faulted pages. At most the default budget's share, so that a
                // huge `LEAKPRESS_INDEX_MEMORY` means "spill late", not one vast allocation.
                let reserve = self.shard_budget.min(MEMORY_BUDGET / TERM_SHARDS);
                shard
                    .postings
                    .reserve(reserve / std::mem::size_of::<RawPosting>() + 1);
                shard.positions.reserve(reserve / 4 + 1);
            }
            for &i in run {
                let counts = &counts[i as usize];
                let pos_start = shard.positions.len() as u32;
                shard
                    .positions
                    .extend_from_slice(&counts.positions[..counts.npos as usize]);
                shard.postings.push(RawPosting {
                    term: counts.term.id,
                    doc,
                    title_tf: counts.title_tf,
                    body_tf: counts.body_tf,
                    agency_tf: counts.agency_tf,
                    pos_start,
                    pos_len: counts.npos,
                });
            }
            if shard.held_bytes() > self.shard_budget {
                let run = encode_run(shard);
                shard.postings.clear();
                shard.positions.clear();
                self.spill
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .put(shard_index, &run);
            }
        }
    }

    fn write_script(&self, out: &Output, id: &str, data: &str) -> Result<()> {
        self.write_script_hashed(out, id, data).map(drop)
    }

    /// The build's error for a previous snapshot that does not read back (and is deleted).
    fn snapshot_damaged(&self, err: &std::io::Error) -> crate::error::Error {
        crate::error::Error::Other(match &self.previous {
            Some(previous) => previous.discard(err),
            None => format!("search index snapshot unreadable ({err})"),
        })
    }

    /// Where the script `id` goes.
    fn script_path(&self, id: &str) -> String {
        format!("search/{}/{id}.js", self.key)
    }

    /// [`Indexer::write_script`], returning the file's SHA-256 (hex).
    fn write_script_hashed(&self, out: &Output, id: &str, data: &str) -> Result<String> {
        const HEAD: &str = "LEAKPRESS_SEARCH.load(\"";
        let mut script = Vec::with_capacity(HEAD.len() + id.len() + data.len() + 6);
        script.extend_from_slice(HEAD.as_bytes());
        script.extend_from_slice(id.as_bytes());
        script.extend_from_slice(b"\",");
        script.extend_from_slice(data.as_bytes());
        script.extend_from_slice(b");\n");
        out.write_hashed(&self.script_path(id), &script)
    }

    /// Writes `d<chunk>.js` with its first `len` slots (a slot never filled is blank).
    fn write_chunk(
        &self,
        out: &Output,
        chunk: usize,
        slots: Vec<Option<Entry>>,
        len: usize,
    ) -> Result<()> {
        let entries: Vec<Entry> = slots
            .into_iter()
            .take(len)
            .map(Option::unwrap_or_default)
            .collect();
        self.write_script(out, &format!("d{chunk}"), &json!(entries).to_string())
    }

    /// Frees every thread's memos of words (megabytes a thread), once no more text comes:
    /// before finish's batches take their memory. Every thread takes part, so the build
    /// calls this before it starts other work beside finish, which calls it too (for
    /// callers that do not) and then finds it done.
    pub fn release_memos(&self) {
        if !self.memos_released.swap(true, Ordering::Relaxed) {
            rayon::broadcast(|_| DOC_TERMS.with(|terms| terms.take()));
        }
    }

    /// Scores the postings and writes the dictionary shards, posting tiers, the excerpt chunks
    /// left and the manifest; keeps the postings for the next build's [`snapshot`].
    pub fn finish(
        mut self,
        out: &Output,
        docs: &[Document],
        agencies: &[Agency],
    ) -> Result<Finished> {
        self.release_memos();
        let n_docs = self.numbers_total;
        let pending = std::mem::replace(
            &mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()),
            Pending {
                slots: Vec::new(),
                chunks: BTreeMap::new(),
            },
        );
        let mut shards: Vec<TermShard> = self
            .shards
            .iter()
            .map(|s| std::mem::take(&mut *s.lock().unwrap_or_else(|e| e.into_inner())))
            .collect();
        let spill = std::mem::take(&mut *self.spill.lock().unwrap_or_else(|e| e.into_inner()));
        if let Some(err) = &spill.error {
            return Err(crate::error::Error::Other(format!(
                "search index spill file failed: {err}"
            )));
        }
        // One reader per spilled run, by term shard: each run is sorted by term, and terms
        // are visited in that order, so every run is read once, front to back.
        let mut runs: Vec<Vec<RunReader<'_>>> = (0..TERM_SHARDS).map(|_| Vec::new()).collect();
        if let Some(file) = &spill.file {
            for (s, list) in spill.runs.iter().enumerate() {
                for &(start, end) in list {
                    runs[s].push(RunReader::new(file, start, end)?);
                }
            }
        }

        let Pending { slots, chunks } = pending;
        // Chunks with documents or records that were never added (none in a normal build)
        // still load.
        for (chunk, chunk_slots) in chunks {
            let len = DOC_CHUNK.min(n_docs - chunk * DOC_CHUNK);
            self.write_chunk(out, chunk, chunk_slots, len)?;
        }
        let lengths: Vec<(u32, u32)> = slots.iter().map(|slot| slot.lengths).collect();
        let (avg_title, avg_body) = averages(&lengths);

        // Every term with where its postings are, in sorted order. The terms move out of the
        // shards' maps, which nothing looks up any more: a copy would double them (a million
        // terms at 500,000 records).
        let by_term: Vec<(Vec<u32>, Vec<u32>)> = shards.par_iter().map(group_by_term).collect();
        let postings_of = |s: usize, id: u32| {
            let (first, order) = &by_term[s];
            &order[first[id as usize] as usize..first[id as usize + 1] as usize]
        };
        let mut terms: Vec<(String, usize, u32)> =
            Vec::with_capacity(shards.iter().map(|shard| shard.ids.len()).sum());
        for (s, shard) in shards.iter_mut().enumerate() {
            let ids = std::mem::take(&mut shard.ids);
            terms.extend(ids.into_iter().map(|(term, id)| (term, s, id)));
        }
        terms.par_sort_unstable_by(|a, b| a.0.cmp(&b.0));

        let scorer = Scorer {
            n_docs,
            factors: lengths
                .par_iter()
                .map(|&(title, body)| {
                    FieldFactors::of(
                        coarse_length(title),
                        coarse_length(body),
                        avg_title,
                        avg_body,
                    )
                })
                .collect(),
        };
        drop(lengths);
        let next = self.next.take();
        let reused = self.previous.as_ref().map_or(0, |p| p.claimed_count());
        // The previous snapshot's blocks go from its reader to the assembly, which copies
        // the ones this build makes again.
        let reuse = (self.previous.is_some() && next.is_some()).then(snapshot::Reuse::default);
        let mut sources = Sources {
            terms,
            next_term: 0,
            runs,
            previous: match &self.previous {
                Some(p) => Some(
                    p.reader(reuse.clone())
                        .map_err(|err| crate::error::Error::Other(p.discard(&err)))?,
                ),
                None => None,
            },
            last_batch: 0,
        };
        let keep = next.is_some();
        let in_memory_count =
            |shard: Option<(usize, u32)>| shard.map_or(0, |(s, id)| postings_of(s, id).len());
        // A block whose bytes are the same keeps its index files only if every posting in it
        // scores as before.
        let keep_whole = keep
            && self
                .previous
                .as_ref()
                .is_some_and(|p| p.scored_like(n_docs, (avg_title, avg_body)));
        let score_term = |term: &BatchTerm| {
            let all = merge_postings(term, &shards, &by_term);
            let df = all.len();
            (df, term_value(scorer.score(df, all.into_iter())))
        };
        // What the snapshot holds of a term, or (keeping none) how long it would be; and,
        // when no block can be kept whole, the term scored, from the same merge.
        let numbering = self.previous.as_ref().map(|p| p.numbering());
        let prepare = |term: &mut BatchTerm| -> std::io::Result<_> {
            if let Some(numbering) = numbering {
                term.settle(numbering, &shards, &by_term)?;
            }
            let slice = match (&term.raw, term.shard) {
                (Some(raw), None) => Some(raw.clone()),
                _ => None,
            };
            if let Some(slice) = &slice
                && keep_whole
            {
                return Ok((Raw::Slice(slice.clone()), None));
            }
            term.decode()?;
            let all = merge_postings(term, &shards, &by_term);
            let raw = match slice {
                Some(slice) => Raw::Slice(slice),
                None if keep => Raw::Bytes(snapshot::encode_term(&term.term, &all)),
                None => Raw::Len(snapshot::encoded_len(&term.term, &all)),
            };
            let scored = (!keep_whole).then(|| {
                let df = all.len();
                (df, term_value(scorer.score(df, all.into_iter())))
            });
            Ok((raw, scored))
        };
        let mut assembly = Assembly {
            // Every term's entry: the previous snapshot's terms and this build's are a close
            // bound, where growing the list from this build's alone (a few hundred terms
            // after an edit) moved its 750,000 entries at each doubling.
            entries: Vec::with_capacity(
                sources.terms.len() + self.previous.as_ref().map_or(0, |p| p.terms()),
            ),
            packer: Packer::default(),
            cutter: snapshot::Cutter::default(),
            open: Vec::new(),
            open_scored: Vec::new(),
            open_raw: snapshot::OpenBytes::default(),
            reuse,
            keep_whole,
            blocks: Vec::new(),
            snapshot: next.as_ref().map(|next| next.postings()),
        };
        // Terms are encoded, cut into blocks and scored in parallel, a batch at a time, then
        // packed one by one in term order: the packs, and so every byte written, do not
        // depend on the threads. A block the previous build wrote the same is not scored: its
        // index files are kept. Reading a batch's spilled postings back is serial (each run
        // is read front to back), so the next batch is read while this one is scored: a
        // 50,000-document index spent a quarter of its stage (1.2 of 4.6 s) reading with one
        // core idle.
        let batch_limit = batch_postings();
        let mut batch = sources.read_batch(batch_limit, in_memory_count)?;
        let mut last = false;
        loop {
            // Packing and writing a batch's blocks overlaps reading the next batch too: after
            // an edit, reading (decompressing the snapshot) is most of the work, and packing
            // after the join left a core idle (a one-edit rebuild's index stage at 50,000
            // documents took 0.87-1.02 s that way, 0.80-0.82 s this way).
            let (packed, following) = rayon::join(
                || -> Result<()> {
                    let ended = (|| {
                        let prepared = batch
                            .par_iter_mut()
                            .map(prepare)
                            .collect::<std::io::Result<Vec<_>>>()?;
                        let mut ended = Vec::new();
                        for (term, (raw, scored)) in batch.into_iter().zip(prepared) {
                            ended.extend(assembly.cut(term, raw, scored));
                        }
                        if last {
                            ended.extend(assembly.end_open());
                        }
                        // Blocks that may be kept whole are scored only if they cannot be.
                        ended
                            .par_iter_mut()
                            .try_for_each(|block: &mut EndedBlock| {
                                if block.scored.len() != block.terms.len() && !block.may_keep() {
                                    block.score(score_term)?;
                                }
                                block.check_kept(&self, out);
                                Ok::<_, std::io::Error>(())
                            })?;
                        Ok::<_, std::io::Error>(ended)
                    })()
                    .map_err(|err| self.snapshot_damaged(&err))?;
                    for block in ended {
                        assembly.pack(&self, out, block, score_term)?;
                    }
                    assembly.flush(&self, out)
                },
                || {
                    if last {
                        Ok(Vec::new())
                    } else {
                        sources.read_batch(batch_limit, in_memory_count)
                    }
                },
            );
            packed?;
            if last {
                break;
            }
            batch = following?;
            last = batch.is_empty();
        }
        drop(sources);
        let Assembly {
            entries, snapshot, ..
        } = assembly;
        let terms = entries.len();
        drop(by_term);
        drop(shards);
        let shards = self.write_dictionary(out, entries)?;
        // The facet table: one row per run of equal (agency, kind, year).
        let mut order: Vec<usize> = (0..docs.len()).collect();
        order.sort_by_key(|&id| self.number_of[id]);
        let agency_index: HashMap<&str, usize> = agencies
            .iter()
            .enumerate()
            .map(|(i, a)| (a.slug.as_str(), i))
            .collect();
        let mut kinds: Vec<&str> = docs.iter().map(|d| d.kind).collect();
        kinds.extend(self.record_ranges.iter().map(|r| r.kind.as_str()));
        kinds.sort_unstable();
        kinds.dedup();
        let mut years: Vec<i32> = docs
            .iter()
            .filter_map(|d| d.date.map(|x| x.year()))
            .collect();
        years.sort_unstable_by(|a, b| b.cmp(a));
        years.dedup();
        let agency_of = |slug: &str| agency_index.get(slug).map_or(-1, |&i| i as i64);
        let kind_of = |kind: &str| kinds.binary_search(&kind).map_or(-1, |i| i as i64);
        // (first number, row) for each document, then for each table's records at once.
        let doc_rows = order.iter().enumerate().map(|(number, &id)| {
            let doc = &docs[id];
            let year = doc
                .date
                .and_then(|d| years.iter().position(|&y| y == d.year()))
                .map_or(-1, |i| i as i64);
            (number, [agency_of(doc.agency()), kind_of(doc.kind), year])
        });
        let record_rows = self.record_ranges.iter().map(|r| {
            (
                r.first as usize,
                [agency_of(&r.agency), kind_of(&r.kind), -1],
            )
        });
        let mut ranges: Vec<[i64; 4]> = Vec::new();
        for (number, row) in doc_rows.chain(record_rows) {
            if ranges.last().is_none_or(|last| last[1..] != row[..]) {
                ranges.push([number as i64, row[0], row[1], row[2]]);
            }
        }
        let manifest = json!({
            "v": FORMAT_VERSION,
            "docs": n_docs,
            "shards": shards,
            "chunk": DOC_CHUNK,
            "prefix": SHARD_PREFIX_CHARS,
            "agencies": agencies.iter().map(|a| json!([a.slug, a.name])).collect::<Vec<_>>(),
            "kinds": kinds,
            "years": years,
            "ranges": ranges,
        });
        self.write_script(out, "manifest", &manifest.to_string())?;
        let mut warning = self.warning.into_inner().unwrap_or_else(|e| e.into_inner());
        let mut blocks = Blocks::default();
        if let (Some(next), Some(postings)) = (next, snapshot) {
            match next.commit(postings, &slots, (avg_title, avg_body), terms) {
                Ok(written) => blocks = written,
                Err(why) => {
                    warning.get_or_insert(format!(
                        "search index snapshot not kept ({why}): the next build reads every document's terms again"
                    ));
                }
            }
        }
        Ok(Finished {
            manifest: format!("search/{}/manifest.js", self.key),
            reused,
            blocks,
            warning,
        })
    }

    /// Writes `(id, data)` scripts, in parallel: each is its own file. Returns each id with
    /// its file's SHA-256 (hex).
    fn write_files(
        &self,
        out: &Output,
        files: Vec<(String, String)>,
    ) -> Result<Vec<(String, String)>> {
        files
            .into_par_iter()
            .map(|(id, data)| {
                let sha = self.write_script_hashed(out, &id, &data)?;
                Ok((id, sha))
            })
            .collect()
    }

    /// Writes the root shards and the sub-shards of heavy prefix groups; returns the number
    /// of root shards. `entries` are (term, entry JSON, df), sorted by term.
    fn write_dictionary(&self, out: &Output, entries: Vec<DictEntry>) -> Result<usize> {
        let size_of = |e: &DictEntry| e.0.len() + e.1.len() + 4;
        // Groups by prefix: sorted terms put each group in one run.
        let mut groups: Vec<(String, Vec<DictEntry>)> = Vec::new();
        for entry in entries {
            let prefix = prefix_of(&entry.0).to_owned();
            match groups.last_mut() {
                Some((p, list)) if *p == prefix => list.push(entry),
                _ => groups.push((prefix, vec![entry])),
            }
        }
        // Each root-shard item: the prefix, then either inline terms or a split list.
        enum Item {
            Inline(Vec<DictEntry>),
            Split(String),
        }
        let mut items: Vec<(String, Item, usize)> = Vec::new();
        // Files go out a batch at a time, so the dictionary's text is never all in memory.
        let mut files = FileBatch::default();
        let mut sub_shard = 0usize;
        let mut inner_node = 0usize;
        for (prefix, mut list) in groups {
            let bytes: usize = list.iter().map(size_of).sum();
            if bytes <= LEAF_BYTES {
                items.push((prefix, Item::Inline(list), bytes));
                continue;
            }
            // The reader compares terms as JS strings (UTF-16 code units).
            list.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
            // Leaf references: (first term, file id, largest df).
            let mut children: Vec<(String, String, usize)> = Vec::new();
            let mut start = 0;
            while start < list.len() {
                let mut end = start;
                let mut leaf = 0;
                while end < list.len() && (end == start || leaf + size_of(&list[end]) <= LEAF_BYTES)
                {
                    leaf += size_of(&list[end]);
                    end += 1;
                }
                let leaf_entries = &list[start..end];
                let max_df = leaf_entries.iter().map(|e| e.2).max().unwrap_or(0);
                files.push(
                    self,
                    out,
                    format!("s{sub_shard}"),
                    terms_object(leaf_entries),
                )?;
                children.push((leaf_entries[0].0.clone(), format!("s{sub_shard}"), max_df));
                sub_shard += 1;
                start = end;
            }
            // A group with more leaves than a node holds gets inner nodes, level by level,
            // so the list a reader fetches stays about FANOUT entries however large the
            // vocabulary grows: a lookup costs one more small file per FANOUT-fold growth.
            while children.len() > FANOUT {
                let nodes = children.len().div_ceil(FANOUT);
                let per_node = children.len().div_ceil(nodes);
                let mut parents = Vec::with_capacity(nodes);
                for chunk in children.chunks(per_node) {
                    let id = format!("r{inner_node}");
                    inner_node += 1;
                    let max_df = chunk.iter().map(|c| c.2).max().unwrap_or(0);
                    files.push(self, out, id.clone(), child_list(chunk))?;
                    parents.push((chunk[0].0.clone(), id, max_df));
                }
                children = parents;
            }
            let split = child_list(&children);
            let bytes = prefix.len() + split.len() + 4;
            items.push((prefix, Item::Split(split), bytes));
        }
        let total: usize = items.iter().map(|i| i.2).sum();
        let shards = total.div_ceil(SHARD_BYTES).max(1).next_power_of_two();
        let mut inline: Vec<Vec<DictEntry>> = vec![Vec::new(); shards];
        let mut splits: Vec<Vec<(String, String)>> = vec![Vec::new(); shards];
        for (prefix, item, _) in items {
            let n = (fnv1a(&prefix) as usize) % shards;
            match item {
                Item::Inline(list) => inline[n].extend(list),
                Item::Split(split) => splits[n].push((prefix, split)),
            }
        }
        for (n, (terms, split)) in inline.into_iter().zip(splits).enumerate() {
            let mut data = String::from("[");
            data.push_str(&terms_object(&terms));
            data.push_str(",{");
            for (i, (prefix, list)) in split.iter().enumerate() {
                if i > 0 {
                    data.push(',');
                }
                data.push_str(&json!(prefix).to_string());
                data.push(':');
                data.push_str(list);
            }
            data.push_str("}]");
            files.push(self, out, format!("t{n}"), data)?;
        }
        files.flush(self, out)?;
        Ok(shards)
    }
}

/// Bytes of dictionary files held before they are written (in parallel, a batch at a time).
const FILE_BATCH_BYTES: usize = 4 << 20;

/// Dictionary files waiting to be written: `(script id, data)`.
#[derive(Default)]
struct FileBatch {
    files: Vec<(String, String)>,
    bytes: usize,
}

impl FileBatch {
    fn push(&mut self, indexer: &Indexer, out: &Output, id: String, data: String) -> Result<()> {
        self.bytes += data.len();
        self.files.push((id, data));
        if self.bytes >= FILE_BATCH_BYTES {
            self.flush(indexer, out)?;
        }
        Ok(())
    }

    fn flush(&mut self, indexer: &Indexer, out: &Output) -> Result<()> {
        self.bytes = 0;
        indexer
            .write_files(out, std::mem::take(&mut self.files))
            .map(drop)
    }
}

/// A dictionary entry on its way to a shard: (term, entry JSON, document frequency).
type DictEntry = (String, String, usize);

/// What scoring needs about the whole collection.
struct Scorer {
    n_docs: usize,
    /// By final document number: its fields' weights over their length normalizations,
    /// worked out once a document rather than once a posting.
    factors: Vec<FieldFactors>,
}

impl Scorer {
    /// One term's postings, scored, from its `df` raw postings given as (final document
    /// number, counts, positions), sorted by number.
    fn score<'p>(
        &self,
        df: usize,
        raw: impl Iterator<Item = (u32, &'p RawPosting, &'p [u32])>,
    ) -> Vec<PostingRef<'p>> {
        let idf = (1.0 + (self.n_docs as f64 - df as f64 + 0.5) / (df as f64 + 0.5)).ln();
        let postings: Vec<PostingRef<'p>> = raw
            .map(|(doc, p, positions)| {
                let tf = self.factors[doc as usize].weigh(
                    p.title_tf as f64,
                    p.body_tf as f64,
                    p.agency_tf as f64,
                );
                PostingRef {
                    doc,
                    impact: quantize(saturate(idf, tf)),
                    positions,
                }
            })
            .collect();
        debug_assert!(postings.is_sorted_by_key(|p| p.doc));
        postings
    }
}

/// One term's postings, encoded: inline JSON, or tiers still to be packed.
enum TermValue {
    /// `[df,"docs","positions"]`.
    Inline(String),
    /// Impact tiers, best first.
    Tiers(Vec<TierBlock>),
}

/// One impact tier of a long posting list, encoded ([`encode_block`]).
struct TierBlock {
    docs: String,
    positions: String,
    first_doc: u32,
    last_doc: u32,
    count: usize,
    max_impact: u32,
}

/// Encodes a term's postings (sorted by document): inline when small, else impact tiers.
/// Pure, so terms are encoded in parallel.
fn term_value(postings: Vec<PostingRef<'_>>) -> TermValue {
    let df = postings.len();
    // A posting takes at least three characters (its gap, impact and position count): a
    // longer list goes to tiers without being encoded whole first, which was half the
    // encoding of a large index.
    if 3 * df <= INLINE_BYTES {
        let (docs, positions) = encode_refs(postings.iter().copied());
        if docs.len() + positions.len() <= INLINE_BYTES {
            // Both strings use only ALPHABET characters: no escaping needed.
            return TermValue::Inline(format!("[{df},\"{docs}\",\"{positions}\"]"));
        }
    }
    let mut tiers = Vec::new();
    for block in tier_blocks(&postings) {
        let max_impact = block.iter().map(|p| p.impact).max().unwrap_or(0);
        let (docs, positions) = encode_refs(block.iter().copied());
        tiers.push(TierBlock {
            docs,
            positions,
            first_doc: block[0].doc,
            last_doc: block[block.len() - 1].doc,
            count: block.len(),
            max_impact,
        });
    }
    TermValue::Tiers(tiers)
}

/// Splits postings sorted by document into tiers: ranked by impact, highest first (ties by
/// document), the first [`TIERS`]\[0\] are tier 0, the next [`TIERS`]\[1\] tier 1, …, then
/// [`BLOCK_POSTINGS`] a tier; each tier keeps document order. Impacts are small integers, so
/// a posting's rank comes from a count per impact rather than a sort: one pass counts, one
/// deals the postings out in document order.
fn tier_blocks<'p>(postings: &[PostingRef<'p>]) -> Vec<Vec<PostingRef<'p>>> {
    let tier_of = |rank: usize| {
        let mut start = 0;
        for (tier, &size) in TIERS.iter().enumerate() {
            if rank < start + size {
                return tier;
            }
            start += size;
        }
        TIERS.len() + (rank - start) / BLOCK_POSTINGS
    };
    let tiers = tier_of(postings.len().saturating_sub(1)) + 1;
    // At most MAX_IMPACT ([`quantize`] clamps), so the counts stay small.
    let max_impact = postings.iter().map(|p| p.impact).max().unwrap_or(0) as usize;
    let mut blocks: Vec<Vec<PostingRef<'p>>> = vec![Vec::new(); tiers];
    // next_rank[i]: the rank of the next posting of impact i (postings come by document).
    let mut next_rank = vec![0usize; max_impact + 2];
    for p in postings {
        next_rank[p.impact as usize] += 1;
    }
    let mut above = 0;
    for slot in next_rank.iter_mut().rev() {
        let count = *slot;
        *slot = above;
        above += count;
    }
    for p in postings {
        let rank = &mut next_rank[p.impact as usize];
        blocks[tier_of(*rank)].push(*p);
        *rank += 1;
    }
    blocks
}

/// Which `p` pack stream a tier goes to: tier 0, tier 1, or later tiers. A one-word query
/// reads tier 0 only, so its packs are the smallest.
fn pack_class(tier: usize) -> usize {
    tier.min(DOC_PACK_BYTES.len() - 1)
}

/// A pack being filled: `items` will be its JSON array of strings.
#[derive(Default)]
struct OpenPack {
    id: String,
    items: Vec<String>,
    bytes: usize,
}

/// Assigns tier blocks to packs (`p<id>.js` for documents, `q<id>.js` for positions) in the
/// order terms come, closing a pack when the next block would pass its size, and every pack
/// where a snapshot block ends ([`Packer::end_block`]). A pack's id is its block's name (a
/// hash of the block's first term, [`Packer::name_for`]) and its number in the block, so a
/// block's packs are named the same in every build that cuts the block there, whatever
/// changed before it.
#[derive(Default)]
struct Packer {
    docs: [OpenPack; 3],
    positions: OpenPack,
    /// The open block's name, and the numbers its next packs get (documents, positions).
    block: String,
    next_docs: usize,
    next_positions: usize,
    /// Every block name given out.
    names: HashSet<String>,
    /// Script ids of the packs the open block closed.
    block_packs: Vec<String>,
    /// Closed packs not yet written: (script id, data).
    closed: Vec<(String, String)>,
}

impl Packer {
    /// The name a block starting with `first_term` gets: 40 bits of a hash of the term, in
    /// hex, then a number if the name is taken (an index of 10,000 blocks has about one
    /// chance in 200,000 of that).
    fn name_for(&self, first_term: &str) -> String {
        let base = Packer::base_name(first_term);
        let mut name = base.clone();
        let mut n = 0;
        while self.names.contains(&name) {
            n += 1;
            name = format!("{base}_{n}");
        }
        name
    }

    /// The name a block starting with `first_term` gets unless it is taken.
    fn base_name(first_term: &str) -> String {
        let mut hasher = FxHasher::default();
        hasher.write(first_term.as_bytes());
        format!("{:010x}", hasher.finish() >> 24)
    }

    /// Opens the block named `name` (from [`Packer::name_for`]).
    fn start_block(&mut self, name: String) {
        self.names.insert(name.clone());
        self.block = name;
        self.next_docs = 0;
        self.next_positions = 0;
    }

    /// The dictionary entry (JSON) for a term, its tiers added to packs.
    fn entry(&mut self, df: usize, value: TermValue) -> String {
        let tiers = match value {
            TermValue::Inline(json) => return json,
            TermValue::Tiers(tiers) => tiers,
        };
        let mut out = format!("[{df},[");
        for (tier, block) in tiers.into_iter().enumerate() {
            let class = pack_class(tier);
            let (p, i) = self.put(Some(class), block.docs);
            let (q, j) = self.put(None, block.positions);
            if tier > 0 {
                out.push(',');
            }
            // Ids are hex digits, `_` and `-`: nothing to escape.
            let _ = write!(
                out,
                "[\"{p}\",{i},\"{q}\",{j},{},{},{},{}]",
                block.first_doc, block.last_doc, block.count, block.max_impact
            );
        }
        out.push_str("]]");
        out
    }

    /// Adds `item` to the documents pack of `class`, or with `None` to the positions pack
    /// (closing it first if `item` would take it past its size); returns (pack id, index in
    /// the pack).
    fn put(&mut self, class: Option<usize>, item: String) -> (String, usize) {
        let (pack, next, letter, cap) = match class {
            Some(class) => (
                &mut self.docs[class],
                &mut self.next_docs,
                'p',
                DOC_PACK_BYTES[class],
            ),
            None => (
                &mut self.positions,
                &mut self.next_positions,
                'q',
                POSITION_PACK_BYTES,
            ),
        };
        let cost = item.len() + 3;
        if !pack.items.is_empty() && pack.bytes + cost > cap {
            Self::close(pack, letter, &mut self.closed, &mut self.block_packs);
        }
        if pack.items.is_empty() {
            pack.id = format!("{}-{}", self.block, *next);
            *next += 1;
        }
        pack.bytes += cost;
        pack.items.push(item);
        (pack.id.clone(), pack.items.len() - 1)
    }

    fn close(
        pack: &mut OpenPack,
        letter: char,
        closed: &mut Vec<(String, String)>,
        block_packs: &mut Vec<String>,
    ) {
        if pack.items.is_empty() {
            return;
        }
        let mut data = String::with_capacity(pack.bytes + 2);
        data.push('[');
        for (i, item) in pack.items.drain(..).enumerate() {
            if i > 0 {
                data.push(',');
            }
            data.push('"');
            data.push_str(&item);
            data.push('"');
        }
        data.push(']');
        let id = format!("{letter}{}", pack.id);
        block_packs.push(id.clone());
        closed.push((id, data));
        pack.bytes = 0;
    }

    /// Closes every open pack where a block ends; returns the script ids of the block's packs.
    fn end_block(&mut self) -> Vec<String> {
        for pack in &mut self.docs {
            Self::close(pack, 'p', &mut self.closed, &mut self.block_packs);
        }
        Self::close(
            &mut self.positions,
            'q',
            &mut self.closed,
            &mut self.block_packs,
        );
        std::mem::take(&mut self.block_packs)
    }

    fn take_closed(&mut self) -> Vec<(String, String)> {
        std::mem::take(&mut self.closed)
    }
}

/// A term's postings from wherever they are, sorted by number: those this build tokenized
/// (in `shards`, found through `by_term`) and those read back. Where a posting came from
/// (memory, spill, snapshot) changes nothing: a number is in at most one of them.
fn merge_postings<'a>(
    term: &'a BatchTerm,
    shards: &'a [TermShard],
    by_term: &[(Vec<u32>, Vec<u32>)],
) -> Vec<(u32, &'a RawPosting, &'a [u32])> {
    let mut all = Vec::new();
    if let Some((s, id)) = term.shard {
        let shard = &shards[s];
        let (first, order) = &by_term[s];
        let ours = &order[first[id as usize] as usize..first[id as usize + 1] as usize];
        all.reserve(ours.len() + term.disk.len());
        all.extend(ours.iter().map(|&i| {
            let p = &shard.postings[i as usize];
            let start = p.pos_start as usize;
            (
                p.doc,
                p,
                &shard.positions[start..start + p.pos_len as usize],
            )
        }));
    }
    all.extend(term.disk.iter().map(|p| {
        let start = p.pos_start as usize;
        (
            p.doc,
            p,
            &term.disk_positions[start..start + p.pos_len as usize],
        )
    }));
    // Each part is in order unless the snapshot's numbers were claimed out of order (a
    // renumbering rebuild): a stable sort merges two sorted runs in linear time, where an
    // unstable one sorted them again (6% of the CPU of a one-edit rebuild's postings pass
    // at 50,000 documents), and sorts any order all the same.
    all.sort_by_key(|p| p.0);
    all
}

/// A term's encoded postings for the snapshot, or when no snapshot is kept only their length
/// (which is all [`snapshot::Cutter`] needs).
enum Raw {
    Bytes(Vec<u8>),
    /// Its bytes in the previous snapshot, the same.
    Slice(snapshot::RawSlice),
    Len(usize),
}

/// A block of terms as [`snapshot::Cutter`] ended it.
struct EndedBlock {
    terms: Vec<BatchTerm>,
    /// Each term's document frequency and value, once all are scored.
    scored: Vec<(usize, TermValue)>,
    /// Its bytes, when a snapshot is kept and no frame of the previous one holds them.
    raw: Vec<u8>,
    /// The previous snapshot's frame for the same bytes.
    frame: Option<Vec<u8>>,
    /// That block's record frame, when postings score as they did then: the block may then
    /// keep its index files.
    record: Option<Vec<u8>>,
    /// The name the block was checked under and, if its index files can be kept under it,
    /// their record ([`EndedBlock::check_kept`]).
    checked: Option<(String, Option<snapshot::BlockRecord>)>,
}

impl EndedBlock {
    /// Scores every term, decoding those read from the snapshot undecoded.
    fn score(
        &mut self,
        score: impl Fn(&BatchTerm) -> (usize, TermValue) + Sync + Send,
    ) -> std::io::Result<()> {
        self.scored = self
            .terms
            .par_iter_mut()
            .map(|term| {
                term.decode()?;
                Ok(score(term))
            })
            .collect::<std::io::Result<_>>()?;
        Ok(())
    }

    /// Whether the block may keep the previous build's index files, so is not scored
    /// unless [`Assembly::pack`] finds it cannot.
    fn may_keep(&self) -> bool {
        self.record.is_some()
    }

    /// Checks, ahead of packing and in parallel with other blocks, whether the block keeps
    /// its index files under the name it most likely gets (see [`Assembly::pack`]). Checking
    /// each pack file while packing, one block after another, was a fifth of the serial
    /// work of a one-edit rebuild's index stage.
    fn check_kept(&mut self, indexer: &Indexer, out: &Output) {
        let Some(record_frame) = &self.record else {
            return;
        };
        let name = Packer::base_name(&self.terms[0].term);
        let record = Assembly::keepable(indexer, out, &name, self, record_frame);
        self.checked = Some((name, record));
    }
}

/// A block packed, waiting for its packs' checksums before it goes to the snapshot.
struct Assembled {
    name: String,
    /// Its packs' script ids.
    packs: Vec<String>,
    terms: snapshot::Frame,
    /// Where its terms are in the dictionary entries.
    entries: std::ops::Range<usize>,
}

/// The index as finish puts it together, in term order: the terms cut into blocks by
/// [`snapshot::Cutter`] (the same blocks in every build), each block's terms packed with
/// its packs closed where it ends, the dictionary entries, and the next snapshot's blocks.
struct Assembly {
    entries: Vec<DictEntry>,
    packer: Packer,
    cutter: snapshot::Cutter,
    /// The open block's terms, their values if scored, and their bytes when a snapshot is
    /// kept.
    open: Vec<BatchTerm>,
    open_scored: Vec<(usize, TermValue)>,
    open_raw: snapshot::OpenBytes,
    /// The previous snapshot's blocks, to find the same bytes in.
    reuse: Option<snapshot::Reuse>,
    /// Whether postings score as they did when the previous snapshot was written.
    keep_whole: bool,
    /// Blocks packed, and blocks kept whole, not yet in the snapshot.
    blocks: Vec<Result<Assembled, snapshot::BlockOut>>,
    snapshot: Option<snapshot::PostingsWriter>,
}

impl Assembly {
    /// Adds a term and its bytes to the open block; returns the block if the term ends it.
    fn cut(
        &mut self,
        term: BatchTerm,
        raw: Raw,
        scored: Option<(usize, TermValue)>,
    ) -> Option<EndedBlock> {
        let len = match raw {
            Raw::Bytes(bytes) => {
                self.open_raw.push(&bytes);
                bytes.len()
            }
            Raw::Slice(slice) => {
                self.open_raw.push_slice(&slice);
                slice.bytes().len()
            }
            Raw::Len(len) => len,
        };
        let ends = self.cutter.add(&term.term, len);
        self.open.push(term);
        self.open_scored.extend(scored);
        ends.then(|| self.end_open()).flatten()
    }

    /// Ends the open block, if it holds a term.
    fn end_open(&mut self) -> Option<EndedBlock> {
        if self.open.is_empty() {
            return None;
        }
        self.cutter = snapshot::Cutter::default();
        let open = std::mem::take(&mut self.open_raw);
        let (raw, old) = match &self.reuse {
            Some(reuse) => reuse.take_open(open),
            None => (open.into_bytes(), None),
        };
        let (frame, record) = match old {
            Some((frame, record)) => (Some(frame), self.keep_whole.then_some(record)),
            None => (None, None),
        };
        Some(EndedBlock {
            terms: std::mem::take(&mut self.open),
            scored: std::mem::take(&mut self.open_scored),
            raw,
            frame,
            record,
            checked: None,
        })
    }

    /// Packs an ended block: keeps the previous build's index files for it when it may and
    /// they are intact (named as this build would name them, as that build wrote them),
    /// else packs its terms, scored now by `score` if they are not yet.
    fn pack(
        &mut self,
        indexer: &Indexer,
        out: &Output,
        mut block: EndedBlock,
        score: impl Fn(&BatchTerm) -> (usize, TermValue) + Sync + Send,
    ) -> Result<()> {
        let name = self.packer.name_for(&block.terms[0].term);
        let record = match block.checked.take() {
            Some((checked, record)) if checked == name => record,
            _ => block
                .record
                .as_deref()
                .and_then(|frame| Self::keepable(indexer, out, &name, &block, frame)),
        };
        if let Some(record) = record
            && let Some(frame) = block.frame.take()
        {
            for (id, sha) in &record.packs {
                out.keep(&indexer.script_path(id), sha);
            }
            self.packer.start_block(name);
            self.entries.extend(
                block
                    .terms
                    .into_iter()
                    .zip(record.entries)
                    .map(|(term, (entry, df))| (term.term, entry, df)),
            );
            self.blocks.push(Err(snapshot::BlockOut {
                terms: snapshot::Frame::Compressed(frame),
                record: snapshot::Frame::Compressed(block.record.unwrap_or_default()),
            }));
            return Ok(());
        }
        if block.scored.len() != block.terms.len() {
            block
                .score(score)
                .map_err(|err| indexer.snapshot_damaged(&err))?;
        }
        let scored = std::mem::take(&mut block.scored);
        self.packer.start_block(name.clone());
        let first = self.entries.len();
        for (term, (df, value)) in block.terms.into_iter().zip(scored) {
            let entry = self.packer.entry(df, value);
            self.entries.push((term.term, entry, df));
        }
        let packs = self.packer.end_block();
        if self.snapshot.is_some() {
            let terms = match block.frame {
                Some(frame) => snapshot::Frame::Compressed(frame),
                None => snapshot::Frame::Raw(block.raw),
            };
            self.blocks.push(Ok(Assembled {
                name,
                packs,
                terms,
                entries: first..self.entries.len(),
            }));
        }
        Ok(())
    }

    /// The previous build's record of a block with the same bytes, if its index files can be
    /// kept: named `name` then too, one entry per term, and every pack intact.
    fn keepable(
        indexer: &Indexer,
        out: &Output,
        name: &str,
        block: &EndedBlock,
        record_frame: &[u8],
    ) -> Option<snapshot::BlockRecord> {
        let record = snapshot::BlockRecord::read(record_frame).ok()?;
        let kept = record.name == name
            && record.entries.len() == block.terms.len()
            && record
                .packs
                .iter()
                .all(|(id, sha)| out.can_keep(&indexer.script_path(id), sha));
        kept.then_some(record)
    }

    /// Writes the packs closed so far, and passes the blocks ended so far to the snapshot.
    fn flush(&mut self, indexer: &Indexer, out: &Output) -> Result<()> {
        let written = indexer.write_files(out, self.packer.take_closed())?;
        let Some(snapshot) = &mut self.snapshot else {
            return Ok(());
        };
        let mut digests: HashMap<String, String> = written.into_iter().collect();
        let blocks = self
            .blocks
            .drain(..)
            .map(|block| match block {
                Err(whole) => whole,
                Ok(made) => {
                    let packs: Vec<(String, String)> = made
                        .packs
                        .into_iter()
                        .map(|id| {
                            let sha = digests.remove(&id).unwrap_or_default();
                            (id, sha)
                        })
                        .collect();
                    let record = snapshot::BlockRecord::encode(
                        &made.name,
                        &packs,
                        self.entries[made.entries]
                            .iter()
                            .map(|(_, entry, df)| (entry.as_str(), *df)),
                    );
                    snapshot::BlockOut {
                        terms: made.terms,
                        record: snapshot::Frame::Raw(record),
                    }
                }
            })
            .collect();
        snapshot.write(blocks);
        if snapshot.failed()
            && let Some(reuse) = &self.reuse
        {
            reuse.close();
        }
        Ok(())
    }
}

/// A node's children as JSON, `[[first_term, file_id, max_df], …]`.
fn child_list(children: &[(String, String, usize)]) -> String {
    json!(
        children
            .iter()
            .map(|(term, id, df)| json!([term, id, df]))
            .collect::<Vec<_>>()
    )
    .to_string()
}

/// `{"term":entry,…}` from already serialized entries.
fn terms_object(entries: &[DictEntry]) -> String {
    // Each term is escaped straight into the object: going through a JSON value copied it
    // twice, for every term of the dictionary (a fifth of a one-edit rebuild's serial end).
    let bytes = entries
        .iter()
        .map(|e| e.0.len() + e.1.len() + 4)
        .sum::<usize>();
    let mut out = Vec::with_capacity(bytes + 2);
    out.push(b'{');
    for (i, (term, value, _)) in entries.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        serde_json::to_writer(&mut out, term).expect("a string is written to memory");
        out.push(b':');
        out.extend_from_slice(value.as_bytes());
    }
    out.push(b'}');
    String::from_utf8(out).expect("JSON of strings is UTF-8")
}

/// The sort key that numbers documents: agency, kind, year (undated last), then path order.
fn facet_key(doc: &Document) -> (&str, &str, i64, usize) {
    let year = doc.date.map_or(i64::MAX, |d| -(d.year() as i64));
    (doc.agency(), doc.kind, year, doc.id)
}

/// The mean (title, body) lengths, as [`coarse_length`] gives them.
fn averages(lengths: &[(u32, u32)]) -> (f64, f64) {
    if lengths.is_empty() {
        return (1.0, 1.0);
    }
    let n = lengths.len() as f64;
    let title: f64 = lengths.iter().map(|l| l.0 as f64).sum::<f64>() / n;
    let body: f64 = lengths.iter().map(|l| l.1 as f64).sum::<f64>() / n;
    (coarse_mean(title).max(1.0), coarse_mean(body).max(1.0))
}

/// A mean length kept to four significant bits, as [`coarse_length`] keeps a length, but
/// without rounding it to a whole number first (a mean title of 1.45 positions is 1.375, not 1).
fn coarse_mean(mean: f64) -> f64 {
    // An f64 stores 52 bits after its implicit leading one; keeping the top 3 keeps four.
    const DROPPED: u32 = f64::MANTISSA_DIGITS - 4;
    if !mean.is_normal() {
        return mean;
    }
    f64::from_bits(mean.to_bits() & !((1u64 << DROPPED) - 1))
}

/// A length as scoring sees it: its four leading bits, the rest zeroed (as Lucene keeps its
/// norms), so within 1/8 of the exact length. A sentence added to a document then rarely
/// changes its scored length, and the mean moves only when many lengths do: an edit changes
/// the postings of the terms it touched, not every posting of the document or of the index.
pub fn coarse_length(len: u32) -> f64 {
    let kept = (u32::BITS - len.leading_zeros()).saturating_sub(4);
    f64::from(len >> kept << kept)
}

/// What BM25F needs about one term in one document.
#[derive(Debug, Clone, Copy)]
pub struct RankInputs {
    /// Occurrences in the title (and tags).
    pub title_tf: f64,
    /// Occurrences in the body (and file name).
    pub body_tf: f64,
    /// Occurrences in the agency's name.
    pub agency_tf: f64,
    /// Title length in positions.
    pub title_len: f64,
    /// Body length in positions.
    pub body_len: f64,
    /// Mean title length.
    pub avg_title: f64,
    /// Mean body length.
    pub avg_body: f64,
}

/// The part of BM25F that depends on a document and not on the term: each field's weight
/// over its length normalization.
#[derive(Debug, Clone, Copy)]
struct FieldFactors {
    title: f64,
    body: f64,
}

impl FieldFactors {
    fn of(title_len: f64, body_len: f64, avg_title: f64, avg_body: f64) -> FieldFactors {
        let norm = |len: f64, avg: f64| 1.0 - B + B * len / avg;
        FieldFactors {
            title: TITLE_WEIGHT / norm(title_len, avg_title),
            body: 1.0 / norm(body_len, avg_body),
        }
    }

    /// The weighted, length-normalized term frequency.
    fn weigh(&self, title_tf: f64, body_tf: f64, agency_tf: f64) -> f64 {
        title_tf * self.title + body_tf * self.body + AGENCY_WEIGHT * agency_tf
    }
}

/// BM25's saturation of a weighted term frequency.
fn saturate(idf: f64, tf: f64) -> f64 {
    idf * tf * (K1 + 1.0) / (tf + K1)
}

/// BM25F: per-field length-normalized term frequencies, weighted, then saturated once.
pub fn bm25f(idf: f64, x: &RankInputs) -> f64 {
    let factors = FieldFactors::of(x.title_len, x.body_len, x.avg_title, x.avg_body);
    saturate(idf, factors.weigh(x.title_tf, x.body_tf, x.agency_tf))
}

/// The stored, quantized score; at least 1 so every posting counts.
pub fn impact(idf: f64, x: &RankInputs) -> u32 {
    quantize(bm25f(idf, x))
}

fn quantize(score: f64) -> u32 {
    ((score * IMPACT_SCALE).round() as u32).clamp(1, MAX_IMPACT)
}

/// The first [`SHARD_PREFIX_CHARS`] characters of `term`: its dictionary group.
pub fn prefix_of(term: &str) -> &str {
    let end = term
        .char_indices()
        .nth(SHARD_PREFIX_CHARS)
        .map_or(term.len(), |(i, _)| i);
    &term[..end]
}

/// Which root dictionary shard holds `term` (inline, or its group's sub-shard list).
pub fn shard_of(term: &str, shards: usize) -> usize {
    (fnv1a(prefix_of(term)) as usize) % shards.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spill_run_reads_back_every_posting_even_at_the_limits() {
        // Varints must carry the widest counts and ids, and positions that do not ascend
        // (wrapping gaps) must still come back as written.
        let mut shard = TermShard::default();
        shard.ids.insert("beta".into(), 0);
        shard.ids.insert("alpha".into(), 1);
        let wide: Vec<u32> = (0..MAX_POSITIONS as u32)
            .map(|i| u32::MAX - i * 3)
            .collect();
        let cases = [
            (0, u32::MAX, u16::MAX, u32::MAX, u16::MAX, wide.clone()),
            (1, 0, 0, 1, 0, vec![]),
            (0, 7, 1, 0, 2, vec![5, 3, 0, 200_000]),
        ];
        for (term, doc, title_tf, body_tf, agency_tf, positions) in &cases {
            shard.postings.push(RawPosting {
                term: *term,
                doc: *doc,
                title_tf: *title_tf,
                body_tf: *body_tf,
                agency_tf: *agency_tf,
                pos_start: shard.positions.len() as u32,
                pos_len: positions.len() as u8,
            });
            shard.positions.extend(positions);
        }
        let run = encode_run(&shard);
        let held = shard.postings.len() * 13 + shard.positions.len() * 4 + 2 * 8;
        assert!(
            run.len() < held,
            "{} bytes against {held} fixed-width",
            run.len()
        );

        let dir = tempfile::tempdir().unwrap();
        let file = SpillFile::create(&[dir.path()], "test").unwrap();
        let start = file.append(b"before").unwrap() + 6;
        file.append(&run).unwrap();
        let end = start + run.len() as u64;
        file.append(b"after").unwrap();
        let mut reader = RunReader::new(&file, start, end).unwrap();
        // Terms come in term order: "alpha" (id 1), then "beta" (id 0).
        let mut back = Vec::new();
        for expected in [1, 0] {
            assert_eq!(reader.head, Some(expected));
            let (mut postings, mut positions) = (Vec::new(), Vec::new());
            reader.take(&mut postings, &mut positions).unwrap();
            for p in postings {
                let at = p.pos_start as usize;
                let pos = positions[at..at + p.pos_len as usize].to_vec();
                back.push((p.term, p.doc, p.title_tf, p.body_tf, p.agency_tf, pos));
            }
        }
        assert_eq!(reader.head, None);
        back.sort_by_key(|p| (p.0, p.1));
        let mut expected = cases.to_vec();
        expected.sort_by_key(|p| (p.0, p.1));
        assert_eq!(back, expected);

        // A run cut short is an error, never a short list.
        let mut cut = RunReader::new(&file, start, end - 3).unwrap();
        let (mut postings, mut positions) = (Vec::new(), Vec::new());
        let mut failed = false;
        while cut.head.is_some() {
            if cut.take(&mut postings, &mut positions).is_err() {
                failed = true;
                break;
            }
        }
        assert!(failed, "a truncated run read back without an error");
    }

    fn inputs(title_tf: f64, body_tf: f64) -> RankInputs {
        RankInputs {
            title_tf,
            body_tf,
            agency_tf: 0.0,
            title_len: 5.0,
            body_len: 100.0,
            avg_title: 5.0,
            avg_body: 100.0,
        }
    }

    #[test]
    fn tiers_rank_by_impact_then_document_and_keep_document_order() {
        // A reference: sort by impact (highest first, ties by document), cut into tiers,
        // put each back in document order.
        let mut seed = 7u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as u32
        };
        for len in [1, 127, 128, 129, 700, 2688, 2689, 9000, 20_000] {
            let postings: Vec<PostingRef<'_>> = (0..len as u32)
                .map(|i| PostingRef {
                    doc: i * 3,
                    impact: 1 + next() % 40,
                    positions: &[],
                })
                .collect();
            let mut reference = postings.clone();
            reference.sort_by(|a, b| b.impact.cmp(&a.impact).then(a.doc.cmp(&b.doc)));
            let mut expected = Vec::new();
            let mut rest = &mut reference[..];
            while !rest.is_empty() {
                let size = TIERS.get(expected.len()).copied().unwrap_or(BLOCK_POSTINGS);
                let (block, after) = rest.split_at_mut(size.min(rest.len()));
                block.sort_by_key(|p| p.doc);
                expected.push(block.iter().map(|p| (p.doc, p.impact)).collect::<Vec<_>>());
                rest = after;
            }
            let got: Vec<Vec<(u32, u32)>> = tier_blocks(&postings)
                .iter()
                .map(|b| b.iter().map(|p| (p.doc, p.impact)).collect())
                .collect();
            assert_eq!(got, expected, "{len} postings");
        }
    }

    #[test]
    fn title_outranks_body_and_rare_outranks_common() {
        assert!(bm25f(1.0, &inputs(1.0, 0.0)) > bm25f(1.0, &inputs(0.0, 1.0)));
        assert!(bm25f(2.0, &inputs(0.0, 1.0)) > bm25f(1.0, &inputs(0.0, 1.0)));
        // Saturation: ten mentions are worth less than ten times one.
        assert!(bm25f(1.0, &inputs(0.0, 10.0)) < 10.0 * bm25f(1.0, &inputs(0.0, 1.0)));
        let agency = RankInputs {
            agency_tf: 1.0,
            ..inputs(0.0, 1.0)
        };
        assert!(bm25f(1.0, &agency) > bm25f(1.0, &inputs(0.0, 1.0)));
        assert!(impact(0.0001, &inputs(0.0, 1.0)) >= 1);
    }

    #[test]
    fn coarse_lengths_keep_four_leading_bits() {
        for len in 0..16 {
            assert_eq!(
                coarse_length(len),
                f64::from(len),
                "small lengths are exact"
            );
        }
        assert_eq!(coarse_length(16), 16.0);
        assert_eq!(coarse_length(17), 16.0);
        assert_eq!(coarse_length(18), 18.0);
        assert_eq!(coarse_length(1800), 1792.0);
        assert_eq!(coarse_length(1807), 1792.0);
        assert_eq!(coarse_length(1920), 1920.0);
        assert_eq!(coarse_length(u32::MAX), f64::from(0xF000_0000u32));
        for len in [20u32, 300, 1801, 65_537, 3_000_000] {
            let coarse = coarse_length(len);
            assert!(coarse <= f64::from(len) && coarse > f64::from(len) * 7.0 / 8.0);
        }
        // Means are coarse too, keep their fraction, and are never below one.
        assert_eq!(averages(&[(3, 1800), (5, 1810)]), (4.0, 1792.0));
        assert_eq!(averages(&[(1, 1800), (2, 1801)]), (1.5, 1792.0));
        assert_eq!(coarse_mean(1.45), 1.375);
        assert_eq!(coarse_mean(0.3), 0.28125);
        for len in [7u32, 20, 300, 1801, 65_537, 3_000_000] {
            assert_eq!(coarse_mean(f64::from(len)), coarse_length(len));
        }
        assert_eq!(averages(&[(0, 0)]), (1.0, 1.0));
    }

    #[test]
    fn terms_sharing_three_chars_share_a_shard() {
        assert_eq!(shard_of("protest", 64), shard_of("protocol", 64));
        assert_eq!(shard_of("pr", 64), (fnv1a("pr") % 64) as usize);
        assert_eq!(shard_of("東京都", 8), (fnv1a("東京都") % 8) as usize);
        assert_eq!(shard_of("x", 1), 0);
    }

    fn script(files: &BTreeMap<String, Vec<u8>>, key: &str, id: &str) -> serde_json::Value {
        let text = std::str::from_utf8(&files[&format!("search/{key}/{id}.js")]).unwrap();
        let body = text
            .strip_prefix(&format!("LEAKPRESS_SEARCH.load(\"{id}\","))
            .and_then(|t| t.strip_suffix(");\n"))
            .unwrap();
        serde_json::from_str(body).unwrap()
    }

    /// Calls `each` with every posting an indexer's shards hold, its term's text and its
    /// positions.
    fn for_each_held(indexer: &Indexer, mut each: impl FnMut(&str, &RawPosting, &[u32])) {
        for shard in &indexer.shards {
            let shard = shard.lock().unwrap();
            let mut names = vec![String::new(); shard.ids.len()];
            for (term, &id) in &shard.ids {
                names[id as usize] = term.clone();
            }
            for p in &shard.postings {
                let start = p.pos_start as usize;
                let positions = &shard.positions[start..start + p.pos_len as usize];
                each(&names[p.term as usize], p, positions);
            }
        }
    }

    /// Every (term, document, body tf) an indexer's shards hold, by the term's text.
    fn held_postings(indexer: &Indexer) -> Vec<(String, u32, u32)> {
        let mut held = Vec::new();
        for_each_held(indexer, |term, p, _| {
            held.push((term.to_owned(), p.doc, p.body_tf));
        });
        held.sort();
        held
    }

    /// An indexer of no documents, without a cache.
    fn bare_indexer() -> Indexer {
        let snapshot = SnapshotLoad::start(&Cache::disabled());
        Indexer::new(&[], &[], &Config::default(), "", &[], snapshot)
    }

    /// A body is cut and counted a chunk of words at a time: a body of several chunks counts
    /// every word, with its first positions, as one cut of the whole text does.
    #[test]
    fn a_body_longer_than_a_chunk_is_counted_whole() {
        let words = [
            "alpha",
            "protesters",
            "beta",
            "the",
            "gamma7",
            "protest",
            "delta",
        ];
        let body: Vec<String> = (0..10_000)
            .map(|i: usize| format!("{}{}", words[i % words.len()], i % 997))
            .collect();
        let body = body.join(" ");
        let indexer = bare_indexer();
        let (_, body_len) = indexer.index_text(0, &Fields::of("", &body, "", ""));
        let mut expected: BTreeMap<String, (u32, Vec<u32>)> = BTreeMap::new();
        let start = FIELD_GAP;
        let end = tokenize::tokenize_terms(&body, Mode::Index, start, |term, pos| {
            let (tf, positions) = expected.entry(term.to_owned()).or_default();
            *tf += 1;
            if positions.len() < MAX_POSITIONS {
                positions.push(pos);
            }
        });
        // The body's length runs to the file name's field, a gap after the body's last word.
        assert_eq!(body_len, end + FIELD_GAP - start);
        let mut held: BTreeMap<String, (u32, Vec<u32>)> = BTreeMap::new();
        for_each_held(&indexer, |term, p, positions| {
            held.insert(term.to_owned(), (p.body_tf, positions.to_vec()));
        });
        assert!(held.len() > 2000, "{} terms", held.len());
        assert_eq!(held, expected);
    }

    #[test]
    fn words_are_counted_by_their_stem_and_never_under_another_indexers_ids() {
        // Each call is a new indexer on this thread, which keeps its memo of words between
        // them: the words met before must be interned again, in the new indexer's shards.
        let index = |bodies: &[&str]| {
            let indexer = bare_indexer();
            for (doc, body) in bodies.iter().enumerate() {
                indexer.index_text(doc as u32, &Fields::of("", body, "", ""));
            }
            held_postings(&indexer)
        };
        // (bodies, postings expected as (term, document, body tf)).
        type Case<'c> = (&'c [&'c str], &'c [(&'c str, u32, u32)]);
        let cases: [Case<'_>; 2] = [
            (
                &["protesters protested the protest alpha", "alpha beta alpha"],
                &[
                    ("alpha", 0, 1),
                    ("alpha", 1, 2),
                    ("beta", 1, 1),
                    ("protest", 0, 3),
                ],
            ),
            (
                &["zulu", "beta protesting alpha"],
                &[
                    ("alpha", 1, 1),
                    ("beta", 1, 1),
                    ("protest", 1, 1),
                    ("zulu", 0, 1),
                ],
            ),
        ];
        for (bodies, expected) in cases {
            let expected: Vec<_> = expected
                .iter()
                .map(|&(term, doc, tf)| (term.to_owned(), doc, tf))
                .collect();
            assert_eq!(index(bodies), expected, "{bodies:?}");
        }
    }

    #[test]
    fn a_document_of_millions_of_terms_does_not_pin_its_tables() {
        let indexer = bare_indexer();
        let capacity = || DOC_TERMS.with(|t| t.borrow().counts.capacity());
        let huge: String = (0..DOC_TERMS_KEPT + 1).map(|i| format!("w{i} ")).collect();
        indexer.index_text(0, &Fields::of("", &huge, "", ""));
        assert!(capacity() > DOC_TERMS_KEPT);
        // The next document starts with fresh tables.
        indexer.index_text(1, &Fields::of("", "small note", "", ""));
        assert!(capacity() < DOC_TERMS_KEPT, "{}", capacity());
        let shard = indexer.shards[term_shard("note")].lock().unwrap();
        assert!(shard.ids.contains_key("note"));
    }

    #[test]
    fn a_heavy_prefix_splits_into_sub_shards_the_root_lists() {
        let out = Output::memory();
        let indexer = bare_indexer();
        let key = indexer.key().to_owned();
        let mut entries: Vec<(String, String, usize)> = (0..3000)
            .map(|i| {
                (
                    format!("ben{i:05}"),
                    json!([i % 7 + 1, "BB", "AA"]).to_string(),
                    i % 7 + 1,
                )
            })
            .collect();
        entries.push(("riot".into(), json!([1, "B", "A"]).to_string(), 1));
        let shards = indexer.write_dictionary(&out, entries).unwrap();
        let files = out.into_files();
        let root = script(&files, &key, &format!("t{}", shard_of("ben00001", shards)));
        let children = root[1]["ben"].as_array().expect("ben is split");
        assert!(children.len() > 10, "{} sub-shards", children.len());
        assert!(
            root[0].get("ben00001").is_none(),
            "split terms are not inline"
        );
        let riot = script(&files, &key, &format!("t{}", shard_of("riot", shards)));
        assert!(riot[0].get("riot").is_some(), "a light group stays inline");
        // Every term is in the sub-shard whose first term is the last one not after it.
        for i in [0usize, 1, 1499, 2999] {
            let term = format!("ben{i:05}");
            let (leaf, path) = leaf_for(&files, &key, children, &term);
            assert_eq!(path, 0, "{} leaves need no inner node", children.len());
            assert!(leaf.get(&term).is_some(), "{term}");
        }
        for child in children {
            let id = child[1].as_str().unwrap();
            assert!(id.starts_with('s'), "{id}");
            assert!(files[&format!("search/{key}/{id}.js")].len() < LEAF_BYTES + 200);
        }
        // The redirect list is a small fraction of the group it stands for.
        let root_bytes = files[&format!("search/{key}/t{}.js", shard_of("ben", shards))].len();
        assert!(root_bytes < 3000 * 20 / 10, "root shard {root_bytes} bytes");
    }

    /// Walks a split group's list down to the leaf whose range holds `term`; returns the
    /// leaf and how many inner nodes were read on the way.
    fn leaf_for(
        files: &BTreeMap<String, Vec<u8>>,
        key: &str,
        list: &[serde_json::Value],
        term: &str,
    ) -> (serde_json::Value, usize) {
        let child = list
            .iter()
            .rev()
            .find(|c| c[0].as_str().unwrap() <= term)
            .unwrap_or(&list[0]);
        let id = child[1].as_str().unwrap();
        let node = script(files, key, id);
        if id.starts_with('r') {
            let (leaf, depth) = leaf_for(files, key, node.as_array().unwrap(), term);
            (leaf, depth + 1)
        } else {
            (node, 0)
        }
    }

    #[test]
    fn a_group_of_many_leaves_gets_inner_nodes_so_no_list_grows_with_it() {
        let out = Output::memory();
        let indexer = bare_indexer();
        let key = indexer.key().to_owned();
        let terms = 200_000usize;
        let entries: Vec<(String, String, usize)> = (0..terms)
            .map(|i| {
                let df = (i * 7919) % 1000 + 1;
                // Long entries make small leaves, so the tree needs two inner levels.
                let docs = "B".repeat(120);
                (
                    format!("ben{i:06}"),
                    json!([df, docs, "AA"]).to_string(),
                    df,
                )
            })
            .collect();
        let shards = indexer.write_dictionary(&out, entries).unwrap();
        let files = out.into_files();
        let root = script(&files, &key, &format!("t{}", shard_of("ben000001", shards)));
        let top = root[1]["ben"].as_array().expect("ben is split");
        let leaves = files.keys().filter(|f| f.contains("/s")).count();
        assert!(
            leaves > FANOUT * FANOUT,
            "{leaves} leaves make a tree of three levels"
        );
        assert!(top.len() <= FANOUT, "{} entries at the root", top.len());
        // Every node lists at most FANOUT children, each with the largest df below it.
        fn max_df(files: &BTreeMap<String, Vec<u8>>, key: &str, id: &str) -> u64 {
            let node = script(files, key, id);
            if id.starts_with('s') {
                return node
                    .as_object()
                    .unwrap()
                    .values()
                    .map(|e| e[0].as_u64().unwrap())
                    .max()
                    .unwrap();
            }
            let list = node.as_array().unwrap();
            assert!(list.len() <= FANOUT, "{id} lists {}", list.len());
            for child in list {
                let below = max_df(files, key, child[1].as_str().unwrap());
                assert_eq!(child[2].as_u64().unwrap(), below, "{id}");
            }
            list.iter().map(|c| c[2].as_u64().unwrap()).max().unwrap()
        }
        for child in top {
            assert_eq!(
                child[2].as_u64().unwrap(),
                max_df(&files, &key, child[1].as_str().unwrap())
            );
        }
        for i in [0usize, 1, 4095, 99_999, terms - 1] {
            let term = format!("ben{i:06}");
            let (leaf, depth) = leaf_for(&files, &key, top, &term);
            assert_eq!(depth, 2, "{term}");
            assert!(leaf.get(&term).is_some(), "{term}");
        }
        let root_bytes = files[&format!("search/{key}/t{}.js", shard_of("ben", shards))].len();
        assert!(root_bytes < FANOUT * 40, "root shard {root_bytes} bytes");
    }

    fn borrowed(postings: &[Posting]) -> Vec<PostingRef<'_>> {
        postings.iter().map(Posting::borrowed).collect()
    }

    #[test]
    fn long_posting_lists_go_out_in_impact_tiers() {
        let postings: Vec<Posting> = (0..3000)
            .map(|doc| Posting {
                doc,
                impact: doc % 97 + 1,
                positions: vec![doc % 5],
            })
            .collect();
        let mut packer = Packer::default();
        packer.start_block(packer.name_for("term"));
        let entry: serde_json::Value =
            serde_json::from_str(&packer.entry(3000, term_value(borrowed(&postings)))).unwrap();
        packer.end_block();
        let files: BTreeMap<String, serde_json::Value> = packer
            .take_closed()
            .into_iter()
            .map(|(id, data)| (id, serde_json::from_str(&data).unwrap()))
            .collect();
        assert_eq!(entry[0], 3000);
        let refs = entry[1].as_array().unwrap();
        let counts: Vec<u64> = refs.iter().map(|r| r[6].as_u64().unwrap()).collect();
        assert_eq!(counts, [128, 512, 2048, 312]);
        let tier = |r: &serde_json::Value| {
            let at = |k: usize| r[k].as_u64().unwrap() as usize;
            let id = |k: usize| r[k].as_str().unwrap();
            let docs = &files[&format!("p{}", id(0))][at(1)];
            let positions = &files[&format!("q{}", id(2))][at(3)];
            decode_block(docs.as_str().unwrap(), positions.as_str()).unwrap()
        };
        let first = tier(&refs[0]);
        let second = tier(&refs[1]);
        // The first tier holds the best impacts, sorted by document, with positions.
        assert!(first.windows(2).all(|w| w[0].doc < w[1].doc));
        let worst_first = first.iter().map(|p| p.impact).min().unwrap();
        assert!(second.iter().all(|p| p.impact <= worst_first));
        assert_eq!(refs[0][7].as_u64().unwrap(), 97);
        assert!(first.iter().all(|p| p.positions == vec![p.doc % 5]));
        // Tiers of different classes go to different document packs.
        assert_ne!(refs[0][0], refs[1][0]);
        assert_ne!(refs[1][0], refs[2][0]);
        // A short list stays inline.
        let short = vec![Posting {
            doc: 3,
            impact: 9,
            positions: vec![1],
        }];
        assert_eq!(
            packer.entry(1, term_value(borrowed(&short))),
            r#"[1,"DJ","BB"]"#
        );
    }

    #[test]
    fn small_tiers_of_neighbouring_terms_share_a_pack() {
        let mut packer = Packer::default();
        packer.start_block(packer.name_for("term"));
        let mut refs = Vec::new();
        for term in 0..40u32 {
            // 200 postings: over INLINE_BYTES, so two tiers (TIERS[0] = 128, then the rest).
            let postings: Vec<Posting> = (0..200)
                .map(|i| Posting {
                    doc: i * 7 + term,
                    impact: 3,
                    positions: vec![i],
                })
                .collect();
            let entry: serde_json::Value =
                serde_json::from_str(&packer.entry(200, term_value(borrowed(&postings)))).unwrap();
            refs.push(entry[1][0].clone());
        }
        let block_packs = packer.end_block();
        let packs = packer.take_closed();
        assert_eq!(
            block_packs,
            packs.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>()
        );
        let doc_packs: Vec<&(String, String)> =
            packs.iter().filter(|(id, _)| id.starts_with('p')).collect();
        assert!(
            doc_packs.len() > 1 && doc_packs.len() < 20,
            "{} packs",
            doc_packs.len()
        );
        // Tier 0 packs (what a one-word query reads) keep the smallest size; tier 1 its own.
        let tier0: Vec<String> = refs
            .iter()
            .map(|r| format!("p{}", r[0].as_str().unwrap()))
            .collect();
        for (id, data) in &doc_packs {
            let cap = if tier0.contains(id) {
                DOC_PACK_BYTES[0]
            } else {
                DOC_PACK_BYTES[1]
            };
            assert!(data.len() <= cap + 2, "{id}: {} bytes", data.len());
        }
        assert!(
            tier0.len() > 1
                && doc_packs.len()
                    > tier0
                        .iter()
                        .collect::<std::collections::BTreeSet<_>>()
                        .len()
        );
        // Packs are filled in term order: pack numbers within the block never go back.
        let number = |r: &serde_json::Value| {
            let id = r[0].as_str().unwrap();
            id.rsplit_once('-').unwrap().1.parse::<usize>().unwrap()
        };
        assert!(refs.windows(2).all(|w| number(&w[0]) <= number(&w[1])));
    }

    #[test]
    fn fx_hasher_is_stable() {
        let hash = |s: &str| {
            let mut h = FxHasher::default();
            h.write(s.as_bytes());
            h.finish()
        };
        assert_eq!(hash("protest"), hash("protest"));
        assert_ne!(hash("protest"), hash("protesT"));
        assert_eq!(prefix_of("東京都庁"), "東京都");
        assert_eq!(prefix_of("ab"), "ab");
    }
}
