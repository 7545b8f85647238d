use crate::common::{kernel_err, rows, sized, slices};
use cohortd_core::sequence::StepParts;
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;

type PyStep<'py> = (
    Vec<PyReadonlyArray1<'py, u32>>,
    Vec<PyReadonlyArray1<'py, i64>>,
);

/// Each step's parts borrowed as slices.
type Borrowed<'a> = Vec<(Vec<&'a [u32]>, Vec<&'a [i64]>)>;

fn borrow<'a>(steps: &'a [PyStep<'_>]) -> PyResult<Borrowed<'a>> {
    let mut borrowed = Vec::with_capacity(steps.len());
    for (j, (users, times)) in steps.iter().enumerate() {
        borrowed.push((
            slices(users, &format!("step {j} users"))?,
            slices(times, &format!("step {j} times"))?,
        ));
    }
    Ok(borrowed)
}

/// Users with one event per step, strictly increasing times, in the window, within `within`.
#[pyfunction]
pub fn sequence<'py>(
    py: Python<'py>,
    steps: Vec<PyStep<'py>>,
    start: i64,
    end: i64,
    within: i64,
    n_users: usize,
) -> PyResult<Bound<'py, PyArray1<bool>>> {
    let borrowed = borrow(&steps)?;
    let parts: Vec<StepParts<'_>> = borrowed
        .iter()
        .map(|(u, t)| (u.as_slice(), t.as_slice()))
        .collect();
    let out = py
        .allow_threads(|| cohortd_core::sequence(&parts, start, end, within, n_users))
        .map_err(kernel_err)?;
    Ok(out.into_pyarray(py))
}

/// Sorted ids of the users with a matching chain (the sparse `sequence`).
#[pyfunction]
pub fn sequence_sparse<'py>(
    py: Python<'py>,
    steps: Vec<PyStep<'py>>,
    start: i64,
    end: i64,
    within: i64,
) -> PyResult<Bound<'py, PyArray1<u32>>> {
    let borrowed = borrow(&steps)?;
    let parts: Vec<StepParts<'_>> = borrowed
        .iter()
        .map(|(u, t)| (u.as_slice(), t.as_slice()))
        .collect();
    let n = parts.iter().map(|(u, _)| rows(u)).sum();
    let out = sized(py, n, || {
        cohortd_core::sequence_sparse(&parts, start, end, within)
    })
    .map_err(kernel_err)?;
    Ok(out.into_pyarray(py))
}
