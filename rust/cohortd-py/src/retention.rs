use crate::common::{kernel_err, slices};
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;

type Counts<'py> = (
    Bound<'py, PyArray1<u64>>,
    Bound<'py, PyArray1<u64>>,
    Bound<'py, PyArray1<u64>>,
);

/// Earliest `t` in `[start, end)` per user (`2**63 - 1` when none).
#[pyfunction]
pub fn first_in_window<'py>(
    py: Python<'py>,
    users: Vec<PyReadonlyArray1<'py, u32>>,
    times: Vec<PyReadonlyArray1<'py, i64>>,
    start: i64,
    end: i64,
    n_users: usize,
) -> PyResult<Bound<'py, PyArray1<i64>>> {
    let (u, t) = (slices(&users, "users")?, slices(&times, "times")?);
    let out = py
        .allow_threads(|| cohortd_core::retention::first_in_window(&u, &t, start, end, n_users))
        .map_err(kernel_err)?;
    Ok(out.into_pyarray(py))
}

/// (users, retained, retained_unbounded) per period for the users with a start.
#[pyfunction]
pub fn retention_curve<'py>(
    py: Python<'py>,
    starts: PyReadonlyArray1<'py, i64>,
    users: Vec<PyReadonlyArray1<'py, u32>>,
    times: Vec<PyReadonlyArray1<'py, i64>>,
    as_of: i64,
    period: i64,
    n_periods: usize,
) -> PyResult<Counts<'py>> {
    let (u, t) = (slices(&users, "users")?, slices(&times, "times")?);
    let s = starts.as_slice()?;
    let c = py
        .allow_threads(|| {
            cohortd_core::retention::retention_curve(s, &u, &t, as_of, period, n_periods)
        })
        .map_err(kernel_err)?;
    Ok((
        c.users.into_pyarray(py),
        c.retained.into_pyarray(py),
        c.retained_unbounded.into_pyarray(py),
    ))
}
