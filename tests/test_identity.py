"""Identity resolution: anonymous ids, links and aliases against an oracle applying the rules.

Random interleavings of events under anonymous and user ids, rows carrying both
(links), aliases, compactions and restarts; after every step each maintained
cohort equals a full evaluation, and both equal the oracle evaluated over the
raw events with every id replaced by its canonical id (docs/identity.md).
"""

from __future__ import annotations

import json
import os
import tempfile

from cohortd import Engine
from cohortd.engine.maintain import Maintainer
from cohortd.lang import ast as A
from cohortd.lang import parse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.oracle import Oracle
from support.strategies import exprs

HOUR = 3_600_000
DAY = 24 * HOUR
START = 1_780_000_000_000
TYPES = ["A", "B"]
PROPS = {"n": "int"}
EXAMPLES = int(os.environ.get("COHORTD_EXAMPLES", "40"))
USERS = [f"u{i}" for i in range(3)]
ANONS = [f"d{i}" for i in range(4)]


class IdentityOracle:
    """The documented rules over strings: anonymous ids join their first user; aliases merge users."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}
        self.known: set[str] = set()

    def root(self, x: str) -> str:
        while self.parent.get(x, x) != x:
            x = self.parent[x]
        return x

    def link(self, anon: str, user: str) -> None:
        ra, ru = self.root("$anon:" + anon), self.root(user)
        if ra != ru and ra.startswith("$anon:"):
            self.parent[ra] = ru

    def alias(self, prev: str, user: str) -> None:
        self.known.add(user)
        if prev == user:
            return
        if prev in self.known:
            rp, ru = self.root(prev), self.root(user)
            if rp != ru:
                self.parent[rp] = ru
        else:
            self.link(prev, user)


events = st.fixed_dictionaries(
    {
        "user": st.sampled_from([None, *USERS]),
        "anon": st.sampled_from([None, *ANONS]),
        "event_type": st.sampled_from(TYPES),
        "dt": st.integers(-3 * DAY, 0),
        "n": st.integers(0, 3),
    }
).filter(lambda e: e["user"] is not None or e["anon"] is not None)
steps = st.one_of(
    st.tuples(st.just("ingest"), st.lists(events, min_size=1, max_size=5)),
    st.tuples(st.just("alias"), st.tuples(st.sampled_from(USERS + ANONS), st.sampled_from(USERS))),
    st.tuples(st.just("advance"), st.sampled_from([1, HOUR, DAY])),
    st.tuples(st.just("compact"), st.none()),
    st.tuples(st.just("restart"), st.none()),
)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cohort=exprs(TYPES, PROPS, ["x"], {"plan": "string"}, max_depth=2),
    plan=st.lists(steps, min_size=1, max_size=10),
)
def test_merged_users_match_the_oracle_and_full_evaluation(cohort: A.Expr, plan: list) -> None:  # type: ignore[type-arg]
    now = [START]
    rules = IdentityOracle()
    raw: list[dict] = []  # type: ignore[type-arg]
    with tempfile.TemporaryDirectory() as d:
        engine = Engine.open(d, clock=lambda: now[0])
        m = Maintainer(engine, {"c": cohort}.get, percentile_interval_ms=0)
        m.track("c", cohort)
        try:
            for kind, arg in plan:
                if kind == "ingest":
                    rows = []
                    for e in arg:
                        row = {"event_type": e["event_type"], "time": now[0] + e["dt"], "n": e["n"]}
                        if e["user"] is not None:
                            row["user_id"] = e["user"]
                            rules.known.add(e["user"])
                        if e["anon"] is not None:
                            row["anonymous_id"] = e["anon"]
                        rows.append(row)
                        raw.append(row)
                    for row in rows:  # the links of a batch, in row order
                        if "user_id" in row and "anonymous_id" in row:
                            rules.link(row["anonymous_id"], row["user_id"])
                    assert engine.ingest(rows).accepted == len(rows)
                elif kind == "alias":
                    prev, user = arg
                    engine.ingest(
                        [{"user_id": user, "previous_id": prev, "event_type": "$identify", "time": now[0]}]
                    )
                    rules.alias(prev, user)
                elif kind == "advance":
                    now[0] += arg
                elif kind == "compact":
                    engine.compact()
                else:
                    engine.close()
                    engine = Engine.open(d, clock=lambda: now[0])
                    m = Maintainer(engine, {"c": cohort}.get, percentile_interval_ms=0)
                    m.track("c", cohort)
                m.step()
                canonical = [
                    {
                        **r,
                        "user_id": rules.root(
                            r["user_id"] if "user_id" in r else "$anon:" + r["anonymous_id"]
                        ),
                    }
                    for r in raw
                ]
                want = Oracle(canonical, {}).evaluate(cohort, now[0])
                full = engine.evaluate(cohort, as_of=now[0]).bitmap
                assert set(engine.external_ids(full)) == want, (plan, cohort)
                assert m.membership("c").members == full  # type: ignore[union-attr]
        finally:
            engine.close()


def test_watch_sees_the_anonymous_id_leave_and_the_user_enter(tmp_path) -> None:  # type: ignore[no-untyped-def]
    now = [START]
    engine = Engine.open(tmp_path, clock=lambda: now[0])
    m = Maintainer(engine, {"two": parse('did("A") >= 2')}.get)
    m.track("two", parse('did("A") >= 2'))
    start = m.membership("two").version  # type: ignore[union-attr]
    engine.ingest([{"anonymous_id": "d1", "event_type": "A", "time": now[0] - 3}])
    engine.ingest([{"anonymous_id": "d1", "event_type": "A", "time": now[0] - 2}])
    engine.ingest([{"user_id": "u1", "event_type": "B", "time": now[0] - 1}])
    m.step()
    engine.ingest([{"user_id": "u1", "anonymous_id": "d1", "event_type": "$identify", "time": now[0]}])
    m.step()
    seen = [
        (engine.external_ids(c.entered), engine.external_ids(c.exited)) for c in m.changes(["two"], start)
    ]
    assert seen == [(["$anon:d1"], []), (["u1"], ["$anon:d1"])]
    # A second user claiming the same device is a conflict: ignored, the device stays with u1.
    engine.ingest([{"user_id": "u2", "anonymous_id": "d1", "event_type": "A", "time": now[0]}])
    now[0] += 1
    engine.compact()
    assert engine.external_ids(engine.evaluate(parse('did("A") >= 2')).bitmap) == ["u1"]
    engine.close()


def test_segment_and_amplitude_shapes_with_anonymous_ids(tmp_path) -> None:  # type: ignore[no-untyped-def]
    t = "2026-05-01T00:00:00Z"
    lines = [
        {"type": "track", "anonymousId": "a1", "event": "Viewed", "timestamp": t},
        {"type": "alias", "userId": "u1", "previousId": "a1", "timestamp": t},
        {"type": "track", "anonymousId": "a2", "event": "Viewed", "timestamp": t},
        {"type": "identify", "userId": "u2", "anonymousId": "a2", "traits": {"plan": "pro"}, "timestamp": t},
        {"event_type": "Viewed", "device_id": "dev9", "event_time": t, "event_properties": {}},
        {
            "event_type": "Viewed",
            "device_id": "dev9",
            "user_id": "u3",
            "event_time": t,
            "event_properties": {},
        },
    ]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines))
    with Engine.open(tmp_path / "data", clock=lambda: START) as engine:
        report = engine.ingest_file(path)
        assert report.accepted == len(lines) and not report.rejected
        viewed = engine.evaluate(parse('did("Viewed")')).bitmap
        assert engine.external_ids(viewed) == ["u1", "u2", "u3"]
