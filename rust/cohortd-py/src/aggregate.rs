use crate::common::{kernel_err, slices};
use cohortd_core::AggFunc;
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;

type Aggregated<'py> = (Bound<'py, PyArray1<f64>>, Bound<'py, PyArray1<u32>>);

/// `func` ("sum" | "min" | "max") of values per user in the window, plus row counts.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub fn aggregate<'py>(
    py: Python<'py>,
    users: Vec<PyReadonlyArray1<'py, u32>>,
    times: Vec<PyReadonlyArray1<'py, i64>>,
    values: Vec<PyReadonlyArray1<'py, f64>>,
    start: i64,
    end: i64,
    n_users: usize,
    func: &str,
) -> PyResult<Aggregated<'py>> {
    let func: AggFunc = func.parse().map_err(kernel_err)?;
    let (u, t, v) = (
        slices(&users, "users")?,
        slices(&times, "times")?,
        slices(&values, "values")?,
    );
    let (acc, n) = py
        .allow_threads(|| cohortd_core::aggregate(&u, &t, &v, start, end, n_users, func))
        .map_err(kernel_err)?;
    Ok((acc.into_pyarray(py), n.into_pyarray(py)))
}
