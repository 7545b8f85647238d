"""Part lists (``cohortd.engine.kernels.part_list``): the Rust and Numba ones against the plain-Python
reference of ``test_kernels``, with true and loose per-part time bounds, windows cutting parts."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from cohortd.engine.kernels import COMPARISONS, KERNELS
from cohortd.errors import KernelError
from hypothesis import given
from hypothesis import strategies as st
from support.oracle import compare_op
from test_kernels import (
    ALL_KERNELS,
    KERNEL_SETTINGS,
    assert_same,
    bounds_st,
    events_st,
    floats_st,
    ref_aggregate,
    ref_count,
)

FUNCS = ["sum", "min", "max"]


@st.composite
def bounded_st(draw: Any, values: st.SearchStrategy[Any] | None = None) -> tuple:
    """Parts with bounds holding their times: the exact ones, or wider ones (never narrower)."""
    n, users, times, vals = draw(events_st(values))
    lo, hi = [], []
    for t in times:
        exact = (int(t.min()), int(t.max())) if len(t) else (0, -1)
        slack = draw(st.tuples(st.integers(0, 3), st.integers(0, 3)))
        lo.append(max(-(2**63), exact[0] - slack[0]))
        hi.append(min(2**63 - 1, exact[1] + slack[1]))
    return n, users, times, vals, lo, hi


def ref_rows(times: list, lo: list, hi: list, start: int, end: int) -> int:
    parts = zip(times, lo, hi, strict=True)
    return sum(len(t) for t, a, b in parts if start < end and b >= start and a < end)


@KERNEL_SETTINGS
@given(data=bounded_st(), start=bounds_st, end=bounds_st)
def test_part_list_count_sparse(data: tuple, start: int, end: int) -> None:
    n, users, times, _, lo, hi = data
    want = ref_count(users, times, start, end, n)
    ids = np.flatnonzero(want).astype(np.uint32)
    for k in ALL_KERNELS:
        listed = k.part_list(users, times, lo, hi)
        assert len(listed) == len(users)
        assert listed.rows(start, end) == ref_rows(times, lo, hi, start, end)
        got_ids, got_counts = listed.count_sparse(start, end)
        assert_same(got_ids, ids)
        assert_same(got_counts, want[ids])


@KERNEL_SETTINGS
@given(data=bounded_st(floats_st), start=bounds_st, end=bounds_st, func=st.sampled_from(FUNCS))
def test_part_list_aggregate_sparse(data: tuple, start: int, end: int, func: str) -> None:
    """Bit for bit the dense aggregate on the users with rows (part order kept)."""
    n, users, times, values, lo, hi = data
    want_acc, want_cnt = ref_aggregate(users, times, values, start, end, n, func)
    ids = np.flatnonzero(want_cnt).astype(np.uint32)
    for k in ALL_KERNELS:
        got_ids, acc, cnt = k.part_list(users, times, lo, hi, values).aggregate_sparse(start, end, func)
        assert_same(got_ids, ids)
        assert_same(acc, want_acc[ids])
        assert_same(cnt, want_cnt[ids])


def ref_members(figures: list, op: str, lo: float, hi: float) -> np.ndarray:
    """Ids whose figure (None: no row) passes the comparison, one Python comparison each."""
    passes = (lambda x: lo <= x <= hi) if op == "between" else (lambda x: compare_op(op, x, lo))
    return np.array([u for u, x in enumerate(figures) if x is not None and passes(x)], np.uint32)


thresholds_st = st.tuples(
    st.sampled_from(COMPARISONS), st.sampled_from([0, 1, 2, 2.5, -1.5, 7]), st.sampled_from([1, 3, 100])
)


@KERNEL_SETTINGS
@given(data=bounded_st(), start=bounds_st, end=bounds_st, threshold=thresholds_st)
def test_part_list_count_members(data: tuple, start: int, end: int, threshold: tuple) -> None:
    """The users with a row whose count passes the comparison, compared in the kernel."""
    n, users, times, _, lo, hi = data
    counts = ref_count(users, times, start, end, n)
    ids = ref_members([int(c) if c else None for c in counts], *threshold)
    for k in ALL_KERNELS:
        assert_same(k.part_list(users, times, lo, hi).count_members(start, end, *threshold), ids)


@KERNEL_SETTINGS
@given(
    data=bounded_st(floats_st),
    start=bounds_st,
    end=bounds_st,
    func=st.sampled_from([*FUNCS, "avg"]),
    threshold=thresholds_st,
)
def test_part_list_aggregate_members(data: tuple, start: int, end: int, func: str, threshold: tuple) -> None:
    """The users with a row whose aggregate (avg: the sum over the count) passes the comparison."""
    n, users, times, values, lo, hi = data
    acc, cnt = ref_aggregate(users, times, values, start, end, n, "sum" if func == "avg" else func)
    figures = [
        None if not c else float(a) / int(c) if func == "avg" else float(a)
        for a, c in zip(acc, cnt, strict=True)
    ]
    ids = ref_members(figures, *threshold)
    for k in ALL_KERNELS:
        listed = k.part_list(users, times, lo, hi, values)
        assert_same(listed.aggregate_members(start, end, func, *threshold), ids)


U, T, V = [np.array([0, 1], np.uint32)], [np.array([5, 6], np.int64)], [np.array([1.0, 2.0])]
BAD_CALLS = {
    "length mismatch": lambda k: k.part_list(U, [np.array([5], np.int64)], [5], [6]),
    "part count mismatch": lambda k: k.part_list(U, [*T, *T], [5], [6]),
    "bounds mismatch": lambda k: k.part_list(U, T, [5, 0], [6]),
    "values mismatch": lambda k: k.part_list(U, T, [5], [6], [np.array([1.0])]),
    "float user ids": lambda k: k.part_list([np.array([0.5, 1.0])], T, [5], [6]),
    "no values": lambda k: k.part_list(U, T, [5], [6]).aggregate_sparse(0, 9, "sum"),
    "bad func": lambda k: k.part_list(U, T, [5], [6], V).aggregate_sparse(0, 9, "avg"),
    "bad members func": lambda k: k.part_list(U, T, [5], [6], V).aggregate_members(0, 9, "mean", ">", 1, 0),
    "bad comparison": lambda k: k.part_list(U, T, [5], [6]).count_members(0, 9, "~", 1, 0),
    "no values for members": lambda k: k.part_list(U, T, [5], [6]).aggregate_members(0, 9, "sum", ">", 1, 0),
}


@pytest.mark.parametrize("k", ALL_KERNELS, ids=KERNELS)
@pytest.mark.parametrize("call", BAD_CALLS.values(), ids=BAD_CALLS.keys())
def test_inconsistent_part_list_raises(k: Any, call: Any) -> None:
    with pytest.raises(KernelError):
        call(k)
