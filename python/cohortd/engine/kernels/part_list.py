"""``part_list``: one event type's parts with their time bounds, built once per data version.

An evaluation of a selective condition then costs the rows of the parts its window
overlaps and a constant: no per-part work in Python.  The Rust kernel returns
``cohortd._native.PartList`` (zero-copy references to the arrays); the Numba kernel
this class, which selects the overlapping parts and calls its sparse functions on them.
Both take the same arguments and answer exactly the sparse functions on the
overlapping parts (in part order, so sums agree bit for bit):

``part_list(users, times, min_times, max_times, values=None)``
    ``users``/``times`` (and ``values``, float64) aligned parts; ``min_times[i]`` /
    ``max_times[i]`` inclusive bounds of part ``i``'s times.
``.rows(start, end) -> int``
    rows of the parts that ``[start, end)`` overlaps.
``.count_sparse(start, end)`` and ``.aggregate_sparse(start, end, func)``
    ``count_sparse`` / ``aggregate_sparse`` of those parts.
``.count_members(start, end, op, lo, hi)`` and ``.aggregate_members(start, end, func, op, lo, hi)``
    sorted ids of the users among those whose count / aggregate (``func`` may also be
    ``"avg"``: the sum over the count) passes ``holds(figure, op, lo, hi)``: a condition's
    members without the figures of everyone who misses (the native list compares in Rust).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from cohortd.engine.kernels import Parts, as_parts, holds
from cohortd.errors import KernelPartsError


class PartListLike(Protocol):
    def __len__(self) -> int: ...
    def rows(self, start: int, end: int) -> int: ...
    def count_sparse(self, start: int, end: int) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]: ...
    def aggregate_sparse(
        self, start: int, end: int, func: str
    ) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.float64], npt.NDArray[np.uint32]]: ...
    def count_members(
        self, start: int, end: int, op: str, lo: float, hi: float
    ) -> npt.NDArray[np.uint32]: ...
    def aggregate_members(
        self, start: int, end: int, func: str, op: str, lo: float, hi: float
    ) -> npt.NDArray[np.uint32]: ...


def normalised(
    users: Parts, times: Parts, min_times: Any, max_times: Any, values: Parts | None
) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray, np.ndarray, list[np.ndarray] | None]:
    """The parts as contiguous arrays of the kernels' dtypes, checked for alignment."""
    us, ts = as_parts(users, np.uint32, "users"), as_parts(times, np.int64, "times")
    vs = None if values is None else as_parts(values, np.float64, "values")
    lo, hi = np.asarray(min_times, np.int64), np.asarray(max_times, np.int64)
    if len(us) != len(ts) or any(len(u) != len(t) for u, t in zip(us, ts, strict=True)):
        raise KernelPartsError("users and times parts are not aligned")
    if vs is not None and (len(vs) != len(us) or any(len(v) != len(u) for u, v in zip(us, vs, strict=True))):
        raise KernelPartsError("values parts are not aligned with the users")
    if len(lo) != len(us) or len(hi) != len(us):
        raise KernelPartsError(f"{len(us)} parts but {len(lo)}/{len(hi)} time bounds")
    return us, ts, lo, hi, vs


class PartList:
    """The Python part list over a kernel's ``count_sparse`` and ``aggregate_sparse`` (the Numba kernel's)."""

    def __init__(
        self,
        count_sparse: Callable[..., Any],
        aggregate_sparse: Callable[..., Any],
        users: Parts,
        times: Parts,
        min_times: Any,
        max_times: Any,
        values: Parts | None = None,
    ) -> None:
        self._count, self._aggregate = count_sparse, aggregate_sparse
        self._users, self._times, self._lo, self._hi, self._values = normalised(
            users, times, min_times, max_times, values
        )
        self._lens = np.array([len(u) for u in self._users], np.int64)

    def __len__(self) -> int:
        return len(self._users)

    def _overlapping(self, start: int, end: int) -> list[int]:
        if start >= end:
            return []
        return np.flatnonzero((self._hi >= start) & (self._lo < end)).tolist()

    def rows(self, start: int, end: int) -> int:
        return int(self._lens[self._overlapping(start, end)].sum())

    def count_sparse(self, start: int, end: int) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]:
        sel = self._overlapping(start, end)
        return self._count(  # type: ignore[no-any-return]
            [self._users[i] for i in sel], [self._times[i] for i in sel], start, end
        )

    def aggregate_sparse(
        self, start: int, end: int, func: str
    ) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.float64], npt.NDArray[np.uint32]]:
        if self._values is None:
            raise KernelPartsError("this part list holds no values")
        sel = self._overlapping(start, end)
        return self._aggregate(  # type: ignore[no-any-return]
            [self._users[i] for i in sel],
            [self._times[i] for i in sel],
            [self._values[i] for i in sel],
            start,
            end,
            func,
        )

    def count_members(self, start: int, end: int, op: str, lo: float, hi: float) -> npt.NDArray[np.uint32]:
        ids, counts = self.count_sparse(start, end)
        return ids[holds(counts, op, lo, hi)]

    def aggregate_members(
        self, start: int, end: int, func: str, op: str, lo: float, hi: float
    ) -> npt.NDArray[np.uint32]:
        ids, values, counts = self.aggregate_sparse(start, end, "sum" if func == "avg" else func)
        if func == "avg":
            values = values / counts
        return ids[holds(values, op, lo, hi)]
