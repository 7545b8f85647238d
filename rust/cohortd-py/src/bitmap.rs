//! Dense results straight to serialized roaring bitmaps (`pyroaring.BitMap.deserialize`).

use crate::common::{kernel_err, slices};
use numpy::PyReadonlyArray1;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

fn contiguous<'a, T: numpy::Element>(
    a: &'a PyReadonlyArray1<'_, T>,
    what: &str,
) -> PyResult<&'a [T]> {
    a.as_slice()
        .map_err(|_| PyTypeError::new_err(format!("{what} must be a contiguous array")))
}

/// Ids where `mask` and `known` are both true, serialized.
#[pyfunction]
pub fn mask_to_bitmap<'py>(
    py: Python<'py>,
    mask: PyReadonlyArray1<'py, bool>,
    known: PyReadonlyArray1<'py, bool>,
) -> PyResult<Bound<'py, PyBytes>> {
    let (m, k) = (contiguous(&mask, "mask")?, contiguous(&known, "known")?);
    let out = py
        .allow_threads(|| cohortd_core::mask_and_known_bytes(m, k))
        .map_err(kernel_err)?;
    Ok(PyBytes::new(py, &out))
}

/// Users with a row in `[start, end)`, serialized.
#[pyfunction]
pub fn users_in_window<'py>(
    py: Python<'py>,
    users: Vec<PyReadonlyArray1<'py, u32>>,
    times: Vec<PyReadonlyArray1<'py, i64>>,
    start: i64,
    end: i64,
    n_users: usize,
) -> PyResult<Bound<'py, PyBytes>> {
    let (u, t) = (slices(&users, "users")?, slices(&times, "times")?);
    let out = py
        .allow_threads(|| {
            cohortd_core::users_in_window(&u, &t, start, end, n_users).map(|b| b.to_roaring_bytes())
        })
        .map_err(kernel_err)?;
    Ok(PyBytes::new(py, &out))
}

/// Members of a percentile over an integer metric (see `cohortd_core::top_members`), serialized.
#[pyfunction]
pub fn top_members<'py>(
    py: Python<'py>,
    metric: PyReadonlyArray1<'py, u32>,
    known: PyReadonlyArray1<'py, bool>,
    rank: u64,
) -> PyResult<Bound<'py, PyBytes>> {
    let (m, k) = (contiguous(&metric, "metric")?, contiguous(&known, "known")?);
    let out = py
        .allow_threads(|| cohortd_core::top_members(m, k, rank).map(|b| b.to_roaring_bytes()))
        .map_err(kernel_err)?;
    Ok(PyBytes::new(py, &out))
}
