use crate::common::{kernel_err, slices};
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;

/// Distinct int64 values per user in the window.
#[pyfunction]
pub fn distinct<'py>(
    py: Python<'py>,
    users: Vec<PyReadonlyArray1<'py, u32>>,
    times: Vec<PyReadonlyArray1<'py, i64>>,
    values: Vec<PyReadonlyArray1<'py, i64>>,
    start: i64,
    end: i64,
    n_users: usize,
) -> PyResult<Bound<'py, PyArray1<u32>>> {
    let (u, t, v) = (
        slices(&users, "users")?,
        slices(&times, "times")?,
        slices(&values, "values")?,
    );
    let out = py
        .allow_threads(|| cohortd_core::distinct(&u, &t, &v, start, end, n_users))
        .map_err(kernel_err)?;
    Ok(out.into_pyarray(py))
}

/// Distinct `floor((t - origin) / period)` per user in the window.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub fn distinct_buckets<'py>(
    py: Python<'py>,
    users: Vec<PyReadonlyArray1<'py, u32>>,
    times: Vec<PyReadonlyArray1<'py, i64>>,
    start: i64,
    end: i64,
    origin: i64,
    period: i64,
    n_users: usize,
) -> PyResult<Bound<'py, PyArray1<u32>>> {
    let (u, t) = (slices(&users, "users")?, slices(&times, "times")?);
    let out = py
        .allow_threads(|| {
            cohortd_core::distinct_buckets(&u, &t, start, end, origin, period, n_users)
        })
        .map_err(kernel_err)?;
    Ok(out.into_pyarray(py))
}
