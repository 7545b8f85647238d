use crate::common::{kernel_err, slices};
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;

/// The `nth` earliest `t < end` per user (`2**63 - 1` when fewer rows).
#[pyfunction]
pub fn nth_time<'py>(
    py: Python<'py>,
    users: Vec<PyReadonlyArray1<'py, u32>>,
    times: Vec<PyReadonlyArray1<'py, i64>>,
    end: i64,
    nth: u64,
    n_users: usize,
) -> PyResult<Bound<'py, PyArray1<i64>>> {
    let (u, t) = (slices(&users, "users")?, slices(&times, "times")?);
    let out = py
        .allow_threads(|| cohortd_core::nth_time(&u, &t, end, nth, n_users))
        .map_err(kernel_err)?;
    Ok(out.into_pyarray(py))
}
