"""Definition limits and tree checks (lang/limits.py): text and trees obey the same rules.

Each limit is tested at the limit (accepted) and one past it (a clean error
naming the limit, with line and column for text), and every consumer of a
definition (parser, printer, hash/equality, wire, evaluation) is run at the
largest accepted size in a worker thread, where a recursion would fail first.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cohortd import wire
from cohortd.errors import BrokenCohortError, DefinitionError, ParseError
from cohortd.lang import as_expr, parse, to_text
from cohortd.lang import ast as A
from cohortd.lang import limits as L
from cohortd.v1 import expr_pb2 as epb
from hypothesis import given, settings
from support.strategies import exprs


def wide(n: int, op: str = "or") -> str:
    return f" {op} ".join(f'did("E{i}") >= 1 in last 30d' for i in range(n))


def in_thread(fn: Callable[[], Any]) -> Any:
    """Run ``fn`` in a fresh thread (the server's handlers do), returning or raising its result."""
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["value"] = fn()
        except BaseException as exc:  # re-raised in the caller
            out["error"] = exc

    t = threading.Thread(target=run)
    t.start()
    t.join()
    if "error" in out:
        raise out["error"]
    return out["value"]


# ------------------------------------------------------------------ text
def test_the_most_conditions_allowed_go_through_every_stage() -> None:
    def stages() -> None:
        tree = parse(wide(L.MAX_CONDITIONS))
        assert len(A.chain(tree)) == L.MAX_CONDITIONS
        assert parse(to_text(tree)) == tree and hash(tree) == hash(parse(to_text(tree)))
        msg = epb.CohortExpr.FromString(wire.expr_to_proto(tree).SerializeToString())
        assert msg.WhichOneof("node") == "or_chain"
        assert wire.expr_from_proto(msg) == tree
        assert as_expr(tree) is tree

    in_thread(stages)


def test_one_condition_too_many_names_the_limit_line_and_column() -> None:
    text = wide(L.MAX_CONDITIONS) + '\n or did("last")'
    with pytest.raises(ParseError) as err:
        parse(text)
    assert (err.value.line, err.value.column) == (2, 5)
    assert "MAX_CONDITIONS" in str(err.value) and "500" in str(err.value)


@pytest.mark.parametrize("text", ["(" * 900 + 'did("a")' + ")" * 900, "not " * 1000 + 'did("a")'])
def test_deep_nesting_is_a_parse_error_not_a_recursion_error(text: str) -> None:
    with pytest.raises(ParseError) as err:
        in_thread(lambda: parse(text))
    assert "MAX_DEPTH" in str(err.value) and err.value.line == 1


def test_depth_counts_chains_as_one_level() -> None:
    ok = "(" * (L.MAX_DEPTH - 1) + 'did("a") or did("b")' + ")" * (L.MAX_DEPTH - 1)
    assert isinstance(parse(ok), A.Or)
    # alternating operators need a level each even inside one pair of parentheses
    alternating = 'did("x")'
    for i in range(L.MAX_DEPTH):
        alternating = f'did("{i}") {"and" if i % 2 else "or"} ({alternating})'
    with pytest.raises(ParseError, match="MAX_DEPTH"):
        parse(alternating)


def test_filters_count_toward_predicates_and_depth() -> None:
    many = " or ".join(f"p == {i}" for i in range(L.MAX_PREDICATES + 1))
    with pytest.raises(ParseError, match="MAX_PREDICATES") as err:
        parse(f'did("a" where {many})')
    assert err.value.column > 1
    parse(f'did("a" where {" or ".join(f"p == {i}" for i in range(L.MAX_PREDICATES))})')
    values = ", ".join(str(i) for i in range(L.MAX_IN_VALUES + 1))
    with pytest.raises(ParseError, match="MAX_IN_VALUES"):
        parse(f'did("a" where p in ({values}))')


def test_sequence_steps_are_limited() -> None:
    steps = ", ".join(["any"] * L.MAX_SEQUENCE_STEPS)
    assert len(parse(f"sequence({steps})").steps) == L.MAX_SEQUENCE_STEPS
    with pytest.raises(ParseError, match="MAX_SEQUENCE_STEPS") as err:
        parse("sequence(" + ", ".join(["any"] * 80) + ")")
    assert err.value.column == 1 + len("sequence(") + 5 * L.MAX_SEQUENCE_STEPS


def test_text_length_is_limited() -> None:
    with pytest.raises(ParseError, match="MAX_TEXT_CHARS"):
        parse(" " * L.MAX_TEXT_CHARS + 'did("a")')


# ----------------------------------------------------------------- trees
def did(n: int | float = 1, op: str = ">=") -> A.Did:
    return A.Did(A.EventRef("E"), A.Compare(op, n), A.Last(A.Duration(30, "d")))


BAD_TREES = {
    "top 150%": A.Top(150.0, A.MetricCount(A.EventRef(None))),
    "one-step sequence": A.Sequence((A.EventRef("a"),)),
    "zero duration": A.Did(A.EventRef("a"), None, A.Last(A.Duration(0, "d"))),
    "negative duration": A.Did(A.EventRef("a"), None, A.Last(A.Duration(-3, "d"))),
    "reversed ago": A.Did(A.EventRef("a"), None, A.Ago(A.Duration(1, "d"), A.Duration(5, "d"))),
    "reversed dates": A.Did(A.EventRef("a"), None, A.Dates(2_000_000_000_000, 1_000_000_000_000)),
    "reversed range": A.Did(A.EventRef("a"), A.Range(5, 2)),
    "negative count": did(-1),
    "fractional count": did(1.5),
    "bool as number": did(True),
    "nan": A.Aggregate("sum", "x", A.EventRef("a"), A.Compare(">", float("nan"))),
    "not a node": A.Not("did(any)"),  # type: ignore[arg-type]
}


@pytest.mark.parametrize("name", sorted(BAD_TREES))
def test_a_tree_the_parser_would_reject_is_rejected(name: str) -> None:
    with pytest.raises(DefinitionError):
        as_expr(BAD_TREES[name])


def test_trees_past_the_limits_are_rejected_without_recursion() -> None:
    chain: A.Expr = did()
    for _ in range(1000):
        chain = A.Or(chain, did())
    with pytest.raises(DefinitionError, match="MAX_CONDITIONS"):
        in_thread(lambda: as_expr(chain))
    deep: A.Expr = did()
    for _ in range(5000):
        deep = A.Not(deep)
    with pytest.raises(DefinitionError, match="MAX_DEPTH"):
        in_thread(lambda: as_expr(deep))
    with pytest.raises(DefinitionError, match="MAX_SEQUENCE_STEPS"):
        as_expr(A.Sequence((A.EventRef(None),) * 80))


@settings(max_examples=150, deadline=None)
@given(exprs())
def test_every_parseable_tree_passes_the_check_and_keeps_both_wire_forms(tree: A.Expr) -> None:
    assert as_expr(tree) is tree
    binary = wire.expr_to_proto(tree)
    assert wire.expr_from_proto(binary) == tree
    chained = epb.CohortExpr()
    wire._expr_to_proto(tree, chained, binary=False)
    assert wire.expr_from_proto(epb.CohortExpr.FromString(chained.SerializeToString())) == tree


def test_chain_messages_need_two_items() -> None:
    msg = epb.CohortExpr()
    wire.expr_to_proto(did(), msg.or_chain.items.add())
    with pytest.raises(wire.WireFormatError, match="at least two"):
        wire.expr_from_proto(msg)


# ------------------------------------------------- saved, then no longer valid
def test_a_project_opens_with_a_broken_saved_definition(tmp_path: Path) -> None:
    from cohortd.service import Workspace

    with Workspace(tmp_path) as ws:
        p = ws.project("p")
        assert p.ingest([{"user_id": "u1", "event_type": "a", "time": 1_700_000_000_000}]).accepted == 1
        p.create_cohort("good", 'did("a")')
        p.create_cohort("victim", 'did("a") in last 30d')
        p.create_cohort("dependent", 'in_cohort("victim")')
    # what an older server could store: a definition the parser rejects
    import sqlite3

    db = sqlite3.connect(tmp_path / "projects" / "p" / "catalog.sqlite")
    with db:
        for table in ("cohorts", "cohort_versions"):
            db.execute(f"UPDATE {table} SET definition = 'top 150% by count(any)' "
                       "WHERE definition = 'did(\"a\") in last 30d'")  # fmt: skip
    db.close()
    with Workspace(tmp_path) as ws:
        p = ws.project("p")
        assert sorted(p.broken) == ["dependent", "victim"]
        assert "outside (0, 100]" in p.broken["victim"]
        assert p.is_member("u1", "good")
        with pytest.raises(BrokenCohortError, match="victim"):
            p.is_member("u1", "victim")
        assert [r.name for r in p.list_cohorts()] == ["dependent", "good", "victim"]
        p.update_cohort("victim", 'did("a")')
        assert p.broken == {} and p.is_member("u1", "victim") and p.is_member("u1", "dependent")
