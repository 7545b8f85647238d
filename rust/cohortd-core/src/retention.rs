//! Retention: each user's start (first start event in a range) and the share
//! of users with a return event in period k = `[s + k*P, s + (k+1)*P)` after it.

use crate::error::{KernelError, Result};
use crate::parts::{check_lengths, out_of_range, per_user_fold};

/// No start / no event: the `i64::MAX` sentinel of every per-user time array.
pub const NONE: i64 = i64::MAX;

/// Earliest `t` in `[start, end)` per user, `i64::MAX` when there is none.
pub fn first_in_window(
    users: &[&[u32]],
    times: &[&[i64]],
    start: i64,
    end: i64,
    n_users: usize,
) -> Result<Vec<i64>> {
    per_user_fold(
        users,
        times,
        n_users,
        NONE,
        |acc, t| {
            if start <= t && t < end && t < *acc {
                *acc = t;
            }
        },
        i64::min,
    )
}

/// Per-period counts of one retention curve.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Curve {
    /// Users whose period k ended at or before the as-of time (the denominator).
    pub users: Vec<u64>,
    /// Of those, users with a return event in period k.
    pub retained: Vec<u64>,
    /// Of those, users with a return event in period k or any later one (before as-of).
    pub retained_unbounded: Vec<u64>,
}

/// The retention curve of the users with a start (`starts[u] != i64::MAX`).
///
/// Return events count when `starts[u] <= t < as_of`; period k of a user
/// counts only when `s + (k+1)*P <= as_of` (the period is over).
pub fn retention_curve(
    starts: &[i64],
    users: &[&[u32]],
    times: &[&[i64]],
    as_of: i64,
    period: i64,
    n_periods: usize,
) -> Result<Curve> {
    check_lengths(users, times)?;
    if period <= 0 {
        return Err(KernelError::Argument(format!(
            "period must be positive, got {period}"
        )));
    }
    let n_users = starts.len();
    let words = n_periods.div_ceil(64).max(1);
    let mut bits = vec![0u64; n_users * words];
    let mut last = vec![NONE; n_users]; // latest return at or after the start (times < as_of <= MAX)
    for (u, t) in users.iter().zip(times) {
        for (&id, &time) in u.iter().zip(*t) {
            let s = *starts
                .get(id as usize)
                .ok_or_else(|| out_of_range(id, n_users))?;
            if s == NONE || time < s || time >= as_of {
                continue;
            }
            let k = time.abs_diff(s) / period as u64; // time >= s: exact in u64
            if k < n_periods as u64 {
                let k = k as usize;
                bits[id as usize * words + k / 64] |= 1u64 << (k % 64);
            }
            let latest = &mut last[id as usize];
            if *latest == NONE || time > *latest {
                *latest = time;
            }
        }
    }
    let mut curve = Curve {
        users: vec![0; n_periods],
        retained: vec![0; n_periods],
        retained_unbounded: vec![0; n_periods],
    };
    for (id, &s) in starts.iter().enumerate() {
        if s == NONE {
            continue;
        }
        // periods over: floor((as_of - s) / P), 0 when as_of <= s
        let over = if as_of > s {
            as_of.abs_diff(s) / period as u64
        } else {
            0
        };
        let ended = over.min(n_periods as u64) as usize;
        // the return at or after s + k*P exists for k <= floor((last - s) / P)
        let reach = (last[id] != NONE).then(|| last[id].abs_diff(s) / period as u64);
        let row = &bits[id * words..(id + 1) * words];
        for k in 0..ended {
            curve.users[k] += 1;
            curve.retained[k] += (row[k / 64] >> (k % 64)) & 1;
            if reach.is_some_and(|r| k as u64 <= r) {
                curve.retained_unbounded[k] += 1;
            }
        }
    }
    Ok(curve)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_in_window_is_half_open() {
        let u: &[u32] = &[0, 0, 1, 2];
        let t: &[i64] = &[5, 10, 20, 4];
        assert_eq!(
            first_in_window(&[u], &[t], 5, 20, 4).unwrap(),
            vec![5, NONE, NONE, NONE]
        );
    }

    #[test]
    fn periods_and_unfinished_periods() {
        // user 0 starts at 0, returns at 0 (period 0), 25 (period 2); P = 10, as-of 35
        // user 1 starts at 10, returns at 39 (period 2, not over at as-of 35: excluded); as-of 35
        let starts = vec![0, 10, NONE];
        let u: &[u32] = &[0, 0, 1, 2];
        let t: &[i64] = &[0, 25, 34, 1];
        let c = retention_curve(&starts, &[u], &[t], 35, 10, 4).unwrap();
        assert_eq!(c.users, vec![2, 2, 1, 0]);
        assert_eq!(c.retained, vec![1, 0, 1, 0]);
        assert_eq!(c.retained_unbounded, vec![2, 2, 1, 0]);
    }

    #[test]
    fn events_at_or_after_as_of_do_not_exist() {
        let starts = vec![0];
        let u: &[u32] = &[0];
        let t: &[i64] = &[10];
        let c = retention_curve(&starts, &[u], &[t], 10, 5, 3).unwrap();
        assert_eq!(c.users, vec![1, 1, 0]);
        assert_eq!(c.retained, vec![0, 0, 0]);
    }

    #[test]
    fn rejects_bad_input() {
        assert!(retention_curve(&[0], &[&[1]], &[&[0]], 5, 1, 1).is_err());
        assert!(retention_curve(&[0], &[&[0]], &[&[0]], 5, 0, 1).is_err());
    }
}
