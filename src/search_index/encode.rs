//! The compact posting encoding shared with `search.js` (`decodeBlock`).
//!
//! Strings of characters from [`ALPHABET`] (safe in a JS string without escaping). Numbers are
//! variable-length: each character carries 5 bits, least significant first, and value 32 set
//! means "more characters follow". A block of postings is written as two strings, so that a
//! query without phrases never downloads positions:
//!
//! ```text
//! docs:       (doc-delta impact) × n
//! positions:  (npos pos-delta × npos) × n      same postings, same order
//! ```
//!
//! `doc-delta` is the document number minus the previous posting's (the first is absolute);
//! positions are delta-encoded from 0 within the posting.

/// 64 characters that need no escaping in JSON or JS strings.
pub const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Appends `value` as a variable-length number, in [`ALPHABET`] bytes. Bytes, not a
/// `String`: pushing every posting of an index character by character into a `String` was a
/// seventh of a rebuild's CPU.
pub fn push_varint(out: &mut Vec<u8>, mut value: u32) {
    loop {
        let low = value & 31;
        value >>= 5;
        if value == 0 {
            out.push(ALPHABET[low as usize]);
            return;
        }
        out.push(ALPHABET[(low | 32) as usize]);
    }
}

/// One decoded posting (used by tests; the reader is in JS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posting {
    /// Document number.
    pub doc: u32,
    /// Quantized BM25F score.
    pub impact: u32,
    /// Word positions (capped per document).
    pub positions: Vec<u32>,
}

/// A posting as the indexer scores it: its positions borrowed from the index's own arrays, as
/// copying them out cost an allocation per posting (millions per build).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PostingRef<'p> {
    /// Document number.
    pub doc: u32,
    /// Quantized BM25F score.
    pub impact: u32,
    /// Word positions (capped per document).
    pub positions: &'p [u32],
}

impl Posting {
    /// The same posting, its positions borrowed.
    pub fn borrowed(&self) -> PostingRef<'_> {
        PostingRef {
            doc: self.doc,
            impact: self.impact,
            positions: &self.positions,
        }
    }
}

/// Encodes postings sorted by document number: the docs string and the positions string.
pub fn encode_block(postings: &[Posting]) -> (String, String) {
    encode_refs(postings.iter().map(Posting::borrowed))
}

/// [`encode_block`] over borrowed postings.
pub fn encode_refs<'p>(postings: impl IntoIterator<Item = PostingRef<'p>>) -> (String, String) {
    let postings = postings.into_iter();
    let count = postings.size_hint().0;
    let mut docs = Vec::with_capacity(count * 4);
    let mut positions = Vec::with_capacity(count * 8);
    let mut prev = 0;
    for p in postings {
        push_varint(&mut docs, p.doc - prev);
        prev = p.doc;
        push_varint(&mut docs, p.impact);
        push_varint(&mut positions, p.positions.len() as u32);
        let mut last = 0;
        for &pos in p.positions {
            push_varint(&mut positions, pos - last);
            last = pos;
        }
    }
    let text = |bytes: Vec<u8>| String::from_utf8(bytes).expect("ALPHABET is ASCII");
    (text(docs), text(positions))
}

fn decode_varints(text: &str) -> Option<Vec<u32>> {
    let mut values = Vec::new();
    let mut current = 0u32;
    let mut shift = 0;
    for b in text.bytes() {
        let v = ALPHABET.iter().position(|&a| a == b)? as u32;
        current |= (v & 31).checked_shl(shift)?;
        if v & 32 != 0 {
            shift += 5;
        } else {
            values.push(current);
            current = 0;
            shift = 0;
        }
    }
    (shift == 0).then_some(values)
}

/// Decodes what [`encode_block`] wrote; without `positions`, postings have none. `None` on
/// malformed input.
pub fn decode_block(docs: &str, positions: Option<&str>) -> Option<Vec<Posting>> {
    let values = decode_varints(docs)?;
    if values.len() % 2 != 0 {
        return None;
    }
    let mut out = Vec::with_capacity(values.len() / 2);
    let mut doc = 0;
    for pair in values.chunks(2) {
        doc += pair[0];
        out.push(Posting {
            doc,
            impact: pair[1],
            positions: Vec::new(),
        });
    }
    if let Some(positions) = positions {
        let mut it = decode_varints(positions)?.into_iter();
        for posting in &mut out {
            let npos = it.next()?;
            let mut last = 0;
            for _ in 0..npos {
                last += it.next()?;
                posting.positions.push(last);
            }
        }
        if it.next().is_some() {
            return None;
        }
    }
    Some(out)
}

/// 32-bit FNV-1a over UTF-8 bytes; `search.js` has the same (`fnv1a`).
pub fn fnv1a(text: &str) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for b in text.bytes() {
        hash ^= b as u32;
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postings_round_trip() {
        let postings = vec![
            Posting {
                doc: 3,
                impact: 200,
                positions: vec![0, 7, 100_000],
            },
            Posting {
                doc: 1_000_000,
                impact: 1,
                positions: vec![],
            },
        ];
        let (docs, positions) = encode_block(&postings);
        assert_eq!(
            decode_block(&docs, Some(&positions)),
            Some(postings.clone())
        );
        let bare: Vec<Posting> = postings
            .iter()
            .map(|p| Posting {
                positions: vec![],
                ..p.clone()
            })
            .collect();
        assert_eq!(decode_block(&docs, None), Some(bare));
        assert_eq!(decode_block("gB", None), None);
        let mut small = Vec::new();
        push_varint(&mut small, 31);
        assert_eq!(small, b"f");
        small.clear();
        push_varint(&mut small, 32);
        assert_eq!(small, b"gB");
    }

    #[test]
    fn fnv1a_matches_the_reference_values() {
        assert_eq!(fnv1a(""), 0x811c9dc5);
        assert_eq!(fnv1a("a"), 0xe40c292c);
        assert_eq!(fnv1a("foobar"), 0xbf9cf968);
    }
}
