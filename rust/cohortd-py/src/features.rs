use crate::common::{kernel_err, slices};
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;

type CsrArrays<'py> = (
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<i32>>,
    Bound<'py, PyArray1<u32>>,
);

/// Per-user counts by event type in the window, as CSR `(indptr, indices, data)`.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub fn user_type_counts<'py>(
    py: Python<'py>,
    users: Vec<PyReadonlyArray1<'py, u32>>,
    types: Vec<PyReadonlyArray1<'py, u32>>,
    times: Vec<PyReadonlyArray1<'py, i64>>,
    start: i64,
    end: i64,
    row_of_user: PyReadonlyArray1<'py, i32>,
    col_of_type: PyReadonlyArray1<'py, i32>,
    n_rows: usize,
    n_cols: usize,
) -> PyResult<CsrArrays<'py>> {
    let (u, y, t) = (
        slices(&users, "users")?,
        slices(&types, "types")?,
        slices(&times, "times")?,
    );
    let rows = slices(std::slice::from_ref(&row_of_user), "row_of_user")?[0];
    let cols = slices(std::slice::from_ref(&col_of_type), "col_of_type")?[0];
    let m = py
        .allow_threads(|| {
            cohortd_core::user_type_counts(&u, &y, &t, start, end, rows, cols, n_rows, n_cols)
        })
        .map_err(kernel_err)?;
    Ok((
        m.indptr.into_pyarray(py),
        m.indices.into_pyarray(py),
        m.data.into_pyarray(py),
    ))
}
