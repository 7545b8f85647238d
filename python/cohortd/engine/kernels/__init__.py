"""Evaluation kernels: one interface, two implementations (Rust and Numba).

The planner hands a kernel *parts*: slices of one segment's events that already
passed the event-type and property-filter selection.  Each part is a pair of
aligned 1-D arrays ``users`` (uint32 dense user ids) and ``times`` (int64 epoch
ms), sometimes with a third aligned ``values`` array.  Parts carry no ordering
guarantee.  Windows are half-open ``[start, end)`` in epoch ms; ``-2**63`` is
minus infinity.  Every function returns dense arrays indexed by user id,
of length ``n_users``.

Functions (identical signatures in ``rust_kernel`` and ``numba_kernel``):

``count(users, times, start, end, n_users) -> uint32[n]``
    number of rows with ``start <= t < end`` per user.
``aggregate(users, times, values, start, end, n_users, func) -> (float64[n], uint32[n])``
    ``func`` in ``"sum" | "min" | "max"`` over float64 ``values`` of rows in the
    window, plus the per-user row count (0 means "no value").  Sums are
    accumulated in part order then row order so both kernels agree bit for bit.
``distinct(users, times, values, start, end, n_users) -> uint32[n]``
    number of distinct int64 ``values`` per user among rows in the window.
``distinct_buckets(users, times, start, end, origin, period, n_users) -> uint32[n]``
    number of distinct ``floor((t - origin) / period)`` per user in the window
    (active days: origin 0, period 1 day; active periods: origin T).
``first_time(users, times, end, n_users) -> int64[n]``
    earliest ``t < end`` per user, ``2**63 - 1`` when none.
``nth_time(users, times, end, nth, n_users) -> int64[n]``
    the ``nth`` smallest ``t < end`` per user (1-based, each row counts once, equal
    times included), ``2**63 - 1`` when the user has fewer such rows (``nth did``).
``bucket_counts_reaching(users, times, start, end, origin, period, lo, hi, n_users) -> uint32[n]``
    number of buckets ``floor((t - origin) / period)`` per user whose count of rows
    in the window is in ``[lo, hi]``, ``lo >= 1`` (``did(E) >= 3 on 4 days``).
``count_per_user_window(users, times, starts, ends, n_users) -> uint32[n]``
    number of rows with ``starts[u] <= t < ends[u]`` per user (int64 arrays of
    length ``n_users``; ``did(E) within D of first did(A)``).
``sequence(steps, start, end, within, n_users) -> bool[n]``
    ``steps`` is a list (one entry per step) of ``(users_list, times_list)``;
    true where the user has events e1..ek, one per step in order, with strictly
    increasing times, all in the window, and ``ek - e1 <= within`` (``within``
    < 0 means no limit).

``count_sparse(users, times, start, end) -> (uint32[m], uint32[m])``
    the sparse ``count``: sorted ids of the users with a row in the window and their
    counts, in memory proportional to the rows touched (no array over all users).
``aggregate_sparse(users, times, values, start, end, func) -> (uint32[m], float64[m], uint32[m])``
    the sparse ``aggregate``: sorted ids, the aggregate (bit for bit the dense one:
    same row order), the counts.
``distinct_buckets_sparse(users, times, start, end, origin, period) -> (uint32[m], uint32[m])``
    the sparse ``distinct_buckets``: sorted ids of the users with a row in the window and
    their distinct bucket counts.
``first_time_sparse(users, times, end) -> (uint32[m], int64[m])`` and
``nth_time_sparse(users, times, end, nth) -> (uint32[m], int64[m])``
    the sparse ``first_time`` / ``nth_time``: the users that have such a time, and it.
``sequence_sparse(steps, start, end, within) -> uint32[m]``
    the sparse ``sequence``: sorted ids of the users with a matching chain.

``users_in_window(users, times, start, end, n_users) -> BitMap``
    the users with at least one row in the window (``did(E)`` over the ranges a window cuts).
``top_members(metric, known, rank) -> BitMap``
    for a uint32 ``metric[n]`` (counts, active days) and a bool ``known[n]``: the known users with
    ``metric > 0`` and ``metric >= q``, ``q`` the ``rank``-th largest positive known metric (every
    positive known user when there are fewer; none at rank 0): a percentile's members.
``mask_to_bitmap(mask, known) -> BitMap``
    the ids where both bool arrays (of one length) are true: a dense condition's members.

Here ``users``, ``times`` and ``values`` are *lists* of arrays, one per part.

The analyses (``cohortd.analysis``) add, with the same two implementations
(``2**63 - 1`` is "no time" in every per-user time array):

``first_in_window(users, times, start, end, n_users) -> int64[n]``
    earliest ``t`` in ``[start, end)`` per user.
``retention_curve(starts, users, times, as_of, period, n_periods) -> (users, retained, unbounded)``
    per period k (uint64[n_periods]): users whose period ``[s + k*P, s + (k+1)*P)``
    ended by ``as_of``, those with a row in it, those with a row at or after its start.
``funnel(steps, entry_start, entry_end, as_of, window, n_users) -> (uint32[m], int64[m, k])``
    entrants (a step-1 row in ``[entry_start, min(entry_end, as_of))``) and, per step,
    the shortest ``ek - e1`` over strictly increasing chains within ``window``
    (< 0: none) with ``ek < as_of``; -1 when not reached.
``journeys(anchors, users, times, types, rank, before, after, depth, keep_repeats, as_of)``
    ``(anchored users, after rows, before rows)``: per anchored user the next
    ``depth`` type ids in ``(a, a + after]`` and the previous ones in
    ``[a - before, a)`` nearest first, padded with ``2**32 - 1``; equal times
    ordered by ``rank[type]``; consecutive repeats collapsed unless ``keep_repeats``.
``next_after(after, users, times, end) -> int64[n]``
    earliest ``t`` with ``after[u] < t < end`` per user.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

from cohortd.errors import InvalidArgumentError, KernelError

KERNELS = ("rust", "numba")

Parts = Sequence[npt.ArrayLike]
Step = tuple[Parts, Parts]


def as_parts(parts: Parts, dtype: type[np.generic], what: str) -> list[np.ndarray[Any, Any]]:
    """Contiguous 1-D arrays of ``dtype``; only lossless conversions are allowed (both kernels)."""
    out = []
    for i, part in enumerate(parts):
        a = np.asarray(part)
        if a.ndim != 1:
            raise KernelError(f"{what} part {i} is {a.ndim}-D, expected 1-D")
        if a.size and a.dtype != dtype and not np.can_cast(a.dtype, dtype, "safe"):
            raise KernelError(f"{what} part {i} has dtype {a.dtype}, expected {np.dtype(dtype)}")
        out.append(np.ascontiguousarray(a, dtype=dtype))
    return out


#: ``op`` -> its function, for an array (or a value) and a number
OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
#: the comparisons of a per-user figure, as ``holds`` and the native members kernels take them
COMPARISONS = (*OPERATORS, "between")


def holds(values: np.ndarray, op: str, lo: Any, hi: Any = 0) -> np.ndarray:
    """Mask of ``values`` that pass ``op lo`` (``between``: ``lo <= v <= hi``), as the
    native members kernels test them (``cohortd_core::Threshold``)."""
    if op == "between":
        return (values >= lo) & (values <= hi)
    test = OPERATORS.get(op)
    if test is None:
        raise KernelError(f"unknown comparison {op!r}; expected one of {', '.join(COMPARISONS)}")
    return test(values, lo)  # type: ignore[no-any-return]


def get_kernel(name: str) -> ModuleType:
    """Return the kernel module for ``name`` ("rust" or "numba")."""
    if name == "rust":
        from cohortd.engine.kernels import rust_kernel

        return rust_kernel
    if name == "numba":
        try:
            from cohortd.engine.kernels import numba_kernel
        except ModuleNotFoundError as exc:
            if exc.name != "numba":
                raise
            raise KernelError("the numba kernel needs the extra: pip install 'cohortd[numba]'") from None
        return numba_kernel
    raise InvalidArgumentError(f"unknown kernel {name!r}; expected one of {', '.join(KERNELS)}")
