//! `top_members`: the members of a percentile over an integer metric (counts, active days),
//! chosen in two passes over the dense metric (a histogram, then the members as bits) instead
//! of masks, a gather and a selection.

use crate::bitmap::{check_id_space, IdBits};
use crate::error::{KernelError, Result};

/// Above this many distinct metric values the histogram gives way to a selection.
const HISTOGRAM_MAX: u32 = 1 << 24;

/// Known users with `metric > 0` and `metric >= q`, `q` the `rank`-th largest metric among the
/// known positive ones (every known positive user when `rank` lies past them; none at rank 0).
pub fn top_members(metric: &[u32], known: &[bool], rank: u64) -> Result<IdBits> {
    if metric.len() != known.len() {
        return Err(KernelError::Parts(format!(
            "metric has {} entries but known has {}",
            metric.len(),
            known.len()
        )));
    }
    check_id_space(metric.len())?;
    let q = match rank {
        0 => return Ok(IdBits::new(metric.len())),
        _ => threshold(metric, known, rank),
    };
    Ok(IdBits::from_fn(metric.len(), |i| {
        known[i] & (metric[i] >= q)
    }))
}

/// The `rank`-th largest positive known metric, or 1 when there are fewer (every positive one).
fn threshold(metric: &[u32], known: &[bool], rank: u64) -> u32 {
    let positive = |(&m, &k): (&u32, &bool)| k && m > 0;
    let (mut n, mut max) = (0u64, 0u32);
    for (&m, &k) in metric.iter().zip(known) {
        let take = k && m > 0;
        n += u64::from(take);
        max = max.max(if take { m } else { 0 });
    }
    if rank > n {
        return 1;
    }
    if max < HISTOGRAM_MAX {
        let mut hist = vec![0u64; max as usize + 1];
        for (&m, &k) in metric.iter().zip(known) {
            hist[if k { m as usize } else { 0 }] += 1;
        }
        let mut above = 0u64;
        for v in (1..=max as usize).rev() {
            above += hist[v];
            if above >= rank {
                return v as u32;
            }
        }
        return 1;
    }
    let mut vals: Vec<u32> = metric
        .iter()
        .zip(known)
        .filter(|&p| positive(p))
        .map(|(&m, _)| m)
        .collect();
    let at = vals.len() - rank as usize;
    *vals.select_nth_unstable(at).1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bitmap::roaring_from_bytes;

    fn members(metric: &[u32], known: &[bool], rank: u64) -> Vec<u32> {
        let bytes = top_members(metric, known, rank).unwrap().to_roaring_bytes();
        roaring_from_bytes(&bytes).unwrap().iter().collect()
    }

    /// The definition: sort the known positive metrics descending, take the rank-th.
    fn reference(metric: &[u32], known: &[bool], rank: u64) -> Vec<u32> {
        let mut vals: Vec<u32> = (0..metric.len())
            .filter(|&i| known[i] && metric[i] > 0)
            .map(|i| metric[i])
            .collect();
        if rank == 0 {
            return vec![];
        }
        vals.sort_unstable_by(|a, b| b.cmp(a));
        let q = vals.get(rank as usize - 1).copied().unwrap_or(1);
        (0..metric.len() as u32)
            .filter(|&i| known[i as usize] && metric[i as usize] > 0 && metric[i as usize] >= q)
            .collect()
    }

    #[test]
    fn matches_the_sorted_definition() {
        let mut x: u64 = 11;
        for (n, spread) in [(0usize, 3u64), (1, 1), (50, 4), (1000, 40), (500, 1 << 30)] {
            let mut next = || {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                x >> 33
            };
            let metric: Vec<u32> = (0..n).map(|_| (next() % spread) as u32).collect();
            let known: Vec<bool> = (0..n).map(|_| next() % 5 != 0).collect();
            for rank in [0u64, 1, 2, 7, n as u64 / 3, n as u64, n as u64 + 5] {
                assert_eq!(
                    members(&metric, &known, rank),
                    reference(&metric, &known, rank),
                    "n={n} spread={spread} rank={rank}"
                );
            }
        }
    }

    #[test]
    fn rejects_misaligned_known() {
        assert!(top_members(&[1, 2], &[true], 1).is_err());
    }
}
