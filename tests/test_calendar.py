"""Calendar windows and the project time zone.

``in this month``, ``in last calendar week`` / ``in last 3 calendar days``,
``in last 2 months``, and ``active_days`` counted in the project's IANA zone
(docs/cohort-language.md, "Calendar windows").  Proven against the oracle
(tests/support/oracle.py, which computes local dates with ``zoneinfo`` per
event and finds local midnights by search), in several zones across a DST
change, under maintenance as the clock crosses calendar boundaries, through
restart, the CLI and the server.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cohortd import Client, Engine, wire
from cohortd.cli.main import main as cli_main
from cohortd.engine.evaluate import window_bounds
from cohortd.engine.maintain import Maintainer
from cohortd.errors import InvalidArgumentError, ParseError
from cohortd.lang import active_days, as_expr, did, parse, to_text
from cohortd.lang import ast as A
from cohortd.v1 import expr_pb2 as epb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.engine_check import (
    STRING_VALUES,
    T0,
    VOCABULARIES,
    adapt,
    check_before_and_after_seal,
    scenarios,
)
from support.oracle import calendar_bounds
from support.server import ready_server

FEW = settings(deadline=None, max_examples=30, suppress_health_check=[HealthCheck.too_slow])
H = 3_600_000
D = 24 * H
ZONES = ["UTC", "America/New_York", "Asia/Kolkata", "Pacific/Chatham", "Europe/London"]


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


# ------------------------------------------------------------ text and tree
@pytest.mark.parametrize(
    ("text", "window"),
    [
        ('did("A") in this month', A.ThisPeriod("month")),
        ('did("A") in this day', A.ThisPeriod("day")),
        ('did("A") in last calendar week', A.LastCalendar(1, "week")),
        ('did("A") in last 3 calendar days', A.LastCalendar(3, "day")),
        ('did("A") in last 2 months', A.LastSpan(2, "month")),
        ('did("A") in last 1 month', A.LastSpan(1, "month")),
        ('did("A") in last 1 year', A.LastSpan(1, "year")),
    ],
)
def test_parse_and_print_exactly(text: str, window: A.Window) -> None:
    tree = parse(text)
    assert tree == A.Did(A.EventRef("A"), None, window)
    assert to_text(tree) == text
    assert parse(text.upper().replace('"A"', '"A"')) == tree  # keywords and units are case-insensitive


def test_other_spellings_print_canonically() -> None:
    assert to_text(parse('did("A") in last 1 calendar weeks')) == 'did("A") in last calendar week'
    assert to_text(parse('did("A") in last 2 month')) == 'did("A") in last 2 months'


@pytest.mark.parametrize(
    ("text", "column", "message"),
    [
        ('did("A") in this fortnight', 18, "calendar unit"),
        ('did("A") in last 0 months', 18, "count 0 is outside"),
        ('did("A") in last 2 weeks', 20, "calendar unit"),
        ('did("A") in last calendar', 26, "calendar unit"),
    ],
)
def test_rejections_name_the_place(text: str, column: int, message: str) -> None:
    with pytest.raises(ParseError) as info:
        parse(text)
    assert (info.value.line, info.value.column) == (1, column)
    assert message in str(info.value)


def test_builder_and_wire() -> None:
    built = did("A").in_this("month") & active_days(None).at_least(2).in_last_calendar("week", 2)
    assert str(built) == 'did("A") in this month and active_days(any) >= 2 in last 2 calendar weeks'
    assert str(did("A").in_last_months(2)) == 'did("A") in last 2 months'
    assert str(did("A").in_last_years(1)) == 'did("A") in last 1 year'
    with pytest.raises(ValueError):
        _ = did("A").in_this("fortnight").expr
    tree = built.expr
    msg = epb.CohortExpr.FromString(wire.expr_to_proto(tree).SerializeToString())
    assert wire.expr_from_proto(msg) == tree
    bad = epb.CohortExpr()
    bad.did.event.event_type = "A"
    bad.did.window.last_span.count = 0
    bad.did.window.last_span.unit = epb.CALENDAR_UNIT_MONTH
    with pytest.raises(Exception, match="outside"):
        as_expr(wire.expr_from_proto(bad))
    bad.did.window.last_span.count = 2
    bad.did.window.last_span.unit = epb.CALENDAR_UNIT_WEEK
    with pytest.raises(Exception, match="calendar unit"):
        as_expr(wire.expr_from_proto(bad))


# ----------------------------------------------------------- window bounds
@pytest.mark.parametrize(
    ("window", "zone", "as_of", "start", "end"),
    [
        (
            A.ThisPeriod("month"),
            "UTC",
            "2026-03-31T15:00+00:00",
            "2026-03-01T00:00+00:00",
            "2026-03-31T15:00+00:00",
        ),
        (
            A.ThisPeriod("week"),
            "UTC",
            "2026-03-11T15:00+00:00",
            "2026-03-09T00:00+00:00",
            "2026-03-11T15:00+00:00",
        ),
        (
            A.LastCalendar(1, "week"),
            "UTC",
            "2026-03-11T15:00+00:00",
            "2026-03-02T00:00+00:00",
            "2026-03-09T00:00+00:00",
        ),
        (
            A.ThisPeriod("day"),
            "America/New_York",
            "2026-03-10T03:00+00:00",
            "2026-03-09T04:00+00:00",
            "2026-03-10T03:00+00:00",
        ),
        # the calendar day of 2026-03-08 in New York has 23 hours (DST starts)
        (
            A.LastCalendar(1, "day"),
            "America/New_York",
            "2026-03-09T12:00+00:00",
            "2026-03-08T05:00+00:00",
            "2026-03-09T04:00+00:00",
        ),
        (
            A.LastSpan(1, "month"),
            "UTC",
            "2026-03-31T15:00+00:00",
            "2026-02-28T15:00+00:00",
            "2026-03-31T15:00+00:00",
        ),
        (
            A.LastSpan(2, "month"),
            "America/New_York",
            "2026-03-31T15:00+00:00",
            "2026-01-31T16:00+00:00",
            "2026-03-31T15:00+00:00",
        ),
        (
            A.LastSpan(1, "year"),
            "UTC",
            "2028-02-29T10:00+00:00",
            "2027-02-28T10:00+00:00",
            "2028-02-29T10:00+00:00",
        ),
        (
            A.ThisPeriod("year"),
            "Asia/Kolkata",
            "2026-01-01T00:00+00:00",
            "2025-12-31T18:30+00:00",
            "2026-01-01T00:00+00:00",
        ),
    ],
)
def test_bounds_worked_examples(window: A.Window, zone: str, as_of: str, start: str, end: str) -> None:
    want = (ms(start), ms(end))
    assert window_bounds(window, ms(as_of), zone) == want
    assert calendar_bounds(window, ms(as_of), zone) == want  # the oracle's own reading agrees


_calendar_windows = st.one_of(
    st.builds(A.ThisPeriod, st.sampled_from(A.CALENDAR_UNITS)),
    st.builds(A.LastCalendar, st.integers(1, 3), st.sampled_from(A.CALENDAR_UNITS)),
    st.builds(A.LastSpan, st.integers(1, 14), st.sampled_from(A.SPAN_UNITS)),
)


@settings(deadline=None, max_examples=300)
@given(
    window=_calendar_windows,
    zone=st.sampled_from(ZONES),
    as_of=st.integers(ms("2024-01-01T00:00+00:00"), ms("2028-12-31T00:00+00:00")),
)
def test_bounds_equal_the_oracle(window: A.Window, zone: str, as_of: int) -> None:
    assert window_bounds(window, as_of, zone) == calendar_bounds(window, as_of, zone)


def test_unknown_zone_is_a_clear_error(tmp_path: Path) -> None:
    with Engine.open(str(tmp_path)) as eng:
        with pytest.raises(InvalidArgumentError, match="unknown time zone 'Mars/Olympus'"):
            eng.set_time_zone("Mars/Olympus")
        assert eng.time_zone == "UTC"


# ------------------------------------------------------------------- oracle
def _calendar_leaves(pool: tuple[int, ...]) -> st.SearchStrategy[A.Expr]:
    from support.strategies import _predicates, event_refs

    event_types, props, _ = VOCABULARIES["lean"]
    ev = event_refs(event_types, props, STRING_VALUES)
    counts = st.builds(A.Compare, st.sampled_from(A.CMP_OPS), st.integers(0, 4))
    windows = st.one_of(
        _calendar_windows, st.builds(A.Last, st.builds(A.Duration, st.integers(1, 4), st.just("d")))
    )
    return st.one_of(
        st.builds(A.Did, ev, st.one_of(st.none(), counts), _calendar_windows),
        st.builds(A.ActiveDays, ev, counts, windows),
        st.builds(A.Top, st.sampled_from([20.0, 50.0]), st.builds(A.MetricActiveDays, ev), windows),
        st.builds(A.FirstDid, ev, _calendar_windows),
        st.builds(
            A.DidOnPeriods,
            ev,
            st.one_of(st.none(), st.builds(A.Compare, st.just(">="), st.integers(1, 3))),
            st.integers(1, 3),
            st.none(),
            windows,
        ),
        st.builds(A.HadUserProp, _predicates({"plan": "string"}, STRING_VALUES), _calendar_windows),
    )


@FEW
@given(
    scenario=scenarios(),
    data=st.data(),
    zone=st.sampled_from(ZONES),
    shift=st.sampled_from([0, -1, 5 * H, -13 * H, -3 * D]),
)
def test_alone_and_combined_match_the_oracle(
    scenario: dict[str, Any], data: Any, zone: str, shift: int
) -> None:
    pool = scenario["pool"]
    leaves = [
        adapt(c, data.draw, pool) for c in data.draw(st.lists(_calendar_leaves(pool), min_size=1, max_size=3))
    ]
    exprs_ = [*leaves, A.Not(leaves[0]), A.And(leaves[0], A.Not(leaves[-1]))]
    check_before_and_after_seal(scenario, exprs_, [T0, T0 + shift], [T0 + shift], zone)


# -------------------------------------------------------------- maintenance
USERS = [f"u{i}" for i in range(5)]
START = ms("2026-03-06T20:00+00:00")  # a Friday evening, two days before New York's DST change

_leaf = st.one_of(
    st.builds(A.Did, st.builds(A.EventRef, st.sampled_from(["A", None])), st.none(), _calendar_windows),
    st.builds(
        A.ActiveDays,
        st.builds(A.EventRef, st.just(None)),
        st.builds(A.Compare, st.sampled_from([">=", "<"]), st.integers(1, 3)),
        st.one_of(_calendar_windows, st.just(A.Last(A.Duration(3, "d")))),
    ),
)
_cohorts = st.one_of(_leaf, st.builds(A.Not, _leaf), st.builds(A.And, _leaf, _leaf))
_steps = st.one_of(
    st.tuples(st.just("event"), st.sampled_from(USERS), st.integers(-3 * D, 0)),
    st.tuples(st.just("advance"), st.just(""), st.sampled_from([1, H, 7 * H, D - 1, D, 3 * D + 5, 20 * D])),
    st.tuples(st.just("zone"), st.sampled_from(ZONES), st.just(0)),
)


@FEW
@given(
    cohorts=st.lists(_cohorts, min_size=1, max_size=3),
    zone=st.sampled_from(ZONES),
    plan=st.lists(_steps, max_size=12),
)
def test_materialised_equals_full_re_evaluation(cohorts: list[A.Expr], zone: str, plan: list[Any]) -> None:
    """Calendar boundaries crossed by the clock (days, weeks, months), in a zone that can change."""
    now = [START]
    catalog = {f"c{i}": c for i, c in enumerate(cohorts)}
    with tempfile.TemporaryDirectory() as d, Engine.open(d, clock=lambda: now[0]) as engine:
        engine.set_time_zone(zone)
        engine.ingest(
            [{"user_id": u, "event_type": "A", "time": START - i * 20 * H} for i, u in enumerate(USERS)]
        )
        m = Maintainer(engine, catalog.get, percentile_interval_ms=0)
        for name, expr in catalog.items():
            m.track(name, expr)
        for kind, arg, dt in plan:
            if kind == "event":
                engine.ingest([{"user_id": arg, "event_type": "A", "time": now[0] + dt}])
            elif kind == "advance":
                deadline = m.next_deadline()
                assert deadline is None or deadline > m.as_of
                now[0] += dt
            else:
                engine.set_time_zone(arg)
                for name, expr in catalog.items():  # what Project.set_time_zone does
                    m.track(name, expr)
            m.step()
            for name, expr in catalog.items():
                full = engine.evaluate(expr, as_of=now[0]).bitmap
                got = m.membership(name)
                assert got is not None and got.members == full, (kind, name, to_text(expr), engine.time_zone)


def test_month_boundary_is_a_time_driven_exit(tmp_path: Path) -> None:
    now = [ms("2026-03-31T23:00+00:00")]
    with Engine.open(str(tmp_path), clock=lambda: now[0]) as engine:
        engine.ingest([{"user_id": "u", "event_type": "A", "time": now[0] - H}])
        m = Maintainer(engine, {"m": parse('did("A") in this month')}.get)
        m.track("m", parse('did("A") in this month'))
        assert len(m.membership("m").members) == 1
        assert m.next_deadline() == ms("2026-04-01T00:00+00:00")
        now[0] = ms("2026-04-01T00:00+00:00")
        m.step()
        assert len(m.membership("m").members) == 0


def test_zone_is_durable(tmp_path: Path) -> None:
    t = ms("2026-03-10T03:00+00:00")  # 23:00 on the 9th in New York
    with Engine.open(str(tmp_path), clock=lambda: t) as eng:
        eng.ingest([{"user_id": "u", "event_type": "A", "time": ms("2026-03-09T23:00+00:00")}])
        assert eng.evaluate('did("A") in this day').members() == []  # UTC: the 10th started
        eng.set_time_zone("America/New_York")
        assert eng.evaluate('did("A") in this day').members() == ["u"]
    with Engine.open(str(tmp_path), clock=lambda: t) as eng:
        assert eng.time_zone == "America/New_York"
        assert eng.evaluate('did("A") in this day').members() == ["u"]


# ------------------------------------------------------------ cli and server
def test_cli_init_and_time_zone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = str(tmp_path / "data")
    assert cli_main(["init", data, "--time-zone", "Europe/Berlin"]) == 0
    capsys.readouterr()
    assert cli_main(["time-zone", "--data", data, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"time_zone": "Europe/Berlin"}
    assert cli_main(["time-zone", "--data", data, "Asia/Tokyo"]) == 0
    assert "Asia/Tokyo" in capsys.readouterr().out
    assert cli_main(["time-zone", "--data", data, "Nowhere/Else"]) == 1
    assert "unknown time zone" in capsys.readouterr().err


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    with ready_server(Path(tmp_path_factory.mktemp("calendar"))) as srv, Client(srv.address) as c:
        yield c


def test_over_the_server(client: Client) -> None:
    from cohortd.client import RemoteError

    assert client.time_zone() == "UTC"
    now = int(datetime.now(UTC).timestamp() * 1000)
    client.ingest([{"user_id": "u", "event_type": "A", "time": now - 1000}])
    client.create_cohort("This Month", 'did("A") in this month')
    assert client.members("This Month") == ["u"]
    assert client.set_time_zone("America/New_York") == "America/New_York"
    assert client.time_zone() == "America/New_York"
    tree = A.Did(A.EventRef("A"), None, A.LastSpan(1, "month"))
    assert client.evaluate(definition=tree).size == 1
    with pytest.raises(RemoteError, match="unknown time zone") as info:
        client.set_time_zone("Mars/Olympus")
    assert info.value.code.name == "INVALID_ARGUMENT"


@settings(deadline=None, max_examples=60)
@given(
    zone=st.sampled_from([*ZONES, "Australia/Lord_Howe"]),
    around=st.sampled_from(["2025-11-02T06:00+00:00", "2026-03-08T07:00+00:00", "2026-10-25T01:00+00:00"]),
    offsets=st.lists(st.integers(-30 * H, 30 * H), min_size=1, max_size=50),
)
def test_local_days_equal_zoneinfo_per_instant(zone: str, around: str, offsets: list[int]) -> None:
    """Across DST changes: the vectorised day numbers are each instant's local date in the zone."""
    import numpy as np
    from cohortd.times import local_day_numbers
    from support.oracle import local_date

    t = np.array([ms(around) + o for o in offsets], np.int64)
    epoch = datetime(1970, 1, 1).date().toordinal()
    want = [local_date(int(x), zone).toordinal() - epoch for x in t]
    assert local_day_numbers(t, zone).tolist() == want
