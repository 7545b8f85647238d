"""Current user properties: one dense column per property, latest event time wins.

User properties are not time-travelled: every evaluation sees the current value.
Each property keeps its value, a validity mask and the time the value was set,
so an older update arriving late never overwrites a newer one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from cohortd.storage.files import FileSum, atomic_write

_NP = {"string": np.uint32, "int": np.int64, "float": np.float64, "bool": np.bool_}
NO_TIME = np.iinfo(np.int64).min


class UserProperty:
    def __init__(self, kind: str, size: int = 0) -> None:
        self.kind = kind
        self.values: np.ndarray = np.zeros(size, dtype=_NP[kind])
        self.valid = np.zeros(size, dtype=bool)
        self.set_at = np.full(size, NO_TIME, dtype=np.int64)

    def grow(self, size: int) -> None:
        if size <= len(self.values):
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
        col.grow(n_users)
        return col.values[:n_users], col.valid[:n_users]

    def save(self, path: Path, n_users: int) -> FileSum:
        arrays: dict[str, pa.Array] = {}
        meta = {}
        for name, col in self.columns.items():
            col.grow(n_users)
            arrays[f"v:{name}"] = pa.array(col.values[:n_users], mask=~col.valid[:n_users])
            arrays[f"t:{name}"] = pa.array(col.set_at[:n_users])
            meta[name] = col.kind
        table = pa.table(arrays) if arrays else pa.table({"_": pa.array([], pa.int8())})
        table = table.replace_schema_metadata({f"kind:{k}": v for k, v in meta.items()})

        def write(fh) -> None:  # type: ignore[no-untyped-def]
            with ipc.new_file(fh, table.schema) as writer:
                writer.write_table(table)

        return atomic_write(path, write)

    @classmethod
    def load(cls, path: Path) -> UserProperties:
        props = cls()
        with pa.memory_map(str(path)) as source:
            table = ipc.open_file(source).read_all()
        meta = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
        for key, kind in meta.items():
            name = key[len("kind:") :]
            col = props.column(name, kind)
            values = table.column(f"v:{name}").combine_chunks()
            col.valid = np.asarray(values.is_valid())
            col.values = (
                values.fill_null(False if kind == "bool" else 0)
                .to_numpy(zero_copy_only=False)
                .astype(_NP[kind])
            )
            col.set_at = table.column(f"t:{name}").combine_chunks().to_numpy().copy()
        return props
