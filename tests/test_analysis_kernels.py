"""Analysis kernels (first_in_window, retention_curve, funnel, journeys, next_after): Rust == Numba ==
the plain-Python references of ``analysis_reference``, on cramped random data.

Few users, a handful of distinct times (ties and rows exactly on range edges,
period edges and window edges are common), empty parts, event types shared by
several funnel steps, type ids whose name order differs from id order.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from cohortd.engine.kernels import KERNELS, get_kernel
from cohortd.errors import KernelError
from cohortd.lang import ast as A
from hypothesis import given, settings
from hypothesis import strategies as st
from support import analysis_reference as ref

NONE = 2**63 - 1
ALL_KERNELS = [get_kernel(name) for name in KERNELS]
NAMES = ["c", "a", "b"]  # type id -> name: sorting by name is not sorting by id
SETTINGS = settings(deadline=None, max_examples=120)

Row = tuple[int, int, int]  # (user, time, type id)


@st.composite
def rows_st(draw: Any) -> tuple[int, list[list[Row]]]:
    """1-4 users; up to 4 parts of rows with times in 0..12."""
    n = draw(st.integers(1, 4))
    row = st.tuples(st.integers(0, n - 1), st.integers(0, 12), st.integers(0, len(NAMES) - 1))
    parts = draw(st.lists(st.lists(row, max_size=8), max_size=4))
    return n, parts


def columns(parts: list[list[Row]], keep_type: int | None = None) -> tuple[list, list, list]:
    """Aligned users/times/types arrays per part (only one type's rows with ``keep_type``)."""
    us, ts, ys = [], [], []
    for part in parts:
        chosen = [r for r in part if keep_type is None or r[2] == keep_type]
        us.append(np.array([r[0] for r in chosen], np.uint32))
        ts.append(np.array([r[1] for r in chosen], np.int64))
        ys.append(np.array([r[2] for r in chosen], np.uint32))
    return us, ts, ys


def events(parts: list[list[Row]]) -> list[dict[str, Any]]:
    return [{"user_id": u, "event_type": NAMES[y], "time": t} for part in parts for u, t, y in part]


def event(type_id: int) -> A.EventRef:
    return A.EventRef(NAMES[type_id])


def ref_firsts(evs: list, n: int, type_id: int, lo: int, hi: int) -> np.ndarray:
    out = [ref.first_in(evs, u, event(type_id), lo, hi) for u in range(n)]
    return np.array([NONE if t is None else t for t in out], np.int64)


@SETTINGS
@given(rows_st(), st.integers(0, 2), st.integers(-1, 13), st.integers(-1, 14))
def test_first_in_window(data: tuple, type_id: int, lo: int, hi: int) -> None:
    n, parts = data
    us, ts, _ = columns(parts, type_id)
    want = ref_firsts(events(parts), n, type_id, lo, hi)
    for k in ALL_KERNELS:
        np.testing.assert_array_equal(k.first_in_window(us, ts, lo, hi, n), want)


@SETTINGS
@given(
    rows_st(),
    st.integers(0, 2),
    st.integers(0, 2),
    st.integers(0, 6),
    st.integers(1, 8),
    st.integers(1, 5),
    st.integers(1, 4),
    st.integers(0, 16),
    st.booleans(),
)
def test_retention_curve(
    data: tuple, start_type: int, return_type: int, lo: int, span: int, period: int, periods: int,
    as_of: int, unbounded: bool,
) -> None:  # fmt: skip
    n, parts = data
    evs = events(parts)
    hi = lo + span
    starts = ref_firsts(evs, n, start_type, lo, min(hi, as_of))
    us, ts, _ = columns(parts, return_type)
    started, counts = ref.retention(
        evs, event(start_type), event(return_type), lo, hi, as_of, period, periods, unbounded=unbounded
    )
    assert started == int((starts != NONE).sum())
    for k in ALL_KERNELS:
        users, retained, retained_unbounded = k.retention_curve(starts, us, ts, as_of, period, periods)
        got = retained_unbounded if unbounded else retained
        assert list(zip(users.tolist(), got.tolist(), strict=True)) == counts


@SETTINGS
@given(
    rows_st(),
    st.lists(st.integers(0, 2), min_size=1, max_size=4),
    st.integers(-1, 8),
    st.integers(1, 8),
    st.integers(0, 14),
    st.integers(-1, 6),
)
def test_funnel(data: tuple, step_types: list[int], lo: int, span: int, as_of: int, window: int) -> None:
    n, parts = data
    hi = lo + span
    steps = [columns(parts, y)[:2] for y in step_types]
    want = ref.funnel_times(events(parts), [event(y) for y in step_types], lo, hi, as_of, window)
    for k in ALL_KERNELS:
        users, times = k.funnel(steps, lo, hi, as_of, window, n)
        assert times.shape == (len(users), len(step_types))
        got = {int(u): [None if t < 0 else int(t) for t in row] for u, row in zip(users, times, strict=True)}
        assert got == want


@SETTINGS
@given(
    rows_st(),
    st.integers(0, 2),
    st.integers(0, 6),
    st.integers(1, 8),
    st.integers(0, 14),
    st.integers(0, 4),
    st.integers(0, 4),
    st.integers(1, 3),
    st.booleans(),
)
def test_journeys(
    data: tuple, anchor: int, lo: int, span: int, as_of: int, before: int, after: int, depth: int,
    keep_repeats: bool,
) -> None:  # fmt: skip
    n, parts = data
    evs = events(parts)
    hi = lo + span
    anchors = ref_firsts(evs, n, anchor, lo, min(hi, as_of))
    rank = np.argsort(np.argsort(NAMES)).astype(np.uint32)
    us, ts, ys = columns(parts)
    _, want_after, want_before = ref.journeys(
        evs, event(anchor), lo, hi, as_of, before, after, depth, keep_repeats
    )
    for k in ALL_KERNELS:
        users, after_rows, before_rows = k.journeys(anchors, us, ts, ys, rank, before, after, depth,
                                                    keep_repeats, as_of)  # fmt: skip
        assert users.tolist() == [u for u in range(n) if anchors[u] != NONE]
        assert _counts(after_rows, depth, False) == want_after
        assert _counts(before_rows, depth, True) == want_before


def _counts(rows: np.ndarray, depth: int, before: bool) -> dict[tuple[str, ...], int]:
    out: dict[tuple[str, ...], int] = {}
    for row in rows:
        names = [NAMES[int(y)] for y in row if y != 2**32 - 1]
        if before:
            names = names[::-1]
            path = tuple([ref.END, *names] if len(names) < depth else names)
        else:
            path = tuple([*names, ref.END] if len(names) < depth else names)
        out[path] = out.get(path, 0) + 1
    return out


@SETTINGS
@given(
    rows_st(), st.integers(0, 2), st.lists(st.integers(-1, 12), min_size=4, max_size=4), st.integers(0, 14)
)
def test_next_after(data: tuple, type_id: int, after: list[int], end: int) -> None:
    n, parts = data
    a = np.array([NONE if t < 0 else t for t in after[:n]], np.int64)
    us, ts, _ = columns(parts, type_id)
    want = []
    for u in range(n):
        times = [t for part in parts for uu, t, y in part if uu == u and y == type_id and a[u] < t < end]
        want.append(NONE if a[u] == NONE or not times else min(times))
    for k in ALL_KERNELS:
        assert k.next_after(a, us, ts, end).tolist() == want


@pytest.mark.parametrize("kernel", ALL_KERNELS, ids=KERNELS)
def test_bad_input_is_a_kernel_error(kernel: Any) -> None:
    u, t = [np.array([0, 5], np.uint32)], [np.array([1, 2], np.int64)]
    with pytest.raises(KernelError):
        kernel.first_in_window(u, t, 0, 10, 2)  # user id 5 out of range
    with pytest.raises(KernelError):
        kernel.retention_curve(np.zeros(2, np.int64), u, t, 10, 1, 3)
    with pytest.raises(KernelError):
        kernel.retention_curve(np.zeros(6, np.int64), u, t, 10, 0, 3)  # zero period
    with pytest.raises(KernelError):
        kernel.funnel([], 0, 10, 10, -1, 6)
    with pytest.raises(KernelError):
        types = [np.array([0, 7], np.uint32)]  # type 7 has no rank
        kernel.journeys(np.zeros(6, np.int64), u, [np.array([1, 1])], types, np.zeros(1, np.uint32), 1, 1, 2,
                        False, 10)  # fmt: skip
    with pytest.raises(KernelError):
        kernel.journeys(np.zeros(6, np.int64), u, t, [np.zeros(2, np.uint32)], np.zeros(1, np.uint32),
                        1, 1, 0, False, 10)  # fmt: skip


@pytest.mark.parametrize("kernel", ALL_KERNELS, ids=KERNELS)
def test_empty_populations(kernel: Any) -> None:
    none = np.full(3, NONE, np.int64)
    users, retained, unbounded = kernel.retention_curve(none, [], [], 100, 10, 4)
    assert users.tolist() == retained.tolist() == unbounded.tolist() == [0, 0, 0, 0]
    users, times = kernel.funnel([([], []), ([], [])], 0, 10, 10, 5, 3)
    assert len(users) == 0 and times.shape == (0, 2)
    users, after, before = kernel.journeys(none, [], [], [], np.zeros(1, np.uint32), 5, 5, 3, False, 100)
    assert len(users) == 0 and after.shape == before.shape == (0, 3)
