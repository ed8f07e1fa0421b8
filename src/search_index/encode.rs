//! The compact posting encoding shared with `search.js` (`decodePostings`).
//!
//! A posting block is a string of characters from [`ALPHABET`] (safe in a JS string without
//! escaping). Numbers are variable-length: each character carries 5 bits, least significant
//! first, and value 32 set means "more characters follow". A block is a sequence of
//! postings, each:
//!
//! ```text
//! doc-delta  impact  npos  pos-delta × npos
//! ```
//!
//! `doc-delta` is the document number minus the previous posting's (the first is absolute);
//! positions are delta-encoded from 0 within the posting.

/// 64 characters that need no escaping in JSON or JS strings.
pub const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Appends `value` as a variable-length number.
pub fn push_varint(out: &mut String, mut value: u32) {
    loop {
        let low = value & 31;
        value >>= 5;
        if value == 0 {
            out.push(ALPHABET[low as usize] as char);
            return;
        }
        out.push(ALPHABET[(low | 32) as usize] as char);
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

/// Encodes postings sorted by document number.
pub fn encode_postings(postings: &[Posting]) -> String {
    let mut out = String::new();
    let mut prev = 0;
    for p in postings {
        push_varint(&mut out, p.doc - prev);
        prev = p.doc;
        push_varint(&mut out, p.impact);
        push_varint(&mut out, p.positions.len() as u32);
        let mut last = 0;
        for &pos in &p.positions {
            push_varint(&mut out, pos - last);
            last = pos;
        }
    }
    out
}

/// Decodes what [`encode_postings`] wrote; `None` on malformed input.
pub fn decode_postings(text: &str) -> Option<Vec<Posting>> {
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
    let mut out = Vec::new();
    let mut it = values.into_iter();
    let mut doc = 0;
    while let Some(delta) = it.next() {
        doc += delta;
        let impact = it.next()?;
        let npos = it.next()?;
        let mut positions = Vec::with_capacity(npos as usize);
        let mut last = 0;
        for _ in 0..npos {
            last += it.next()?;
            positions.push(last);
        }
        out.push(Posting {
            doc,
            impact,
            positions,
        });
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
        let text = encode_postings(&postings);
        assert_eq!(decode_postings(&text), Some(postings));
        let mut small = String::new();
        push_varint(&mut small, 31);
        assert_eq!(small, "f");
        small.clear();
        push_varint(&mut small, 32);
        assert_eq!(small, "gB");
    }

    #[test]
    fn fnv1a_matches_the_reference_values() {
        assert_eq!(fnv1a(""), 0x811c9dc5);
        assert_eq!(fnv1a("a"), 0xe40c292c);
        assert_eq!(fnv1a("foobar"), 0xbf9cf968);
    }
}
