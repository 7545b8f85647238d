use crate::common::{kernel_err, slices};
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;

/// Rows per user with `start <= t < end`.
#[pyfunction]
pub fn count<'py>(
    py: Python<'py>,
    users: Vec<PyReadonlyArray1<'py, u32>>,
    times: Vec<PyReadonlyArray1<'py, i64>>,
    start: i64,
    end: i64,
    n_users: usize,
) -> PyResult<Bound<'py, PyArray1<u32>>> {
    let (u, t) = (slices(&users, "users")?, slices(&times, "times")?);
    let out = py
        .allow_threads(|| cohortd_core::count(&u, &t, start, end, n_users))
        .map_err(kernel_err)?;
    Ok(out.into_pyarray(py))
}
