"""Small deterministic data sets for the server tests, relative to the wall clock.

``saas_events``/``saas_users`` are the SaaS stream most server tests load; ``seed`` fills a
data directory with two projects, saved cohorts and an audience for the HTTP/console tests.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
from cohortd.times import DAY_MS, wall_ms

__all__ = ["DAY_MS", "HOUR_MS", "now_ms", "saas_events", "saas_users", "seed"]

HOUR_MS = 3_600_000

now_ms = wall_ms
"""Now, in epoch milliseconds."""


def saas_events(users: int = 200, now: int | None = None) -> pa.Table:
    """A small deterministic event table relative to ``now``.

    User ``u{i}``: signs up ``i % 60`` days ago; does ``Session Start`` ``i % 7``
    times in the last 3 days; users with ``i % 3 == 0`` have a ``Feature Used``
    (area dashboard when ``i`` is even) an hour later than signup; ``i % 10 == 0``
    send ``Subscription Started`` with ``revenue`` 10 + i.
    """
    now = now_ms() if now is None else now
    uid, et, tm, area, revenue = [], [], [], [], []

    def add(u: int, e: str, t: int, a: str | None = None, r: float | None = None) -> None:
        uid.append(f"u{u:04d}")
        et.append(e)
        tm.append(t)
        area.append(a)
        revenue.append(r)

    for i in range(users):
        signup = now - (i % 60) * DAY_MS - HOUR_MS
        add(i, "Signup Submitted", signup)
        for k in range(i % 7):
            add(i, "Session Start", now - 3 * DAY_MS + (k + 1) * HOUR_MS)
        if i % 3 == 0:
            add(i, "Feature Used", signup + HOUR_MS // 2, "dashboard" if i % 2 == 0 else "reports")
        if i % 10 == 0:
            add(i, "Subscription Started", signup + HOUR_MS // 4, r=10.0 + i)
    return pa.table(
        {
            "user_id": pa.array(uid, pa.string()),
            "event_type": pa.array(et, pa.string()),
            "time": pa.array(tm, pa.int64()),
            "feature_area": pa.array(area, pa.string()),
            "revenue": pa.array(revenue, pa.float64()),
        }
    )


def saas_users(users: int = 200) -> pa.Table:
    """``plan`` (paid when i % 10 == 0, else trial when i % 4 == 0, else free) and ``projects``."""
    plans = ["paid" if i % 10 == 0 else "trial" if i % 4 == 0 else "free" for i in range(users)]
    return pa.table(
        {
            "user_id": [f"u{i:04d}" for i in range(users)],
            "plan": plans,
            "projects": pa.array([i % 9 for i in range(users)], pa.int64()),
        }
    )


def seed(data_dir: Path, users: int = 300) -> None:
    """Two projects with events and user properties; two saved cohorts and an audience in ``default``."""
    from cohortd.service import Workspace

    with Workspace(data_dir) as ws:
        p = ws.project("default")
        p.ingest(saas_events(users))
        p.upsert_user_properties(saas_users(users))
        p.create_cohort("Active 7d", 'did("Session Start") >= 3 in last 7d', "three sessions this week")
        p.create_cohort("Feature users", 'did("Feature Used") in last 90d')
        p.create_destination("exports", directory=str(data_dir.parent / "exports"))
        p.create_audience("Active export", "Active 7d", "exports")
        other = ws.project("other")
        other.ingest(saas_events(40))
        other.create_cohort("Secret other", "did(any) in last 90d")
