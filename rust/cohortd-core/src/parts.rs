//! Validation of part lists and the parallel per-user accumulation shared by
//! the integer kernels (count, first_time).

use crate::error::{KernelError, Result};
use rayon::prelude::*;

/// Below this many rows, threads cost more than they save.
const PAR_MIN_ROWS: usize = 1 << 16;

/// Checks that `users` and `times` have the same number of parts, aligned
/// lengths, and that every user id is below `n_users`.
pub(crate) fn check_parts(users: &[&[u32]], times: &[&[i64]], n_users: usize) -> Result<()> {
    check_lengths(users, times)?;
    match users
        .iter()
        .flat_map(|u| u.iter())
        .find(|&&id| id as usize >= n_users)
    {
        Some(&bad) => Err(out_of_range(bad, n_users)),
        None => Ok(()),
    }
}

pub(crate) fn out_of_range(id: u32, n_users: usize) -> KernelError {
    KernelError::OutOfRange(format!("user id {id} out of range (n_users = {n_users})"))
}

/// Checks that `users` and `times` have the same number of parts and aligned
/// lengths. Kernels that call only this check user ids in their own loop.
pub(crate) fn check_lengths(users: &[&[u32]], times: &[&[i64]]) -> Result<()> {
    if users.len() != times.len() {
        return Err(KernelError::Parts(format!(
            "{} user parts but {} time parts",
            users.len(),
            times.len()
        )));
    }
    for (i, (u, t)) in users.iter().zip(times).enumerate() {
        if u.len() != t.len() {
            return Err(KernelError::Parts(format!(
                "part {i}: {} users but {} times",
                u.len(),
                t.len()
            )));
        }
    }
    Ok(())
}

/// Checks that a third column (`values`) is aligned with `times`.
pub(crate) fn check_values<T>(times: &[&[i64]], values: &[&[T]]) -> Result<()> {
    if values.len() != times.len() {
        return Err(KernelError::Parts(format!(
            "{} value parts but {} time parts",
            values.len(),
            times.len()
        )));
    }
    for (i, (t, v)) in times.iter().zip(values).enumerate() {
        if t.len() != v.len() {
            return Err(KernelError::Parts(format!(
                "part {i}: {} times but {} values",
                t.len(),
                v.len()
            )));
        }
    }
    Ok(())
}

/// Above this many rows, sorts run on all threads.
const PAR_SORT_MIN: usize = 1 << 16;

/// The `(user, time)` rows whose time passes `keep`, sorted by (user, time).
///
/// A part of one event type (a segment's type range) is already sorted, so the
/// rows are a few sorted runs: a sorted input is returned as is and otherwise
/// the stable sort finds the runs and merges them instead of sorting from scratch.
pub(crate) fn sorted_rows(
    users: &[&[u32]],
    times: &[&[i64]],
    keep: impl Fn(i64) -> bool,
) -> Vec<(u32, i64)> {
    sorted_rows_among(users, times, keep, None)
}

/// `sorted_rows` keeping only the users in `among` (sorted, unique) when given: a
/// semi-join before the sort, by a merge walk over a part sorted by user and by
/// binary search otherwise.
pub(crate) fn sorted_rows_among(
    users: &[&[u32]],
    times: &[&[i64]],
    keep: impl Fn(i64) -> bool,
    among: Option<&[u32]>,
) -> Vec<(u32, i64)> {
    let mut rows = Vec::new();
    for (u, t) in users.iter().zip(times) {
        let rows_in_window = u.iter().zip(t.iter()).filter(|(_, &t)| keep(t));
        match among {
            None => rows.extend(rows_in_window.map(|(&u, &t)| (u, t))),
            Some(wanted) if u.windows(2).all(|w| w[0] <= w[1]) => {
                let mut c = 0;
                for (&id, &time) in u.iter().zip(t.iter()) {
                    while c < wanted.len() && wanted[c] < id {
                        c += 1;
                    }
                    if c == wanted.len() {
                        break;
                    }
                    if wanted[c] == id && keep(time) {
                        rows.push((id, time));
                    }
                }
            }
            Some(wanted) => rows.extend(
                rows_in_window
                    .filter(|(u, _)| wanted.binary_search(u).is_ok())
                    .map(|(&u, &t)| (u, t)),
            ),
        }
    }
    if !rows.windows(2).all(|w| w[0] <= w[1]) {
        if rows.len() >= PAR_SORT_MIN {
            rows.par_sort();
        } else {
            rows.sort();
        }
    }
    rows
}

/// Stable LSD radix sort by the user id (passes of 11 bits, only as many as the largest id
/// needs): linear in the rows, where a comparison sort of a concatenation of many short
/// sorted runs pays n log n. Rows of one user keep their input order.
pub(crate) fn radix_sort_by_user<T: Copy>(rows: Vec<T>, user: impl Fn(&T) -> u32) -> Vec<T> {
    const BITS: u32 = 11;
    const MASK: usize = (1 << BITS) - 1;
    let max = rows.iter().map(&user).max().unwrap_or(0);
    let mut src = rows;
    let mut dst = src.clone();
    let mut shift = 0;
    while shift < u32::BITS && max >> shift > 0 {
        let mut next = [0usize; MASK + 1];
        for r in &src {
            next[(user(r) >> shift) as usize & MASK] += 1;
        }
        let mut sum = 0;
        for c in next.iter_mut() {
            (*c, sum) = (sum, sum + *c);
        }
        for r in &src {
            let b = (user(r) >> shift) as usize & MASK;
            dst[next[b]] = *r;
            next[b] += 1;
        }
        std::mem::swap(&mut src, &mut dst);
        shift += BITS;
    }
    src
}

type Rows<'a> = (&'a [u32], &'a [i64]);

/// Cuts all rows into `k` groups of about equal size (a part may be split).
fn split_rows<'a>(users: &[&'a [u32]], times: &[&'a [i64]], k: usize) -> Vec<Vec<Rows<'a>>> {
    let total: usize = users.iter().map(|u| u.len()).sum();
    let per_group = total.div_ceil(k.max(1)).max(1);
    let mut groups: Vec<Vec<Rows<'a>>> = vec![Vec::new()];
    let mut room = per_group;
    for (&u, &t) in users.iter().zip(times) {
        let mut offset = 0;
        while offset < u.len() {
            if room == 0 {
                groups.push(Vec::new());
                room = per_group;
            }
            let take = room.min(u.len() - offset);
            groups
                .last_mut()
                .unwrap()
                .push((&u[offset..offset + take], &t[offset..offset + take]));
            offset += take;
            room -= take;
        }
    }
    groups
}

/// Folds every row into a dense per-user accumulator. With enough rows, the
/// rows are split into one group per thread, each with its own accumulator,
/// and the accumulators are merged element-wise. Only for integer work where
/// the merge order does not matter. Fails on a user id `>= n_users` (the
/// check is the accumulator lookup itself, so no separate validation pass).
pub(crate) fn per_user_fold<T, F, M>(
    users: &[&[u32]],
    times: &[&[i64]],
    n_users: usize,
    init: T,
    row: F,
    merge: M,
) -> Result<Vec<T>>
where
    T: Copy + Send + Sync,
    F: Fn(&mut T, i64) + Sync,
    M: Fn(T, T) -> T + Sync,
{
    check_lengths(users, times)?;
    let fold_group = |group: &[Rows<'_>]| -> Result<Vec<T>> {
        let mut acc = vec![init; n_users];
        for &(u, t) in group {
            for (&id, &time) in u.iter().zip(t) {
                match acc.get_mut(id as usize) {
                    Some(a) => row(a, time),
                    None => return Err(out_of_range(id, n_users)),
                }
            }
        }
        Ok(acc)
    };
    let total: usize = users.iter().map(|u| u.len()).sum();
    let threads = rayon::current_num_threads();
    // Each thread folds into its own per-user array, merged at the end: that only pays
    // when there are several rows per user (10M users, 30M rows: sequential wins).
    if total < PAR_MIN_ROWS || threads < 2 || total < 4 * n_users {
        let group: Vec<Rows<'_>> = users.iter().copied().zip(times.iter().copied()).collect();
        return fold_group(&group);
    }
    split_rows(users, times, threads)
        .par_iter()
        .map(|g| fold_group(g))
        .reduce_with(|a, b| {
            let (mut a, b) = (a?, b?);
            for (x, y) in a.iter_mut().zip(b) {
                *x = merge(*x, y);
            }
            Ok(a)
        })
        .unwrap_or_else(|| Ok(vec![init; n_users]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn radix_sort_by_user_is_the_stable_sort() {
        let mut x: u64 = 7;
        for (n, max) in [
            (0usize, 1u64),
            (1, 1),
            (50, 3),
            (5000, 1 << 11),
            (5000, 1 << 23),
            (3000, 1 << 32),
        ] {
            let rows: Vec<(u32, usize)> = (0..n)
                .map(|i| {
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    (((x >> 16) % max) as u32, i)
                })
                .collect();
            let mut want = rows.clone();
            want.sort_by_key(|r| r.0);
            assert_eq!(radix_sort_by_user(rows, |r| r.0), want);
        }
    }

    #[test]
    fn split_rows_covers_every_row_once() {
        let u1: Vec<u32> = (0..7).collect();
        let t1: Vec<i64> = (0..7).collect();
        let u2: Vec<u32> = vec![];
        let t2: Vec<i64> = vec![];
        let u3: Vec<u32> = (7..10).collect();
        let t3: Vec<i64> = (7..10).collect();
        for k in 1..5 {
            let groups = split_rows(&[&u1, &u2, &u3], &[&t1, &t2, &t3], k);
            let rows: Vec<i64> = groups
                .iter()
                .flatten()
                .flat_map(|(_, t)| t.iter().copied())
                .collect();
            assert_eq!(rows, (0..10).collect::<Vec<i64>>());
            assert!(groups.len() <= k);
        }
    }

    #[test]
    fn check_parts_rejects_bad_input() {
        let parts = |r: Result<()>| matches!(r, Err(KernelError::Parts(_)));
        assert!(parts(check_parts(&[&[0, 1]], &[&[0]], 2)));
        assert!(matches!(
            check_parts(&[&[0, 2]], &[&[0, 0]], 2),
            Err(KernelError::OutOfRange(_))
        ));
        assert!(parts(check_parts(&[&[0]], &[], 2)));
        assert!(check_parts(&[&[0, 1]], &[&[5, 6]], 2).is_ok());
        assert!(parts(check_values::<f64>(&[&[1, 2]], &[&[1.0]])));
    }
}
