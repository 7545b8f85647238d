//! Merge order of segment parts already sorted by (type, user, time), split by time partition.
//!
//! A seal or a merge concatenates segments, each sorted by (type, user, time), and needs
//! the rows sorted by (time partition, type, user, time), ties in input order: every
//! partition becomes one contiguous, sorted piece.  Sorting the concatenation again costs
//! a full sort of packed keys plus a second, stable pass by partition; since every part is
//! already sorted, one stable bucket pass by partition and a k-way merge per partition give
//! the same permutation, the partitions merged on separate threads.

use crate::error::{KernelError, Result};
use rayon::prelude::*;
use std::cmp::Reverse;
use std::collections::binary_heap::PeekMut;
use std::collections::BinaryHeap;

/// More partitions than this (a span of times far beyond any real data) is left to the caller.
const MAX_PARTITIONS: i64 = 1 << 20;

/// Row order over the concatenated parts and the start of each partition's piece.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeOrder {
    /// Indices into the concatenation of the parts, in (partition, type, user, time, input) order.
    pub order: Vec<i64>,
    /// Piece boundaries: `starts[i]..starts[i + 1]` is the i-th non-empty partition.
    pub starts: Vec<i64>,
}

type Key = (u32, u32, i64);

/// The merge order of `parts` (aligned `types`, `users`, `times` slices per part) split by
/// `floor(time / period)`; `None` when some part is not sorted by (type, user, time) or
/// the times span more than `MAX_PARTITIONS` periods (the caller then sorts).
pub fn merge_order(
    types: &[&[u32]],
    users: &[&[u32]],
    times: &[&[i64]],
    period: i64,
) -> Result<Option<MergeOrder>> {
    if types.len() != users.len() || types.len() != times.len() {
        return Err(KernelError::Parts(format!(
            "{} type, {} user and {} time parts",
            types.len(),
            users.len(),
            times.len()
        )));
    }
    for (i, ((y, u), t)) in types.iter().zip(users).zip(times).enumerate() {
        if y.len() != u.len() || y.len() != t.len() {
            return Err(KernelError::Parts(format!(
                "part {i}: {} types, {} users, {} times",
                y.len(),
                u.len(),
                t.len()
            )));
        }
        if y.len() >= u32::MAX as usize {
            return Ok(None);
        }
    }
    if period <= 0 {
        return Err(KernelError::Argument(format!(
            "period must be positive, got {period}"
        )));
    }
    let key = |j: usize, i: usize| -> Key { (types[j][i], users[j][i], times[j][i]) };
    let sorted = (0..types.len())
        .into_par_iter()
        .all(|j| (1..types[j].len()).all(|i| key(j, i - 1) <= key(j, i)));
    if !sorted {
        return Ok(None);
    }
    let partition = |t: i64| t.div_euclid(period);
    let (lo, hi) =
        times
            .iter()
            .flat_map(|t| t.iter())
            .fold((i64::MAX, i64::MIN), |(lo, hi), &t| {
                let p = partition(t);
                (lo.min(p), hi.max(p))
            });
    let total: usize = times.iter().map(|t| t.len()).sum();
    if total == 0 {
        return Ok(Some(MergeOrder {
            order: Vec::new(),
            starts: vec![0],
        }));
    }
    if hi.checked_sub(lo).is_none_or(|span| span >= MAX_PARTITIONS) {
        return Ok(None);
    }
    let n_parts = (hi - lo + 1) as usize;
    // Per part: its rows bucketed by partition, stably (row order kept within a bucket).
    let buckets: Vec<(Vec<usize>, Vec<u32>)> = times
        .par_iter()
        .map(|t| {
            let mut bounds = vec![0usize; n_parts + 1];
            for &x in t.iter() {
                bounds[(partition(x) - lo) as usize + 1] += 1;
            }
            for p in 0..n_parts {
                bounds[p + 1] += bounds[p];
            }
            let mut next = bounds.clone();
            let mut rows = vec![0u32; t.len()];
            for (i, &x) in t.iter().enumerate() {
                let p = (partition(x) - lo) as usize;
                rows[next[p]] = i as u32;
                next[p] += 1;
            }
            (bounds, rows)
        })
        .collect();
    let mut base = Vec::with_capacity(times.len());
    let mut acc = 0i64;
    for t in times {
        base.push(acc);
        acc += t.len() as i64;
    }
    let sizes: Vec<usize> = (0..n_parts)
        .map(|p| buckets.iter().map(|(b, _)| b[p + 1] - b[p]).sum())
        .collect();
    let mut order = vec![0i64; total];
    let mut pieces: Vec<(usize, &mut [i64])> = Vec::with_capacity(n_parts);
    let mut rest = order.as_mut_slice();
    for (p, &size) in sizes.iter().enumerate() {
        let (piece, tail) = rest.split_at_mut(size);
        if size > 0 {
            pieces.push((p, piece));
        }
        rest = tail;
    }
    pieces.into_par_iter().for_each(|(p, out)| {
        let runs: Vec<(usize, &[u32])> = buckets
            .iter()
            .enumerate()
            .map(|(j, (b, rows))| (j, &rows[b[p]..b[p + 1]]))
            .filter(|(_, r)| !r.is_empty())
            .collect();
        merge_runs(&runs, &key, &base, out);
    });
    let mut starts = vec![0i64];
    for &size in sizes.iter().filter(|&&s| s > 0) {
        starts.push(starts.last().unwrap() + size as i64);
    }
    Ok(Some(MergeOrder { order, starts }))
}

/// K-way merge of sorted runs of part rows into `out` (global indices), ties by part.
///
/// A heap of the runs' heads; the run on top is copied out for as long as it stays at
/// or below the next run's head (rows of one user and type come in streaks), and its
/// head is then replaced in place (one sift instead of a pop and a push).
fn merge_runs(
    runs: &[(usize, &[u32])],
    key: &(impl Fn(usize, usize) -> Key + Sync),
    base: &[i64],
    out: &mut [i64],
) {
    if let [(j, rows)] = runs {
        for (o, &r) in out.iter_mut().zip(rows.iter()) {
            *o = base[*j] + r as i64;
        }
        return;
    }
    let packed = |j: usize, row: u32| -> u128 {
        let (y, u, t) = key(j, row as usize);
        (y as u128) << 96 | (u as u128) << 64 | ((t as u64) ^ (1 << 63)) as u128
    };
    let mut heap: BinaryHeap<Reverse<(u128, usize, usize)>> = runs
        .iter()
        .enumerate()
        .map(|(k, (j, rows))| Reverse((packed(*j, rows[0]), k, 0)))
        .collect();
    let mut w = 0;
    while let Some(&Reverse((_, k, mut pos))) = heap.peek() {
        // the smallest head of the other runs: the lesser of the top's two children
        let rest = &heap.as_slice()[1..heap.len().min(3)];
        let next_best = rest.iter().map(|Reverse((key, k2, _))| (*key, *k2)).min();
        let (j, rows) = runs[k];
        loop {
            out[w] = base[j] + rows[pos] as i64;
            w += 1;
            pos += 1;
            if pos == rows.len() || next_best.is_some_and(|best| (packed(j, rows[pos]), k) > best) {
                break;
            }
        }
        let mut top = heap.peek_mut().expect("the heap has the run just copied");
        if pos == rows.len() {
            PeekMut::pop(top);
        } else {
            *top = Reverse((packed(j, rows[pos]), k, pos));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The obvious order: every row's (partition, type, user, time, input position), sorted.
    fn reference(
        types: &[Vec<u32>],
        users: &[Vec<u32>],
        times: &[Vec<i64>],
        period: i64,
    ) -> MergeOrder {
        let mut rows = Vec::new();
        let mut g = 0i64;
        for j in 0..types.len() {
            for i in 0..types[j].len() {
                rows.push((
                    times[j][i].div_euclid(period),
                    types[j][i],
                    users[j][i],
                    times[j][i],
                    g,
                ));
                g += 1;
            }
        }
        rows.sort();
        let order = rows.iter().map(|r| r.4).collect();
        let mut starts = vec![0i64];
        for i in 1..rows.len() + 1 {
            if !rows.is_empty() && (i == rows.len() || rows[i].0 != rows[i - 1].0) {
                starts.push(i as i64);
            }
        }
        MergeOrder { order, starts }
    }

    fn lcg(seed: &mut u64) -> u64 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        *seed >> 33
    }

    #[test]
    fn matches_reference_on_random_sorted_parts() {
        let mut seed = 7u64;
        for case in 0..200 {
            let k = 1 + (lcg(&mut seed) % 6) as usize;
            let (mut ty, mut us, mut ti) = (Vec::new(), Vec::new(), Vec::new());
            for _ in 0..k {
                let n = (lcg(&mut seed) % 40) as usize;
                let mut rows: Vec<Key> = (0..n)
                    .map(|_| {
                        let t = (lcg(&mut seed) % 50) as i64 - 10; // negative times too
                        ((lcg(&mut seed) % 3) as u32, (lcg(&mut seed) % 5) as u32, t)
                    })
                    .collect();
                rows.sort();
                ty.push(rows.iter().map(|r| r.0).collect::<Vec<_>>());
                us.push(rows.iter().map(|r| r.1).collect::<Vec<_>>());
                ti.push(rows.iter().map(|r| r.2).collect::<Vec<_>>());
            }
            let period = 1 + (case % 17) as i64;
            let got = merge_order(
                &ty.iter().map(|v| v.as_slice()).collect::<Vec<_>>(),
                &us.iter().map(|v| v.as_slice()).collect::<Vec<_>>(),
                &ti.iter().map(|v| v.as_slice()).collect::<Vec<_>>(),
                period,
            )
            .unwrap()
            .unwrap();
            assert_eq!(got, reference(&ty, &us, &ti, period), "case {case}");
        }
    }

    #[test]
    fn a_span_of_too_many_periods_is_left_to_the_caller() {
        let got = merge_order(&[&[0, 0]], &[&[0, 1]], &[&[i64::MIN, i64::MAX]], 1).unwrap();
        assert!(got.is_none());
        let one = merge_order(&[&[0, 0]], &[&[0, 1]], &[&[i64::MIN, i64::MAX]], i64::MAX).unwrap();
        assert_eq!(one.unwrap().order, vec![0, 1]);
    }

    #[test]
    fn unsorted_part_is_left_to_the_caller() {
        let got = merge_order(&[&[1, 0]], &[&[0, 0]], &[&[5, 5]], 10).unwrap();
        assert!(got.is_none());
    }

    #[test]
    fn misaligned_parts_are_an_error() {
        assert!(merge_order(&[&[1, 0]], &[&[0]], &[&[5, 5]], 10).is_err());
        assert!(merge_order(&[&[1]], &[&[0]], &[&[5]], 0).is_err());
    }
}
