"""Per-period counts, windows anchored at a first event, lifecycle shorthands: every layer.

Semantics (docs/cohort-language.md, evaluation decisions on ``on N days``,
``within D of first did``, ``stopped`` / ``restarted`` / ``regularly``): text,
tree, builder, wire, both kernels against plain Python, the engine against the
oracle (alone, combined, sealed, shifted), maintenance, the server.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cohortd import Client, wire
from cohortd.client import RemoteDefinitionError
from cohortd.engine.kernels import numba_kernel, rust_kernel
from cohortd.errors import DefinitionError, KernelError, ParseError
from cohortd.lang import as_expr, did, parse, regularly, restarted, stopped, to_text
from cohortd.lang import ast as A
from cohortd.lang.shorthand import expand
from cohortd.v1 import expr_pb2 as epb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.data import DAY_MS, now_ms
from support.engine_check import (
    STRING_VALUES,
    VOCABULARIES,
    adapt,
    check_alone_and_combined,
    cohort_exprs,
    durations,
    scenarios,
    windows,
)
from support.maintenance import START, TYPES, cohorts_over, plan_windows, run_plan_on_a_fresh_engine, steps
from support.server import ready_server
from support.strategies import event_refs, period_counts

FEW = settings(deadline=None, max_examples=20, suppress_health_check=[HealthCheck.too_slow])
E = A.EventRef("E")
SIGNUP = A.EventRef("Signup Submitted")
D30 = A.Duration(30, "d")
LAST_30D = A.Last(D30)


# --------------------------------------------------------------------- text
@pytest.mark.parametrize(
    ("text", "tree"),
    [
        (
            'did("E") >= 3 on 4 days in last 30d',
            A.DidOnPeriods(E, A.Compare(">=", 3), 4, None, LAST_30D),
        ),
        (
            'did("E") >= 3 on 2 periods of 1w in last 30d',
            A.DidOnPeriods(E, A.Compare(">=", 3), 2, A.Duration(1, "w"), LAST_30D),
        ),
        ('did("E") on 1 day', A.DidOnPeriods(E, None, 1, None)),
        (
            "did(any) between 2 and 4 on 1 period of 12h",
            A.DidOnPeriods(A.EventRef(None), A.Range(2, 4), 1, A.Duration(12, "h")),
        ),
        (
            'did("E") >= 3 within 7d of first did("Signup Submitted")',
            A.DidWithinOfFirst(E, A.Compare(">=", 3), A.Duration(7, "d"), SIGNUP),
        ),
        (
            'did("E" where x == 1) < 2 within 7d of first did("Signup Submitted") in last 14d',
            A.DidWithinOfFirst(
                A.EventRef("E", A.PropCmp("x", "==", 1)),
                A.Compare("<", 2),
                A.Duration(7, "d"),
                SIGNUP,
                A.Last(A.Duration(14, "d")),
            ),
        ),
        (
            'did("E") within 1h of first did(any)',
            A.DidWithinOfFirst(E, None, A.Duration(1, "h"), A.EventRef(None)),
        ),
        ('stopped("E", 30d)', A.Stopped(E, D30)),
        (
            'restarted(any where plan == "x", 30d)',
            A.Restarted(A.EventRef(None, A.PropCmp("plan", "==", "x")), D30),
        ),
        ('regularly("E", 1w, 4 of 6)', A.Regularly(E, A.Duration(1, "w"), 4, 6)),
    ],
)
def test_parse_and_print_exactly(text: str, tree: A.Expr) -> None:
    assert parse(text) == tree
    assert to_text(tree) == text


def test_singular_and_plural_spellings_print_canonically() -> None:
    assert to_text(parse('did("E") on 1 days')) == 'did("E") on 1 day'
    assert to_text(parse('did("E") on 3 day')) == 'did("E") on 3 days'
    assert to_text(parse('did("E") >= 2 on 2 period of 1d')) == 'did("E") >= 2 on 2 periods of 1d'


def test_shorthands_keep_their_spelling_and_expand_exactly() -> None:
    assert to_text(expand(parse('stopped("E", 30d)'))) == (
        'did("E") between 60d ago and 30d ago and not did("E") in last 30d'
    )
    assert to_text(expand(parse('restarted("E", 30d)'))) == (
        'did("E") in last 30d and not did("E") between 60d ago and 30d ago and not first did("E") in last 60d'
    )
    assert to_text(expand(parse('regularly("E", 1w, 4 of 6)'))) == 'active_periods("E", 1w) >= 4 in last 6w'


@pytest.mark.parametrize(
    ("text", "column", "message"),
    [
        ('did("E") < 3 on 4 days', 10, "accepts 0"),
        ('did("E") >= 0 on 4 days', 10, "accepts 0"),
        ('did("E") between 0 and 2 on 4 days', 10, "accepts 0"),
        ('did("E") != 2 on 4 days', 10, "accepts 0"),
        ('did("E") >= 1 on 0 days', 18, "number of periods 0"),
        ('did("E") >= 1 on 2 weeks', 20, "unexpected 'weeks'"),
        ('did("E") >= 1 on 2 periods of 0d', 31, "must be positive"),
        ('did("E") >= 1 within 0d of first did("A")', 22, "must be positive"),
        ('did("E") >= 1 within 7d of did("A")', 28, "unexpected 'did'"),
        ('stopped("E")', 12, "unexpected ')'"),
        ('stopped("E", 30d) in last 7d', 19, "unexpected 'in'"),
        ('regularly("E", 1w, 5 of 4)', 25, "more active periods than periods"),
        ('regularly("E", 1w, 0 of 4)', 20, "outside 1..10,000"),
        ('regularly("E", 1w, 4)', 21, "unexpected ')'"),
    ],
)
def test_rejections_name_the_place(text: str, column: int, message: str) -> None:
    with pytest.raises(ParseError) as info:
        parse(text)
    assert (info.value.line, info.value.column) == (1, column), info.value
    assert message in info.value.message


def test_builder() -> None:
    assert str(did("E").at_least(3).on_days(4).in_last(days=30)) == 'did("E") >= 3 on 4 days in last 30d'
    built = did("E").at_least(3).on_periods(2, weeks=1).in_last("30d")
    assert str(built) == 'did("E") >= 3 on 2 periods of 1w in last 30d'
    assert built.expr == parse(str(built))
    anchored = did("E").at_least(3).within_of_first("Signup Submitted", days=7)
    assert str(anchored) == 'did("E") >= 3 within 7d of first did("Signup Submitted")'
    assert str(stopped("E", "30d")) == 'stopped("E", 30d)'
    assert str(restarted(None, days=30)) == "restarted(any, 30d)"
    assert str(regularly("E", "1w", 4, 6)) == 'regularly("E", 1w, 4 of 6)'
    with pytest.raises(ValueError, match="accepts 0"):
        _ = did("E").fewer_than(3).on_days(2).expr
    with pytest.raises(ValueError, match="more active periods"):
        _ = regularly("E", "1w", 7, 6).expr
    with pytest.raises(TypeError):
        stopped("E", "30d").in_last(days=7)
    with pytest.raises(TypeError):
        did("E").at_least(1).on_days(2).on_days(3)


def test_wire_round_trip_and_same_validation_as_text() -> None:
    text = (
        'did("E") >= 3 on 4 days in last 30d and did("E") > 1 on 2 periods of 1w '
        'or did("E") within 7d of first did("S" where a == 1) since 2026-01-01 '
        'or not stopped("E", 30d) and restarted(any, 1d) or regularly("E", 1w, 4 of 6)'
    )
    tree = parse(text)
    msg = epb.CohortExpr.FromString(wire.expr_to_proto(tree).SerializeToString())
    assert wire.expr_from_proto(msg) == tree
    bad = epb.CohortExpr()
    bad.did_on_periods.event.event_type = "E"
    bad.did_on_periods.cmp.compare.op = epb.CMP_OP_LT
    bad.did_on_periods.cmp.compare.value.int_value = 3
    bad.did_on_periods.periods = 2
    with pytest.raises(DefinitionError, match="accepts 0"):
        as_expr(wire.expr_from_proto(bad))
    bad = epb.CohortExpr()
    bad.regularly.event.event_type = "E"
    bad.regularly.period.CopyFrom(wire.expr_to_proto(parse('stopped("E", 1w)')).stopped.period)
    bad.regularly.times, bad.regularly.periods = 3, 2
    with pytest.raises(DefinitionError, match="more active periods"):
        as_expr(wire.expr_from_proto(bad))


# ------------------------------------------------------------------ kernels
def _parts(draw: Any, n_users: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    us, ts = [], []
    for _ in range(draw(st.integers(0, 3))):
        k = draw(st.integers(0, 30))
        us.append(np.array(draw(st.lists(st.integers(0, n_users - 1), min_size=k, max_size=k)), np.uint32))
        ts.append(np.array(draw(st.lists(st.integers(-50, 50), min_size=k, max_size=k)), np.int64))
    return us, ts


@settings(deadline=None, max_examples=60)
@given(data=st.data(), n=st.integers(1, 5))
def test_kernels_agree_with_plain_python(data: Any, n: int) -> None:
    us, ts = _parts(data.draw, n)
    start, end = sorted(data.draw(st.lists(st.integers(-60, 60), min_size=2, max_size=2)))
    start = data.draw(st.sampled_from([start, -(2**63)]))
    origin, period = data.draw(st.integers(-20, 20)), data.draw(st.integers(1, 15))
    lo = data.draw(st.integers(1, 3))
    hi = data.draw(st.sampled_from([lo, lo + 1, 2**63 - 1]))
    rows = [(int(u), int(t)) for pu, pt in zip(us, ts, strict=True) for u, t in zip(pu, pt, strict=True)]
    buckets: dict[tuple[int, int], int] = {}
    for u, t in rows:
        if start <= t < end:
            key = (u, (t - origin) // period)
            buckets[key] = buckets.get(key, 0) + 1
    want = [sum(1 for (b_u, _), c in buckets.items() if b_u == u and lo <= c <= hi) for u in range(n)]
    for k in (rust_kernel, numba_kernel):
        got = k.bucket_counts_reaching(us, ts, start, end, origin, period, lo, hi, n)
        assert got.tolist() == want, k.__name__
    starts = np.array(data.draw(st.lists(st.integers(-60, 60), min_size=n, max_size=n)), np.int64)
    ends = starts + np.array(data.draw(st.lists(st.integers(0, 40), min_size=n, max_size=n)), np.int64)
    want = [sum(1 for ru, t in rows if ru == u and starts[u] <= t < ends[u]) for u in range(n)]
    for k in (rust_kernel, numba_kernel):
        assert k.count_per_user_window(us, ts, starts, ends, n).tolist() == want, k.__name__


@pytest.mark.parametrize("k", [rust_kernel, numba_kernel])
def test_kernels_reject_bad_arguments_alike(k: Any) -> None:
    u, t = [np.array([0, 1], np.uint32)], [np.array([1, 2], np.int64)]
    with pytest.raises(KernelError, match="period"):
        k.bucket_counts_reaching(u, t, 0, 10, 0, 0, 1, 5, 2)
    with pytest.raises(KernelError, match="lo must be at least 1"):
        k.bucket_counts_reaching(u, t, 0, 10, 0, 1, 0, 5, 2)
    with pytest.raises(KernelError, match="out of range"):
        k.bucket_counts_reaching(u, t, 0, 10, 0, 1, 1, 5, 1)
    with pytest.raises(KernelError, match="starts"):
        k.count_per_user_window(u, t, np.zeros(1, np.int64), np.zeros(1, np.int64), 2)


# ------------------------------------------------------------------- oracle
def _leaves(pool: tuple[int, ...]) -> st.SearchStrategy[A.Expr]:
    event_types, props, _ = VOCABULARIES["lean"]
    ev = event_refs(event_types, props, STRING_VALUES)
    small = st.sampled_from([None, A.Compare(">=", 1), A.Compare(">=", 2), A.Compare("<", 2), A.Range(1, 2)])
    dur = durations(pool, pairwise=True)
    return st.one_of(
        st.builds(
            A.DidOnPeriods, ev, period_counts(), st.integers(1, 3), st.one_of(st.none(), dur), windows(pool)
        ),
        st.builds(A.DidWithinOfFirst, ev, small, dur, ev, windows(pool)),
        st.builds(A.Stopped, ev, dur),
        st.builds(A.Restarted, ev, dur),
        st.integers(1, 4).flatmap(lambda n: st.builds(A.Regularly, ev, dur, st.integers(1, n), st.just(n))),
    )


@FEW
@given(scenario=scenarios(), data=st.data(), shift=st.sampled_from([0, -1, 1, -3_600_000, -86_400_000]))
def test_alone_and_combined_match_the_oracle(scenario: dict[str, Any], data: Any, shift: int) -> None:
    pool = scenario["pool"]
    new = data.draw(st.lists(_leaves(pool), min_size=1, max_size=3))
    other = adapt(data.draw(cohort_exprs([], max_depth=1, pool=pool, vocabulary="lean")), data.draw, pool)
    check_alone_and_combined(scenario, new, other, shift)


# -------------------------------------------------------------- maintenance
def _cohort(refs: list[str]) -> st.SearchStrategy[A.Expr]:
    ev = st.builds(A.EventRef, st.sampled_from([*TYPES, None]))
    dur = st.one_of(
        st.builds(A.Duration, st.integers(1, 48), st.just("h")),
        st.builds(A.Duration, st.integers(1, 3), st.just("d")),
    )
    small = st.sampled_from([None, A.Compare(">=", 2), A.Compare("<", 2), A.Compare("==", 1)])
    leaf = st.one_of(
        st.builds(
            A.DidOnPeriods, ev, period_counts(), st.integers(1, 3), st.one_of(st.none(), dur), plan_windows()
        ),
        st.builds(A.DidWithinOfFirst, ev, small, dur, ev, plan_windows()),
        st.builds(A.Stopped, ev, dur),
        st.builds(A.Restarted, ev, dur),
        st.builds(A.Regularly, ev, dur, st.integers(1, 2), st.integers(2, 4)),
    )
    return cohorts_over(leaf, refs)


@FEW
@given(c0=_cohort([]), c1=_cohort(["c0"]), c2=_cohort(["c0", "c1"]), plan=st.lists(steps, max_size=12))
def test_materialised_equals_full_re_evaluation(c0: A.Expr, c1: A.Expr, c2: A.Expr, plan: list[Any]) -> None:
    run_plan_on_a_fresh_engine({"c0": c0, "c1": c1, "c2": c2}, plan)


def test_stopped_users_enter_by_the_passing_of_time_alone(tmp_path: Path) -> None:
    """A user silent since an event enters ``stopped(E, 1d)`` one day after it, with no new events."""
    from cohortd import Engine
    from cohortd.engine.maintain import Maintainer

    now = [START]
    with Engine.open(tmp_path, clock=lambda: now[0]) as engine:
        engine.ingest([{"user_id": "u", "event_type": "A", "time": START - 1}])
        m = Maintainer(engine, {}.get)
        m.track("stopped", parse('stopped("A", 1d)'))
        assert not m.membership("stopped").members
        assert m.next_deadline() == START - 1 + DAY_MS + 1
        now[0] = START + DAY_MS
        m.step()
        assert list(m.membership("stopped").members) == [engine.dense_id("u")]
        now[0] = START + 2 * DAY_MS
        m.step()  # older than 2 days: not "stopped" any more, just gone
        assert not m.membership("stopped").members


# ------------------------------------------------------------------- server
@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    with ready_server(Path(tmp_path_factory.mktemp("conditions"))) as srv, Client(srv.address) as c:
        t = now_ms() - 2 * DAY_MS
        rows = [{"user_id": f"u{i}", "event_type": "Signup Submitted", "time": t - i} for i in range(3)]
        for i in range(3):  # user ui: i+1 "E" events a minute apart right after signing up
            rows += [{"user_id": f"u{i}", "event_type": "E", "time": t + 60_000 * k} for k in range(1, i + 2)]
        rows.append({"user_id": "old", "event_type": "E", "time": now_ms() - 45 * DAY_MS})
        assert c.ingest(rows).accepted == len(rows)
        yield c


def test_over_the_server_text_tree_and_rejections(client: Client) -> None:
    text = 'did("E") >= 2 within 7d of first did("Signup Submitted")'
    client.create_cohort("Engaged after signup 7d", text)
    assert client.members("Engaged after signup 7d") == ["u1", "u2"]
    assert client.evaluate(definition='did("E") >= 3 on 1 day in last 30d').size == 1
    assert client.evaluate(definition=A.Stopped(E, D30)).size == 1  # "old": active 45 days ago only
    assert client.evaluate(definition='regularly("E", 1w, 1 of 2)').size == 3
    with pytest.raises(RemoteDefinitionError, match="accepts 0"):
        client.evaluate(definition=A.DidOnPeriods(E, A.Compare("<", 2), 1))
