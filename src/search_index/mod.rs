//! Stage 6, **index**: the sharded client-side search index under `search/<key>/`.
//!
//! Input: every [`Document`] (metadata, known before rendering) and, one at a time during the
//! render loop, its [`Body`] text. Output: plain `<script>` files, each calling
//! `LEAKPRESS_SEARCH.load(id, data)`, so the index loads over `file://` where `fetch()` is
//! blocked. The reader (`themes/default/static/search.js`) loads the manifest, then only the
//! files a query's terms need.
//!
//! Invariants:
//! - Memory holds compact postings (numbers), never text: each body is tokenized as its page
//!   renders and dropped; excerpt text goes out in [`DOC_CHUNK`]-document files as soon as a
//!   chunk is complete.
//! - Output is deterministic: terms sorted, documents numbered by a total order, file names
//!   from a hash of the index's inputs ([`Indexer::key`]), never from thread timing.
//! - The manifest does not grow with documents or vocabulary: it holds counts, the shard count
//!   and the facet table (agency × kind × year ranges).
//!
//! # Files (all under `search/<key>/`, `<key>` = 12 hex digits)
//! - `manifest.js` → `load("manifest", {v, docs, shards, chunk, avg, agencies: [[slug, name]],
//!   kinds: [name], years: [year], ranges: [[first_doc, agency, kind, year]]})`. Documents are
//!   numbered sorted by (agency, kind, year, source path), so each (agency, kind, year)
//!   combination is one contiguous range of numbers: filters and facet counts need no
//!   per-document data. `year` is -1 for undated.
//! - `t<n>.js`, the term dictionary shards → `load("t<n>", {term: [df, postings]})`. A term
//!   lives in shard `fnv1a(first 3 chars of term) % shards`, so every term sharing its first
//!   three characters is in one shard: prefix matching and one-typo matching scan that shard.
//!   `postings` is an encoded block ([`encode`]) when small, else a list of block references
//!   `[[file, first_doc, last_doc, count, max_impact]]` (documents ascending), so a common word
//!   is split into [`BLOCK_BYTES`] pieces the reader can skip by document range or impact.
//! - `p<n>.js` → `load("p<n>", "<encoded block>")`: one block of a long posting list.
//! - `d<n>.js` → `load("d<n>", [[title, url, date, excerpt]])`: documents `n*chunk ..`
//!   (`url` a site path without `/`, `date` ISO or "", `excerpt` the text's start).
//!
//! Ranking inputs: each posting's `impact` is the document's BM25F score for the term
//! (title ×[`TITLE_WEIGHT`], agency name ×[`AGENCY_WEIGHT`], body ×1), times 16, rounded; the
//! reader adds impacts up. Positions (title first, then the body after a gap) are kept for
//! the first [`MAX_POSITIONS`] occurrences per document, for phrase queries.

pub mod encode;
pub mod tokenize;

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use serde_json::json;

use crate::collect::Agency;
use crate::config::Config;
use crate::document::{Body, Document, excerpt};
use crate::error::Result;
use crate::output::{Output, sha256_hex};

pub use encode::{Posting, decode_postings, encode_postings, fnv1a};
pub use tokenize::{Mode, Token, tokenize};

/// Format version, in the manifest and the key.
pub const FORMAT_VERSION: u32 = 1;
/// Documents per `d<n>.js` file.
pub const DOC_CHUNK: usize = 16;
/// Characters of text kept per document for excerpts.
pub const EXCERPT_CHARS: usize = 400;
/// Positions kept per term per document.
pub const MAX_POSITIONS: usize = 16;
/// A term's encoded postings longer than this go to `p<n>.js` blocks.
pub const INLINE_BYTES: usize = 1024;
/// Target size of one posting block.
pub const BLOCK_BYTES: usize = 16 * 1024;
/// Target size of one dictionary shard, used to pick the shard count.
pub const SHARD_BYTES: usize = 12 * 1024;
/// BM25F weights and parameters.
pub const TITLE_WEIGHT: f64 = 4.0;
/// Agency-name weight.
pub const AGENCY_WEIGHT: f64 = 2.0;
const K1: f64 = 1.2;
const B: f64 = 0.75;
/// Impacts are BM25F × this, rounded.
pub const IMPACT_SCALE: f64 = 16.0;
/// Position gap between the title and the body, so no phrase spans the two.
const FIELD_GAP: u32 = 8;

/// How many chars of a term pick its shard.
pub const SHARD_PREFIX_CHARS: usize = 3;

/// One term's counts in one document, before scoring.
#[derive(Debug, Clone)]
struct RawPosting {
    term: u32,
    doc: u32,
    title_tf: u16,
    body_tf: u32,
    agency_tf: u16,
    /// Start in the position pool, and count.
    pos_start: u32,
    pos_len: u8,
}

#[derive(Default)]
struct State {
    term_ids: HashMap<String, u32>,
    terms: Vec<String>,
    postings: Vec<RawPosting>,
    positions: Vec<u32>,
    /// By document number: (title length, body length) in positions.
    lengths: Vec<(u32, u32)>,
    /// Document chunks still waiting for some documents.
    pending: BTreeMap<usize, Vec<Option<serde_json::Value>>>,
}

/// Builds the search index while documents render. Shared by the render threads (`Sync`).
pub struct Indexer {
    key: String,
    /// Document id → document number in the index.
    number_of: Vec<u32>,
    agency_names: HashMap<String, String>,
    state: Mutex<State>,
    docs_total: usize,
}

/// Per-document term counts during tokenizing.
#[derive(Default)]
struct DocTerm {
    title_tf: u16,
    body_tf: u32,
    agency_tf: u16,
    positions: Vec<u32>,
}

impl Indexer {
    /// Numbers the documents and derives the key from every input of the index.
    pub fn new(docs: &[Document], agencies: &[Agency], config: &Config) -> Indexer {
        let mut order: Vec<usize> = (0..docs.len()).collect();
        order.sort_by(|&a, &b| facet_key(&docs[a]).cmp(&facet_key(&docs[b])));
        let mut number_of = vec![0u32; docs.len()];
        for (number, &id) in order.iter().enumerate() {
            number_of[id] = number as u32;
        }
        let mut key_input = format!(
            "leakpress {} index v{FORMAT_VERSION}\n{config:?}\n",
            env!("CARGO_PKG_VERSION")
        );
        for doc in docs {
            key_input.push_str(&format!(
                "{}\t{}\t{}\t{}\t{}\t{:?}\t{}\n",
                doc.id,
                doc.url,
                doc.title,
                doc.agency(),
                doc.kind,
                doc.date,
                doc.sha256
            ));
        }
        let agency_names: HashMap<String, String> = agencies
            .iter()
            .map(|a| (a.slug.clone(), a.name.clone()))
            .collect();
        for agency in agencies {
            key_input.push_str(&format!("{}\t{}\n", agency.slug, agency.name));
        }
        Indexer {
            key: sha256_hex(key_input.as_bytes())[..12].to_owned(),
            number_of,
            agency_names,
            state: Mutex::new(State {
                lengths: vec![(0, 0); docs.len()],
                ..State::default()
            }),
            docs_total: docs.len(),
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
    /// chunk when this document completes it.
    pub fn add(&self, out: &Output, doc: &Document, body: &Body) -> Result<()> {
        let number = self.number_of[doc.id];
        let mut terms: BTreeMap<String, DocTerm> = BTreeMap::new();
        let mut title_text = doc.title.clone();
        for tag in &doc.tags {
            title_text.push_str(" \n ");
            title_text.push_str(tag);
        }
        let title_end = tokenize::tokenize_with(&title_text, Mode::Index, 0, |t| {
            let entry = terms.entry(t.term).or_default();
            entry.title_tf = entry.title_tf.saturating_add(1);
            if entry.positions.len() < MAX_POSITIONS {
                entry.positions.push(t.pos);
            }
        });
        let body_start = title_end + FIELD_GAP;
        let mut body_end = tokenize::tokenize_with(&body.text, Mode::Index, body_start, |t| {
            let entry = terms.entry(t.term).or_default();
            entry.body_tf = entry.body_tf.saturating_add(1);
            if entry.positions.len() < MAX_POSITIONS {
                entry.positions.push(t.pos);
            }
        });
        // The file name finds the document too (images and other files have little text).
        body_end = tokenize::tokenize_with(
            doc.source.file_name(),
            Mode::Index,
            body_end + FIELD_GAP,
            |t| {
                let entry = terms.entry(t.term).or_default();
                entry.body_tf = entry.body_tf.saturating_add(1);
            },
        );
        let agency_name = self
            .agency_names
            .get(doc.agency())
            .map_or(doc.agency(), |n| n.as_str());
        tokenize::tokenize_with(agency_name, Mode::Index, 0, |t| {
            let entry = terms.entry(t.term).or_default();
            entry.agency_tf = entry.agency_tf.saturating_add(1);
        });
        let body_len = body_end - body_start;
        let entry = json!([
            doc.title,
            doc.url,
            doc.date.map(|d| d.view().iso).unwrap_or_default(),
            excerpt(&body.text, EXCERPT_CHARS),
        ]);

        let chunk = number as usize / DOC_CHUNK;
        let complete = {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            state.lengths[number as usize] = (title_end, body_len);
            for (term, counts) in terms {
                let next_id = state.terms.len() as u32;
                let term_id = match state.term_ids.get(&term) {
                    Some(&id) => id,
                    None => {
                        state.term_ids.insert(term.clone(), next_id);
                        state.terms.push(term);
                        next_id
                    }
                };
                let pos_start = state.positions.len() as u32;
                state.positions.extend_from_slice(&counts.positions);
                state.postings.push(RawPosting {
                    term: term_id,
                    doc: number,
                    title_tf: counts.title_tf,
                    body_tf: counts.body_tf,
                    agency_tf: counts.agency_tf,
                    pos_start,
                    pos_len: counts.positions.len() as u8,
                });
            }
            let size = DOC_CHUNK.min(self.docs_total - chunk * DOC_CHUNK);
            let slots = state
                .pending
                .entry(chunk)
                .or_insert_with(|| vec![None; size]);
            slots[number as usize % DOC_CHUNK] = Some(entry);
            if slots.iter().all(Option::is_some) {
                state.pending.remove(&chunk)
            } else {
                None
            }
        };
        if let Some(slots) = complete {
            let entries: Vec<serde_json::Value> = slots.into_iter().flatten().collect();
            self.write_script(
                out,
                &format!("d{chunk}"),
                &serde_json::Value::Array(entries),
            )?;
        }
        Ok(())
    }

    fn write_script(&self, out: &Output, id: &str, data: &serde_json::Value) -> Result<()> {
        let script = format!(
            "LEAKPRESS_SEARCH.load({},{});\n",
            serde_json::Value::String(id.to_owned()),
            data
        );
        out.write(&format!("search/{}/{id}.js", self.key), script.as_bytes())
    }

    /// Scores the postings and writes the dictionary shards, posting blocks, any excerpt
    /// chunk left (documents never added) and the manifest. Returns the manifest's site path.
    pub fn finish(self, out: &Output, docs: &[Document], agencies: &[Agency]) -> Result<String> {
        let state = std::mem::take(&mut *self.state.lock().unwrap_or_else(|e| e.into_inner()));
        let n_docs = docs.len();
        // Chunks with documents that were never added (none in a normal build) still load.
        for (chunk, slots) in &state.pending {
            let entries: Vec<serde_json::Value> = slots
                .iter()
                .map(|s| s.clone().unwrap_or_else(|| json!(["", "", "", ""])))
                .collect();
            let id = format!("d{chunk}");
            let script = format!("LEAKPRESS_SEARCH.load(\"{id}\",{});\n", json!(entries));
            out.write(&format!("search/{}/{id}.js", self.key), script.as_bytes())?;
        }
        let (avg_title, avg_body) = averages(&state.lengths);

        // Group postings by term, terms in sorted order, postings by document number.
        let mut by_term: Vec<Vec<usize>> = vec![Vec::new(); state.terms.len()];
        for (i, p) in state.postings.iter().enumerate() {
            by_term[p.term as usize].push(i);
        }
        let mut term_order: Vec<u32> = (0..state.terms.len() as u32).collect();
        term_order.sort_by(|&a, &b| state.terms[a as usize].cmp(&state.terms[b as usize]));

        let mut entries: Vec<(String, serde_json::Value, usize)> = Vec::new();
        let mut block_file = 0usize;
        for term_id in term_order {
            let term = &state.terms[term_id as usize];
            let mut list = std::mem::take(&mut by_term[term_id as usize]);
            list.sort_by_key(|&i| state.postings[i].doc);
            let df = list.len();
            let idf = (1.0 + (n_docs as f64 - df as f64 + 0.5) / (df as f64 + 0.5)).ln();
            let postings: Vec<Posting> = list
                .iter()
                .map(|&i| {
                    let p = &state.postings[i];
                    let (title_len, body_len) = state.lengths[p.doc as usize];
                    let inputs = RankInputs {
                        title_tf: p.title_tf as f64,
                        body_tf: p.body_tf as f64,
                        agency_tf: p.agency_tf as f64,
                        title_len: title_len as f64,
                        body_len: body_len as f64,
                        avg_title,
                        avg_body,
                    };
                    let start = p.pos_start as usize;
                    Posting {
                        doc: p.doc,
                        impact: impact(idf, &inputs),
                        positions: state.positions[start..start + p.pos_len as usize].to_vec(),
                    }
                })
                .collect();
            let encoded = encode_postings(&postings);
            let value = if encoded.len() <= INLINE_BYTES {
                json!([df, encoded])
            } else {
                let mut refs = Vec::new();
                for block in split_blocks(&postings, BLOCK_BYTES) {
                    let id = format!("p{block_file}");
                    block_file += 1;
                    self.write_script(out, &id, &json!(encode_postings(block)))?;
                    refs.push(json!([
                        id,
                        block[0].doc,
                        block[block.len() - 1].doc,
                        block.len(),
                        block.iter().map(|p| p.impact).max().unwrap_or(0),
                    ]));
                }
                json!([df, refs])
            };
            let size = term.len() + value.to_string().len() + 4;
            entries.push((term.clone(), value, size));
        }

        let total: usize = entries.iter().map(|e| e.2).sum();
        let shards = total.div_ceil(SHARD_BYTES).max(1).next_power_of_two();
        let mut shard_maps: Vec<serde_json::Map<String, serde_json::Value>> =
            vec![serde_json::Map::new(); shards];
        for (term, value, _) in entries {
            shard_maps[shard_of(&term, shards)].insert(term, value);
        }
        for (n, map) in shard_maps.into_iter().enumerate() {
            self.write_script(out, &format!("t{n}"), &serde_json::Value::Object(map))?;
        }

        // The facet table: one row per run of equal (agency, kind, year).
        let mut order: Vec<usize> = (0..n_docs).collect();
        order.sort_by_key(|&id| self.number_of[id]);
        let agency_index: HashMap<&str, usize> = agencies
            .iter()
            .enumerate()
            .map(|(i, a)| (a.slug.as_str(), i))
            .collect();
        let mut kinds: Vec<&str> = docs.iter().map(|d| d.kind).collect();
        kinds.sort_unstable();
        kinds.dedup();
        let mut years: Vec<i32> = docs
            .iter()
            .filter_map(|d| d.date.map(|x| x.view().year))
            .collect();
        years.sort_unstable_by(|a, b| b.cmp(a));
        years.dedup();
        let mut ranges: Vec<[i64; 4]> = Vec::new();
        for (number, &id) in order.iter().enumerate() {
            let doc = &docs[id];
            let row = [
                number as i64,
                agency_index.get(doc.agency()).map_or(-1, |&i| i as i64),
                kinds.binary_search(&doc.kind).map_or(-1, |i| i as i64),
                doc.date
                    .and_then(|d| years.iter().position(|&y| y == d.view().year))
                    .map_or(-1, |i| i as i64),
            ];
            if ranges.last().is_none_or(|last| last[1..] != row[1..]) {
                ranges.push(row);
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
        self.write_script(out, "manifest", &manifest)?;
        Ok(format!("search/{}/manifest.js", self.key))
    }
}

/// The sort key that numbers documents: agency, kind, year (undated last), then path order.
fn facet_key(doc: &Document) -> (&str, &str, i64, usize) {
    let year = doc.date.map_or(i64::MAX, |d| -(d.view().year as i64));
    (doc.agency(), doc.kind, year, doc.id)
}

fn averages(lengths: &[(u32, u32)]) -> (f64, f64) {
    if lengths.is_empty() {
        return (1.0, 1.0);
    }
    let n = lengths.len() as f64;
    let title: f64 = lengths.iter().map(|l| l.0 as f64).sum::<f64>() / n;
    let body: f64 = lengths.iter().map(|l| l.1 as f64).sum::<f64>() / n;
    (title.max(1.0), body.max(1.0))
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

/// BM25F: per-field length-normalized term frequencies, weighted, then saturated once.
pub fn bm25f(idf: f64, x: &RankInputs) -> f64 {
    let norm = |len: f64, avg: f64| 1.0 - B + B * len / avg;
    let tf = TITLE_WEIGHT * x.title_tf / norm(x.title_len, x.avg_title)
        + x.body_tf / norm(x.body_len, x.avg_body)
        + AGENCY_WEIGHT * x.agency_tf;
    idf * tf * (K1 + 1.0) / (tf + K1)
}

/// The stored, quantized score; at least 1 so every posting counts.
pub fn impact(idf: f64, x: &RankInputs) -> u32 {
    ((bm25f(idf, x) * IMPACT_SCALE).round() as u32).max(1)
}

/// Which dictionary shard holds `term`.
pub fn shard_of(term: &str, shards: usize) -> usize {
    let end = term
        .char_indices()
        .nth(SHARD_PREFIX_CHARS)
        .map_or(term.len(), |(i, _)| i);
    (fnv1a(&term[..end]) as usize) % shards.max(1)
}

/// Cuts postings into runs whose encoding is about `max_bytes`.
fn split_blocks(postings: &[Posting], max_bytes: usize) -> Vec<&[Posting]> {
    let mut blocks = Vec::new();
    let mut start = 0;
    let mut size = 0;
    for (i, p) in postings.iter().enumerate() {
        let one = encode_postings(std::slice::from_ref(p)).len() + 2;
        if size + one > max_bytes && i > start {
            blocks.push(&postings[start..i]);
            start = i;
            size = 0;
        }
        size += one;
    }
    if start < postings.len() {
        blocks.push(&postings[start..]);
    }
    blocks
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn terms_sharing_three_chars_share_a_shard() {
        assert_eq!(shard_of("protest", 64), shard_of("protocol", 64));
        assert_eq!(shard_of("pr", 64), (fnv1a("pr") % 64) as usize);
        assert_eq!(shard_of("東京都", 8), (fnv1a("東京都") % 8) as usize);
        assert_eq!(shard_of("x", 1), 0);
    }

    #[test]
    fn long_posting_lists_split_into_blocks() {
        let postings: Vec<Posting> = (0..1000)
            .map(|doc| Posting {
                doc,
                impact: 10,
                positions: vec![1, 2],
            })
            .collect();
        let blocks = split_blocks(&postings, 500);
        assert!(blocks.len() > 5);
        assert_eq!(blocks.iter().map(|b| b.len()).sum::<usize>(), 1000);
        assert!(blocks.iter().all(|b| encode_postings(b).len() <= 500));
    }
}
