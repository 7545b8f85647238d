//! Row lookup in a user-sorted range: which rows belong to a sorted set of users.
//!
//! An incremental step re-evaluates a few thousand users against type ranges of
//! up to millions of rows. Galloping from one wanted id to the next costs
//! `O(wanted * log(rows / wanted))` comparisons, and degrades to a linear merge
//! when the wanted ids are dense, so neither a pass over every row nor two binary
//! searches over the whole range per user are needed.

use crate::error::{KernelError, Result};

/// Offsets of the rows of `users` (sorted) whose user is in `wanted` (sorted,
/// unique), in row order.
pub fn rows_of_users(users: &[u32], wanted: &[u32]) -> Result<Vec<i64>> {
    if let Some(i) = wanted.windows(2).position(|w| w[0] >= w[1]) {
        return Err(KernelError::Argument(format!(
            "wanted ids are not sorted and unique at position {}",
            i + 1
        )));
    }
    let n = users.len();
    let mut out = Vec::new();
    let mut pos = 0;
    for &w in wanted {
        if pos >= n {
            break;
        }
        if users[pos] < w {
            pos = gallop(users, pos, w);
        }
        while pos < n && users[pos] == w {
            out.push(pos as i64);
            pos += 1;
        }
    }
    Ok(out)
}

/// The first index past `from` whose user is `>= w`, given `users[from] < w`:
/// doubling steps bracket it, a binary search inside the bracket finds it.
fn gallop(users: &[u32], from: usize, w: u32) -> usize {
    let n = users.len();
    let (mut below, mut step) = (from, 1);
    while below + step < n && users[below + step] < w {
        below += step;
        step *= 2;
    }
    let end = (below + step + 1).min(n);
    below + 1 + users[below + 1..end].partition_point(|&u| u < w)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(users: &[u32], wanted: &[u32]) -> Vec<i64> {
        (0..users.len())
            .filter(|&i| wanted.contains(&users[i]))
            .map(|i| i as i64)
            .collect()
    }

    #[test]
    fn matches_a_scan() {
        let mut seed = 7u64;
        let mut next = |m: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % m
        };
        for _ in 0..500 {
            let (n, span) = (next(200) as usize, 1 + next(60) as u32);
            let mut users: Vec<u32> = (0..n).map(|_| next(span as u64) as u32).collect();
            users.sort_unstable();
            let mut wanted: Vec<u32> = (0..next(40))
                .map(|_| next(span as u64 + 5) as u32)
                .collect();
            wanted.sort_unstable();
            wanted.dedup();
            assert_eq!(
                rows_of_users(&users, &wanted).unwrap(),
                reference(&users, &wanted)
            );
        }
    }

    #[test]
    fn edges() {
        assert!(rows_of_users(&[], &[1, 2]).unwrap().is_empty());
        assert!(rows_of_users(&[1, 2], &[]).unwrap().is_empty());
        assert_eq!(rows_of_users(&[3, 3, 3], &[3]).unwrap(), vec![0, 1, 2]);
        assert_eq!(rows_of_users(&[1, 5, 9], &[0, 9, 10]).unwrap(), vec![2]);
    }

    #[test]
    fn unsorted_wanted_is_refused() {
        assert!(matches!(
            rows_of_users(&[1], &[2, 1]),
            Err(KernelError::Argument(_))
        ));
        assert!(matches!(
            rows_of_users(&[1], &[1, 1]),
            Err(KernelError::Argument(_))
        ));
    }
}
