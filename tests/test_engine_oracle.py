"""The engine (Rust and Numba kernels) against the plain-Python oracle, exactly.

Data is cramped on purpose: 2-8 users, 2-4 event types drawn from a small
vocabulary, a handful of distinct timestamps per example (so ties are
everywhere), all on an hour grid around the as-of time ``T0`` give or take one
millisecond, so that windows (whose durations are whole hours, days, minutes
or a few ms) start and end exactly on events.  Some events are at or after
``T``; properties are often missing; some users only have user properties.
The events are ingested in several batches, with or without ``seal()`` in
between, and every result is checked again after a final seal.

Numbers are ints or multiples of 0.25, so float sums are exact whatever the
addition order; the oracle computes with ``Fraction``.
"""

from __future__ import annotations

import tempfile
from typing import Any

import pytest
from cohortd import Engine
from cohortd.errors import DefinitionError
from cohortd.lang import ast as A
from cohortd.lang import parse, to_text
from hypothesis import given
from hypothesis import strategies as st
from support.engine_check import (
    CLOCK,
    COHORTS,
    KERNELS,
    SETTINGS,
    T0,
    VOCABULARIES,
    H,
    adapt,
    as_of_shifts,
    build,
    check,
    cohort_exprs,
    scenarios,
)
from support.oracle import Oracle, OracleCycle


# ------------------------------------------------------------------- tests
@SETTINGS
@given(scenario=scenarios(), data=st.data(), shift=as_of_shifts)
@pytest.mark.parametrize("vocabulary", list(VOCABULARIES))
def test_single_conditions_match_oracle(
    vocabulary: str, scenario: dict[str, Any], data: Any, shift: int
) -> None:
    """Leaf conditions (and their negations), kernels == oracle, before and after sealing."""
    pool = scenario["pool"]
    leaf = cohort_exprs([], max_depth=0, pool=pool, vocabulary=vocabulary)
    leaves = data.draw(st.lists(leaf, min_size=1, max_size=8))
    conds = [adapt(c, data.draw, pool) for c in leaves]
    with tempfile.TemporaryDirectory() as d:
        eng, oracle = build(scenario, d)
        try:
            for cond in conds:
                check(eng, oracle, cond, [T0, T0 + shift])
                check(eng, oracle, A.Not(cond), [T0])
            eng.seal()
            for cond in conds:
                check(eng, oracle, cond, [T0 + shift])
        finally:
            eng.close()


@SETTINGS
@given(scenario=scenarios(), data=st.data(), shift=as_of_shifts)
def test_cohort_trees_match_oracle(scenario: dict[str, Any], data: Any, shift: int) -> None:
    """Whole trees with and/or/not and in_cohort of two saved cohorts (c2 may use c1)."""
    pool = scenario["pool"]
    saved = {
        "c1": adapt(data.draw(cohort_exprs([], max_depth=1, pool=pool)), data.draw, pool),
        "c2": adapt(data.draw(cohort_exprs(["c1"], max_depth=1, pool=pool)), data.draw, pool),
    }
    expr = adapt(data.draw(cohort_exprs(COHORTS, max_depth=2, pool=pool)), data.draw, pool)
    with tempfile.TemporaryDirectory() as d:
        eng, oracle = build(scenario, d)
        try:
            check(eng, oracle, expr, [T0, T0 + shift], saved.get)
            text = to_text(expr)
            assert parse(text) == expr
            got = eng.evaluate(text, as_of=T0, resolve=saved.get).members()
            assert got == oracle.members(expr, T0, saved.get)
            eng.seal()
            check(eng, oracle, expr, [T0], saved.get)
        finally:
            eng.close()


# ---------------------------------------------------------- in_cohort, cycles
def _small_engine(path: str) -> tuple[Engine, Oracle]:
    events = [
        {"user_id": "a", "event_type": "view", "time": T0 - 3 * H},
        {"user_id": "a", "event_type": "buy", "time": T0 - 2 * H, "i1": 5},
        {"user_id": "b", "event_type": "view", "time": T0 - 30 * H},
        {"user_id": "c", "event_type": "buy", "time": T0 - 1, "i1": 1},
        {"user_id": "d", "event_type": "buy", "time": T0, "i1": 9},  # at T: unknown at T0
    ]
    eng = Engine.open(path, clock=lambda: CLOCK)
    assert eng.ingest(events).rejected == []
    eng.upsert_user_properties([{"user_id": "b", "plan": "free"}, {"user_id": "z", "plan": "free"}])
    return eng, Oracle(events, {"b": {"plan": "free"}, "z": {"plan": "free"}})


def test_in_cohort_resolves_through_resolver_at_same_as_of() -> None:
    saved = {
        "buyers": parse('did("buy") in last 24h'),
        "free": parse('user.plan == "free"'),
        "both": parse('in_cohort("buyers") or in_cohort("free")'),
    }
    asked: list[str] = []

    def resolve(name: str) -> A.Expr | None:
        asked.append(name)
        return saved.get(name)

    with tempfile.TemporaryDirectory() as d:
        eng, oracle = _small_engine(d)
        try:
            for kernel in KERNELS:

                def members(text: str, T: int = T0, kernel: str = kernel) -> list[str]:
                    return eng.evaluate(text, as_of=T, kernel=kernel, resolve=resolve).members()

                assert members('in_cohort("buyers")') == ["a", "c"]
                # at T0 + 1 "d" exists and bought; the saved cohort is evaluated at the same T
                assert members('in_cohort("buyers")', T0 + 1) == ["a", "c", "d"]
                # "z" has only user properties: in no cohort
                assert members('in_cohort("both")') == ["a", "b", "c"]
                assert members('not in_cohort("buyers")') == ["b"]
            for text in ('in_cohort("buyers")', 'in_cohort("both")', 'not in_cohort("buyers")'):
                for T in (T0, T0 + 1):
                    assert eng.evaluate(text, as_of=T, resolve=resolve).members() == oracle.members(
                        parse(text), T, resolve
                    )
        finally:
            eng.close()
    assert "buyers" in asked and "free" in asked and "both" in asked


@pytest.mark.parametrize(
    "saved",
    [
        {"a": 'in_cohort("a")'},
        {"a": 'did("view") and in_cohort("b")', "b": 'not in_cohort("a")'},
        {"a": 'in_cohort("b")', "b": 'in_cohort("c") or did("buy")', "c": 'did("view") and in_cohort("a")'},
    ],
)
@pytest.mark.parametrize("kernel", KERNELS)
def test_in_cohort_cycles_raise_definition_error(saved: dict[str, str], kernel: str) -> None:
    trees = {k: parse(v) for k, v in saved.items()}
    with tempfile.TemporaryDirectory() as d:
        eng, oracle = _small_engine(d)
        try:
            with pytest.raises(DefinitionError, match="cycle"):
                eng.evaluate('in_cohort("a")', as_of=T0, kernel=kernel, resolve=trees.get)
            with pytest.raises(OracleCycle):
                oracle.members(parse('in_cohort("a")'), T0, trees.get)
        finally:
            eng.close()


def test_same_cohort_twice_is_not_a_cycle() -> None:
    """A diamond (x uses a and b, both use c) is not a cycle."""
    trees = {
        "x": parse('in_cohort("a") and in_cohort("b")'),
        "a": parse('in_cohort("c") or did("view")'),
        "b": parse('in_cohort("c")'),
        "c": parse('did("buy")'),
    }
    with tempfile.TemporaryDirectory() as d:
        eng, oracle = _small_engine(d)
        try:
            want = oracle.members(parse('in_cohort("x")'), T0, trees.get)
            assert want == ["a", "c"]
            for kernel in KERNELS:
                got = eng.evaluate('in_cohort("x")', as_of=T0, kernel=kernel, resolve=trees.get)
                assert got.members() == want
        finally:
            eng.close()


# ------------------------------------------------- ingest shapes the oracle relies on
def test_explicit_none_is_a_missing_property_and_fixes_no_type() -> None:
    """``{"n": None}`` means "n is missing on this event"; it must not declare ``n`` a string.

    Found while building this oracle (fixed concurrently in 5353c2c): a batch in
    which a property is only ever None made the property a string in the schema.
    """
    with tempfile.TemporaryDirectory() as d:
        eng = Engine.open(d, clock=lambda: CLOCK)
        try:
            first = eng.ingest([{"user_id": "a", "event_type": "view", "time": T0 - H, "n": None}])
            second = eng.ingest([{"user_id": "b", "event_type": "view", "time": T0 - H, "n": 3}])
            assert first.rejected == [] and second.rejected == []
            events = [
                {"user_id": "a", "event_type": "view", "time": T0 - H},
                {"user_id": "b", "event_type": "view", "time": T0 - H, "n": 3},
            ]
            oracle = Oracle(events, {})
            for text in ('did("view" where n == 3)', 'did("view" where n not exists)', "sum(n, any) > 2"):
                want = oracle.members(parse(text), T0)
                for kernel in KERNELS:
                    assert eng.evaluate(text, as_of=T0, kernel=kernel).members() == want, text
        finally:
            eng.close()


def test_upsert_with_some_rows_timed() -> None:
    """In one user-property upsert, a row without ``time`` is set "now", like a batch without times.

    Found while building this oracle (fixed concurrently in 5353c2c): the rows
    that lacked a time were rejected as soon as another row of the batch had one.
    """
    with tempfile.TemporaryDirectory() as d:
        eng = Engine.open(d, clock=lambda: CLOCK)
        try:
            eng.ingest([{"user_id": u, "event_type": "view", "time": T0 - H} for u in ("a", "b")])
            rep = eng.upsert_user_properties(
                [{"user_id": "a", "plan": "free"}, {"user_id": "b", "time": T0 - H, "plan": "free"}]
            )
            assert rep.rejected == []
            assert eng.evaluate('user.plan == "free"', as_of=T0).members() == ["a", "b"]
        finally:
            eng.close()
