//! `PartList`: one event type's parts (zero-copy references to the segments'
//! numpy arrays) and their time bounds, built once per data version; each
//! method evaluates one condition over the parts its window overlaps.

use crate::common::{kernel_err, slices, KernelPartsError};
use crate::sparse::{aggregate_parts, count_parts};
use cohortd_core::{AggFunc, PartBounds, Threshold};
use numpy::{IntoPyArray, PyArray1, PyArrayMethods, PyReadonlyArray1, PyUntypedArrayMethods};
use pyo3::prelude::*;

type Ids<'py> = Bound<'py, PyArray1<u32>>;

#[pyclass(frozen, module = "cohortd._native")]
pub struct PartList {
    users: Vec<Py<PyArray1<u32>>>,
    times: Vec<Py<PyArray1<i64>>>,
    values: Option<Vec<Py<PyArray1<f64>>>>,
    bounds: PartBounds,
}

fn contiguous<T: numpy::Element>(parts: &[Bound<'_, PyArray1<T>>], what: &str) -> PyResult<()> {
    match parts.iter().position(|a| !a.is_contiguous()) {
        Some(i) => Err(KernelPartsError::new_err(format!(
            "{what} part {i} is not a contiguous array"
        ))),
        None => Ok(()),
    }
}

/// Read-only borrows of the parts `sel` of `parts`.
fn borrow<'py, T: numpy::Element>(
    py: Python<'py>,
    parts: &[Py<PyArray1<T>>],
    sel: &[usize],
) -> PyResult<Vec<PyReadonlyArray1<'py, T>>> {
    sel.iter()
        .map(|&i| Ok(parts[i].bind(py).try_readonly()?))
        .collect()
}

impl PartList {
    fn rows_of(&self, py: Python<'_>, sel: &[usize]) -> usize {
        sel.iter().map(|&i| self.users[i].bind(py).len()).sum()
    }
}

#[pymethods]
impl PartList {
    #[new]
    #[pyo3(signature = (users, times, min_times, max_times, values=None))]
    fn new(
        users: Vec<Bound<'_, PyArray1<u32>>>,
        times: Vec<Bound<'_, PyArray1<i64>>>,
        min_times: Vec<i64>,
        max_times: Vec<i64>,
        values: Option<Vec<Bound<'_, PyArray1<f64>>>>,
    ) -> PyResult<Self> {
        contiguous(&users, "users")?;
        contiguous(&times, "times")?;
        let n = users.len();
        let aligned = |len: usize, i: usize| users[i].len() == len;
        if times.len() != n || !times.iter().enumerate().all(|(i, t)| aligned(t.len(), i)) {
            return Err(KernelPartsError::new_err(
                "users and times parts are not aligned",
            ));
        }
        if let Some(v) = &values {
            contiguous(v, "values")?;
            if v.len() != n || !v.iter().enumerate().all(|(i, x)| aligned(x.len(), i)) {
                return Err(KernelPartsError::new_err(
                    "values parts are not aligned with the users",
                ));
            }
        }
        let bounds = PartBounds::new(min_times, max_times).map_err(kernel_err)?;
        if bounds.len() != n {
            return Err(KernelPartsError::new_err(format!(
                "{} parts but {} time bounds",
                n,
                bounds.len()
            )));
        }
        Ok(Self {
            users: users.into_iter().map(Bound::unbind).collect(),
            times: times.into_iter().map(Bound::unbind).collect(),
            values: values.map(|v| v.into_iter().map(Bound::unbind).collect()),
            bounds,
        })
    }

    fn __len__(&self) -> usize {
        self.users.len()
    }

    /// Rows of the parts that `[start, end)` overlaps (what an evaluation touches).
    fn rows(&self, py: Python<'_>, start: i64, end: i64) -> usize {
        self.rows_of(py, &self.bounds.overlapping(start, end))
    }

    /// `count_sparse` over the overlapping parts: sorted ids and row counts.
    fn count_sparse<'py>(
        &self,
        py: Python<'py>,
        start: i64,
        end: i64,
    ) -> PyResult<(Ids<'py>, Ids<'py>)> {
        let sel = self.bounds.overlapping(start, end);
        let (users, times) = (
            borrow(py, &self.users, &sel)?,
            borrow(py, &self.times, &sel)?,
        );
        count_parts(py, &users, &times, start, end)
    }

    /// `aggregate_sparse` over the overlapping parts: sorted ids, `func` of the values, counts.
    fn aggregate_sparse<'py>(
        &self,
        py: Python<'py>,
        start: i64,
        end: i64,
        func: &str,
    ) -> PyResult<(Ids<'py>, Bound<'py, PyArray1<f64>>, Ids<'py>)> {
        let func: AggFunc = func.parse().map_err(kernel_err)?;
        let Some(values) = &self.values else {
            return Err(KernelPartsError::new_err("this part list holds no values"));
        };
        let sel = self.bounds.overlapping(start, end);
        let (users, times) = (
            borrow(py, &self.users, &sel)?,
            borrow(py, &self.times, &sel)?,
        );
        let vals = borrow(py, values, &sel)?;
        aggregate_parts(py, &users, &times, &vals, start, end, func)
    }

    /// Sorted ids of the users whose row count in the window passes `op lo` (`between`: up to `hi`).
    fn count_members<'py>(
        &self,
        py: Python<'py>,
        start: i64,
        end: i64,
        op: &str,
        lo: f64,
        hi: f64,
    ) -> PyResult<Ids<'py>> {
        let threshold = Threshold::new(op, lo, hi).map_err(kernel_err)?;
        let sel = self.bounds.overlapping(start, end);
        let (users, times) = (
            borrow(py, &self.users, &sel)?,
            borrow(py, &self.times, &sel)?,
        );
        let (u, t) = (slices(&users, "users")?, slices(&times, "times")?);
        let ids = py
            .allow_threads(|| cohortd_core::count_members(&u, &t, start, end, threshold))
            .map_err(kernel_err)?;
        Ok(ids.into_pyarray(py))
    }

    /// Sorted ids of the users whose `func` (`sum`, `min`, `max`, or `avg`: the sum over the
    /// count) of the values in the window passes `op lo` (`between`: up to `hi`).
    #[allow(clippy::too_many_arguments)]
    fn aggregate_members<'py>(
        &self,
        py: Python<'py>,
        start: i64,
        end: i64,
        func: &str,
        op: &str,
        lo: f64,
        hi: f64,
    ) -> PyResult<Ids<'py>> {
        let mean = func == "avg";
        let func: AggFunc = if mean { "sum" } else { func }
            .parse()
            .map_err(kernel_err)?;
        let threshold = Threshold::new(op, lo, hi).map_err(kernel_err)?;
        let Some(values) = &self.values else {
            return Err(KernelPartsError::new_err("this part list holds no values"));
        };
        let sel = self.bounds.overlapping(start, end);
        let (users, times, vals) = (
            borrow(py, &self.users, &sel)?,
            borrow(py, &self.times, &sel)?,
            borrow(py, values, &sel)?,
        );
        let (u, t, v) = (
            slices(&users, "users")?,
            slices(&times, "times")?,
            slices(&vals, "values")?,
        );
        let ids = py
            .allow_threads(|| {
                cohortd_core::aggregate_members(&u, &t, &v, start, end, func, mean, threshold)
            })
            .map_err(kernel_err)?;
        Ok(ids.into_pyarray(py))
    }
}
