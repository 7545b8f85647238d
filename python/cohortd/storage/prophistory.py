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
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
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


class _Column:
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.chunks: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        self._sorted: Changes | None = None

    def add(self, users: np.ndarray, times: np.ndarray, values: np.ndarray, dated: np.ndarray,
            seq: np.ndarray) -> None:  # fmt: skip
        self.chunks.append((users.astype(np.uint32), times.astype(np.int64),
                            values.astype(_NP[self.kind]), dated.astype(bool), seq))  # fmt: skip
        self._sorted = None

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        if len(self.chunks) > 1:
            self.chunks = [tuple(np.concatenate(parts) for parts in zip(*self.chunks, strict=True))]  # type: ignore[list-item]
        if not self.chunks:
            empty = np.empty(0, np.int64)
            return (np.empty(0, np.uint32), empty, np.empty(0, _NP[self.kind]), np.empty(0, bool), empty)
        return self.chunks[0]

    def changes(self, canon: np.ndarray | None) -> Changes:
        if canon is None and self._sorted is not None:
            return self._sorted
        users, times, values, dated, seq = self.arrays()
        if canon is not None and len(users):
            users = canon[users].astype(np.uint32)
        order = np.lexsort((seq, times, users))
        out = Changes(users[order], times[order], values[order], dated[order])
        if canon is None:
            self._sorted = out
        return out


class PropertyHistory:
    """Every user-property change, per property (see the module docstring)."""

    def __init__(self) -> None:
        self.columns: dict[str, _Column] = {}
        self._seq = 0

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
        return sum(len(c.arrays()[0]) for c in self.columns.values())

    # ------------------------------------------------------------ files
    def save(self, path: Path) -> FileSum:
        names, users, times, dated, seq = [], [], [], [], []
        by_kind: dict[str, list[pa.Array]] = {k: [] for k in _NP}
        for name, col in self.columns.items():
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
        kinds = {f"kind:{name}": col.kind for name, col in self.columns.items()}
        table = table.replace_schema_metadata({**kinds, "next_seq": str(self._seq)})

        def write(fh) -> None:  # type: ignore[no-untyped-def]
            with ipc.new_file(fh, table.schema) as writer:
                writer.write_table(table)

        return atomic_write(path, write)

    @classmethod
    def load(cls, path: Path) -> PropertyHistory:
        out = cls()
        with pa.memory_map(str(path)) as source:
            table = ipc.open_file(source).read_all()
        meta = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
        out._seq = int(meta.get("next_seq", "0"))
        props = table.column("prop").to_numpy(zero_copy_only=False)
        for key, kind in meta.items():
            if not key.startswith("kind:"):
                continue
            name = key[len("kind:") :]
            rows = pa.array(props == name)
            part = table.filter(rows)
            col = out.columns[name] = _Column(kind)
            values = part.column(f"v_{kind}").combine_chunks().to_numpy(zero_copy_only=False)
            col.add(
                part.column("user").to_numpy(),
                part.column("time").to_numpy(),
                values,
                part.column("dated").to_numpy(zero_copy_only=False),
                part.column("seq").to_numpy(),
            )
        return out
