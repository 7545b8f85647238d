//! `first_time`: each user's earliest event before a bound.

use crate::error::Result;
use crate::parts::per_user_fold;

/// Earliest `t < end` per user, `i64::MAX` when there is none.
pub fn first_time(
    users: &[&[u32]],
    times: &[&[i64]],
    end: i64,
    n_users: usize,
) -> Result<Vec<i64>> {
    per_user_fold(
        users,
        times,
        n_users,
        i64::MAX,
        |acc, t| {
            if t < end && t < *acc {
                *acc = t;
            }
        },
        i64::min,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_before_end() {
        let (u1, t1): (&[u32], &[i64]) = (&[0, 0, 1], &[50, 30, 100]);
        let (u2, t2): (&[u32], &[i64]) = (&[0, 2], &[40, i64::MIN]);
        let got = first_time(&[u1, u2], &[t1, t2], 100, 4).unwrap();
        assert_eq!(got, vec![30, i64::MAX, i64::MIN, i64::MAX]);
    }
}
