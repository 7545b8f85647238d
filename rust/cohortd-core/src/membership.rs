//! Membership checks answered straight from serialized roaring bitmaps.
//!
//! A batched membership check asks a few thousand (user, cohort) questions of
//! cohorts whose members change on every ingest and at every window edge.
//! Decoding each cohort's bitmap (or building a dense mask) per version costs
//! far more than the questions themselves, so the questions are answered from
//! the portable serialization (what pyroaring's `serialize` writes): the
//! container header is read once per batch, then each id is a binary search
//! among the containers' keys and one lookup inside one container.
//!
//! Format (RoaringFormatSpec): a cookie, optional run flags, `(key, cardinality - 1)`
//! pairs, optional container offsets, then the containers: sorted `u16` arrays
//! (cardinality <= 4096), 8 KiB bitsets, or runs `(start, length - 1)`.

use crate::error::{KernelError, Result};

const SERIAL_COOKIE_NO_RUNCONTAINER: u32 = 12346;
const SERIAL_COOKIE: u32 = 12347;
const NO_OFFSET_THRESHOLD: usize = 4;
const ARRAY_LIMIT: usize = 4096;
const BITSET_BYTES: usize = 8192;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Array,
    Bitset,
    Run,
}

#[derive(Clone, Copy, Debug)]
struct Container {
    key: u16,
    kind: Kind,
    /// Entries (array), runs (run) or 1024 words (bitset).
    len: usize,
    /// Where the container's entries start in the bytes.
    start: usize,
}

/// One serialized bitmap with its container directory read (no container decoded).
#[derive(Debug)]
pub struct SerializedBitmap<'a> {
    bytes: &'a [u8],
    containers: Vec<Container>,
}

fn bad(msg: impl Into<String>) -> KernelError {
    KernelError::Argument(format!("invalid roaring bitmap: {}", msg.into()))
}

fn u16_at(bytes: &[u8], at: usize) -> Result<u16> {
    bytes
        .get(at..at + 2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
        .ok_or_else(|| bad(format!("truncated at byte {at}")))
}

fn u32_at(bytes: &[u8], at: usize) -> Result<u32> {
    bytes
        .get(at..at + 4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or_else(|| bad(format!("truncated at byte {at}")))
}

impl<'a> SerializedBitmap<'a> {
    /// Reads the header and checks that every container lies inside `bytes`.
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        let cookie = u32_at(bytes, 0)?;
        let (size, run_flags, mut pos) = if cookie & 0xFFFF == SERIAL_COOKIE {
            let size = (cookie >> 16) as usize + 1;
            let flags = bytes
                .get(4..4 + size.div_ceil(8))
                .ok_or_else(|| bad("truncated run flags"))?;
            (size, Some(flags), 4 + size.div_ceil(8))
        } else if cookie == SERIAL_COOKIE_NO_RUNCONTAINER {
            (u32_at(bytes, 4)? as usize, None, 8)
        } else {
            return Err(bad(format!("unknown cookie {cookie}")));
        };
        if size > 1 << 16 {
            return Err(bad(format!("{size} containers")));
        }
        let header = pos;
        pos += 4 * size;
        let has_offsets = run_flags.is_none() || size >= NO_OFFSET_THRESHOLD;
        let offsets = pos;
        if has_offsets {
            pos += 4 * size;
        }
        let mut containers = Vec::with_capacity(size);
        let mut previous: Option<u16> = None;
        for i in 0..size {
            let key = u16_at(bytes, header + 4 * i)?;
            if previous.is_some_and(|p| p >= key) {
                return Err(bad("container keys are not ascending"));
            }
            previous = Some(key);
            let cardinality = u16_at(bytes, header + 4 * i + 2)? as usize + 1;
            let is_run = run_flags.is_some_and(|f| f[i / 8] & (1 << (i % 8)) != 0);
            let at = if has_offsets {
                u32_at(bytes, offsets + 4 * i)? as usize
            } else {
                pos
            };
            let (kind, len, start, bytes_len) = if is_run {
                let runs = u16_at(bytes, at)? as usize;
                (Kind::Run, runs, at + 2, 2 + 4 * runs)
            } else if cardinality <= ARRAY_LIMIT {
                (Kind::Array, cardinality, at, 2 * cardinality)
            } else {
                (Kind::Bitset, BITSET_BYTES / 8, at, BITSET_BYTES)
            };
            if at + bytes_len > bytes.len() {
                return Err(bad(format!("container {i} runs past the end")));
            }
            containers.push(Container {
                key,
                kind,
                len,
                start,
            });
            pos = at + bytes_len;
        }
        Ok(Self { bytes, containers })
    }

    /// Number of containers (one per 65,536 ids that hold a member).
    pub fn containers(&self) -> usize {
        self.containers.len()
    }

    fn entry(&self, c: &Container, i: usize, width: usize) -> u16 {
        let at = c.start + width * i;
        u16::from_le_bytes([self.bytes[at], self.bytes[at + 1]])
    }

    /// Whether `id` is a member.
    pub fn contains(&self, id: u32) -> bool {
        let (key, low) = ((id >> 16) as u16, id as u16);
        let Ok(i) = self.containers.binary_search_by_key(&key, |c| c.key) else {
            return false;
        };
        let c = &self.containers[i];
        match c.kind {
            Kind::Bitset => {
                // little-endian u64 words: bit `low` is bit `low % 8` of byte `low / 8`
                self.bytes[c.start + low as usize / 8] & (1 << (low % 8)) != 0
            }
            Kind::Array => {
                let (mut lo, mut hi) = (0, c.len);
                while lo < hi {
                    let mid = (lo + hi) / 2;
                    match self.entry(c, mid, 2).cmp(&low) {
                        std::cmp::Ordering::Less => lo = mid + 1,
                        std::cmp::Ordering::Greater => hi = mid,
                        std::cmp::Ordering::Equal => return true,
                    }
                }
                false
            }
            Kind::Run => {
                // the last run starting at or before `low`
                let (mut lo, mut hi) = (0, c.len);
                while lo < hi {
                    let mid = (lo + hi) / 2;
                    if self.entry(c, mid, 4) <= low {
                        lo = mid + 1;
                    } else {
                        hi = mid;
                    }
                }
                if lo == 0 {
                    return false;
                }
                let run = lo - 1;
                let start = self.entry(c, run, 4) as u32;
                let at = c.start + 4 * run + 2;
                let length = u16::from_le_bytes([self.bytes[at], self.bytes[at + 1]]) as u32;
                (low as u32) <= start + length
            }
        }
    }
}

/// A serialized bitmap as one flat bitset over ids `0..65,536 * (last key + 1)`: bit `id % 8` of
/// byte `id / 8` (what [`contains_flat`] reads: one byte read per check instead of a binary
/// search among a container's entries).  Built once per members version; `None` when it would
/// take more than `max_bytes` (ids that far out stay with [`contains_matrix`]).
pub fn flat_bitset(bitmap: &[u8], max_bytes: usize) -> Result<Option<Vec<u8>>> {
    let parsed = SerializedBitmap::parse(bitmap)?;
    let Some(last) = parsed.containers.last() else {
        return Ok(Some(Vec::new()));
    };
    let len = (last.key as usize + 1) * BITSET_BYTES;
    if len > max_bytes {
        return Ok(None);
    }
    let mut out = vec![0u8; len];
    for c in &parsed.containers {
        let base = c.key as usize * BITSET_BYTES;
        match c.kind {
            Kind::Bitset => out[base..base + BITSET_BYTES]
                .copy_from_slice(&parsed.bytes[c.start..c.start + BITSET_BYTES]),
            Kind::Array => {
                for i in 0..c.len {
                    let low = parsed.entry(c, i, 2) as usize;
                    out[base + low / 8] |= 1 << (low % 8);
                }
            }
            Kind::Run => {
                for r in 0..c.len {
                    let start = parsed.entry(c, r, 4) as usize;
                    let at = c.start + 4 * r + 2;
                    let length =
                        u16::from_le_bytes([parsed.bytes[at], parsed.bytes[at + 1]]) as usize;
                    for low in start..=(start + length).min(65_535) {
                        out[base + low / 8] |= 1 << (low % 8);
                    }
                }
            }
        }
    }
    Ok(Some(out))
}

/// [`contains_matrix`] over flat bitsets (from [`flat_bitset`]): ids past a bitset's end, and
/// ids outside `0..=u32::MAX`, are in none.
pub fn contains_flat(bitsets: &[&[u8]], ids: &[i64]) -> Vec<u8> {
    let k = bitsets.len();
    let mut out = vec![0u8; ids.len() * k];
    for (i, &id) in ids.iter().enumerate() {
        let Ok(id) = u32::try_from(id) else { continue };
        let (byte, bit) = (id as usize / 8, id % 8);
        let row = &mut out[i * k..(i + 1) * k];
        for (cell, bits) in row.iter_mut().zip(bitsets) {
            *cell = bits.get(byte).map_or(0, |b| (b >> bit) & 1);
        }
    }
    out
}

/// Row-major membership matrix: `out[i * k + j]` is 1 when `ids[i]` is in bitmap `j`.
///
/// Ids outside `0..=u32::MAX` (e.g. -1 for users never seen) are in none.
pub fn contains_matrix(bitmaps: &[&[u8]], ids: &[i64]) -> Result<Vec<u8>> {
    let parsed = bitmaps
        .iter()
        .map(|b| SerializedBitmap::parse(b))
        .collect::<Result<Vec<_>>>()?;
    let k = parsed.len();
    let mut out = vec![0u8; ids.len() * k];
    // Ids in ascending order, one bitmap at a time: consecutive lookups land in the same or the
    // next container and share the top of their binary searches (fewer cache misses).
    let mut order: Vec<(u32, usize)> = ids
        .iter()
        .enumerate()
        .filter_map(|(i, &id)| u32::try_from(id).ok().map(|id| (id, i)))
        .collect();
    order.sort_unstable();
    for (j, bitmap) in parsed.iter().enumerate() {
        for &(id, i) in &order {
            out[i * k + j] = u8::from(bitmap.contains(id));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bitmap::roaring_to_bytes;
    use roaring::RoaringBitmap;

    fn check(members: &[u32], probes: &[u32]) {
        let bitmap: RoaringBitmap = members.iter().copied().collect();
        let bytes = roaring_to_bytes(&bitmap);
        let parsed = SerializedBitmap::parse(&bytes).unwrap();
        for &p in probes.iter().chain(members) {
            assert_eq!(parsed.contains(p), bitmap.contains(p), "id {p}");
        }
    }

    #[test]
    fn arrays_and_bitsets_agree_with_roaring() {
        let sparse: Vec<u32> = (0..3000).map(|i| i * 7 + (i % 3) * 65_536).collect();
        let dense: Vec<u32> = (0..200_000).filter(|i| i % 3 != 0).collect();
        let probes: Vec<u32> = (0..300_000).step_by(5).chain([u32::MAX, 1 << 31]).collect();
        check(&sparse, &probes);
        check(&dense, &probes);
        check(&[u32::MAX, 0], &probes);
        check(&[], &probes);
    }

    #[test]
    fn run_containers_with_and_without_offsets() {
        // Hand-written run format: cookie 12347 with (size - 1) << 16, run flags, header, [offsets], runs.
        fn runs(containers: &[(u16, &[(u16, u16)])]) -> Vec<u8> {
            let size = containers.len();
            let mut out = (SERIAL_COOKIE | ((size as u32 - 1) << 16))
                .to_le_bytes()
                .to_vec();
            out.extend(vec![0xFF; size.div_ceil(8)]);
            for (key, rs) in containers {
                let card: u32 = rs.iter().map(|&(_, l)| l as u32 + 1).sum();
                out.extend(key.to_le_bytes());
                out.extend(((card - 1) as u16).to_le_bytes());
            }
            let mut at = out.len()
                + if size >= NO_OFFSET_THRESHOLD {
                    4 * size
                } else {
                    0
                };
            if size >= NO_OFFSET_THRESHOLD {
                for (_, rs) in containers {
                    out.extend((at as u32).to_le_bytes());
                    at += 2 + 4 * rs.len();
                }
            }
            for (_, rs) in containers {
                out.extend((rs.len() as u16).to_le_bytes());
                for &(s, l) in *rs {
                    out.extend(s.to_le_bytes());
                    out.extend(l.to_le_bytes());
                }
            }
            out
        }
        let runs_a: &[(u16, u16)] = &[(0, 9), (100, 0), (65_000, 535)];
        let runs_b: &[(u16, u16)] = &[(5, 5)];
        for containers in [
            vec![(0u16, runs_a), (3, runs_b)],
            vec![(0, runs_a), (1, runs_b), (2, runs_b), (9, runs_a)],
        ] {
            let bytes = runs(&containers);
            let expected: RoaringBitmap = containers
                .iter()
                .flat_map(|(key, rs)| {
                    rs.iter().flat_map(move |&(s, l)| {
                        (s as u32..=s as u32 + l as u32).map(move |low| ((*key as u32) << 16) | low)
                    })
                })
                .collect();
            assert_eq!(
                RoaringBitmap::deserialize_from(&bytes[..]).unwrap(),
                expected
            );
            let parsed = SerializedBitmap::parse(&bytes).unwrap();
            let flat = flat_bitset(&bytes, usize::MAX).unwrap().unwrap();
            let ids: Vec<i64> = (0..(10i64 << 16)).collect();
            let in_flat = contains_flat(&[&flat], &ids);
            for id in 0..(10 << 16) {
                assert_eq!(parsed.contains(id), expected.contains(id), "id {id}");
                assert_eq!(
                    in_flat[id as usize] == 1,
                    expected.contains(id),
                    "flat id {id}"
                );
            }
        }
    }

    #[test]
    fn matrix_is_row_major_and_unknown_ids_are_out() {
        let a = roaring_to_bytes(&[1u32, 5].into_iter().collect());
        let b = roaring_to_bytes(&[5u32, 70_000].into_iter().collect());
        let out = contains_matrix(&[&a, &b], &[5, -1, 70_000, 1, 1 << 40]).unwrap();
        assert_eq!(out, vec![1, 1, 0, 0, 0, 1, 1, 0, 0, 0]);
        assert!(contains_matrix(&[], &[1, 2]).unwrap().is_empty());
    }

    #[test]
    fn flat_bitsets_agree_with_roaring_and_respect_the_cap() {
        let sparse: Vec<u32> = (0..3000).map(|i| i * 7 + (i % 3) * 65_536).collect();
        let dense: Vec<u32> = (0..200_000).filter(|i| i % 3 != 0).collect();
        let probes: Vec<i64> = (-2..300_000).step_by(3).chain([1 << 31, 1 << 40]).collect();
        for members in [
            &sparse[..],
            &dense[..],
            &[0u32, 65_535, 65_536][..],
            &[][..],
        ] {
            let bitmap: RoaringBitmap = members.iter().copied().collect();
            let bytes = roaring_to_bytes(&bitmap);
            let flat = flat_bitset(&bytes, usize::MAX).unwrap().unwrap();
            let got = contains_flat(&[&flat], &probes);
            let want = contains_matrix(&[&bytes], &probes).unwrap();
            assert_eq!(got, want);
        }
        let far = roaring_to_bytes(&[5u32, 1 << 30].into_iter().collect());
        assert!(flat_bitset(&far, 1 << 20).unwrap().is_none());
        assert!(flat_bitset(&[1, 2, 3], usize::MAX).is_err());
    }

    #[test]
    fn damaged_bytes_are_refused_not_read_past() {
        let good = roaring_to_bytes(&(0..10_000u32).collect());
        for cut in [0, 3, 7, 12, good.len() - 1] {
            assert!(
                SerializedBitmap::parse(&good[..cut]).is_err(),
                "cut at {cut}"
            );
        }
        assert!(SerializedBitmap::parse(&[1, 2, 3, 4, 0, 0, 0, 0]).is_err());
    }
}
