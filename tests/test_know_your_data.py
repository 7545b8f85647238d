"""Know your data (issue 11): schema, breakdowns and population against plain Python and DuckDB.

Random data is cramped on purpose: a few users, three event types, times on an
hour grid (ties everywhere), properties often missing, some users with user
properties only, batches ingested with or without a seal in between (so the
per-segment schema figures are merged across sealed, tail and merged
segments).  Every figure is computed three ways: cohortd, a plain-Python loop
over the raw rows, and DuckDB SQL over the same rows.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from cohortd.analysis.breakdown import NONE, OTHER
from cohortd.errors import DefinitionError
from cohortd.lang import parse
from cohortd.service import Workspace
from cohortd.times import iso_ms
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.oracle import Oracle
from support.strategies import exprs

H = 3_600_000
DAY = 86_400_000
T0 = int(dt.datetime(2026, 3, 10, 0, 0, tzinfo=dt.UTC).timestamp() * 1000)
NOW = T0 + 2 * DAY
TYPES = ["signup", "view", "buy"]
PLANS = ["free", "pro", "team"]
COUNTRIES = ["US", "DE", "FR"]

SETTINGS = settings(
    deadline=None, max_examples=20, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


# --------------------------------------------------------------------- data
def events() -> st.SearchStrategy[list[dict[str, Any]]]:
    row = st.fixed_dictionaries(
        {
            "user_id": st.sampled_from([f"u{i}" for i in range(6)]),
            "event_type": st.sampled_from(TYPES),
            "time": st.builds(lambda h: T0 + h * H, st.integers(-40 * 24, 30)),
        },
        optional={"plan": st.sampled_from(PLANS), "n": st.integers(0, 3)},
    )
    return st.lists(row, min_size=0, max_size=40)


def user_rows() -> st.SearchStrategy[list[dict[str, Any]]]:
    row = st.fixed_dictionaries(
        {"user_id": st.sampled_from([f"u{i}" for i in range(8)])},  # u6, u7 have no events
        optional={"country": st.sampled_from(COUNTRIES), "age": st.integers(20, 23)},
    )
    return st.lists(row, max_size=8)


def open_project(rows: list[dict[str, Any]], users: list[dict[str, Any]], cuts: list[int], seal: bool) -> Any:
    ws = Workspace(Path(tempfile.mkdtemp()) / "data", clock=lambda: NOW)
    p = ws.project()
    bounds = sorted({0, len(rows), *(c % (len(rows) + 1) for c in cuts)})
    for a, b in zip(bounds, bounds[1:], strict=False):
        assert p.ingest(rows[a:b]).rejected == []
        if seal:
            p.engine.seal()
    if users:
        assert p.upsert_user_properties(users).rejected == []
    return ws, p


def current_user_props(users: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Latest upsert wins (all upserts of one batch share a time; later rows win ties)."""
    out: dict[str, dict[str, Any]] = {}
    for r in users:
        for k, v in r.items():
            if k != "user_id":
                out.setdefault(r["user_id"], {})[k] = v
    return out


def all_users(rows: list[dict[str, Any]], users: list[dict[str, Any]]) -> set[str]:
    return {r["user_id"] for r in rows} | {r["user_id"] for r in users}


def duck(rows: list[dict[str, Any]]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    table = pa.table(
        {
            "user_id": pa.array([r["user_id"] for r in rows], pa.string()),
            "event_type": pa.array([r["event_type"] for r in rows], pa.string()),
            "time": pa.array([r["time"] for r in rows], pa.int64()),
            "plan": pa.array([r.get("plan") for r in rows], pa.string()),
            "n": pa.array([r.get("n") for r in rows], pa.int64()),
        }
    )
    con.register("events", table)
    return con


# ------------------------------------------------------------------- schema
def reference_schema(rows: list[dict[str, Any]], users: list[dict[str, Any]]) -> dict[str, Any]:
    out = []
    for et in sorted({r["event_type"] for r in rows}):
        mine = [r for r in rows if r["event_type"] == et]
        props = []
        for prop, kind in (("n", "int"), ("plan", "string")):
            vals = [r[prop] for r in mine if prop in r]
            if vals:
                top = sorted(Counter(vals).items(), key=lambda vc: (-vc[1], vc[0]))
                props.append({"name": prop, "type": kind, "present": len(vals) / len(mine),
                              "top_values": [{"value": v, "count": c} for v, c in top]})  # fmt: skip
        out.append(
            {
                "name": et,
                "events": len(mine),
                "users": len({r["user_id"] for r in mine}),
                "first_seen": iso_ms(min(r["time"] for r in mine)),
                "last_seen": iso_ms(max(r["time"] for r in mine)),
                "last_7d": sum(NOW - 7 * DAY <= r["time"] < NOW for r in mine),
                "last_30d": sum(NOW - 30 * DAY <= r["time"] < NOW for r in mine),
                "properties": props,
            }
        )
    out.sort(key=lambda e: (-e["events"], e["name"]))
    current = current_user_props(users)
    n_users = len(all_users(rows, users))
    user_properties = []
    for prop, kind in (("age", "int"), ("country", "string")):
        vals = [p[prop] for p in current.values() if prop in p]
        if vals:
            top = sorted(Counter(vals).items(), key=lambda vc: (-vc[1], vc[0]))
            user_properties.append({"name": prop, "type": kind, "present": len(vals) / n_users,
                                    "top_values": [{"value": v, "count": c} for v, c in top]})  # fmt: skip
    return {"event_types": out, "user_properties": user_properties}


def duckdb_schema_types(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    if not rows:
        return []
    return (
        duck(rows)
        .execute(
            f"""SELECT event_type, count(*), count(DISTINCT user_id), min(time), max(time),
                   count(*) FILTER (WHERE time >= {NOW - 7 * DAY} AND time < {NOW}),
                   count(*) FILTER (WHERE time >= {NOW - 30 * DAY} AND time < {NOW}),
                   count(plan), count(n)
            FROM events GROUP BY event_type ORDER BY count(*) DESC, event_type"""
        )
        .fetchall()
    )


@SETTINGS
@given(events(), user_rows(), st.lists(st.integers(0, 40), max_size=3), st.booleans(), events())
def test_schema_matches_python_and_duckdb(
    rows: list[dict[str, Any]],
    users: list[dict[str, Any]],
    cuts: list[int],
    seal: bool,
    more: list[dict[str, Any]],
) -> None:
    ws, p = open_project(rows, users, cuts, seal)
    try:
        doc = p.schema(top_values=100)
        assert doc == reference_schema(rows, users)
        got = [
            (e["name"], e["events"], e["users"], e["first_seen"], e["last_seen"], e["last_7d"], e["last_30d"],
             sum(round(x["present"] * e["events"]) for x in e["properties"] if x["name"] == "plan"),
             sum(round(x["present"] * e["events"]) for x in e["properties"] if x["name"] == "n"))
            for e in doc["event_types"]
        ]  # fmt: skip
        want = [(et, n, u, iso_ms(lo), iso_ms(hi), w7, w30, cp, cn)
                for et, n, u, lo, hi, w7, w30, cp, cn in duckdb_schema_types(rows)]  # fmt: skip
        assert got == want
        # incremental: more data, then a compaction (merged segments), still exact
        if more:
            assert p.ingest(more).rejected == []
            assert p.schema(top_values=100) == reference_schema(rows + more, users)
            p.engine.compact()
            assert p.schema(top_values=100) == reference_schema(rows + more, users)
    finally:
        ws.close()


def test_schema_top_values_cut_and_ties(tmp_path: Path) -> None:
    with Workspace(tmp_path, clock=lambda: NOW) as ws:
        p = ws.project()
        rows = [{"user_id": f"u{i}", "event_type": "view", "time": T0, "plan": v}
                for i, v in enumerate(["b", "a", "c", "a", "b", "d"])]  # fmt: skip
        p.ingest(rows)
        (view,) = p.schema(top_values=2)["event_types"]
        assert view["properties"][0]["top_values"] == [{"value": "a", "count": 2}, {"value": "b", "count": 2}]
        assert p.schema()["user_properties"] == []


# --------------------------------------------------------------------- lint
def test_lint_names_values_and_stale_types(tmp_path: Path) -> None:
    with Workspace(tmp_path, clock=lambda: NOW) as ws:
        p = ws.project()
        p.ingest(
            [
                {"user_id": "a", "event_type": "Purchase", "time": T0, "revenue": 5.0, "plan": "free"},
                {"user_id": "b", "event_type": "Session Start", "time": T0, "area": "dashboard"},
                {"user_id": "c", "event_type": "Old Signup", "time": T0 - 40 * DAY},
            ]
        )
        p.upsert_user_properties([{"user_id": "a", "plan": "free"}, {"user_id": "b", "plan": "pro"}])

        def by_code(text: str) -> dict[str, str]:
            return {w.code: w.message for w in p.lint(text)}

        w = by_code('did("purchase") in last 7d')
        assert "did you mean 'Purchase'" in w["unknown-event-type"]
        w = by_code('sum(revnue, "Purchase") > 3 in last 7d')
        assert (
            "'revnue'" in w["unknown-event-property"]
            and "did you mean 'revenue'" in w["unknown-event-property"]
        )
        w = by_code('did("Session Start" where revenue > 1) in last 7d')
        assert "never been seen on 'Session Start'" in w["property-not-on-event-type"]
        w = by_code('user.paln == "free"')
        assert "did you mean 'plan'" in w["unknown-user-property"]
        w = by_code('user.plan == "fre"')
        assert "'fre'" in w["unknown-value"] and "did you mean 'free'" in w["unknown-value"]
        w = by_code('did("Session Start" where area in ("dashbord", "dashboard")) in last 7d')
        assert "'dashbord'" in w["unknown-value"] and "did you mean 'dashboard'" in w["unknown-value"]
        # a value seen for another property, or on another event type, is still unseen here
        assert "unknown-value" in by_code('did("Session Start" where area == "free") in last 7d')
        assert "unknown-value" in by_code('did("Purchase" where plan == "pro") in last 7d')
        w = by_code('did("Old Signup") in last 90d')
        assert "'Old Signup'" in w["stale-event-type"] and "30 days" in w["stale-event-type"]
        # what the data has: no data warnings (any event: a property on some type is enough)
        clean = (
            'did("Purchase" where plan == "free") in last 7d and user.plan in ("free", "pro") '
            'and did(any where area == "dashboard") in last 7d and avg(revenue, "Purchase") > 1 in last 7d '
            'and did("Session Start" where area contains "dash") in last 7d'
        )
        assert p.lint(clean) == []
        # evaluate and explain answers carry the same warnings; saving a cohort reports them too
        assert [x.code for x in p.warnings(definition='user.plan == "fre"')] == ["unknown-value"]
        _, saved = p.create_cohort("Free plan", 'user.plan == "fre"')
        assert "unknown-value" in {x.code for x in saved}
        assert [x.code for x in p.warnings(name="Free plan")] == ["unknown-value"]


# ---------------------------------------------------------------- breakdown
def pick_reference(rows: list[dict[str, Any]], prop: str, pick: str, start: int, end: int) -> dict[str, Any]:
    """Per user the picked value of their ``view`` events carrying ``prop`` in [start, end)."""
    per: dict[str, list[tuple[int, Any]]] = {}
    for r in rows:
        if r["event_type"] == "view" and prop in r and start <= r["time"] < end:
            per.setdefault(r["user_id"], []).append((r["time"], r[prop]))
    out = {}
    for u, evs in per.items():
        if pick == "last":
            latest = max(t for t, _ in evs)
            out[u] = min(v for t, v in evs if t == latest)
        else:
            counts = Counter(v for _, v in evs)
            best = max(counts.values())
            out[u] = min(v for v, c in counts.items() if c == best)
    return out


def reference_rows(
    values: dict[str, Any], members: set[str], base: set[str], top: int
) -> list[dict[str, Any]]:
    if not members:
        return []
    m = Counter(values[u] for u in members if u in values)
    b = Counter(values[u] for u in base if u in values)
    order = sorted(m, key=lambda v: (-m[v], v))

    def row(value: Any, n: int, nb: int) -> dict[str, Any]:
        share, base_share = n / len(members), nb / len(base)
        return {"value": value, "members": n, "share": share, "base_share": base_share,
                "index": share / base_share if base_share else None}  # fmt: skip

    rows = [row(v, m[v], b[v]) for v in order[:top]]
    if order[top:]:
        rows.append(
            row(OTHER, sum(m[v] for v in order[top:]), sum(b.values()) - sum(b[v] for v in order[:top]))
        )
    none = [u for u in members if u not in values]
    if none:
        rows.append(row(NONE, len(none), len([u for u in base if u not in values])))
    return rows


def duckdb_pick(rows: list[dict[str, Any]], prop: str, pick: str, start: int, end: int) -> dict[str, Any]:
    if not rows:
        return {}
    order = "time DESC, v ASC" if pick == "last" else "cnt DESC, v ASC"
    sql = f"""
        WITH e AS (SELECT user_id, time, {prop} AS v FROM events
                   WHERE event_type = 'view' AND {prop} IS NOT NULL AND time >= {start} AND time < {end}),
             c AS (SELECT user_id, time, v, count(*) OVER (PARTITION BY user_id, v) AS cnt FROM e)
        SELECT user_id, v FROM (
            SELECT user_id, v, row_number() OVER (PARTITION BY user_id ORDER BY {order}) AS rn FROM c
        ) WHERE rn = 1"""
    return dict(duck(rows).execute(sql).fetchall())


COHORT_TEXTS = ['did("view") in last 20d', 'did("buy") >= 2', 'not did("signup") in last 3d', 'did("ghost")']


@SETTINGS
@given(
    events(),
    user_rows(),
    st.sampled_from(COHORT_TEXTS),
    st.sampled_from(["plan", "n"]),
    st.sampled_from(["last", "most"]),
    st.sampled_from([None, "3d", "20d"]),
    st.integers(0, 3),
    st.booleans(),
)
def test_breakdown_matches_python_and_duckdb(
    rows: list[dict[str, Any]],
    users: list[dict[str, Any]],
    text: str,
    prop: str,
    pick: str,
    window: str | None,
    top: int,
    seal: bool,
) -> None:
    ws, p = open_project(rows, users, [len(rows) // 2], seal)
    try:
        members = set(p.members(definition=text, as_of=NOW))
        base = {r["user_id"] for r in rows if r["time"] < NOW}
        start = -(2**63) if window is None else NOW - int(window[:-1]) * DAY
        picked = pick_reference(rows, prop, pick, start, NOW)
        assert picked == duckdb_pick(rows, prop, pick, max(start, -(2**62)), NOW)
        by = f'event("view").{prop}'
        if any(r["event_type"] == "view" for r in rows) and any(prop in r for r in rows):
            got = p.breakdown(definition=text, by=by, window=window, pick=pick, top=top, as_of=NOW).to_dict()
            assert got["size"] == len(members) and got["as_of"] == iso_ms(NOW)
            assert got["rows"] == reference_rows(picked, members, base, top)
        else:  # an event type or property the project never received is an error, not an empty answer
            with pytest.raises(DefinitionError):
                p.breakdown(definition=text, by=by, window=window, pick=pick)
        country = {u: v["country"] for u, v in current_user_props(users).items() if "country" in v}
        if country:
            got = p.breakdown(definition=text, by="user.country", top=top, as_of=NOW).to_dict()
            assert got["rows"] == reference_rows(country, members, base, top)
    finally:
        ws.close()


def test_breakdown_by_cohorts_and_errors(tmp_path: Path) -> None:
    with Workspace(tmp_path, clock=lambda: NOW) as ws:
        p = ws.project()
        p.ingest(
            [{"user_id": f"u{i}", "event_type": "view" if i % 2 else "buy", "time": T0} for i in range(10)]
        )
        p.create_cohort("Viewers 7d", 'did("view") in last 7d')
        p.create_cohort("Buyers 7d", 'did("buy") in last 7d')
        got = p.breakdown(definition="did(any) in last 7d", by_cohorts=["Viewers 7d", "Buyers 7d"]).to_dict()
        assert [(r["value"], r["members"], r["base_share"]) for r in got["rows"]] == [
            ("Viewers 7d", 5, 0.5), ("Buyers 7d", 5, 0.5)
        ]  # fmt: skip
        got = p.breakdown("Viewers 7d", by_cohorts=["Buyers 7d"]).to_dict()
        assert got["cohort"] == "Viewers 7d"
        assert [(r["value"], r["members"]) for r in got["rows"]] == [("Buyers 7d", 0), (NONE, 5)]
        empty = p.breakdown(definition='did("ghost")', by_cohorts=["Buyers 7d"])
        assert empty.size == 0 and empty.rows == []
        from cohortd.errors import NotFoundError

        for by in ("user.plan", 'event("vew").x', 'event("view").nope', "plan"):
            with pytest.raises(DefinitionError):
                p.breakdown(definition="did(any)", by=by)
        with pytest.raises(DefinitionError):
            p.breakdown(definition="did(any)", by='event("view").x', pick="first")
        with pytest.raises(NotFoundError):
            p.breakdown("No such cohort", by="user.plan")


# --------------------------------------------------------------- population
VOCAB = dict(event_types=[*TYPES, "ghost"], props={"plan": "string", "n": "int"}, string_values=PLANS,
             user_props={"country": "string", "age": "int"})  # fmt: skip


def duckdb_population(rows: list[dict[str, Any]], points: list[int], n: int, days: int) -> list[int]:
    """``did("view") >= n in last <days>d`` at each point: one SQL query over a points table."""
    if not rows:
        return [0] * len(points)
    con = duck(rows)
    con.register("points", pa.table({"t": pa.array(points, pa.int64())}))
    sql = f"""
        SELECT p.t, count(*) FILTER (WHERE c.cnt >= {n}) FROM points p LEFT JOIN (
            SELECT p2.t, e.user_id, count(*) AS cnt FROM points p2 JOIN events e
              ON e.event_type = 'view' AND e.time >= p2.t - {days * DAY} AND e.time < p2.t
            GROUP BY p2.t, e.user_id) c ON c.t = p.t
        GROUP BY p.t ORDER BY p.t"""
    return [k for _, k in con.execute(sql).fetchall()]


@SETTINGS
@given(
    events(),
    user_rows(),
    exprs(**VOCAB, max_depth=2),
    st.integers(-45 * 24, 10 * 24),
    st.sampled_from([H, 7 * H, DAY, 3 * DAY]),
    st.integers(1, 12),
    st.booleans(),
)
def test_population_matches_oracle_and_evaluate(
    rows: list[dict[str, Any]],
    users: list[dict[str, Any]],
    expr: Any,
    start_h: int,
    step: int,
    count: int,
    seal: bool,
) -> None:
    ws, p = open_project(rows, users, [len(rows) // 3], seal)
    try:
        start = T0 + start_h * H
        points = [start + i * step for i in range(count)]
        step_text = f"{step // H}h"
        series = p.population(definition=expr, start=start, end=points[-1], step=step_text).to_dict()
        oracle = Oracle(rows, current_user_props(users))
        previous: set[str] | None = None
        for t, point in zip(points, series["points"], strict=True):
            want = oracle.evaluate(expr, t)
            assert point["as_of"] == iso_ms(t)
            assert point["size"] == len(want) == p.evaluate(definition=expr, as_of=t).size
            assert point["entered"] == (len(want - previous) if previous is not None else 0)
            assert point["exited"] == (len(previous - want) if previous is not None else 0)
            previous = want
    finally:
        ws.close()


@SETTINGS
@given(events(), st.integers(1, 3), st.sampled_from([1, 3, 7]), st.booleans())
def test_population_of_a_count_matches_duckdb(
    rows: list[dict[str, Any]], n: int, days: int, seal: bool
) -> None:
    ws, p = open_project(rows, [], [len(rows) // 2], seal)
    try:
        points = [T0 - 10 * DAY + i * DAY for i in range(12)]
        text = f'did("view") >= {n} in last {days}d'
        series = p.population(definition=text, start=points[0], end=points[-1], step="1d").to_dict()
        assert [pt["size"] for pt in series["points"]] == duckdb_population(rows, points, n, days)
    finally:
        ws.close()


def test_population_of_saved_cohort_reads_recorded_days(tmp_path: Path) -> None:
    with Workspace(tmp_path, clock=lambda: NOW) as ws:
        p = ws.project()
        p.ingest([{"user_id": f"u{i}", "event_type": "view", "time": T0 - i * DAY} for i in range(10)])
        p.create_cohort("Viewers 3d", 'did("view") in last 3d')
        first = p.population("Viewers 3d", start="2026-03-01", end="2026-03-10", step="1d").to_dict()
        assert [pt["size"] for pt in first["points"]] == [0, 1, 2, 3, 3, 3, 3, 3, 3, 3]
        for pt in first["points"]:
            assert pt["size"] == p.evaluate(definition='did("view") in last 3d', as_of=pt["as_of"]).size
        # recorded: a late event about the past does not rewrite a recorded day (a daily snapshot) ...
        p.ingest([{"user_id": "late", "event_type": "view", "time": T0 - 8 * DAY - H}])
        again = p.population("Viewers 3d", start="2026-03-02", end="2026-03-10", step="1d").to_dict()
        assert again["points"][1:] == first["points"][2:]
        assert again["points"][0]["size"] == first["points"][1]["size"] and again["points"][0]["entered"] == 0
        # ... while an inline definition (or a new version) is evaluated afresh
        fresh = p.population(
            definition='did("view") in last 3d', start="2026-03-02", end="2026-03-02"
        ).to_dict()
        assert fresh["points"][0]["size"] == first["points"][1]["size"] + 1
        p.update_cohort("Viewers 3d", 'did("view") in last 3d or did("buy")')
        new = p.population("Viewers 3d", start="2026-03-02", end="2026-03-02", step="1d").to_dict()
        assert new["points"][0]["size"] == fresh["points"][0]["size"]


def test_population_errors(tmp_path: Path) -> None:
    from cohortd.errors import ParseError

    with Workspace(tmp_path, clock=lambda: NOW) as ws:
        p = ws.project()
        with pytest.raises(DefinitionError):
            p.population(definition="did(any)", start="2026-03-02", end="2026-03-01")
        with pytest.raises(DefinitionError):
            p.population(definition="did(any)", start="2000-01-01", end="2026-03-01", step="1h")
        with pytest.raises(ParseError):
            p.population(definition="did(any)", start="2026-03-01", end="2026-03-02", step="daily")


# -------------------------------------------------------------------- audit
def test_audit_reports_every_finding(tmp_path: Path) -> None:
    clock = [NOW]
    with Workspace(tmp_path, clock=lambda: clock[0]) as ws:
        p = ws.project()
        rows = [
            {"user_id": f"u{i}", "event_type": "view", "time": NOW - 40 * DAY + i * DAY} for i in range(40)
        ]
        rows += [{"user_id": f"o{i}", "event_type": "Old Signup", "time": NOW - 50 * DAY} for i in range(3)]
        p.ingest(rows)
        p.create_cohort("Old signups 90d", 'did("Old Signup") in last 90d')
        p.create_cohort("Viewers 10d", 'did("view") in last 10d')  # 10 now, 10 thirty days ago
        p.create_cohort("Viewers 15d", 'did("view") in last 15d')
        p.create_cohort("Viewers 12d", 'did("view") in last 12d')  # Jaccard 12/15 = 0.8 with 15d
        p.create_cohort("Recent 10d", 'in_cohort("Viewers 10d")')
        p.archive_cohort("Viewers 10d")
        clock[0] = NOW + 61 * DAY
        p.lint('did("view") in last 15d')  # lint evaluates the others: not a read
        p.members("Viewers 15d")  # a read
        doc = p.audit()
        found = {(f["cohort"], f["code"]) for f in doc["findings"]}
        assert doc["stale_event_types"][0]["name"] == "Old Signup"
        assert doc["stale_event_types"][0]["days_silent"] == 49
        assert ("Old signups 90d", "stale-event") in found
        assert ("Old signups 90d", "shrank") in found  # 3 -> 0 at the moved clock
        assert ("Viewers 12d", "never-read") in found and ("Viewers 15d", "never-read") not in found
        assert ("Viewers 10d", "archived-referenced") in found
        clock[0] = NOW
        doc = p.audit()
        pairs = {(x["a"], x["b"]) for x in doc["similar_pairs"]}
        assert ("Viewers 12d", "Viewers 15d") in pairs
        assert all(x["jaccard"] >= 0.8 for x in doc["similar_pairs"])
        assert not any(c == "shrank" for _, c in {(f["cohort"], f["code"]) for f in doc["findings"]})


def test_parse_of_breakdown_by() -> None:
    from cohortd.analysis.breakdown import parse_by

    assert parse_by("user.country") == ("user", None, "country")
    assert parse_by('event("paywall_modal_viewed").limit_type') == (
        "event",
        "paywall_modal_viewed",
        "limit_type",
    )
    assert parse_by(r'event("a \"b\"").x') == ("event", 'a "b"', "x")
    assert parse("did(any)")  # the language is untouched by --by


def test_schema_figures_survive_a_restart_and_bad_cache_files(tmp_path: Path, monkeypatch: Any) -> None:
    import cohortd.engine.schema as schema_module

    rows = [{"user_id": f"u{i % 7}", "event_type": TYPES[i % 3], "time": T0 - i * H, "plan": PLANS[i % 3]}
            for i in range(60)]  # fmt: skip
    with Workspace(tmp_path, clock=lambda: NOW) as ws:
        p = ws.project()
        p.ingest(rows[:30])
        p.engine.seal()
        p.ingest(rows[30:])
        p.engine.seal()
        want = p.schema()
        stats_dir = p.directory / "schema_stats"
        files = sorted(f.name for f in stats_dir.glob("*.npz"))
        assert files  # sealed segments' figures are on disk
    assert want == reference_schema(rows, [])
    with Workspace(tmp_path, clock=lambda: NOW) as ws, monkeypatch.context() as m:

        def no_scan(seg: Any) -> Any:
            raise AssertionError(f"{seg.name} was scanned")

        m.setattr(schema_module, "segment_stats", no_scan)
        assert ws.project().schema() == want  # read back, not recomputed
    first = stats_dir / files[0]
    first.write_bytes(b"not an npz")
    with Workspace(tmp_path, clock=lambda: NOW) as ws:
        p = ws.project()
        assert p.schema() == want  # a bad file is recomputed
        p.engine.compact()  # segments merged away: their files go too
        assert p.schema() == want
        live = {s.name for s in p.engine.store.snapshot().segments}
        assert {f.stem for f in stats_dir.glob("*.npz")} <= live


def test_saved_cohorts_record_their_size_each_day(tmp_path: Path) -> None:
    clock = [NOW]
    with Workspace(tmp_path, clock=lambda: clock[0]) as ws:
        p = ws.project()
        p.ingest([{"user_id": f"u{i}", "event_type": "view", "time": NOW - i * H} for i in range(30)])
        p.create_cohort("Viewers 1d", 'did("view") in last 1d')
        clock[0] = NOW + DAY + H  # the next day's first batch records that midnight
        p.ingest([{"user_id": "x", "event_type": "view", "time": NOW + DAY}])
        p.know.wait_recorded()
        midnight = (NOW + DAY) // DAY * DAY
        recorded = p.know.stats.daily_sizes("Viewers 1d", 1, [midnight])
        assert recorded[midnight][0] == p.evaluate("Viewers 1d", as_of=midnight).size == 1


def test_size_history_takes_incremental_sizes_from_the_maintainer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At a midnight the maintainer's members are the exact sizes: only a percentile cohort
    needs a pass over every user (one batch ingested after midnight, dated before it, counts)."""
    import cohortd.analysis.know as know

    passes: list[str] = []
    real = know.population
    monkeypatch.setattr(know, "population", lambda *a, **k: passes.append(a[1]) or real(*a, **k))
    clock = [NOW]
    with Workspace(tmp_path, clock=lambda: clock[0]) as ws:
        p = ws.project()
        p.ingest([{"user_id": f"u{i}", "event_type": "view", "time": NOW - i * H} for i in range(30)])
        p.know.wait_recorded()
        p.create_cohort("Viewers 1d", 'did("view") in last 1d')
        p.create_cohort("Not viewers 12h", 'not did("view") in last 12h')
        p.create_cohort("Top viewers", 'top 10% by count("view") in last 7d')
        passes.clear()
        midnight = (NOW + DAY) // DAY * DAY
        clock[0] = midnight + H
        p.ingest([{"user_id": "late", "event_type": "view", "time": midnight - 1}])
        p.know.wait_recorded()
        assert passes == ["Top viewers"]
        for name in ("Viewers 1d", "Not viewers 12h", "Top viewers"):
            recorded = p.know.stats.daily_sizes(name, 1, [midnight])
            assert recorded[midnight][0] == p.evaluate(name, as_of=midnight).size, name


def test_size_history_skips_a_cohort_renamed_while_it_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The recorder lists the cohorts, then reads each: one renamed in between is skipped."""
    with Workspace(tmp_path, clock=lambda: NOW) as ws:
        p = ws.project()
        p.ingest([{"user_id": f"u{i}", "event_type": "view", "time": NOW - i * H} for i in range(30)])
        p.know.wait_recorded()  # today's midnight, recorded before any cohort exists
        p.create_cohort("Viewers 1d", 'did("view") in last 1d')
        p.create_cohort("Viewers 2d", 'did("view") in last 2d')
        listing = p.catalog.list()
        p.rename_cohort("Viewers 1d", "Recent viewers")
        # the listing the recorder took before the rename
        monkeypatch.setattr(p.catalog, "list", lambda: listing)
        midnight = NOW // DAY * DAY - DAY  # a day nothing has recorded yet
        p.know.record_day(midnight)
        assert p.know.stats.daily_sizes("Viewers 1d", 1, [midnight]) == {}
        recorded = p.know.stats.daily_sizes("Viewers 2d", 1, [midnight])
        assert recorded[midnight][0] == p.evaluate("Viewers 2d", as_of=midnight).size
