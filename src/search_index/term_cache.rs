//! A document's tokenized fields, kept in the incremental cache between builds.
//!
//! Tokenizing is most of what a rebuild does when one document of 50,000 changed: every
//! other page is reused, but the index needs every document's postings again (a changed
//! document moves every term's idf and the average length, so every impact may move). The
//! entry holds what [`super::Indexer`] takes from a document's text, the terms with their
//! counts and kept positions, so an unchanged document costs a lookup and a decode instead.
//!
//! The key is a hash of the fields that were tokenized (title and tags, body text, file name,
//! agency name). The body text enters it as the text itself or, for a body the cache holds, as
//! that body's [`BodyIdentity`], so that a rebuild finds an unchanged document's terms without
//! reading its body. Tokenizer changes come with a new leakpress version, which empties the
//! cache.

use super::{DocTerm, DocTerms, MAX_POSITIONS, put_varint};
use crate::document::BodyIdentity;

/// Cache namespace of the entries.
pub const NAMESPACE: &str = "terms";
/// Goes into every key: bump when the payload's layout changes.
const LAYOUT: &[u8] = b"leakpress terms v2";

/// How the body text enters a key.
#[derive(Clone, Copy)]
pub enum BodyText<'a> {
    /// The text itself.
    Text(&'a str),
    /// The identity of the extracted body the text belongs to.
    Extracted(&'a BodyIdentity),
}

/// The cache key of a document whose fields are these.
pub fn key(title: &str, body: BodyText<'_>, file_name: &str, agency_name: &str) -> String {
    let (kind, body): (&[u8], &[u8]) = match body {
        BodyText::Text(text) => (b"text", text.as_bytes()),
        BodyText::Extracted(identity) => (b"extracted", identity),
    };
    crate::cache::key([
        LAYOUT,
        title.as_bytes(),
        kind,
        body,
        file_name.as_bytes(),
        agency_name.as_bytes(),
    ])
}

/// The entry for `terms` (their `drained` list and counts), the document's lengths and its
/// search excerpt.
///
/// Layout: varints title length, body length, excerpt byte length, the excerpt, term count;
/// per term its byte length, its bytes, title tf, body tf, agency tf, the number of positions
/// (one byte, at most [`MAX_POSITIONS`]) and the positions as gaps.
pub(super) fn encode(terms: &DocTerms, lengths: (u32, u32), excerpt: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + excerpt.len() + terms.drained.len() * 16);
    put_varint(&mut out, lengths.0);
    put_varint(&mut out, lengths.1);
    put_varint(&mut out, excerpt.len() as u32);
    out.extend_from_slice(excerpt.as_bytes());
    put_varint(&mut out, terms.drained.len() as u32);
    for (_, term, index) in &terms.drained {
        let counts = &terms.counts[*index as usize];
        put_varint(&mut out, term.len() as u32);
        out.extend_from_slice(term.as_bytes());
        put_varint(&mut out, counts.title_tf.into());
        put_varint(&mut out, counts.body_tf);
        put_varint(&mut out, counts.agency_tf.into());
        out.push(counts.npos);
        let mut last = 0u32;
        for &pos in &counts.positions[..counts.npos as usize] {
            put_varint(&mut out, pos.wrapping_sub(last));
            last = pos;
        }
    }
    out
}

/// Fills `terms` (cleared first) from an entry [`encode`] made; returns the lengths and the
/// excerpt. `None` for bytes that do not decode whole, which the cache then counts as damaged.
pub(super) fn decode(bytes: &[u8], terms: &mut DocTerms) -> Option<((u32, u32), String)> {
    terms.clear();
    terms.drained.clear();
    let mut reader = Reader { bytes };
    let lengths = (reader.varint()?, reader.varint()?);
    let excerpt_len = reader.varint()? as usize;
    let excerpt = std::str::from_utf8(reader.take(excerpt_len)?)
        .ok()?
        .to_owned();
    let count = reader.varint()?;
    for _ in 0..count {
        let len = reader.varint()? as usize;
        let term = std::str::from_utf8(reader.take(len)?).ok()?;
        let title_tf = u16::try_from(reader.varint()?).ok()?;
        let body_tf = reader.varint()?;
        let agency_tf = u16::try_from(reader.varint()?).ok()?;
        let npos = *reader.take(1)?.first()?;
        if npos as usize > MAX_POSITIONS {
            return None;
        }
        let mut counts = DocTerm {
            title_tf,
            body_tf,
            agency_tf,
            npos,
            positions: [0; MAX_POSITIONS],
        };
        let mut last = 0u32;
        for slot in &mut counts.positions[..npos as usize] {
            last = last.wrapping_add(reader.varint()?);
            *slot = last;
        }
        let index = terms.counts.len() as u32;
        terms.counts.push(counts);
        terms
            .drained
            .push((super::term_shard(term), term.to_owned(), index));
    }
    reader.bytes.is_empty().then_some((lengths, excerpt))
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> Option<&'a [u8]> {
        if len > self.bytes.len() {
            return None;
        }
        let (taken, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        Some(taken)
    }

    /// One LEB128 `u32`; `None` when cut short or longer than five bytes.
    fn varint(&mut self) -> Option<u32> {
        let mut value = 0u32;
        for shift in (0..35).step_by(7) {
            let (&byte, rest) = self.bytes.split_first()?;
            self.bytes = rest;
            value |= u32::from(byte & 0x7f).checked_shl(shift)?;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Fields, tokenize_fields};
    use super::*;

    fn tokenized(fields: &Fields<'_>) -> (DocTerms, (u32, u32)) {
        let mut terms = DocTerms::default();
        let lengths = tokenize_fields(fields, &mut terms);
        terms.drain_map();
        (terms, lengths)
    }

    /// (term, shard, title tf, body tf, agency tf, positions), sorted by term.
    type Flat = Vec<(String, usize, u16, u32, u16, Vec<u32>)>;

    fn flat(terms: &DocTerms) -> Flat {
        let mut flat: Flat = terms
            .drained
            .iter()
            .map(|(shard, term, index)| {
                let c = &terms.counts[*index as usize];
                let positions = c.positions[..c.npos as usize].to_vec();
                (
                    term.clone(),
                    *shard,
                    c.title_tf,
                    c.body_tf,
                    c.agency_tf,
                    positions,
                )
            })
            .collect();
        flat.sort();
        flat
    }

    /// A document with over MAX_POSITIONS occurrences of one word, positions past one varint
    /// byte, a non-ASCII term, tags and an agency name.
    fn sample() -> (DocTerms, (u32, u32)) {
        let mut body = "Überwachung des Hafens: report report.".to_owned();
        for i in 0..300 {
            body.push_str(&format!(" report item{i} surveillance"));
        }
        tokenized(&Fields {
            title: "Port report \n gangs \n port-security",
            body: &body,
            file_name: "2020-06-01-port_report.md",
            agency_name: "Riverside Fusion Center",
        })
    }

    #[test]
    fn an_entry_decodes_to_the_terms_that_were_tokenized() {
        let (terms, lengths) = sample();
        assert!(flat(&terms).iter().any(|t| t.5.len() == MAX_POSITIONS));
        assert!(
            flat(&terms).iter().any(|t| t.4 > 0),
            "agency terms are kept"
        );
        let excerpt = "Überwachung des Hafens: report";
        let entry = encode(&terms, lengths, excerpt);

        // The per-thread terms still hold an earlier document's: none may leak into this one.
        let (mut decoded, _) = tokenized(&Fields {
            title: "other",
            body: "unrelated words",
            file_name: "",
            agency_name: "",
        });
        assert_eq!(
            decode(&entry, &mut decoded),
            Some((lengths, excerpt.to_owned()))
        );
        assert_eq!(flat(&decoded), flat(&terms));
    }

    #[test]
    fn a_cut_or_padded_entry_does_not_decode() {
        let (terms, lengths) = sample();
        let entry = encode(&terms, lengths, "Hafen");
        let mut decoded = DocTerms::default();
        for cut in 0..entry.len() {
            assert_eq!(decode(&entry[..cut], &mut decoded), None, "cut at {cut}");
        }
        let mut padded = entry.clone();
        padded.push(0);
        assert_eq!(decode(&padded, &mut decoded), None);

        // A term claiming more positions than are ever kept.
        let mut one = DocTerms::default();
        tokenize_fields(
            &Fields {
                title: "word",
                body: "",
                file_name: "",
                agency_name: "",
            },
            &mut one,
        );
        one.drain_map();
        let mut entry = encode(&one, (1, 0), "");
        let npos_at = entry.len() - 2; // the count byte, then one position
        assert_eq!(entry[npos_at], 1);
        entry[npos_at] = MAX_POSITIONS as u8 + 1;
        assert_eq!(decode(&entry, &mut decoded), None);
    }

    #[test]
    fn the_key_tells_every_field_and_its_boundaries_apart() {
        let text = |t| BodyText::Text(t);
        let base = key("title", text("body"), "file", "agency");
        assert_eq!(base, key("title", text("body"), "file", "agency"));
        let identity = [7u8; 32];
        let extracted = key("title", BodyText::Extracted(&identity), "file", "agency");
        assert_eq!(
            extracted,
            key("title", BodyText::Extracted(&identity), "file", "agency")
        );
        let other_identity = [8u8; 32];
        let as_text = String::from_utf8(identity.to_vec()).expect("ASCII");
        for other in [
            key("title ", text("body"), "file", "agency"),
            key("title", text("body."), "file", "agency"),
            key("title", text("body"), "file2", "agency"),
            key("title", text("body"), "file", "Agency"),
            key("titleb", text("ody"), "file", "agency"),
            extracted.clone(),
            key(
                "title",
                BodyText::Extracted(&other_identity),
                "file",
                "agency",
            ),
        ] {
            assert_ne!(base, other);
        }
        // An identity is never mistaken for a text of the same bytes.
        assert_ne!(extracted, key("title", text(&as_text), "file", "agency"));
        assert_ne!(
            extracted,
            key(
                "title",
                BodyText::Extracted(&other_identity),
                "file",
                "agency"
            )
        );
    }
}
