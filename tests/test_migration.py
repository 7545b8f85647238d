"""Segment migration checked against set arithmetic over per-instant evaluations, on random data."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from cohortd.analysis.migration import NEW, NONE, instants
from cohortd.errors import DefinitionError
from cohortd.service import Workspace
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

T0 = 1_790_000_000_000
DAY = 86_400_000
COHORTS = [
    ("New", "first did(any) in last 7d"),
    ("Active", 'did("Use") >= 2 in last 7d and not first did(any) in last 7d'),
    ("Paying", 'did("Pay") in last 30d'),
]

events_strategy = st.lists(
    st.tuples(st.integers(0, 14), st.sampled_from(["Use", "Pay", "Visit"]), st.integers(0, 40 * DAY)),
    min_size=1,
    max_size=120,
)


def check_matrix(m, sets_a: dict[str, set], sets_b: dict[str, set], known_a: set, known_b: set) -> None:
    rows = {**sets_a, NONE: known_a - set().union(*sets_a.values()), NEW: known_b - known_a}
    cols = {**sets_b, NONE: known_b - set().union(*sets_b.values())}
    got = {(c.source, c.target): (c.users, c.share) for c in m.cells}
    assert set(got) == {(x, y) for x in rows for y in cols}
    for x, xs in rows.items():
        for y, ys in cols.items():
            users = len(xs & ys)
            assert got[(x, y)] == (users, users / len(xs) if xs else None), (x, y)
    several = lambda sets: {u for u in set().union(*sets) if sum(u in s for s in sets) > 1}  # noqa: E731
    assert m.overlap_from == len(several(list(sets_a.values())))
    assert m.overlap_to == len(several(list(sets_b.values())))


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=events_strategy, saved=st.booleans(), step=st.sampled_from([None, "5d", "1w"]))
def test_matrix_equals_set_arithmetic_over_evaluations(events, saved: bool, step: str | None) -> None:
    now = T0 + 45 * DAY
    with tempfile.TemporaryDirectory() as d, Workspace(d, clock=lambda: now) as ws:
        p = ws.project()
        p.ingest([{"user_id": f"u{u}", "event_type": e, "time": T0 + t} for u, e, t in events])
        if saved:
            for name, text in COHORTS:
                p.create_cohort(name, text)
        names = [n if saved else t for n, t in COHORTS]
        a, b = T0 + 10 * DAY, T0 + 30 * DAY
        matrices = p.migration(names, a, b, step)
        times = instants(a, b, step)
        assert [(m.from_ms, m.to_ms) for m in matrices] == list(zip(times, times[1:], strict=False))
        for m in matrices:
            sets_a = {
                n: set(p.members(definition=t, as_of=m.from_ms))
                for (_, t), n in zip(COHORTS, names, strict=True)
            }
            sets_b = {
                n: set(p.members(definition=t, as_of=m.to_ms))
                for (_, t), n in zip(COHORTS, names, strict=True)
            }
            known_a = {f"u{u}" for u, _, t in events if T0 + t < m.from_ms}
            known_b = {f"u{u}" for u, _, t in events if T0 + t < m.to_ms}
            check_matrix(m, sets_a, sets_b, known_a, known_b)


def test_calendar_month_steps_and_errors() -> None:
    jan31 = 1_769_817_600_000  # 2026-01-31T00:00Z
    got = instants(jan31, jan31 + 100 * DAY, "1mo")
    assert [t - jan31 for t in got] == [
        0,
        28 * DAY,
        (28 + 31) * DAY,
        (28 + 31 + 30) * DAY,
    ]  # Feb 28, Mar 31, Apr 30
    assert instants(0, 10, None) == [0, 10]
    for args in ((10, 0, None), (0, DAY, "2d"), (0, DAY, "0mo"), (0, 10_000 * DAY, "1d")):
        with pytest.raises(DefinitionError):
            instants(*args)


def test_entries_by_where_users_came_from_match_per_step_snapshots(tmp_path: Path) -> None:
    clock = [T0]
    segs = [
        ("Hot", 'did("E") in last 10s'),
        ("Warm", 'did("E") in last 30s and not did("E") in last 10s'),
        ("Cold", 'did("E") in last 90s and not did("E") in last 30s'),
    ]
    with Workspace(tmp_path, clock=lambda: clock[0]) as ws:
        p = ws.project()
        for name, text in segs:
            p.create_cohort(name, text)
        snaps = []
        import random

        rng = random.Random(3)
        users = [f"m{i}" for i in range(30)]
        for _ in range(25):
            active = rng.sample(users, rng.randrange(0, 8))
            if active:
                p.ingest([{"user_id": u, "event_type": "E", "time": clock[0] - 1} for u in active])
            p.maintainer.step()
            snaps.append((clock[0], {n: set(p.members(n)) for n, _ in segs}))
            clock[0] += rng.choice([3_000, 7_000, 15_000])
        for into in ("Hot", "Warm"):
            since = snaps[3][0]
            got = p.migration_entries([n for n, _ in segs], into, since_ms=since)
            want = {n: 0 for n, _ in segs if n != into} | {NONE: 0}
            entries = 0
            for (_, before), (t, after) in zip(snaps, snaps[1:], strict=False):
                if t < since:
                    continue
                for u in after[into] - before[into]:
                    entries += 1
                    came = [n for n, _ in segs if n != into and u in before[n]]
                    for n in came:
                        want[n] += 1
                    if not came:
                        want[NONE] += 1
            assert entries > 0 and got.entries == entries and got.came_from == want, into
        with pytest.raises(DefinitionError):
            p.migration_entries(['did("E")'], "Hot")


def test_cli_json_and_the_server_agree(tmp_path: Path) -> None:
    import contextlib
    import io
    import json

    from cohortd import Client
    from cohortd.cli.main import main
    from support.data import now_ms
    from support.server import ServerProcess

    now = now_ms()
    data = tmp_path / "data"
    with Workspace(data) as ws:
        p = ws.project()
        p.ingest(
            [{"user_id": f"s{i}", "event_type": "Use", "time": now - (i % 20) * DAY - 1} for i in range(60)]
        )
        p.ingest(
            [
                {"user_id": f"s{i}", "event_type": "Pay", "time": now - (i % 9) * DAY - 1}
                for i in range(0, 60, 3)
            ]
        )
        for name, text in COHORTS:
            p.create_cohort(name, text)
        embedded = p.migration([n for n, _ in COHORTS], now - 15 * DAY, now, "5d")

    def cli(*args: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(args))
        return code, out.getvalue(), err.getvalue()

    names = [n for n, _ in COHORTS]
    frm = datetime_iso(now - 15 * DAY)
    code, out, err = cli(
        "migration", "--data", str(data), *names, "--from", frm, "--to", datetime_iso(now), "--json"
    )
    assert code == 0, err
    doc = json.loads(out)
    assert set(doc) >= {"cohorts", "from", "to", "matrix", "overlaps"} and doc["cohorts"] == names
    assert set(doc["matrix"][0]) == {"from", "to", "users", "share"}
    code, out, err = cli("migration", "--data", str(data), *names, "--from", frm, "--step", "5d", "--json")
    assert code == 0 and isinstance(json.loads(out), list) and len(json.loads(out)) == 3
    code, out, err = cli("migration", "--data", str(data), 'did("Use") in last 30d', 'did("Pay") in last 30d',
                         "--from", frm)  # fmt: skip
    assert code == 0 and "overlap" in err  # payers are users too: not exclusive
    code, _, err = cli("migration", "--data", str(data), *names, "--from", "yesterday-ish")
    assert code == 1 and "ISO-8601" in err

    srv = ServerProcess(data)
    try:
        with Client(srv.address) as c:
            c.wait_ready()
            remote = c.migration(names, now - 15 * DAY, now, "5d")
            assert remote == embedded
            e = c.migration_entries(names, "Paying")
            assert e.cohort == "Paying" and e.entries >= 0 and set(e.came_from) == {"New", "Active", NONE}
    finally:
        srv.terminate()


def datetime_iso(ms: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")
