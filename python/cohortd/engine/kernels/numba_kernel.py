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
from pyroaring import BitMap

from cohortd.engine.kernels import Parts, Step, as_parts
from cohortd.engine.kernels.part_list import PartList, PartListLike
from cohortd.errors import KernelError
from cohortd.storage.segment import bitmap_from_ids

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
def _sort_by_user(users: Array, keys: Array, n_users: int) -> tuple[Array, Array]:
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
    """Step j's rows, sorted by (user, time), are ``offsets[j]:offsets[j + 1]``.

    Writes the matching users' ids, ascending, to ``out`` and returns how many.
    """
    m = 0
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
        if present and _user_matches(times, lo, hi, within, ptr):
            out[m] = user
            m += 1
    return m


# ---------------------------------------------------------------- the contract


def count(users: Parts, times: Parts, start: int, end: int, n_users: int) -> npt.NDArray[np.uint32]:
    us, ts, n = _rows(users, times, n_users)
    out = np.zeros(n, dtype=np.uint32)
    for u, t in zip(us, ts, strict=True):
        _count_part(u, t, np.int64(start), np.int64(end), out)
    return out


@numba.njit(cache=True)
def _mark_part(users, times, start, end, out):  # type: ignore[no-untyped-def]
    for i in range(users.shape[0]):
        t = times[i]
        if start <= t and t < end:
            out[users[i]] = True


def users_in_window(users: Parts, times: Parts, start: int, end: int, n_users: int) -> BitMap:
    us, ts, n = _rows(users, times, n_users)
    out = np.zeros(n, dtype=np.bool_)
    for u, t in zip(us, ts, strict=True):
        _mark_part(u, t, np.int64(start), np.int64(end), out)
    return bitmap_from_ids(np.flatnonzero(out))


def mask_to_bitmap(mask: npt.ArrayLike, known: npt.ArrayLike) -> BitMap:
    m, k = np.asarray(mask, dtype=np.bool_), np.asarray(known, dtype=np.bool_)
    if k.shape != m.shape:
        raise KernelError(f"known has shape {k.shape}, expected {m.shape}")
    return bitmap_from_ids(np.flatnonzero(m & k))


_HISTOGRAM_MAX = 1 << 24


@numba.njit(cache=True)
def _top_threshold(metric, known, rank):  # type: ignore[no-untyped-def]
    """The ``rank``-th largest positive known metric, or 1 when there are fewer."""
    n = 0
    top = 0
    for i in range(metric.shape[0]):
        if known[i] and metric[i] > 0:
            n += 1
            top = max(top, metric[i])
    if rank > n:
        return 1
    if top < _HISTOGRAM_MAX:
        hist = np.zeros(top + 1, dtype=np.int64)
        for i in range(metric.shape[0]):
            if known[i]:
                hist[metric[i]] += 1
        above = 0
        for v in range(top, 0, -1):
            above += hist[v]
            if above >= rank:
                return v
        return 1
    vals = np.sort(metric[known & (metric > 0)])
    return vals[vals.shape[0] - rank]


def top_members(metric: npt.ArrayLike, known: npt.ArrayLike, rank: int) -> BitMap:
    if int(rank) < 0:
        raise KernelError(f"rank must be non-negative, got {rank}")
    m = as_parts([metric], np.uint32, "metric")[0]
    k = np.ascontiguousarray(known, dtype=np.bool_)
    if k.shape != m.shape:
        raise KernelError(f"known has shape {k.shape}, expected {m.shape}")
    if int(rank) == 0:
        return BitMap()
    q = _top_threshold(m, k, np.int64(rank))
    return bitmap_from_ids(np.flatnonzero(k & (m >= q)))


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


def _bucket_keys(t: Array, origin: int, period: int) -> Array:
    p = np.int64(period)
    # floor((t - origin) / p) + floor(origin / p), which cannot overflow (see cohortd-core
    # distinct::bucket_key); a constant shift leaves the distinct counts unchanged.
    return t // p - (t % p < np.int64(origin) % p)


def distinct_buckets(
    users: Parts, times: Parts, start: int, end: int, origin: int, period: int, n_users: int
) -> npt.NDArray[np.uint32]:
    us, ts, n = _rows(users, times, n_users)
    if period <= 0:
        raise KernelError(f"period must be positive, got {period}")
    keys = _bucket_keys(_concat(ts, np.int64), origin, period)
    return _distinct_pairs(us, ts, keys, start, end, n)


@numba.njit(cache=True)
def _count_runs_reaching(users, keys, lo, hi, out):  # type: ignore[no-untyped-def]
    """``out[u]`` += 1 for each run of equal (user, key) whose length is in ``[lo, hi]``."""
    i = 0
    n = users.shape[0]
    while i < n:
        j = i
        while j < n and users[j] == users[i] and keys[j] == keys[i]:
            j += 1
        if lo <= j - i <= hi:
            out[users[i]] += 1
        i = j


def bucket_counts_reaching(
    users: Parts, times: Parts, start: int, end: int, origin: int, period: int, lo: int, hi: int, n_users: int
) -> npt.NDArray[np.uint32]:
    us, ts, n = _rows(users, times, n_users)
    if period <= 0:
        raise KernelError(f"period must be positive, got {period}")
    if lo < 1:
        raise KernelError("lo must be at least 1 (empty buckets are not counted)")
    u, t = _concat(us, np.uint32), _concat(ts, np.int64)
    inside = (t >= start) & (t < end)
    u, t = u[inside], t[inside]
    p = np.int64(period)
    keys = t // p - (t % p < np.int64(origin) % p)  # the bucket, shifted as in distinct_buckets
    out = np.zeros(n, dtype=np.uint32)
    hi = min(int(hi), 2**63 - 1)
    _count_runs_reaching(*_sort_by_user(u, keys, n), np.int64(lo), np.int64(hi), out)
    return out


@numba.njit(cache=True)
def _count_per_user_part(users, times, starts, ends, out):  # type: ignore[no-untyped-def]
    for i in range(users.shape[0]):
        u = users[i]
        t = times[i]
        if starts[u] <= t and t < ends[u]:
            out[u] += 1


def count_per_user_window(
    users: Parts, times: Parts, starts: Array, ends: Array, n_users: int
) -> npt.NDArray[np.uint32]:
    us, ts, n = _rows(users, times, n_users)
    starts, ends = np.ascontiguousarray(starts, np.int64), np.ascontiguousarray(ends, np.int64)
    if len(starts) != n or len(ends) != n:
        raise KernelError(f"{len(starts)} starts and {len(ends)} ends for {n} users")
    out = np.zeros(n, dtype=np.uint32)
    for u, t in zip(us, ts, strict=True):
        _count_per_user_part(u, t, starts, ends, out)
    return out


def first_time(users: Parts, times: Parts, end: int, n_users: int) -> npt.NDArray[np.int64]:
    us, ts, n = _rows(users, times, n_users)
    out = np.full(n, _NO_TIME, dtype=np.int64)
    for u, t in zip(us, ts, strict=True):
        _first_part(u, t, np.int64(end), out)
    return out


@numba.njit(cache=True)
def _nth_sorted(users, times, nth, out):  # type: ignore[no-untyped-def]
    """``out[u]`` = the nth time of each user's run in (user, time)-sorted rows."""
    i = 0
    n = users.shape[0]
    while i < n:
        j = i
        while j < n and users[j] == users[i]:
            j += 1
        if j - i >= nth:
            out[users[i]] = times[i + nth - 1]
        i = j


def nth_time(users: Parts, times: Parts, end: int, nth: int, n_users: int) -> npt.NDArray[np.int64]:
    us, ts, n = _rows(users, times, n_users)
    if int(nth) < 1:
        raise KernelError(f"nth must be at least 1, got {nth}")
    u, t = _concat(us, np.uint32), _concat(ts, np.int64)
    before = t < end
    u_sorted, t_sorted = _sort_by_user(u[before], t[before], n)
    out = np.full(n, _NO_TIME, dtype=np.int64)
    _nth_sorted(u_sorted, t_sorted, np.int64(nth), out)
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
    out = np.zeros(n, dtype=np.bool_)
    out[_matching_users(sorted_u, sorted_t, within)] = True
    return out


def _matching_users(sorted_u: list[Array], sorted_t: list[Array], within: int) -> npt.NDArray[np.uint32]:
    """Sorted ids of the users with a chain, from each step's (user, time)-sorted rows."""
    offsets = np.zeros(len(sorted_u) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(u) for u in sorted_u])
    ids = np.empty(len(sorted_u[0]), np.uint32)
    m = _sequence_sorted(np.concatenate(sorted_u), np.concatenate(sorted_t), offsets, np.int64(within), ids)
    return ids[:m]


# ------------------------------------------------------------------ analyses (retention, funnels, journeys)

_END = np.uint32(2**32 - 1)


@numba.njit(cache=True)
def _first_in_part(users, times, start, end, out):  # type: ignore[no-untyped-def]
    for i in range(users.shape[0]):
        t = times[i]
        u = users[i]
        if start <= t and t < end and t < out[u]:
            out[u] = t


@numba.njit(cache=True)
def _retention_part(starts, users, times, as_of, period, n_periods, bits, last):  # type: ignore[no-untyped-def]
    for i in range(users.shape[0]):
        u = users[i]
        s = starts[u]
        t = times[i]
        if s == _NO_TIME or t < s or t >= as_of:
            continue
        # t - s >= 0 and fits in uint64 exactly
        k = (np.uint64(t) - np.uint64(s)) // np.uint64(period)
        if k < np.uint64(n_periods):
            bits[u, k] = True
        if t > last[u]:
            last[u] = t


@numba.njit(cache=True)
def _retention_counts(starts, bits, last, has_last, as_of, period, n_periods, users, retained, unbounded):  # type: ignore[no-untyped-def]
    for u in range(starts.shape[0]):
        s = starts[u]
        if s == _NO_TIME:
            continue
        # periods over: floor((as_of - s) / period), computed without overflow
        if as_of <= s:
            ended = 0
        else:
            ended = (np.uint64(as_of) - np.uint64(s)) // np.uint64(period)
            ended = n_periods if ended > np.uint64(n_periods) else np.int64(ended)
        for k in range(ended):
            users[k] += 1
            if bits[u, k]:
                retained[k] += 1
            # last >= s + k * period  <=>  (last - s) // period >= k
            if has_last[u] and (np.uint64(last[u]) - np.uint64(s)) // np.uint64(period) >= np.uint64(k):
                unbounded[k] += 1


def first_in_window(users: Parts, times: Parts, start: int, end: int, n_users: int) -> npt.NDArray[np.int64]:
    us, ts, n = _rows(users, times, n_users)
    out = np.full(n, _NO_TIME, dtype=np.int64)
    for u, t in zip(us, ts, strict=True):
        _first_in_part(u, t, np.int64(start), np.int64(end), out)
    return out


def retention_curve(
    starts: npt.ArrayLike, users: Parts, times: Parts, as_of: int, period: int, n_periods: int
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64], npt.NDArray[np.uint64]]:
    s = as_parts([starts], np.int64, "starts")[0]
    us, ts, _ = _rows(users, times, len(s))
    if period <= 0:
        raise KernelError(f"period must be positive, got {period}")
    k = int(n_periods)
    bits = np.zeros((len(s), k), dtype=np.bool_)
    last = np.full(len(s), np.iinfo(np.int64).min, dtype=np.int64)
    for u, t in zip(us, ts, strict=True):
        _retention_part(s, u, t, np.int64(as_of), np.int64(period), np.int64(k), bits, last)
    has_last = last != np.iinfo(np.int64).min
    out = np.zeros(k, np.uint64), np.zeros(k, np.uint64), np.zeros(k, np.uint64)
    _retention_counts(s, bits, last, has_last, np.int64(as_of), np.int64(period), np.int64(k), *out)
    return out


@numba.njit(cache=True)
def _shortest_chains(times, lo, hi, window, ptr, best):  # type: ignore[no-untyped-def]
    """One user's shortest ``ek - e1`` per step (see cohortd-core funnel::shortest_chains)."""
    k = lo.shape[0]
    for j in range(k):
        ptr[j] = lo[j]
        best[j] = -1
    best[0] = 0
    reachable = k
    for s in range(lo[0], hi[0]):
        e1 = times[s]
        prev = e1
        for j in range(1, reachable):
            p = ptr[j]
            while p < hi[j] and times[p] <= prev:
                p += 1
            ptr[j] = p
            if p == hi[j]:
                reachable = j
                break
            prev = times[p]
            span = np.uint64(prev) - np.uint64(e1)
            if window >= 0 and span > np.uint64(window):
                break
            span_i = np.int64(span) if span <= np.uint64(2**63 - 1) else np.int64(2**63 - 1)
            if best[j] == -1 or span_i < best[j]:
                best[j] = span_i
        if reachable == 1:
            break


@numba.njit(cache=True)
def _funnel_sorted(users, times, offsets, window, out_users, out_times):  # type: ignore[no-untyped-def]
    k = offsets.shape[0] - 1
    cursor = offsets[:-1].copy()
    lo = np.empty(k, np.int64)
    hi = np.empty(k, np.int64)
    ptr = np.empty(k, np.int64)
    best = np.empty(k, np.int64)
    m = 0
    i = offsets[0]
    while i < offsets[1]:
        user = users[i]
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
        i = cursor[0]
        _shortest_chains(times, lo, hi, window, ptr, best)
        out_users[m] = user
        out_times[m, :] = best
        m += 1
    return m


def funnel(
    steps: Sequence[Step], entry_start: int, entry_end: int, as_of: int, window: int, n_users: int
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.int64]]:
    if len(steps) == 0:
        raise KernelError("a funnel needs at least one step")
    sorted_u, sorted_t = [], []
    n = 0
    for j, (users, times) in enumerate(steps):
        us, ts, n = _rows(users, times, n_users, f"step {j} ")
        u, t = _concat(us, np.uint32), _concat(ts, np.int64)
        end = min(entry_end, as_of) if j == 0 else as_of
        inside = (t >= entry_start) & (t < end)
        u_sorted, t_sorted = _sort_by_user(u[inside], t[inside], n)
        sorted_u.append(u_sorted)
        sorted_t.append(t_sorted)
    offsets = np.zeros(len(steps) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(u) for u in sorted_u])
    entrants = len(np.unique(sorted_u[0]))
    out_users = np.empty(entrants, np.uint32)
    out_times = np.empty((entrants, len(steps)), np.int64)
    _funnel_sorted(
        np.concatenate(sorted_u), np.concatenate(sorted_t), offsets, np.int64(window), out_users, out_times
    )
    return out_users, out_times


@numba.njit(cache=True)
def _near_part(anchors, users, times, types, rank, before, after, as_of, keep):  # type: ignore[no-untyped-def]
    """Mask of the rows inside their user's windows, and each row's rank."""
    n = users.shape[0]
    ranks = np.empty(n, np.uint32)
    for i in range(n):
        u = users[i]
        a = anchors[u]
        t = times[i]
        keep[i] = False
        if a == _NO_TIME or t == a or t >= as_of:
            continue
        if t > a:
            keep[i] = np.uint64(t) - np.uint64(a) <= np.uint64(after)
        else:
            keep[i] = np.uint64(a) - np.uint64(t) <= np.uint64(before)
        if keep[i]:
            ty = types[i]
            if ty >= rank.shape[0]:
                return ranks, False
            ranks[i] = rank[ty]
    return ranks, True


@numba.njit(cache=True)
def _paths(anchors, users, times, types, depth, keep_repeats, out_users, out_after, out_before):  # type: ignore[no-untyped-def]
    """Rows sorted by (user, time, rank): walk the anchored users in order."""
    i = 0
    m = 0
    n = users.shape[0]
    before = np.empty(n + 1, np.uint32)
    for u in range(anchors.shape[0]):
        a = anchors[u]
        if a == _NO_TIME:
            continue
        while i < n and users[i] < u:
            i += 1
        na = 0
        nb = 0
        last_after = np.uint32(0)
        for j in range(depth):
            out_after[m, j] = _END
            out_before[m, j] = _END
        while i < n and users[i] == u:
            ty = types[i]
            if times[i] > a:
                if keep_repeats or na == 0 or last_after != ty:
                    if na < depth:
                        out_after[m, na] = ty
                    na += 1
                    last_after = ty
            else:
                if keep_repeats or nb == 0 or before[nb - 1] != ty:
                    before[nb] = ty
                    nb += 1
            i += 1
        for j in range(min(depth, nb)):
            out_before[m, j] = before[nb - 1 - j]
        out_users[m] = u
        m += 1


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
    a = as_parts([anchors], np.int64, "anchors")[0]
    r = as_parts([rank], np.uint32, "rank")[0]
    us, ts, _ = _rows(users, times, len(a))
    ys = as_parts(types, np.uint32, "types")
    if len(ys) != len(ts) or any(len(y) != len(t) for y, t in zip(ys, ts, strict=True)):
        raise KernelError("types parts are not aligned with times parts")
    kept_u, kept_t, kept_y, kept_r = [], [], [], []
    for u, t, y in zip(us, ts, ys, strict=True):
        keep = np.empty(len(u), np.bool_)
        ranks, ok = _near_part(
            a, u, t, y, r, np.int64(max(before, 0)), np.int64(max(after, 0)), np.int64(as_of), keep
        )
        if not ok:
            raise KernelError("an event type has no rank")
        kept_u.append(u[keep])
        kept_t.append(t[keep])
        kept_y.append(y[keep])
        kept_r.append(ranks[keep])
    u, t, y, rk = (_concat(kept_u, np.uint32), _concat(kept_t, np.int64), _concat(kept_y, np.uint32),
                   _concat(kept_r, np.uint32))  # fmt: skip
    order = np.lexsort((rk, t, u))
    anchored = int((a != _NO_TIME).sum())
    d = int(depth)
    out_users = np.empty(anchored, np.uint32)
    out_after = np.empty((anchored, d), np.uint32)
    out_before = np.empty((anchored, d), np.uint32)
    _paths(a, u[order], t[order], y[order], d, bool(keep_repeats), out_users, out_after, out_before)
    return out_users, out_after, out_before


@numba.njit(cache=True)
def _next_part(after, users, times, end, out):  # type: ignore[no-untyped-def]
    for i in range(users.shape[0]):
        u = users[i]
        a = after[u]
        t = times[i]
        if a != _NO_TIME and a < t and t < end and t < out[u]:
            out[u] = t


def next_after(after: npt.ArrayLike, users: Parts, times: Parts, end: int) -> npt.NDArray[np.int64]:
    a = as_parts([after], np.int64, "after")[0]
    us, ts, _ = _rows(users, times, len(a))
    out = np.full(len(a), _NO_TIME, dtype=np.int64)
    for u, t in zip(us, ts, strict=True):
        _next_part(a, u, t, np.int64(end), out)
    return out


# ---------------------------------------------------------------- sparse


def _aligned(users: Parts, times: Parts, what: str = "") -> tuple[list[Array], list[Array]]:
    """Validated user and time parts of aligned lengths (no user-id range: no ``n_users``)."""
    us, ts = as_parts(users, np.uint32, what + "users"), as_parts(times, np.int64, what + "times")
    if len(us) != len(ts):
        raise KernelError(f"{len(us)} user parts but {len(ts)} time parts")
    for i, (u, t) in enumerate(zip(us, ts, strict=True)):
        if len(u) != len(t):
            raise KernelError(f"part {i}: {len(u)} users but {len(t)} times")
    return us, ts


def _by_user_time(users: Parts, times: Parts, start: int, end: int, what: str = "") -> tuple[Array, Array]:
    """Rows with ``start <= t < end`` sorted by (user, time); sorted input is kept as is."""
    us, ts = _aligned(users, times, what)
    keep = [(t >= start) & (t < end) for t in ts]
    u = _concat([a[k] for a, k in zip(us, keep, strict=True)], np.uint32)
    t = _concat([a[k] for a, k in zip(ts, keep, strict=True)], np.int64)
    if len(u) > 1:
        step = u[1:].astype(np.int64) - u[:-1]
        if not bool(np.all((step > 0) | ((step == 0) & (t[1:] >= t[:-1])))):
            order = np.lexsort((t, u))
            u, t = u[order], t[order]
    return u, t


def _in_window(
    users: Parts, times: Parts, values: Parts | None, start: int, end: int
) -> tuple[Array, Array | None]:
    """The users (and values) of rows in ``[start, end)``, in user order, stable (part then row order)."""
    us, ts = _aligned(users, times)
    vs = _values(values, ts, np.float64) if values is not None else None
    keep = [(t >= start) & (t < end) for t in ts]
    sel = _concat([u[k] for u, k in zip(us, keep, strict=True)], np.uint32)
    vals = None if vs is None else _concat([v[k] for v, k in zip(vs, keep, strict=True)], np.float64)
    if len(sel) > 1 and not bool(np.all(sel[1:] >= sel[:-1])):
        order = np.argsort(sel, kind="stable")
        sel = sel[order]
        vals = None if vals is None else vals[order]
    return sel, vals


def count_sparse(
    users: Parts, times: Parts, start: int, end: int
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]:
    sel, _ = _in_window(users, times, None, start, end)
    ids, counts = np.unique(sel, return_counts=True)
    return ids.astype(np.uint32), counts.astype(np.uint32)


@numba.njit(cache=True)
def _fold_runs(users, values, func, ids, acc, cnt):  # type: ignore[no-untyped-def]
    k = -1
    for i in range(len(users)):
        u, v = users[i], values[i]
        if k < 0 or ids[k] != u:
            k += 1
            ids[k] = u
            acc[k] = 0.0 + v if func == 0 else v
            cnt[k] = 1
        else:
            if func == 0:
                acc[k] += v
            elif func == 1:
                if v < acc[k]:
                    acc[k] = v
            elif v > acc[k]:
                acc[k] = v
            cnt[k] += 1
    return k + 1


def aggregate_sparse(
    users: Parts, times: Parts, values: Parts, start: int, end: int, func: str
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.float64], npt.NDArray[np.uint32]]:
    if func not in _AGG_FUNCS:
        raise KernelError(f"unknown aggregate function {func!r}; expected sum, min or max")
    sel, vals = _in_window(users, times, values, start, end)
    assert vals is not None
    ids = np.empty(len(sel), np.uint32)
    acc = np.empty(len(sel), np.float64)
    cnt = np.empty(len(sel), np.uint32)
    m = _fold_runs(sel, vals, _AGG_FUNCS[func], ids, acc, cnt) if len(sel) else 0
    return ids[:m], acc[:m], cnt[:m]


@numba.njit(cache=True)
def _distinct_runs(users, keys, ids, out):  # type: ignore[no-untyped-def]
    """Per user run of non-decreasing keys: the number of distinct keys."""
    m = -1
    for i in range(users.shape[0]):
        if i == 0 or users[i] != users[i - 1]:
            m += 1
            ids[m] = users[i]
            out[m] = 1
        elif keys[i] != keys[i - 1]:
            out[m] += 1
    return m + 1


@numba.njit(cache=True)
def _nth_runs(users, times, nth, ids, out):  # type: ignore[no-untyped-def]
    """Per user run of sorted times: the nth one, for the users that have it."""
    m = 0
    i = 0
    n = users.shape[0]
    while i < n:
        j = i
        while j < n and users[j] == users[i]:
            j += 1
        if j - i >= nth:
            ids[m] = users[i]
            out[m] = times[i + nth - 1]
            m += 1
        i = j
    return m


def distinct_buckets_sparse(
    users: Parts, times: Parts, start: int, end: int, origin: int, period: int
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]:
    u, t = _by_user_time(users, times, start, end)
    if period <= 0:
        raise KernelError(f"period must be positive, got {period}")
    ids = np.empty(len(u), np.uint32)
    counts = np.empty(len(u), np.uint32)
    m = _distinct_runs(u, _bucket_keys(t, origin, period), ids, counts) if len(u) else 0
    return ids[:m], counts[:m]


def _nth_sparse(users: Parts, times: Parts, end: int, nth: int) -> tuple[Array, Array]:
    u, t = _by_user_time(users, times, np.iinfo(np.int64).min, end)
    ids = np.empty(len(u), np.uint32)
    out = np.empty(len(u), np.int64)
    m = _nth_runs(u, t, np.int64(nth), ids, out) if len(u) else 0
    return ids[:m], out[:m]


def first_time_sparse(
    users: Parts, times: Parts, end: int
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.int64]]:
    return _nth_sparse(users, times, end, 1)


def nth_time_sparse(
    users: Parts, times: Parts, end: int, nth: int
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.int64]]:
    if int(nth) < 1:
        raise KernelError(f"nth must be at least 1, got {nth}")
    return _nth_sparse(users, times, end, int(nth))


def sequence_sparse(steps: Sequence[Step], start: int, end: int, within: int) -> npt.NDArray[np.uint32]:
    if len(steps) == 0:
        raise KernelError("sequence needs at least one step")
    sorted_steps = [_by_user_time(u, t, start, end, f"step {j} ") for j, (u, t) in enumerate(steps)]
    return _matching_users([u for u, _ in sorted_steps], [t for _, t in sorted_steps], within)


def part_list(
    users: Parts, times: Parts, min_times: Any, max_times: Any, values: Parts | None = None
) -> PartListLike:
    """A part list over this module's sparse functions (``cohortd.engine.kernels.part_list``)."""
    return PartList(count_sparse, aggregate_sparse, users, times, min_times, max_times, values)
