//! Shared conversions: numpy parts to slices, core errors to KernelError subclasses.

use numpy::{Element, PyReadonlyArray1};
use pyo3::{PyErr, Python};

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

/// Rows below which a kernel keeps the GIL (a few hundred microseconds of work at most).
const HOLD_GIL_BELOW: usize = 1 << 18;

/// Runs `work` over `rows` rows, releasing the GIL only when it is big enough to be worth it:
/// getting the GIL back from a thread busy in Python can take the whole switch interval
/// (5 ms), far longer than the small lookups and sparse kernels of an incremental step.
pub(crate) fn sized<T: Send>(py: Python<'_>, rows: usize, work: impl FnOnce() -> T + Send) -> T {
    if rows < HOLD_GIL_BELOW {
        work()
    } else {
        py.allow_threads(work)
    }
}

/// Total length of the parts.
pub(crate) fn rows<T>(parts: &[&[T]]) -> usize {
    parts.iter().map(|p| p.len()).sum()
}
