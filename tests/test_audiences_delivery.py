"""Delivery converges on exactly the cohort, whatever happens on the way.

Random interleavings of ingests, clock advances (an injected clock: users exit
``in last 10s`` as it moves), receiver outages (HTTP 500) and restarts of the
project, against a real HTTP receiver on 127.0.0.1 that drops duplicate
idempotency keys.  At the end the receiver must hold exactly the users a plain
Python reference says are in the cohort, and exactly ``members()``.
"""

from __future__ import annotations

import hashlib
import random
import tempfile
import time
from pathlib import Path

import pytest
from cohortd.audiences.delivery import RETRY_BASE_S, RETRY_CAP_S, backoff_delay
from cohortd.audiences.destinations import Batch, MetaCustomAudienceDestination
from cohortd.audiences.identifiers import hash_value
from cohortd.audiences.model import parse_mode
from cohortd.audiences.receiver import Receiver
from cohortd.errors import AudienceError
from cohortd.service import Project, Workspace
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

T0 = 1_790_000_000_000
WINDOW_MS = 10_000
WAIT_S = 60.0
USERS = [f"p{i}" for i in range(12)]

ops = st.lists(
    st.one_of(
        st.tuples(st.just("ingest"), st.lists(st.sampled_from(USERS), min_size=1, max_size=6, unique=True)),
        st.tuples(st.just("advance"), st.integers(1, 12_000)),
        st.tuples(st.just("outage"), st.booleans()),
        st.tuples(st.just("restart"), st.just(None)),
    ),
    min_size=1,
    max_size=12,
)


def reference(events: dict[str, list[int]], now: int) -> set[str]:
    """``did("P") in last 10s`` at ``now``: an event in [now - 10s, now)."""
    return {u for u, times in events.items() if any(now - WINDOW_MS <= t < now for t in times)}


def open_project(directory: Path, clock: list[int]) -> tuple[Workspace, Project]:
    ws = Workspace(directory, clock=lambda: clock[0], deliver_audiences=True)
    p = ws.project()
    p.audiences.retry_base_s, p.audiences.retry_cap_s = 0.01, 0.05
    return ws, p


def wait_synced(p: Project, audience: str, cohort: str) -> None:
    end = time.monotonic() + WAIT_S
    while time.monotonic() < end:
        m = p.maintainer.membership(cohort)
        if m is not None and p.get_audience(audience).acknowledged_version == m.version:
            return
        time.sleep(0.01)
    raise AssertionError("the audience did not catch up")


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=ops, batch=st.integers(1, 5))
def test_receiver_converges_to_the_cohort(ops: list[tuple[str, object]], batch: int) -> None:
    clock = [T0]
    events: dict[str, list[int]] = {}
    rx = Receiver("k")
    with tempfile.TemporaryDirectory() as d:
        ws, p = open_project(Path(d), clock)
        try:
            p.create_cohort("Recent", f'did("P") in last {WINDOW_MS // 1000}s')
            p.create_destination("hook", webhook=rx.url, secret="k")
            p.create_audience("Sync", "Recent", "hook", batch_size=batch)
            for op, arg in ops:
                if op == "ingest":
                    t = clock[0] - 1
                    p.ingest([{"user_id": u, "event_type": "P", "time": t} for u in arg])  # type: ignore[union-attr]
                    for u in arg:  # type: ignore[union-attr]
                        events.setdefault(u, []).append(t)
                elif op == "advance":
                    clock[0] += int(arg)  # type: ignore[arg-type]
                elif op == "outage":
                    rx.fail_with = 500 if arg else None
                else:  # like any restart, the clock moves on (versions are hybrid timestamps)
                    ws.close()
                    clock[0] += 1
                    ws, p = open_project(Path(d), clock)
                p.maintainer.step()
                time.sleep(0.005)  # let a worker get a batch out (or fail) in between
            rx.fail_with = None
            p.maintainer.step()
            wait_synced(p, "Sync", "Recent")
            want = reference(events, clock[0])
            assert set(p.members("Recent")) == want
            assert rx.members == want
            assert rx.bad_signatures == 0
            versions = [r.doc["version"] for r in rx.accepted()]
            assert versions == sorted(versions), "deliveries out of version order"
            full = [r.doc for r in rx.accepted() if r.doc["full"]]
            assert full and full[0] == rx.accepted()[0].doc
        finally:
            ws.close()
            rx.close()


def test_backoff_schedule_is_exponential_jittered_and_capped() -> None:
    rng = random.Random(7)
    for attempt in range(40):
        nominal = min(RETRY_CAP_S, RETRY_BASE_S * 2**attempt)
        for _ in range(20):
            d = backoff_delay(attempt, rng)
            assert nominal * 0.5 <= d < nominal
    assert backoff_delay(100, rng) < RETRY_CAP_S


@given(st.text(max_size=40))
@settings(max_examples=25, deadline=None)
def test_hash_is_sha256_of_the_trimmed_lowercased_value(value: str) -> None:
    assert hash_value(value) == hashlib.sha256(value.strip().lower().encode()).hexdigest()


def test_modes() -> None:
    assert parse_mode("realtime").text == "realtime" and parse_mode("once").text == "once"
    assert parse_mode("every 90m").interval_ms == 5_400_000 and parse_mode("every 90m").text == "every 90m"
    assert parse_mode("every 2h").text == "every 2h"
    for bad in ("", "every", "every 0s", "every 1y", "sometimes", "every 1h 2h"):
        with pytest.raises(AudienceError):
            parse_mode(bad)


def test_meta_shape_posts_additions_and_deletes_removals() -> None:
    rx = Receiver("m")
    dest = MetaCustomAudienceDestination(rx.url, "m")
    try:
        batch = Batch("A", "C", "D", 7, 3, False, 2, 2, "k:7:2", "user.email", "sha256", ["h1"], ["h2", "h3"])
        assert dest.send(batch).ok
        methods = [r.doc for r in rx.requests]
        assert methods[0]["payload"] == {"schema": "EMAIL_SHA256", "data": ["h1"]}
        assert methods[1]["payload"]["data"] == ["h2", "h3"]
        assert methods[0]["session"] == {"session_id": 7, "batch_seq": 2, "last_batch_flag": True}
        rx.fail_with = 503
        out = dest.send(batch)
        assert not out.ok and out.http_status == 503
    finally:
        dest.close()
        rx.close()
