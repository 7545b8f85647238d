//! `StringTable`: the native string → dense-id dictionary behind
//! `cohortd.storage.dictionary.StringDictionary`.
//!
//! Batch calls take Arrow string parts (offsets and data as numpy views of
//! the Arrow buffers, no Python str per value) and release the GIL; list
//! calls read each Python str's UTF-8 in place. A lock (never held while
//! waiting for the GIL) lets readers on other threads run while an encode
//! runs without the GIL.

use crate::common::{kernel_err, slice};
use cohortd_core::StringTable as Table;
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::exceptions::{PyIndexError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::PyString;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

type Parts<'py> = (Bound<'py, PyArray1<i32>>, Bound<'py, PyArray1<u8>>);

#[pyclass(frozen, module = "cohortd._native")]
pub struct StringTable {
    table: RwLock<Table>,
}

fn parts<'py>(py: Python<'py>, (offsets, data): (Vec<i32>, Vec<u8>)) -> Parts<'py> {
    (offsets.into_pyarray(py), data.into_pyarray(py))
}

impl StringTable {
    fn read(&self) -> RwLockReadGuard<'_, Table> {
        self.table.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Table> {
        self.table.write().unwrap_or_else(|e| e.into_inner())
    }
}

#[pymethods]
impl StringTable {
    #[new]
    fn new() -> Self {
        StringTable {
            table: RwLock::new(Table::new()),
        }
    }

    fn __len__(&self) -> usize {
        self.read().len()
    }

    /// Heap bytes held (arena, offsets, hash table), by capacity.
    fn heap_bytes(&self) -> usize {
        self.read().heap_bytes()
    }

    /// The id of ``value``, None if absent (or not a str).
    fn get(&self, value: &Bound<'_, PyAny>) -> PyResult<Option<u32>> {
        match value.downcast::<PyString>() {
            Ok(s) => Ok(self.read().get(s.to_str()?.as_bytes())),
            Err(_) => Ok(None),
        }
    }

    /// The string of entry ``idx`` (negative counts from the end, like a list).
    fn value(&self, idx: i64) -> PyResult<String> {
        let t = self.read();
        let n = t.len() as i64;
        let i = if idx < 0 { idx + n } else { idx };
        let v = (0..n)
            .contains(&i)
            .then(|| t.value(i as u32))
            .flatten()
            .ok_or_else(|| PyIndexError::new_err("dictionary index out of range"))?;
        Ok(String::from_utf8_lossy(v).into_owned())
    }

    /// Ids (int64) of many strs, -1 for absent ones (and non-strs).
    fn lookup_list<'py>(
        &self,
        py: Python<'py>,
        values: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let t = self.read();
        let mut out = Vec::with_capacity(values.len().unwrap_or(0));
        for v in values.try_iter()? {
            let v = v?;
            out.push(match v.downcast::<PyString>() {
                Ok(s) => t.get(s.to_str()?.as_bytes()).map_or(-1, i64::from),
                Err(_) => -1,
            });
        }
        drop(t);
        Ok(out.into_pyarray(py))
    }

    /// Ids (uint32) of many strs, adding the new ones in order of appearance.
    fn encode_list<'py>(
        &self,
        py: Python<'py>,
        values: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray1<u32>>> {
        let mut t = self.write();
        let mut out = Vec::with_capacity(values.len().unwrap_or(0));
        for v in values.try_iter()? {
            let v = v?;
            let s = v
                .downcast::<PyString>()
                .map_err(|_| PyTypeError::new_err("dictionary values must be str"))?;
            out.push(t.insert(s.to_str()?.as_bytes()).map_err(kernel_err)?);
        }
        drop(t);
        Ok(out.into_pyarray(py))
    }

    /// Ids (int64, -1 absent) of an Arrow string array given as its offsets and data.
    fn lookup_arrow<'py>(
        &self,
        py: Python<'py>,
        offsets: PyReadonlyArray1<'py, i32>,
        data: PyReadonlyArray1<'py, u8>,
    ) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let (o, d) = (slice(&offsets, "offsets")?, slice(&data, "data")?);
        let out = py
            .allow_threads(|| self.read().lookup_arrow(o, d))
            .map_err(kernel_err)?;
        Ok(out.into_pyarray(py))
    }

    /// Ids (uint32) of an Arrow string array's values, adding the new ones.
    fn encode_arrow<'py>(
        &self,
        py: Python<'py>,
        offsets: PyReadonlyArray1<'py, i32>,
        data: PyReadonlyArray1<'py, u8>,
    ) -> PyResult<Bound<'py, PyArray1<u32>>> {
        let (o, d) = (slice(&offsets, "offsets")?, slice(&data, "data")?);
        let out = py
            .allow_threads(|| self.write().encode_arrow(o, d))
            .map_err(kernel_err)?;
        Ok(out.into_pyarray(py))
    }

    /// Appends each value of an Arrow string array as its own entry (loading).
    fn append_arrow(
        &self,
        py: Python<'_>,
        offsets: PyReadonlyArray1<'_, i32>,
        data: PyReadonlyArray1<'_, u8>,
    ) -> PyResult<()> {
        let (o, d) = (slice(&offsets, "offsets")?, slice(&data, "data")?);
        py.allow_threads(|| self.write().append_arrow(o, d))
            .map_err(kernel_err)
    }

    /// Replaces entry ``idx`` by ``placeholder``: its string is gone, its id stays.
    fn forget(&self, idx: u32, placeholder: &str) -> PyResult<()> {
        self.write()
            .forget(idx, placeholder.as_bytes())
            .map_err(kernel_err)
    }

    /// Arrow string parts (int32 offsets, uint8 data) of the entries ``ids``.
    fn take<'py>(&self, py: Python<'py>, ids: PyReadonlyArray1<'py, u32>) -> PyResult<Parts<'py>> {
        let ids = slice(&ids, "ids")?;
        let out = py
            .allow_threads(|| self.read().take(ids.iter().copied()))
            .map_err(kernel_err)?;
        Ok(parts(py, out))
    }

    /// Arrow string parts of the entries ``start..end``.
    fn range<'py>(&self, py: Python<'py>, start: usize, end: usize) -> PyResult<Parts<'py>> {
        let out = py
            .allow_threads(|| self.read().range(start, end))
            .map_err(kernel_err)?;
        Ok(parts(py, out))
    }
}
