"""Rust kernel: the contract's functions (see ``cohortd.engine.kernels``) over ``cohortd._native``.

This layer only normalises inputs (dtype, contiguity) so the native side can
borrow the buffers as slices; all checks on consistency and all work happen
in Rust with the GIL released.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from pyroaring import BitMap

from cohortd import _native
from cohortd.engine.kernels import Parts, Step, as_parts
from cohortd.engine.kernels.part_list import PartListLike, normalised
from cohortd.errors import KernelError


def _n(n_users: int) -> int:
    if int(n_users) < 0:
        raise KernelError(f"n_users must be non-negative, got {n_users}")
    return int(n_users)


def count(users: Parts, times: Parts, start: int, end: int, n_users: int) -> npt.NDArray[np.uint32]:
    return _native.count(
        as_parts(users, np.uint32, "users"), as_parts(times, np.int64, "times"), start, end, _n(n_users)
    )


def aggregate(
    users: Parts, times: Parts, values: Parts, start: int, end: int, n_users: int, func: str
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.uint32]]:
    return _native.aggregate(
        as_parts(users, np.uint32, "users"),
        as_parts(times, np.int64, "times"),
        as_parts(values, np.float64, "values"),
        start,
        end,
        _n(n_users),
        func,
    )


def distinct(
    users: Parts, times: Parts, values: Parts, start: int, end: int, n_users: int
) -> npt.NDArray[np.uint32]:
    return _native.distinct(
        as_parts(users, np.uint32, "users"),
        as_parts(times, np.int64, "times"),
        as_parts(values, np.int64, "values"),
        start,
        end,
        _n(n_users),
    )


def distinct_buckets(
    users: Parts, times: Parts, start: int, end: int, origin: int, period: int, n_users: int
) -> npt.NDArray[np.uint32]:
    return _native.distinct_buckets(
        as_parts(users, np.uint32, "users"),
        as_parts(times, np.int64, "times"),
        start,
        end,
        origin,
        period,
        _n(n_users),
    )


def first_time(users: Parts, times: Parts, end: int, n_users: int) -> npt.NDArray[np.int64]:
    return _native.first_time(
        as_parts(users, np.uint32, "users"), as_parts(times, np.int64, "times"), end, _n(n_users)
    )


def nth_time(users: Parts, times: Parts, end: int, nth: int, n_users: int) -> npt.NDArray[np.int64]:
    if int(nth) < 1:
        raise KernelError(f"nth must be at least 1, got {nth}")
    return _native.nth_time(
        as_parts(users, np.uint32, "users"), as_parts(times, np.int64, "times"), end, int(nth), _n(n_users)
    )


def bucket_counts_reaching(
    users: Parts, times: Parts, start: int, end: int, origin: int, period: int, lo: int, hi: int, n_users: int
) -> npt.NDArray[np.uint32]:
    if period <= 0:
        raise KernelError(f"period must be positive, got {period}")
    if lo < 1:
        raise KernelError("lo must be at least 1 (empty buckets are not counted)")
    return _native.bucket_counts_reaching(
        as_parts(users, np.uint32, "users"), as_parts(times, np.int64, "times"),
        start, end, origin, period, int(lo), min(int(hi), 2**63 - 1), _n(n_users),
    )  # fmt: skip


def count_per_user_window(
    users: Parts, times: Parts, starts: np.ndarray, ends: np.ndarray, n_users: int
) -> npt.NDArray[np.uint32]:
    return _native.count_per_user_window(
        as_parts(users, np.uint32, "users"), as_parts(times, np.int64, "times"),
        np.ascontiguousarray(starts, np.int64), np.ascontiguousarray(ends, np.int64), _n(n_users),
    )  # fmt: skip


def users_in_window(users: Parts, times: Parts, start: int, end: int, n_users: int) -> BitMap:
    return BitMap.deserialize(
        _native.users_in_window(
            as_parts(users, np.uint32, "users"), as_parts(times, np.int64, "times"), start, end, _n(n_users)
        )
    )


def top_members(metric: npt.ArrayLike, known: npt.ArrayLike, rank: int) -> BitMap:
    if int(rank) < 0:
        raise KernelError(f"rank must be non-negative, got {rank}")
    metric_u32 = as_parts([metric], np.uint32, "metric")[0]
    return BitMap.deserialize(_native.top_members(metric_u32, _known(known, len(metric_u32)), int(rank)))


def mask_to_bitmap(mask: npt.ArrayLike, known: npt.ArrayLike) -> BitMap:
    """One pass writing the portable roaring format (no id list in between)."""
    m = np.ascontiguousarray(mask, dtype=bool)
    return BitMap.deserialize(_native.mask_to_bitmap(m, _known(known, len(m))))


def _known(known: npt.ArrayLike, n: int) -> npt.NDArray[np.bool_]:
    k = np.ascontiguousarray(known, dtype=bool)
    if k.shape != (n,):
        raise KernelError(f"known has shape {k.shape}, expected ({n},)")
    return k


def _steps(steps: Sequence[Step]) -> list[tuple[list[np.ndarray], list[np.ndarray]]]:
    return [
        (as_parts(u, np.uint32, f"step {j} users"), as_parts(t, np.int64, f"step {j} times"))
        for j, (u, t) in enumerate(steps)
    ]


def sequence(steps: Sequence[Step], start: int, end: int, within: int, n_users: int) -> npt.NDArray[np.bool_]:
    return _native.sequence(_steps(steps), start, end, within, _n(n_users))


def user_type_counts(
    users: Parts,
    types: Parts,
    times: Parts,
    start: int,
    end: int,
    row_of_user: npt.ArrayLike,
    col_of_type: npt.ArrayLike,
    n_rows: int,
    n_cols: int,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int32], npt.NDArray[np.uint32]]:
    """Per-user counts by event type in ``[start, end)`` as CSR ``(indptr, indices, data)``.

    Not part of the two-kernel contract: the personas feature matrix (``cohortd.personas.features``).
    ``row_of_user[u]`` / ``col_of_type[t]`` < 0 leave a user / an event type out.
    """
    return _native.user_type_counts(
        as_parts(users, np.uint32, "users"),
        as_parts(types, np.uint32, "types"),
        as_parts(times, np.int64, "times"),
        start,
        end,
        np.ascontiguousarray(row_of_user, dtype=np.int32),
        np.ascontiguousarray(col_of_type, dtype=np.int32),
        _n(n_rows),
        _n(n_cols),
    )


# ------------------------------------------------------------------ analyses (retention, funnels, journeys)


def _times(a: npt.ArrayLike, what: str) -> npt.NDArray[np.int64]:
    return as_parts([a], np.int64, what)[0]


def first_in_window(users: Parts, times: Parts, start: int, end: int, n_users: int) -> npt.NDArray[np.int64]:
    return _native.first_in_window(
        as_parts(users, np.uint32, "users"), as_parts(times, np.int64, "times"), start, end, _n(n_users)
    )


def retention_curve(
    starts: npt.ArrayLike, users: Parts, times: Parts, as_of: int, period: int, n_periods: int
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64], npt.NDArray[np.uint64]]:
    return _native.retention_curve(
        _times(starts, "starts"),
        as_parts(users, np.uint32, "users"),
        as_parts(times, np.int64, "times"),
        as_of,
        period,
        _n(n_periods),
    )


def funnel(
    steps: Sequence[Step], entry_start: int, entry_end: int, as_of: int, window: int, n_users: int
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.int64]]:
    native_steps = [
        (as_parts(u, np.uint32, f"step {j} users"), as_parts(t, np.int64, f"step {j} times"))
        for j, (u, t) in enumerate(steps)
    ]
    users, times = _native.funnel(native_steps, entry_start, entry_end, as_of, window, _n(n_users))
    return users, times.reshape(len(users), len(steps))


def journeys(
    anchors: npt.ArrayLike,
    users: Parts,
    times: Parts,
    types: Parts,
    rank: npt.ArrayLike,
    before: int,
    after: int,
    depth: int,
    keep_repeats: bool,
    as_of: int,
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32], npt.NDArray[np.uint32]]:
    if int(depth) < 1:
        raise KernelError(f"depth must be at least 1, got {depth}")
    anchored, after_rows, before_rows = _native.journeys(
        _times(anchors, "anchors"),
        as_parts(users, np.uint32, "users"),
        as_parts(times, np.int64, "times"),
        as_parts(types, np.uint32, "types"),
        as_parts([rank], np.uint32, "rank")[0],
        before,
        after,
        int(depth),
        bool(keep_repeats),
        as_of,
    )
    shape = (len(anchored), int(depth))
    return anchored, after_rows.reshape(shape), before_rows.reshape(shape)


def next_after(after: npt.ArrayLike, users: Parts, times: Parts, end: int) -> npt.NDArray[np.int64]:
    return _native.next_after(
        _times(after, "after"), as_parts(users, np.uint32, "users"), as_parts(times, np.int64, "times"), end
    )


def count_sparse(
    users: Parts, times: Parts, start: int, end: int
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]:
    return _native.count_sparse(
        as_parts(users, np.uint32, "users"), as_parts(times, np.int64, "times"), start, end
    )


def aggregate_sparse(
    users: Parts, times: Parts, values: Parts, start: int, end: int, func: str
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.float64], npt.NDArray[np.uint32]]:
    return _native.aggregate_sparse(
        as_parts(users, np.uint32, "users"),
        as_parts(times, np.int64, "times"),
        as_parts(values, np.float64, "values"),
        start,
        end,
        func,
    )


def distinct_buckets_sparse(
    users: Parts, times: Parts, start: int, end: int, origin: int, period: int
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]:
    return _native.distinct_buckets_sparse(
        as_parts(users, np.uint32, "users"), as_parts(times, np.int64, "times"), start, end, origin, period
    )


def first_time_sparse(
    users: Parts, times: Parts, end: int
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.int64]]:
    return _native.first_time_sparse(
        as_parts(users, np.uint32, "users"), as_parts(times, np.int64, "times"), end
    )


def nth_time_sparse(
    users: Parts, times: Parts, end: int, nth: int
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.int64]]:
    if int(nth) < 1:
        raise KernelError(f"nth must be at least 1, got {nth}")
    return _native.nth_time_sparse(
        as_parts(users, np.uint32, "users"), as_parts(times, np.int64, "times"), end, int(nth)
    )


def sequence_sparse(steps: Sequence[Step], start: int, end: int, within: int) -> npt.NDArray[np.uint32]:
    return _native.sequence_sparse(_steps(steps), start, end, within)


def contains_matrix(bitmaps: Sequence[bytes], ids: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Row-major ``len(ids) x len(bitmaps)`` membership of dense ids (-1: unknown) in serialized bitmaps."""
    return _native.contains_matrix(list(bitmaps), np.ascontiguousarray(ids, dtype=np.int64))


def contains_flat(bitsets: Sequence[bytes], ids: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """``contains_matrix`` over flat bitsets (``flat_bitset``): one byte read per check."""
    return _native.contains_flat(list(bitsets), np.ascontiguousarray(ids, dtype=np.int64))


def flat_bitset(bitmap: bytes, max_bytes: int) -> bytes | None:
    """A serialized bitmap as a flat bitset over its id range, or None past ``max_bytes``."""
    return _native.flat_bitset(bitmap, max_bytes)


def part_list(
    users: Parts, times: Parts, min_times: Any, max_times: Any, values: Parts | None = None
) -> PartListLike:
    """The native part list (``cohortd.engine.kernels.part_list``): zero-copy references to the parts."""
    us, ts, lo, hi, vs = normalised(users, times, min_times, max_times, values)
    return _native.PartList(us, ts, lo.tolist(), hi.tolist(), vs)
