use crate::common::{kernel_err, sized, slice};
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;

/// Offsets of the rows of a user-sorted range whose user is in `wanted` (sorted, unique).
#[pyfunction]
pub fn rows_of_users<'py>(
    py: Python<'py>,
    users: PyReadonlyArray1<'py, u32>,
    wanted: PyReadonlyArray1<'py, u32>,
) -> PyResult<Bound<'py, PyArray1<i64>>> {
    let (u, w) = (slice(&users, "users")?, slice(&wanted, "wanted")?);
    let rows =
        sized(py, u.len() + w.len(), || cohortd_core::rows_of_users(u, w)).map_err(kernel_err)?;
    Ok(rows.into_pyarray(py))
}
