//! String → dense-id dictionary (users, event types, string property values).
//!
//! Ids are assigned in order of first appearance. The strings live in one
//! contiguous UTF-8 arena with `u64` end offsets (Arrow's layout), and an
//! open-addressing (linear probing) table of `u32` ids finds a string's id:
//! about 8 B per entry for the offset plus 5-11 B for the table, and no
//! allocation per string. `forget` (user deletion) zeroes the old bytes in
//! the arena and keeps the placeholder in a small side map (deletions are rare).

use crate::KernelError;
use std::collections::HashMap;

const EMPTY: u32 = u32::MAX;

/// String → id table; see the module docs for the layout.
#[derive(Debug, Clone, Default)]
pub struct StringTable {
    data: Vec<u8>,
    /// `offsets[i]..offsets[i + 1]` is entry `i` in `data` (`offsets[0] == 0`).
    offsets: Vec<u64>,
    /// Ids, `EMPTY` where free; a power-of-two length (or zero).
    slots: Vec<u32>,
    /// Occupied slots (an entry whose string another id already holds has none).
    used: usize,
    /// Placeholders of forgotten entries (their arena bytes are zeroed).
    forgotten: HashMap<u32, Box<[u8]>>,
}

/// 64-bit hash of a byte string: word-at-a-time multiply-rotate, then a
/// murmur3 finaliser so the low bits (the slot index) are well mixed.
fn hash(bytes: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h = bytes.len() as u64;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes(c.try_into().expect("8 bytes"));
        h = (h.rotate_left(5) ^ w).wrapping_mul(K);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut buf = [0u8; 8];
        buf[..rest.len()].copy_from_slice(rest);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(buf)).wrapping_mul(K);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    h ^= h >> 33;
    h = h.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    h ^ (h >> 33)
}

/// Arrow-style offsets (`i32` for string, `i64` for large_string) of `n` values.
pub trait Offset: Copy + Send + Sync {
    fn to_usize(self) -> Option<usize>;
}
impl Offset for i32 {
    fn to_usize(self) -> Option<usize> {
        usize::try_from(self).ok()
    }
}
impl Offset for i64 {
    fn to_usize(self) -> Option<usize> {
        usize::try_from(self).ok()
    }
}

/// Checks Arrow string parts (offsets non-decreasing, within `data`) and
/// yields each value's bytes.
fn arrow_values<'a, O: Offset>(
    offsets: &'a [O],
    data: &'a [u8],
) -> Result<impl Iterator<Item = &'a [u8]> + 'a, KernelError> {
    let bad = || KernelError::Parts("string offsets are not non-decreasing within the data".into());
    let mut prev = None;
    for &o in offsets {
        let o = o.to_usize().ok_or_else(bad)?;
        if o > data.len() || prev.is_some_and(|p| o < p) {
            return Err(bad());
        }
        prev = Some(o);
    }
    Ok(offsets.windows(2).map(move |w| {
        let (a, b) = (w[0].to_usize().unwrap_or(0), w[1].to_usize().unwrap_or(0));
        &data[a..b]
    }))
}

impl StringTable {
    pub fn new() -> Self {
        StringTable {
            offsets: vec![0],
            ..Default::default()
        }
    }

    /// Number of entries (ids `0..len`).
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes held on the heap (arena, offsets, table, placeholders), by capacity.
    pub fn heap_bytes(&self) -> usize {
        self.data.capacity()
            + self.offsets.capacity() * 8
            + self.slots.capacity() * 4
            + self.forgotten.values().map(|v| v.len() + 32).sum::<usize>()
    }

    /// The bytes of entry `id` (its placeholder if forgotten).
    pub fn value(&self, id: u32) -> Option<&[u8]> {
        let i = id as usize;
        if i >= self.len() {
            return None;
        }
        if !self.forgotten.is_empty() {
            if let Some(p) = self.forgotten.get(&id) {
                return Some(p);
            }
        }
        Some(&self.data[self.offsets[i] as usize..self.offsets[i + 1] as usize])
    }

    fn bytes(&self, id: u32) -> &[u8] {
        self.value(id).expect("slot ids are entries")
    }

    /// The slot holding `key`, or the free slot where it would go.
    fn find(&self, key: &[u8], h: u64) -> (usize, bool) {
        let mask = self.slots.len() - 1;
        let mut s = h as usize & mask;
        loop {
            let id = self.slots[s];
            if id == EMPTY {
                return (s, false);
            }
            if self.bytes(id) == key {
                return (s, true);
            }
            s = (s + 1) & mask;
        }
    }

    pub fn get(&self, key: &[u8]) -> Option<u32> {
        if self.slots.is_empty() {
            return None;
        }
        let (s, found) = self.find(key, hash(key));
        found.then(|| self.slots[s])
    }

    /// Room for `extra` more slot entries at a load of at most 3/4.
    fn reserve(&mut self, extra: usize) {
        let need = self.used + extra;
        if need * 4 <= self.slots.len() * 3 {
            return;
        }
        let mut cap = self.slots.len().max(16);
        while need * 4 > cap * 3 {
            cap *= 2;
        }
        let old = std::mem::replace(&mut self.slots, vec![EMPTY; cap]);
        let mask = cap - 1;
        for id in old.into_iter().filter(|&id| id != EMPTY) {
            let mut s = hash(self.bytes(id)) as usize & mask;
            while self.slots[s] != EMPTY {
                s = (s + 1) & mask;
            }
            self.slots[s] = id;
        }
    }

    fn push(&mut self, key: &[u8]) -> Result<u32, KernelError> {
        let id = self.len();
        if id >= EMPTY as usize {
            return Err(KernelError::OutOfRange(
                "string dictionary is full (2^32 - 1 entries)".into(),
            ));
        }
        self.data.extend_from_slice(key);
        self.offsets.push(self.data.len() as u64);
        Ok(id as u32)
    }

    /// The id of `key`, adding it as a new entry when absent (first appearance wins).
    pub fn insert(&mut self, key: &[u8]) -> Result<u32, KernelError> {
        self.reserve(1);
        let (s, found) = self.find(key, hash(key));
        if found {
            return Ok(self.slots[s]);
        }
        let id = self.push(key)?;
        self.slots[s] = id;
        self.used += 1;
        Ok(id)
    }

    /// Appends `key` as a new entry even when present; the table then maps it
    /// to the new id (how a saved dictionary loads: the last duplicate wins).
    pub fn append(&mut self, key: &[u8]) -> Result<u32, KernelError> {
        self.reserve(1);
        let (s, found) = self.find(key, hash(key));
        let id = self.push(key)?;
        if !found {
            self.used += 1;
        }
        self.slots[s] = id;
        Ok(id)
    }

    /// Ids of Arrow string values, `-1` for those not in the dictionary.
    pub fn lookup_arrow<O: Offset>(
        &self,
        offsets: &[O],
        data: &[u8],
    ) -> Result<Vec<i64>, KernelError> {
        Ok(arrow_values(offsets, data)?
            .map(|v| self.get(v).map_or(-1, i64::from))
            .collect())
    }

    /// Ids of Arrow string values, adding the new ones in order of appearance.
    pub fn encode_arrow<O: Offset>(
        &mut self,
        offsets: &[O],
        data: &[u8],
    ) -> Result<Vec<u32>, KernelError> {
        let values = arrow_values(offsets, data)?;
        let n = offsets.len().saturating_sub(1);
        let mut out = Vec::with_capacity(n);
        for v in values {
            out.push(self.insert(v)?);
        }
        Ok(out)
    }

    /// Appends every Arrow string value as its own entry (loading a saved dictionary).
    pub fn append_arrow<O: Offset>(
        &mut self,
        offsets: &[O],
        data: &[u8],
    ) -> Result<(), KernelError> {
        let n = offsets.len().saturating_sub(1);
        let first = offsets.first().and_then(|o| o.to_usize()).unwrap_or(0);
        let last = offsets.last().and_then(|o| o.to_usize()).unwrap_or(0);
        self.data.reserve_exact(last.saturating_sub(first));
        self.offsets.reserve_exact(n);
        self.reserve(n);
        for v in arrow_values(offsets, data)? {
            self.append(v)?;
        }
        Ok(())
    }

    /// Removes the slot `s` (backward-shift deletion keeps probe chains whole).
    fn remove_slot(&mut self, mut s: usize) {
        let mask = self.slots.len() - 1;
        let mut j = s;
        loop {
            j = (j + 1) & mask;
            let id = self.slots[j];
            if id == EMPTY {
                break;
            }
            let home = hash(self.bytes(id)) as usize & mask;
            // the entry at j may move to s unless its home lies cyclically in (s, j]
            let stays = if s <= j {
                s < home && home <= j
            } else {
                s < home || home <= j
            };
            if !stays {
                self.slots[s] = id;
                s = j;
            }
        }
        self.slots[s] = EMPTY;
        self.used -= 1;
    }

    /// Replaces entry `id` by `placeholder` (user deletion): its string is
    /// gone (zeroed in the arena), its id stays. The table forgets the old
    /// string if it pointed at `id`, and maps the placeholder to `id` unless
    /// another id already holds it.
    pub fn forget(&mut self, id: u32, placeholder: &[u8]) -> Result<(), KernelError> {
        if id as usize >= self.len() {
            return Err(KernelError::OutOfRange(format!(
                "id {id} is not in a dictionary of {} entries",
                self.len()
            )));
        }
        let old = self.bytes(id).to_vec();
        let (s, found) = self.find(&old, hash(&old));
        if found && self.slots[s] == id {
            self.remove_slot(s);
        }
        let i = id as usize;
        let (a, b) = (self.offsets[i] as usize, self.offsets[i + 1] as usize);
        self.data[a..b].fill(0);
        self.forgotten.insert(id, placeholder.into());
        self.reserve(1);
        let (s, found) = self.find(placeholder, hash(placeholder));
        if !found {
            self.slots[s] = id;
            self.used += 1;
        }
        Ok(())
    }

    /// Arrow string parts (`i32` offsets from 0, data) of the given ids.
    pub fn take(
        &self,
        ids: impl ExactSizeIterator<Item = u32>,
    ) -> Result<(Vec<i32>, Vec<u8>), KernelError> {
        let mut offsets = Vec::with_capacity(ids.len() + 1);
        offsets.push(0i32);
        let mut data = Vec::new();
        for id in ids {
            let v = self.value(id).ok_or_else(|| {
                KernelError::OutOfRange(format!(
                    "id {id} is not in a dictionary of {} entries",
                    self.len()
                ))
            })?;
            data.extend_from_slice(v);
            let end = i32::try_from(data.len()).map_err(|_| {
                KernelError::OutOfRange("decoded strings exceed 2 GiB (Arrow string)".into())
            })?;
            offsets.push(end);
        }
        Ok((offsets, data))
    }

    /// Arrow string parts of entries `start..end` (a copy of the arena's range
    /// when nothing in it was forgotten).
    pub fn range(&self, start: usize, end: usize) -> Result<(Vec<i32>, Vec<u8>), KernelError> {
        let end = end.min(self.len());
        let start = start.min(end);
        if !self.forgotten.is_empty() {
            return self.take((start as u32..end as u32).collect::<Vec<_>>().into_iter());
        }
        let base = self.offsets[start];
        let data = self.data[base as usize..self.offsets[end] as usize].to_vec();
        if data.len() > i32::MAX as usize {
            return Err(KernelError::OutOfRange(
                "strings exceed 2 GiB (Arrow string)".into(),
            ));
        }
        let offsets = self.offsets[start..=end]
            .iter()
            .map(|&o| (o - base) as i32)
            .collect();
        Ok((offsets, data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_appearance_ids_and_forget() {
        let mut t = StringTable::new();
        assert_eq!(t.insert(b"a").unwrap(), 0);
        assert_eq!(t.insert(b"b").unwrap(), 1);
        assert_eq!(t.insert(b"a").unwrap(), 0);
        for i in 0..1000u32 {
            t.insert(format!("u{i}").as_bytes()).unwrap();
        }
        assert_eq!(t.get(b"u999"), Some(1001));
        t.forget(0, b"$deleted:0").unwrap();
        assert_eq!(t.get(b"a"), None);
        assert_eq!(t.get(b"$deleted:0"), Some(0));
        assert_eq!(t.value(0), Some(&b"$deleted:0"[..]));
        for i in 0..1000u32 {
            assert_eq!(t.get(format!("u{i}").as_bytes()), Some(i + 2));
        }
        let (o, d) = t.range(0, 2).unwrap();
        assert_eq!(o, vec![0, 10, 11]);
        assert_eq!(d, b"$deleted:0b".to_vec());
    }

    #[test]
    fn arrow_parts() {
        let mut t = StringTable::new();
        let ids = t.encode_arrow(&[0i32, 1, 2, 3], b"xyx").unwrap();
        assert_eq!(ids, vec![0, 1, 0]);
        assert_eq!(t.lookup_arrow(&[0i64, 1, 2], b"yz").unwrap(), vec![1, -1]);
        assert!(t.encode_arrow(&[0i32, 5], b"ab").is_err());
        let mut u = StringTable::new();
        u.append_arrow(&[0i32, 1, 2, 3], b"aba").unwrap();
        assert_eq!((u.len(), u.get(b"a")), (3, Some(2)));
    }
}
