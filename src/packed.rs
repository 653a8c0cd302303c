//! Short ASCII words packed into one integer, lowercased: keys that the date
//! scanner's word sets and HTML to text's tag roles compare as integers
//! instead of comparing strings (each runs for every word or tag of every
//! description, benches/extract.rs), and entity names as they are. One
//! packing for all, so that a constant packed at compile time ([`pack`],
//! [`pack_lower`]) and a word packed in place at run time ([`pack_at`],
//! [`pack_lower_at`]) are the same key.

/// Longest word packed: a longer one is cut to its first sixteen bytes
/// (callers that need whole words check lengths first).
pub(crate) const PACKED_MAX: usize = 16;

/// `w`'s first [`PACKED_MAX`] bytes, ASCII letters lowercased, byte `k` on
/// bits `8k..8k+8`: the definition, byte by byte, usable in constants.
pub(crate) const fn pack_lower(w: &[u8]) -> u128 {
    let mut v = 0u128;
    let mut i = 0;
    while i < w.len() && i < PACKED_MAX {
        v |= (w[i].to_ascii_lowercase() as u128) << (8 * i);
        i += 1;
    }
    v
}

/// `w`'s first [`PACKED_MAX`] bytes as they are, byte `k` on bits
/// `8k..8k+8` (entity names, which are case-sensitive): usable in constants.
pub(crate) const fn pack(w: &[u8]) -> u128 {
    let mut v = 0u128;
    let mut i = 0;
    while i < w.len() && i < PACKED_MAX {
        v |= (w[i] as u128) << (8 * i);
        i += 1;
    }
    v
}

/// [`pack`] of the word `text[start..end]`, read in place. The sixteen
/// bytes are read from the text itself, around the word, and what is not
/// the word is cleared: copying the word into a zeroed buffer first and
/// reading that back as one integer makes the load wait for a
/// variable-length copy, and packing so was the largest cost of the date
/// scan's own work in a profile of benches/extract.rs (2026-11-27).
pub(crate) fn pack_at(text: &[u8], start: usize, end: usize) -> u128 {
    let n = end.saturating_sub(start).min(PACKED_MAX);
    // Keeps the low `n` bytes (none for an empty word).
    let keep = u128::MAX.checked_shr(8 * (16 - n as u32)).unwrap_or(0);
    if let Some(ahead) = text.get(start..).and_then(<[u8]>::first_chunk::<16>) {
        u128::from_le_bytes(*ahead) & keep
    } else if let Some(behind) = text.get(..start + n).and_then(<[u8]>::last_chunk::<16>) {
        // Near the end of the text: the sixteen bytes that end with the
        // word, shifted down.
        u128::from_le_bytes(*behind)
            .checked_shr(8 * (16 - n as u32))
            .unwrap_or(0)
    } else {
        // A text shorter than sixteen bytes.
        let mut bytes = [0u8; PACKED_MAX];
        bytes[..n].copy_from_slice(&text[start..start + n]);
        u128::from_le_bytes(bytes)
    }
}

/// [`pack_lower`] of the word `text[start..end]`, read in place as
/// [`pack_at`] reads it, with all sixteen bytes lowercased at once rather
/// than one by one (a tenth of the date scanner's time,
/// benches/extract.rs): a byte from `A` to `Z` gains 0x20.
pub(crate) fn pack_lower_at(text: &[u8], start: usize, end: usize) -> u128 {
    const LOW7: u128 = u128::from_le_bytes([0x7F; 16]);
    const HIGH: u128 = u128::from_le_bytes([0x80; 16]);
    // Per byte `v` below 0x80, `v + 0x3F` reaches 0x80 exactly when
    // `v >= b'A'`, and `v + 0x25` when `v > b'Z'`; neither carries.
    const FROM_A: u128 = u128::from_le_bytes([0x3F; 16]);
    const PAST_Z: u128 = u128::from_le_bytes([0x25; 16]);
    let x = pack_at(text, start, end);
    let low = x & LOW7;
    let upper = (low + FROM_A) & !(low + PAST_Z) & !x & HIGH;
    x | (upper >> 2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::XorShift;

    #[test]
    fn packing_in_place_is_packing_byte_by_byte() {
        let mut rng = XorShift(0xC0DE_0016);
        // Every byte in every position, and random words, ASCII or not.
        for len in 1..=PACKED_MAX {
            for b in 0..=255u8 {
                let mut w = vec![b'a'; len];
                w[(rng.next() % len as u64) as usize] = b;
                assert_eq!(pack_lower_at(&w, 0, len), pack_lower(&w), "{w:?}");
            }
            for _ in 0..2_000 {
                let w: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
                assert_eq!(pack_lower_at(&w, 0, len), pack_lower(&w), "{w:?}");
            }
        }
        assert_eq!(pack_lower_at(b"", 0, 0), 0);
        assert_eq!(pack_lower(b""), 0);
        // In place: the bytes around the word, read with it, must not
        // count; the word at every offset of texts from 1 to 40 bytes (the
        // ends and texts shorter than sixteen bytes take the other two
        // paths).
        for text_len in 1..=40usize {
            for _ in 0..200 {
                let text: Vec<u8> = (0..text_len).map(|_| rng.next() as u8).collect();
                let start = (rng.next() % text_len as u64) as usize;
                let end = start + 1 + (rng.next() % (text_len - start) as u64) as usize;
                assert_eq!(
                    pack_lower_at(&text, start, end),
                    pack_lower(&text[start..end]),
                    "{text:?}[{start}..{end}]"
                );
                assert_eq!(
                    pack_at(&text, start, end),
                    pack(&text[start..end]),
                    "{text:?}[{start}..{end}]"
                );
            }
        }
    }

    /// The byte-by-byte definition is what it says: the reference the
    /// faster form is tested against.
    #[test]
    fn pack_lower_lowercases_ascii_letters_only() {
        assert_eq!(pack_lower(b"Ab"), u128::from(b'a') | u128::from(b'b') << 8);
        assert_eq!(pack_lower("É".as_bytes()), 0xC3 | 0x89 << 8);
        assert_eq!(
            pack_lower(b"Z@["),
            u128::from(b'z') | 0x40 << 8 | 0x5B << 16
        );
        assert_eq!(pack_lower(&[b'x'; 20]), pack_lower(&[b'x'; 16]));
        assert_eq!(pack(b"Ab"), u128::from(b'A') | u128::from(b'b') << 8);
    }
}
