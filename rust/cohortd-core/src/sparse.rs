//! Sparse counterparts of `count` and `aggregate`: only the users with a row in
//! the window, as sorted ids with their figures, in memory proportional to the
//! rows touched (never an array over all users): `count`, `aggregate`,
//! `distinct_buckets` (active days / periods), `first_time`, `nth_time`
//! (`sequence_sparse` lives beside `sequence`).
//!
//! Parts of one event type are each sorted by user (a segment's type range).
//! `count` and `aggregate` fold them by user range (`parts::fold_by_user`); the
//! others sort their concatenation, a few sorted runs, stably (`sorted_rows`).
//! Rows of one user keep part order then row order, which is the order the dense
//! `aggregate` adds in, so sums agree bit for bit. The `_members` kernels compare
//! the figure in the kernel and return only the users that pass.

use crate::aggregate::AggFunc;
use crate::distinct::bucket_key;
use crate::error::{KernelError, Result};
use crate::parts::{check_lengths, check_values, fold_by_user, sorted_rows, FloatParts};

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
    Ok(count_by_user(users, times, start, end, |_| true))
}

/// Sorted ids of the users whose row count in `[start, end)` passes `threshold`
/// (`did(E) >= 5`: the members, without the figures of the users that miss).
pub fn count_members(
    users: &[&[u32]],
    times: &[&[i64]],
    start: i64,
    end: i64,
    threshold: Threshold,
) -> Result<Vec<u32>> {
    check_lengths(users, times)?;
    let pass = |&n: &u32| threshold.holds(n as f64);
    Ok(count_by_user(users, times, start, end, pass).0)
}

fn count_by_user(
    users: &[&[u32]],
    times: &[&[i64]],
    start: i64,
    end: i64,
    emit: impl Fn(&u32) -> bool + Sync,
) -> (Vec<u32>, Vec<u32>) {
    let in_window = |p: usize, i: usize| start <= times[p][i] && times[p][i] < end;
    fold_by_user(users, in_window, |n: &mut u32, _, _| *n += 1, emit)
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
    let (ids, folded) = aggregate_by_user((users, times, values), start, end, func, |_| true);
    let (acc, counts) = folded.into_iter().unzip();
    Ok((ids, acc, counts))
}

/// Sorted ids of the users with a row in the window whose aggregate passes `threshold`;
/// `mean` compares the sum over the row count (`avg`), divided as the dense path divides.
#[allow(clippy::too_many_arguments)]
pub fn aggregate_members(
    users: &[&[u32]],
    times: &[&[i64]],
    values: &[&[f64]],
    start: i64,
    end: i64,
    func: AggFunc,
    mean: bool,
    threshold: Threshold,
) -> Result<Vec<u32>> {
    check_lengths(users, times)?;
    check_values(times, values)?;
    if mean && func != AggFunc::Sum {
        return Err(KernelError::Argument(
            "a mean is a sum over the row count".into(),
        ));
    }
    let pass = |&(a, n): &(f64, u32)| threshold.holds(if mean { a / n as f64 } else { a });
    Ok(aggregate_by_user((users, times, values), start, end, func, pass).0)
}

fn aggregate_by_user(
    (users, times, values): FloatParts<'_>,
    start: i64,
    end: i64,
    func: AggFunc,
    emit: impl Fn(&(f64, u32)) -> bool + Sync,
) -> (Vec<u32>, Vec<(f64, u32)>) {
    let in_window = |p: usize, i: usize| start <= times[p][i] && times[p][i] < end;
    // From (0.0, 0), like the dense kernel: a sum is 0.0 + v + ..., and min and max take
    // the first value, then replace it only on a strict comparison. One loop per function.
    match func {
        AggFunc::Sum => fold_by_user(
            users,
            in_window,
            |(a, n): &mut (f64, u32), p, i| {
                *a += values[p][i];
                *n += 1;
            },
            emit,
        ),
        AggFunc::Min => fold_by_user(
            users,
            in_window,
            |(a, n): &mut (f64, u32), p, i| {
                let v = values[p][i];
                if *n == 0 || v < *a {
                    *a = v;
                }
                *n += 1;
            },
            emit,
        ),
        AggFunc::Max => fold_by_user(
            users,
            in_window,
            |(a, n): &mut (f64, u32), p, i| {
                let v = values[p][i];
                if *n == 0 || v > *a {
                    *a = v;
                }
                *n += 1;
            },
            emit,
        ),
    }
}

/// A comparison of one figure per user as the language writes it (`> 100`,
/// `between 1 and 5`): what the members-only kernels keep. It tests a float as numpy
/// compares a float64 (or uint32) array with the language's number.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Threshold {
    Eq(f64),
    Ne(f64),
    Lt(f64),
    Le(f64),
    Gt(f64),
    Ge(f64),
    /// Both ends included.
    Between(f64, f64),
}

impl Threshold {
    /// From the language's operator (`==`, `!=`, `<`, `<=`, `>`, `>=`, or `between`
    /// with `hi`) and its number(s).
    pub fn new(op: &str, lo: f64, hi: f64) -> Result<Self> {
        Ok(match op {
            "==" => Threshold::Eq(lo),
            "!=" => Threshold::Ne(lo),
            "<" => Threshold::Lt(lo),
            "<=" => Threshold::Le(lo),
            ">" => Threshold::Gt(lo),
            ">=" => Threshold::Ge(lo),
            "between" => Threshold::Between(lo, hi),
            _ => {
                return Err(KernelError::Argument(format!(
                    "unknown comparison {op:?}; expected ==, !=, <, <=, >, >= or between"
                )))
            }
        })
    }

    pub fn holds(self, x: f64) -> bool {
        match self {
            Threshold::Eq(v) => x == v,
            Threshold::Ne(v) => x != v,
            Threshold::Lt(v) => x < v,
            Threshold::Le(v) => x <= v,
            Threshold::Gt(v) => x > v,
            Threshold::Ge(v) => x >= v,
            Threshold::Between(lo, hi) => lo <= x && x <= hi,
        }
    }
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

    /// Random parts, sorted by user or not, over ids that cross many ranges of
    /// `fold_by_user`, with enough rows for its threads in the large cases.
    fn random_parts(
        seed: u64,
        parts: usize,
        rows: usize,
        max_user: u64,
    ) -> Vec<(Vec<u32>, Vec<i64>, Vec<f64>)> {
        let mut x = seed;
        let mut next = move || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            x >> 16
        };
        (0..parts)
            .map(|p| {
                let mut u: Vec<u32> = (0..rows).map(|_| (next() % max_user) as u32).collect();
                if p % 3 != 2 {
                    u.sort_unstable(); // most parts are sorted by user, as a type range is
                }
                let t = (0..rows).map(|_| (next() % 100) as i64).collect();
                let v = (0..rows)
                    .map(|_| (next() % 2001) as f64 / 7.0 - 140.0)
                    .collect();
                (u, t, v)
            })
            .collect()
    }

    #[test]
    fn sparse_kernels_match_dense_ones_on_random_parts() {
        for (seed, parts, rows, max_user) in [
            (1, 1, 0, 5),
            (2, 3, 40, 7),
            (3, 13, 1300, 1 << 20),
            (4, 5, 30_000, 50_000),
            (5, 40, 4_000, 3_000_000),
        ] {
            let data = random_parts(seed, parts, rows, max_user);
            let u: Vec<&[u32]> = data.iter().map(|d| d.0.as_slice()).collect();
            let t: Vec<&[i64]> = data.iter().map(|d| d.1.as_slice()).collect();
            let v: Vec<&[f64]> = data.iter().map(|d| d.2.as_slice()).collect();
            let n = max_user as usize;
            let dense = count(&u, &t, 10, 90, n).unwrap();
            let (ids, counts) = count_sparse(&u, &t, 10, 90).unwrap();
            assert_eq!((ids.clone(), counts), nonzero(&dense, 0));
            for func in [AggFunc::Sum, AggFunc::Min, AggFunc::Max] {
                let (aids, acc, an) = aggregate_sparse(&u, &t, &v, 10, 90, func).unwrap();
                let (dacc, dn) = aggregate(&u, &t, &v, 10, 90, n, func).unwrap();
                assert_eq!(aids, ids);
                for (k, &id) in aids.iter().enumerate() {
                    assert_eq!(acc[k].to_bits(), dacc[id as usize].to_bits());
                    assert_eq!(an[k], dn[id as usize]);
                }
                for threshold in thresholds() {
                    let mean = func == AggFunc::Sum;
                    let want: Vec<u32> = (0..n as u32)
                        .filter(|&id| {
                            let (a, c) = (dacc[id as usize], dn[id as usize]);
                            c > 0 && threshold.holds(if mean { a / c as f64 } else { a })
                        })
                        .collect();
                    let got = aggregate_members(&u, &t, &v, 10, 90, func, mean, threshold);
                    assert_eq!(got.unwrap(), want, "{func:?} {threshold:?}");
                }
            }
            for threshold in thresholds() {
                let want: Vec<u32> = (0..n as u32)
                    .filter(|&id| {
                        dense[id as usize] > 0 && threshold.holds(dense[id as usize] as f64)
                    })
                    .collect();
                assert_eq!(count_members(&u, &t, 10, 90, threshold).unwrap(), want);
            }
        }
    }

    fn thresholds() -> Vec<Threshold> {
        let mut all: Vec<Threshold> = ["==", "!=", "<", "<=", ">", ">="]
            .iter()
            .flat_map(|op| [1.0, 2.0, 17.5].map(|v| Threshold::new(op, v, 0.0).unwrap()))
            .collect();
        all.push(Threshold::new("between", 2.0, 40.0).unwrap());
        all
    }

    #[test]
    fn threshold_names_the_operators_it_knows() {
        assert!(Threshold::new(">", 1.0, 0.0).unwrap().holds(1.5));
        assert!(!Threshold::new("between", 1.0, 2.0).unwrap().holds(2.5));
        let e = Threshold::new("~", 1.0, 0.0).unwrap_err();
        assert!(e.message().contains("unknown comparison"));
        let mean_of_max =
            aggregate_members(&[], &[], &[], 0, 1, AggFunc::Max, true, Threshold::Ge(1.0));
        assert!(mean_of_max.is_err());
    }
}
