//! Rows sorted by (time, user): the time runs incremental maintenance searches for window edges.
//!
//! A segment is sorted by (type, user, time), so the times of one event type come in
//! user order; finding the users whose event crossed a window edge between two steps
//! needs them in time order. Times spanning under 2^32 ms (49 days; a sealed segment
//! spans a week) are packed with their user into one `u64` and radix sorted, whose
//! passes over constant bytes are skipped (`radsort`): a few passes over 8-byte keys.

use crate::error::{KernelError, Result};

/// `times` and `users` (aligned) reordered by time, ties by user.
pub fn sort_by_time(times: &[i64], users: &[u32]) -> Result<(Vec<i64>, Vec<u32>)> {
    if times.len() != users.len() {
        return Err(KernelError::Parts(format!(
            "{} times but {} users",
            times.len(),
            users.len()
        )));
    }
    let (Some(&lo), Some(&hi)) = (times.iter().min(), times.iter().max()) else {
        return Ok((Vec::new(), Vec::new()));
    };
    if (hi as i128 - lo as i128) < (1i128 << 32) {
        let mut keys: Vec<u64> = times
            .iter()
            .zip(users)
            .map(|(&t, &u)| ((t.wrapping_sub(lo) as u64) << 32) | u as u64)
            .collect();
        radsort::sort(&mut keys);
        let t = keys
            .iter()
            .map(|&k| lo.wrapping_add((k >> 32) as i64))
            .collect();
        let u = keys.iter().map(|&k| k as u32).collect();
        return Ok((t, u));
    }
    let mut pairs: Vec<(i64, u32)> = times.iter().copied().zip(users.iter().copied()).collect();
    radsort::sort_by_key(&mut pairs, |&p| p);
    Ok(pairs.into_iter().unzip())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(times: &[i64], users: &[u32]) -> (Vec<i64>, Vec<u32>) {
        let mut pairs: Vec<(i64, u32)> = times.iter().copied().zip(users.iter().copied()).collect();
        pairs.sort();
        pairs.into_iter().unzip()
    }

    #[test]
    fn matches_a_plain_sort_narrow_and_wide() {
        let mut seed = 11u64;
        let mut next = |m: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % m
        };
        for span in [10u64, 1 << 31, (1 << 32) - 1, 1 << 32, 1 << 40] {
            for _ in 0..50 {
                let n = next(300) as usize;
                let base = 1_790_000_000_000i64 - (1 << 39);
                let times: Vec<i64> = (0..n).map(|_| base + (next(span) as i64)).collect();
                let users: Vec<u32> = (0..n).map(|_| next(1 << 32) as u32).collect();
                assert_eq!(
                    sort_by_time(&times, &users).unwrap(),
                    reference(&times, &users)
                );
            }
        }
        let extremes = [i64::MIN, i64::MAX, 0, -1];
        assert_eq!(
            sort_by_time(&extremes, &[1, 2, 3, 4]).unwrap(),
            reference(&extremes, &[1, 2, 3, 4])
        );
    }

    #[test]
    fn misaligned_parts_are_refused() {
        assert!(matches!(
            sort_by_time(&[1, 2], &[1]),
            Err(KernelError::Parts(_))
        ));
        assert_eq!(sort_by_time(&[], &[]).unwrap(), (vec![], vec![]));
    }
}
