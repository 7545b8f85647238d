//! `aggregate`: sum / min / max of float values per user inside a window.
//!
//! Sequential on purpose: float results depend on the order of operations,
//! and the Numba kernel must agree bit for bit, so rows are visited in part
//! order then row order.

use crate::error::{KernelError, Result};
use crate::parts::{check_lengths, check_values, out_of_range, FloatParts};
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggFunc {
    Sum,
    Min,
    Max,
}

impl FromStr for AggFunc {
    type Err = KernelError;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "sum" => Ok(AggFunc::Sum),
            "min" => Ok(AggFunc::Min),
            "max" => Ok(AggFunc::Max),
            _ => Err(KernelError::Argument(format!(
                "unknown aggregate function {s:?}; expected sum, min or max"
            ))),
        }
    }
}

/// Per user: the aggregate of `values` over rows with `start <= t < end`, and
/// the number of such rows. Users with no row get `(0.0, 0)`. Min and max
/// replace the current value only on a strict comparison, so the first value
/// seen wins ties (and a NaN is only ever kept if it came first).
pub fn aggregate(
    users: &[&[u32]],
    times: &[&[i64]],
    values: &[&[f64]],
    start: i64,
    end: i64,
    n_users: usize,
    func: AggFunc,
) -> Result<(Vec<f64>, Vec<u32>)> {
    check_lengths(users, times)?;
    check_values(times, values)?;
    let parts = (users, times, values);
    // One monomorphised loop per function: no per-row dispatch.
    match func {
        AggFunc::Sum => fold(parts, start, end, n_users, |a, _, v| *a += v),
        AggFunc::Min => fold(parts, start, end, n_users, |a, seen, v| {
            if seen == 0 || v < *a {
                *a = v
            }
        }),
        AggFunc::Max => fold(parts, start, end, n_users, |a, seen, v| {
            if seen == 0 || v > *a {
                *a = v
            }
        }),
    }
}

/// Visits in-window rows in part order then row order; `step` gets the
/// user's accumulator, how many values it has seen so far, and the value.
fn fold(
    (users, times, values): FloatParts<'_>,
    start: i64,
    end: i64,
    n_users: usize,
    step: impl Fn(&mut f64, u32, f64),
) -> Result<(Vec<f64>, Vec<u32>)> {
    let mut acc = vec![0.0f64; n_users];
    let mut n = vec![0u32; n_users];
    for ((u, t), v) in users.iter().zip(times).zip(values) {
        for ((&id, &time), &value) in u.iter().zip(*t).zip(*v) {
            let i = id as usize;
            if i >= n_users {
                return Err(out_of_range(id, n_users));
            }
            if start <= time && time < end {
                step(&mut acc[i], n[i], value);
                n[i] = n[i].wrapping_add(1);
            }
        }
    }
    Ok((acc, n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(func: &str) -> (Vec<f64>, Vec<u32>) {
        let (u1, t1, v1): (&[u32], &[i64], &[f64]) = (&[0, 0, 1], &[5, 6, 7], &[1.5, -2.0, 3.0]);
        let (u2, t2, v2): (&[u32], &[i64], &[f64]) = (&[0, 1], &[20, 8], &[100.0, -1.0]);
        aggregate(
            &[u1, u2],
            &[t1, t2],
            &[v1, v2],
            0,
            10,
            3,
            func.parse().unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn sum_min_max() {
        assert_eq!(run("sum"), (vec![-0.5, 2.0, 0.0], vec![2, 2, 0]));
        assert_eq!(run("min"), (vec![-2.0, -1.0, 0.0], vec![2, 2, 0]));
        assert_eq!(run("max"), (vec![1.5, 3.0, 0.0], vec![2, 2, 0]));
    }

    #[test]
    fn sum_is_in_row_order() {
        // (1e16 + 1) + 1 == 1e16 in f64, while 1e16 + (1 + 1) would not be.
        let users: &[u32] = &[0, 0, 0];
        let times: &[i64] = &[0, 0, 0];
        let values: &[f64] = &[1e16, 1.0, 1.0];
        let (s, _) = aggregate(&[users], &[times], &[values], 0, 1, 1, AggFunc::Sum).unwrap();
        assert_eq!(s[0], 1e16);
    }

    #[test]
    fn rejects_bad_func_and_lengths() {
        assert!("avg".parse::<AggFunc>().is_err());
        assert!(aggregate(&[&[0]], &[&[0]], &[&[]], 0, 1, 1, AggFunc::Sum).is_err());
    }
}
