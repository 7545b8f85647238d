//! `bucket_counts_reaching` (`did(E) >= 3 on 4 days`) and `count_per_user_window`
//! (`did(E) >= 3 within 7d of first did(A)`).

use crate::distinct::bucket_key;
use crate::error::{KernelError, Result};
use crate::parts::{check_parts, out_of_range};
use rayon::prelude::*;

const PAR_SORT_MIN: usize = 1 << 16;

/// Per user, the number of buckets `floor((t - origin) / period)` whose count of
/// rows with `start <= t < end` lies in `[lo, hi]` (`lo >= 1`: empty buckets never count).
///
/// In-window rows become `(user, bucket)` keys packed into one `u64` when the
/// window spans fewer than 2^32 buckets (else `(u32, i64)` pairs), are sorted,
/// and each run of equal keys is one bucket's count.
#[allow(clippy::too_many_arguments)]
pub fn bucket_counts_reaching(
    users: &[&[u32]],
    times: &[&[i64]],
    start: i64,
    end: i64,
    origin: i64,
    period: i64,
    lo: u64,
    hi: u64,
    n_users: usize,
) -> Result<Vec<u32>> {
    check_parts(users, times, n_users)?;
    if period <= 0 {
        return Err(KernelError::Argument(format!(
            "period must be positive, got {period}"
        )));
    }
    if lo == 0 {
        return Err(KernelError::Argument(
            "lo must be at least 1 (empty buckets are not counted)".into(),
        ));
    }
    let mut out = vec![0u32; n_users];
    if start >= end {
        return Ok(out);
    }
    let (first, last) = (
        bucket_key(start, origin, period),
        bucket_key(end - 1, origin, period),
    );
    let reaches = |n: u64| lo <= n && n <= hi;
    if last.abs_diff(first) < (1u64 << 32) {
        let mut keys = Vec::new();
        for (u, t) in users.iter().zip(times) {
            for (&id, &time) in u.iter().zip(*t) {
                if start <= time && time < end {
                    let b = bucket_key(time, origin, period).abs_diff(first);
                    keys.push((u64::from(id) << 32) | b);
                }
            }
        }
        sort(&mut keys);
        for run in keys.chunk_by(|a, b| a == b) {
            if reaches(run.len() as u64) {
                out[(run[0] >> 32) as usize] += 1;
            }
        }
    } else {
        let mut pairs = Vec::new();
        for (u, t) in users.iter().zip(times) {
            for (&id, &time) in u.iter().zip(*t) {
                if start <= time && time < end {
                    pairs.push((id, bucket_key(time, origin, period)));
                }
            }
        }
        sort(&mut pairs);
        for run in pairs.chunk_by(|a, b| a == b) {
            if reaches(run.len() as u64) {
                out[run[0].0 as usize] += 1;
            }
        }
    }
    Ok(out)
}

fn sort<T: Ord + Send>(v: &mut [T]) {
    if v.len() >= PAR_SORT_MIN {
        v.par_sort_unstable();
    } else {
        v.sort_unstable();
    }
}

/// Rows per user with `starts[u] <= t < ends[u]`: a window of its own for each user.
pub fn count_per_user_window(
    users: &[&[u32]],
    times: &[&[i64]],
    starts: &[i64],
    ends: &[i64],
    n_users: usize,
) -> Result<Vec<u32>> {
    crate::parts::check_lengths(users, times)?;
    if starts.len() != n_users || ends.len() != n_users {
        return Err(KernelError::Parts(format!(
            "{} starts and {} ends for {n_users} users",
            starts.len(),
            ends.len()
        )));
    }
    let mut out = vec![0u32; n_users];
    for (u, t) in users.iter().zip(times) {
        for (&id, &time) in u.iter().zip(*t) {
            let i = id as usize;
            if i >= n_users {
                return Err(out_of_range(id, n_users));
            }
            if starts[i] <= time && time < ends[i] {
                out[i] = out[i].wrapping_add(1);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_reaching_a_count() {
        // user 0: 3 rows in bucket 0, 1 row in bucket 1, 2 rows in bucket 2; user 1: 2 in bucket 0
        let users: &[u32] = &[0, 0, 1, 0, 0, 1, 0, 0];
        let times: &[i64] = &[0, 1, 2, 9, 10, 5, 20, 21];
        let got = bucket_counts_reaching(&[users], &[times], 0, 30, 0, 10, 2, u64::MAX, 3).unwrap();
        assert_eq!(got, vec![2, 1, 0]);
        let got = bucket_counts_reaching(&[users], &[times], 0, 30, 0, 10, 1, 1, 3).unwrap();
        assert_eq!(got, vec![1, 0, 0]);
        let wide = bucket_counts_reaching(&[users], &[times], i64::MIN, 30, 0, 10, 2, u64::MAX, 3)
            .unwrap();
        assert_eq!(wide, vec![2, 1, 0]);
        assert!(bucket_counts_reaching(&[users], &[times], 0, 30, 0, 0, 1, 1, 3).is_err());
        assert!(bucket_counts_reaching(&[users], &[times], 0, 30, 0, 10, 0, 1, 3).is_err());
    }

    #[test]
    fn per_user_windows() {
        let users: &[u32] = &[0, 0, 1, 1, 0];
        let times: &[i64] = &[5, 10, 5, 20, 15];
        let got = count_per_user_window(&[users], &[times], &[5, 10], &[15, 21], 2).unwrap();
        assert_eq!(got, vec![2, 1]);
        assert!(count_per_user_window(&[users], &[times], &[5], &[15], 2).is_err());
        assert!(count_per_user_window(&[users], &[times], &[5], &[15], 1).is_err());
    }
}
