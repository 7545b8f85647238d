//! Masks to roaring bitmaps and back, in the portable serialization format
//! that pyroaring (CRoaring) reads and writes.

use crate::error::{KernelError, Result};
use roaring::RoaringBitmap;

/// The set of indices where `mask` is non-zero.
pub fn mask_to_roaring<T: Copy + PartialEq + Default>(mask: &[T]) -> Result<RoaringBitmap> {
    if mask.len() as u64 > u64::from(u32::MAX) + 1 {
        return Err(KernelError::OutOfRange(format!(
            "mask of {} entries exceeds the u32 id space",
            mask.len()
        )));
    }
    let zero = T::default();
    let ids = mask
        .iter()
        .enumerate()
        .filter(|(_, &m)| m != zero)
        .map(|(i, _)| i as u32);
    Ok(RoaringBitmap::from_sorted_iter(ids).expect("indices are ascending"))
}

pub fn roaring_to_bytes(bitmap: &RoaringBitmap) -> Vec<u8> {
    let mut out = Vec::with_capacity(bitmap.serialized_size());
    bitmap
        .serialize_into(&mut out)
        .expect("writing to a Vec cannot fail");
    out
}

pub fn roaring_from_bytes(bytes: &[u8]) -> Result<RoaringBitmap> {
    RoaringBitmap::deserialize_from(bytes)
        .map_err(|e| KernelError::Argument(format!("invalid roaring bitmap: {e}")))
}

/// A set of ids `< 64 * words.len()` as one bit per id (bit `i % 64` of word `i / 64`):
/// the output of the dense kernels, written straight into the portable roaring format
/// (no sorted id list, no per-id insert).
pub struct IdBits {
    words: Vec<u64>,
}

/// Words per roaring container (65,536 ids).
const CONTAINER_WORDS: usize = 1024;
/// Above this many ids, a container is a bitset (the portable format's rule).
const ARRAY_MAX: u32 = 4096;
const SERIAL_COOKIE_NO_RUNCONTAINER: u32 = 12346;

impl IdBits {
    /// An empty set able to hold ids `< n_ids`.
    pub fn new(n_ids: usize) -> Self {
        IdBits {
            words: vec![0u64; n_ids.div_ceil(64)],
        }
    }

    /// Number of ids the set can hold.
    pub fn capacity(&self) -> usize {
        self.words.len() * 64
    }

    #[inline]
    pub fn insert(&mut self, id: u32) {
        self.words[id as usize / 64] |= 1u64 << (id % 64);
    }

    /// The bits from a per-id predicate, 64 ids per word.
    pub fn from_fn(n_ids: usize, member: impl Fn(usize) -> bool) -> Self {
        let mut bits = IdBits::new(n_ids);
        for (w, word) in bits.words.iter_mut().enumerate() {
            let base = w * 64;
            let hi = (base + 64).min(n_ids);
            let mut acc = 0u64;
            for i in base..hi {
                acc |= u64::from(member(i)) << (i - base);
            }
            *word = acc;
        }
        bits
    }

    /// The portable roaring serialization (what pyroaring's `BitMap.deserialize` reads).
    pub fn to_roaring_bytes(&self) -> Vec<u8> {
        let chunks: Vec<(u16, u32, &[u64])> = self
            .words
            .chunks(CONTAINER_WORDS)
            .enumerate()
            .map(|(key, words)| {
                let card = words.iter().map(|w| w.count_ones()).sum::<u32>();
                (key as u16, card, words)
            })
            .filter(|&(_, card, _)| card > 0)
            .collect();
        let mut out = Vec::new();
        out.extend_from_slice(&SERIAL_COOKIE_NO_RUNCONTAINER.to_le_bytes());
        out.extend_from_slice(&(chunks.len() as u32).to_le_bytes());
        for &(key, card, _) in &chunks {
            out.extend_from_slice(&key.to_le_bytes());
            out.extend_from_slice(&((card - 1) as u16).to_le_bytes());
        }
        let mut offset = out.len() + 4 * chunks.len();
        for &(_, card, _) in &chunks {
            out.extend_from_slice(&(offset as u32).to_le_bytes());
            offset += if card > ARRAY_MAX {
                8 * CONTAINER_WORDS
            } else {
                2 * card as usize
            };
        }
        for &(_, card, words) in &chunks {
            if card > ARRAY_MAX {
                for w in words {
                    out.extend_from_slice(&w.to_le_bytes());
                }
                // a last container shorter than 65,536 ids is padded with empty words
                out.resize(out.len() + 8 * (CONTAINER_WORDS - words.len()), 0);
            } else {
                for (j, &w) in words.iter().enumerate() {
                    let mut w = w;
                    while w != 0 {
                        let low = (j * 64) as u16 + w.trailing_zeros() as u16;
                        out.extend_from_slice(&low.to_le_bytes());
                        w &= w - 1;
                    }
                }
            }
        }
        out
    }
}

/// The ids where `mask` and `known` are both true, serialized (a dense condition's members).
pub fn mask_and_known_bytes(mask: &[bool], known: &[bool]) -> Result<Vec<u8>> {
    if mask.len() != known.len() {
        return Err(KernelError::Parts(format!(
            "mask has {} entries but known has {}",
            mask.len(),
            known.len()
        )));
    }
    check_id_space(mask.len())?;
    Ok(IdBits::from_fn(mask.len(), |i| mask[i] & known[i]).to_roaring_bytes())
}

pub(crate) fn check_id_space(n: usize) -> Result<()> {
    if n as u64 > u64::from(u32::MAX) + 1 {
        return Err(KernelError::OutOfRange(format!(
            "{n} ids exceed the u32 id space"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids_of(bytes: &[u8]) -> Vec<u32> {
        roaring_from_bytes(bytes).unwrap().iter().collect()
    }

    #[test]
    fn id_bits_serialize_as_roaring_does() {
        // array and bitset containers, a short last container, empty containers skipped
        for n in [0usize, 1, 63, 64, 65, 70_000, 200_000, 131_072] {
            let member =
                |i: usize| i.is_multiple_of(7) || (70_000..140_000).contains(&i) || i == n - 1;
            let bits = IdBits::from_fn(n, member);
            let want: Vec<u32> = (0..n).filter(|&i| member(i)).map(|i| i as u32).collect();
            let bytes = bits.to_roaring_bytes();
            assert_eq!(ids_of(&bytes), want, "n={n}");
            let rs = RoaringBitmap::from_sorted_iter(want.iter().copied()).unwrap();
            assert_eq!(bytes, roaring_to_bytes(&rs), "n={n}");
        }
        let mut sparse = IdBits::new(10_000_000);
        for id in [5u32, 4_000_000, 9_999_999] {
            sparse.insert(id);
        }
        assert_eq!(
            ids_of(&sparse.to_roaring_bytes()),
            vec![5, 4_000_000, 9_999_999]
        );
    }

    #[test]
    fn mask_and_known() {
        let mask = [true, true, false, true];
        let known = [true, false, true, true];
        assert_eq!(
            ids_of(&mask_and_known_bytes(&mask, &known).unwrap()),
            vec![0, 3]
        );
        assert!(mask_and_known_bytes(&mask, &known[..3]).is_err());
    }

    #[test]
    fn round_trip() {
        let mask: Vec<u8> = (0..200_000u32)
            .map(|i| u8::from(i % 3 == 0 || (70_000..140_000).contains(&i)))
            .collect();
        let bm = mask_to_roaring(&mask).unwrap();
        let back = roaring_from_bytes(&roaring_to_bytes(&bm)).unwrap();
        let want: Vec<u32> = (0..200_000u32).filter(|&i| mask[i as usize] != 0).collect();
        assert_eq!(back.iter().collect::<Vec<_>>(), want);
    }

    #[test]
    fn bool_mask_and_garbage() {
        let bm = mask_to_roaring(&[false, true, true, false]).unwrap();
        assert_eq!(bm.iter().collect::<Vec<_>>(), vec![1, 2]);
        assert!(roaring_from_bytes(&[1, 2, 3]).is_err());
    }
}
