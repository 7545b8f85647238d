"""The Rust and Numba kernels against each other and a plain-Python reference.

Random data is deliberately cramped: few users, a handful of distinct
timestamps (so ties and rows exactly on window boundaries are common), empty
parts, and the int64 extremes as times and window bounds. Every kernel result
must equal the reference exactly (floats bit for bit, NaN matching NaN).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np
import pytest
from cohortd import _native
from cohortd.engine.kernels import KERNELS, get_kernel
from cohortd.errors import KernelError
from hypothesis import given, settings
from hypothesis import strategies as st

I64_MIN, I64_MAX = -(2**63), 2**63 - 1
ALL_KERNELS = [get_kernel(name) for name in KERNELS]
rust, numba = ALL_KERNELS

settings.register_profile("kernels", deadline=None, max_examples=150)
KERNEL_SETTINGS = settings.get_profile("kernels")

times_st = st.one_of(st.integers(-6, 6), st.sampled_from([I64_MIN, I64_MIN + 1, I64_MAX - 1, I64_MAX]))
bounds_st = st.one_of(st.integers(-7, 7), st.sampled_from([I64_MIN, I64_MAX]))
floats_st = st.one_of(
    st.sampled_from([0.0, -0.0, 1.0, 0.1, 1e16, -1e16, 3.5]),
    st.floats(allow_nan=True, allow_infinity=True),
)
ints_st = st.one_of(st.integers(-3, 3), st.sampled_from([I64_MIN, I64_MAX]))


# ---------------------------------------------------------------- data


@st.composite
def parts_st(
    draw: Any, n_users: int, values: st.SearchStrategy[Any] | None = None
) -> tuple[list, list, list]:
    """Up to 4 parts (possibly empty) of aligned users, times and values arrays."""
    users, times, vals = [], [], []
    for _ in range(draw(st.integers(0, 4))):
        n = draw(st.integers(0, 6))
        users.append(np.array(draw(st.lists(st.integers(0, n_users - 1), min_size=n, max_size=n)), np.uint32))
        times.append(np.array(draw(st.lists(times_st, min_size=n, max_size=n)), np.int64))
        if values is not None:
            dtype = np.float64 if values is floats_st else np.int64
            vals.append(np.array(draw(st.lists(values, min_size=n, max_size=n)), dtype))
    return users, times, vals


def events_st(
    values: st.SearchStrategy[Any] | None = None,
) -> st.SearchStrategy[tuple[int, list, list, list]]:
    return st.integers(1, 4).flatmap(lambda n: parts_st(n, values).map(lambda p: (n, *p)))


@st.composite
def sequence_st(draw: Any) -> tuple[int, list]:
    """1-4 steps drawn from a pool of 1-3 event types, so steps often share one."""
    n = draw(st.integers(1, 3))
    pool = [draw(parts_st(n))[:2] for _ in range(draw(st.integers(1, 3)))]
    steps = [pool[i] for i in draw(st.lists(st.integers(0, len(pool) - 1), min_size=1, max_size=4))]
    return n, steps


def rows(users: list, times: list, values: list | None = None) -> list[tuple[int, int, Any]]:
    """All rows as Python scalars, in part order then row order."""
    out = []
    for p, (u, t) in enumerate(zip(users, times, strict=True)):
        for i in range(len(u)):
            out.append((int(u[i]), int(t[i]), values[p][i].item() if values else None))
    return out


# ---------------------------------------------------------------- reference


def ref_count(users: list, times: list, start: int, end: int, n: int) -> np.ndarray:
    out = [0] * n
    for u, t, _ in rows(users, times):
        if start <= t < end:
            out[u] += 1
    return np.array(out, np.uint32)


def ref_aggregate(
    users: list, times: list, values: list, start: int, end: int, n: int, func: str
) -> tuple[np.ndarray, np.ndarray]:
    acc, cnt = [0.0] * n, [0] * n
    for u, t, v in rows(users, times, values):
        if start <= t < end:
            if func == "sum":
                acc[u] += v
            elif cnt[u] == 0 or (func == "min" and v < acc[u]) or (func == "max" and v > acc[u]):
                acc[u] = v
            cnt[u] += 1
    return np.array(acc, np.float64), np.array(cnt, np.uint32)


def ref_distinct(users: list, times: list, values: list, start: int, end: int, n: int) -> np.ndarray:
    seen: list[set[int]] = [set() for _ in range(n)]
    for u, t, v in rows(users, times, values):
        if start <= t < end:
            seen[u].add(v)
    return np.array([len(s) for s in seen], np.uint32)


def ref_distinct_buckets(
    users: list, times: list, start: int, end: int, origin: int, period: int, n: int
) -> np.ndarray:
    seen: list[set[int]] = [set() for _ in range(n)]
    for u, t, _ in rows(users, times):
        if start <= t < end:
            seen[u].add((t - origin) // period)
    return np.array([len(s) for s in seen], np.uint32)


def ref_first_time(users: list, times: list, end: int, n: int) -> np.ndarray:
    out = [I64_MAX] * n
    for u, t, _ in rows(users, times):
        if t < end:
            out[u] = min(out[u], t)
    return np.array(out, np.int64)


def ref_sequence(steps: list, start: int, end: int, within: int, n: int) -> np.ndarray:
    def extend(chain: list[int], lists: list[list[int]]) -> bool:
        if not lists:
            return within < 0 or chain[-1] - chain[0] <= within
        return any(extend([*chain, t], lists[1:]) for t in lists[0] if not chain or t > chain[-1])

    in_window: list[dict[int, set[int]]] = [{} for _ in steps]  # per step: user -> distinct times
    for seen, (us, ts) in zip(in_window, steps, strict=True):
        for u, t, _ in rows(us, ts):
            if start <= t < end:
                seen.setdefault(u, set()).add(t)
    return np.array(
        [extend([], [sorted(seen.get(user, ())) for seen in in_window]) for user in range(n)], np.bool_
    )


def assert_same(got: np.ndarray, want: np.ndarray) -> None:
    assert got.dtype == want.dtype and got.shape == want.shape, (got, want)
    if want.dtype.kind == "f":
        both_nan = np.isnan(got) & np.isnan(want)
        assert np.array_equal(got.view(np.uint64)[~both_nan], want.view(np.uint64)[~both_nan]), (got, want)
    else:
        assert np.array_equal(got, want), (got, want)


# ---------------------------------------------------------------- properties


@KERNEL_SETTINGS
@given(data=events_st(), start=bounds_st, end=bounds_st)
def test_count(data: tuple, start: int, end: int) -> None:
    n, users, times, _ = data
    want = ref_count(users, times, start, end, n)
    for k in ALL_KERNELS:
        assert_same(k.count(users, times, start, end, n), want)


@KERNEL_SETTINGS
@given(data=events_st(floats_st), start=bounds_st, end=bounds_st, func=st.sampled_from(["sum", "min", "max"]))
def test_aggregate(data: tuple, start: int, end: int, func: str) -> None:
    n, users, times, values = data
    want_acc, want_cnt = ref_aggregate(users, times, values, start, end, n, func)
    for k in ALL_KERNELS:
        acc, cnt = k.aggregate(users, times, values, start, end, n, func)
        assert_same(acc, want_acc)
        assert_same(cnt, want_cnt)


@KERNEL_SETTINGS
@given(data=events_st(), start=bounds_st, end=bounds_st)
def test_count_sparse(data: tuple, start: int, end: int) -> None:
    """The sparse count is the dense count's users with rows: sorted ids and their counts."""
    n, users, times, _ = data
    want = ref_count(users, times, start, end, n)
    ids = np.flatnonzero(want).astype(np.uint32)
    for k in ALL_KERNELS:
        got_ids, got_counts = k.count_sparse(users, times, start, end)
        assert_same(got_ids, ids)
        assert_same(got_counts, want[ids])


@KERNEL_SETTINGS
@given(data=events_st(floats_st), start=bounds_st, end=bounds_st, func=st.sampled_from(["sum", "min", "max"]))
def test_aggregate_sparse(data: tuple, start: int, end: int, func: str) -> None:
    """The sparse aggregate agrees bit for bit with the dense one on the users with rows."""
    n, users, times, values = data
    want_acc, want_cnt = ref_aggregate(users, times, values, start, end, n, func)
    ids = np.flatnonzero(want_cnt).astype(np.uint32)
    for k in ALL_KERNELS:
        got_ids, acc, cnt = k.aggregate_sparse(users, times, values, start, end, func)
        assert_same(got_ids, ids)
        assert_same(acc, want_acc[ids])
        assert_same(cnt, want_cnt[ids])


def ref_nth_time(users: list, times: list, end: int, nth: int, n: int) -> np.ndarray:
    per_user: list[list[int]] = [[] for _ in range(n)]
    for u, t, _ in rows(users, times):
        if t < end:
            per_user[u].append(t)
    return np.array([sorted(ts)[nth - 1] if len(ts) >= nth else I64_MAX for ts in per_user], np.int64)


@KERNEL_SETTINGS
@given(
    data=events_st(),
    start=bounds_st,
    end=bounds_st,
    origin=st.one_of(st.integers(-7, 7), st.sampled_from([I64_MIN, I64_MAX])),
    period=st.one_of(st.integers(1, 4), st.sampled_from([86_400_000, I64_MAX])),
)
def test_distinct_buckets_sparse(data: tuple, start: int, end: int, origin: int, period: int) -> None:
    """Sorted ids of the users with a row in the window and their distinct bucket counts."""
    n, users, times, _ = data
    want = ref_distinct_buckets(users, times, start, end, origin, period, n)
    has_row = ref_count(users, times, start, end, n) > 0
    ids = np.flatnonzero(has_row).astype(np.uint32)
    for k in ALL_KERNELS:
        got_ids, got = k.distinct_buckets_sparse(users, times, start, end, origin, period)
        assert_same(got_ids, ids)
        assert_same(got, want[ids])


@KERNEL_SETTINGS
@given(data=events_st(), end=bounds_st, nth=st.integers(1, 4))
def test_first_and_nth_time_sparse(data: tuple, end: int, nth: int) -> None:
    """The users that have a first / nth time before ``end``, and that time."""
    n, users, times, _ = data
    first = ref_first_time(users, times, end, n)
    want = ref_nth_time(users, times, end, nth, n)
    for k in ALL_KERNELS:
        assert_same(k.nth_time(users, times, end, nth, n), want)
        got_ids, got = k.first_time_sparse(users, times, end)
        ids = np.flatnonzero(first != I64_MAX).astype(np.uint32)
        assert_same(got_ids, ids)
        assert_same(got, first[ids])
        got_ids, got = k.nth_time_sparse(users, times, end, nth)
        ids = np.flatnonzero(want != I64_MAX).astype(np.uint32)
        assert_same(got_ids, ids)
        assert_same(got, want[ids])


@KERNEL_SETTINGS
@given(data=events_st(ints_st), start=bounds_st, end=bounds_st)
def test_distinct(data: tuple, start: int, end: int) -> None:
    n, users, times, values = data
    want = ref_distinct(users, times, values, start, end, n)
    for k in ALL_KERNELS:
        assert_same(k.distinct(users, times, values, start, end, n), want)


@KERNEL_SETTINGS
@given(
    data=events_st(),
    start=bounds_st,
    end=bounds_st,
    origin=st.one_of(st.integers(-7, 7), st.sampled_from([I64_MIN, I64_MAX])),
    period=st.one_of(st.integers(1, 4), st.sampled_from([86_400_000, I64_MAX])),
)
def test_distinct_buckets(data: tuple, start: int, end: int, origin: int, period: int) -> None:
    n, users, times, _ = data
    want = ref_distinct_buckets(users, times, start, end, origin, period, n)
    for k in ALL_KERNELS:
        assert_same(k.distinct_buckets(users, times, start, end, origin, period, n), want)


@KERNEL_SETTINGS
@given(data=events_st(), end=bounds_st)
def test_first_time(data: tuple, end: int) -> None:
    n, users, times, _ = data
    want = ref_first_time(users, times, end, n)
    for k in ALL_KERNELS:
        assert_same(k.first_time(users, times, end, n), want)


@KERNEL_SETTINGS
@given(
    data=sequence_st(),
    start=bounds_st,
    end=bounds_st,
    within=st.one_of(st.sampled_from([-1, 0, I64_MAX]), st.integers(-3, 8)),
)
def test_sequence(data: tuple, start: int, end: int, within: int) -> None:
    n, steps = data
    want = ref_sequence(steps, start, end, within, n)
    for k in ALL_KERNELS:
        assert_same(k.sequence(steps, start, end, within, n), want)


@KERNEL_SETTINGS
@given(
    data=sequence_st(),
    start=bounds_st,
    end=bounds_st,
    within=st.one_of(st.sampled_from([-1, 0, I64_MAX]), st.integers(-3, 8)),
)
def test_sequence_sparse(data: tuple, start: int, end: int, within: int) -> None:
    """Sorted ids of the users with a chain: the true positions of the dense sequence."""
    n, steps = data
    want = np.flatnonzero(ref_sequence(steps, start, end, within, n)).astype(np.uint32)
    for k in ALL_KERNELS:
        assert_same(k.sequence_sparse(steps, start, end, within), want)


@st.composite
def sorted_sequence_st(draw: Any) -> tuple[int, list]:
    """Steps whose parts are each sorted by (user, time), as a segment's type ranges are, over
    up to 150 users and a few distinct times: ties within a step and equal times across steps."""
    n = draw(st.integers(1, 150))
    pool = []
    for _ in range(draw(st.integers(1, 3))):
        users, times = [], []
        for _ in range(draw(st.integers(1, 4))):
            size = draw(st.integers(0, 2 * n))
            u = np.array(draw(st.lists(st.integers(0, n - 1), min_size=size, max_size=size)), np.uint32)
            t = np.array(draw(st.lists(st.integers(0, 9), min_size=size, max_size=size)), np.int64)
            order = np.lexsort((t, u))
            users.append(u[order])
            times.append(t[order])
        pool.append((users, times))
    steps = [pool[i] for i in draw(st.lists(st.integers(0, len(pool) - 1), min_size=1, max_size=3))]
    return n, steps


@KERNEL_SETTINGS
@given(
    data=sorted_sequence_st(),
    start=st.integers(-1, 10),
    end=st.integers(0, 11),
    within=st.sampled_from([-1, 0, 1, 2, 9]),
)
def test_sequence_on_sorted_runs(data: tuple, start: int, end: int, within: int) -> None:
    """The bucketed path of the Rust kernel (parts sorted by user), windows cutting at the edges."""
    n, steps = data
    want = ref_sequence(steps, start, end, within, n)
    for k in ALL_KERNELS:
        assert_same(k.sequence(steps, start, end, within, n), want)
        assert_same(k.sequence_sparse(steps, start, end, within), np.flatnonzero(want).astype(np.uint32))


def test_sparse_kernels_on_sorted_runs_agree() -> None:
    """Parts each sorted by (user, time), as a segment's type ranges are: the runs are merged
    (the Rust kernel's parallel sort above 65,536 rows), results equal to the dense kernels."""
    rng = np.random.default_rng(11)
    n, users, times = 5000, [], []
    for size in (90_000, 40_000, 1, 0, 30_000):
        u = rng.integers(0, n, size, dtype=np.uint32)
        t = rng.integers(0, 10_000, size, dtype=np.int64)
        order = np.lexsort((t, u))
        users.append(u[order])
        times.append(t[order])
    for k in ALL_KERNELS:
        first = k.first_time(users, times, 5000, n)
        ids, got = k.first_time_sparse(users, times, 5000)
        assert_same(ids, np.flatnonzero(first != I64_MAX).astype(np.uint32))
        assert_same(got, first[ids])
        nth = k.nth_time(users, times, 5000, 7, n)
        ids, got = k.nth_time_sparse(users, times, 5000, 7)
        assert_same(ids, np.flatnonzero(nth != I64_MAX).astype(np.uint32))
        assert_same(got, nth[ids])
        days = k.distinct_buckets(users, times, 100, 9000, 3, 100, n)
        ids, got = k.distinct_buckets_sparse(users, times, 100, 9000, 3, 100)
        assert_same(ids, np.flatnonzero(days).astype(np.uint32))
        assert_same(got, days[ids])
        steps = [(users[:2], times[:2]), (users[1:], times[1:]), (users, times)]
        dense = k.sequence(steps, 1000, 9000, 3, n)
        assert 0 < dense.sum() < n
        assert_same(k.sequence_sparse(steps, 1000, 9000, 3), np.flatnonzero(dense).astype(np.uint32))
        # many buckets of ids in the Rust kernel, and parts interleaving in time: Numba agrees
        assert_same(dense, numba.sequence(steps, 1000, 9000, 3, n))
        assert_same(k.sequence(steps, 0, 10_000, 50, n), numba.sequence(steps, 0, 10_000, 50, n))


@given(
    users=st.lists(st.integers(0, 60), max_size=300),
    wanted=st.sets(st.integers(0, 70), max_size=80),
)
def test_rows_of_users_finds_the_rows_a_scan_finds(users: list[int], wanted: set[int]) -> None:
    """The native row lookup of a user-sorted range (an incremental step's), against a scan."""
    sorted_users = np.array(sorted(users), np.uint32)
    ids = np.array(sorted(wanted), np.uint32)
    want = [i for i, u in enumerate(sorted_users.tolist()) if u in wanted]
    assert _native.rows_of_users(sorted_users, ids).tolist() == want
    if len(ids) > 1:
        with pytest.raises(KernelError):
            _native.rows_of_users(sorted_users, ids[::-1].copy())  # ids must be sorted


def test_large_input_agrees() -> None:
    """Enough rows for the Rust kernel's parallel and parallel-sort paths."""
    rng = np.random.default_rng(7)
    n, size = 1000, 300_000
    users = np.array_split(rng.integers(0, n, size, dtype=np.uint32), 3)
    times = np.array_split(rng.integers(0, 10_000, size, dtype=np.int64), 3)
    floats = np.array_split(rng.normal(size=size), 3)
    ints = np.array_split(rng.integers(0, 50, size, dtype=np.int64), 3)
    assert_same(
        rust.count(users, times, 100, 9000, n),
        np.bincount(
            np.concatenate(users)[(np.concatenate(times) >= 100) & (np.concatenate(times) < 9000)],
            minlength=n,
        ).astype(np.uint32),
    )
    assert_same(rust.first_time(users, times, 5000, n), numba.first_time(users, times, 5000, n))
    assert_same(rust.distinct(users, times, ints, 0, 5000, n), numba.distinct(users, times, ints, 0, 5000, n))
    assert_same(
        rust.distinct_buckets(users, times, 0, 10_000, 3, 100, n),
        numba.distinct_buckets(users, times, 0, 10_000, 3, 100, n),
    )
    for func in ("sum", "min", "max"):
        for a, b in zip(
            rust.aggregate(users, times, floats, 0, 8000, n, func),
            numba.aggregate(users, times, floats, 0, 8000, n, func),
            strict=True,
        ):
            assert_same(a, b)
    steps = [(users[:2], times[:2]), (users[1:], times[1:]), (users, times)]
    got = rust.sequence(steps, 1000, 9000, 3, n)
    assert_same(got, numba.sequence(steps, 1000, 9000, 3, n))
    assert 0 < got.sum() < n  # the case is not trivially all-true or all-false


# ---------------------------------------------------------------- sequence by hand


def seq(
    k: ModuleType, step_times: list[list[int]], within: int, start: int = I64_MIN, end: int = I64_MAX
) -> bool:
    """Sequence for a single user (id 0) whose step j has events at ``step_times[j]``."""
    steps = [([np.zeros(len(ts), np.uint32)], [np.array(ts, np.int64)]) for ts in step_times]
    return bool(k.sequence(steps, start, end, within, 1)[0])


@pytest.mark.parametrize("k", ALL_KERNELS, ids=KERNELS)
class TestSequenceByHand:
    def test_equal_timestamps_never_advance(self, k: ModuleType) -> None:
        assert not seq(k, [[5], [5]], -1)
        assert seq(k, [[5], [5, 6]], -1)
        assert not seq(k, [[1, 2], [2], [2]], -1)

    def test_steps_sharing_an_event_type(self, k: ModuleType) -> None:
        assert not seq(k, [[3, 3], [3, 3]], -1)
        assert seq(k, [[3, 4], [3, 4]], -1)
        assert not seq(k, [[3, 4], [3, 4], [3, 4]], -1)
        assert seq(k, [[3, 4, 9], [3, 4, 9], [3, 4, 9]], 6)
        assert not seq(k, [[3, 4, 9], [3, 4, 9], [3, 4, 9]], 5)

    def test_within_is_inclusive(self, k: ModuleType) -> None:
        assert seq(k, [[0], [10]], 10)
        assert not seq(k, [[0], [10]], 9)
        assert seq(k, [[7]], 0)
        assert not seq(k, [[7], [7]], 0)
        assert seq(k, [[0], [10]], -1)

    def test_later_start_with_shorter_span(self, k: ModuleType) -> None:
        # From e1 = 0 the earliest chain is 0, 50, 101 (span 101); from e1 = 95: 95, 100, 101 (span 6).
        assert seq(k, [[0, 95], [50, 100], [101]], 6)
        assert not seq(k, [[0, 95], [50, 100], [101]], 5)
        assert seq(k, [[95, 0], [100, 50], [101]], 6)  # input order does not matter

    def test_window_bounds(self, k: ModuleType) -> None:
        assert seq(k, [[10], [19]], -1, start=10, end=20)
        assert not seq(k, [[9], [19]], -1, start=10, end=20)
        assert not seq(k, [[10], [20]], -1, start=10, end=20)

    def test_extreme_times(self, k: ModuleType) -> None:
        assert not seq(k, [[I64_MIN], [I64_MAX - 1]], I64_MAX - 1)
        assert seq(k, [[I64_MIN], [I64_MAX - 1]], -1)
        assert seq(k, [[-1], [I64_MAX - 1]], I64_MAX)

    def test_users_and_parts(self, k: ModuleType) -> None:
        u1 = [np.array([2, 0], np.uint32), np.array([], np.uint32), np.array([1, 2], np.uint32)]
        t1 = [np.array([30, 10], np.int64), np.array([], np.int64), np.array([10, 10], np.int64)]
        u2 = [np.array([2, 1, 0], np.uint32)]
        t2 = [np.array([35, 40, 20], np.int64)]
        got = k.sequence([(u1, t1), (u2, t2)], 10, 40, 10, 4)
        assert got.tolist() == [True, False, True, False]


# ---------------------------------------------------------------- errors


U = [np.array([0, 1], np.uint32)]
T = [np.array([5, 6], np.int64)]
BAD_CALLS = {
    "length mismatch": lambda k: k.count(U, [np.array([5], np.int64)], 0, 9, 2),
    "part count mismatch": lambda k: k.count(U, [*T, *T], 0, 9, 2),
    "user out of range": lambda k: k.count(U, T, 0, 9, 1),
    "negative n_users": lambda k: k.first_time(U, T, 9, -1),
    "float user ids": lambda k: k.count([np.array([0.5, 1.0])], T, 0, 9, 2),
    "2-D part": lambda k: k.count([np.zeros((1, 2), np.uint32)], T, 0, 9, 2),
    "values mismatch": lambda k: k.aggregate(U, T, [np.array([1.0])], 0, 9, 2, "sum"),
    "bad func": lambda k: k.aggregate(U, T, [np.array([1.0, 2.0])], 0, 9, 2, "avg"),
    "distinct values mismatch": lambda k: k.distinct(U, T, [], 0, 9, 2),
    "zero period": lambda k: k.distinct_buckets(U, T, 0, 9, 0, 0, 2),
    "negative period": lambda k: k.distinct_buckets(U, T, 0, 9, 0, -5, 2),
    "no steps": lambda k: k.sequence([], 0, 9, -1, 2),
    "bad step": lambda k: k.sequence([(U, T), (U, [np.array([1], np.int64)])], 0, 9, -1, 2),
    "step user out of range": lambda k: k.sequence([(U, T)], 0, 9, -1, 1),
    "sparse length mismatch": lambda k: k.first_time_sparse(U, [np.array([5], np.int64)], 9),
    "sparse zero period": lambda k: k.distinct_buckets_sparse(U, T, 0, 9, 0, 0),
    "sparse nth 0": lambda k: k.nth_time_sparse(U, T, 9, 0),
    "sparse no steps": lambda k: k.sequence_sparse([], 0, 9, -1),
    "sparse bad step": lambda k: k.sequence_sparse([(U, T), (U, [np.array([1], np.int64)])], 0, 9, -1),
}


@pytest.mark.parametrize("k", ALL_KERNELS, ids=KERNELS)
@pytest.mark.parametrize("call", BAD_CALLS.values(), ids=BAD_CALLS.keys())
def test_inconsistent_input_raises(k: ModuleType, call: Any) -> None:
    with pytest.raises(KernelError):
        call(k)


def test_native_validates_without_the_python_layer() -> None:
    with pytest.raises(KernelError, match="out of range"):
        _native.count(U, T, 0, 9, 1)
    with pytest.raises(KernelError, match="contiguous"):
        _native.count([np.arange(4, dtype=np.uint32)[::2]], T, 0, 9, 4)
    with pytest.raises(KernelError, match="period"):
        _native.distinct_buckets(U, T, 0, 9, 0, 0, 2)


# ---------------------------------------------------------------- bitmap outputs

wide_ids_st = st.one_of(st.integers(0, 130), st.integers(65_530, 140_000))


@st.composite
def wide_parts_st(draw: Any) -> tuple[int, list, list]:
    """Parts over ids spread across roaring containers and 64-bit words (a few sorted, as type ranges)."""
    n = 140_001
    users, times = [], []
    for _ in range(draw(st.integers(0, 4))):
        ids = draw(st.lists(wide_ids_st, max_size=40))
        if draw(st.booleans()):
            ids.sort()
        users.append(np.array(ids, np.uint32))
        times.append(np.array(draw(st.lists(times_st, min_size=len(ids), max_size=len(ids))), np.int64))
    return n, users, times


@KERNEL_SETTINGS
@given(data=st.one_of(events_st().map(lambda d: d[:3]), wide_parts_st()), start=bounds_st, end=bounds_st)
def test_users_in_window(data: tuple, start: int, end: int) -> None:
    n, users, times = data
    want = sorted({u for u, t, _ in rows(users, times) if start <= t < end})
    for k in ALL_KERNELS:
        assert list(k.users_in_window(users, times, start, end, n)) == want


def ref_top_members(metric: list, known: list, rank: int) -> list:
    """The definition: the rank-th largest positive known metric is q; members are known, > 0, >= q."""
    if rank == 0:
        return []
    vals = sorted((m for m, k in zip(metric, known, strict=True) if k and m > 0), reverse=True)
    q = vals[rank - 1] if rank <= len(vals) else 1
    return [i for i, (m, k) in enumerate(zip(metric, known, strict=True)) if k and m > 0 and m >= q]


@KERNEL_SETTINGS
@given(
    metric=st.lists(st.one_of(st.integers(0, 5), st.sampled_from([2**24, 2**32 - 1])), max_size=80),
    data=st.data(),
)
def test_top_members(metric: list, data: Any) -> None:
    known = data.draw(st.lists(st.booleans(), min_size=len(metric), max_size=len(metric)))
    rank = data.draw(st.integers(0, len(metric) + 2))
    want = ref_top_members(metric, known, rank)
    m, kn = np.array(metric, np.uint32), np.array(known, bool)
    for k in ALL_KERNELS:
        assert list(k.top_members(m, kn, rank)) == want


def test_top_members_over_containers() -> None:
    """Members across many roaring containers, bitset and array ones, match the numpy selection."""
    rng = np.random.default_rng(5)
    metric = rng.integers(0, 50, 300_000).astype(np.uint32)
    known = rng.random(300_000) < 0.9
    for rank in (1, 1000, 100_000, 300_000):
        vals = np.sort(metric[known & (metric > 0)])[::-1]
        q = vals[rank - 1] if rank <= len(vals) else 1
        want = np.flatnonzero(known & (metric > 0) & (metric >= q))
        for k in ALL_KERNELS:
            assert np.array_equal(np.asarray(k.top_members(metric, known, rank).to_array()), want)


def test_mask_to_bitmap_is_the_and_of_the_masks() -> None:
    rng = np.random.default_rng(3)
    for n, density in ((0, 0.5), (1, 1.0), (200_000, 0.01), (200_000, 0.7), (131_072, 1.0)):
        mask, known = rng.random(n) < density, rng.random(n) < 0.8
        for k in ALL_KERNELS:
            got = k.mask_to_bitmap(mask, known)
            assert np.array_equal(np.asarray(got.to_array(), np.int64), np.flatnonzero(mask & known))
    for k in ALL_KERNELS:
        with pytest.raises(KernelError):
            k.mask_to_bitmap(np.zeros(3, bool), np.zeros(2, bool))


@KERNEL_SETTINGS
@given(
    data=wide_parts_st(),
    start=st.integers(-(2**40), 2**40),
    span=st.integers(1, 64),
    origin=st.integers(-(2**40), 2**40),
    period=st.one_of(st.integers(1, 10), st.sampled_from([86_400_000, 3_600_000, 2**38 + 7])),
)
def test_distinct_buckets_at_large_times(
    data: tuple, start: int, span: int, origin: int, period: int
) -> None:
    """Windows of at most 64 buckets far from 0 (the bucket-bitset path) with every period size."""
    n, users, _ = data
    rng = np.random.default_rng(abs(start) % 1000)
    end = start + span * period - int(rng.integers(0, period))
    times = [np.asarray(rng.integers(start - period, end + period, len(u)), np.int64) for u in users]
    seen: dict[int, set[int]] = {}
    for u, t, _ in rows(users, times):
        if start <= t < end:
            seen.setdefault(u, set()).add((t - origin) // period)
    want = np.zeros(n, np.uint32)
    for u, s in seen.items():
        want[u] = len(s)
    for k in ALL_KERNELS:
        assert_same(k.distinct_buckets(users, times, start, end, origin, period, n), want)
