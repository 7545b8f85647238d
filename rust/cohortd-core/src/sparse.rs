//! Sparse counterparts of `count` and `aggregate`: only the users with a row in
//! the window, as sorted ids with their figures, in memory proportional to the
//! rows touched (never an array over all users).
//!
//! Parts of one event type are each sorted by user (a segment's type range), so
//! their concatenation is a few sorted runs: the stable sort below detects the
//! runs and merges them. Rows of one user keep part order then row order, which
//! is the order the dense `aggregate` adds in, so sums agree bit for bit.

use crate::aggregate::AggFunc;
use crate::error::Result;
use crate::parts::{check_lengths, check_values};

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
        ids.sort();
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
    let mut rows: Vec<(u32, f64)> = Vec::new();
    for ((u, t), v) in users.iter().zip(times).zip(values) {
        for i in 0..u.len() {
            if start <= t[i] && t[i] < end {
                rows.push((u[i], v[i]));
            }
        }
    }
    if !rows.windows(2).all(|w| w[0].0 <= w[1].0) {
        rows.sort_by_key(|r| r.0); // stable: a user's rows keep their order
    }
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
    use crate::{aggregate, count};

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
}
