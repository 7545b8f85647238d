//! Journeys: the event types just after and just before each user's anchor
//! time, as fixed-width rows of type ids, and the next event after a time.

use crate::error::{KernelError, Result};
use crate::parts::{check_lengths, check_values, out_of_range};
use crate::retention::NONE;

/// Fills a path row after its last event (the path ended before `depth`).
pub const END: u32 = u32::MAX;

/// Paths around each anchored user's anchor time.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Paths {
    /// Users with an anchor (`anchors[u] != i64::MAX`), ascending.
    pub users: Vec<u32>,
    /// `users.len() * depth`: the next event types after the anchor, in time order.
    pub after: Vec<u32>,
    /// `users.len() * depth`: the previous event types, nearest to the anchor first.
    pub before: Vec<u32>,
}

/// What a journey looks at around each anchor.
#[derive(Debug, Clone, Copy)]
pub struct Around {
    /// Events with `anchor - before <= t < anchor` come before.
    pub before: i64,
    /// Events with `anchor < t <= anchor + after` (and `t < as_of`) come after.
    pub after: i64,
    pub depth: usize,
    /// Keep consecutive repeats of one type (else collapsed to one).
    pub keep_repeats: bool,
    pub as_of: i64,
}

/// `rank[type]` orders events of equal time (e.g. by type name); events at the
/// anchor's exact time are neither before nor after.
pub fn journeys(
    anchors: &[i64],
    users: &[&[u32]],
    times: &[&[i64]],
    types: &[&[u32]],
    rank: &[u32],
    around: Around,
) -> Result<Paths> {
    check_lengths(users, times)?;
    check_values(times, types)?;
    if around.depth == 0 {
        return Err(KernelError::Argument("depth must be at least 1".into()));
    }
    let n_users = anchors.len();
    // (user, time, rank, type) of every event inside its user's windows
    let mut near: Vec<(u32, i64, u32, u32)> = Vec::new();
    for ((u, t), y) in users.iter().zip(times).zip(types) {
        for ((&id, &time), &ty) in u.iter().zip(*t).zip(*y) {
            let a = *anchors
                .get(id as usize)
                .ok_or_else(|| out_of_range(id, n_users))?;
            if a == NONE || time == a || time >= around.as_of {
                continue;
            }
            let inside = if time > a {
                time.abs_diff(a) <= around.after.max(0) as u64
            } else {
                a.abs_diff(time) <= around.before.max(0) as u64
            };
            if inside {
                let r = *rank.get(ty as usize).ok_or_else(|| {
                    KernelError::OutOfRange(format!("event type {ty} has no rank"))
                })?;
                near.push((id, time, r, ty));
            }
        }
    }
    // group by user (a counting sort on the dense ids), then sort each user's short run
    let mut offsets = vec![0usize; n_users + 1];
    for r in &near {
        offsets[r.0 as usize + 1] += 1;
    }
    for u in 0..n_users {
        offsets[u + 1] += offsets[u];
    }
    let mut fill = offsets[..n_users].to_vec();
    let mut grouped = vec![(0i64, 0u32, 0u32); near.len()];
    for &(id, time, r, ty) in &near {
        grouped[fill[id as usize]] = (time, r, ty);
        fill[id as usize] += 1;
    }
    drop(near);
    let depth = around.depth;
    let mut out = Paths::default();
    let mut after: Vec<u32> = Vec::with_capacity(depth);
    let mut before: Vec<u32> = Vec::new();
    for (id, &a) in anchors.iter().enumerate() {
        if a == NONE {
            continue;
        }
        let run = &mut grouped[offsets[id]..offsets[id + 1]];
        run.sort_unstable();
        after.clear();
        before.clear();
        for &(time, _, ty) in run.iter() {
            let path = if time > a { &mut after } else { &mut before };
            if around.keep_repeats || path.last() != Some(&ty) {
                path.push(ty);
            }
        }
        out.users.push(id as u32);
        after.truncate(depth);
        out.after.extend_from_slice(&after);
        out.after
            .extend(std::iter::repeat_n(END, depth - after.len()));
        let nearest = before.iter().rev().take(depth);
        let taken = nearest.len();
        out.before.extend(nearest);
        out.before.extend(std::iter::repeat_n(END, depth - taken));
    }
    Ok(out)
}

/// Earliest `t` with `after[u] < t < end` per user (`i64::MAX` when none or `after[u]` is).
pub fn next_after(after: &[i64], users: &[&[u32]], times: &[&[i64]], end: i64) -> Result<Vec<i64>> {
    check_lengths(users, times)?;
    let n_users = after.len();
    let mut out = vec![NONE; n_users];
    for (u, t) in users.iter().zip(times) {
        for (&id, &time) in u.iter().zip(*t) {
            let a = *after
                .get(id as usize)
                .ok_or_else(|| out_of_range(id, n_users))?;
            if a != NONE && a < time && time < end && time < out[id as usize] {
                out[id as usize] = time;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn around(depth: usize, keep_repeats: bool) -> Around {
        Around {
            before: 10,
            after: 10,
            depth,
            keep_repeats,
            as_of: 100,
        }
    }

    #[test]
    fn paths_collapse_and_end() {
        // user 0 anchored at 50: before 38(x, too early), 40 A, 45 B, 45 B; at 50 C (neither);
        // after 51 A, 51 A, 60 B (edge, inside), 61 C (outside)
        let u: &[u32] = &[0, 0, 0, 0, 0, 0, 0, 0, 0];
        let t: &[i64] = &[38, 40, 45, 45, 50, 51, 51, 60, 61];
        let y: &[u32] = &[2, 0, 1, 1, 2, 0, 0, 1, 2];
        let rank: &[u32] = &[0, 1, 2];
        let p = journeys(&[50, NONE], &[u], &[t], &[y], rank, around(3, false)).unwrap();
        assert_eq!(p.users, vec![0]);
        assert_eq!(p.after, vec![0, 1, END]);
        assert_eq!(p.before, vec![1, 0, END]);
        let p = journeys(&[50, NONE], &[u], &[t], &[y], rank, around(3, true)).unwrap();
        assert_eq!(p.after, vec![0, 0, 1]);
        assert_eq!(p.before, vec![1, 1, 0]);
    }

    #[test]
    fn next_after_is_strict() {
        let u: &[u32] = &[0, 0, 1];
        let t: &[i64] = &[5, 6, 9];
        assert_eq!(next_after(&[5, 9], &[u], &[t], 100).unwrap(), vec![6, NONE]);
        assert_eq!(
            next_after(&[5, 9], &[u], &[t], 6).unwrap(),
            vec![NONE, NONE]
        );
    }
}
