"""Persistent string → dense-id dictionaries (users, event types, string property values).

Ids are assigned in order of first appearance, so replaying the same log in the
same order rebuilds the same ids.  The dictionary is saved as one Arrow IPC
file at every checkpoint.

The table itself is native (``cohortd._native.StringTable``, rust/cohortd-core/src/
dictionary.rs): one UTF-8 arena, offsets and a probe table of u32 ids, ~20 B per
entry plus the string bytes instead of a Python str, dict slot and list slot each.
Arrow string columns go in and out as their buffers, never as Python strs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from cohortd._native import StringTable
from cohortd.storage.files import FileSum, atomic_write

Strings: TypeAlias = "list[str] | pa.Array"
"""Values to look up or encode: Python strs (the gRPC paths) or an Arrow string array."""

Distinct: TypeAlias = "tuple[pa.Array, np.ndarray]"
"""A column's distinct strings in order of first appearance, and each row's index into them."""


def distinct_values(arr: pa.Array | pa.ChunkedArray) -> Distinct:
    """The distinct strings of a (non-null) string column and each row's index into them.

    Pure (no dictionary is touched), so a bulk load computes it for the next chunk on
    another thread (``EventStore.prepare``) while this chunk is applied.  The strings
    stay an Arrow array (no Python str per value).
    """
    if isinstance(arr, pa.ChunkedArray):  # its only chunk as is (combine_chunks copies even that)
        arr = arr.chunk(0) if arr.num_chunks == 1 else arr.combine_chunks()
    if not pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_encode()
    return arr.dictionary, arr.indices.to_numpy(zero_copy_only=False)


def dictionary_encoded(table: pa.Table) -> dict[str, pa.Array]:
    """Every (plain) string column of ``table``, dictionary-encoded; nulls stay null.

    Computed once per batch beside the writer (``EventStore.prepare``): the log record, the
    id encoding and the property encoding all start from it.
    """
    return {
        name: _chunk(col).dictionary_encode()
        for name, col in zip(table.column_names, table.columns, strict=True)
        if pa.types.is_string(col.type)
    }


def arrow_parts(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """A non-null string array's int32 offsets and UTF-8 data, as numpy views of its buffers."""
    if not pa.types.is_string(arr.type):
        arr = arr.cast(pa.string())  # large_string / string_view: one copy into the common layout
    if arr.null_count:
        raise ValueError("a dictionary cannot hold a null string")
    _, offsets, data = arr.buffers()
    offs = (
        np.frombuffer(offsets, np.int32, count=len(arr) + 1, offset=arr.offset * 4)
        if offsets
        else np.zeros(1, np.int32)
    )
    return offs, np.frombuffer(data, np.uint8) if data is not None else np.zeros(0, np.uint8)


def _string_array(parts: tuple[np.ndarray, np.ndarray]) -> pa.Array:
    offsets, data = parts
    return pa.Array.from_buffers(
        pa.string(), len(offsets) - 1, [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )


def _chunk(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(arr, pa.ChunkedArray):
        return arr.chunk(0) if arr.num_chunks == 1 else arr.combine_chunks()
    return arr


def _listed(values: Sequence[str]) -> list[str]:
    """A list as is, anything else copied into one: the native table iterates it under its
    lock, where a generator's Python code (which may let another thread in) must not run."""
    return values if isinstance(values, list) else list(values)


class StringDictionary:
    def __init__(self, values: Strings | None = None) -> None:
        self._table = StringTable()
        self._array: pa.Array | None = None
        if values is not None and len(values):
            self._append(values if isinstance(values, pa.Array) else pa.array(list(values), pa.string()))

    def _append(self, arr: pa.Array) -> None:
        """Every value as its own entry, the last of equal values owning the string (loading)."""
        self._table.append_arrow(*arrow_parts(arr))

    def __len__(self) -> int:
        return len(self._table)

    def heap_bytes(self) -> int:
        """Bytes the native table holds (its arena, offsets and hash table)."""
        return self._table.heap_bytes()

    def get(self, value: str) -> int | None:
        return self._table.get(value)

    def ids(self, values: Sequence[str] | pa.Array) -> np.ndarray:
        """Ids (int64) of many values at once, -1 for values not in the dictionary (one native pass)."""
        if isinstance(values, pa.Array | pa.ChunkedArray):
            return self._table.lookup_arrow(*arrow_parts(_chunk(values)))
        return self._table.lookup_list(_listed(values))

    def value(self, idx: int) -> str:
        return self._table.value(idx)

    def encode_unique(self, uniques: Strings) -> np.ndarray:
        """Ids (uint32) of strings, adding the new ones in order of appearance (a value given
        twice gets one id); ``as_arrow`` appends them to its cache."""
        if isinstance(uniques, pa.Array | pa.ChunkedArray):
            return self._table.encode_arrow(*arrow_parts(_chunk(uniques)))
        return self._table.encode_list(_listed(uniques))

    def forget(self, idx: int, placeholder: str) -> None:
        """Replace entry ``idx`` by ``placeholder`` (user deletion): its string is gone, its id stays."""
        self._table.forget(idx, placeholder)
        self._array = None

    #: longer columns are dictionary-encoded by Arrow first and only their distinct values
    #: hashed here (Arrow's encoder is faster per row than a probe of a large table)
    DISTINCT_FIRST = 4096

    def encode_array(self, arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
        """Dense ids for a (non-null) string column (its buffers, never Python strs)."""
        arr = _chunk(arr)
        if pa.types.is_dictionary(arr.type) or len(arr) > self.DISTINCT_FIRST:
            if arr.null_count:
                raise ValueError("a dictionary cannot hold a null string")
            return self.encode_distinct(distinct_values(arr))
        return self.encode_unique(arr)

    def encode_distinct(self, distinct: Distinct) -> np.ndarray:
        """Dense ids for a column given as :func:`distinct_values` (adding the new values)."""
        uniques, indices = distinct
        return self.encode_unique(uniques)[indices]

    def as_arrow(self) -> pa.Array:
        """All values as an Arrow string array (cached; built from the arena).

        Values only grow between ``forget`` calls, so a stale cache gets the new values
        appended rather than every string copied again.
        """
        arr, n = self._array, len(self._table)
        if arr is None or len(arr) > n:
            arr = _string_array(self._table.range(0, n))
        elif len(arr) < n:
            arr = pa.concat_arrays([arr, _string_array(self._table.range(len(arr), n))])
        self._array = arr
        return arr

    #: ids decoded straight from the arena while the cached array is behind (few ids: a
    #: watch's change set) rather than bringing the array up to date first
    DIRECT_DECODE = 4096

    def decode(self, ids: np.ndarray) -> pa.Array:
        """The strings of ``ids`` as an Arrow string array."""
        arr = self._array
        if len(ids) <= self.DIRECT_DECODE and (arr is None or len(arr) != len(self._table)):
            return _string_array(self._table.take(np.ascontiguousarray(ids, dtype=np.uint32)))
        return self.as_arrow().take(pa.array(ids))  # many ids: Arrow's gather over the cached array

    def save(self, path: Path) -> FileSum:
        table = pa.table({"value": self.as_arrow()})

        def write(fh) -> None:  # type: ignore[no-untyped-def]
            with ipc.new_file(fh, table.schema) as writer:
                writer.write_table(table)

        return atomic_write(path, write)

    @classmethod
    def load(cls, path: Path) -> StringDictionary:
        """Read a saved dictionary straight from the file's Arrow buffers (no Python str per value)."""
        out = cls()
        with pa.memory_map(str(path)) as source:
            column = ipc.open_file(source).read_all().column("value")
            for chunk in column.chunks:
                out._append(chunk)
        return out
