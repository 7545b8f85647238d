"""The pure-Python string dictionary cohortd used before the native one (storage/dictionary.py):
kept as the reference the native ``StringDictionary`` is checked against (test_native_dictionary.py)
and measured against (benchmarks/dictionary_bench.py).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
from cohortd.storage.files import FileSum, atomic_write

Distinct = tuple[list[str], np.ndarray]


def distinct_values(arr: pa.Array | pa.ChunkedArray) -> Distinct:
    """The distinct strings of a string column (as Python strs) and each row's index into them."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if not pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_encode()
    return arr.dictionary.to_pylist(), arr.indices.to_numpy(zero_copy_only=False)


class PyStringDictionary:
    def __init__(self, values: list[str] | None = None) -> None:
        self._values: list[str] = list(values or [])
        self._ids: dict[str, int] = {v: i for i, v in enumerate(self._values)}
        self._array: pa.Array | None = None

    def __len__(self) -> int:
        return len(self._values)

    def get(self, value: str) -> int | None:
        return self._ids.get(value)

    def ids(self, values: Sequence[str]) -> np.ndarray:
        """Ids (int64) of many values at once, -1 for values not in the dictionary (one C-level pass)."""
        return np.fromiter(map(self._ids.get, values, itertools.repeat(-1)), np.int64, len(values))

    def value(self, idx: int) -> str:
        return self._values[idx]

    def encode_unique(self, uniques: list[str]) -> np.ndarray:
        """Ids for distinct strings, adding the new ones (``as_arrow`` appends them to its cache).

        Known values are looked up in one C-level pass (``map``); only the new ones are
        touched one by one, in order of appearance, so ids stay first-appearance order.
        """
        table, values = self._ids, self._values
        ids = np.fromiter(map(table.get, uniques, itertools.repeat(-1)), np.int64, len(uniques))
        missing = np.flatnonzero(ids < 0)
        if len(missing):
            new = [uniques[i] for i in missing.tolist()]
            fresh = list(dict.fromkeys(new))  # a value given twice gets one id
            start = len(values)
            values.extend(fresh)
            table.update(zip(fresh, range(start, start + len(fresh)), strict=True))
            if len(fresh) == len(new):
                ids[missing] = np.arange(start, start + len(new))
            else:
                ids[missing] = np.fromiter(map(table.__getitem__, new), np.int64, len(new))
        return ids.astype(np.uint32)

    def forget(self, idx: int, placeholder: str) -> None:
        """Replace entry ``idx`` by ``placeholder`` (user deletion): its string is gone, its id stays."""
        old = self._values[idx]
        if self._ids.get(old) == idx:
            del self._ids[old]
        self._values[idx] = placeholder
        self._ids.setdefault(placeholder, idx)
        self._array = None

    def encode_array(self, arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
        """Dense ids for a (non-null) string column, via Arrow's dictionary encoding."""
        return self.encode_distinct(distinct_values(arr))

    def encode_distinct(self, distinct: Distinct) -> np.ndarray:
        """Dense ids for a column given as :func:`distinct_values` (adding the new values)."""
        uniques, indices = distinct
        return self.encode_unique(uniques)[indices]

    def as_arrow(self) -> pa.Array:
        """All values as an Arrow string array (cached; used to decode ids).

        Values only grow between ``forget`` calls, so a stale cache gets the new values
        appended rather than every string converted again (a new user per batch must not
        cost a conversion of a million strings).
        """
        arr, n = self._array, len(self._values)
        if arr is None or len(arr) > n:
            arr = pa.array(self._values, type=pa.string())
        elif len(arr) < n:
            arr = pa.concat_arrays([arr, pa.array(self._values[len(arr) : n], type=pa.string())])
        self._array = arr
        return arr

    #: ids decoded straight from the values while the cached array is behind (few ids: a
    #: watch's change set) rather than bringing the array up to date first
    DIRECT_DECODE = 4096

    def decode(self, ids: np.ndarray) -> pa.Array:
        arr = self._array
        if len(ids) <= self.DIRECT_DECODE and (arr is None or len(arr) != len(self._values)):
            values = self._values
            return pa.array([values[i] for i in np.asarray(ids).tolist()], type=pa.string())
        return self.as_arrow().take(pa.array(ids))

    def save(self, path: Path) -> FileSum:
        table = pa.table({"value": self.as_arrow()})

        def write(fh) -> None:  # type: ignore[no-untyped-def]
            with ipc.new_file(fh, table.schema) as writer:
                writer.write_table(table)

        return atomic_write(path, write)

    @classmethod
    def load(cls, path: Path) -> PyStringDictionary:
        with pa.memory_map(str(path)) as source:
            table = ipc.open_file(source).read_all()
        return cls(table.column("value").to_pylist())
