//! `user_type_counts`: per-user event counts by event type, as a sparse CSR matrix.
//!
//! The personas feature matrix: one row per user of a population, one column
//! per selected event type, the number of that user's events of that type in
//! a window. Built straight from the segment columns, without a per-event
//! pass in Python and without a dense users x types array.

use crate::error::{KernelError, Result};
use crate::parts::{check_lengths, check_values};
use rayon::prelude::*;

/// A compressed sparse row matrix (the layout of `scipy.sparse.csr_matrix`):
/// the entries of row `r` are `indices[indptr[r]..indptr[r + 1]]` (column
/// numbers, increasing) with values `data[..]` (event counts, all > 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Csr {
    pub indptr: Vec<i64>,
    pub indices: Vec<i32>,
    pub data: Vec<u32>,
}

/// (row, column, count) runs of one part; consecutive rows of one
/// (user, type) pair, the common case in segments sorted by (type, user,
/// time), become one entry.
fn part_triplets(
    users: &[u32],
    types: &[u32],
    times: &[i64],
    start: i64,
    end: i64,
    row_of_user: &[i32],
    col_of_type: &[i32],
) -> Result<Vec<(u32, u32, u32)>> {
    let mut out: Vec<(u32, u32, u32)> = Vec::new();
    for ((&u, &ty), &t) in users.iter().zip(types).zip(times) {
        if t < start || t >= end {
            continue;
        }
        let row = *row_of_user.get(u as usize).ok_or_else(|| {
            KernelError::OutOfRange(format!(
                "user id {u} out of range (row_of_user has {})",
                row_of_user.len()
            ))
        })?;
        let col = *col_of_type.get(ty as usize).ok_or_else(|| {
            KernelError::OutOfRange(format!(
                "event type {ty} out of range (col_of_type has {})",
                col_of_type.len()
            ))
        })?;
        if row < 0 || col < 0 {
            continue;
        }
        let (row, col) = (row as u32, col as u32);
        match out.last_mut() {
            Some(last) if last.0 == row && last.1 == col => last.2 += 1,
            _ => out.push((row, col, 1)),
        }
    }
    Ok(out)
}

/// Counts, per row and column, the rows of the parts with `start <= t < end`.
///
/// `row_of_user[user]` is the matrix row of a dense user id (`< 0`: not in
/// the population), `col_of_type[type]` the column of an event type (`< 0`:
/// not a feature). Parts carry no ordering guarantee; entries of one
/// (row, column) found in several places are summed.
#[allow(clippy::too_many_arguments)]
pub fn user_type_counts(
    users: &[&[u32]],
    types: &[&[u32]],
    times: &[&[i64]],
    start: i64,
    end: i64,
    row_of_user: &[i32],
    col_of_type: &[i32],
    n_rows: usize,
    n_cols: usize,
) -> Result<Csr> {
    check_lengths(users, times)?;
    check_values(times, types)?;
    if let Some(&r) = row_of_user
        .iter()
        .find(|&&r| r >= 0 && r as usize >= n_rows)
    {
        return Err(KernelError::OutOfRange(format!(
            "row {r} out of range (n_rows = {n_rows})"
        )));
    }
    if let Some(&c) = col_of_type
        .iter()
        .find(|&&c| c >= 0 && c as usize >= n_cols)
    {
        return Err(KernelError::OutOfRange(format!(
            "column {c} out of range (n_cols = {n_cols})"
        )));
    }
    let parts: Vec<usize> = (0..users.len()).collect();
    let runs: Vec<Vec<(u32, u32, u32)>> = parts
        .par_iter()
        .map(|&i| {
            part_triplets(
                users[i],
                types[i],
                times[i],
                start,
                end,
                row_of_user,
                col_of_type,
            )
        })
        .collect::<Result<_>>()?;

    // Counting sort of the runs by row, then per row by column with duplicates summed.
    let mut starts = vec![0i64; n_rows + 1];
    for &(row, _, _) in runs.iter().flatten() {
        starts[row as usize + 1] += 1;
    }
    for r in 0..n_rows {
        starts[r + 1] += starts[r];
    }
    let total = starts[n_rows] as usize;
    let mut slots: Vec<(u32, u32)> = vec![(0, 0); total];
    let mut fill: Vec<i64> = starts[..n_rows].to_vec();
    for &(row, col, n) in runs.iter().flatten() {
        let at = &mut fill[row as usize];
        slots[*at as usize] = (col, n);
        *at += 1;
    }
    drop(runs);
    let mut indptr = Vec::with_capacity(n_rows + 1);
    let mut indices = Vec::with_capacity(total);
    let mut data = Vec::with_capacity(total);
    indptr.push(0i64);
    for r in 0..n_rows {
        let row = &mut slots[starts[r] as usize..starts[r + 1] as usize];
        row.sort_unstable_by_key(|&(col, _)| col);
        let first = data.len();
        for &(col, n) in row.iter() {
            if data.len() > first && *indices.last().unwrap() == col as i32 {
                *data.last_mut().unwrap() += n;
            } else {
                indices.push(col as i32);
                data.push(n);
            }
        }
        indptr.push(data.len() as i64);
    }
    Ok(Csr {
        indptr,
        indices,
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dense(m: &Csr, n_cols: usize) -> Vec<Vec<u32>> {
        (0..m.indptr.len() - 1)
            .map(|r| {
                let mut row = vec![0; n_cols];
                for k in m.indptr[r] as usize..m.indptr[r + 1] as usize {
                    row[m.indices[k] as usize] = m.data[k];
                }
                row
            })
            .collect()
    }

    #[test]
    fn counts_by_row_and_column_in_the_window() {
        // user 0 -> row 1, user 1 -> row 0, user 2 outside the population
        let users: &[u32] = &[0, 0, 1, 2, 0, 1];
        let types: &[u32] = &[0, 0, 0, 0, 1, 2];
        let times: &[i64] = &[5, 10, 10, 10, 10, 30];
        let m = user_type_counts(
            &[users],
            &[types],
            &[times],
            0,
            20,
            &[1, 0, -1],
            &[0, 1, -1],
            2,
            2,
        )
        .unwrap();
        assert_eq!(dense(&m, 2), vec![vec![1, 0], vec![2, 1]]);
        assert_eq!(m.indptr, vec![0, 1, 3]);
    }

    #[test]
    fn sums_duplicates_across_parts_and_out_of_order_rows() {
        let (u1, y1, t1): (&[u32], &[u32], &[i64]) = (&[0, 1, 0], &[1, 0, 1], &[1, 1, 1]);
        let (u2, y2, t2): (&[u32], &[u32], &[i64]) = (&[0, 0], &[0, 1], &[2, 2]);
        let m = user_type_counts(
            &[u1, u2],
            &[y1, y2],
            &[t1, t2],
            i64::MIN,
            i64::MAX,
            &[0, 1],
            &[0, 1],
            2,
            2,
        )
        .unwrap();
        assert_eq!(dense(&m, 2), vec![vec![1, 3], vec![1, 0]]);
        assert_eq!(m.indices, vec![0, 1, 0]); // columns increase within a row
    }

    #[test]
    fn rejects_inconsistent_input() {
        let u: &[u32] = &[3];
        let y: &[u32] = &[0];
        let t: &[i64] = &[0];
        assert!(user_type_counts(&[u], &[y], &[t], 0, 1, &[0, 0], &[0], 1, 1).is_err());
        assert!(user_type_counts(&[u], &[y], &[], 0, 1, &[0; 4], &[0], 1, 1).is_err());
        assert!(user_type_counts(&[u], &[y], &[t], 0, 1, &[0, 0, 0, 5], &[0], 1, 1).is_err());
        assert!(user_type_counts(&[u], &[y], &[t], 0, 1, &[0; 4], &[2], 1, 1).is_err());
    }
}
