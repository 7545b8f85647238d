use crate::common::{kernel_err, slices};
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;

/// Per user, the number of buckets whose in-window row count is in `[lo, hi]`.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub fn bucket_counts_reaching<'py>(
    py: Python<'py>,
    users: Vec<PyReadonlyArray1<'py, u32>>,
    times: Vec<PyReadonlyArray1<'py, i64>>,
    start: i64,
    end: i64,
    origin: i64,
    period: i64,
    lo: u64,
    hi: u64,
    n_users: usize,
) -> PyResult<Bound<'py, PyArray1<u32>>> {
    let (u, t) = (slices(&users, "users")?, slices(&times, "times")?);
    let out = py
        .allow_threads(|| {
            cohortd_core::bucket_counts_reaching(
                &u, &t, start, end, origin, period, lo, hi, n_users,
            )
        })
        .map_err(kernel_err)?;
    Ok(out.into_pyarray(py))
}

/// Rows per user inside that user's own `[starts[u], ends[u])`.
#[pyfunction]
pub fn count_per_user_window<'py>(
    py: Python<'py>,
    users: Vec<PyReadonlyArray1<'py, u32>>,
    times: Vec<PyReadonlyArray1<'py, i64>>,
    starts: PyReadonlyArray1<'py, i64>,
    ends: PyReadonlyArray1<'py, i64>,
    n_users: usize,
) -> PyResult<Bound<'py, PyArray1<u32>>> {
    let (u, t) = (slices(&users, "users")?, slices(&times, "times")?);
    let (s, e) = (starts.as_slice()?, ends.as_slice()?);
    let out = py
        .allow_threads(|| cohortd_core::count_per_user_window(&u, &t, s, e, n_users))
        .map_err(kernel_err)?;
    Ok(out.into_pyarray(py))
}
