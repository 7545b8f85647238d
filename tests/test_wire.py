"""cohortd.wire: AST <-> CohortExpr and rows <-> pyarrow tables."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pytest
from cohortd import wire
from cohortd.lang import ast as A
from cohortd.v1 import cohortd_pb2 as pb
from cohortd.v1 import expr_pb2 as epb
from hypothesis import given, settings
from support.strategies import exprs


@settings(max_examples=300, deadline=None)
@given(exprs(cohort_names=None))
def test_expr_round_trip(expr: A.Expr) -> None:
    msg = wire.expr_to_proto(expr)
    # survives serialisation, and comes back identical (types included, so printing is stable)
    back = wire.expr_from_proto(epb.CohortExpr.FromString(msg.SerializeToString()))
    assert back == expr
    assert repr(back) == repr(expr)


def test_expr_round_trip_through_text() -> None:
    from cohortd.lang import parse, to_text

    text = (
        'did("Feature Used" where feature_area == "dashboard" and plan != "free") >= 5 in last 30d\n'
        'and not did("Subscription Cancelled") in last 90d or top 20% by count(any) in last 30d'
    )
    expr = parse(text)
    back = wire.expr_from_proto(wire.expr_to_proto(expr))
    assert to_text(back) == to_text(expr)


@pytest.mark.parametrize("leaf", ["did", "count_compare"])
def test_deep_event_filters_survive_the_wire(leaf: str) -> None:
    """A filter nested past protobuf's recursion limit is sent as chains, under any leaf kind."""
    flt: A.Filter = A.PropCmp("p", "==", 0)
    for i in range(1, 60):
        flt = A.FAnd(flt, A.PropCmp("p", "==", i))
    ref = A.EventRef("E", flt)
    expr = A.Did(ref) if leaf == "did" else A.CountCompare(ref, ">=", 2, A.EventRef("F"))
    back = wire.expr_from_proto(epb.CohortExpr.FromString(wire.expr_to_proto(expr).SerializeToString()))
    assert back == expr


def test_defaults_are_explicit_in_the_tree() -> None:
    msg = wire.expr_to_proto(A.Did(A.EventRef(None)))
    assert msg.did.window.WhichOneof("kind") == "ever"
    assert not msg.did.event.HasField("event_type")  # `any`
    assert not msg.did.HasField("cmp")
    # an absent window reads as ever
    bare = epb.CohortExpr(did=epb.Did(event=epb.EventRef(event_type="X")))
    assert wire.expr_from_proto(bare) == A.Did(A.EventRef("X"), None, A.Ever())


def test_int_and_float_and_bool_values_stay_apart() -> None:
    expr = A.And(
        A.Did(A.EventRef("E", A.PropCmp("n", "==", 5)), A.Compare(">=", 2)),
        A.Did(A.EventRef("E", A.PropIn("f", (5.0, True, "x"))), A.Range(1, 2.5)),
    )
    back = wire.expr_from_proto(wire.expr_to_proto(expr))
    cmp_val = back.left.event.filter.value
    assert type(cmp_val) is int
    assert [type(v) for v in back.right.event.filter.values] == [float, bool, str]
    assert type(back.right.cmp.hi) is float and type(back.right.cmp.lo) is int


@pytest.mark.parametrize(
    "msg",
    [
        epb.CohortExpr(),
        epb.CohortExpr(not_expr=epb.NotExpr()),
        epb.CohortExpr(active_days=epb.ActiveDays(event=epb.EventRef(event_type="E"))),  # no cmp
        # a duration without a unit
        epb.CohortExpr(did=epb.Did(event=epb.EventRef(), window=epb.Window(last=epb.Window.Last()))),
    ],
)
def test_incomplete_trees_are_rejected(msg: epb.CohortExpr) -> None:
    with pytest.raises(wire.WireFormatError):
        wire.expr_from_proto(msg)


def test_definition_accepts_text_and_tree() -> None:
    assert wire.definition_to_proto("did(any)").text == "did(any)"
    expr = A.Did(A.EventRef("E"))
    d = wire.definition_to_proto(expr)
    assert d.WhichOneof("kind") == "expr"
    assert wire.definition_from_proto(d) == expr
    assert wire.definition_from_proto(epb.Definition(text="x")) == "x"
    with pytest.raises(wire.WireFormatError):
        wire.definition_from_proto(epb.Definition())


def test_events_to_table_types_and_rejections() -> None:
    rows = [
        {"user_id": "u1", "event_type": "A", "time": 1000, "n": 1, "s": "x"},
        {"user_id": "u2", "event_type": "B", "time": datetime(2026, 1, 1, tzinfo=UTC), "n": 2.5},
        {"user_id": "u3", "event_type": "A", "time": 3000, "n": "three"},  # type conflict
        {"user_id": "u4", "event_type": "A", "time": None},  # no time
        {"user_id": "u5", "event_type": "A", "time": 5000, "b": True, "user_properties": {"plan": "free"}},
    ]
    msgs = wire.rows_to_event_messages(rows)
    batch = wire.events_to_table(msgs, first_row=10)
    t = batch.table
    assert t.column("user_id").to_pylist() == ["u1", "u2", "u5"]
    assert t.column("time").to_pylist() == [1000, 1_767_225_600_000, 5000]
    assert t.schema.field("n").type == pa.float64()  # int widened by a later float
    assert t.column("n").to_pylist() == [1.0, 2.5, None]
    assert t.column("s").to_pylist() == ["x", None, None]
    assert t.column("b").to_pylist() == [None, None, True]
    assert batch.rows == [10, 11, 14]
    assert [(r.row, r.field) for r in batch.rejections] == [(12, "n"), (13, "time")]
    assert "conflicts" in batch.rejections[0].reason
    assert t.column("$user.plan").to_pylist() == [None, None, "free"]
    # engine rejections (numbered by table row) come back in request rows, merged and sorted
    from cohortd.storage.validate import Rejection

    merged = batch.renumber([Rejection(1, "n", "bad")])
    assert [(r.row, r.field) for r in merged] == [(11, "n"), (12, "n"), (13, "time")]


def test_reserved_property_names_are_rejected() -> None:
    ev = pb.Event(user_id="u", event_type="A", time_ms=1)
    ev.properties["time"].int_value = 3
    batch = wire.events_to_table([ev])
    assert batch.table.num_rows == 0
    assert batch.rejections[0].field == "time"


def test_users_to_table() -> None:
    msgs = wire.rows_to_user_messages([{"user_id": "a", "plan": "free", "projects": 3}, {"user_id": "b"}])
    batch = wire.users_to_table(msgs)
    assert batch.table.to_pylist() == [
        {"user_id": "a", "plan": "free", "projects": 3},
        {"user_id": "b", "plan": None, "projects": None},
    ]


def test_ipc_round_trip_and_garbage() -> None:
    t = pa.table({"user_id": ["a", "b"], "event_type": ["E", "F"], "time": [1, 2]})
    assert wire.ipc_to_table(wire.table_to_ipc(t)).equals(t)
    with pytest.raises(wire.WireFormatError):
        wire.ipc_to_table(b"not arrow")


def test_times() -> None:
    ts = wire.ms_to_timestamp(1_767_225_600_123)
    assert wire.timestamp_to_ms(ts) == 1_767_225_600_123
    assert wire.to_epoch_ms(datetime(2026, 1, 1)) == 1_767_225_600_000
    assert wire.to_epoch_ms("2026-01-01T00:00:00Z") == 1_767_225_600_000
    assert wire.timestamp_to_datetime(ts) == datetime(2026, 1, 1, 0, 0, 0, 123000, tzinfo=UTC)
    with pytest.raises(ValueError):
        wire.to_epoch_ms("yesterday")
    with pytest.raises(TypeError):
        wire.to_epoch_ms(True)
