"""The user-block path of the Rust `count` and `distinct_buckets` (rust/cohortd-core/src/user_blocks.rs).

It runs when the rows come in long user-sorted runs (a segment's type ranges) and the per-user
array would not fit in cache (millions of users), so these cases use 4.3M users and at least 32k
rows, each checked against the plain-Python reference and the Numba twin; a shuffled part sends the
kernel down its plain path, which must give the same answer.
"""

from __future__ import annotations

import numpy as np
import pytest
from cohortd.engine.kernels import get_kernel
from cohortd.errors import KernelError
from hypothesis import given, settings
from hypothesis import strategies as st

rust, numba = get_kernel("rust"), get_kernel("numba")
N_USERS = 4_300_000  # x 4 bytes (count) and x 8 bytes (day bits): both above the 16 MiB threshold
DAY = 86_400_000
BLOCK_EDGES = [0, 1, 65_535, 65_536, 65_537, 131_072, 2_150_000, N_USERS - 2, N_USERS - 1]


def ref_count(users: list, times: list, start: int, end: int) -> np.ndarray:
    """Rows in the window per user, one Python row at a time (a dict: 4.3M lists would be slow)."""
    counts: dict[int, int] = {}
    for u, t in zip(users, times, strict=True):
        for id_, time in zip(u.tolist(), t.tolist(), strict=True):
            if start <= time < end:
                counts[id_] = counts.get(id_, 0) + 1
    return dense(counts)


def ref_active_days(users: list, times: list, start: int, end: int, origin: int) -> np.ndarray:
    days: dict[int, set[int]] = {}
    for u, t in zip(users, times, strict=True):
        for id_, time in zip(u.tolist(), t.tolist(), strict=True):
            if start <= time < end:
                days.setdefault(id_, set()).add((time - origin) // DAY)
    return dense({id_: len(d) for id_, d in days.items()})


def dense(per_user: dict[int, int]) -> np.ndarray:
    out = np.zeros(N_USERS, np.uint32)
    for id_, v in per_user.items():
        out[id_] = v
    return out


def sorted_run_parts(
    seed: int, parts: int, runs: int, rows: int, shuffled: bool
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Parts made of runs sorted by user (as a segment's type ranges are), ids from a small pool
    that includes the users at block edges, so one user has several rows in a run."""
    rng = np.random.default_rng(seed)
    pool = np.concatenate([rng.integers(0, N_USERS, 3000), BLOCK_EDGES]).astype(np.uint32)
    users, times = [], []
    for p in range(parts):
        per_run = rows // (parts * runs)
        u = np.concatenate([np.sort(rng.choice(pool, per_run)) for _ in range(runs)])
        if shuffled and p == 0:
            u = rng.permutation(u)
        users.append(u.astype(np.uint32))
        times.append(rng.integers(-2 * DAY, 32 * DAY, len(u)).astype(np.int64))
    return users, times


run_shapes = st.tuples(
    st.integers(0, 2**32 - 1),  # seed
    st.integers(1, 3),  # parts
    st.integers(1, 4),  # runs per part
    st.integers(33_000, 40_000),  # rows in all: above the 32k-row threshold
    st.booleans(),  # shuffle the first part
)


@settings(deadline=None, max_examples=5)
@given(run_shapes, st.integers(-DAY, 3 * DAY), st.integers(1, 30))
def test_count_in_sorted_runs(shape: tuple, start: int, days: int) -> None:
    users, times = sorted_run_parts(*shape)
    end = start + days * DAY
    want = ref_count(users, times, start, end)
    got = rust.count(users, times, start, end, N_USERS)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(numba.count(users, times, start, end, N_USERS), want)


@settings(deadline=None, max_examples=5)
@given(run_shapes, st.integers(-DAY, 3 * DAY), st.integers(1, 30), st.sampled_from([0, 3_600_000, -7]))
def test_active_days_in_sorted_runs(shape: tuple, start: int, days: int, origin: int) -> None:
    users, times = sorted_run_parts(*shape)
    end = start + days * DAY
    want = ref_active_days(users, times, start, end, origin)
    got = rust.distinct_buckets(users, times, start, end, origin, DAY, N_USERS)
    np.testing.assert_array_equal(got, want)
    twin = numba.distinct_buckets(users, times, start, end, origin, DAY, N_USERS)
    np.testing.assert_array_equal(twin, want)


@pytest.mark.parametrize("kernel", [rust, numba], ids=["rust", "numba"])
def test_out_of_range_user_in_a_sorted_run(kernel: object) -> None:
    users, times = sorted_run_parts(1, 1, 2, 40_000, False)
    users[0][-1] = N_USERS  # the largest id of the last run
    with pytest.raises(KernelError):
        kernel.count(users, times, 0, DAY, N_USERS)  # type: ignore[attr-defined]
    with pytest.raises(KernelError):
        kernel.distinct_buckets(users, times, 0, DAY, 0, DAY, N_USERS)  # type: ignore[attr-defined]
