//! Sparse counterparts of `count` and `aggregate`: only the users with a row in
//! the window, as sorted ids with their figures, in memory proportional to the
//! rows touched (never an array over all users): `count`, `aggregate`,
//! `distinct_buckets` (active days / periods), `first_time`, `nth_time`
//! (`sequence_sparse` lives beside `sequence`).
//!
//! Parts of one event type are each sorted by user (a segment's type range), so
//! their concatenation is a few sorted runs: the stable sort below detects the
//! runs and merges them. Rows of one user keep part order then row order, which
//! is the order the dense `aggregate` adds in, so sums agree bit for bit.

use crate::aggregate::AggFunc;
use crate::distinct::bucket_key;
use crate::error::{KernelError, Result};
use crate::parts::{check_lengths, check_values, radix_sort_by_user, sorted_rows};

/// Sorted ids and one figure per user, from (user, time)-sorted rows.
type Sparse<T> = (Vec<u32>, Vec<T>);

/// Folds each user's run of sorted rows into one figure (`None`: not a member).
fn per_user_runs<T>(
    rows: &[(u32, i64)],
    mut figure: impl FnMut(&[(u32, i64)]) -> Option<T>,
) -> Sparse<T> {
    let (mut ids, mut out) = (Vec::new(), Vec::new());
    for run in rows.chunk_by(|a, b| a.0 == b.0) {
        if let Some(f) = figure(run) {
            ids.push(run[0].0);
            out.push(f);
        }
    }
    (ids, out)
}

/// Sorted ids of the users with a row in `[start, end)` and their number of
/// distinct `floor((t - origin) / period)` (the sparse `distinct_buckets`).
pub fn distinct_buckets_sparse(
    users: &[&[u32]],
    times: &[&[i64]],
    start: i64,
    end: i64,
    origin: i64,
    period: i64,
) -> Result<Sparse<u32>> {
    check_lengths(users, times)?;
    if period <= 0 {
        return Err(KernelError::Argument(format!(
            "period must be positive, got {period}"
        )));
    }
    let rows = sorted_rows(users, times, |t| start <= t && t < end);
    // The bucket key is a floor division, so it never decreases along a user's sorted times.
    Ok(per_user_runs(&rows, |run| {
        let keys = run.iter().map(|&(_, t)| bucket_key(t, origin, period));
        let mut last = None;
        let mut n = 0u32;
        for k in keys {
            if last != Some(k) {
                n += 1;
                last = Some(k);
            }
        }
        Some(n)
    }))
}

/// Sorted ids of the users with a row before `end` and their earliest time.
pub fn first_time_sparse(users: &[&[u32]], times: &[&[i64]], end: i64) -> Result<Sparse<i64>> {
    check_lengths(users, times)?;
    let rows = sorted_rows(users, times, |t| t < end);
    Ok(per_user_runs(&rows, |run| Some(run[0].1)))
}

/// Sorted ids of the users with at least `nth` rows before `end` and their
/// `nth` smallest time (1-based, equal times counted once each).
pub fn nth_time_sparse(
    users: &[&[u32]],
    times: &[&[i64]],
    end: i64,
    nth: u64,
) -> Result<Sparse<i64>> {
    check_lengths(users, times)?;
    if nth == 0 {
        return Err(KernelError::Argument("nth must be at least 1".into()));
    }
    let nth = usize::try_from(nth).unwrap_or(usize::MAX);
    let rows = sorted_rows(users, times, |t| t < end);
    Ok(per_user_runs(&rows, |run| run.get(nth - 1).map(|r| r.1)))
}

/// Sorted ids of the users with a row in `[start, end)` and their row counts.
pub fn count_sparse(
    users: &[&[u32]],
    times: &[&[i64]],
    start: i64,
    end: i64,
) -> Result<(Vec<u32>, Vec<u32>)> {
    check_lengths(users, times)?;
    let mut ids: Vec<u32> = Vec::new();
    for (u, t) in users.iter().zip(times) {
        ids.extend(
            u.iter()
                .zip(t.iter())
                .filter(|(_, &t)| start <= t && t < end)
                .map(|(&u, _)| u),
        );
    }
    if !ids.windows(2).all(|w| w[0] <= w[1]) {
        ids = radix_sort_by_user(ids, |&u| u);
    }
    let (mut out, mut counts) = (Vec::new(), Vec::new());
    for &u in &ids {
        if out.last() == Some(&u) {
            *counts.last_mut().unwrap() += 1;
        } else {
            out.push(u);
            counts.push(1u32);
        }
    }
    Ok((out, counts))
}

/// Sorted ids of the users with a row in the window, the aggregate of their
/// values (same fold as the dense `aggregate`) and their row counts.
pub fn aggregate_sparse(
    users: &[&[u32]],
    times: &[&[i64]],
    values: &[&[f64]],
    start: i64,
    end: i64,
    func: AggFunc,
) -> Result<(Vec<u32>, Vec<f64>, Vec<u32>)> {
    check_lengths(users, times)?;
    check_values(times, values)?;
    let total: usize = users.iter().map(|u| u.len()).sum();
    let mut rows: Vec<(u32, f64)> = Vec::with_capacity(total);
    for ((u, t), v) in users.iter().zip(times).zip(values) {
        rows.extend(
            u.iter()
                .zip(t.iter())
                .zip(v.iter())
                .filter(|((_, &t), _)| start <= t && t < end)
                .map(|((&u, _), &v)| (u, v)),
        );
    }
    if !rows.windows(2).all(|w| w[0].0 <= w[1].0) {
        rows = radix_sort_by_user(rows, |r| r.0); // stable: a user's rows keep their order
    }
    // Not reserved at rows.len(): the outputs become numpy arrays that keep their capacity,
    // and a user may have many rows.
    let (mut ids, mut acc, mut counts) = (Vec::new(), Vec::new(), Vec::new());
    for &(u, v) in &rows {
        if ids.last() == Some(&u) {
            let (a, n) = (acc.last_mut().unwrap(), counts.last_mut().unwrap());
            match func {
                AggFunc::Sum => *a += v,
                AggFunc::Min => {
                    if v < *a {
                        *a = v
                    }
                }
                AggFunc::Max => {
                    if v > *a {
                        *a = v
                    }
                }
            }
            *n += 1;
        } else {
            ids.push(u);
            acc.push(if func == AggFunc::Sum { 0.0 + v } else { v });
            counts.push(1u32);
        }
    }
    Ok((ids, acc, counts))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{aggregate, count, distinct_buckets, first_time, nth_time};

    type Dense<T> = (Vec<u32>, Vec<T>);

    fn nonzero<T: Copy + PartialEq>(dense: &[T], none: T) -> Dense<T> {
        let ids: Vec<u32> = (0..dense.len() as u32)
            .filter(|&u| dense[u as usize] != none)
            .collect();
        let vals = ids.iter().map(|&u| dense[u as usize]).collect();
        (ids, vals)
    }

    #[test]
    fn time_kernels_are_the_dense_ones_on_users_with_rows() {
        let (u1, t1): (&[u32], &[i64]) = (&[4, 0, 2, 2, 5, 0], &[1, 9, 3, 2, 9, 9]);
        let (u2, t2): (&[u32], &[i64]) = (&[1, 2, 7, 0], &[5, 5, 50, i64::MIN]);
        let (u, t) = ([u1, u2], [t1, t2]);
        assert_eq!(
            first_time_sparse(&u, &t, 9).unwrap(),
            nonzero(&first_time(&u, &t, 9, 8).unwrap(), i64::MAX)
        );
        for nth in 1..4 {
            assert_eq!(
                nth_time_sparse(&u, &t, 10, nth).unwrap(),
                nonzero(&nth_time(&u, &t, 10, nth, 8).unwrap(), i64::MAX)
            );
        }
        for (origin, period) in [(0, 2), (1, 3), (-7, 4)] {
            assert_eq!(
                distinct_buckets_sparse(&u, &t, 2, 10, origin, period).unwrap(),
                nonzero(
                    &distinct_buckets(&u, &t, 2, 10, origin, period, 8).unwrap(),
                    0
                )
            );
        }
        assert!(nth_time_sparse(&u, &t, 10, 0).is_err());
        assert!(distinct_buckets_sparse(&u, &t, 0, 9, 0, 0).is_err());
    }

    #[test]
    fn count_sparse_is_the_nonzero_part_of_count() {
        let (u1, t1): (&[u32], &[i64]) = (&[0, 2, 2, 5], &[1, 2, 3, 9]);
        let (u2, t2): (&[u32], &[i64]) = (&[1, 2, 7], &[5, 5, 50]);
        let (ids, counts) = count_sparse(&[u1, u2], &[t1, t2], 2, 10).unwrap();
        let dense = count(&[u1, u2], &[t1, t2], 2, 10, 8).unwrap();
        let want: Vec<u32> = (0..8u32).filter(|&u| dense[u as usize] > 0).collect();
        assert_eq!(ids, want);
        assert_eq!(
            counts,
            want.iter().map(|&u| dense[u as usize]).collect::<Vec<_>>()
        );
    }

    #[test]
    fn aggregate_sparse_matches_dense_bit_for_bit() {
        let (u1, t1, v1): (&[u32], &[i64], &[f64]) = (&[3, 1, 3], &[1, 2, 3], &[0.1, -0.0, 0.2]);
        let (u2, t2, v2): (&[u32], &[i64], &[f64]) = (&[1, 3], &[4, 5], &[2.5, 0.3]);
        for func in [AggFunc::Sum, AggFunc::Min, AggFunc::Max] {
            let (ids, acc, n) =
                aggregate_sparse(&[u1, u2], &[t1, t2], &[v1, v2], 0, 10, func).unwrap();
            let (dacc, dn) = aggregate(&[u1, u2], &[t1, t2], &[v1, v2], 0, 10, 4, func).unwrap();
            assert_eq!(ids, vec![1, 3]);
            for (k, &u) in ids.iter().enumerate() {
                assert_eq!(acc[k].to_bits(), dacc[u as usize].to_bits());
                assert_eq!(n[k], dn[u as usize]);
            }
        }
    }

    #[test]
    fn aggregate_sparse_adds_a_users_rows_in_part_order() {
        // a user's sums add part 0's rows first, as the dense kernel does
        let (u1, t1, v1): (&[u32], &[i64], &[f64]) =
            (&[1, 3, 3, 9], &[1, 2, 3, 4], &[1e16, 0.1, 0.2, 7.0]);
        let (u2, t2, v2): (&[u32], &[i64], &[f64]) = (&[0, 1, 3], &[4, 5, 99], &[2.5, 1.0, 0.3]);
        let (u3, t3, v3): (&[u32], &[i64], &[f64]) = (&[1, 1], &[6, 7], &[-1e16, 3.0]);
        let (u, t, v) = ([u1, u2, u3], [t1, t2, t3], [v1, v2, v3]);
        for func in [AggFunc::Sum, AggFunc::Min, AggFunc::Max] {
            let (ids, acc, n) = aggregate_sparse(&u, &t, &v, 0, 10, func).unwrap();
            let (dacc, dn) = aggregate(&u, &t, &v, 0, 10, 10, func).unwrap();
            assert_eq!(ids, vec![0, 1, 3, 9]);
            for (k, &id) in ids.iter().enumerate() {
                assert_eq!(acc[k].to_bits(), dacc[id as usize].to_bits());
                assert_eq!(n[k], dn[id as usize]);
            }
        }
    }
}
