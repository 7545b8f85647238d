"""The shortcuts of selective evaluations (issue 10), against plain-Python answers.

* ``rare and user.P ...``: a user property narrowed to the few members of the
  left side is looked up by id (no sub-evaluation); users not known at ``T`` and
  time-travelled values are treated as by the full pass.
* string lookup tables outlive one evaluation while the value dictionary is
  unchanged, and are rebuilt when a value is added;
* a definition's text is parsed once; its type check still runs every time.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from cohortd import Engine
from cohortd.engine.evaluate import Evaluation
from cohortd.errors import ParseError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.engine_check import T0

D = 86_400_000
FEW = settings(deadline=None, max_examples=15, suppress_health_check=[HealthCheck.too_slow])
PLANS = ("free", "paid", "trial")


def _reference(
    events: list[tuple[int, int]], plans: dict[int, tuple[str | None, int | None]], T: int, k: int, n_min: int
) -> list[str]:
    """``did("A") >= k in last 14d and user.plan == "free" and user.n > n_min``, by brute force."""
    out = []
    for u, (plan, n) in plans.items():
        rows = sum(1 for who, t in events if who == u and T - 14 * D <= t < T)
        known = any(who == u and t < T for who, t in events) or u in BACKGROUND
        if known and rows >= k and plan == "free" and n is not None and n > n_min:
            out.append(f"u{u}")
    return sorted(out)


#: users with an old background event: known, far more than the doers, so the ``and`` narrows
BACKGROUND = range(400)


@FEW
@given(
    doers=st.lists(st.tuples(st.integers(0, 420), st.integers(-20, 3)), min_size=0, max_size=60),
    props=st.dictionaries(
        st.integers(0, 420),
        st.tuples(st.sampled_from((*PLANS, None)), st.one_of(st.none(), st.integers(0, 9))),
        max_size=420,
    ),
    k=st.integers(1, 3),
    n_min=st.integers(0, 6),
    as_of_day=st.integers(-3, 4),
)
def test_narrowed_user_properties_match_the_reference(
    doers: list[tuple[int, int]],
    props: dict[int, tuple[str | None, int | None]],
    k: int,
    n_min: int,
    as_of_day: int,
) -> None:
    events = [(u, T0 + day * D + 1000 * i) for i, (u, day) in enumerate(doers)]
    background = [{"user_id": f"u{u}", "event_type": "B", "time": T0 - 200 * D} for u in BACKGROUND]
    rows: list[dict[str, Any]] = [{"user_id": f"u{u}", "event_type": "A", "time": t} for u, t in events]
    upserts = []
    for u, (plan, n) in props.items():
        row: dict[str, Any] = {"user_id": f"u{u}"}
        if plan is not None:
            row["plan"] = plan
        if n is not None:
            row["n"] = n
        if len(row) > 1:
            upserts.append(row)
    T = T0 + as_of_day * D
    every = {u: props.get(u, (None, None)) for u in range(421)}
    want = _reference(events, every, T, k, n_min)
    text = f'did("A") >= {k} in last 14d and user.plan == "free" and user.n > {n_min}'

    with tempfile.TemporaryDirectory() as tmp:
        eng = Engine.open(tmp, clock=lambda: T0 + 10 * D)
        try:
            eng.ingest(background + rows)
            eng.upsert_user_properties(
                [{"user_id": "u0", "plan": "paid", "n": 0}, *upserts]
            )  # both properties exist in the schema whatever was drawn
            if 0 not in props:
                every[0] = ("paid", 0)
                want = _reference(events, every, T, k, n_min)
            for kernel in ("rust", "numba"):
                got = eng.evaluate(text, as_of=T, kernel=kernel).members()
                assert sorted(got) == want
            eng.seal()
            assert sorted(eng.evaluate(text, as_of=T).members()) == want
        finally:
            eng.close()


def test_the_narrow_path_skips_users_unknown_at_T(tmp_path: Path) -> None:
    eng = Engine.open(str(tmp_path), clock=lambda: T0 + 10 * D)
    try:
        eng.ingest([{"user_id": f"b{i}", "event_type": "B", "time": T0 - 50 * D} for i in range(200)])
        eng.ingest([{"user_id": "late", "event_type": "A", "time": T0 + 5 * D}])
        eng.ingest([{"user_id": "early", "event_type": "A", "time": T0 - D}])
        eng.upsert_user_properties([{"user_id": u, "plan": "free"} for u in ("late", "early")])
        # `not did(B)` holds for every known user without B; "late" is not known at T0
        text = 'not did("B") and user.plan == "free"'
        assert eng.evaluate(text, as_of=T0).members() == ["early"]
        assert sorted(eng.evaluate(text, as_of=T0 + 6 * D).members()) == ["early", "late"]
    finally:
        eng.close()


def test_lookup_tables_follow_new_values(tmp_path: Path) -> None:
    eng = Engine.open(str(tmp_path), clock=lambda: T0 + 10 * D)
    try:
        eng.ingest([{"user_id": f"u{i}", "event_type": "A", "time": T0 - D} for i in range(3)])
        eng.upsert_user_properties([{"user_id": "u0", "plan": "free"}, {"user_id": "u1", "plan": "paid"}])
        text = 'did("A") in last 7d and user.plan == "gold"'
        assert eng.evaluate(text, as_of=T0).members() == []
        eng.upsert_user_properties([{"user_id": "u2", "plan": "gold"}])  # a new string value
        assert eng.evaluate(text, as_of=T0).members() == ["u2"]
        assert eng.evaluate('user.plan == "free"', as_of=T0).members() == ["u0"]
    finally:
        eng.close()


def test_parsed_once_but_checked_every_time(tmp_path: Path) -> None:
    eng = Engine.open(str(tmp_path), clock=lambda: T0 + 10 * D)
    try:
        eng.ingest([{"user_id": "a", "event_type": "A", "time": T0 - D, "price": 3}])
        text = 'did("A" where price == "x") in last 7d'
        for _ in range(2):  # the cached tree still meets the schema check
            with pytest.raises(ParseError):
                eng.evaluate(text, as_of=T0)
        good = 'did("A" where price > 2) in last 7d'
        assert eng.definition(good) is eng.definition(good)
        assert eng.evaluate(good, as_of=T0).members() == ["a"]
    finally:
        eng.close()


def test_narrowing_applies_to_user_properties(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The narrowed ``and`` answers a user property without building a sub-evaluation."""
    eng = Engine.open(str(tmp_path), clock=lambda: T0 + 10 * D)
    try:
        eng.ingest([{"user_id": f"b{i}", "event_type": "B", "time": T0 - 50 * D} for i in range(100)])
        eng.ingest([{"user_id": "a", "event_type": "A", "time": T0 - D}])
        eng.upsert_user_properties([{"user_id": "a", "plan": "free"}, {"user_id": "b1", "plan": "free"}])
        made: list[int] = []
        real = Evaluation.__init__

        def counting(self: Evaluation, *args: Any, **kwargs: Any) -> None:
            made.append(1)
            real(self, *args, **kwargs)

        monkeypatch.setattr(Evaluation, "__init__", counting)
        assert eng.evaluate('did("A") in last 7d and user.plan == "free"', as_of=T0).members() == ["a"]
        assert len(made) == 1
    finally:
        eng.close()
