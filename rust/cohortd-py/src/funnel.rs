use crate::common::{kernel_err, slices};
use cohortd_core::sequence::StepParts;
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;

type PyStep<'py> = (
    Vec<PyReadonlyArray1<'py, u32>>,
    Vec<PyReadonlyArray1<'py, i64>>,
);

type Entrants<'py> = (Bound<'py, PyArray1<u32>>, Bound<'py, PyArray1<i64>>);

/// (entrant users, per-step shortest conversion times row-major, -1 = not reached).
#[pyfunction]
pub fn funnel<'py>(
    py: Python<'py>,
    steps: Vec<PyStep<'py>>,
    entry_start: i64,
    entry_end: i64,
    as_of: i64,
    window: i64,
    n_users: usize,
) -> PyResult<Entrants<'py>> {
    let mut borrowed = Vec::with_capacity(steps.len());
    for (j, (users, times)) in steps.iter().enumerate() {
        borrowed.push((
            slices(users, &format!("step {j} users"))?,
            slices(times, &format!("step {j} times"))?,
        ));
    }
    let parts: Vec<StepParts<'_>> = borrowed
        .iter()
        .map(|(u, t)| (u.as_slice(), t.as_slice()))
        .collect();
    let f = py
        .allow_threads(|| {
            cohortd_core::funnel::funnel(&parts, entry_start, entry_end, as_of, window, n_users)
        })
        .map_err(kernel_err)?;
    Ok((f.users.into_pyarray(py), f.times.into_pyarray(py)))
}
