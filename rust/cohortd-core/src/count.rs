//! `count`: rows per user inside a window.

use crate::bitmap::{check_id_space, IdBits};
use crate::error::Result;
use crate::parts::{check_lengths, out_of_range, per_user_fold};
use crate::user_blocks::fold_sorted_runs;

/// Number of rows with `start <= t < end`, per user.
pub fn count(
    users: &[&[u32]],
    times: &[&[i64]],
    start: i64,
    end: i64,
    n_users: usize,
) -> Result<Vec<u32>> {
    check_lengths(users, times)?;
    let row = |acc: &mut u32, t: i64| {
        *acc = acc.wrapping_add(u32::from(start <= t && t < end));
    };
    let copy = |acc: &[u32], out: &mut [u32]| out.copy_from_slice(acc);
    if let Some(out) = fold_sorted_runs(users, times, n_users, 0u32, row, copy)? {
        return Ok(out);
    }
    per_user_fold(users, times, n_users, 0u32, row, u32::wrapping_add)
}

/// The users with at least one row in `[start, end)`, as bits (one per user: an eighth of a
/// byte per user where `count` writes four, and no comparison or gather after it).
pub fn users_in_window(
    users: &[&[u32]],
    times: &[&[i64]],
    start: i64,
    end: i64,
    n_users: usize,
) -> Result<IdBits> {
    check_lengths(users, times)?;
    check_id_space(n_users)?;
    let mut bits = IdBits::new(n_users);
    for (u, t) in users.iter().zip(times) {
        for (&id, &time) in u.iter().zip(*t) {
            if id as usize >= n_users {
                return Err(out_of_range(id, n_users));
            }
            if start <= time && time < end {
                bits.insert(id);
            }
        }
    }
    Ok(bits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bitmap::roaring_from_bytes;

    #[test]
    fn users_in_window_are_the_nonzero_counts() {
        let (u1, t1): (&[u32], &[i64]) = (&[0, 2, 2, 5], &[1, 2, 3, 9]);
        let (u2, t2): (&[u32], &[i64]) = (&[7, 2, 1], &[50, 5, 5]);
        let bits = users_in_window(&[u1, u2], &[t1, t2], 2, 10, 8).unwrap();
        let got: Vec<u32> = roaring_from_bytes(&bits.to_roaring_bytes())
            .unwrap()
            .iter()
            .collect();
        let dense = count(&[u1, u2], &[t1, t2], 2, 10, 8).unwrap();
        let want: Vec<u32> = (0..8u32).filter(|&u| dense[u as usize] > 0).collect();
        assert_eq!(got, want);
        assert!(users_in_window(&[&[8]], &[&[3]], 0, 1, 8).is_err());
    }
    use crate::error::KernelError;

    #[test]
    fn counts_half_open_window() {
        let users: &[u32] = &[0, 1, 1, 1, 2];
        let times: &[i64] = &[10, 9, 10, 20, 19];
        assert_eq!(
            count(&[users], &[times], 10, 20, 4).unwrap(),
            vec![1, 1, 1, 0]
        );
    }

    #[test]
    fn counts_across_parts_and_empty_parts() {
        let (u1, t1): (&[u32], &[i64]) = (&[0, 0], &[1, 2]);
        let (u2, t2): (&[u32], &[i64]) = (&[], &[]);
        let (u3, t3): (&[u32], &[i64]) = (&[0, 1], &[i64::MIN, 3]);
        let got = count(&[u1, u2, u3], &[t1, t2, t3], i64::MIN, i64::MAX, 2).unwrap();
        assert_eq!(got, vec![3, 1]);
    }

    #[test]
    fn parallel_path_matches_sequential_sum() {
        let n = 300_000usize; // many rows per user: the parallel path
        let users: Vec<u32> = (0..n).map(|i| (i * 7919 % 101) as u32).collect();
        let times: Vec<i64> = (0..n).map(|i| (i % 1000) as i64).collect();
        let got = count(
            &[&users[..100_000], &users[100_000..]],
            &[&times[..100_000], &times[100_000..]],
            100,
            900,
            101,
        )
        .unwrap();
        let mut want = vec![0u32; 101];
        for (u, t) in users.iter().zip(&times) {
            if (100..900).contains(t) {
                want[*u as usize] += 1;
            }
        }
        assert_eq!(got, want);
    }

    #[test]
    fn rejects_out_of_range_user() {
        let err = count(&[&[3]], &[&[0]], 0, 1, 3).unwrap_err();
        assert!(matches!(err, KernelError::OutOfRange(_)), "{err:?}");
        assert!(err.message().contains("user id 3"), "{err}");
    }
}
