//! What an incremental maintenance step looks up: its users' rows, and edge times in time order.

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

type TimesUsers<'py> = (Bound<'py, PyArray1<i64>>, Bound<'py, PyArray1<u32>>);

/// `times` and `users` (aligned) reordered by time, ties by user.
#[pyfunction]
pub fn sort_by_time<'py>(
    py: Python<'py>,
    times: PyReadonlyArray1<'py, i64>,
    users: PyReadonlyArray1<'py, u32>,
) -> PyResult<TimesUsers<'py>> {
    let (t, u) = (slice(&times, "times")?, slice(&users, "users")?);
    let (t, u) = sized(py, t.len(), || cohortd_core::sort_by_time(t, u)).map_err(kernel_err)?;
    Ok((t.into_pyarray(py), u.into_pyarray(py)))
}
