"""``top P% by M``: the threshold found among positive metrics (histogram or selection) is the
one a full descending sort over every known user gives (COHORT_LANGUAGE.md)."""

from __future__ import annotations

import math

import numpy as np
from cohortd.engine.evaluate import kth_largest, top_percent_mask
from hypothesis import given, settings
from hypothesis import strategies as st


def reference(metric: list[float], known: list[bool], percent: float) -> list[bool]:
    """N = known users, q = the metric at 1-based rank ceil(P/100*N) sorted descending; M > 0, M >= q."""
    vals = sorted((m for m, k in zip(metric, known, strict=True) if k), reverse=True)
    rank = math.ceil(percent * len(vals) / 100)
    if rank == 0:
        return [False] * len(metric)
    q = vals[rank - 1]
    return [k and m > 0 and m >= q for m, k in zip(metric, known, strict=True)]


metrics = st.one_of(
    st.lists(st.integers(0, 40), min_size=0, max_size=300).map(lambda v: np.array(v, np.uint32)),
    st.lists(st.integers(-20, 5000), min_size=0, max_size=300).map(lambda v: np.array(v, np.int64)),
    st.lists(st.floats(-50, 50, allow_nan=False, width=32), max_size=300).map(
        lambda v: np.array(v, np.float64)
    ),
)


@settings(max_examples=200, deadline=None)
@given(metric=metrics, data=st.data(), percent=st.sampled_from([0.5, 1, 5, 20, 33.3, 50, 99, 100]))
def test_top_percent_matches_full_sort(metric: np.ndarray, data: st.DataObject, percent: float) -> None:
    known = np.array(data.draw(st.lists(st.booleans(), min_size=len(metric), max_size=len(metric))), bool)
    want = reference(metric.tolist(), known.tolist(), percent)
    assert top_percent_mask(metric, known, percent).tolist() == want
    assert top_percent_mask(metric, known, percent, int(known.sum())).tolist() == want


@settings(max_examples=200, deadline=None)
@given(values=metrics.filter(len), data=st.data())
def test_kth_largest_is_the_sorted_value(values: np.ndarray, data: st.DataObject) -> None:
    k = data.draw(st.integers(1, len(values)))
    assert kth_largest(values, k) == sorted(values.tolist(), reverse=True)[k - 1]
