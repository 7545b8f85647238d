"""``nth did(E, n)``: text, tree, builder, wire, both kernels, the oracle, maintenance, the server.

Semantics (docs/cohort-language.md, evaluation decision 9): the user's n-th
matching event of all data before ``T`` (filter included, one per event, ties
counted separately) falls in the window.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cohortd import Client, wire
from cohortd.client import RemoteDefinitionError, RemoteParseError
from cohortd.engine.kernels import get_kernel
from cohortd.errors import DefinitionError, KernelError, ParseError
from cohortd.lang import as_expr, event, nth_did, parse, prop, to_text
from cohortd.lang import ast as A
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
    scenarios,
    windows,
)
from support.maintenance import TYPES, cohorts_over, plan_windows, run_plan_on_a_fresh_engine, steps
from support.server import ready_server
from support.strategies import event_refs

FEW = settings(deadline=None, max_examples=40, suppress_health_check=[HealthCheck.too_slow])


# ------------------------------------------------------------ text and tree
@pytest.mark.parametrize(
    ("text", "tree"),
    [
        (
            'nth did("Purchase", 3) in last 30d',
            A.NthDid(A.EventRef("Purchase"), 3, A.Last(A.Duration(30, "d"))),
        ),
        ("nth did(any, 1)", A.NthDid(A.EventRef(None), 1)),
        (
            'nth did("E" where amount > 3 or plan == "x", 2) between 9d ago and 2d ago',
            A.NthDid(
                A.EventRef("E", A.FOr(A.PropCmp("amount", ">", 3), A.PropCmp("plan", "==", "x"))),
                2,
                A.Ago(A.Duration(9, "d"), A.Duration(2, "d")),
            ),
        ),
    ],
)
def test_parse_and_print_exactly(text: str, tree: A.Expr) -> None:
    assert parse(text) == tree
    assert to_text(tree) == text
    assert parse("NTH  DID(" + text[8:]) == tree  # keywords are case-insensitive


@pytest.mark.parametrize(
    ("text", "column", "message"),
    [
        ('nth did("E", 0)', 14, "position 0 is below 1"),
        ('nth did("E", -2)', 14, "position -2 is below 1"),
        ('nth did("E", 1.5)', 14, "unexpected '1.5'"),
        ('nth did("E")', 12, "unexpected ')'"),
        ('nth did("E", 2147483648)', 14, "position 2147483648 is too large"),
        ('nth("E", 2)', 4, "unexpected '('"),
    ],
)
def test_rejections_name_the_place(text: str, column: int, message: str) -> None:
    with pytest.raises(ParseError) as info:
        parse(text)
    assert (info.value.line, info.value.column) == (1, column)
    assert message in info.value.message


def test_nth_is_a_keyword_so_a_property_named_nth_is_quoted() -> None:
    tree = A.Did(A.EventRef("E", A.PropCmp("nth", "==", 1)))
    assert to_text(tree) == 'did("E" where "nth" == 1)'
    assert parse(to_text(tree)) == tree


def test_builder() -> None:
    built = nth_did(event("Purchase").where(prop("amount") > 3), 3).in_last(days=30)
    assert str(built) == 'nth did("Purchase" where amount > 3, 3) in last 30d'
    assert built.expr == parse(str(built))
    assert str(nth_did(None, 2).where(plan="free") & ~nth_did("A", 1)) == (
        'nth did(any where plan == "free", 2) and not nth did("A", 1)'
    )
    with pytest.raises(ValueError, match="below 1"):
        _ = nth_did("A", 0).expr
    with pytest.raises(TypeError):
        nth_did("A", True)
    with pytest.raises(TypeError):
        nth_did("A", 2).at_least(3)  # no comparison on nth did


def test_wire_round_trip_and_same_validation_as_text() -> None:
    tree = parse('nth did("E" where a == 1, 4) since 2026-01-01 or did("F")')
    msg = epb.CohortExpr.FromString(wire.expr_to_proto(tree).SerializeToString())
    assert msg.or_expr.left.nth_did.n == 4
    assert wire.expr_from_proto(msg) == tree
    bad = epb.CohortExpr()
    bad.nth_did.event.event_type = "E"
    bad.nth_did.n = 0
    with pytest.raises(DefinitionError, match="below 1"):
        as_expr(wire.expr_from_proto(bad))


# ------------------------------------------------------------------ kernels
def _reference(users: list[np.ndarray], times: list[np.ndarray], end: int, nth: int, n: int) -> np.ndarray:
    per_user: dict[int, list[int]] = {}
    for u, t in zip(users, times, strict=True):
        for uid, time in zip(u.tolist(), t.tolist(), strict=True):
            if time < end:
                per_user.setdefault(uid, []).append(time)
    out = np.full(n, np.iinfo(np.int64).max, np.int64)
    for uid, ts in per_user.items():
        if len(ts) >= nth:
            out[uid] = sorted(ts)[nth - 1]
    return out


parts = st.integers(1, 6).flatmap(
    lambda n: st.tuples(
        st.just(n),
        st.lists(
            st.lists(
                st.tuples(st.integers(0, n - 1), st.sampled_from([-(2**63), -5, 0, 1, 3, 7, 2**62])),
                max_size=12,
            ),
            max_size=3,
        ),
    )
)


@settings(deadline=None, max_examples=150)
@given(data=parts, end=st.sampled_from([-(2**63), 0, 2, 4, 8, 2**63 - 1]), nth=st.integers(1, 5))
def test_rust_and_numba_equal_a_plain_reference(data: tuple[int, list[Any]], end: int, nth: int) -> None:
    n, raw = data
    users = [np.array([u for u, _ in p], np.uint32) for p in raw]
    times = [np.array([t for _, t in p], np.int64) for p in raw]
    want = _reference(users, times, end, nth, n)
    for name in ("rust", "numba"):
        got = get_kernel(name).nth_time(users, times, end, nth, n)
        assert got.dtype == np.int64 and got.tolist() == want.tolist(), name


def test_kernels_reject_bad_input_alike() -> None:
    u, t = [np.array([0, 3], np.uint32)], [np.array([1, 2], np.int64)]
    for name in ("rust", "numba"):
        k = get_kernel(name)
        with pytest.raises(KernelError):
            k.nth_time(u, t, 10, 0, 4)
        with pytest.raises(KernelError):
            k.nth_time(u, t, 10, 1, 3)  # user id out of range


def test_kernels_agree_on_many_rows() -> None:
    rng = np.random.default_rng(7)
    n = 5000
    users = [rng.integers(0, n, 150_000).astype(np.uint32) for _ in range(2)]
    times = [rng.integers(0, 1000, 150_000).astype(np.int64) for _ in range(2)]
    for nth in (1, 30, 61):
        want = get_kernel("numba").nth_time(users, times, 700, nth, n)
        assert np.array_equal(get_kernel("rust").nth_time(users, times, 700, nth, n), want)
    assert (want < 700).any() and (want == np.iinfo(np.int64).max).any()


# ------------------------------------------------------------------- oracle
def _nth_leaves(pool: tuple[int, ...]) -> st.SearchStrategy[A.Expr]:
    event_types, props, _ = VOCABULARIES["lean"]
    ev = event_refs(event_types, props, STRING_VALUES)
    return st.builds(A.NthDid, ev, st.integers(1, 5), windows(pool))


@FEW
@given(scenario=scenarios(), data=st.data(), shift=st.sampled_from([0, -1, 1, -3_600_000, -86_400_000]))
def test_alone_and_combined_match_the_oracle(scenario: dict[str, Any], data: Any, shift: int) -> None:
    pool = scenario["pool"]
    nth = [adapt(c, data.draw, pool) for c in data.draw(st.lists(_nth_leaves(pool), min_size=1, max_size=3))]
    other = adapt(data.draw(cohort_exprs([], max_depth=1, pool=pool, vocabulary="lean")), data.draw, pool)
    check_alone_and_combined(scenario, nth, other, shift)


# -------------------------------------------------------------- maintenance
def _nth_cohort(refs: list[str]) -> st.SearchStrategy[A.Expr]:
    ev = st.builds(A.EventRef, st.sampled_from([*TYPES, None]))
    leaf = st.builds(A.NthDid, ev, st.integers(1, 4), plan_windows())
    return cohorts_over(leaf, refs)


@FEW
@given(
    c0=_nth_cohort([]),
    c1=_nth_cohort(["c0"]),
    c2=_nth_cohort(["c0", "c1"]),
    plan=st.lists(steps, max_size=12),
)
def test_materialised_equals_full_re_evaluation(c0: A.Expr, c1: A.Expr, c2: A.Expr, plan: list[Any]) -> None:
    """Ingests, clock advances (the n-th event entering and leaving windows) and edits, step by step."""
    run_plan_on_a_fresh_engine({"c0": c0, "c1": c1, "c2": c2}, plan)


# ------------------------------------------------------------------- server
@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    with ready_server(Path(tmp_path_factory.mktemp("nth"))) as srv, Client(srv.address) as c:
        t = now_ms()
        rows = []
        for i in range(5):  # user ui has i purchases, one every 10 days back from yesterday
            rows += [
                {"user_id": f"u{i}", "event_type": "Purchase", "time": t - (1 + 10 * k) * DAY_MS}
                for k in range(i)
            ]
        assert c.ingest(rows).accepted == len(rows)
        yield c


def test_over_the_server_text_tree_and_rejections(client: Client) -> None:
    # the k-th-ever purchase of ui (oldest first) is (i - k) * 10 + 1 days ago
    client.create_cohort("Second Purchase L15", 'nth did("Purchase", 2) in last 15d')
    assert client.members("Second Purchase L15") == ["u2", "u3"]
    tree = A.NthDid(A.EventRef("Purchase"), 3, A.Last(A.Duration(30, "d")))
    assert client.evaluate(definition=tree).size == 2  # u3 (21d ago) and u4 (11d ago)
    with pytest.raises(RemoteParseError, match="below 1"):
        client.evaluate(definition='nth did("Purchase", 0)')
    with pytest.raises(RemoteDefinitionError, match="below 1"):
        client.evaluate(definition=A.NthDid(A.EventRef("Purchase"), 0))
