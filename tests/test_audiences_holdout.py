"""Holdouts and lift: deterministic held-out users are never delivered; lift matches a plain reference.

The delivery runs for real (embedded project, worker threads, an HTTP receiver
on 127.0.0.1); time is an injected clock, so entry instants are known exactly.
"""

from __future__ import annotations

import hashlib
import math
import random
import time
from pathlib import Path

import pytest
from cohortd.audiences.holdout import holdout_score
from cohortd.audiences.model import parse_share
from cohortd.audiences.receiver import Receiver
from cohortd.errors import AudienceError
from cohortd.service import Project, Workspace

T0 = 1_790_000_000_000
HOUR = 3_600_000
DAY = 24 * HOUR
WAIT_S = 60.0


def held_reference(key: str, user: str, share: float) -> bool:
    """Independent of the implementation: blake2b keyed with the audience uid, as a fraction of 2^64."""
    h = hashlib.blake2b(user.encode(), key=key.encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") < share * 2**64


def open_project(d: Path, clock: list[int]) -> tuple[Workspace, Project]:
    ws = Workspace(d, clock=lambda: clock[0], deliver_audiences=True)
    p = ws.project()
    p.audiences.retry_base_s = 0.01
    return ws, p


def wait_synced(p: Project, audience: str, cohort: str) -> None:
    end = time.monotonic() + WAIT_S
    while time.monotonic() < end:
        m = p.maintainer.membership(cohort)
        if m is not None and p.get_audience(audience).acknowledged_version == m.version:
            if p.audiences.store.pending(audience) is None:
                return
        time.sleep(0.01)
    raise AssertionError("the audience did not catch up")


def test_holdout_share_is_within_sampling_error_and_independent_per_audience() -> None:
    users = [f"user-{i}" for i in range(20_000)]
    for share in (0.1, 0.5):
        a = {u for u in users if holdout_score("key-a", u) < share}
        b = {u for u in users if holdout_score("key-b", u) < share}
        sigma = math.sqrt(share * (1 - share) / len(users))
        assert abs(len(a) / len(users) - share) < 4 * sigma
        assert abs(len(b) / len(users) - share) < 4 * sigma
        # two audiences hold out independent users: the overlap is about share^2
        both = len(a & b) / len(users)
        assert abs(both - share**2) < 4 * math.sqrt(share**2 * (1 - share**2) / len(users))
        assert a == {u for u in users if held_reference("key-a", u, share)}
    assert parse_share("10%") == pytest.approx(0.1) and parse_share(0.25) == 0.25 and parse_share("5") == 0.05
    for bad in ("95%", "-1%", "lots"):
        with pytest.raises(AudienceError):
            parse_share(bad)


def test_held_out_users_are_never_delivered_across_exits_reentries_and_restarts(tmp_path: Path) -> None:
    clock = [T0]
    rx = Receiver("k")
    users = [f"h{i:03d}" for i in range(300)]
    ws, p = open_project(tmp_path, clock)
    try:
        p.create_cohort("Recent", 'did("H") in last 10s')
        p.create_destination("hook", webhook=rx.url, secret="k")
        p.create_audience("Held", "Recent", "hook", batch_size=40, holdout="25%")
        uid = p.audiences.store.audience("Held").uid
        held = {u for u in users if held_reference(uid, u, 0.25)}
        assert 40 < len(held) < 110
        p.ingest([{"user_id": u, "event_type": "H", "time": clock[0] - 1} for u in users])
        p.maintainer.step()
        wait_synced(p, "Held", "Recent")
        assert rx.members == set(users) - held
        assert p.get_audience("Held").holdout == 0.25
        # everyone exits; then a part re-enters, across a restart
        clock[0] += 11_000
        p.maintainer.step()
        wait_synced(p, "Held", "Recent")
        assert rx.members == set()
        ws.close()
        clock[0] += 1
        ws, p = open_project(tmp_path, clock)
        back = users[::2]
        p.ingest([{"user_id": u, "event_type": "H", "time": clock[0] - 1} for u in back])
        p.maintainer.step()
        wait_synced(p, "Held", "Recent")
        assert rx.members == set(back) - held
        delivered = {u for r in rx.accepted() for u in r.doc["added"]}
        assert not delivered & held, "a held-out user was delivered"
        # the holdout is recorded with entry times: first stint and re-entry
        names = p.engine.external_ids(range(len(p.engine.store.users)))
        external = dict(enumerate(names))
        entries = p.audiences.store.entries("Held", None, None)
        held_entries = sorted((external[u], t) for u, t, h in entries if h)
        assert {u for u, _ in held_entries} == held
        assert len(held_entries) == len(held) + len(held & set(back))
        assert all(not h for u, _, h in entries if external[u] not in held)
    finally:
        ws.close()
        rx.close()


def reference_lift(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float, tuple[float, float], float]:
    p1, p2 = x1 / n1, x2 / n2
    se = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    pooled = (x1 + x2) / (n1 + n2)
    z = (p1 - p2) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return (
        p1 / p2,
        p1 - p2,
        (p1 - p2 - 1.959963984540054 * se, p1 - p2 + 1.959963984540054 * se),
        math.erfc(abs(z) / math.sqrt(2)),
    )


def test_lift_matches_a_plain_reference_on_a_planted_effect(tmp_path: Path) -> None:
    clock = [T0]
    rx = Receiver("k")
    rng = random.Random(5)
    ws, p = open_project(tmp_path, clock)
    try:
        p.create_cohort("Signed up", 'did("Signup") in last 30d')
        p.create_destination("hook", webhook=rx.url, secret="k")
        p.create_audience("Campaign", "Signed up", "hook", holdout="40%", batch_size=100)
        entry: dict[str, int] = {}
        for k in range(6):  # six waves of entrants, an hour apart; the last is still inside its horizon
            clock[0] = T0 + k * HOUR + (DAY if k == 5 else 0)
            wave = [f"w{k}-{i:03d}" for i in range(120)]
            p.ingest([{"user_id": u, "event_type": "Signup", "time": clock[0] - 1} for u in wave])
            p.maintainer.step()
            wait_synced(p, "Campaign", "Signed up")
            entry.update(dict.fromkeys(wave, clock[0]))
        delivered = rx.members
        held = set(entry) - delivered
        uid = p.audiences.store.audience("Campaign").uid
        assert held == {u for u in entry if held_reference(uid, u, 0.4)}
        # plant the outcome: every 2nd delivered user converts, every 5th held-out user; every other
        # conversion falls outside the horizon (so 1 in 4 against 1 in 10 count, whatever the split:
        # the audience's id, hence who is held out, is new each run)
        events = []
        seen = {True: 0, False: 0}
        for u, t in entry.items():
            k, every = seen[u in delivered], 2 if u in delivered else 5
            seen[u in delivered] += 1
            if k % every == 0:
                late = (k // every) % 2 * DAY  # outside the 1-day horizon
                offset = late + rng.randrange(DAY)
                events.append({"user_id": u, "event_type": "Subscription Started", "time": t + offset})
            if rng.random() < 0.1:  # before the entry: never counts
                events.append({"user_id": u, "event_type": "Subscription Started", "time": t - HOUR})
        clock[0] = T0 + 5 * HOUR + DAY + 2 * HOUR  # waves 0-4 are past their 1-day horizon, wave 5 is not
        p.ingest(events)
        result = p.audience_lift("Campaign", 'did("Subscription Started") in last 1d', "1d")

        def converted(u: str) -> bool:
            t = entry[u]
            return any(e["user_id"] == u and t <= e["time"] < t + DAY for e in events)

        done = [u for u in entry if entry[u] + DAY <= clock[0]]
        n1 = sum(u in delivered for u in done)
        x1 = sum(u in delivered and converted(u) for u in done)
        n2 = sum(u in held for u in done)
        x2 = sum(u in held and converted(u) for u in done)
        assert (result.delivered.users, result.delivered.converted) == (n1, x1)
        assert (result.held_out.users, result.held_out.converted) == (n2, x2)
        assert result.inside_horizon == len(entry) - len(done) == 120
        lift, diff, ci, pv = reference_lift(x1, n1, x2, n2)
        assert result.lift == pytest.approx(lift) and result.difference == pytest.approx(diff)
        assert result.ci95 == pytest.approx(ci) and result.p_value == pytest.approx(pv, abs=1e-12)
        assert result.lift > 1.5 and result.p_value < 0.01  # the planted effect is found
        # entries in a period: only the first wave
        first = p.audience_lift("Campaign", 'did("Subscription Started") in last 1d', "1d", T0, T0 + 1)
        assert first.delivered.users + first.held_out.users == 120
        p.create_audience("No holdout", "Signed up", "hook")
        with pytest.raises(AudienceError, match="no holdout"):
            p.audience_lift("No holdout", 'did("Subscription Started")', "1d")
        with pytest.raises(AudienceError, match="duration"):
            p.audience_lift("Campaign", 'did("Subscription Started")', "soon")
    finally:
        ws.close()
        rx.close()
