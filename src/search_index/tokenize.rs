//! The search tokenizer. `themes/default/static/search.js` carries a line-for-line port
//! (`tokenize`), and `tests/search-client/tokenizer-vectors.json` is checked by both test
//! suites, so a query is cut exactly as the text was. Change one, change both.
//!
//! The rules, in order, for each code point of the text:
//! 1. **Fold**: NFKD-decompose (Hangul syllables excepted, so they stay one character), drop
//!    combining marks (`\p{M}`: this folds diacritics), lowercase, then fold the few letters
//!    NFKD leaves alone (`ß`→`ss`, `æ`→`ae`, `œ`→`oe`, `ø`→`o`, `đ ð`→`d`, `ł`→`l`, `þ`→`th`,
//!    `ı`→`i`, `ς`→`σ`). A code point that folds to nothing (a lone mark) is skipped without
//!    breaking the word.
//! 2. **Split**: a word is a run of alphanumerics (`\p{Alphabetic}` or `\p{N}`). A CJK ideograph,
//!    kana or Hangul syllable is a word on its own (no dictionary segmentation).
//! 3. **Positions**: each word takes the next position, even when it is then dropped, so
//!    phrase queries keep their gaps.
//! 4. **Drop**: stop words ([`STOP_WORDS`]) and words over [`MAX_TERM_CHARS`] characters.
//! 5. **Stem**: words of ASCII letters only, three or more long, go through the English
//!    Snowball (Porter2) stemmer.
//! 6. **Identifiers**: words joined by single connectors (`- . / _ :`) with no space, where
//!    at least one word holds a digit (`2016-127403`, `555-123-4567`, `10.0.0.1`), also make a
//!    **compound** term, the words concatenated (`2016127403`), at the first word's position.
//!    Index mode emits the parts and the compound; query mode emits only the compound, so
//!    typing an identifier whole finds it whole, while its parts alone still match too.

use std::sync::LazyLock;

use rust_stemmers::{Algorithm, Stemmer};

/// Words longer than this (in characters) are not indexed: base64 blobs, hashes run together.
pub const MAX_TERM_CHARS: usize = 40;

/// Not indexed (they would be in nearly every document), but they keep their positions.
/// Lucene's English stop set.
pub const STOP_WORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
    "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these",
    "they", "this", "to", "was", "will", "with",
];

/// Characters that join the parts of an identifier.
const CONNECTORS: &[char] = &['-', '.', '/', '_', ':'];

static STEMMER: LazyLock<Stemmer> = LazyLock::new(|| Stemmer::create(Algorithm::English));

/// Index mode emits identifier parts and compounds; query mode only the compounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Cutting document text for the index.
    Index,
    /// Cutting a query.
    Query,
}

/// One term of the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The folded, stemmed term.
    pub term: String,
    /// Word position (stop words and over-long words use positions too).
    pub pos: u32,
}

/// One folded character and whether it stands alone (CJK).
#[derive(Clone, Copy)]
struct Unit {
    ch: char,
    alone: bool,
}

/// Whether `c` is a CJK character that forms a word by itself.
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF | 0x31F0..=0x31FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF
        | 0xAC00..=0xD7AF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F)
}

/// Whether `c` can be part of a word.
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric()
}

/// Step 1: the folded form of one code point (possibly empty, possibly several characters).
pub fn fold_char(c: char, into: &mut String) {
    let mut push_lower = |d: char| {
        if unicode_normalization::char::is_combining_mark(d) {
            return;
        }
        for l in d.to_lowercase() {
            match l {
                'ß' => into.push_str("ss"),
                'æ' => into.push_str("ae"),
                'œ' => into.push_str("oe"),
                'ø' => into.push('o'),
                'đ' | 'ð' => into.push('d'),
                'ł' => into.push('l'),
                'þ' => into.push_str("th"),
                'ı' => into.push('i'),
                'ς' => into.push('σ'),
                other => into.push(other),
            }
        }
    };
    if (0xAC00..=0xD7AF).contains(&(c as u32)) {
        push_lower(c);
    } else {
        unicode_normalization::char::decompose_compatible(c, push_lower);
    }
}

/// Folds a whole string (what the index stores for display-free matching).
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        fold_char(c, &mut out);
    }
    out
}

/// Stems one folded word if it is ASCII letters only and at least three long.
pub fn stem(word: &str) -> String {
    let mut out = String::new();
    with_stem(word, |stemmed| out.push_str(stemmed));
    out
}

/// Calls `f` with the stem of `word` (see [`stem`]), without allocating when the memo has it.
fn with_stem<R>(word: &str, f: impl FnOnce(&str) -> R) -> R {
    if word.len() >= 3 && word.bytes().all(|b| b.is_ascii_lowercase()) {
        // Words follow Zipf's law, so a small per-thread memo answers most lookups; the
        // Snowball stemmer was the largest single cost of indexing before it.
        STEMS.with_borrow_mut(|stems| {
            if !stems.contains_key(word) {
                if stems.len() >= STEM_CACHE_LIMIT {
                    stems.clear();
                }
                let stemmed = STEMMER.stem(word).into_owned();
                stems.insert(word.to_owned(), stemmed);
            }
            f(&stems[word])
        })
    } else {
        f(word)
    }
}

/// Entries the per-thread stem memo holds before it starts afresh.
const STEM_CACHE_LIMIT: usize = 200_000;

thread_local! {
    static STEMS: std::cell::RefCell<std::collections::HashMap<String, String>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// Whether the folded word is a stop word.
pub fn is_stop_word(word: &str) -> bool {
    STOP_WORDS.binary_search(&word).is_ok()
}

/// Cuts `text` into terms (see the module docs), calling `emit` for each in order.
pub fn tokenize_with(text: &str, mode: Mode, start_pos: u32, mut emit: impl FnMut(Token)) -> u32 {
    tokenize_terms(text, mode, start_pos, |term, pos| {
        emit(Token {
            term: term.to_owned(),
            pos,
        })
    })
}

thread_local! {
    /// Scratch buffers reused across calls: the indexer tokenizes every document on the
    /// render threads, and per-call allocation showed in its profile.
    static SCRATCH: std::cell::RefCell<(Vec<Unit>, String)> =
        const { std::cell::RefCell::new((Vec::new(), String::new())) };
}

/// [`tokenize_with`] without an owned `Token` per term: `emit(term, pos)` borrows the term.
/// Returns the next free position.
pub fn tokenize_terms(
    text: &str,
    mode: Mode,
    start_pos: u32,
    mut emit: impl FnMut(&str, u32),
) -> u32 {
    // A re-entrant call (an `emit` that tokenizes) gets fresh buffers instead of a panic.
    let taken = SCRATCH.with(|s| s.try_borrow_mut().map(|mut s| std::mem::take(&mut *s)));
    let (mut units, mut words) = taken.unwrap_or_default();
    units.clear();
    words.clear();
    let next = cut(text, mode, start_pos, &mut units, &mut words, &mut emit);
    SCRATCH.with(|s| {
        if let Ok(mut s) = s.try_borrow_mut() {
            *s = (units, words);
        }
    });
    next
}

fn cut(
    text: &str,
    mode: Mode,
    start_pos: u32,
    units: &mut Vec<Unit>,
    words: &mut String,
    emit: &mut impl FnMut(&str, u32),
) -> u32 {
    let mut folded = String::new();
    for c in text.chars() {
        // ASCII folds to its lowercase (no decomposition, no marks): skip the tables.
        if c.is_ascii() {
            units.push(Unit {
                ch: c.to_ascii_lowercase(),
                alone: false,
            });
            continue;
        }
        folded.clear();
        fold_char(c, &mut folded);
        for ch in folded.chars() {
            units.push(Unit {
                ch,
                alone: is_cjk(ch),
            });
        }
    }
    let mut pos = start_pos;
    // Parts of the identifier being read: (byte range in `words`, position).
    let mut group: Vec<(std::ops::Range<usize>, u32)> = Vec::new();
    let mut i = 0;
    let n = units.len();
    let mut one = [0u8; 4];
    while i < n {
        let u = units[i];
        if u.alone {
            emit_word(u.ch.encode_utf8(&mut one), pos, emit);
            pos += 1;
            i += 1;
            continue;
        }
        if !is_word_char(u.ch) {
            i += 1;
            continue;
        }
        let start = words.len();
        while i < n && !units[i].alone && is_word_char(units[i].ch) {
            words.push(units[i].ch);
            i += 1;
        }
        group.push((start..words.len(), pos));
        pos += 1;
        let joined = i + 1 < n
            && CONNECTORS.contains(&units[i].ch)
            && !units[i + 1].alone
            && is_word_char(units[i + 1].ch);
        if joined {
            i += 1;
            continue;
        }
        flush_group(&mut group, words, mode, emit);
    }
    flush_group(&mut group, words, mode, emit);
    pos
}

/// Cuts `text` into terms from position 0.
pub fn tokenize(text: &str, mode: Mode) -> Vec<Token> {
    let mut tokens = Vec::new();
    tokenize_with(text, mode, 0, |t| tokens.push(t));
    tokens
}

fn emit_word(word: &str, pos: u32, emit: &mut impl FnMut(&str, u32)) {
    // Byte length bounds the char count from above: only long words need counting.
    if (word.len() > MAX_TERM_CHARS && word.chars().count() > MAX_TERM_CHARS) || is_stop_word(word)
    {
        return;
    }
    with_stem(word, |stemmed| emit(stemmed, pos));
}

fn flush_group(
    group: &mut Vec<(std::ops::Range<usize>, u32)>,
    words: &mut String,
    mode: Mode,
    emit: &mut impl FnMut(&str, u32),
) {
    let compound = group.len() >= 2
        && group
            .iter()
            .any(|(r, _)| words[r.clone()].chars().any(|c| c.is_numeric()));
    if compound {
        // The parts are adjacent in `words`, so the compound is one slice.
        let joined = &words[group[0].0.start..group[group.len() - 1].0.end];
        let first_pos = group[0].1;
        if mode == Mode::Index {
            for (range, pos) in group.iter() {
                emit_word(&words[range.clone()], *pos, emit);
            }
        }
        if joined.chars().count() <= MAX_TERM_CHARS {
            emit(joined, first_pos);
        } else if mode == Mode::Query {
            // Too long to be indexed whole: fall back to its parts.
            for (range, pos) in group.iter() {
                emit_word(&words[range.clone()], *pos, emit);
            }
        }
    } else {
        for (range, pos) in group.iter() {
            emit_word(&words[range.clone()], *pos, emit);
        }
    }
    group.clear();
    words.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(text: &str, mode: Mode) -> Vec<(String, u32)> {
        tokenize(text, mode)
            .into_iter()
            .map(|t| (t.term, t.pos))
            .collect()
    }

    fn t(pairs: &[(&str, u32)]) -> Vec<(String, u32)> {
        pairs.iter().map(|(s, p)| (s.to_string(), *p)).collect()
    }

    #[test]
    fn stop_words_are_sorted_for_binary_search() {
        let mut sorted = STOP_WORDS.to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, STOP_WORDS);
    }

    #[test]
    fn folds_case_and_diacritics_and_stems() {
        assert_eq!(
            terms("Protesters PROTESTED at the Café", Mode::Index),
            t(&[("protest", 0), ("protest", 1), ("cafe", 4)])
        );
        assert_eq!(
            terms("Straße Øre", Mode::Index),
            t(&[("strass", 0), ("ore", 1)])
        );
    }

    #[test]
    fn cjk_is_one_term_per_character() {
        assert_eq!(
            terms("東京の警察", Mode::Index),
            t(&[("東", 0), ("京", 1), ("の", 2), ("警", 3), ("察", 4)])
        );
    }

    #[test]
    fn identifiers_are_whole_in_queries_and_parts_in_the_index() {
        assert_eq!(
            terms("case 2016-127403 closed", Mode::Index),
            t(&[
                ("case", 0),
                ("2016", 1),
                ("127403", 2),
                ("2016127403", 1),
                ("close", 3)
            ])
        );
        assert_eq!(terms("2016-127403", Mode::Query), t(&[("2016127403", 0)]));
        assert_eq!(terms("555-123-4567", Mode::Query), t(&[("5551234567", 0)]));
        // Hyphenated words without a digit are not identifiers.
        assert_eq!(terms("e-mail", Mode::Index), t(&[("e", 0), ("mail", 1)]));
    }

    #[test]
    fn long_words_are_dropped_but_keep_their_position() {
        let long = "x".repeat(MAX_TERM_CHARS + 1);
        assert_eq!(terms(&format!("a {long} b"), Mode::Index), t(&[("b", 2)]));
    }
}
