"""Immutable event segments: Arrow tables sorted by (event type, user, time) with indexes.

Columns: ``user`` (uint32 dense id), ``type`` (uint32), ``time`` (int64 epoch
ms) and one column per event property named ``p:<name>`` (string properties
as uint32 codes into the value dictionary, else int64 / float64 / bool).
Because rows are sorted by type first, the rows of one event type are one
contiguous range, found through the type index, and a condition on one type
never touches another type's rows.

On disk a segment is two Arrow IPC files (``<name>.arrow`` and
``<name>.index.arrow``), memory-mapped on open, so columns are zero-copy
numpy views of the page cache.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
from pyroaring import BitMap

from cohortd._native import merge_order
from cohortd.storage.files import FileSum, atomic_write

PROP_PREFIX = "p:"
ONE_PARTITION_MS = 1 << 62  # a period no time spans twice: merge without splitting
PARALLEL_TAKE_ROWS = 100_000  # below this a take is too quick to be worth handing to threads
_TAKE_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="segment-take")


@dataclass(frozen=True)
class TypeRange:
    """Rows ``[start, end)`` of one event type, their time bounds and their users."""

    start: int
    end: int
    min_time: int
    max_time: int
    users: BitMap


def bitmap_from_ids(ids: np.ndarray) -> BitMap:
    """A roaring bitmap from a uint32 numpy array (fast path through array buffers)."""
    import array

    arr = array.array("I")
    arr.frombytes(np.ascontiguousarray(ids, dtype=np.uint32).tobytes())
    return BitMap(arr)


class Segment:
    def __init__(self, name: str, table: pa.Table, index: dict[int, TypeRange] | None = None) -> None:
        self.name = name
        self.table = table
        self.users = _numpy(table.column("user"), np.uint32)
        self.types = _numpy(table.column("type"), np.uint32)
        self.times = _numpy(table.column("time"), np.int64)
        self.index = index if index is not None else _build_index(self.types, self.users, self.times)
        self.min_time = min((r.min_time for r in self.index.values()), default=0)
        self.max_time = max((r.max_time for r in self.index.values()), default=-1)
        self._props: dict[str, pa.Array] = {}

    @property
    def num_rows(self) -> int:
        return self.table.num_rows

    def prop(self, name: str) -> pa.Array | None:
        """The whole column of an event property (None when no event here has it)."""
        col = self._props.get(name)
        if col is None:
            key = PROP_PREFIX + name
            if key not in self.table.column_names:
                return None
            col = self._props[name] = self.table.column(key).combine_chunks()
        return col

    def prop_names(self) -> list[str]:
        return [c[len(PROP_PREFIX) :] for c in self.table.column_names if c.startswith(PROP_PREFIX)]

    # ------------------------------------------------------------- building
    @classmethod
    def build(cls, name: str, table: pa.Table, threads: bool = True) -> Segment:
        """Sort an encoded table by (type, user, time) and index it.

        Without ``threads`` the rows are gathered on the calling thread only: a bulk load's
        applying thread, whose pipeline already keeps both cores busy.
        """
        users = _numpy(table.column("user"), np.uint32)
        types = _numpy(table.column("type"), np.uint32)
        times = _numpy(table.column("time"), np.int64)
        order = _sort_order(types, users, times)
        if order is not None:
            table = _take(table, order, threads)
        return cls(name, _single_chunk(table))

    @classmethod
    def merge(cls, name: str, parts: Sequence[Segment]) -> Segment:
        """One segment of ``parts`` (a tail's pairwise merge): sorted parts are merged, not sorted."""
        table, starts = _merged(parts, ONE_PARTITION_MS)
        if len(starts) > 2:  # times on both sides of 0 fall in two partitions: sort instead
            return cls.build(name, table)
        return cls(name, table)

    @classmethod
    def merge_split(
        cls, parts: Sequence[Segment], period_ms: int, new_name: Callable[[], str]
    ) -> list[Segment]:
        """``merge`` then ``split`` with one take: pieces are slices of the result.

        The rows are put in (time partition, type, user, time) order, ties in input
        order, so each partition is one contiguous, still sorted range (a filter per
        partition after a merge copied every row twice).  Partitioning by time lets a
        windowed condition skip whole segments by their min/max time, even for ``any``
        (which reads every event type).  Parts are segments, hence sorted: the native
        ``merge_order`` buckets each by partition and merges them (one pass, both
        cores); a part out of order (a remapped identity) is sorted instead.
        """
        table, starts = _merged(parts, period_ms)
        if table.num_rows == 0:
            return [cls(new_name(), table)]
        bounds = starts.tolist()
        return [cls(new_name(), table.slice(s, e - s)) for s, e in zip(bounds, bounds[1:], strict=False)]

    def partition(self, period_ms: int) -> int:
        """The time partition of a segment written by ``merge_split`` (its earliest event's)."""
        return self.min_time // period_ms

    # ------------------------------------------------------------------ disk
    def write(self, directory: Path) -> tuple[FileSum, FileSum]:
        """Write data and index files durably (temporary name, fsync, rename); their checksums."""
        table = self.table

        def write_data(fh) -> None:  # type: ignore[no-untyped-def]
            with ipc.new_file(fh, table.schema) as writer:
                writer.write_table(table, max_chunksize=1 << 30)

        data_sum = atomic_write(directory / f"{self.name}.arrow", write_data)
        types = sorted(self.index)
        idx = pa.table(
            {
                "type": pa.array(types, pa.uint32()),
                "start": pa.array([self.index[t].start for t in types], pa.int64()),
                "end": pa.array([self.index[t].end for t in types], pa.int64()),
                "min_time": pa.array([self.index[t].min_time for t in types], pa.int64()),
                "max_time": pa.array([self.index[t].max_time for t in types], pa.int64()),
                "users": pa.array([self.index[t].users.serialize() for t in types], pa.binary()),
            }
        )

        def write_index(fh) -> None:  # type: ignore[no-untyped-def]
            with ipc.new_file(fh, idx.schema) as writer:
                writer.write_table(idx)

        return data_sum, atomic_write(directory / f"{self.name}.index.arrow", write_index)

    @classmethod
    def open(cls, directory: Path, name: str) -> Segment:
        source = pa.memory_map(str(directory / f"{name}.arrow"))
        table = ipc.open_file(source).read_all()
        with pa.memory_map(str(directory / f"{name}.index.arrow")) as src:
            idx = ipc.open_file(src).read_all().to_pydict()
        index = {
            t: TypeRange(s, e, lo, hi, BitMap.deserialize(b))
            for t, s, e, lo, hi, b in zip(
                idx["type"],
                idx["start"],
                idx["end"],
                idx["min_time"],
                idx["max_time"],
                idx["users"],
                strict=True,
            )
        }
        return cls(name, _single_chunk(table), index)


def _take(table: pa.Table, order: np.ndarray, threads: bool = True) -> pa.Table:
    """Rows of ``table`` in ``order``; the columns are gathered on two threads at once
    (Arrow's take releases the GIL), so a seal's and a batch's sort use both cores.

    A column of many chunks (a merge's concatenation) is combined first: Arrow's take
    across chunks resolves the chunk of every index (20 chunks of 500k rows: 4x slower
    than a copy and a take of one array)."""
    if not threads or table.num_rows < PARALLEL_TAKE_ROWS or table.num_columns < 2:
        return _single_chunk(table).take(order)
    indices = pa.array(order)
    columns = list(_TAKE_POOL.map(lambda col: col.combine_chunks().take(indices), table.columns))
    return pa.Table.from_arrays(columns, schema=table.schema)


def _single_chunk(table: pa.Table) -> pa.Table:
    if all(c.num_chunks <= 1 for c in table.columns):
        return table
    return table.combine_chunks()


def _numpy(col: pa.ChunkedArray, dtype: type) -> np.ndarray:
    if col.num_chunks == 0:
        return np.empty(0, dtype=dtype)
    if col.num_chunks > 1:
        col = pa.chunked_array([col.combine_chunks()])
    return col.chunk(0).to_numpy(zero_copy_only=True).view(dtype)


def _sort_order(types: np.ndarray, users: np.ndarray, times: np.ndarray) -> np.ndarray | None:
    """Row order by (type, user, time); None when the rows are already in that order.

    When type, user and time (relative to the minimum) fit in 64 bits together,
    which they do for any realistic segment, the three are packed into one
    uint64 key and sorted with a stable sort: several times faster than a
    three-key ``lexsort``, and close to linear for merges, whose input is a
    concatenation of sorted runs.  Equal keys keep their input order.  Rows already in
    (user, time) order only need a stable sort by type.
    """
    n = len(types)
    if n < 2:
        return None
    t_min = int(times.min())
    t_bits = (int(times.max()) - t_min).bit_length()
    u_bits = int(users.max()).bit_length()
    y_bits = int(types.max()).bit_length()
    if t_bits + u_bits + y_bits > 63:
        order = np.lexsort((times, users, types))
        return None if np.array_equal(order, np.arange(n)) else order
    by_user = users.astype(np.uint64)
    by_user <<= np.uint64(t_bits)
    by_user |= (times - t_min).astype(np.uint64)
    key = types.astype(np.uint64)
    key <<= np.uint64(u_bits + t_bits)
    key |= by_user
    if (key[1:] >= key[:-1]).all():
        return None
    if (by_user[1:] >= by_user[:-1]).all():
        # Already in (user, time) order (a per-user export): a stable sort by type alone, a
        # linear radix sort for up to 65,536 types, keeps that order within each type.
        return np.argsort(types.astype(np.uint16) if y_bits <= 16 else types, kind="stable")
    return np.argsort(key, kind="stable")


def _merged(parts: Sequence[Segment], period_ms: int) -> tuple[pa.Table, np.ndarray]:
    """The rows of ``parts`` in (time partition, type, user, time) order, as one chunk, and
    the start of each partition's range (and the end of the last)."""
    table = pa.concat_tables([p.table for p in parts], promote_options="default")
    if table.num_rows == 0:
        return _single_chunk(table), np.zeros(1, np.int64)
    types, users, times = ([getattr(p, c) for p in parts] for c in ("types", "users", "times"))
    merged = merge_order(types, users, times, period_ms)
    order, starts = merged if merged is not None else _partition_order(types, users, times, period_ms)
    if (order[1:] > order[:-1]).all():
        return _single_chunk(table), starts  # already in order: no copy
    return _single_chunk(_take(table, order)), starts


def _partition_order(
    type_parts: list[np.ndarray], user_parts: list[np.ndarray], time_parts: list[np.ndarray], period_ms: int
) -> tuple[np.ndarray, np.ndarray]:
    """(row order, piece starts) by (time partition, type, user, time) for parts in any order:
    a sort by (type, user, time), then a stable radix sort by partition."""
    types, users, times = (np.concatenate(c) for c in (type_parts, user_parts, time_parts))
    order = _sort_order(types, users, times)
    if order is None:
        order = np.arange(len(times))
    part = np.floor_divide(times[order], period_ms)
    rel = part - int(part.min())
    by_part = np.argsort(rel.astype(np.uint16) if int(rel.max()) < 1 << 16 else rel, kind="stable")
    order, part = order[by_part], part[by_part]
    return order, np.concatenate(([0], np.flatnonzero(np.diff(part)) + 1, [len(part)]))


def _build_index(types: np.ndarray, users: np.ndarray, times: np.ndarray) -> dict[int, TypeRange]:
    if len(types) == 0:
        return {}
    starts = np.concatenate(([0], np.flatnonzero(np.diff(types)) + 1))
    ends = np.concatenate((starts[1:], [len(types)]))
    mins = np.minimum.reduceat(times, starts)
    maxs = np.maximum.reduceat(times, starts)
    index = {}
    for s, e, lo, hi in zip(starts.tolist(), ends.tolist(), mins.tolist(), maxs.tolist(), strict=True):
        run = users[s:e]  # sorted within a type range
        distinct = run[np.concatenate(([True], run[1:] != run[:-1]))]
        index[int(types[s])] = TypeRange(s, e, lo, hi, bitmap_from_ids(distinct))
    return index
