use crate::common::{kernel_err, slices};
use cohortd_core::AggFunc;
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;

type Ids<'py> = Bound<'py, PyArray1<u32>>;

/// Sorted ids of the users with a row in the window, and their row counts.
#[pyfunction]
pub fn count_sparse<'py>(
    py: Python<'py>,
    users: Vec<PyReadonlyArray1<'py, u32>>,
    times: Vec<PyReadonlyArray1<'py, i64>>,
    start: i64,
    end: i64,
) -> PyResult<(Ids<'py>, Ids<'py>)> {
    let (u, t) = (slices(&users, "users")?, slices(&times, "times")?);
    let (ids, counts) = py
        .allow_threads(|| cohortd_core::count_sparse(&u, &t, start, end))
        .map_err(kernel_err)?;
    Ok((ids.into_pyarray(py), counts.into_pyarray(py)))
}

/// Sorted ids of the users with a row in the window, `func` of their values, row counts.
#[pyfunction]
pub fn aggregate_sparse<'py>(
    py: Python<'py>,
    users: Vec<PyReadonlyArray1<'py, u32>>,
    times: Vec<PyReadonlyArray1<'py, i64>>,
    values: Vec<PyReadonlyArray1<'py, f64>>,
    start: i64,
    end: i64,
    func: &str,
) -> PyResult<(Ids<'py>, Bound<'py, PyArray1<f64>>, Ids<'py>)> {
    let func: AggFunc = func.parse().map_err(kernel_err)?;
    let (u, t, v) = (
        slices(&users, "users")?,
        slices(&times, "times")?,
        slices(&values, "values")?,
    );
    let (ids, acc, n) = py
        .allow_threads(|| cohortd_core::aggregate_sparse(&u, &t, &v, start, end, func))
        .map_err(kernel_err)?;
    Ok((
        ids.into_pyarray(py),
        acc.into_pyarray(py),
        n.into_pyarray(py),
    ))
}
