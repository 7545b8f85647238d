//! `distinct` and `distinct_buckets`: number of distinct keys per user.
//!
//! Both collect `(user, key)` pairs of in-window rows, sort them, and count
//! the distinct pairs per user.

use crate::error::{KernelError, Result};
use crate::parts::{check_lengths, check_parts, check_values, out_of_range};
use crate::user_blocks::fold_sorted_runs;
use rayon::prelude::*;

const PAR_SORT_MIN: usize = 1 << 16;

/// Number of distinct int64 `values` per user among rows with `start <= t < end`.
pub fn distinct(
    users: &[&[u32]],
    times: &[&[i64]],
    values: &[&[i64]],
    start: i64,
    end: i64,
    n_users: usize,
) -> Result<Vec<u32>> {
    check_parts(users, times, n_users)?;
    check_values(times, values)?;
    let mut pairs = Vec::new();
    for ((u, t), v) in users.iter().zip(times).zip(values) {
        for ((&id, &time), &value) in u.iter().zip(*t).zip(*v) {
            if start <= time && time < end {
                pairs.push((id, value));
            }
        }
    }
    Ok(count_distinct_pairs(pairs, n_users))
}

/// Number of distinct `floor((t - origin) / period)` per user among rows with
/// `start <= t < end` (active days, active periods).
pub fn distinct_buckets(
    users: &[&[u32]],
    times: &[&[i64]],
    start: i64,
    end: i64,
    origin: i64,
    period: i64,
    n_users: usize,
) -> Result<Vec<u32>> {
    check_lengths(users, times)?;
    if period <= 0 {
        return Err(KernelError::Argument(format!(
            "period must be positive, got {period}"
        )));
    }
    if start < end {
        let (lo, hi) = (
            bucket_key(start, origin, period),
            bucket_key(end - 1, origin, period),
        );
        if hi.abs_diff(lo) < 64 {
            return bucket_bitsets(users, times, start, end, origin, period, lo, n_users);
        }
    }
    check_parts(users, times, n_users)?;
    let mut pairs = Vec::new();
    for (u, t) in users.iter().zip(times) {
        for (&id, &time) in u.iter().zip(*t) {
            if start <= time && time < end {
                pairs.push((id, bucket_key(time, origin, period)));
            }
        }
    }
    Ok(count_distinct_pairs(pairs, n_users))
}

/// Window spans at most 64 buckets (e.g. active days in the last 30 days):
/// one bit per bucket per user, no sort, one pass over the rows. The bucket of a row is
/// `floor((t - base) / period)` from the start `base` of bucket `lo`, found with a float
/// reciprocal and one exact correction (no integer division per row).
#[allow(clippy::too_many_arguments)]
fn bucket_bitsets(
    users: &[&[u32]],
    times: &[&[i64]],
    start: i64,
    end: i64,
    origin: i64,
    period: i64,
    lo: i64,
    n_users: usize,
) -> Result<Vec<u32>> {
    let base = i128::from(lo) * i128::from(period) + i128::from(origin.rem_euclid(period));
    let fits = i64::try_from(base).is_ok() && i128::from(end) - base < 1 << 62;
    if fits {
        let (base, p, inv) = (base as i64, period as u64, 1.0 / period as f64);
        // 0 <= d < 2**62 for a time in the window, so k * p cannot overflow
        fill_bitsets(users, times, start, end, n_users, |t| {
            let d = t.wrapping_sub(base) as u64;
            let mut k = (d as f64 * inv) as u64;
            if k * p > d {
                k -= 1;
            } else if (k + 1) * p <= d {
                k += 1;
            }
            k as u32
        })
    } else {
        fill_bitsets(users, times, start, end, n_users, |t| {
            (bucket_key(t, origin, period) - lo) as u32
        })
    }
}

fn fill_bitsets(
    users: &[&[u32]],
    times: &[&[i64]],
    start: i64,
    end: i64,
    n_users: usize,
    bucket: impl Fn(i64) -> u32 + Sync,
) -> Result<Vec<u32>> {
    // branch-free: a part's times are in no order, so a test per row mispredicts
    let mark = |b: &mut u64, time: i64| {
        *b |= u64::from(start <= time && time < end) << bucket(time.clamp(start, end - 1));
    };
    let popcounts = |bits: &[u64], out: &mut [u32]| {
        for (o, b) in out.iter_mut().zip(bits) {
            *o = b.count_ones();
        }
    };
    if let Some(out) = fold_sorted_runs(users, times, n_users, 0u64, mark, popcounts)? {
        return Ok(out);
    }
    let mut bits = vec![0u64; n_users];
    for (u, t) in users.iter().zip(times) {
        for (&id, &time) in u.iter().zip(*t) {
            match bits.get_mut(id as usize) {
                Some(b) => mark(b, time),
                None => return Err(out_of_range(id, n_users)),
            }
        }
    }
    Ok(bits.iter().map(|b| b.count_ones()).collect())
}

/// `floor((t - origin) / period)` plus the constant `floor(origin / period)`.
///
/// Shifting every bucket by the same constant keeps distinct counts intact,
/// and this form cannot overflow (`t - origin` can). With
/// `t = qt*p + rt` and `origin = qo*p + ro` (Euclidean), the bucket is
/// `qt - qo - (rt < ro)`; dropping `-qo` leaves the expression below.
pub fn bucket_key(t: i64, origin: i64, period: i64) -> i64 {
    let ro = origin.rem_euclid(period);
    t.div_euclid(period) - i64::from(t.rem_euclid(period) < ro)
}

fn count_distinct_pairs(mut pairs: Vec<(u32, i64)>, n_users: usize) -> Vec<u32> {
    if pairs.len() >= PAR_SORT_MIN {
        pairs.par_sort_unstable();
    } else {
        pairs.sort_unstable();
    }
    pairs.dedup();
    let mut out = vec![0u32; n_users];
    for (id, _) in pairs {
        out[id as usize] += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_values_in_window() {
        let (u1, t1, v1): (&[u32], &[i64], &[i64]) = (&[0, 0, 0, 1], &[1, 2, 3, 4], &[7, 7, -7, 7]);
        let (u2, t2, v2): (&[u32], &[i64], &[i64]) = (&[0, 1], &[10, 5], &[8, 7]);
        let got = distinct(&[u1, u2], &[t1, t2], &[v1, v2], 1, 10, 3).unwrap();
        assert_eq!(got, vec![2, 1, 0]);
    }

    #[test]
    fn bucket_key_is_floor_division_shifted() {
        for &(origin, period) in &[
            (0i64, 1i64),
            (0, 86_400_000),
            (-13, 5),
            (17, 5),
            (i64::MIN, 3),
            (i64::MAX, 7),
        ] {
            let shift = origin.div_euclid(period) as i128;
            for &t in &[
                i64::MIN,
                i64::MIN + 1,
                -11,
                -10,
                -1,
                0,
                1,
                4,
                5,
                12,
                13,
                i64::MAX - 1,
                i64::MAX,
            ] {
                let want = (t as i128 - origin as i128).div_euclid(period as i128) + shift;
                assert_eq!(
                    bucket_key(t, origin, period) as i128,
                    want,
                    "t={t} origin={origin} period={period}"
                );
            }
        }
    }

    #[test]
    fn active_days() {
        let day = 86_400_000i64;
        let users: &[u32] = &[0, 0, 0, 0, 1];
        let times: &[i64] = &[-1, 0, day - 1, day, 5];
        let got = distinct_buckets(&[users], &[times], i64::MIN, i64::MAX, 0, day, 2).unwrap();
        assert_eq!(got, vec![3, 1]);
    }

    #[test]
    fn bitset_and_sort_paths_agree() {
        let day = 86_400_000i64;
        let users: &[u32] = &[0, 1, 0, 2, 0, 1, 2, 2];
        let times: &[i64] = &[0, 5, day, 3 * day, day + 7, 40 * day, 63 * day, 64 * day];
        let narrow = distinct_buckets(&[users], &[times], 0, 64 * day, 0, day, 3).unwrap();
        let wide = distinct_buckets(&[users], &[times], i64::MIN, 64 * day, 0, day, 3).unwrap();
        assert_eq!(narrow, vec![2, 2, 2]);
        assert_eq!(narrow, wide);
    }

    #[test]
    fn rejects_non_positive_period() {
        assert!(distinct_buckets(&[&[0]], &[&[0]], 0, 1, 0, 0, 1).is_err());
    }
}
