use crate::common::{kernel_err, slices};
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;

type Order<'py> = (Bound<'py, PyArray1<i64>>, Bound<'py, PyArray1<i64>>);

/// (row order, piece starts) of parts sorted by (type, user, time), split by
/// `floor(time / period)`; None when a part is not sorted (the caller sorts).
#[pyfunction]
pub fn merge_order<'py>(
    py: Python<'py>,
    types: Vec<PyReadonlyArray1<'py, u32>>,
    users: Vec<PyReadonlyArray1<'py, u32>>,
    times: Vec<PyReadonlyArray1<'py, i64>>,
    period: i64,
) -> PyResult<Option<Order<'py>>> {
    let (y, u, t) = (
        slices(&types, "types")?,
        slices(&users, "users")?,
        slices(&times, "times")?,
    );
    let out = py
        .allow_threads(|| cohortd_core::merge_order(&y, &u, &t, period))
        .map_err(kernel_err)?;
    Ok(out.map(|m| (m.order.into_pyarray(py), m.starts.into_pyarray(py))))
}
