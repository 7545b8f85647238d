//! Shared conversions: numpy parts to slices, core errors to KernelError subclasses.

use numpy::{Element, PyReadonlyArray1};
use pyo3::PyErr;

pyo3::import_exception!(cohortd.errors, KernelPartsError);
pyo3::import_exception!(cohortd.errors, KernelRangeError);
pyo3::import_exception!(cohortd.errors, KernelArgumentError);

/// Each kind of core error raises its own `cohortd.errors.KernelError` subclass.
pub(crate) fn kernel_err(e: cohortd_core::KernelError) -> PyErr {
    use cohortd_core::KernelError as K;
    match e {
        K::Parts(m) => KernelPartsError::new_err(m),
        K::OutOfRange(m) => KernelRangeError::new_err(m),
        K::Argument(m) => KernelArgumentError::new_err(m),
    }
}

/// Borrows one array as a slice; a non-contiguous array is a caller error.
pub(crate) fn slice<'a, T: Element>(
    a: &'a PyReadonlyArray1<'_, T>,
    what: &str,
) -> Result<&'a [T], PyErr> {
    a.as_slice()
        .map_err(|_| KernelPartsError::new_err(format!("{what} is not a contiguous array")))
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
                KernelPartsError::new_err(format!("{what} part {i} is not a contiguous array"))
            })
        })
        .collect()
}
