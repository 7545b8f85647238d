"""The native ``StringDictionary`` against the pure-Python one it replaced (tests/support/
py_dictionary.py): every method, on random operation sequences with unicode, duplicates,
forgotten entries (placeholders that collide with live values too) and save/load rounds;
saved files are read by the other implementation, so the on-disk format is unchanged."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from cohortd.storage.dictionary import StringDictionary, distinct_values
from hypothesis import given, settings
from hypothesis import strategies as st
from support.py_dictionary import PyStringDictionary

words = st.one_of(
    st.text(alphabet="ab\u00e9\u4e2d\U0001f600\x00 ", min_size=0, max_size=3),
    st.sampled_from(["$deleted:0", "$deleted:1", "$deleted:2", "x" * 20]),
)


def as_column(values: list[str], form: str) -> pa.Array | pa.ChunkedArray:
    """``values`` as an Arrow column in one of the layouts callers pass."""
    arr = pa.array(values, pa.string())
    if form == "sliced":
        return pa.array(["pad", *values, "pad"], pa.string()).slice(1, len(values))
    if form == "chunked":
        half = len(values) // 2
        return pa.chunked_array([arr.slice(0, half), arr.slice(half)], pa.string())
    if form == "large":
        return arr.cast(pa.large_string())
    if form == "dictionary":
        return arr.dictionary_encode()
    return arr


ops = st.lists(
    st.one_of(
        st.tuples(st.just("encode_unique"), st.lists(words, max_size=8)),
        st.tuples(
            st.just("encode_array"),
            st.tuples(
                st.lists(words, max_size=8),
                st.sampled_from(["plain", "sliced", "chunked", "large", "dictionary"]),
            ),
        ),
        st.tuples(st.just("encode_distinct"), st.lists(words, max_size=8)),
        st.tuples(st.just("lookup"), st.lists(words, max_size=8)),
        st.tuples(st.just("forget"), st.tuples(st.integers(0, 30), st.integers(0, 3))),
        st.tuples(st.just("decode"), st.lists(st.integers(0, 30), max_size=8)),
        st.tuples(st.just("reload"), st.none()),
    ),
    max_size=30,
)


def same(new: StringDictionary, old: PyStringDictionary) -> None:
    assert len(new) == len(old)
    assert [new.value(i) for i in range(len(new))] == [old.value(i) for i in range(len(old))]
    assert new.as_arrow().equals(old.as_arrow())
    for v in [old.value(i) for i in range(len(old))]:
        assert new.get(v) == old.get(v)


@settings(max_examples=120, deadline=None)
@given(seed=st.lists(words, max_size=5), ops=ops)
def test_native_dictionary_matches_the_python_one(seed: list[str], ops: list) -> None:  # type: ignore[type-arg]
    new, old = StringDictionary(seed), PyStringDictionary(seed)
    new.DISTINCT_FIRST = len(seed) % 3  # both ways of encode_array
    with tempfile.TemporaryDirectory() as tmp:
        for step, (kind, arg) in enumerate(ops):
            if kind == "encode_unique":
                assert new.encode_unique(arg).tolist() == old.encode_unique(arg).tolist()
            elif kind == "encode_array":
                values, form = arg
                got = new.encode_array(as_column(values, form))
                assert got.tolist() == old.encode_array(pa.array(values, pa.string())).tolist()
            elif kind == "encode_distinct":
                column = pa.array(arg, pa.string())
                got = new.encode_distinct(distinct_values(column))
                assert got.tolist() == old.encode_array(column).tolist()
            elif kind == "lookup":
                want = old.ids(arg).tolist()
                assert new.ids(arg).tolist() == want
                assert new.ids(pa.array(arg, pa.string())).tolist() == want
                assert [new.get(v) for v in arg] == [old.get(v) for v in arg]
            elif kind == "forget" and arg[0] < len(old):
                placeholder = f"$deleted:{arg[1]}"  # may equal a live value or another placeholder
                new.forget(arg[0], placeholder)
                old.forget(arg[0], placeholder)
            elif kind == "decode":
                ids = np.array([i for i in arg if i < len(old)], np.uint32)
                assert new.decode(ids).to_pylist() == old.decode(ids).to_pylist()
            elif kind == "reload":  # each implementation reads the file the other wrote
                new.save(Path(tmp) / f"new-{step}.arrow")
                old.save(Path(tmp) / f"old-{step}.arrow")
                assert (Path(tmp) / f"new-{step}.arrow").read_bytes() == (
                    Path(tmp) / f"old-{step}.arrow"
                ).read_bytes()
                new = StringDictionary.load(Path(tmp) / f"old-{step}.arrow")
                old = PyStringDictionary.load(Path(tmp) / f"new-{step}.arrow")
            same(new, old)


def test_bad_input_is_a_clear_error() -> None:
    d = StringDictionary(["a"])
    with pytest.raises(ValueError, match="null"):
        d.encode_array(pa.array(["a", None], pa.string()))
    with pytest.raises(TypeError, match="str"):
        d.encode_unique([1])  # type: ignore[list-item]
    with pytest.raises(IndexError):
        d.value(5)
    assert d.get(1) is None  # type: ignore[arg-type]
    assert d.ids([1, "a"]).tolist() == [-1, 0]  # type: ignore[list-item]
    assert d.value(-1) == "a"


def test_many_values_survive_table_growth_and_deletions() -> None:
    d = StringDictionary()
    names = [f"user-{i}" for i in range(50_000)]
    assert d.encode_array(pa.array(names)).tolist() == list(range(50_000))
    for i in range(0, 50_000, 7):
        d.forget(i, f"$deleted:{i}")
    want = [-1 if i % 7 == 0 else i for i in range(50_000)]
    assert d.ids(names).tolist() == want
    assert d.ids([f"$deleted:{i}" for i in range(0, 50_000, 7)]).tolist() == list(range(0, 50_000, 7))
    assert d.heap_bytes() < 50_000 * 40


def test_readers_on_other_threads_see_consistent_ids_during_encodes() -> None:
    """An encode runs without the GIL under the table's lock: a reader never sees a torn state."""
    import threading

    d = StringDictionary(["a"])
    batches = [pa.array([f"b{k}-{i}" for i in range(5000)]) for k in range(20)]
    errors: list[str] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            n = len(d)
            if d.get("a") != 0 or d.value(n - 1) == "" or (d.ids(["a", "zz"]).tolist() != [0, -1]):
                errors.append(f"inconsistent at {n}")

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for k, batch in enumerate(batches):
            assert d.encode_unique(batch).tolist() == list(range(1 + 5000 * k, 1 + 5000 * (k + 1)))
    finally:
        done.set()
        reader.join()
    assert not errors
