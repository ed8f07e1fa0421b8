//! A document's tokenized fields, kept in the incremental cache between builds.
//!
//! Tokenizing is most of what a rebuild does when one document of 50,000 changed: every
//! other page is reused, but the index needs every document's postings again (a changed
//! document moves every term's idf and the average length, so every impact may move). The
//! entry holds what [`super::Indexer`] takes from a document's text, the terms with their
//! counts and kept positions, so an unchanged document costs a lookup and a decode instead.
//!
//! The key is a hash of the text that was tokenized (title and tags, body text, file name,
//! agency name), not of where it came from: whatever changed upstream, the same text gives the
//! same terms. Tokenizer changes come with a new leakpress version, which empties the cache.

use super::{DocTerm, DocTerms, MAX_POSITIONS, put_varint};

/// Cache namespace of the entries.
pub const NAMESPACE: &str = "terms";
/// Goes into every key: bump when the payload's layout changes.
const LAYOUT: &[u8] = b"leakpress terms v1";

/// The cache key of a document whose fields are these texts.
pub fn key(title: &str, body: &str, file_name: &str, agency_name: &str) -> String {
    crate::cache::key([
        LAYOUT,
        title.as_bytes(),
        body.as_bytes(),
        file_name.as_bytes(),
        agency_name.as_bytes(),
    ])
}

/// The entry for `terms` (their `drained` list and counts) and the document's lengths.
///
/// Layout: varints title length, body length, term count; per term its byte length, its
/// bytes, title tf, body tf, agency tf, the number of positions (one byte, at most
/// [`MAX_POSITIONS`]) and the positions as gaps.
pub(super) fn encode(terms: &DocTerms, lengths: (u32, u32)) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + terms.drained.len() * 16);
    put_varint(&mut out, lengths.0);
    put_varint(&mut out, lengths.1);
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

/// Fills `terms` (cleared first) from an entry [`encode`] made; returns the lengths. `None`
/// for bytes that do not decode whole, which the cache then counts as damaged.
pub(super) fn decode(bytes: &[u8], terms: &mut DocTerms) -> Option<(u32, u32)> {
    terms.clear();
    terms.drained.clear();
    let mut reader = Reader { bytes };
    let lengths = (reader.varint()?, reader.varint()?);
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
    reader.bytes.is_empty().then_some(lengths)
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
        let entry = encode(&terms, lengths);

        // The per-thread terms still hold an earlier document's: none may leak into this one.
        let (mut decoded, _) = tokenized(&Fields {
            title: "other",
            body: "unrelated words",
            file_name: "",
            agency_name: "",
        });
        assert_eq!(decode(&entry, &mut decoded), Some(lengths));
        assert_eq!(flat(&decoded), flat(&terms));
    }

    #[test]
    fn a_cut_or_padded_entry_does_not_decode() {
        let (terms, lengths) = sample();
        let entry = encode(&terms, lengths);
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
        let mut entry = encode(&one, (1, 0));
        let npos_at = entry.len() - 2; // the count byte, then one position
        assert_eq!(entry[npos_at], 1);
        entry[npos_at] = MAX_POSITIONS as u8 + 1;
        assert_eq!(decode(&entry, &mut decoded), None);
    }

    #[test]
    fn the_key_tells_every_field_and_its_boundaries_apart() {
        let base = key("title", "body", "file", "agency");
        assert_eq!(base, key("title", "body", "file", "agency"));
        for other in [
            key("title ", "body", "file", "agency"),
            key("title", "body.", "file", "agency"),
            key("title", "body", "file2", "agency"),
            key("title", "body", "file", "Agency"),
            key("titleb", "ody", "file", "agency"),
        ] {
            assert_ne!(base, other);
        }
    }
}
