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

/// The term of a word of [`tokenize_words`]: [`stem`] without a copy when nothing changes.
pub fn stem_once(word: &str) -> std::borrow::Cow<'_, str> {
    if is_stemmable(word) {
        STEMMER.stem(word)
    } else {
        std::borrow::Cow::Borrowed(word)
    }
}

/// Stems one folded word if it is ASCII letters only and at least three long.
pub fn stem(word: &str) -> String {
    stem_once(word).into_owned()
}

/// Whether [`stem`] runs the stemmer on `word`: ASCII letters only, three or more.
fn is_stemmable(word: &str) -> bool {
    word.len() >= 3 && word.bytes().all(|b| b.is_ascii_lowercase())
}

/// The longest stop word, in bytes.
const MAX_STOP_WORD_LEN: usize = {
    let mut max = 0;
    let mut i = 0;
    while i < STOP_WORDS.len() {
        if STOP_WORDS[i].len() > max {
            max = STOP_WORDS[i].len();
        }
        i += 1;
    }
    max
};

/// A word of at most 7 bytes as one integer: its bytes from the top down, its length in the
/// low byte. Distinct words give distinct keys, in the words' (byte-wise) sort order.
const fn stop_key(word: &[u8]) -> u64 {
    let mut key = word.len() as u64;
    let mut i = 0;
    while i < word.len() {
        key |= (word[i] as u64) << (56 - 8 * i);
        i += 1;
    }
    key
}

/// [`STOP_WORDS`] as [`stop_key`]s, in the same (sorted) order.
const STOP_KEYS: [u64; STOP_WORDS.len()] = {
    assert!(MAX_STOP_WORD_LEN <= 7, "stop_key packs at most 7 bytes");
    let mut keys = [0; STOP_WORDS.len()];
    let mut i = 0;
    while i < STOP_WORDS.len() {
        keys[i] = stop_key(STOP_WORDS[i].as_bytes());
        i += 1;
    }
    keys
};

/// Whether the folded word is a stop word.
pub fn is_stop_word(word: &str) -> bool {
    // Most words are longer than any stop word; the rest compare as integers, not strings.
    word.len() <= MAX_STOP_WORD_LEN && STOP_KEYS.binary_search(&stop_key(word.as_bytes())).is_ok()
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

/// Buffers reused across calls: the indexer tokenizes every document on
/// the render threads, and per-call allocation showed in its profile.
#[derive(Default)]
struct Scratch {
    /// The folded words of the identifier being read, back to back.
    words: String,
    /// Parts of that identifier: (byte range in `words`, position).
    group: Vec<(std::ops::Range<usize>, u32)>,
    /// One non-ASCII character's folded form.
    folded: String,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::default();
}

/// Runs `f` with this thread's [`Scratch`], moved out of the thread-local for the call so
/// that `f` reaches it without a thread-local access per word. A re-entrant call (an `emit`
/// that tokenizes) gets a fresh one instead of a panic.
fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    let taken = SCRATCH.with(|s| s.try_borrow_mut().map(|mut s| std::mem::take(&mut *s)));
    let mut scratch = taken.unwrap_or_default();
    let result = f(&mut scratch);
    SCRATCH.with(|s| {
        if let Ok(mut s) = s.try_borrow_mut() {
            *s = scratch;
        }
    });
    result
}

/// [`tokenize_with`] without an owned `Token` per term: `emit(term, pos)` borrows the term.
/// Returns the next free position.
pub fn tokenize_terms(text: &str, mode: Mode, start_pos: u32, emit: impl FnMut(&str, u32)) -> u32 {
    cut(text, mode, start_pos, true, emit)
}

/// [`tokenize_terms`] before step 5: `emit(word, pos)` gets each folded word that survives
/// step 4 (and each compound), whose term is [`stem_once`]`(word)`. For a caller that keeps
/// its own memo of words, and so stems each distinct word once (the Snowball stemmer costs
/// more than cutting the text).
pub fn tokenize_words(text: &str, mode: Mode, start_pos: u32, emit: impl FnMut(&str, u32)) -> u32 {
    cut(text, mode, start_pos, false, emit)
}

fn cut(text: &str, mode: Mode, start_pos: u32, stem: bool, mut emit: impl FnMut(&str, u32)) -> u32 {
    with_scratch(|scratch| {
        let Scratch {
            words,
            group,
            folded,
        } = scratch;
        words.clear();
        group.clear();
        let mut cutter = Cutter {
            mode,
            pos: start_pos,
            state: State::Between,
            words,
            group,
            stem,
            emit: &mut emit,
        };
        cutter.cut(text, folded);
        cutter.pos
    })
}

/// Where [`Cutter`] is in the stream of folded characters.
#[derive(Clone, Copy)]
enum State {
    /// Between words, with no identifier open.
    Between,
    /// Reading a word that starts at this byte of `words`.
    InWord(usize),
    /// A word just ended on a connector: the identifier goes on if a word character follows.
    AfterConnector,
}

/// Cuts the folded text as it is produced, one character (or one run of ASCII alphanumerics)
/// at a time, so the text is never folded into a buffer of its own. It reads the stream
/// exactly as the rules in the module docs (and `search.js`) do: a word is a maximal run of
/// non-CJK word characters, and a connector joins two words when a word character follows it.
struct Cutter<'a, F> {
    mode: Mode,
    pos: u32,
    state: State,
    words: &'a mut String,
    group: &'a mut Vec<(std::ops::Range<usize>, u32)>,
    /// Off for [`tokenize_words`]: words go out as folded, before step 5.
    stem: bool,
    emit: &'a mut F,
}

impl<F: FnMut(&str, u32)> Cutter<'_, F> {
    fn cut(&mut self, text: &str, folded: &mut String) {
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if b.is_ascii_alphanumeric() {
                // ASCII folds to its lowercase (no decomposition, no marks): copy the run of
                // alphanumerics whole and lowercase it in place.
                let start = i;
                i += 1;
                while i < bytes.len() && bytes[i].is_ascii_alphanumeric() {
                    i += 1;
                }
                self.word_chars(&text[start..i]);
                let copied = self.words.len() - (i - start);
                self.words[copied..].make_ascii_lowercase();
            } else if b.is_ascii() {
                self.boundary(b as char, false);
                i += 1;
            } else {
                let c = text[i..].chars().next().expect("i is on a char boundary");
                i += c.len_utf8();
                folded.clear();
                fold_char(c, folded);
                for ch in folded.chars() {
                    let alone = is_cjk(ch);
                    if !alone && is_word_char(ch) {
                        self.word_chars(ch.encode_utf8(&mut [0; 4]));
                    } else {
                        self.boundary(ch, alone);
                    }
                }
            }
        }
        self.end_word();
        self.flush_group();
    }

    /// Folded word characters (not CJK): they start a word or continue it.
    fn word_chars(&mut self, chars: &str) {
        match self.state {
            State::InWord(_) => {}
            // After a connector, the identifier stays open.
            State::Between | State::AfterConnector => {
                self.state = State::InWord(self.words.len());
            }
        }
        self.words.push_str(chars);
    }

    /// A folded character that is not a word character, or one that is a word on its own.
    fn boundary(&mut self, ch: char, alone: bool) {
        match self.state {
            State::InWord(_) => {
                self.end_word();
                if CONNECTORS.contains(&ch) {
                    self.state = State::AfterConnector;
                    return;
                }
                self.flush_group();
            }
            State::AfterConnector => self.flush_group(),
            State::Between => {}
        }
        if alone {
            let mut one = [0u8; 4];
            let pos = self.pos;
            self.emit_word_at(ch.encode_utf8(&mut one), pos);
            self.pos += 1;
        }
    }

    /// Ends the word being read, if any: it joins the open identifier at the next position.
    fn end_word(&mut self) {
        if let State::InWord(start) = self.state {
            self.group.push((start..self.words.len(), self.pos));
            self.pos += 1;
        }
        self.state = State::Between;
    }

    /// Emits the identifier's parts and compound (or the lone word) and closes it.
    fn flush_group(&mut self) {
        self.state = State::Between;
        let group = std::mem::take(self.group);
        let compound = group.len() >= 2
            && group
                .iter()
                .any(|(r, _)| self.words[r.clone()].chars().any(|c| c.is_numeric()));
        let emit_parts = !compound
            || self.mode == Mode::Index
            || self.words[group[0].0.start..group[group.len() - 1].0.end]
                .chars()
                .count()
                > MAX_TERM_CHARS;
        if emit_parts {
            for (range, pos) in &group {
                self.emit_word(range.clone(), *pos);
            }
        }
        if compound {
            // The parts are adjacent in `words`, so the compound is one slice.
            let joined = &self.words[group[0].0.start..group[group.len() - 1].0.end];
            // Too long to be indexed whole: a query has fallen back to its parts above.
            if joined.chars().count() <= MAX_TERM_CHARS {
                (self.emit)(joined, group[0].1);
            }
        }
        *self.group = group;
        self.group.clear();
        self.words.clear();
    }

    /// Emits the word at `range` of `words` (steps 4 and 5).
    fn emit_word(&mut self, range: std::ops::Range<usize>, pos: u32) {
        emit_word(&self.words[range], pos, self.stem, self.emit);
    }

    fn emit_word_at(&mut self, word: &str, pos: u32) {
        emit_word(word, pos, self.stem, self.emit);
    }
}

/// Cuts `text` into terms from position 0.
pub fn tokenize(text: &str, mode: Mode) -> Vec<Token> {
    let mut tokens = Vec::new();
    tokenize_with(text, mode, 0, |t| tokens.push(t));
    tokens
}

/// Drops stop words and over-long words, stems the rest (if `stem`), and emits them.
fn emit_word(word: &str, pos: u32, stem: bool, emit: &mut impl FnMut(&str, u32)) {
    // Byte length bounds the char count from above: only long words need counting.
    if (word.len() > MAX_TERM_CHARS && word.chars().count() > MAX_TERM_CHARS) || is_stop_word(word)
    {
        return;
    }
    if stem {
        emit(&stem_once(word), pos);
    } else {
        emit(word, pos);
    }
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

    /// The tokenizer as it was before the streaming cut: fold the whole text into units, then
    /// split them, with a plain binary search for stop words. The fast path must agree with it
    /// term for term.
    mod reference {
        // A glob: rustfmt's 2021 and 2024 styles sort a mixed-case list differently.
        use super::super::*;

        #[derive(Clone, Copy)]
        struct Unit {
            ch: char,
            alone: bool,
        }

        pub(super) fn tokenize(
            text: &str,
            mode: Mode,
            start_pos: u32,
        ) -> (Vec<(String, u32)>, u32) {
            let mut out = Vec::new();
            let mut emit = |term: &str, pos: u32| out.push((term.to_owned(), pos));
            let mut units = Vec::new();
            let mut folded = String::new();
            for c in text.chars() {
                folded.clear();
                fold_char(c, &mut folded);
                for ch in folded.chars() {
                    units.push(Unit {
                        ch,
                        alone: is_cjk(ch),
                    });
                }
            }
            let mut words = String::new();
            let mut pos = start_pos;
            let mut group: Vec<(std::ops::Range<usize>, u32)> = Vec::new();
            let mut i = 0;
            let n = units.len();
            let mut one = [0u8; 4];
            while i < n {
                let u = units[i];
                if u.alone {
                    emit_word(u.ch.encode_utf8(&mut one), pos, &mut emit);
                    pos += 1;
                    i += 1;
                    continue;
                }
                if !u.ch.is_alphanumeric() {
                    i += 1;
                    continue;
                }
                let start = words.len();
                while i < n && !units[i].alone && units[i].ch.is_alphanumeric() {
                    words.push(units[i].ch);
                    i += 1;
                }
                group.push((start..words.len(), pos));
                pos += 1;
                let joined = i + 1 < n
                    && CONNECTORS.contains(&units[i].ch)
                    && !units[i + 1].alone
                    && units[i + 1].ch.is_alphanumeric();
                if joined {
                    i += 1;
                    continue;
                }
                flush_group(&mut group, &mut words, mode, &mut emit);
            }
            flush_group(&mut group, &mut words, mode, &mut emit);
            (out, pos)
        }

        fn emit_word(word: &str, pos: u32, emit: &mut impl FnMut(&str, u32)) {
            if word.chars().count() > MAX_TERM_CHARS || STOP_WORDS.binary_search(&word).is_ok() {
                return;
            }
            if word.len() >= 3 && word.bytes().all(|b| b.is_ascii_lowercase()) {
                emit(&STEMMER.stem(word), pos);
            } else {
                emit(word, pos);
            }
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
    }

    /// A small deterministic generator (xorshift64*), so failures reproduce.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[self.below(items.len())]
        }
    }

    /// Mixed text in pieces that meet each other without spaces as often as with them:
    /// English and stop words, identifiers, diacritics (precomposed and combining), letters
    /// NFKD leaves alone, compatibility forms, CJK, connectors, punctuation, long words.
    fn generated_text(rng: &mut Rng) -> String {
        // `¦`-separated, since some pieces are punctuation and spaces.
        const PIECES: &str = "the¦The¦THE¦a¦A¦an¦and¦into¦their¦there¦with¦will¦running¦\
            Generously¦PROTESTED¦national¦skies¦agreed¦feed¦x¦ab¦abc¦2016¦127403¦555¦10¦0¦x1¦\
            1x¦a1b2¦IPv6¦café¦Café¦naïve¦coöperate¦façade¦jalapeño¦e\u{301}¦\u{301}¦a\u{308}¦\
            \u{308}x¦Straße¦Øre¦Æsir¦œuvre¦Łódź¦Þór¦ıstanbul¦ΣΊΣΥΦΟΣ¦ς¦東京¦の¦警察¦서울¦경찰청¦\
            ﾊﾟﾄｶｰ¦ｶ¦㈱¦℡¦™¦ﬁle¦½¦①¦Ⅻ¦x²¦Ⅸ¦〇¦－¦․¦\u{a0}¦’¦“¦—¦…¦-¦-¦.¦.¦/¦_¦:¦::¦--¦ ¦ ¦ ¦ ¦\n¦\t¦,¦;¦\
            (¦)¦\"¦'¦*¦#¦|¦Ab¦ZZ¦xyzzy¦İstanbul¦ǅ¦ﬀ¦ﬃ¦Ⓐ¦𝐀¦𠀋¦ß¦ẞ¦I¦İ";
        let pieces: Vec<&str> = PIECES.split('¦').collect();
        let mut text = String::new();
        for _ in 0..rng.below(40) {
            match rng.below(20) {
                // Long words: near, at and over MAX_TERM_CHARS, ASCII or not.
                0 => {
                    let unit = rng.pick(&["x", "é", "7", "ab", "東"]);
                    let len = MAX_TERM_CHARS - 2 + rng.below(5);
                    text.push_str(&unit.repeat(len / unit.chars().count()));
                }
                // Identifiers, sometimes long enough that the compound is not kept.
                1 => {
                    for part in 0..1 + rng.below(14) {
                        if part > 0 {
                            text.push_str(rng.pick(&["-", ".", "/", "_", ":"]));
                        }
                        text.push_str(rng.pick(&["2016", "127403", "a", "b7", "ab", "x", "é9"]));
                    }
                }
                _ => text.push_str(rng.pick(&pieces)),
            }
        }
        text
    }

    #[test]
    fn streaming_cut_agrees_with_the_reference_on_generated_text() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for case in 0..20_000 {
            let text = generated_text(&mut rng);
            for mode in [Mode::Index, Mode::Query] {
                let start = (case % 7) as u32;
                let mut got = Vec::new();
                let end = tokenize_terms(&text, mode, start, |term, pos| {
                    got.push((term.to_owned(), pos))
                });
                let (expected, expected_end) = reference::tokenize(&text, mode, start);
                assert_eq!(got, expected, "{mode:?} terms of {text:?}");
                assert_eq!(end, expected_end, "{mode:?} end of {text:?}");
            }
        }
    }

    #[test]
    fn reentrant_tokenizing_gets_its_own_buffers() {
        let mut outer = Vec::new();
        tokenize_terms(
            "case 2016-127403 closed café",
            Mode::Index,
            0,
            |term, pos| {
                let inner = tokenize("naïve x1-y2 running", Mode::Index);
                assert_eq!(inner.len(), 5);
                outer.push((term.to_owned(), pos));
            },
        );
        assert_eq!(
            outer,
            t(&[
                ("case", 0),
                ("2016", 1),
                ("127403", 2),
                ("2016127403", 1),
                ("close", 3),
                ("cafe", 4)
            ])
        );
    }

    #[test]
    fn stop_words_match_only_themselves() {
        for word in STOP_WORDS {
            assert!(is_stop_word(word), "{word}");
            for extra in ["s", "\0", "x"] {
                let longer = format!("{word}{extra}");
                assert_eq!(is_stop_word(&longer), STOP_WORDS.contains(&longer.as_str()));
            }
            assert!(!is_stop_word(&format!("\0{word}")));
            assert!(!is_stop_word(&word.to_uppercase()));
        }
        for word in ["", "\0", "b", "ann", "thes", "théir", "tha", "wit", "withh"] {
            assert!(!is_stop_word(word), "{word:?}");
        }
        assert!(STOP_KEYS.is_sorted());
    }

    #[test]
    fn stems_only_ascii_letter_words_of_three_or_more() {
        assert_eq!(stem("generously"), "generous");
        assert_eq!(stem("protesters"), "protest");
        assert_eq!(stem("Running"), "Running");
        assert_eq!(stem("runs2"), "runs2");
        assert_eq!(stem("is"), "is");
        assert_eq!(stem("café"), "café");
    }

    /// Throughput of [`tokenize_words`] (the indexer's cut, before stemming) in index mode on the bodies of the Markdown files
    /// under `$LEAKPRESS_TOKENIZE_DIR` (front matter skipped), in words per second. Run with
    /// `LEAKPRESS_TOKENIZE_DIR=/path/to/content cargo test --release --lib tokenize_throughput
    /// -- --ignored --nocapture`; `LEAKPRESS_TOKENIZE_FILES` caps the file count (default
    /// 2000), `LEAKPRESS_TOKENIZE_ROUNDS` repeats the pass (default 3, best reported).
    #[test]
    #[ignore = "a measurement: needs LEAKPRESS_TOKENIZE_DIR"]
    fn tokenize_throughput() {
        let Some(dir) = std::env::var_os("LEAKPRESS_TOKENIZE_DIR") else {
            eprintln!("LEAKPRESS_TOKENIZE_DIR is not set");
            return;
        };
        let env_number = |name: &str, default: usize| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        let max_files = env_number("LEAKPRESS_TOKENIZE_FILES", 2000);
        let rounds = env_number("LEAKPRESS_TOKENIZE_ROUNDS", 3);
        let mut paths = Vec::new();
        let mut pending = vec![std::path::PathBuf::from(dir)];
        while let Some(path) = pending.pop() {
            if path.is_dir() {
                let mut entries: Vec<_> = std::fs::read_dir(&path)
                    .expect("read dir")
                    .map(|e| e.expect("dir entry").path())
                    .collect();
                entries.sort();
                pending.extend(entries.into_iter().rev());
            } else if path.extension().is_some_and(|e| e == "md") {
                paths.push(path);
            }
        }
        paths.truncate(max_files);
        let bodies: Vec<String> = paths
            .iter()
            .map(|path| {
                let text = std::fs::read_to_string(path).expect("read file");
                match text.strip_prefix("---") {
                    Some(rest) => match rest.find("\n---") {
                        Some(end) => rest[end + 4..].to_owned(),
                        None => text,
                    },
                    None => text,
                }
            })
            .collect();
        let bytes: usize = bodies.iter().map(String::len).sum();
        let mut best = f64::INFINITY;
        let (mut words, mut terms, mut check) = (0u64, 0u64, 0u64);
        for _ in 0..rounds.max(1) {
            (words, terms, check) = (0, 0, 0);
            let started = std::time::Instant::now();
            for body in &bodies {
                let end = tokenize_words(body, Mode::Index, 0, |term, pos| {
                    terms += 1;
                    check = check.wrapping_add(term.len() as u64 ^ pos as u64);
                });
                words += end as u64;
            }
            best = best.min(started.elapsed().as_secs_f64());
        }
        println!(
            "tokenize_throughput: {} files, {:.1} MB, {words} words, {terms} terms \
             (check {check}): best of {rounds} {best:.3} s, {:.2} M words/s, {:.1} MB/s",
            bodies.len(),
            bytes as f64 / 1e6,
            words as f64 / best / 1e6,
            bytes as f64 / best / 1e6,
        );
    }

    #[test]
    fn long_words_are_dropped_but_keep_their_position() {
        let long = "x".repeat(MAX_TERM_CHARS + 1);
        assert_eq!(terms(&format!("a {long} b"), Mode::Index), t(&[("b", 2)]));
    }
}
