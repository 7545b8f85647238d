"""User properties and their history read lazily from the checkpoint files.

``UserProperties.load`` / ``PropertyHistory.load`` map the files and decode a
column on first use (storage/userprops.py, storage/prophistory.py).  Proven
against the same structures that never went through a file, over random
updates, records, deletions, saves and reloads in any order.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from cohortd.storage.prophistory import PropertyHistory
from cohortd.storage.userprops import UserProperties
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FEW = settings(deadline=None, max_examples=40, suppress_health_check=[HealthCheck.too_slow])
KINDS = ("string", "int", "float", "bool")
PROPS = {"plan": "string", "seats": "int", "score": "float", "vip": "bool"}


def _values(kind: str, rng: np.random.Generator, n: int) -> np.ndarray:
    if kind == "bool":
        return rng.integers(0, 2, n).astype(bool)
    if kind == "float":
        return rng.normal(size=n)
    return rng.integers(0, 5, n)


# one step: ("update", prop, n rows) | ("save",) | ("read", prop) | ("delete",) | ("grow",)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("update"), st.sampled_from(sorted(PROPS)), st.integers(1, 30)),
        st.tuples(st.just("save")),
        st.tuples(st.just("read"), st.sampled_from(sorted(PROPS))),
        st.tuples(st.just("delete")),
        st.tuples(st.just("grow")),
    ),
    max_size=14,
)


def _same_props(lazy: UserProperties, ref: UserProperties, n: int) -> None:
    assert sorted(lazy.columns) == sorted(ref.columns)
    for name in ref.columns:
        got, want = lazy.get(name, n), ref.get(name, n)
        assert got is not None and want is not None
        assert np.array_equal(got[1], want[1])
        assert np.array_equal(got[0][want[1]], want[0][want[1]])
        assert np.array_equal(lazy.columns[name].set_at[:n], ref.columns[name].set_at[:n])


def _same_history(lazy: PropertyHistory, ref: PropertyHistory) -> None:
    assert len(lazy) == len(ref)
    assert sorted(lazy.columns) == sorted(ref.columns)
    for name in ref.columns:
        got, want = lazy.changes(name), ref.changes(name)
        assert got is not None and want is not None
        for a, b in zip(
            (got.users, got.times, got.values, got.dated),
            (want.users, want.times, want.values, want.dated),
            strict=True,
        ):
            assert np.array_equal(a, b)
        assert lazy.kind(name) == ref.kind(name)


@FEW
@given(seed=st.integers(0, 2**31), script=steps, users=st.integers(1, 40))
def test_lazy_columns_match_the_ones_that_never_left_memory(seed: int, script: list, users: int) -> None:
    rng = np.random.default_rng(seed)
    ref_props, ref_hist = UserProperties(), PropertyHistory()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        # a first checkpoint with every property, then reopened: every column starts mapped
        for prop, kind in PROPS.items():
            u = rng.integers(0, users, 10).astype(np.uint32)
            t, v, d = rng.integers(0, 50, 10), _values(kind, rng, 10), rng.integers(0, 2, 10).astype(bool)
            ref_props.column(prop, kind).update(u, t, v)
            ref_hist.record(prop, kind, u, t, v, d)
        ref_props.save(folder / "p0.arrow", users)
        ref_hist.save(folder / "h0.arrow")
        props = UserProperties.load(folder / "p0.arrow")
        hist = PropertyHistory.load(folder / "h0.arrow")
        assert all(not c._arrays for c in props.columns.values())  # nothing decoded by open
        assert all(c.source is not None for c in hist.columns.values())
        assert len(hist) == len(ref_hist)
        for i, step in enumerate(script):
            if step[0] == "update":
                _, prop, n = step
                kind = PROPS[prop]
                u = rng.integers(0, users + 5, n).astype(np.uint32)
                t, v, d = rng.integers(0, 50, n), _values(kind, rng, n), rng.integers(0, 2, n).astype(bool)
                for p, h in ((props, hist), (ref_props, ref_hist)):
                    p.column(prop, kind).update(u, t, v)
                    h.record(prop, kind, u, t, v, d)
                users = max(users, int(u.max()) + 1)
            elif step[0] == "save":
                props.save(folder / f"p{i + 1}.arrow", users)
                hist.save(folder / f"h{i + 1}.arrow")
                props = UserProperties.load(folder / f"p{i + 1}.arrow")
                hist = PropertyHistory.load(folder / f"h{i + 1}.arrow")
            elif step[0] == "read":
                got, want = props.get(step[1], users), ref_props.get(step[1], users)
                assert got is not None and want is not None and np.array_equal(got[1], want[1])
                assert hist.changes(step[1]) is not None
            elif step[0] == "delete":
                gone = rng.integers(0, users, 3).astype(np.uint32)
                hist.drop_users(gone)
                ref_hist.drop_users(gone)
            else:
                users += 3
            assert len(hist) == len(ref_hist)
        _same_props(props, ref_props, users)
        _same_history(hist, ref_hist)
