use crate::common::kernel_err;
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

#[derive(FromPyObject)]
pub enum Mask<'py> {
    Bool(PyReadonlyArray1<'py, bool>),
    U8(PyReadonlyArray1<'py, u8>),
}

/// Indices where `mask` is true, as a portable-format roaring bitmap
/// (readable with `pyroaring.BitMap.deserialize`).
#[pyfunction]
pub fn mask_to_roaring<'py>(py: Python<'py>, mask: Mask<'py>) -> PyResult<Bound<'py, PyBytes>> {
    let bytes = match &mask {
        Mask::Bool(a) => {
            let s = a.as_slice()?;
            py.allow_threads(|| {
                cohortd_core::mask_to_roaring(s).map(|b| cohortd_core::roaring_to_bytes(&b))
            })
        }
        Mask::U8(a) => {
            let s = a.as_slice()?;
            py.allow_threads(|| {
                cohortd_core::mask_to_roaring(s).map(|b| cohortd_core::roaring_to_bytes(&b))
            })
        }
    }
    .map_err(kernel_err)?;
    Ok(PyBytes::new(py, &bytes))
}

/// The sorted uint32 ids of a portable-format roaring bitmap.
#[pyfunction]
pub fn roaring_to_array<'py>(py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyArray1<u32>>> {
    let ids = py
        .allow_threads(|| {
            cohortd_core::roaring_from_bytes(data).map(|b| b.iter().collect::<Vec<u32>>())
        })
        .map_err(kernel_err)?;
    Ok(ids.into_pyarray(py))
}
