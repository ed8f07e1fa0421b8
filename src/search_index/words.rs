//! A map from short strings to small `Copy` values: a key's first [`INLINE`] bytes in its
//! slot, the rest back to back in one arena. The indexer looks up every word of every
//! document in two of these (the document's own words, and the thread's memo of words it has
//! met), so a key is not a `String` of its own: no allocation per new word, and most keys are
//! compared within the slot the probe already reads.
//!
//! It is open addressing with linear probing, written here rather than taken from hashbrown
//! for two things hashbrown does not offer: [`WordTable::prefetch`], which needs a key's slot
//! address before the look-up (the memo is megabytes, and its look-ups waited on memory), and
//! emptying by a generation number, so that the document table, emptied once per document,
//! costs nothing to clear whatever its capacity.

/// Bytes of a word held in its slot; the rest are in the arena. Most words are no longer, and
/// are compared without reading the arena (a second cache miss) nor calling `memcmp`.
const INLINE: usize = 16;

#[derive(Clone, Copy, Default)]
struct Slot<V> {
    /// The word's first [`INLINE`] bytes, zero-padded.
    head: [u64; 2],
    /// Where its bytes past [`INLINE`] start in the arena.
    tail: u32,
    len: u16,
    /// The slot is taken if this is the table's generation, and empty otherwise.
    generation: u16,
    value: V,
}

pub(super) struct WordTable<V> {
    /// A power of two long, or empty.
    slots: Vec<Slot<V>>,
    len: usize,
    generation: u16,
    arena: Vec<u8>,
}

impl<V> Default for WordTable<V> {
    fn default() -> Self {
        WordTable {
            slots: Vec::new(),
            len: 0,
            generation: 1,
            arena: Vec::new(),
        }
    }
}

/// A word's first [`INLINE`] bytes, zero-padded, as two numbers.
fn head(word: &[u8]) -> [u64; 2] {
    let mut bytes = [0u8; INLINE];
    let n = word.len().min(INLINE);
    bytes[..n].copy_from_slice(&word[..n]);
    let (low, high) = bytes.split_at(8);
    [
        u64::from_le_bytes(low.try_into().expect("8 bytes")),
        u64::from_le_bytes(high.try_into().expect("8 bytes")),
    ]
}

/// The hash [`WordTable`] keys by, for a caller that looks the same word up in two tables.
pub(super) fn hash(word: &str) -> u64 {
    word_hash(word.as_bytes())
}

/// The slot a hash starts probing at, in a table of `capacity` (a power of two) slots.
fn home(hash: u64, capacity: usize) -> usize {
    hash as usize & (capacity - 1)
}

impl<V: Copy + Default> WordTable<V> {
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Empties the table, keeping its memory: every slot of an older generation is empty.
    pub(super) fn clear(&mut self) {
        self.len = 0;
        self.arena.clear();
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            // Wrapped: slots of 65,536 clears ago would look taken again.
            self.slots.fill(Slot::default());
            self.generation = 1;
        }
    }

    /// Asks the processor to fetch the slot a look-up of `hash` starts at, so that a look-up
    /// made a little later finds it in cache. Only a hint: it changes no result.
    pub(super) fn prefetch(&self, hash: u64) {
        if self.slots.is_empty() {
            return;
        }
        let slot = &self.slots[home(hash, self.slots.len())];
        #[cfg(target_arch = "x86_64")]
        // SAFETY: a prefetch reads nothing and cannot fault; the address is a live slot.
        unsafe {
            use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
            _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(slot).cast::<i8>());
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = slot;
    }

    /// Whether the slot holds `word` (whose [`head`] is `head`).
    fn holds(&self, slot: &Slot<V>, word: &[u8], head: [u64; 2]) -> bool {
        slot.head == head
            && usize::from(slot.len) == word.len()
            && (word.len() <= INLINE
                || self.arena[slot.tail as usize..][..word.len() - INLINE] == word[INLINE..])
    }

    /// The value of `word` (whose [`hash`] is `hash`), made by `make` and kept if the table
    /// has none. A word over 65,535 bytes, or past what a slot can point at in the arena
    /// (4 GiB), gets `make`'s value without it being kept.
    pub(super) fn get_or_insert_with(
        &mut self,
        word: &str,
        hash: u64,
        make: impl FnOnce() -> V,
    ) -> V {
        let bytes = word.as_bytes();
        let head = head(bytes);
        if !self.slots.is_empty() {
            let mask = self.slots.len() - 1;
            let mut at = home(hash, self.slots.len());
            loop {
                let slot = &self.slots[at];
                if slot.generation != self.generation {
                    break;
                }
                if self.holds(slot, bytes, head) {
                    return slot.value;
                }
                at = (at + 1) & mask;
            }
        }
        let value = make();
        let tail_len = bytes.len().saturating_sub(INLINE);
        let (Ok(len), Ok(tail)) = (u16::try_from(bytes.len()), u32::try_from(self.arena.len()))
        else {
            return value;
        };
        if u32::try_from(tail_len)
            .ok()
            .and_then(|n| tail.checked_add(n))
            .is_none()
        {
            return value;
        }
        // At most three quarters full, so that probes stay short.
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            self.grow();
        }
        self.arena
            .extend_from_slice(&bytes[bytes.len() - tail_len..]);
        let slot = Slot {
            head,
            tail,
            len,
            generation: self.generation,
            value,
        };
        self.place(hash, slot);
        self.len += 1;
        value
    }

    /// Puts `slot` (not in the table) in the first empty slot from its hash's home.
    fn place(&mut self, hash: u64, slot: Slot<V>) {
        let mask = self.slots.len() - 1;
        let mut at = home(hash, self.slots.len());
        while self.slots[at].generation == self.generation {
            at = (at + 1) & mask;
        }
        self.slots[at] = slot;
    }

    /// Doubles the slots (or makes the first ones) and places the taken ones again.
    fn grow(&mut self) {
        let capacity = (self.slots.len() * 2).max(64);
        let old = std::mem::replace(&mut self.slots, vec![Slot::default(); capacity]);
        let generation = self.generation;
        let mut word = Vec::new();
        for slot in old.into_iter().filter(|s| s.generation == generation) {
            word.clear();
            let len = usize::from(slot.len);
            word.extend_from_slice(&slot.head[0].to_le_bytes());
            word.extend_from_slice(&slot.head[1].to_le_bytes());
            word.truncate(len);
            if len > INLINE {
                word.extend_from_slice(&self.arena[slot.tail as usize..][..len - INLINE]);
            }
            self.place(word_hash(&word), slot);
        }
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
        // Enough words to grow the table several times, each met twice. Short ones, ones
        // alike in their first eight bytes, and ones alike in all the bytes a slot holds.
        let words: Vec<String> = (0..6000)
            .map(|i| match i % 3 {
                0 => format!("w{i}"),
                1 => format!("longword{i}"),
                _ => format!("averyveryverylongword{i}"),
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
        for (word, value) in [("w3", 30), ("longword1", 10), ("longword4999", 49990)] {
            assert_eq!(table.get_or_insert_with(word, hash(word), || 7), value);
        }
        assert_eq!(
            table.get_or_insert_with(
                "averyveryverylongword5",
                hash("averyveryverylongword5"),
                || 7
            ),
            50
        );
        for word in [
            "w",
            "w20000",
            "longword",
            "longword10000",
            "longword98",
            "averyveryverylon",
            "averyveryverylongword",
            "averyveryverylongword1",
        ] {
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

    #[test]
    fn a_cleared_table_is_empty_through_every_generation() {
        let mut table = WordTable::default();
        // Past the point where the generation number wraps and the slots are reset.
        for round in 0..70_000u32 {
            let word = if round % 2 == 0 { "even" } else { "odd" };
            assert_eq!(table.get_or_insert_with(word, hash(word), || round), round);
            assert_eq!(table.get_or_insert_with(word, hash(word), || 0), round);
            assert_eq!(table.len(), 1);
            table.clear();
        }
    }
}
