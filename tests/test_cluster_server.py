"""``cohortd serve --cluster local --shards 2`` over gRPC: the same API and SDK, the single-process answers.

A real server process (it starts its own local Ray cluster) on 127.0.0.1; the
reference is a plain in-process project given the same data.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from cohortd.client import Client
from cohortd.service import Workspace
from support.data import DAY_MS, now_ms, saas_events, saas_users
from support.server import ServerProcess

COHORTS = {
    "active": 'did("Session Start") >= 3 in last 7d',
    "power": "top 20% by count(any) in last 30d",
    "paid_or_dash": 'user.plan == "paid" or did("Feature Used" where feature_area == "dashboard")',
}


def test_cluster_server_same_answers_and_watch_resume(tmp_path: Path) -> None:
    now = now_ms()
    events, users = saas_events(120, now), saas_users(120)
    reference = Workspace(tmp_path / "single").project("default")
    reference.ingest(events)
    reference.upsert_user_properties(users)
    srv = ServerProcess(tmp_path / "cluster", "--cluster", "local", "--shards", "2")
    try:
        with Client(srv.address) as c:
            assert c.ingest(events).accepted == events.num_rows
            c.upsert_user_properties(users)
            for name, text in COHORTS.items():
                c.create_cohort(name, text)
                reference.create_cohort(name, text)
            assert sorted(x.name for x in c.list_cohorts()) == sorted(COHORTS)
            as_of = now + 1
            for name in COHORTS:
                assert c.evaluate(name, as_of=as_of).size == reference.evaluate(name, as_of=as_of).size
                assert sorted(c.members(name, as_of=as_of)) == reference.members(name, as_of=as_of)
            ov, want = c.overlap(list(COHORTS), as_of=as_of), reference.overlap(list(COHORTS), as_of=as_of)
            assert ov.intersections == want.intersections and ov.sizes == want.sizes
            ids = [f"u{i:04d}" for i in range(0, 130, 7)]
            got = c.check_membership(ids, list(COHORTS), as_of=as_of)
            assert [list(r) for r in got] == reference.check_membership(ids, list(COHORTS), as_of=as_of)

            # Watch "active" from the version of its members now; new sessions make users enter.
            start = c.evaluate("active")
            members = set(c.members("active"))
            assert members == set(reference.members("active"))
            extra = [
                {"user_id": f"u{i:04d}", "event_type": "Session Start", "time": now - DAY_MS + k}
                for i in range(0, 120, 5)
                for k in range(3)
            ]
            seen: list = []
            stream = c.watch("active", start.version)
            done = threading.Event()

            def read_some() -> None:
                for change in stream:
                    seen.append(change)
                    if len(seen) >= 1:
                        done.set()
                        return

            reader = threading.Thread(target=read_some, daemon=True)
            reader.start()
            c.ingest(extra[: len(extra) // 2])
            assert done.wait(60)
            stream.close()
            resume_from = stream.version
            assert resume_from is not None
            c.ingest(extra[len(extra) // 2 :])
            reference.ingest(extra)
            want_now = set(reference.members("active"))
            with c.watch("active", resume_from) as resumed:
                for change in resumed:
                    seen.append(change)
                    state = _apply(members, seen)
                    if state == want_now:
                        break
            assert _apply(members, seen) == want_now
            versions = [ch.version for ch in seen]
            assert versions == sorted(versions) and len(set(versions)) == len(versions)  # no repeat

            # A percentile cohort's changes over gRPC come from the router's log: members at a
            # version plus the changes after it are its members now.
            at = c.evaluate("power").version
            held = set(c.members("power"))
            more = [
                {"user_id": f"u{i:04d}", "event_type": "Page View", "time": now - DAY_MS + k}
                for i in range(60, 120, 3)
                for k in range(40)
            ]
            c.ingest(more)
            reference.ingest(more)
            got = c.changes("power", at)
            assert got.version > at and got.changes
            for change in got.changes:
                held = (held | set(change.entered)) - set(change.exited)
            assert held == set(c.members("power"))

            # The server delivers audiences from the router: a file delivery of the members now.
            c.create_destination("files", directory=str(tmp_path / "files"), fmt="jsonl")
            c.create_audience("power-users", "paid_or_dash", "files", mode="once")
            deadline = time.monotonic() + 60
            while c.get_audience("power-users").status != "done":
                assert time.monotonic() < deadline, "audience not delivered"
                time.sleep(0.1)
            (delivery,) = (tmp_path / "files").iterdir()
            rows = [json.loads(line) for line in delivery.read_text().splitlines()]
            assert sorted(r["id"] for r in rows) == reference.members("paid_or_dash")
            assert {(r["change"], r["full"]) for r in rows} == {("added", True)}

            # Identity/DeleteUsers and Calendar/SetTimeZone are routed to the shards.
            gone = reference.members("active")[:3] + ["nobody"]
            deleted, want_deleted = c.delete_users(gone), reference.delete_users(gone)
            fields = ("found", "not_found", "ids_deleted", "events_before", "events_visible_after")
            assert [deleted[f] for f in fields] == [getattr(want_deleted, f) for f in fields]
            assert c.set_time_zone("America/New_York") == reference.set_time_zone("America/New_York")
            assert c.time_zone() == "America/New_York"
            for text in ("active_days(any) >= 2 in last calendar week", 'did("Session Start") in this day'):
                assert sorted(c.members(definition=text, as_of=as_of)) == reference.members(
                    definition=text, as_of=as_of
                )
            assert sorted(c.members("active")) == reference.members("active")
    finally:
        srv.terminate()
        reference.close()


def _apply(start: set[str], changes: list) -> set[str]:
    state = set(start)
    for ch in changes:
        state |= set(ch.entered)
        state -= set(ch.exited)
    return state
