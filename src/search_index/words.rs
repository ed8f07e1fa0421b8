//! A map from short strings to small `Copy` values, its keys back to back in one arena. The
//! indexer looks up every word of every document in two of these (the document's own words,
//! and the thread's memo of words it has met), so a key is one slice of a string it owns
//! rather than a `String` of its own: no allocation per new word, and comparing a key reads
//! memory next to the keys before it.

use hashbrown::HashTable;

#[derive(Clone, Copy)]
struct Slot<V> {
    /// The word's first eight bytes ([`head`]): most words are no longer, and are compared
    /// without reading the arena (nor calling `memcmp`, which showed in the profile).
    head: u64,
    start: u32,
    len: u32,
    value: V,
}

pub(super) struct WordTable<V> {
    slots: HashTable<Slot<V>>,
    arena: Vec<u8>,
}

impl<V> Default for WordTable<V> {
    fn default() -> Self {
        WordTable {
            slots: HashTable::new(),
            arena: Vec::new(),
        }
    }
}

/// A word's first eight bytes, zero-padded, as one number.
fn head(word: &[u8]) -> u64 {
    let mut bytes = [0u8; 8];
    let n = word.len().min(8);
    bytes[..n].copy_from_slice(&word[..n]);
    u64::from_le_bytes(bytes)
}

/// The hash [`WordTable`] keys by, for a caller that looks the same word up in two tables.
pub(super) fn hash(word: &str) -> u64 {
    word_hash(word.as_bytes())
}

impl<V: Copy> WordTable<V> {
    pub(super) fn len(&self) -> usize {
        self.slots.len()
    }

    /// Empties the table, keeping its memory.
    pub(super) fn clear(&mut self) {
        self.slots.clear();
        self.arena.clear();
    }

    /// The value of `word` (whose [`hash`] is `hash`), made by `make` and kept if the table
    /// has none. Past what a slot can point at (an arena of 4 GiB), `make`'s value is returned
    /// but not kept.
    pub(super) fn get_or_insert_with(
        &mut self,
        word: &str,
        hash: u64,
        make: impl FnOnce() -> V,
    ) -> V {
        let bytes = word.as_bytes();
        let head = head(bytes);
        let arena = &self.arena;
        let found = self.slots.find(hash, |slot| {
            slot.head == head
                && slot.len as usize == bytes.len()
                && (bytes.len() <= 8
                    || arena[slot.start as usize + 8..][..bytes.len() - 8] == bytes[8..])
        });
        if let Some(slot) = found {
            return slot.value;
        }
        let value = make();
        let (Ok(start), Ok(len)) = (u32::try_from(self.arena.len()), u32::try_from(word.len()))
        else {
            return value;
        };
        if start.checked_add(len).is_none() {
            return value;
        }
        self.arena.extend_from_slice(word.as_bytes());
        let arena = &self.arena;
        self.slots.insert_unique(
            hash,
            Slot {
                head,
                start,
                len,
                value,
            },
            |slot| word_hash(&arena[slot.start as usize..][..slot.len as usize]),
        );
        value
    }
}

/// A hash of a short word for [`WordTable`]: FxHash (rustc's) over 8-byte chunks, then
/// MurmurHash3's finalizer. Fx alone carries each bit's influence only upwards, so the slot
/// index (low bits) would hang on a word's first bytes; the finalizer mixes every bit into
/// every other. SipHash's flooding resistance buys nothing against our own tokenizer's output.
fn word_hash(bytes: &[u8]) -> u64 {
    let mut hash = bytes.len() as u64;
    let mut add = |word: u64| {
        hash = (hash.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    };
    let mut rest = bytes;
    while let Some((chunk, after)) = rest.split_first_chunk::<8>() {
        add(u64::from_le_bytes(*chunk));
        rest = after;
    }
    // The tail (most words are shorter than 8 bytes) in one step, not a step per byte.
    if !rest.is_empty() {
        let mut tail = [0u8; 8];
        tail[..rest.len()].copy_from_slice(rest);
        add(u64::from_le_bytes(tail));
    }
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xff51_afd7_ed55_8ccd);
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    hash ^ (hash >> 33)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_each_word_once_with_the_first_value() {
        let mut table = WordTable::default();
        let mut made = 0;
        // Enough words to grow the table several times, each met twice.
        // Short ones, and long ones alike in their first eight bytes.
        let words: Vec<String> = (0..5000)
            .map(|i| match i % 2 {
                0 => format!("w{i}"),
                _ => format!("longword{i}"),
            })
            .collect();
        for round in 0..2 {
            for (i, word) in words.iter().enumerate() {
                let value = table.get_or_insert_with(word, hash(word), || {
                    made += 1;
                    i * 10 + round
                });
                assert_eq!(value, i * 10, "{word}");
            }
        }
        assert_eq!(made, words.len());
        assert_eq!(table.len(), words.len());
        // A prefix or an extension of a known word is another word.
        for (word, value) in [("w2", 20), ("longword1", 10), ("longword4999", 49990)] {
            assert_eq!(table.get_or_insert_with(word, hash(word), || 7), value);
        }
        for word in ["w", "w20000", "longword", "longword10000", "longword98"] {
            assert_eq!(
                table.get_or_insert_with(word, hash(word), || 8),
                8,
                "{word}"
            );
        }
        table.clear();
        assert_eq!(table.len(), 0);
        assert_eq!(table.get_or_insert_with("w2", hash("w2"), || 9), 9);
    }
}
