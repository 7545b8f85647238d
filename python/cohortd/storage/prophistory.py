"""User properties as they were: every change of every user property, with its time.

``userprops.py`` keeps the current value; this keeps the changes that led to
it, so a cohort evaluated as of a past time sees the value the user had then
(``user.plan == "free"``) and ``had user.plan == "trial" in last 30d`` can ask
whether a value held at some instant of a window.

A change is *dated* when its time was given: a user-property upsert row with
a ``time`` (``cohortd ingest-users`` with a ``time`` column) or an event row
carrying ``$user.`` properties (the event's time).  An upsert row without a
time is *undated*: it happened at some point before it arrived, so it counts
at its arrival time.  A property that a user only ever got undated is not
time-travelled for that user (every as-of time sees the current value, as
before this history existed); see docs/cohort-language.md ("user properties
as they were").

Entries are kept per property in arrival order (``seq``) under the dense id
the row was stored under; identity merges and deletions are applied when the
history is read (:meth:`PropertyHistory.entries`) or, for deletions, dropped
at once (ids are reused after a purge).  Saved at each checkpoint beside the
current values (``userhist-<gen>.arrow``); the log replays on top of it like
every other part of the store.

Opening a store reads none of it: :meth:`PropertyHistory.load` memory-maps the
checkpoint file and a property's changes are decoded the first time something
asks for them (an ``as of`` evaluation of that property, a deletion, a move);
changes recorded since open are appended without reading the file, and a
checkpoint copies the properties nobody read straight from the mapping.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc

from cohortd.storage.files import FileSum, atomic_write

__all__ = ["UNDATED", "Changes", "PropertyHistory"]

UNDATED = "$undated"
"""Column a normalised user-property upsert carries: True for rows that had no ``time``."""

_NP = {"string": np.uint32, "int": np.int64, "float": np.float64, "bool": np.bool_}


@dataclass(frozen=True)
class Changes:
    """One property's changes sorted by (user, time, arrival): aligned arrays."""

    users: np.ndarray  # uint32 dense ids (canonical when read through a map)
    times: np.ndarray  # int64 epoch ms
    values: np.ndarray  # dtype of the property kind (string: value-dictionary codes)
    dated: np.ndarray  # bool

    @functools.cached_property
    def any_dated(self) -> bool:
        """Whether any change is dated (kept: the sorted changes are reused by every evaluation)."""
        return bool(self.dated.any())


_Chunk = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # users, times, values, dated, seq


def _numpy_copy(column: pa.ChunkedArray, dtype: type) -> np.ndarray:
    return np.array(column.combine_chunks().to_numpy(zero_copy_only=False), dtype=dtype)


def _rows_of(table: pa.Table, prop: str) -> pa.Table:
    """The rows of one property in a checkpoint table (Arrow compute: no Python strings)."""
    return table.filter(pc.equal(table.column("prop"), prop))


class _Column:
    def __init__(self, kind: str, source: tuple[pa.Table, str] | None = None) -> None:
        self.kind = kind
        self.chunks: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        self._sorted: Changes | None = None
        self.source = source  # (mapped checkpoint table, prop): rows not decoded yet
        self._lock = threading.RLock()  # decode, append and the sorted swap: one at a time

    def _decode(self) -> None:
        """Put the checkpoint file's rows of this property first (they precede every record)."""
        with self._lock:
            if self.source is None:
                return
            table, prop = self.source
            needed = ["user", "time", f"v_{self.kind}", "dated", "seq"]
            part = _rows_of(table.select(["prop", *needed]), prop)
            # numpy-owned copies: the Arrow temporaries go back to Arrow's pool, released below
            dtypes = (np.uint32, np.int64, _NP[self.kind], bool, np.int64)
            pairs = zip(needed, dtypes, strict=True)
            u, t, v, d, q = (_numpy_copy(part.column(name), dtype) for name, dtype in pairs)
            del part
            pa.default_memory_pool().release_unused()
            self.chunks.insert(0, (u, t, v, d, q))
            self.source = None

    def add(self, users: np.ndarray, times: np.ndarray, values: np.ndarray, dated: np.ndarray,
            seq: np.ndarray) -> None:  # fmt: skip
        chunk: _Chunk = (users.astype(np.uint32), times.astype(np.int64), values.astype(_NP[self.kind]),
                 dated.astype(bool), seq)  # fmt: skip
        with self._lock:
            self.chunks.append(chunk)
            self._sorted = None

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        with self._lock:
            if self.source is not None:
                self._decode()
            if len(self.chunks) > 1:
                self.chunks = [tuple(np.concatenate(parts) for parts in zip(*self.chunks, strict=True))]  # type: ignore[list-item]
            if not self.chunks:
                empty = np.empty(0, np.int64)
                return (np.empty(0, np.uint32), empty, np.empty(0, _NP[self.kind]), np.empty(0, bool), empty)
            return self.chunks[0]

    def changes(self, canon: np.ndarray | None) -> Changes:
        if canon is None and self._sorted is not None:
            return self._sorted
        with self._lock:
            return self._changes(canon)

    def _changes(self, canon: np.ndarray | None) -> Changes:
        users, times, values, dated, seq = self.arrays()
        if canon is not None and len(users):
            users = canon[users].astype(np.uint32)
        order = np.lexsort((seq, times, users))
        if canon is not None:
            return Changes(users[order], times[order], values[order], dated[order])
        # the sorted copy replaces the unsorted one (readers ignore the order of ``chunks``): one copy
        # of the decoded changes stays resident, not two
        parts = (users[order], times[order], values[order], dated[order], seq[order])
        self.chunks = [parts]
        self._sorted = Changes(*parts[:4])
        return self._sorted


class PropertyHistory:
    """Every user-property change, per property (see the module docstring)."""

    def __init__(self) -> None:
        self.columns: dict[str, _Column] = {}
        self._seq = 0
        self._mapped: pa.Table | None = None  # the checkpoint file, mapped (load)
        self._mapped_rows: dict[str, int] | None = None  # its rows per property, counted when asked

    def record(self, prop: str, kind: str, users: np.ndarray, times: np.ndarray, values: np.ndarray,
               dated: np.ndarray) -> None:  # fmt: skip
        """Append changes in arrival order (a later row of a batch is a later change)."""
        if len(users) == 0:
            return
        col = self.columns.get(prop)
        if col is None:
            col = self.columns[prop] = _Column(kind)
        seq = np.arange(self._seq, self._seq + len(users), dtype=np.int64)
        self._seq += len(users)
        col.add(users, times, values, dated, seq)

    def drop_users(self, dense: np.ndarray) -> None:
        """Forget every change of ``dense`` (deleted users: their ids may be reused)."""
        for col in self.columns.values():
            with col._lock:
                users, times, values, dated, seq = col.arrays()
                keep = ~np.isin(users, dense)
                if not keep.all():
                    col.chunks = [(users[keep], times[keep], values[keep], dated[keep], seq[keep])]
                    col._sorted = None

    def changes(self, prop: str, canon: np.ndarray | None = None) -> Changes | None:
        """The changes of ``prop`` sorted by (user, time, arrival), users mapped through ``canon``."""
        col = self.columns.get(prop)
        return None if col is None else col.changes(canon)

    def kind(self, prop: str) -> str | None:
        col = self.columns.get(prop)
        return None if col is None else col.kind

    def __len__(self) -> int:
        """Changes held, without decoding the mapped file."""
        if self._mapped_rows is None:
            self._mapped_rows = _prop_counts(self._mapped) if self._mapped is not None else {}
        total = 0
        for name, col in self.columns.items():
            total += self._mapped_rows.get(name, 0) if col.source is not None else 0
            total += sum(len(chunk[0]) for chunk in col.chunks)
        return total

    # ------------------------------------------------------------ files
    def save(self, path: Path) -> FileSum:
        names, users, times, dated, seq = [], [], [], [], []
        by_kind: dict[str, list[pa.Array]] = {k: [] for k in _NP}
        mapped: list[pa.Table] = []  # properties never decoded: their rows straight from the mapping
        for name, col in self.columns.items():
            if col.source is not None and not col.chunks:
                mapped.append(_rows_of(*col.source))
                continue
            u, t, v, d, s = col.arrays()
            names.append(np.full(len(u), name, dtype=object))
            users.append(u)
            times.append(t)
            dated.append(d)
            seq.append(s)
            for kind in _NP:
                if kind == col.kind:
                    by_kind[kind].append(pa.array(v))
                else:
                    by_kind[kind].append(pa.nulls(len(u), pa.from_numpy_dtype(_NP[kind])))
        cat = np.concatenate

        def join(parts: list[np.ndarray], dtype: type) -> np.ndarray:
            return cat(parts) if parts else np.empty(0, dtype)

        table = pa.table(
            {
                "prop": pa.array(join(names, object), pa.string()),
                "user": pa.array(join(users, np.uint32), pa.uint32()),
                "time": pa.array(join(times, np.int64), pa.int64()),
                "dated": pa.array(join(dated, bool), pa.bool_()),
                "seq": pa.array(join(seq, np.int64), pa.int64()),
                **{
                    f"v_{kind}": pa.concat_arrays(arrs)
                    if arrs
                    else pa.array([], pa.from_numpy_dtype(_NP[kind]))
                    for kind, arrs in by_kind.items()
                },
            }
        )
        if mapped:
            schema = table.schema
            table = pa.concat_tables([*(m.select(schema.names).cast(schema) for m in mapped), table])
        kinds = {f"kind:{name}": col.kind for name, col in self.columns.items()}
        table = table.replace_schema_metadata({**kinds, "next_seq": str(self._seq)})

        def write(fh) -> None:  # type: ignore[no-untyped-def]
            with ipc.new_file(fh, table.schema) as writer:
                writer.write_table(table)

        return atomic_write(path, write)

    @classmethod
    def load(cls, path: Path) -> PropertyHistory:
        """Map the file; each property's changes are decoded on first use (module docstring)."""
        out = cls()
        table = ipc.open_file(pa.memory_map(str(path))).read_all()  # zero-copy over the mapping
        meta = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
        out._seq = int(meta.get("next_seq", "0"))
        for key, kind in meta.items():
            if not key.startswith("kind:"):
                continue
            name = key[len("kind:") :]
            out.columns[name] = _Column(kind, source=(table, name))
        out._mapped = table
        return out


def _prop_counts(table: pa.Table) -> dict[str, int]:
    """Rows per property of a checkpoint table (Arrow compute: no Python string per row)."""
    if table.num_rows == 0:
        return {}
    got = pc.value_counts(table.column("prop"))
    return dict(zip(got.field("values").to_pylist(), got.field("counts").to_pylist(), strict=True))
