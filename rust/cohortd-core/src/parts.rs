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

/// The widest id range of `fold_by_user` (2^16; 2^12 the narrowest): its accumulators and
/// seen-bits are reused from range to range and stay in the L2 cache. A range is about
/// as wide as the rows are many, so a small fold touches a small accumulator.
const FOLD_RANGE_BITS: u32 = 16;
const FOLD_RANGE_MIN_BITS: u32 = 12;

/// The users with a row that passes `keep` and whose fold passes `emit`, ascending, each
/// with the fold of its rows: `fold(&mut acc, part, row)` for each of them, from
/// `A::default()`.
///
/// Memory follows the output, never the users: every part is walked by ascending user
/// (a part of one event type already is sorted; another gets a stable order of its rows),
/// one range of ids at a time (`FOLD_RANGE_BITS`), into a dense accumulator of that range
/// with a bit per id for the users seen; an accumulator goes back to the default as it is
/// emitted, so a row costs no branch on whether its user was seen. A user's rows are folded in part
/// order then row order, the order of the dense kernels, so floating-point sums agree
/// with them bit for bit. No sort and no copy of the rows: the time is one pass over
/// them, on all threads (by id range) when there are many.
pub(crate) fn fold_by_user<A, K, G, E>(
    users: &[&[u32]],
    keep: K,
    fold: G,
    emit: E,
) -> (Vec<u32>, Vec<A>)
where
    A: Accumulator,
    K: Fn(usize, usize) -> bool + Sync,
    G: Fn(&mut A, usize, usize) + Sync,
    E: Fn(&A) -> bool + Sync,
{
    let order: Vec<Option<Vec<u32>>> = users
        .iter()
        .map(|u| {
            (!u.windows(2).all(|w| w[0] <= w[1])).then(|| {
                let mut o: Vec<u32> = (0..u.len() as u32).collect();
                o.sort_by_key(|&i| u[i as usize]); // stable: a user's rows keep their order
                o
            })
        })
        .collect();
    let walk = UserOrder {
        users,
        order: &order,
    };
    let total: usize = users.iter().map(|u| u.len()).sum();
    let bits = total
        .max(1)
        .ilog2()
        .clamp(FOLD_RANGE_MIN_BITS, FOLD_RANGE_BITS);
    let width = 1usize << bits;
    let threads = rayon::current_num_threads();
    if total < PAR_MIN_ROWS || threads < 2 {
        let all: Vec<(usize, usize)> = users.iter().map(|u| (0, u.len())).collect();
        return walk.fold(width, &all, &keep, &fold, &emit);
    }
    // Cut the id space where each thread gets about the same number of rows.
    let max = (0..users.len())
        .filter(|&p| !users[p].is_empty())
        .map(|p| walk.user(p, users[p].len() - 1))
        .max()
        .unwrap_or(0) as u64;
    let mut cuts = vec![0u64];
    for k in 1..threads {
        let want = total * k / threads;
        let (mut lo, mut hi) = (*cuts.last().unwrap(), max + 1);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if walk.rows_below(mid) < want {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        cuts.push(lo);
    }
    cuts.push(max + 1);
    let pieces: Vec<(Vec<u32>, Vec<A>)> = cuts
        .par_windows(2)
        .map(|w| {
            let bounds: Vec<(usize, usize)> = (0..users.len())
                .map(|p| (walk.position(p, w[0]), walk.position(p, w[1])))
                .collect();
            walk.fold(width, &bounds, &keep, &fold, &emit)
        })
        .collect();
    let (mut ids, mut out) = (Vec::new(), Vec::new());
    for (i, a) in pieces {
        ids.extend(i);
        out.extend(a);
    }
    (ids, out)
}

/// An accumulator of `fold_by_user`. Each thread keeps one range of them (and its
/// seen-bits) for every call: a fresh megabyte per call, allocated and first touched,
/// costs more than folding a few thousand rows.
pub(crate) trait Accumulator: Copy + Default + Send + 'static {
    /// Calls `f` with this thread's widest range (2^FOLD_RANGE_BITS accumulators, all
    /// default, and their seen-bits, all clear).
    fn with_range<R>(f: impl FnOnce(&mut [Self], &mut [u64]) -> R) -> R;
}

/// This thread's range and whether a call left it mid-fold (a panic): then it is reset.
type Range<A> = std::cell::RefCell<(Vec<A>, Vec<u64>, bool)>;

fn with_range<A: Copy + Default, R>(
    range: &Range<A>,
    f: impl FnOnce(&mut [A], &mut [u64]) -> R,
) -> R {
    let mut range = range.borrow_mut();
    let (acc, seen, busy) = &mut *range;
    let width = 1usize << FOLD_RANGE_BITS;
    if *busy || acc.len() != width {
        *acc = vec![A::default(); width];
        *seen = vec![0; width / 64];
    }
    *busy = true;
    let out = f(acc, seen);
    *busy = false;
    out
}

macro_rules! accumulator {
    ($($t:ty),*) => {$(
        impl Accumulator for $t {
            fn with_range<R>(f: impl FnOnce(&mut [Self], &mut [u64]) -> R) -> R {
                thread_local! {
                    static RANGE: Range<$t> = const { std::cell::RefCell::new((Vec::new(), Vec::new(), false)) };
                }
                RANGE.with(|r| with_range(r, f))
            }
        }
    )*};
}
accumulator!(u32, (f64, u32));

/// The parts seen in ascending user order: part `p`'s `k`-th row is `order[p][k]` when
/// the part is not sorted by user, `k` when it is.
struct UserOrder<'a> {
    users: &'a [&'a [u32]],
    order: &'a [Option<Vec<u32>>],
}

impl UserOrder<'_> {
    fn row(&self, p: usize, k: usize) -> usize {
        match &self.order[p] {
            None => k,
            Some(o) => o[k] as usize,
        }
    }

    fn user(&self, p: usize, k: usize) -> u32 {
        self.users[p][self.row(p, k)]
    }

    /// How many rows of part `p` (in user order) have a user below `id`.
    fn position(&self, p: usize, id: u64) -> usize {
        let (mut lo, mut hi) = (0, self.users[p].len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if (self.user(p, mid) as u64) < id {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    fn rows_below(&self, id: u64) -> usize {
        (0..self.users.len()).map(|p| self.position(p, id)).sum()
    }

    /// `fold_by_user` over the rows `bounds[p]` (positions in user order) of each part.
    fn fold<A: Accumulator>(
        &self,
        width: usize,
        bounds: &[(usize, usize)],
        keep: &impl Fn(usize, usize) -> bool,
        fold: &impl Fn(&mut A, usize, usize),
        emit: &impl Fn(&A) -> bool,
    ) -> (Vec<u32>, Vec<A>) {
        A::with_range(|acc, seen| {
            let (acc, seen) = (&mut acc[..width], &mut seen[..width / 64]);
            self.fold_into(acc, seen, bounds, keep, fold, emit)
        })
    }

    /// `fold` with this thread's range of accumulators and seen-bits (all default and
    /// clear on entry; left so on return).
    fn fold_into<A: Accumulator>(
        &self,
        acc: &mut [A],
        seen: &mut [u64],
        bounds: &[(usize, usize)],
        keep: &impl Fn(usize, usize) -> bool,
        fold: &impl Fn(&mut A, usize, usize),
        emit: &impl Fn(&A) -> bool,
    ) -> (Vec<u32>, Vec<A>) {
        let width = acc.len();
        let mut cursor: Vec<usize> = bounds.iter().map(|b| b.0).collect();
        let (mut ids, mut out) = (Vec::new(), Vec::new());
        // The smallest user not yet walked decides the next range (empty ranges are skipped).
        while let Some(lo) = (0..cursor.len())
            .filter(|&p| cursor[p] < bounds[p].1)
            .map(|p| self.user(p, cursor[p]))
            .min()
        {
            let base = lo & !(width as u32 - 1);
            let hi = base as u64 + width as u64;
            // One loop for sorted and ordered parts (a per-row branch that always goes one
            // way), so the fold inlines into it.
            for (p, c) in cursor.iter_mut().enumerate() {
                let (u, order, end) = (self.users[p], self.order[p].as_deref(), bounds[p].1);
                let mut k = *c;
                while k < end {
                    let i = order.map_or(k, |o| o[k] as usize);
                    let user = u[i];
                    if user as u64 >= hi {
                        break;
                    }
                    if keep(p, i) {
                        let j = (user - base) as usize;
                        seen[j >> 6] |= 1u64 << (j & 63);
                        fold(&mut acc[j], p, i);
                    }
                    k += 1;
                }
                *c = k;
            }
            for (w, word) in seen.iter_mut().enumerate() {
                let mut bits = *word;
                while bits != 0 {
                    let j = w * 64 + bits.trailing_zeros() as usize;
                    let a = std::mem::take(&mut acc[j]);
                    if emit(&a) {
                        ids.push(base + j as u32);
                        out.push(a);
                    }
                    bits &= bits - 1;
                }
                *word = 0;
            }
        }
        (ids, out)
    }
}

/// Users, times and values, each in parts.
pub(crate) type FloatParts<'a> = (&'a [&'a [u32]], &'a [&'a [i64]], &'a [&'a [f64]]);

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
    fn fold_by_user_recovers_from_a_fold_that_panicked() {
        let users: Vec<u32> = (0..5000).map(|i| i % 1700).collect();
        let parts: &[&[u32]] = &[&users];
        let count = || fold_by_user(parts, |_, _| true, |n: &mut u32, _, _| *n += 1, |_| true);
        let want = count();
        let panicked = std::panic::catch_unwind(|| {
            fold_by_user(
                parts,
                |_, _| true,
                |n: &mut u32, _, i| {
                    assert!(i < 3000, "a fold that fails mid-range");
                    *n += 1
                },
                |_| true,
            )
        });
        assert!(panicked.is_err());
        // The range it left behind held counts: the next call starts from a clean one.
        assert_eq!(count(), want);
        assert_eq!(want.0.len(), 1700);
        assert!(want.1.iter().all(|&n| n == 2 || n == 3));
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
