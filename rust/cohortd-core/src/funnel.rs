//! Funnels: for every user with an entry (a step-1 event in the entry range),
//! the shortest time to reach each step through a chain e1 < e2 < ... < ek
//! (strictly increasing times, like `sequence`) with `ek - e1 <= window`.

use crate::error::{KernelError, Result};
use crate::parts::check_parts;
use crate::sequence::StepParts;
use rayon::prelude::*;

/// Not reached (a per-step time of [`Funnel::times`]).
pub const NOT_REACHED: i64 = -1;

/// The entrants of a funnel, in user order, with their per-step conversion times.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Funnel {
    /// Users with at least one entry, ascending.
    pub users: Vec<u32>,
    /// `users.len() * n_steps` row-major: the shortest `ek - e1` over valid
    /// chains reaching step k (0 for step 1), or [`NOT_REACHED`].
    pub times: Vec<i64>,
}

/// Step 1's events count in `[entry_start, entry_end)`, later steps' in
/// `[entry_start, as_of)`; `window < 0` means no conversion window.
pub fn funnel(
    steps: &[StepParts<'_>],
    entry_start: i64,
    entry_end: i64,
    as_of: i64,
    window: i64,
    n_users: usize,
) -> Result<Funnel> {
    if steps.is_empty() {
        return Err(KernelError::Argument(
            "a funnel needs at least one step".into(),
        ));
    }
    for (users, times) in steps {
        check_parts(users, times, n_users)?;
    }
    let grouped: Vec<ByUser> = steps
        .par_iter()
        .enumerate()
        .map(|(j, &(u, t))| {
            let end = if j == 0 { entry_end.min(as_of) } else { as_of };
            ByUser::build(u, t, entry_start, end, n_users)
        })
        .collect();
    let k = steps.len();
    let mut out = Funnel::default();
    let mut lists: Vec<&[i64]> = Vec::with_capacity(k);
    let mut ptr = vec![0usize; k];
    let mut best = vec![NOT_REACHED; k];
    for user in 0..n_users {
        if grouped[0].of(user).is_empty() {
            continue;
        }
        lists.clear();
        lists.extend(grouped.iter().map(|g| g.of(user)));
        shortest_chains(&lists, window, &mut ptr, &mut best);
        out.users.push(user as u32);
        out.times.extend_from_slice(&best);
    }
    Ok(out)
}

/// One step's in-window times grouped by user (a counting sort on the dense
/// ids, then each user's short run sorted): `times[offsets[u]..offsets[u + 1]]`.
/// Linear in rows plus users, where a sort of (user, time) pairs is not.
struct ByUser {
    offsets: Vec<usize>,
    times: Vec<i64>,
}

impl ByUser {
    fn build(users: &[&[u32]], times: &[&[i64]], start: i64, end: i64, n_users: usize) -> ByUser {
        let rows = || {
            users.iter().zip(times).flat_map(|(u, t)| {
                u.iter()
                    .zip(*t)
                    .filter(move |(_, &time)| start <= time && time < end)
            })
        };
        let mut offsets = vec![0usize; n_users + 1];
        for (&id, _) in rows() {
            offsets[id as usize + 1] += 1;
        }
        for u in 0..n_users {
            offsets[u + 1] += offsets[u];
        }
        let mut fill = offsets[..n_users].to_vec();
        let mut out = vec![0i64; offsets[n_users]];
        for (&id, &time) in rows() {
            out[fill[id as usize]] = time;
            fill[id as usize] += 1;
        }
        for u in 0..n_users {
            let run = &mut out[offsets[u]..offsets[u + 1]];
            if run.len() > 1 && !run.is_sorted() {
                run.sort_unstable();
            }
        }
        ByUser {
            offsets,
            times: out,
        }
    }

    fn of(&self, user: usize) -> &[i64] {
        &self.times[self.offsets[user]..self.offsets[user + 1]]
    }
}

/// One user's shortest `ek - e1` per step (`best[0] = 0`; NOT_REACHED when no chain fits).
///
/// For each e1 ascending, the greedy chain (each step's earliest time after the
/// previous pick) gives the smallest possible ek for every k at once; the picks
/// never move back as e1 grows, so the per-step pointers only advance.
pub fn shortest_chains(lists: &[&[i64]], window: i64, ptr: &mut [usize], best: &mut [i64]) {
    ptr.fill(0);
    best.fill(NOT_REACHED);
    if lists[0].is_empty() {
        return;
    }
    best[0] = 0;
    let mut reachable = lists.len(); // steps >= this cannot be reached from any later e1 either
    for &e1 in lists[0] {
        let mut prev = e1;
        for j in 1..reachable {
            let list = lists[j];
            while ptr[j] < list.len() && list[ptr[j]] <= prev {
                ptr[j] += 1;
            }
            if ptr[j] == list.len() {
                reachable = j;
                break;
            }
            prev = list[ptr[j]];
            let span = prev.abs_diff(e1); // prev > e1: exact in u64
            if window >= 0 && span > window as u64 {
                break; // later steps are later still
            }
            let span = span.min(i64::MAX as u64) as i64;
            if best[j] == NOT_REACHED || span < best[j] {
                best[j] = span;
            }
        }
        if reachable == 1 {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(lists: &[&[i64]], window: i64) -> Vec<i64> {
        let mut ptr = vec![0; lists.len()];
        let mut best = vec![0; lists.len()];
        shortest_chains(lists, window, &mut ptr, &mut best);
        best
    }

    #[test]
    fn strictly_increasing_and_window_inclusive() {
        assert_eq!(one(&[&[5], &[5]], -1), vec![0, NOT_REACHED]);
        assert_eq!(one(&[&[5], &[5, 6]], -1), vec![0, 1]);
        assert_eq!(one(&[&[0], &[10]], 10), vec![0, 10]);
        assert_eq!(one(&[&[0], &[10]], 9), vec![0, NOT_REACHED]);
    }

    #[test]
    fn later_entry_gives_shorter_time() {
        assert_eq!(one(&[&[0, 95], &[50, 100], &[101]], -1), vec![0, 5, 6]);
        assert_eq!(one(&[&[0, 95], &[50, 100], &[101]], 6), vec![0, 5, 6]);
        assert_eq!(
            one(&[&[0, 95], &[50, 100], &[101]], 5),
            vec![0, 5, NOT_REACHED]
        );
    }

    #[test]
    fn entries_and_as_of() {
        let (u1, t1): (&[u32], &[i64]) = (&[0, 1, 2], &[10, 5, 30]);
        let (u2, t2): (&[u32], &[i64]) = (&[0, 1, 2], &[20, 7, 41]);
        let steps: [StepParts<'_>; 2] = [(&[u1], &[t1]), (&[u2], &[t2])];
        // entry range [5, 31); as-of 41 cuts user 2's second step; user 1 entered at 5
        let f = funnel(&steps, 5, 31, 41, -1, 3).unwrap();
        assert_eq!(f.users, vec![0, 1, 2]);
        assert_eq!(f.times, vec![0, 10, 0, 2, 0, NOT_REACHED]);
        let f = funnel(&steps, 6, 31, 41, -1, 3).unwrap();
        assert_eq!(f.users, vec![0, 2]);
    }
}
