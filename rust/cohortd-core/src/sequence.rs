//! `sequence`: users with events e1 < e2 < ... < ek, one per step, all in the
//! window, and `ek - e1 <= within`.

use crate::error::{KernelError, Result};
use crate::parts::{check_lengths, check_parts, sorted_rows, sorted_rows_among};
use rayon::prelude::*;

/// One step's parts: `(users, times)`.
pub type StepParts<'a> = (&'a [&'a [u32]], &'a [&'a [i64]]);

/// True where the user has one event per step in step order with strictly
/// increasing times, all in `[start, end)`, and `ek - e1 <= within`
/// (`within < 0`: no limit).
pub fn sequence(
    steps: &[StepParts<'_>],
    start: i64,
    end: i64,
    within: i64,
    n_users: usize,
) -> Result<Vec<bool>> {
    if steps.is_empty() {
        return Err(KernelError::Argument(
            "sequence needs at least one step".into(),
        ));
    }
    for (users, times) in steps {
        check_parts(users, times, n_users)?;
    }
    let mut out = vec![false; n_users];
    for user in matching_users(steps, start, end, within) {
        out[user as usize] = true;
    }
    Ok(out)
}

/// The sparse `sequence`: sorted ids of the users with a matching chain, in
/// memory proportional to the steps' rows (no array over all users).
pub fn sequence_sparse(
    steps: &[StepParts<'_>],
    start: i64,
    end: i64,
    within: i64,
) -> Result<Vec<u32>> {
    if steps.is_empty() {
        return Err(KernelError::Argument(
            "sequence needs at least one step".into(),
        ));
    }
    for (users, times) in steps {
        check_lengths(users, times)?;
    }
    Ok(matching_users(steps, start, end, within))
}

fn matching_users(steps: &[StepParts<'_>], start: i64, end: i64, within: i64) -> Vec<u32> {
    bucketed_matching_users(steps, start, end, within)
        .unwrap_or_else(|| sorted_matching_users(steps, start, end, within))
}

/// Rows per bucket the bucket width aims at: a bucket's counts and times stay in cache.
const BUCKET_ROWS: u64 = 2048;
/// More ids than this many per row of the rarest step take the sorted path (it costs per
/// row, not per id). Measured (instructions, 1M users): the rarest step at 1 row in 4.4 ids
/// is 9 % cheaper in buckets, at 1 in 63 ids twice as dear.
const SPARSEST: u64 = 8;
const MAX_BUCKET_BITS: u32 = 16;
const MIN_BUCKET_BITS: u32 = 6;

/// Matching users without a merge or a sort of the steps' rows.
///
/// The parts of one event type are sorted by user (a segment's type range), so the id space
/// is cut into buckets of `2^bits` ids and each part's rows of a bucket are found by a
/// galloping search. Within a bucket a counting sort by user (arrays of the bucket's width, in cache)
/// gives every user's times per step; only a user's own short run is sorted when parts
/// interleave in time. Buckets are independent and run on all threads.
///
/// Returns None (the caller takes the sorted path) when a part is not sorted by user at
/// bucket granularity (a row outside its bucket) or the rows are sparse in the id space.
fn bucketed_matching_users(
    steps: &[StepParts<'_>],
    start: i64,
    end: i64,
    within: i64,
) -> Option<Vec<u32>> {
    let total: u64 = steps
        .iter()
        .flat_map(|(u, _)| u.iter())
        .map(|p| p.len() as u64)
        .sum();
    let max_user = steps
        .iter()
        .flat_map(|(u, _)| u.iter().filter_map(|p| p.last()))
        .max()?;
    let span = u64::from(*max_user) + 1;
    let wanted = (span * BUCKET_ROWS).div_ceil(total.max(1));
    let bits = (u64::BITS - wanted.saturating_sub(1).leading_zeros())
        .clamp(MIN_BUCKET_BITS, MAX_BUCKET_BITS);
    if span > SPARSEST * rarest_step(steps).1 {
        // the scan of every id for candidates would outweigh the rarest step's rows (the
        // sorted path's semi-join on them is cheaper then)
        return None;
    }
    in_buckets(steps, bits, *max_user, start, end, within)
}

/// The step with the fewest rows and its row count.
fn rarest_step(steps: &[StepParts<'_>]) -> (usize, u64) {
    let rows = |(u, _): &StepParts<'_>| u.iter().map(|p| p.len() as u64).sum::<u64>();
    (0..steps.len())
        .map(|j| (j, rows(&steps[j])))
        .min_by_key(|&(_, n)| n)
        .unwrap_or((0, 0))
}

/// `bucketed_matching_users` with buckets of `2^bits` ids (`max_user`: the last bucket's).
fn in_buckets(
    steps: &[StepParts<'_>],
    bits: u32,
    max_user: u32,
    start: i64,
    end: i64,
    within: i64,
) -> Option<Vec<u32>> {
    let n_buckets = (max_user >> bits) as usize + 1;
    // Every part's rows cut at each bucket's first id: contiguous slices covering the part
    // whether or not it is sorted (a row in the wrong slice is caught by `Bucket::matches`).
    let bounds: Vec<Vec<Vec<usize>>> = steps
        .par_iter()
        .map(|(users, _)| {
            users
                .iter()
                .map(|u| bucket_bounds(u, bits, n_buckets))
                .collect()
        })
        .collect();
    let rarest = rarest_step(steps).0;
    let found: Option<Vec<Vec<u32>>> = (0..n_buckets)
        .into_par_iter()
        .with_min_len(4)
        .map_init(
            || Bucket::new(steps.len(), 1 << bits),
            |bucket, b| {
                let mut out = Vec::new();
                let ok = bucket.matches(
                    steps,
                    rarest,
                    &bounds,
                    b,
                    bits,
                    (start, end),
                    within,
                    &mut out,
                );
                ok.then_some(out)
            },
        )
        .collect();
    found.map(|v| v.concat())
}

/// `out[b]..out[b + 1]`: the rows of bucket `b` in a part sorted by user (non-decreasing
/// cuts found by galloping from the previous one; `out[0] = 0`, `out[n_buckets] = len`).
fn bucket_bounds(u: &[u32], bits: u32, n_buckets: usize) -> Vec<usize> {
    let mut out = Vec::with_capacity(n_buckets + 1);
    out.push(0);
    let mut pos = 0;
    for b in 1..n_buckets {
        let key = (b as u64) << bits;
        let below = |x: &u32| u64::from(*x) < key;
        let (mut lo, mut step) = (pos, 1);
        while lo + step <= u.len() && below(&u[lo + step - 1]) {
            lo += step;
            step *= 2;
        }
        let hi = (lo + step).min(u.len());
        pos = lo + u[lo..hi].partition_point(below);
        out.push(pos);
    }
    out.push(u.len());
    out
}

/// One thread's scratch for a bucket. The users with a row of the rarest step are the
/// candidates; every step keeps only their rows, counting-sorted by candidate, so the
/// per-id work (one scan of the bucket's ids) is done once whatever the number of steps.
struct Bucket {
    width: usize,
    /// Per step: candidate c's times are `times[j][offsets[j][c]..offsets[j][c + 1]]`.
    offsets: Vec<Vec<u32>>,
    times: Vec<Vec<i64>>,
    /// The candidate number of each id of the bucket (NONE: not a candidate).
    slot: Vec<u32>,
    candidates: Vec<u32>,
    ranges: Vec<(usize, usize)>,
    picks: Vec<usize>,
}

const NONE: u32 = u32::MAX;

impl Bucket {
    fn new(n_steps: usize, width: usize) -> Self {
        Bucket {
            width,
            offsets: vec![Vec::new(); n_steps],
            times: vec![Vec::new(); n_steps],
            slot: vec![NONE; width],
            candidates: Vec::new(),
            ranges: vec![(0, 0); n_steps],
            picks: vec![0; n_steps],
        }
    }

    /// Appends to `out` the matching users of bucket `b`; false when a part's row in this
    /// bucket's slice has an id outside it (the part is not sorted by user).
    #[allow(clippy::too_many_arguments)]
    fn matches(
        &mut self,
        steps: &[StepParts<'_>],
        rarest: usize,
        bounds: &[Vec<Vec<usize>>],
        b: usize,
        bits: u32,
        (start, end): (i64, i64),
        within: i64,
        out: &mut Vec<u32>,
    ) -> bool {
        let base = (b as u32) << bits; // b <= max_user >> bits
        let width = self.width;
        let rows = |j: usize| BucketRows {
            parts: steps[j],
            cuts: &bounds[j],
            b,
        };
        let window = (start, end);
        // The candidates: the ids with a row of the rarest step in the window, numbered in
        // id order (`slot`, all NONE between buckets).
        let mut inside = true;
        rows(rarest).each(|id, time| {
            let local = id.wrapping_sub(base) as usize;
            match self.slot.get_mut(local) {
                Some(slot) if start <= time && time < end => *slot = 0,
                Some(_) => {}
                None => inside = false,
            }
        });
        if !inside {
            return false; // the whole result is dropped (and with it this scratch)
        }
        self.candidates.clear();
        for (k, slot) in self.slot.iter_mut().enumerate() {
            if *slot != NONE {
                *slot = self.candidates.len() as u32;
                self.candidates.push(k as u32);
            }
        }
        let n = self.candidates.len();
        let by_candidate = |local: usize| self.slot[local];
        for j in 0..steps.len() {
            let (off, buf) = (&mut self.offsets[j], &mut self.times[j]);
            if !rows(j).counting_sort(base, width, n, by_candidate, window, off, buf) {
                return false;
            }
        }
        for (c, &local) in self.candidates.iter().enumerate() {
            let present = |j: usize| self.offsets[j][c] < self.offsets[j][c + 1];
            if !(0..steps.len()).all(present) {
                continue;
            }
            for j in 0..steps.len() {
                let (lo, hi) = (self.offsets[j][c] as usize, self.offsets[j][c + 1] as usize);
                let run = &mut self.times[j][lo..hi];
                if !run.windows(2).all(|w| w[0] <= w[1]) {
                    run.sort_unstable(); // parts that interleave in time
                }
                self.ranges[j] = (lo, hi);
            }
            let (ranges, times) = (&self.ranges, &self.times);
            let list = |j: usize| &times[j][ranges[j].0..ranges[j].1];
            if chain_fits(steps.len(), list, within, &mut self.picks) {
                out.push(base + local);
            }
        }
        for &local in &self.candidates {
            self.slot[local as usize] = NONE;
        }
        true
    }
}

/// One step's rows of one bucket: each part's slice `cuts[p][b]..cuts[p][b + 1]`.
struct BucketRows<'a> {
    parts: StepParts<'a>,
    cuts: &'a [Vec<usize>],
    b: usize,
}

impl BucketRows<'_> {
    fn each(&self, mut row: impl FnMut(u32, i64)) {
        let (users, times) = self.parts;
        for ((u, t), cut) in users.iter().zip(times.iter()).zip(self.cuts) {
            let (lo, hi) = (cut[self.b], cut[self.b + 1]);
            for (&id, &time) in u[lo..hi].iter().zip(&t[lo..hi]) {
                row(id, time);
            }
        }
    }

    /// A counting sort of the rows in the window by `key(id - base)` (`NONE`: left out)
    /// into `times`, key k's at `offsets[k]..offsets[k + 1]`; false when an id lies
    /// outside `[base, base + width)`.
    #[allow(clippy::too_many_arguments)]
    fn counting_sort(
        &self,
        base: u32,
        width: usize,
        n_keys: usize,
        key: impl Fn(usize) -> u32,
        (start, end): (i64, i64),
        offsets: &mut Vec<u32>,
        times: &mut Vec<i64>,
    ) -> bool {
        let in_window = |t: i64| start <= t && t < end;
        offsets.clear();
        offsets.resize(n_keys + 2, 0);
        let mut inside = true;
        self.each(|id, time| {
            let local = id.wrapping_sub(base) as usize;
            if local >= width {
                inside = false;
                return;
            }
            let k = key(local);
            if k != NONE && in_window(time) {
                offsets[k as usize + 2] += 1;
            }
        });
        if !inside {
            return false;
        }
        for k in 1..offsets.len() {
            offsets[k] += offsets[k - 1];
        }
        times.clear();
        times.resize(offsets[n_keys + 1] as usize, 0);
        self.each(|id, time| {
            let k = key(id.wrapping_sub(base) as usize);
            if k != NONE && in_window(time) {
                let at = &mut offsets[k as usize + 1];
                times[*at as usize] = time;
                *at += 1;
            }
        });
        true
    }
}

/// The general path: each step's rows gathered and sorted (any part order).
fn sorted_matching_users(steps: &[StepParts<'_>], start: i64, end: i64, within: i64) -> Vec<u32> {
    let in_window = |time: i64| start <= time && time < end;
    // Only the users of the step with the fewest rows can match: the other steps keep just
    // their rows (a semi-join before the sort), so a rare step makes a common one cheap.
    let rows = |(u, _): &StepParts<'_>| u.iter().map(|p| p.len()).sum::<usize>();
    let rarest = (0..steps.len())
        .min_by_key(|&j| rows(&steps[j]))
        .unwrap_or(0);
    let seed = sorted_rows(steps[rarest].0, steps[rarest].1, in_window);
    let mut candidates: Vec<u32> = seed.iter().map(|r| r.0).collect();
    candidates.dedup();
    let sorted: Vec<(Vec<u32>, Vec<i64>)> = steps
        .par_iter()
        .enumerate()
        .map(|(j, &(u, t))| {
            let rows = if j == rarest {
                seed.clone()
            } else {
                sorted_rows_among(u, t, in_window, Some(&candidates))
            };
            rows.into_iter().unzip()
        })
        .collect();

    // Walk the users of step 1 in order; each other step keeps a cursor that
    // only moves forward, so every user's run in every step is found in one pass.
    let mut out = Vec::new();
    let mut cursor = vec![0usize; steps.len()];
    let mut lists: Vec<&[i64]> = Vec::with_capacity(steps.len());
    let mut scratch = vec![0usize; steps.len()];
    let first_users = &sorted[0].0;
    while cursor[0] < first_users.len() {
        let user = first_users[cursor[0]];
        lists.clear();
        for (j, (users, times)) in sorted.iter().enumerate() {
            let lo = advance(users, cursor[j], |u| u < user);
            let hi = advance(users, lo, |u| u == user);
            cursor[j] = hi;
            lists.push(&times[lo..hi]);
        }
        if lists.iter().all(|l| !l.is_empty()) && user_matches(&lists, within, &mut scratch) {
            out.push(user);
        }
    }
    out
}

fn advance(users: &[u32], mut pos: usize, keep: impl Fn(u32) -> bool) -> usize {
    while pos < users.len() && keep(users[pos]) {
        pos += 1;
    }
    pos
}

/// One user's check over each step's sorted times.
///
/// For every candidate e1 (ascending), take for each following step the
/// earliest time strictly after the previous pick: that gives the smallest
/// possible ek for this e1. The picks never move backwards as e1 grows, so
/// the per-step pointers only advance and the whole scan is linear.
pub fn user_matches(lists: &[&[i64]], within: i64, ptr: &mut [usize]) -> bool {
    chain_fits(lists.len(), |j| lists[j], within, ptr)
}

/// `user_matches` over `n` lists given by index (no slice of slices to build).
fn chain_fits<'a>(
    n: usize,
    lists: impl Fn(usize) -> &'a [i64],
    within: i64,
    ptr: &mut [usize],
) -> bool {
    ptr.fill(0);
    for &e1 in lists(0) {
        let mut prev = e1;
        for (j, p) in ptr[..n].iter_mut().enumerate().skip(1) {
            let list = lists(j);
            while *p < list.len() && list[*p] <= prev {
                *p += 1;
            }
            if *p == list.len() {
                return false; // later starts cannot find a pick either
            }
            prev = list[*p];
        }
        // prev >= e1, so the exact difference fits in u64 even at the i64 extremes.
        if within < 0 || prev.abs_diff(e1) <= within as u64 {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_user(lists: &[&[i64]], within: i64) -> bool {
        let users: Vec<Vec<u32>> = lists.iter().map(|l| vec![0u32; l.len()]).collect();
        let user_parts: Vec<[&[u32]; 1]> = users.iter().map(|u| [u.as_slice()]).collect();
        let time_parts: Vec<[&[i64]; 1]> = lists.iter().map(|&l| [l]).collect();
        let steps: Vec<StepParts<'_>> = user_parts
            .iter()
            .zip(&time_parts)
            .map(|(u, t)| (u.as_slice(), t.as_slice()))
            .collect();
        sequence(&steps, i64::MIN, i64::MAX, within, 1).unwrap()[0]
    }

    #[test]
    fn equal_times_never_advance() {
        assert!(!one_user(&[&[5], &[5]], -1));
        assert!(one_user(&[&[5], &[5, 6]], -1));
        // The same event type for both steps: needs two distinct times.
        assert!(!one_user(&[&[3, 3], &[3, 3]], -1));
        assert!(one_user(&[&[3, 4], &[3, 4]], -1));
    }

    #[test]
    fn within_is_inclusive() {
        assert!(one_user(&[&[0], &[10]], 10));
        assert!(!one_user(&[&[0], &[10]], 9));
        assert!(one_user(&[&[7], &[7, 8]], 1));
        assert!(one_user(&[&[7]], 0));
    }

    #[test]
    fn later_start_with_shorter_span_is_found() {
        // From e1 = 0 the picks are 50, 101 (span 101); from e1 = 95: 100, 101 (span 6).
        assert!(one_user(&[&[0, 95], &[50, 100], &[101]], 6));
        assert!(!one_user(&[&[0, 95], &[50, 100], &[101]], 5));
        assert!(one_user(&[&[0, 90], &[91], &[92]], 2));
        assert!(!one_user(&[&[0, 90], &[91], &[92]], 1));
    }

    #[test]
    fn extreme_times_do_not_overflow() {
        assert!(!one_user(&[&[i64::MIN], &[i64::MAX - 1]], i64::MAX - 1));
        assert!(one_user(&[&[i64::MIN], &[i64::MAX - 1]], -1));
        assert!(one_user(&[&[-1], &[i64::MAX - 1]], i64::MAX));
    }

    #[test]
    fn window_and_users() {
        let u1: &[u32] = &[0, 1, 2, 2];
        let t1: &[i64] = &[10, 10, 10, 30];
        let u2: &[u32] = &[0, 1, 2];
        let t2: &[i64] = &[20, 40, 35];
        let steps: [StepParts<'_>; 2] = [(&[u1], &[t1]), (&[u2], &[t2])];
        // user 1's second event is at the (excluded) end, user 2 uses e1 = 30.
        assert_eq!(
            sequence(&steps, 10, 40, 10, 4).unwrap(),
            vec![true, false, true, false]
        );
        assert_eq!(sequence_sparse(&steps, 10, 40, 10).unwrap(), vec![0, 2]);
    }

    #[test]
    fn rare_step_narrows_sorted_and_unsorted_parts() {
        // Step 1 is common (one sorted part, one unsorted), step 2 rare: only users 3 and 9.
        let (u1a, t1a): (&[u32], &[i64]) = (&[1, 3, 3, 5, 9], &[1, 2, 8, 1, 1]);
        let (u1b, t1b): (&[u32], &[i64]) = (&[9, 2, 3, 1], &[7, 1, 1, 1]);
        let (u2, t2): (&[u32], &[i64]) = (&[9, 3], &[8, 5]);
        let steps: [StepParts<'_>; 2] = [(&[u1a, u1b], &[t1a, t1b]), (&[u2], &[t2])];
        assert_eq!(sequence_sparse(&steps, 0, 100, -1).unwrap(), vec![3, 9]);
        assert_eq!(sequence_sparse(&steps, 0, 100, 2).unwrap(), vec![9]);
        let mut dense = vec![false; 10];
        dense[3] = true;
        dense[9] = true;
        assert_eq!(sequence(&steps, 0, 100, -1, 10).unwrap(), dense);
    }

    /// Random steps of `k` parts each, every part sorted by (user, time) unless `shuffle`.
    fn random_steps(
        seed: u64,
        n_steps: usize,
        k: usize,
        users: u32,
        shuffle: bool,
    ) -> Vec<Vec<(Vec<u32>, Vec<i64>)>> {
        let mut x = seed;
        let mut next = |m: u64| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) % m
        };
        (0..n_steps)
            .map(|_| {
                (0..k)
                    .map(|_| {
                        let n = next(400) as usize;
                        let mut rows: Vec<(u32, i64)> = (0..n)
                            .map(|_| (next(u64::from(users)) as u32, next(40) as i64))
                            .collect();
                        if !shuffle {
                            rows.sort();
                        }
                        rows.into_iter().unzip()
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn buckets_agree_with_the_sorted_path() {
        for seed in 0..60u64 {
            let n_steps = 1 + (seed % 3) as usize;
            let users = [50u32, 300, 5000][(seed % 3) as usize];
            let data = random_steps(seed, n_steps, 1 + (seed % 4) as usize, users, seed % 5 == 4);
            let u: Vec<Vec<&[u32]>> = data
                .iter()
                .map(|s| s.iter().map(|p| p.0.as_slice()).collect())
                .collect();
            let t: Vec<Vec<&[i64]>> = data
                .iter()
                .map(|s| s.iter().map(|p| p.1.as_slice()).collect())
                .collect();
            let steps: Vec<StepParts<'_>> = u
                .iter()
                .zip(&t)
                .map(|(u, t)| (u.as_slice(), t.as_slice()))
                .collect();
            for (start, end, within) in [(0, 40, -1), (5, 30, 3), (10, 12, 0)] {
                let want = sorted_matching_users(&steps, start, end, within);
                let got = bucketed_matching_users(&steps, start, end, within);
                if seed % 5 == 4 && steps.iter().any(|s| s.0.iter().any(|p| p.len() > 1)) {
                    assert!(got.is_none() || got.as_ref() == Some(&want), "seed {seed}");
                } else if let Some(got) = got {
                    assert_eq!(
                        got, want,
                        "seed {seed} window {start}..{end} within {within}"
                    );
                }
                assert_eq!(matching_users(&steps, start, end, within), want);
            }
        }
    }

    #[test]
    fn rejects_no_steps() {
        assert!(sequence(&[], 0, 1, -1, 1).is_err());
        assert!(sequence_sparse(&[], 0, 1, -1).is_err());
    }
}
