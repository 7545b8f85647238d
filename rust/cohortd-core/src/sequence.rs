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
    ptr.fill(0);
    for &e1 in lists[0] {
        let mut prev = e1;
        for (j, list) in lists.iter().enumerate().skip(1) {
            while ptr[j] < list.len() && list[ptr[j]] <= prev {
                ptr[j] += 1;
            }
            if ptr[j] == list.len() {
                return false; // later starts cannot find a pick either
            }
            prev = list[ptr[j]];
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

    #[test]
    fn rejects_no_steps() {
        assert!(sequence(&[], 0, 1, -1, 1).is_err());
        assert!(sequence_sparse(&[], 0, 1, -1).is_err());
    }
}
