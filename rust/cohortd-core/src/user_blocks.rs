//! Per-user accumulation over rows that come in user-sorted runs, one block of users at a time.
//!
//! A segment's rows are sorted by (type, user, time), so the rows of `any` event are a few dozen
//! runs of non-decreasing user ids per part. Folding them row by row into a per-user array spread
//! over all users misses the cache on almost every row (each run sweeps the whole array). Here the
//! users are cut into blocks whose accumulator fits in L2; every run keeps a cursor, and a block
//! takes from each run the rows of its users. Blocks are independent, so groups of blocks run on
//! separate threads with no atomics and no merge, each writing its own slice of the output.

use crate::error::Result;
use crate::parts::out_of_range;
use rayon::prelude::*;

/// Bytes of a block's accumulator: a fraction of a core's L2, leaving room for the row streams.
const BLOCK_BYTES: usize = 512 << 10;
/// Rows per chunk of the parallel run-detection pass.
const SCAN_CHUNK: usize = 1 << 16;
/// Below this average run length the cursors cost more than the misses they save.
const MIN_RUN: usize = 64;
/// Below this many rows the plain loop is as fast.
const MIN_ROWS: usize = 1 << 15;
/// A per-user array smaller than this stays in L3, where the plain loop is faster (measured:
/// 1M users x 8 bytes, 4.6M rows: plain 9 ms, blocks 21 ms; 10M users x 4 bytes, 46M rows:
/// plain 480-680 ms, blocks 213 ms, CPU time on one thread).
const MIN_ARRAY_BYTES: usize = 16 << 20;

/// One run: rows `[lo, hi)` of part `part`, non-decreasing in user id.
#[derive(Clone, Copy)]
struct Run {
    part: usize,
    lo: usize,
    hi: usize,
}

/// The maximal non-decreasing runs of every part, or None when they are too short for blocks
/// to pay. Fails on a user id `>= n_users` (a run's last id is its largest).
fn sorted_runs(users: &[&[u32]], n_users: usize) -> Result<Option<Vec<Run>>> {
    let total: usize = users.iter().map(|u| u.len()).sum();
    let chunks: Vec<(usize, usize)> = users
        .iter()
        .enumerate()
        .flat_map(|(p, u)| (0..u.len()).step_by(SCAN_CHUNK).map(move |c| (p, c)))
        .collect();
    // descents (row i with u[i] < u[i-1]) found in parallel chunks, in part and row order
    let descents: Vec<(usize, usize)> = chunks
        .par_iter()
        .flat_map_iter(|&(p, c)| {
            let u = users[p];
            let hi = (c + SCAN_CHUNK).min(u.len());
            let lo = c.max(1);
            // a vectorised count first: most chunks hold no descent at all
            let (prev, this) = (&u[lo - 1..hi - 1], &u[lo..hi]);
            let any = prev
                .iter()
                .zip(this)
                .fold(0u32, |n, (a, b)| n | u32::from(b < a));
            let found = if any == 0 { lo..lo } else { lo..hi };
            found.filter(move |&i| u[i] < u[i - 1]).map(move |i| (p, i))
        })
        .collect();
    let parts = users.iter().filter(|u| !u.is_empty()).count();
    if (descents.len() + parts) * MIN_RUN > total {
        return Ok(None);
    }
    let mut runs = Vec::with_capacity(descents.len() + parts);
    let mut next = descents.iter().peekable();
    for (p, u) in users.iter().enumerate() {
        let mut lo = 0;
        while lo < u.len() {
            let hi = match next.peek() {
                Some(&&(dp, i)) if dp == p => {
                    next.next();
                    i
                }
                _ => u.len(),
            };
            if u[hi - 1] as usize >= n_users {
                return Err(out_of_range(u[hi - 1], n_users));
            }
            runs.push(Run { part: p, lo, hi });
            lo = hi;
        }
    }
    Ok(Some(runs))
}

/// Folds every row `(user, time)` into a block-local accumulator `acc[user - block start]`
/// (reset to `init` per block), then `finish(acc, out)` turns it into the block's slice of the
/// output. None when the rows are not in long user-sorted runs: the caller takes its plain path.
pub(crate) fn fold_sorted_runs<A, O, F, G>(
    users: &[&[u32]],
    times: &[&[i64]],
    n_users: usize,
    init: A,
    row: F,
    finish: G,
) -> Result<Option<Vec<O>>>
where
    A: Copy + Send + Sync,
    O: Copy + Default + Send + Sync,
    F: Fn(&mut A, i64) + Sync,
    G: Fn(&[A], &mut [O]) + Sync,
{
    let width = std::mem::size_of::<A>().max(1);
    let total: usize = users.iter().map(|u| u.len()).sum();
    if total < MIN_ROWS || n_users.saturating_mul(width) < MIN_ARRAY_BYTES {
        return Ok(None);
    }
    fold_blocks(
        users,
        times,
        n_users,
        BLOCK_BYTES / width,
        init,
        row,
        finish,
    )
}

/// `fold_sorted_runs` with a given block size (users) and no size thresholds.
fn fold_blocks<A, O, F, G>(
    users: &[&[u32]],
    times: &[&[i64]],
    n_users: usize,
    block: usize,
    init: A,
    row: F,
    finish: G,
) -> Result<Option<Vec<O>>>
where
    A: Copy + Send + Sync,
    O: Copy + Default + Send + Sync,
    F: Fn(&mut A, i64) + Sync,
    G: Fn(&[A], &mut [O]) + Sync,
{
    let Some(runs) = sorted_runs(users, n_users)? else {
        return Ok(None);
    };
    let block = block.max(1);
    let blocks = n_users.div_ceil(block);
    let groups = (rayon::current_num_threads() * 4).clamp(1, blocks.max(1));
    let blocks_per_group = blocks.div_ceil(groups.max(1)).max(1);
    let group_users = blocks_per_group * block;
    let mut out = vec![O::default(); n_users];
    out.par_chunks_mut(group_users.max(1))
        .enumerate()
        .for_each(|(g, out_group)| {
            let first = g * group_users;
            // where each run enters this group's users
            let mut cursor: Vec<usize> = runs
                .iter()
                .map(|r| {
                    r.lo + users[r.part][r.lo..r.hi].partition_point(|&id| (id as usize) < first)
                })
                .collect();
            let mut acc = vec![init; block];
            for (b, out_block) in out_group.chunks_mut(block).enumerate() {
                let base = first + b * block;
                let limit = (base + out_block.len()) as u32;
                let acc = &mut acc[..out_block.len()];
                acc.fill(init);
                for (r, c) in runs.iter().zip(cursor.iter_mut()) {
                    let (u, t) = (users[r.part], times[r.part]);
                    // a scan, not a binary search: the rows are read anyway, and a search's
                    // probes miss the cache where the scan streams
                    let mut i = *c;
                    for (&id, &time) in u[i..r.hi].iter().zip(&t[i..r.hi]) {
                        if id >= limit {
                            break;
                        }
                        row(&mut acc[id as usize - base], time);
                        i += 1;
                    }
                    *c = i;
                }
                finish(acc, out_block);
            }
        });
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(users: &[&[u32]], times: &[&[i64]], n: usize) -> Vec<u64> {
        let mut out = vec![0u64; n];
        for (u, t) in users.iter().zip(times) {
            for (&id, &time) in u.iter().zip(*t) {
                out[id as usize] += time as u64;
            }
        }
        out
    }

    #[test]
    fn blocks_agree_with_the_plain_fold() {
        let mut x: u64 = 11;
        let mut next = |m: u64| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) % m
        };
        for &(n, runs, per_run) in &[
            (5_000usize, 3usize, 20_000usize),
            (300_000, 7, 9_000),
            (70_000, 1, 40_000),
        ] {
            let mut parts_u = Vec::new();
            let mut parts_t = Vec::new();
            for _ in 0..2 {
                let mut u = Vec::new();
                for _ in 0..runs {
                    let mut run: Vec<u32> = (0..per_run).map(|_| next(n as u64) as u32).collect();
                    run.sort_unstable();
                    u.extend(run);
                }
                let t: Vec<i64> = (0..u.len()).map(|_| next(1000) as i64).collect();
                parts_u.push(u);
                parts_t.push(t);
            }
            let u: Vec<&[u32]> = parts_u.iter().map(|v| v.as_slice()).collect();
            let t: Vec<&[i64]> = parts_t.iter().map(|v| v.as_slice()).collect();
            for block in [1, 999, 4096, n + 5] {
                let got = fold_blocks(
                    &u,
                    &t,
                    n,
                    block,
                    0u64,
                    |a, t| *a += t as u64,
                    |a, o| o.copy_from_slice(a),
                )
                .unwrap()
                .expect("long runs take the blocked path");
                assert_eq!(got, plain(&u, &t, n), "block {block}");
            }
        }
    }

    #[test]
    fn short_runs_and_bad_ids() {
        let u: Vec<u32> = (0..100_000u32).rev().collect();
        let t = vec![0i64; u.len()];
        let r = fold_blocks(
            &[&u],
            &[&t],
            100_000,
            1000,
            0u32,
            |a, _| *a += 1,
            |a, o| o.copy_from_slice(a),
        );
        assert!(r.unwrap().is_none());
        let u: Vec<u32> = (0..100_000u32).collect();
        let r = fold_blocks(
            &[&u],
            &[&t],
            99_999,
            1000,
            0u32,
            |a, _| *a += 1,
            |a, o| o.copy_from_slice(a),
        );
        assert!(r.is_err());
    }
}

#[cfg(test)]
mod bench {
    use super::*;

    /// `cargo test --release -p cohortd-core user_blocks::bench -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn phases() {
        let n: usize = std::env::var("BENCH_USERS")
            .map(|v| v.parse().unwrap())
            .unwrap_or(1_000_000);
        let rows: usize = std::env::var("BENCH_ROWS")
            .map(|v| v.parse().unwrap())
            .unwrap_or(4_600_000);
        let (parts, runs) = (10usize, 40usize);
        let mut x: u64 = 5;
        let mut next = |m: u64| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) % m
        };
        let per_run = rows / parts / runs;
        let mut pu = Vec::new();
        let mut pt = Vec::new();
        for _ in 0..parts {
            let mut u = Vec::new();
            for _ in 0..runs {
                let mut r: Vec<u32> = (0..per_run).map(|_| next(n as u64) as u32).collect();
                r.sort_unstable();
                u.extend(r);
            }
            pt.push(
                (0..u.len())
                    .map(|_| next(1000) as i64)
                    .collect::<Vec<i64>>(),
            );
            pu.push(u);
        }
        let u: Vec<&[u32]> = pu.iter().map(|v| v.as_slice()).collect();
        let t: Vec<&[i64]> = pt.iter().map(|v| v.as_slice()).collect();
        // process CPU time (the machine is shared: wall time swings with load)
        let cpu = || -> f64 {
            let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
            let f: Vec<&str> = stat
                .rsplit(')')
                .next()
                .unwrap()
                .split_whitespace()
                .collect();
            (f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap()) * 10.0
        };
        let reps = 20;
        for _ in 0..2 {
            let c = cpu();
            for _ in 0..reps {
                sorted_runs(&u, n).unwrap().unwrap();
            }
            let runs_ms = (cpu() - c) / reps as f64;
            let c = cpu();
            let mut b = Vec::new();
            for _ in 0..reps {
                b = fold_blocks(
                    &u,
                    &t,
                    n,
                    BLOCK_BYTES / 4,
                    0u32,
                    |a, t| *a += u32::from(t < 500),
                    |a, o| o.copy_from_slice(a),
                )
                .unwrap()
                .unwrap();
            }
            let blocked_ms = (cpu() - c) / reps as f64;
            let c = cpu();
            let mut p = Vec::new();
            for _ in 0..reps {
                p = vec![0u32; n];
                for (uu, tt) in u.iter().zip(&t) {
                    for (&id, &time) in uu.iter().zip(*tt) {
                        p[id as usize] += u32::from(time < 500);
                    }
                }
            }
            let plain_ms = (cpu() - c) / reps as f64;
            assert_eq!(b, p);
            eprintln!("cpu ms: runs {runs_ms:.2} blocked (incl. runs) {blocked_ms:.2} plain {plain_ms:.2}");
        }
    }
}
