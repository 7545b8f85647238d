use crate::common::{kernel_err, rows, sized, slices};
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
    count_parts(py, &users, &times, start, end)
}

/// `count_sparse` over borrowed parts (shared with `PartList`).
pub(crate) fn count_parts<'py>(
    py: Python<'py>,
    users: &[PyReadonlyArray1<'py, u32>],
    times: &[PyReadonlyArray1<'py, i64>],
    start: i64,
    end: i64,
) -> PyResult<(Ids<'py>, Ids<'py>)> {
    let (u, t) = (slices(users, "users")?, slices(times, "times")?);
    let (ids, counts) = sized(py, rows(&u), || {
        cohortd_core::count_sparse(&u, &t, start, end)
    })
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
    aggregate_parts(py, &users, &times, &values, start, end, func)
}

/// `aggregate_sparse` over borrowed parts (shared with `PartList`).
pub(crate) fn aggregate_parts<'py>(
    py: Python<'py>,
    users: &[PyReadonlyArray1<'py, u32>],
    times: &[PyReadonlyArray1<'py, i64>],
    values: &[PyReadonlyArray1<'py, f64>],
    start: i64,
    end: i64,
    func: AggFunc,
) -> PyResult<(Ids<'py>, Bound<'py, PyArray1<f64>>, Ids<'py>)> {
    let (u, t, v) = (
        slices(users, "users")?,
        slices(times, "times")?,
        slices(values, "values")?,
    );
    let (ids, acc, n) = sized(py, rows(&u), || {
        cohortd_core::aggregate_sparse(&u, &t, &v, start, end, func)
    })
    .map_err(kernel_err)?;
    Ok((
        ids.into_pyarray(py),
        acc.into_pyarray(py),
        n.into_pyarray(py),
    ))
}

/// Sorted ids of the users with a row in the window and their distinct bucket counts.
#[pyfunction]
pub fn distinct_buckets_sparse<'py>(
    py: Python<'py>,
    users: Vec<PyReadonlyArray1<'py, u32>>,
    times: Vec<PyReadonlyArray1<'py, i64>>,
    start: i64,
    end: i64,
    origin: i64,
    period: i64,
) -> PyResult<(Ids<'py>, Ids<'py>)> {
    let (u, t) = (slices(&users, "users")?, slices(&times, "times")?);
    let (ids, counts) = sized(py, rows(&u), || {
        cohortd_core::distinct_buckets_sparse(&u, &t, start, end, origin, period)
    })
    .map_err(kernel_err)?;
    Ok((ids.into_pyarray(py), counts.into_pyarray(py)))
}

/// Sorted ids of the users with a row before `end` and their earliest time.
#[pyfunction]
pub fn first_time_sparse<'py>(
    py: Python<'py>,
    users: Vec<PyReadonlyArray1<'py, u32>>,
    times: Vec<PyReadonlyArray1<'py, i64>>,
    end: i64,
) -> PyResult<(Ids<'py>, Bound<'py, PyArray1<i64>>)> {
    let (u, t) = (slices(&users, "users")?, slices(&times, "times")?);
    let (ids, firsts) = sized(py, rows(&u), || {
        cohortd_core::first_time_sparse(&u, &t, end)
    })
    .map_err(kernel_err)?;
    Ok((ids.into_pyarray(py), firsts.into_pyarray(py)))
}

/// Sorted ids of the users with `nth` rows before `end` and their `nth` time.
#[pyfunction]
pub fn nth_time_sparse<'py>(
    py: Python<'py>,
    users: Vec<PyReadonlyArray1<'py, u32>>,
    times: Vec<PyReadonlyArray1<'py, i64>>,
    end: i64,
    nth: u64,
) -> PyResult<(Ids<'py>, Bound<'py, PyArray1<i64>>)> {
    let (u, t) = (slices(&users, "users")?, slices(&times, "times")?);
    let (ids, nths) = sized(py, rows(&u), || {
        cohortd_core::nth_time_sparse(&u, &t, end, nth)
    })
    .map_err(kernel_err)?;
    Ok((ids.into_pyarray(py), nths.into_pyarray(py)))
}
