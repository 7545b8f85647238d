"""Flat-bitset membership (``flat_bitset`` + ``contains_flat``) against pyroaring and the serialized path."""

from __future__ import annotations

import numpy as np
from cohortd.engine.kernels.rust_kernel import contains_flat, contains_matrix, flat_bitset
from cohortd.service.membership import MAX_FLAT_BYTES, BatchPlan, SerializedMembers
from hypothesis import given, settings
from hypothesis import strategies as st
from pyroaring import BitMap

ids_near = st.integers(0, 300_000)
ids_far = st.integers(0, 2**32 - 1)


@settings(max_examples=80, deadline=None)
@given(
    members=st.lists(st.lists(st.one_of(ids_near, ids_far), max_size=60), min_size=1, max_size=4),
    runs=st.lists(st.tuples(st.integers(0, 200_000), st.integers(1, 70_000)), max_size=3),
    probes=st.lists(st.integers(-3, 2**33), max_size=80),
)
def test_flat_and_serialized_lookups_agree_with_pyroaring(
    members: list[list[int]], runs: list[tuple[int, int]], probes: list[int]
) -> None:
    bitmaps = [BitMap(m) for m in members]
    for start, length in runs:  # dense ranges: bitset and (after run_optimize) run containers
        bitmaps[0].add_range(start, start + length)
    bitmaps[0].run_optimize()
    ids = np.array(probes + [int(x) for b in bitmaps for x in list(b)[:20]], dtype=np.int64)
    expected = np.array([[0 <= i < 2**32 and int(i) in b for b in bitmaps] for i in ids], dtype=bool)
    expected = expected.reshape(len(ids), len(bitmaps))
    blobs = [b.serialize() for b in bitmaps]
    got = contains_matrix(blobs, ids).reshape(len(ids), len(bitmaps))
    assert (got == expected).all()
    cache = SerializedMembers()
    forms = tuple(cache.get(f"c{j}", b) for j, b in enumerate(bitmaps))
    for (flat, data), b in zip(forms, bitmaps, strict=True):
        assert flat == (len(b) == 0 or (b.max() >> 16) + 1 <= MAX_FLAT_BYTES // 8192)
        if flat:
            assert data == flat_bitset(b.serialize(), MAX_FLAT_BYTES)
            assert (contains_flat([data], ids) == expected[:, forms.index((flat, data))]).all()
    plan = BatchPlan(
        names=tuple(f"c{j}" for j in range(len(bitmaps))),
        tracked=(None,) * len(bitmaps),
        members=tuple(bitmaps),
        forms=forms,
        kinds=((None, tuple(range(len(bitmaps)))),),
    )
    users = [str(i) for i in ids]
    matrix = plan.matrix(users, lambda _expr, names: np.array([int(u) for u in names], dtype=np.int64))
    assert (matrix == expected).all()


def test_mixed_kinds_and_forms_in_one_batch() -> None:
    near, far, empty = BitMap([1, 70_000]), BitMap([2, 3 << 30]), BitMap()
    forms = tuple(SerializedMembers().get(n, b) for n, b in (("a", near), ("b", far), ("c", empty)))
    assert [f[0] for f in forms] == [True, False, True]
    plan = BatchPlan(
        names=("a", "b", "c"),
        tracked=(None, None, None),
        members=(near, far, empty),
        forms=forms,
        kinds=(("x", (0, 2)), ("y", (1,))),  # type: ignore[arg-type]  # stand-ins for two kinds
    )
    offset: dict[object, int] = {"x": 0, "y": 1}  # a second kind: other dense ids
    matrix = plan.matrix(
        ["1", "2", "70000"],
        lambda expr, names: np.array([int(u) + offset[expr] for u in names], dtype=np.int64),
    )
    assert matrix.tolist() == [[True, True, False], [False, False, False], [True, False, False]]


def test_cache_follows_the_bitmap_object() -> None:
    cache, first = SerializedMembers(), BitMap([5])
    assert cache.get("a", first) is cache.get("a", first)
    second = BitMap([6])  # a new members object: a new form, not the cached one
    assert contains_flat([cache.get("a", second)[1]], np.array([5, 6])).tolist() == [False, True]
