"""User properties as they were: ``user.P`` as of ``T`` and ``had user.P ... [window]``.

Semantics (docs/cohort-language.md, "User properties as they were"): a dated
change (an upsert row with a ``time``, ``$user.`` properties on an event)
makes a property time-travelled for that user; undated upserts alone keep the
current value at every ``T``.  Proven against the oracle (tests/oracle.py,
which reads the raw change list), under maintenance, across restarts and
checkpoints, and over the server.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cohortd import Client, Engine, wire
from cohortd.engine.maintain import Maintainer
from cohortd.errors import ParseError
from cohortd.lang import as_expr, had_user, parse, to_text, user
from cohortd.lang import ast as A
from cohortd.v1 import expr_pb2 as epb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.data import DAY_MS, now_ms
from support.engine_check import (
    LEAN_USER_PROPS,
    STRING_VALUES,
    T0,
    adapt,
    check_before_and_after_seal,
    cohort_exprs,
    scenarios,
    windows,
)
from support.oracle import Oracle
from support.server import ready_server
from support.strategies import _predicates

FEW = settings(deadline=None, max_examples=30, suppress_health_check=[HealthCheck.too_slow])
D = 86_400_000


# ------------------------------------------------------------ text and tree
@pytest.mark.parametrize(
    ("text", "tree"),
    [
        (
            'had user.plan == "trial" in last 30d',
            A.HadUserProp(A.PropCmp("plan", "==", "trial"), A.Last(A.Duration(30, "d"))),
        ),
        ("had user.plan exists", A.HadUserProp(A.PropExists("plan"))),
        (
            'had user."plan type" in ("a", "b") between 9d ago and 2d ago',
            A.HadUserProp(A.PropIn("plan type", ("a", "b")), A.Ago(A.Duration(9, "d"), A.Duration(2, "d"))),
        ),
    ],
)
def test_parse_and_print_exactly(text: str, tree: A.Expr) -> None:
    assert parse(text) == tree
    assert to_text(tree) == text
    assert parse("HAD USER." + text[9:]) == tree  # keywords are case-insensitive


def test_rejections_name_the_place() -> None:
    with pytest.raises(ParseError) as info:
        parse('had plan == "x"')
    assert (info.value.line, info.value.column) == (1, 5)
    assert "user.<property>" in info.value.expected
    with pytest.raises(ParseError):
        parse('had user.plan == "x" in last 0d')


def test_builder_and_wire() -> None:
    built = (had_user.plan == "trial").in_last(days=30) & (user.plan == "free")
    assert str(built) == 'had user.plan == "trial" in last 30d and user.plan == "free"'
    assert built.expr == parse(str(built))
    tree = parse('had user.plan != "x" since 2026-01-01 or user.n > 2')
    msg = epb.CohortExpr.FromString(wire.expr_to_proto(tree).SerializeToString())
    assert msg.or_expr.left.had_user_prop.window.since.start_ms > 0
    assert wire.expr_from_proto(msg) == tree
    bad = epb.CohortExpr()
    bad.had_user_prop.predicate.prop_exists.prop = "plan"
    bad.had_user_prop.window.last.duration.value = 0
    bad.had_user_prop.window.last.duration.unit = epb.DURATION_UNIT_D
    with pytest.raises(Exception, match="zero|positive"):
        as_expr(wire.expr_from_proto(bad))


# --------------------------------------------------------- worked example
def _example(path: str) -> Engine:
    eng = Engine.open(path, clock=lambda: T0 + 10 * D)
    eng.ingest([{"user_id": u, "event_type": "x", "time": T0 - 100 * D} for u in "abcd"])
    eng.upsert_user_properties(
        [
            {"user_id": "a", "plan": "trial", "time": T0 - 40 * D},
            {"user_id": "a", "plan": "paid", "time": T0 - 10 * D},
            {"user_id": "b", "plan": "free"},  # undated: not time-travelled
        ]
    )
    eng.ingest([{"user_id": "c", "event_type": "x", "time": T0 - 5 * D, "$user.plan": "trial"}])
    return eng


EXAMPLE = [
    ('user.plan == "trial"', -20, ["a"]),
    ('user.plan == "trial"', 0, ["c"]),
    ('user.plan == "paid"', -20, []),
    ('user.plan == "paid"', 0, ["a"]),
    ('user.plan == "free"', -200, []),  # nobody is known yet
    ('user.plan == "free"', -20, ["b"]),
    ("user.plan not exists", -20, ["c", "d"]),
    ('had user.plan == "trial" in last 30d', 0, ["a", "c"]),
    ('had user.plan == "trial" in last 10d', 0, ["c"]),
    ('had user.plan == "paid" between 30d ago and 11d ago', 0, []),
    ('had user.plan == "paid" between 30d ago and 10d ago', 1, ["a"]),
    ("had user.plan not exists", 0, ["a", "c", "d"]),
]


@pytest.mark.parametrize(("text", "day", "want"), EXAMPLE)
def test_worked_example(text: str, day: int, want: list[str], tmp_path: Path) -> None:
    eng = _example(str(tmp_path))
    try:
        for kernel in ("rust", "numba"):
            assert eng.evaluate(text, as_of=T0 + day * D, kernel=kernel).members() == want
    finally:
        eng.close()


def test_durable_through_log_checkpoint_and_restart(tmp_path: Path) -> None:
    def answers(eng: Engine) -> list[list[str]]:
        return [eng.evaluate(text, as_of=T0 + day * D).members() for text, day, _ in EXAMPLE]

    eng = _example(str(tmp_path))
    want = answers(eng)
    assert want == [w for *_, w in EXAMPLE]
    eng.close()
    eng = Engine.open(str(tmp_path), clock=lambda: T0 + 10 * D)  # replayed from the log
    assert answers(eng) == want
    eng.seal()
    eng.close()
    eng = Engine.open(str(tmp_path), clock=lambda: T0 + 10 * D)  # from the checkpoint
    assert answers(eng) == want
    assert any(p.name.startswith("userhist-") for p in tmp_path.iterdir())
    eng.close()


def test_deleted_users_leave_no_history(tmp_path: Path) -> None:
    eng = _example(str(tmp_path))
    try:
        eng.delete_users(["a"])
        eng.compact()
        eng.ingest([{"user_id": "e", "event_type": "x", "time": T0 - 100 * D}])
        assert eng.evaluate('had user.plan == "trial" in last 60d', as_of=T0).members() == ["c"]
    finally:
        eng.close()


# ------------------------------------------------------------------- oracle
def _history_leaves(pool: tuple[int, ...]) -> st.SearchStrategy[A.Expr]:
    preds = _predicates(LEAN_USER_PROPS, STRING_VALUES)
    return st.one_of(st.builds(A.UserProp, preds), st.builds(A.HadUserProp, preds, windows(pool)))


@FEW
@given(scenario=scenarios(), data=st.data(), shift=st.sampled_from([0, -1, 1, -3_600_000, -86_400_000]))
def test_alone_and_combined_match_the_oracle(scenario: dict[str, Any], data: Any, shift: int) -> None:
    pool = scenario["pool"]
    leaves = data.draw(st.lists(_history_leaves(pool), min_size=1, max_size=3))
    other = adapt(data.draw(cohort_exprs([], max_depth=1, pool=pool, vocabulary="lean")), data.draw, pool)
    exprs_ = [*leaves, A.Not(leaves[0]), A.And(leaves[0], other), A.Or(other, A.Not(leaves[-1]))]
    check_before_and_after_seal(scenario, exprs_, [T0, T0 + shift, T0 - 2 * D], [T0 + shift])


# -------------------------------------------------------------- maintenance
USERS = [f"u{i}" for i in range(5)]
H = 3_600_000
START = 1_780_000_000_000

_win = st.one_of(
    st.just(A.Ever()),
    st.builds(A.Last, st.builds(A.Duration, st.integers(1, 30), st.just("h"))),
    st.builds(A.Ago, st.just(A.Duration(20, "h")), st.builds(A.Duration, st.integers(1, 19), st.just("h"))),
)
_pred = st.one_of(
    st.builds(A.PropCmp, st.just("plan"), st.sampled_from(["==", "!="]), st.sampled_from(["x", "y"])),
    st.builds(A.PropExists, st.just("plan"), st.booleans()),
)
_leaf = st.one_of(st.builds(A.UserProp, _pred), st.builds(A.HadUserProp, _pred, _win))
_cohorts = st.one_of(
    _leaf, st.builds(A.Not, _leaf), st.builds(A.And, _leaf, _leaf), st.builds(A.Or, _leaf, _leaf)
)
_steps = st.one_of(
    st.tuples(
        st.just("event"), st.sampled_from(USERS), st.integers(-10 * H, 0), st.sampled_from([None, "x", "y"])
    ),
    st.tuples(
        st.just("upsert"), st.sampled_from(USERS), st.integers(-10 * H, 2 * H), st.sampled_from(["x", "y"])
    ),
    st.tuples(st.just("undated"), st.sampled_from(USERS), st.just(0), st.sampled_from(["x", "y"])),
    st.tuples(st.just("advance"), st.just(""), st.sampled_from([1, H - 1, H, 5 * H, 20 * H + 1]), st.none()),
    st.tuples(st.just("seal"), st.just(""), st.just(0), st.none()),
)


@FEW
@given(cohorts=st.lists(_cohorts, min_size=1, max_size=3), plan=st.lists(_steps, max_size=14))
def test_materialised_equals_full_re_evaluation(cohorts: list[A.Expr], plan: list[Any]) -> None:
    """Dated changes in the past and up to two hours ahead; windows passing them as the clock moves."""
    now = [START]
    catalog = {f"c{i}": c for i, c in enumerate(cohorts)}
    with tempfile.TemporaryDirectory() as d, Engine.open(d, clock=lambda: now[0]) as engine:
        engine.ingest([{"user_id": u, "event_type": "A", "time": START - 30 * H} for u in USERS])
        m = Maintainer(engine, catalog.get, percentile_interval_ms=0)
        for name, expr in catalog.items():
            m.track(name, expr)
        for kind, who, dt, value in plan:
            if kind == "event":
                row = {"user_id": who, "event_type": "A", "time": now[0] + dt}
                if value is not None:
                    row["$user.plan"] = value
                engine.ingest([row])
            elif kind == "upsert":
                engine.upsert_user_properties([{"user_id": who, "plan": value, "time": now[0] + dt}])
            elif kind == "undated":
                engine.upsert_user_properties([{"user_id": who, "plan": value}])
            elif kind == "advance":
                now[0] += dt
            else:
                engine.seal()
            m.step()
            for name, expr in catalog.items():
                full = engine.evaluate(expr, as_of=now[0]).bitmap
                got = m.membership(name)
                assert got is not None and got.members == full, (kind, name, to_text(expr))


def test_a_future_dated_change_is_a_time_driven_entry(tmp_path: Path) -> None:
    now = [START]
    with Engine.open(str(tmp_path), clock=lambda: now[0]) as engine:
        engine.ingest([{"user_id": "u", "event_type": "A", "time": START - H}])
        m = Maintainer(engine, {"paid": parse('user.plan == "paid"')}.get)
        m.track("paid", parse('user.plan == "paid"'))
        engine.upsert_user_properties([{"user_id": "u", "plan": "paid", "time": START + H}])
        m.step()
        assert len(m.membership("paid").members) == 0
        assert m.next_deadline() == START + H + 1
        now[0] = START + H + 1
        m.step()
        assert len(m.membership("paid").members) == 1


# ------------------------------------------------------------------- server
@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    with ready_server(Path(tmp_path_factory.mktemp("history"))) as srv, Client(srv.address) as c:
        t = now_ms()
        rows = [
            {"user_id": f"u{i}", "event_type": "Session Start", "time": t - 60 * DAY_MS} for i in range(3)
        ]
        assert c.ingest(rows).accepted == 3
        c.upsert_user_properties(
            [
                {"user_id": "u0", "plan": "trial", "time": t - 20 * DAY_MS},
                {"user_id": "u0", "plan": "free", "time": t - 5 * DAY_MS},
                {"user_id": "u1", "plan": "trial", "time": t - 50 * DAY_MS},
                {"user_id": "u1", "plan": "paid", "time": t - 40 * DAY_MS},
                {"user_id": "u2", "plan": "free"},
            ]
        )
        yield c


def test_over_the_server(client: Client) -> None:
    client.create_cohort("Was Trial L30", 'had user.plan == "trial" in last 30d')
    assert client.members("Was Trial L30") == ["u0"]
    assert client.evaluate(definition='user.plan == "free"').size == 2
    t = now_ms()
    assert client.members(definition='user.plan == "paid"', as_of=t - 30 * DAY_MS) == ["u1"]
    assert client.members(definition='user.plan == "trial"', as_of=t - 10 * DAY_MS) == ["u0"]
    tree = A.HadUserProp(A.PropCmp("plan", "==", "paid"))
    assert client.evaluate(definition=tree).size == 1


def test_oracle_reads_the_rule_literally() -> None:
    """The oracle's own reading on a hand example (so a wrong oracle cannot hide a wrong engine)."""
    events = [{"user_id": "a", "event_type": "x", "time": 0}]
    changes = [("a", 10, {"plan": "x"}, True), ("a", 20, {"plan": "y"}, False)]
    o = Oracle(events, {"a": {"plan": "y"}}, history=changes)
    assert o.members(A.UserProp(A.PropCmp("plan", "==", "x")), 15) == ["a"]
    assert o.members(A.UserProp(A.PropCmp("plan", "==", "x")), 21) == []
    assert o.members(A.UserProp(A.PropExists("plan")), 10) == []
    had = A.HadUserProp(A.PropCmp("plan", "==", "x"), A.Last(A.Duration(5, "ms")))
    assert o.members(had, 24) == ["a"] and o.members(had, 25) == []  # x held during [10, 20)


def test_cli_ingest_users_with_time_and_lint_knows_past_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from cohortd.cli.main import main as cli_main

    (tmp_path / "ev.csv").write_text("user_id,event_type,time\nu1,A,2026-10-01T00:00:00Z\n")
    (tmp_path / "users.csv").write_text(
        "user_id,plan,time\nu1,trial,2026-11-01T00:00:00Z\nu1,paid,2026-11-20T00:00:00Z\n"
    )
    data = str(tmp_path / "d")
    assert cli_main(["ingest", "--data", data, "--quiet", str(tmp_path / "ev.csv")]) == 0
    assert cli_main(["ingest-users", "--data", data, "--quiet", str(tmp_path / "users.csv")]) == 0
    capsys.readouterr()
    for as_of, want in (("2026-11-10T00:00Z", "size 1"), ("2026-11-25T00:00Z", "size 0")):
        assert cli_main(["query", "--data", data, "--as-of", as_of, 'user.plan == "trial"']) == 0
        out = capsys.readouterr()
        assert want in out.out and "never had the value" not in out.err + out.out  # a past value
