"""Numba kernel: the contract's functions (see ``cohortd.engine.kernels``) as jitted loops.

Second implementation for cross-checking the Rust kernel and as a benchmark
peer. Row-wise kernels loop over parts in Python and call one jitted function
per part that accumulates into shared output arrays, so floats are summed in
part order then row order like the Rust kernel. ``distinct`` and ``sequence``
concatenate and window-filter the parts with numpy, then group rows by user
(a counting sort on the dense ids) and scan them in jitted passes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numba
import numpy as np
import numpy.typing as npt

from cohortd.engine.kernels import Parts, Step, as_parts
from cohortd.errors import KernelError

Array = np.ndarray[Any, Any]

_AGG_FUNCS = {"sum": 0, "min": 1, "max": 2}
_NO_TIME = np.iinfo(np.int64).max


# ---------------------------------------------------------------- validation


def _rows(users: Parts, times: Parts, n_users: int, what: str = "") -> tuple[list[Array], list[Array], int]:
    """Validated (users, times, n_users), with the same checks as the Rust kernel."""
    n = int(n_users)
    if n < 0:
        raise KernelError(f"n_users must be non-negative, got {n_users}")
    us, ts = as_parts(users, np.uint32, what + "users"), as_parts(times, np.int64, what + "times")
    if len(us) != len(ts):
        raise KernelError(f"{len(us)} user parts but {len(ts)} time parts")
    for i, (u, t) in enumerate(zip(us, ts, strict=True)):
        if len(u) != len(t):
            raise KernelError(f"part {i}: {len(u)} users but {len(t)} times")
        if len(u) and int(u.max()) >= n:
            raise KernelError(f"part {i}: user id {int(u.max())} out of range (n_users = {n})")
    return us, ts, n


def _values(values: Parts, ts: list[Array], dtype: type[np.generic]) -> list[Array]:
    vs = as_parts(values, dtype, "values")
    if len(vs) != len(ts):
        raise KernelError(f"{len(vs)} value parts but {len(ts)} time parts")
    for i, (t, v) in enumerate(zip(ts, vs, strict=True)):
        if len(t) != len(v):
            raise KernelError(f"part {i}: {len(t)} times but {len(v)} values")
    return vs


def _concat(parts: list[Array], dtype: type[np.generic]) -> Array:
    return np.concatenate(parts) if parts else np.empty(0, dtype=dtype)


# ---------------------------------------------------------------- jitted loops


@numba.njit(cache=True)
def _count_part(users, times, start, end, out):  # type: ignore[no-untyped-def]
    for i in range(users.shape[0]):
        t = times[i]
        if start <= t and t < end:
            out[users[i]] += 1


@numba.njit(cache=True)
def _aggregate_part(users, times, values, start, end, func, acc, n):  # type: ignore[no-untyped-def]
    for i in range(users.shape[0]):
        t = times[i]
        if start <= t and t < end:
            u = users[i]
            v = values[i]
            if func == 0:
                acc[u] += v
            elif func == 1:
                if n[u] == 0 or v < acc[u]:
                    acc[u] = v
            elif n[u] == 0 or v > acc[u]:
                acc[u] = v
            n[u] += 1


@numba.njit(cache=True)
def _first_part(users, times, end, out):  # type: ignore[no-untyped-def]
    for i in range(users.shape[0]):
        t = times[i]
        u = users[i]
        if t < end and t < out[u]:
            out[u] = t


@numba.njit(cache=True)
def _sort_by_user(users, keys, n_users):  # type: ignore[no-untyped-def]
    """(users, keys) sorted by user then key: a counting sort on the dense user
    ids, then an in-place sort of each user's (short) run of keys."""
    start = np.zeros(n_users + 1, np.int64)
    for i in range(users.shape[0]):
        start[users[i] + 1] += 1
    for u in range(n_users):
        start[u + 1] += start[u]
    fill = start[:-1].copy()
    out_users = np.empty_like(users)
    out_keys = np.empty_like(keys)
    for i in range(users.shape[0]):
        u = users[i]
        p = fill[u]
        out_users[p] = u
        out_keys[p] = keys[i]
        fill[u] = p + 1
    for u in range(n_users):
        if start[u + 1] - start[u] > 1:
            out_keys[start[u] : start[u + 1]].sort()
    return out_users, out_keys


@numba.njit(cache=True)
def _count_sorted_distinct(users, keys, out):  # type: ignore[no-untyped-def]
    """``users``/``keys`` sorted by (user, key): count each new pair once."""
    for i in range(users.shape[0]):
        if i == 0 or users[i] != users[i - 1] or keys[i] != keys[i - 1]:
            out[users[i]] += 1


@numba.njit(cache=True)
def _user_matches(times, lo, hi, within, ptr):  # type: ignore[no-untyped-def]
    """Greedy check of one user; step j's sorted times are ``times[lo[j]:hi[j]]``.

    For each e1 (ascending) pick, per following step, the earliest time
    strictly after the previous pick; picks never move back as e1 grows.
    """
    k = lo.shape[0]
    for j in range(k):
        ptr[j] = lo[j]
    for s in range(lo[0], hi[0]):
        e1 = times[s]
        prev = e1
        for j in range(1, k):
            p = ptr[j]
            while p < hi[j] and times[p] <= prev:
                p += 1
            ptr[j] = p
            if p == hi[j]:
                return False
            prev = times[p]
        # prev >= e1: the difference is exact in uint64 even at the int64 extremes.
        if within < 0 or np.uint64(prev) - np.uint64(e1) <= np.uint64(within):
            return True
    return False


@numba.njit(cache=True)
def _sequence_sorted(users, times, offsets, within, out):  # type: ignore[no-untyped-def]
    """Step j's rows, sorted by (user, time), are ``offsets[j]:offsets[j + 1]``."""
    k = offsets.shape[0] - 1
    cursor = offsets[:-1].copy()
    lo = np.empty(k, np.int64)
    hi = np.empty(k, np.int64)
    ptr = np.empty(k, np.int64)
    i = offsets[0]
    while i < offsets[1]:
        user = users[i]
        present = True
        for j in range(k):
            a = cursor[j]
            stop = offsets[j + 1]
            while a < stop and users[a] < user:
                a += 1
            b = a
            while b < stop and users[b] == user:
                b += 1
            lo[j] = a
            hi[j] = b
            cursor[j] = b
            if a == b:
                present = False
        i = cursor[0]
        if present:
            out[user] = _user_matches(times, lo, hi, within, ptr)


# ---------------------------------------------------------------- the contract


def count(users: Parts, times: Parts, start: int, end: int, n_users: int) -> npt.NDArray[np.uint32]:
    us, ts, n = _rows(users, times, n_users)
    out = np.zeros(n, dtype=np.uint32)
    for u, t in zip(us, ts, strict=True):
        _count_part(u, t, np.int64(start), np.int64(end), out)
    return out


def aggregate(
    users: Parts, times: Parts, values: Parts, start: int, end: int, n_users: int, func: str
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.uint32]]:
    if func not in _AGG_FUNCS:
        raise KernelError(f"unknown aggregate function {func!r}; expected sum, min or max")
    us, ts, n = _rows(users, times, n_users)
    vs = _values(values, ts, np.float64)
    acc = np.zeros(n, dtype=np.float64)
    cnt = np.zeros(n, dtype=np.uint32)
    for u, t, v in zip(us, ts, vs, strict=True):
        _aggregate_part(u, t, v, np.int64(start), np.int64(end), _AGG_FUNCS[func], acc, cnt)
    return acc, cnt


def _distinct_pairs(
    us: list[Array], ts: list[Array], keys: Array, start: int, end: int, n: int
) -> npt.NDArray[np.uint32]:
    u, t = _concat(us, np.uint32), _concat(ts, np.int64)
    inside = (t >= start) & (t < end)
    u, keys = u[inside], keys[inside]
    out = np.zeros(n, dtype=np.uint32)
    _count_sorted_distinct(*_sort_by_user(u, keys, n), out)
    return out


def distinct(
    users: Parts, times: Parts, values: Parts, start: int, end: int, n_users: int
) -> npt.NDArray[np.uint32]:
    us, ts, n = _rows(users, times, n_users)
    vs = _values(values, ts, np.int64)
    return _distinct_pairs(us, ts, _concat(vs, np.int64), start, end, n)


def distinct_buckets(
    users: Parts, times: Parts, start: int, end: int, origin: int, period: int, n_users: int
) -> npt.NDArray[np.uint32]:
    us, ts, n = _rows(users, times, n_users)
    if period <= 0:
        raise KernelError(f"period must be positive, got {period}")
    t = _concat(ts, np.int64)
    p = np.int64(period)
    # floor((t - origin) / p) + floor(origin / p), which cannot overflow (see cohortd-core
    # distinct::bucket_key); a constant shift leaves the distinct counts unchanged.
    keys = t // p - (t % p < np.int64(origin) % p)
    return _distinct_pairs(us, ts, keys, start, end, n)


def first_time(users: Parts, times: Parts, end: int, n_users: int) -> npt.NDArray[np.int64]:
    us, ts, n = _rows(users, times, n_users)
    out = np.full(n, _NO_TIME, dtype=np.int64)
    for u, t in zip(us, ts, strict=True):
        _first_part(u, t, np.int64(end), out)
    return out


def sequence(steps: Sequence[Step], start: int, end: int, within: int, n_users: int) -> npt.NDArray[np.bool_]:
    if len(steps) == 0:
        raise KernelError("sequence needs at least one step")
    sorted_u, sorted_t = [], []
    n = 0
    for j, (users, times) in enumerate(steps):
        us, ts, n = _rows(users, times, n_users, f"step {j} ")
        u, t = _concat(us, np.uint32), _concat(ts, np.int64)
        inside = (t >= start) & (t < end)
        u, t = u[inside], t[inside]
        u_sorted, t_sorted = _sort_by_user(u, t, n)
        sorted_u.append(u_sorted)
        sorted_t.append(t_sorted)
    offsets = np.zeros(len(steps) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(u) for u in sorted_u])
    out = np.zeros(n, dtype=np.bool_)
    _sequence_sorted(np.concatenate(sorted_u), np.concatenate(sorted_t), offsets, np.int64(within), out)
    return out
