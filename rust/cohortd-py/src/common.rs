//! Shared conversions: numpy parts to slices, core errors to KernelError.

use numpy::{Element, PyReadonlyArray1};
use pyo3::PyErr;

pyo3::import_exception!(cohortd.errors, KernelError);

pub(crate) fn kernel_err(e: cohortd_core::KernelError) -> PyErr {
    KernelError::new_err(e.0)
}

/// Borrows each part as a slice; a non-contiguous part is a caller error.
pub(crate) fn slices<'a, T: Element>(
    parts: &'a [PyReadonlyArray1<'_, T>],
    what: &str,
) -> Result<Vec<&'a [T]>, PyErr> {
    parts
        .iter()
        .enumerate()
        .map(|(i, a)| {
            a.as_slice().map_err(|_| {
                KernelError::new_err(format!("{what} part {i} is not a contiguous array"))
            })
        })
        .collect()
}
