"""Current user properties: one dense column per property, latest event time wins.

User properties are not time-travelled: every evaluation sees the current value.
Each property keeps its value, a validity mask and the time the value was set,
so an older update arriving late never overwrites a newer one.

Opening a store reads none of it: :meth:`UserProperties.load` memory-maps the
checkpoint file and each of a column's three arrays is decoded on first use
(``set_at`` only by updates and deletions), so the resident size after open does
not grow with users times properties, and a checkpoint rewrites the columns
nobody touched straight from the mapped file.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from cohortd.storage.files import FileSum, atomic_write

_NP = {"string": np.uint32, "int": np.int64, "float": np.float64, "bool": np.bool_}
NO_TIME = np.iinfo(np.int64).min


def _one_array(column: pa.ChunkedArray) -> pa.Array:
    """The column as one array; zero-copy when it is one chunk (``combine_chunks`` copies)."""
    return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()


class _Source:
    """One column's arrays in a memory-mapped checkpoint file (nothing read until asked)."""

    def __init__(self, table: pa.Table, name: str, kind: str) -> None:
        self.values = _one_array(table.column(f"v:{name}"))
        self.set_at = _one_array(table.column(f"t:{name}"))
        self.kind = kind

    def decode(self, part: str) -> np.ndarray:
        if part == "valid":
            return np.asarray(self.values.is_valid())
        if part == "values":
            filled = self.values.fill_null(False if self.kind == "bool" else 0)
            return filled.to_numpy(zero_copy_only=False).astype(_NP[self.kind])
        return self.set_at.to_numpy().copy()


class UserProperty:
    """values / valid / set_at over dense ids; each read from ``source`` on first use."""

    def __init__(self, kind: str, size: int = 0, source: _Source | None = None) -> None:
        self.kind = kind
        self._source = source
        self._lock = threading.Lock()
        self._arrays: dict[str, np.ndarray] = {}
        if source is None:
            self._arrays = {
                "values": np.zeros(size, dtype=_NP[kind]),
                "valid": np.zeros(size, dtype=bool),
                "set_at": np.full(size, NO_TIME, dtype=np.int64),
            }

    def _part(self, part: str) -> np.ndarray:
        got = self._arrays.get(part)
        if got is None:
            with self._lock:
                got = self._arrays.get(part)
                if got is None:
                    assert self._source is not None
                    got = self._arrays[part] = self._source.decode(part)
                    if len(self._arrays) == 3:
                        self._source = None  # every array decoded: the mapped file is no longer needed
        return got

    @property
    def values(self) -> np.ndarray:
        return self._part("values")

    @values.setter
    def values(self, arr: np.ndarray) -> None:
        self._part("values")  # the source reads all three parts or none
        self._arrays["values"] = arr

    @property
    def valid(self) -> np.ndarray:
        return self._part("valid")

    @valid.setter
    def valid(self, arr: np.ndarray) -> None:
        self._part("valid")
        self._arrays["valid"] = arr

    @property
    def set_at(self) -> np.ndarray:
        return self._part("set_at")

    @set_at.setter
    def set_at(self, arr: np.ndarray) -> None:
        self._part("set_at")
        self._arrays["set_at"] = arr

    def __len__(self) -> int:
        src = self._source
        return len(src.values) if src is not None else len(self._arrays["values"])

    def arrow(self, n_users: int) -> tuple[pa.Array, pa.Array]:
        """(values with nulls, set_at) of ids ``0..n_users-1`` for a checkpoint file."""
        src = self._source
        if src is not None and not self._arrays and len(src.values) == n_users:
            return src.values, src.set_at  # untouched since open: copied from the mapped file
        self.grow(n_users)
        return pa.array(self.values[:n_users], mask=~self.valid[:n_users]), pa.array(self.set_at[:n_users])

    def grow(self, size: int) -> None:
        if size <= len(self):
            return
        cap = max(size, 2 * len(self.values), 1024)
        self.values = np.concatenate((self.values, np.zeros(cap - len(self.values), self.values.dtype)))
        self.valid = np.concatenate((self.valid, np.zeros(cap - len(self.valid), bool)))
        self.set_at = np.concatenate((self.set_at, np.full(cap - len(self.set_at), NO_TIME, np.int64)))

    def update(self, users: np.ndarray, times: np.ndarray, values: np.ndarray) -> None:
        """Apply (user, time, value) updates: per user the latest time wins, ties go to the later row."""
        if len(users) == 0:
            return
        self.grow(int(users.max()) + 1)
        order = np.lexsort((np.arange(len(users)), times, users))
        u, t, v = users[order], times[order], values[order]
        last = np.concatenate((u[1:] != u[:-1], [True]))
        u, t, v = u[last], t[last], v[last]
        newer = t >= self.set_at[u]
        u, t, v = u[newer], t[newer], v[newer]
        self.values[u] = v
        self.valid[u] = True
        self.set_at[u] = t


class UserProperties:
    def __init__(self) -> None:
        self.columns: dict[str, UserProperty] = {}

    def column(self, name: str, kind: str) -> UserProperty:
        col = self.columns.get(name)
        if col is None:
            col = self.columns[name] = UserProperty(kind)
        return col

    def get(self, name: str, n_users: int) -> tuple[np.ndarray, np.ndarray] | None:
        """(values, valid) of one property for dense ids ``0..n_users-1``; None if unknown."""
        col = self.columns.get(name)
        if col is None:
            return None
        col.grow(n_users)  # a no-op (nothing decoded) while the column covers every user
        return col.values[:n_users], col.valid[:n_users]

    def save(self, path: Path, n_users: int) -> FileSum:
        arrays: dict[str, pa.Array] = {}
        meta = {}
        for name, col in self.columns.items():
            arrays[f"v:{name}"], arrays[f"t:{name}"] = col.arrow(n_users)
            meta[name] = col.kind
        table = pa.table(arrays) if arrays else pa.table({"_": pa.array([], pa.int8())})
        table = table.replace_schema_metadata({f"kind:{k}": v for k, v in meta.items()})

        def write(fh) -> None:  # type: ignore[no-untyped-def]
            with ipc.new_file(fh, table.schema) as writer:
                writer.write_table(table)

        return atomic_write(path, write)

    @classmethod
    def load(cls, path: Path) -> UserProperties:
        """Map the file; columns are decoded on first use (see the module docstring)."""
        props = cls()
        table = ipc.open_file(pa.memory_map(str(path))).read_all()  # zero-copy over the mapping
        meta = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
        for key, kind in meta.items():
            name = key[len("kind:") :]
            props.columns[name] = UserProperty(kind, source=_Source(table, name, kind))
        return props
