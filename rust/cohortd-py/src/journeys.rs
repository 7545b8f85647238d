use crate::common::{kernel_err, slices};
use cohortd_core::journeys::Around;
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;

type Paths<'py> = (
    Bound<'py, PyArray1<u32>>,
    Bound<'py, PyArray1<u32>>,
    Bound<'py, PyArray1<u32>>,
);

/// (anchored users, after rows, before rows nearest first), rows of `depth` type ids.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub fn journeys<'py>(
    py: Python<'py>,
    anchors: PyReadonlyArray1<'py, i64>,
    users: Vec<PyReadonlyArray1<'py, u32>>,
    times: Vec<PyReadonlyArray1<'py, i64>>,
    types: Vec<PyReadonlyArray1<'py, u32>>,
    rank: PyReadonlyArray1<'py, u32>,
    before: i64,
    after: i64,
    depth: usize,
    keep_repeats: bool,
    as_of: i64,
) -> PyResult<Paths<'py>> {
    let (u, t, y) = (
        slices(&users, "users")?,
        slices(&times, "times")?,
        slices(&types, "types")?,
    );
    let (a, r) = (anchors.as_slice()?, rank.as_slice()?);
    let around = Around {
        before,
        after,
        depth,
        keep_repeats,
        as_of,
    };
    let p = py
        .allow_threads(|| cohortd_core::journeys::journeys(a, &u, &t, &y, r, around))
        .map_err(kernel_err)?;
    Ok((
        p.users.into_pyarray(py),
        p.after.into_pyarray(py),
        p.before.into_pyarray(py),
    ))
}

/// Earliest `t` with `after[u] < t < end` per user (`2**63 - 1` when none).
#[pyfunction]
pub fn next_after<'py>(
    py: Python<'py>,
    after: PyReadonlyArray1<'py, i64>,
    users: Vec<PyReadonlyArray1<'py, u32>>,
    times: Vec<PyReadonlyArray1<'py, i64>>,
    end: i64,
) -> PyResult<Bound<'py, PyArray1<i64>>> {
    let (u, t) = (slices(&users, "users")?, slices(&times, "times")?);
    let a = after.as_slice()?;
    let out = py
        .allow_threads(|| cohortd_core::journeys::next_after(a, &u, &t, end))
        .map_err(kernel_err)?;
    Ok(out.into_pyarray(py))
}
