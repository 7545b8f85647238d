//! `nth_time`: each user's n-th earliest event before a bound (`nth did`).

use crate::error::{KernelError, Result};
use crate::parts::check_parts;

/// The `nth` smallest `t < end` per user (1-based; equal times count once each),
/// `i64::MAX` when the user has fewer than `nth` such rows.
///
/// Rows are grouped by user with a counting sort, then each user with enough
/// rows selects its n-th time in linear expected time.
pub fn nth_time(
    users: &[&[u32]],
    times: &[&[i64]],
    end: i64,
    nth: u64,
    n_users: usize,
) -> Result<Vec<i64>> {
    check_parts(users, times, n_users)?;
    if nth == 0 {
        return Err(KernelError::Argument("nth must be at least 1".into()));
    }
    let mut out = vec![i64::MAX; n_users];
    let mut counts = vec![0usize; n_users + 1];
    for (u, t) in users.iter().zip(times) {
        for (&id, &time) in u.iter().zip(t.iter()) {
            if time < end {
                counts[id as usize + 1] += 1;
            }
        }
    }
    let nth = usize::try_from(nth).unwrap_or(usize::MAX);
    if !counts.iter().any(|&c| c >= nth) {
        return Ok(out);
    }
    for i in 1..=n_users {
        counts[i] += counts[i - 1];
    }
    let mut fill = counts[..n_users].to_vec();
    let mut grouped = vec![0i64; counts[n_users]];
    for (u, t) in users.iter().zip(times) {
        for (&id, &time) in u.iter().zip(t.iter()) {
            if time < end {
                let slot = &mut fill[id as usize];
                grouped[*slot] = time;
                *slot += 1;
            }
        }
    }
    for (id, slot) in out.iter_mut().enumerate() {
        let run = &mut grouped[counts[id]..counts[id + 1]];
        if run.len() >= nth {
            let (_, value, _) = run.select_nth_unstable(nth - 1);
            *slot = *value;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nth_before_end() {
        let (u1, t1): (&[u32], &[i64]) = (&[0, 0, 1, 0], &[50, 30, 100, 30]);
        let (u2, t2): (&[u32], &[i64]) = (&[0, 2], &[40, 7]);
        let got = nth_time(&[u1, u2], &[t1, t2], 100, 2, 4).unwrap();
        assert_eq!(got, vec![30, i64::MAX, i64::MAX, i64::MAX]);
        let got = nth_time(&[u1, u2], &[t1, t2], 100, 3, 4).unwrap();
        assert_eq!(got, vec![40, i64::MAX, i64::MAX, i64::MAX]);
        let got = nth_time(&[u1, u2], &[t1, t2], 45, 4, 4).unwrap();
        assert_eq!(got, vec![i64::MAX; 4]);
        assert!(nth_time(&[u1], &[t1], 100, 0, 4).is_err());
        assert!(nth_time(&[u1], &[t1], 100, 1, 1).is_err());
    }
}
