"""``did(A) OP K * did(B)``: text, tree, builder, wire, the oracle, maintenance, the server.

Semantics (docs/cohort-language.md, evaluation decision 10): two per-user
counts over one window compared exactly, ``count_A OP K * count_B``, zero
counts included.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cohortd import Client, wire
from cohortd.client import RemoteDefinitionError
from cohortd.errors import DefinitionError, ParseError
from cohortd.lang import as_expr, did, parse, to_text
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
LAST_30D = A.Last(A.Duration(30, "d"))


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        (
            'did("A") > did("B") in last 30d',
            A.CountCompare(A.EventRef("A"), ">", 1, A.EventRef("B"), LAST_30D),
        ),
        ('did("A") >= 2 * did("B")', A.CountCompare(A.EventRef("A"), ">=", 2, A.EventRef("B"))),
        (
            'did(any where x == 1) != 3 * did("B" where y > 2) between 9d ago and 2d ago',
            A.CountCompare(
                A.EventRef(None, A.PropCmp("x", "==", 1)),
                "!=",
                3,
                A.EventRef("B", A.PropCmp("y", ">", 2)),
                A.Ago(A.Duration(9, "d"), A.Duration(2, "d")),
            ),
        ),
    ],
)
def test_parse_and_print_exactly(text: str, tree: A.Expr) -> None:
    assert parse(text) == tree
    assert to_text(tree) == text


def test_factor_one_is_the_default_and_plain_counts_still_parse() -> None:
    assert parse('did("A") <= 1 * did("B")') == parse('did("A") <= did("B")')
    assert to_text(parse('did("A") <= 1 * did("B")')) == 'did("A") <= did("B")'
    assert parse('did("A") >= 2 in last 7d') == A.Did(
        A.EventRef("A"), A.Compare(">=", 2), A.Last(A.Duration(7, "d"))
    )


@pytest.mark.parametrize(
    ("text", "column", "message"),
    [
        ('did("A") >= 0 * did("B")', 13, "factor 0"),
        ('did("A") >= 1000001 * did("B")', 13, "factor 1000001"),
        ('did("A") >= 2 * 3', 17, "unexpected '3'"),
        ('did("A") >= 2 * did("B") >= 1', 26, "unexpected '>='"),
        ('did("A") > did("B") in last 0d', 29, "must be positive"),
    ],
)
def test_rejections_name_the_place(text: str, column: int, message: str) -> None:
    with pytest.raises(ParseError) as info:
        parse(text)
    assert (info.value.line, info.value.column) == (1, column)
    assert message in info.value.message


def test_builder() -> None:
    built = did("A").at_least(did("B"), times=2).in_last(days=30)
    assert str(built) == 'did("A") >= 2 * did("B") in last 30d'
    assert built.expr == parse(str(built))
    assert str(did("A").more_than(did("B"))) == 'did("A") > did("B")'
    with pytest.raises(TypeError):
        did("A").at_least(did("B").at_least(2))
    with pytest.raises(TypeError):
        did("A").at_least(3, times=2)
    with pytest.raises(ValueError, match="factor 0"):
        _ = did("A").at_least(did("B"), times=0).expr


def test_wire_round_trip_and_same_validation_as_text() -> None:
    tree = parse('did("A") < 2 * did("B" where a == 1) since 2026-01-01 and did("C")')
    msg = epb.CohortExpr.FromString(wire.expr_to_proto(tree).SerializeToString())
    assert wire.expr_from_proto(msg) == tree
    bad = epb.CohortExpr()
    bad.count_compare.left.event_type = "A"
    bad.count_compare.right.event_type = "B"
    bad.count_compare.op = epb.CMP_OP_GT
    bad.count_compare.factor = 0
    with pytest.raises(DefinitionError, match="factor 0"):
        as_expr(wire.expr_from_proto(bad))


# ------------------------------------------------------------------- oracle
def _leaves(pool: tuple[int, ...]) -> st.SearchStrategy[A.Expr]:
    event_types, props, _ = VOCABULARIES["lean"]
    ev = event_refs(event_types, props, STRING_VALUES)
    return st.builds(
        A.CountCompare, ev, st.sampled_from(A.CMP_OPS), st.sampled_from([1, 1, 2, 3]), ev, windows(pool)
    )


@FEW
@given(scenario=scenarios(), data=st.data(), shift=st.sampled_from([0, -1, 1, -3_600_000, -86_400_000]))
def test_alone_and_combined_match_the_oracle(scenario: dict[str, Any], data: Any, shift: int) -> None:
    pool = scenario["pool"]
    rel = [adapt(c, data.draw, pool) for c in data.draw(st.lists(_leaves(pool), min_size=1, max_size=3))]
    other = adapt(data.draw(cohort_exprs([], max_depth=1, pool=pool, vocabulary="lean")), data.draw, pool)
    check_alone_and_combined(scenario, rel, other, shift)


# -------------------------------------------------------------- maintenance
def _cohort(refs: list[str]) -> st.SearchStrategy[A.Expr]:
    ev = st.builds(A.EventRef, st.sampled_from([*TYPES, None]))
    leaf = st.builds(A.CountCompare, ev, st.sampled_from(A.CMP_OPS), st.integers(1, 3), ev, plan_windows())
    return cohorts_over(leaf, refs)


@FEW
@given(c0=_cohort([]), c1=_cohort(["c0"]), c2=_cohort(["c0", "c1"]), plan=st.lists(steps, max_size=12))
def test_materialised_equals_full_re_evaluation(c0: A.Expr, c1: A.Expr, c2: A.Expr, plan: list[Any]) -> None:
    run_plan_on_a_fresh_engine({"c0": c0, "c1": c1, "c2": c2}, plan)


# ------------------------------------------------------------------- server
@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    with ready_server(Path(tmp_path_factory.mktemp("relative"))) as srv, Client(srv.address) as c:
        t = now_ms() - DAY_MS
        rows = []
        for i in range(5):  # user ui: i "A" events and 2 "B" events, yesterday
            rows += [{"user_id": f"u{i}", "event_type": "A", "time": t - k} for k in range(i)]
            rows += [{"user_id": f"u{i}", "event_type": "B", "time": t - k} for k in range(2)]
        assert c.ingest(rows).accepted == len(rows)
        yield c


def test_over_the_server_text_tree_and_rejections(client: Client) -> None:
    client.create_cohort("More A than B L7", 'did("A") > did("B") in last 7d')
    assert client.members("More A than B L7") == ["u3", "u4"]
    tree = A.CountCompare(A.EventRef("A"), ">=", 2, A.EventRef("B"), LAST_30D)
    assert client.evaluate(definition=tree).size == 1  # u4: 4 >= 2 * 2
    assert client.evaluate(definition='did("A") < did("B") between 30d ago and 7d ago').size == 0
    with pytest.raises(RemoteDefinitionError, match="factor 0"):
        client.evaluate(definition=A.CountCompare(A.EventRef("A"), ">", 0, A.EventRef("B")))
