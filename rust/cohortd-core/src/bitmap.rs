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

#[cfg(test)]
mod tests {
    use super::*;

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
