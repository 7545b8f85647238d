use crate::common::kernel_err;
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

/// Row-major membership matrix (bool, `len(ids) * len(bitmaps)`) of dense ids (-1: unknown)
/// in serialized roaring bitmaps, read without decoding them.
#[pyfunction]
pub fn contains_matrix<'py>(
    py: Python<'py>,
    bitmaps: Vec<Bound<'py, PyBytes>>,
    ids: PyReadonlyArray1<'py, i64>,
) -> PyResult<Bound<'py, PyArray1<bool>>> {
    let blobs: Vec<&[u8]> = bitmaps.iter().map(|b| b.as_bytes()).collect();
    let ids = ids
        .as_slice()
        .map_err(|_| PyTypeError::new_err("ids must be a contiguous int64 array"))?;
    let out = cohortd_core::contains_matrix(&blobs, ids).map_err(kernel_err)?;
    Ok(out
        .into_iter()
        .map(|b| b != 0)
        .collect::<Vec<bool>>()
        .into_pyarray(py))
}

/// One serialized roaring bitmap as a flat bitset (bit `id % 8` of byte `id / 8`), or None when
/// that would take more than `max_bytes`.
#[pyfunction]
pub fn flat_bitset<'py>(
    py: Python<'py>,
    bitmap: Bound<'py, PyBytes>,
    max_bytes: usize,
) -> PyResult<Option<Bound<'py, PyBytes>>> {
    let flat = cohortd_core::flat_bitset(bitmap.as_bytes(), max_bytes).map_err(kernel_err)?;
    Ok(flat.map(|f| PyBytes::new(py, &f)))
}

/// Row-major membership matrix (bool) of dense ids (-1: unknown) in flat bitsets.
#[pyfunction]
pub fn contains_flat<'py>(
    py: Python<'py>,
    bitsets: Vec<Bound<'py, PyBytes>>,
    ids: PyReadonlyArray1<'py, i64>,
) -> PyResult<Bound<'py, PyArray1<bool>>> {
    let flats: Vec<&[u8]> = bitsets.iter().map(|b| b.as_bytes()).collect();
    let ids = ids
        .as_slice()
        .map_err(|_| PyTypeError::new_err("ids must be a contiguous int64 array"))?;
    let out = cohortd_core::contains_flat(&flats, ids);
    Ok(out
        .into_iter()
        .map(|b| b != 0)
        .collect::<Vec<bool>>()
        .into_pyarray(py))
}
