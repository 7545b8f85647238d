"""The spec's seed cohorts and hand-picked edge cases, with members written out by hand.

Each case lists its events, the cohort text and the expected members; the
test checks the expected list against both kernels (before and after a seal)
and against the oracle, so a wrong hand-written answer is caught too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cohortd import Engine
from cohortd.lang import parse
from support.oracle import Oracle, current_user_properties

MS = 1
H = 3_600_000
D = 86_400_000
T = int(dt.datetime(2026, 3, 31, 12, 0, tzinfo=dt.UTC).timestamp() * 1000)
CLOCK = T + 2 * H
KERNELS = ("rust", "numba")


def ev(user: str, event_type: str, time: int, **props: Any) -> dict[str, Any]:
    return {"user_id": user, "event_type": event_type, "time": time, **props}


class World:
    """One engine plus the oracle over the same events and user properties."""

    def __init__(self, path: Path, events: list[dict[str, Any]], upserts: list[dict[str, Any]] = ()) -> None:
        self.eng = Engine.open(path, clock=lambda: CLOCK)
        rep = self.eng.ingest(events)
        assert rep.rejected == [], rep.rejected
        updates = [(e["user_id"], e["time"], e["user_properties"]) for e in events if "user_properties" in e]
        history = [(*u, True) for u in updates]  # properties on events are dated by the event
        if upserts:
            rep = self.eng.upsert_user_properties(upserts)
            assert rep.rejected == [], rep.rejected
            for r in upserts:
                props = {k: v for k, v in r.items() if k not in ("user_id", "time")}
                updates.append((r["user_id"], r.get("time", CLOCK), props))
                history.append((r["user_id"], r.get("time", CLOCK), props, "time" in r))
        plain = [{k: v for k, v in e.items() if k != "user_properties"} for e in events]
        self.oracle = Oracle(plain, current_user_properties(updates), history=history)

    def members(self, text: str, as_of: int = T, kernel: str = "rust") -> list[str]:
        return self.eng.evaluate(text, as_of=as_of, kernel=kernel).members()

    def check(self, text: str, expected: list[str], as_of: int = T) -> None:
        """Oracle, rust and numba all give ``expected``; then seal and check the kernels again."""
        assert self.oracle.members(parse(text), as_of) == expected, "oracle disagrees with the hand answer"
        for sealed in (False, True):
            if sealed:
                self.eng.seal()
            for kernel in KERNELS:
                assert self.members(text, as_of, kernel) == expected, (kernel, sealed)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[Any]:
    made: list[World] = []

    def make(events: list[dict[str, Any]], upserts: list[dict[str, Any]] = ()) -> World:
        w = World(tmp_path / f"w{len(made)}", events, upserts)
        made.append(w)
        return w

    yield make
    for w in made:
        w.eng.close()


# ------------------------------------------------------------------ seeds
NEW_USERS_L7 = 'first did(any) in last 7d and did("Session Start") < 3 in last 7d'


def test_seed_new_users_l7(world: Any) -> None:
    w = world(
        [
            # alice: first seen 2 days ago, 2 sessions → in
            ev("alice", "Session Start", T - 2 * D),
            ev("alice", "Session Start", T - 1 * D),
            # bob: first seen 10 days ago → out although recently active
            ev("bob", "Page View", T - 10 * D),
            ev("bob", "Session Start", T - 1 * D),
            # carol: new, but 3 sessions → out
            ev("carol", "Session Start", T - 3 * D),
            ev("carol", "Session Start", T - 2 * D),
            ev("carol", "Session Start", T - 1 * D),
            # dave: first event exactly at T - 7d (window start is inclusive), no session → in
            ev("dave", "Page View", T - 7 * D),
            # erin: first event 1 ms before the window → out
            ev("erin", "Page View", T - 7 * D - 1),
            ev("erin", "Session Start", T - 1 * H),
            # frank: first event at T → does not exist yet
            ev("frank", "Session Start", T),
            # gina: 2 sessions before T and a 3rd at T (does not count) → in
            ev("gina", "Session Start", T - 5 * H),
            ev("gina", "Session Start", T - 4 * H),
            ev("gina", "Session Start", T),
            ev("gina", "Session Start", T + 1 * H),
        ],
        upserts=[{"user_id": "hank", "plan": "free"}],  # hank: only user properties → out
    )
    w.check(NEW_USERS_L7, ["alice", "dave", "gina"])
    # two hours later: frank exists (first event at T, 1 session), gina has 4 sessions in the
    # window and dave's first event has left it
    w.check(NEW_USERS_L7, ["alice", "frank"], as_of=T + 2 * H)


POWER_USERS = "top 20% by count(any) in last 30d"


def test_seed_power_users_top_20_percent(world: Any) -> None:
    counts = {"u01": 10, "u02": 8, "u03": 7, "u04": 5, "u05": 3, "u06": 2, "u07": 1, "u08": 1}
    events = [ev(u, "Click", T - (i + 1) * H) for u, n in counts.items() for i in range(n)]
    events += [
        ev("u09", "Click", T - 31 * D),  # known, but 0 in the window
        ev("u10", "Click", T - 30 * D - 1),  # 1 ms before the window: 0
        ev("u10", "Click", T - 40 * D),
        ev("late", "Click", T),  # not known at T: not counted in N
        ev("late", "Click", T + 1 * H),
    ]
    # edge of the window: exactly T - 30d counts; u03 gets 9 with these two
    events += [ev("u03", "Click", T - 30 * D), ev("u03", "Click", T - 30 * D)]
    w = world(events, upserts=[{"user_id": "ghost", "plan": "pro"}])
    # N = 10 known users (u01..u10) → rank ceil(0.2 * 10) = 2; descending 10, 9, 8, ... → q = 9
    w.check(POWER_USERS, ["u01", "u03"])
    # if "late" and "ghost" were counted, N = 12 → rank 3 → q = 8 and u02 would be in
    w.check("top 30% by count(any) in last 30d", ["u01", "u02", "u03"])


CHURNING = "did(any) between 90d ago and 60d ago and not did(any) in last 30d"


def test_seed_churning(world: Any) -> None:
    w = world(
        [
            ev("a", "Login", T - 75 * D),  # in
            ev("b", "Login", T - 75 * D),  # active again 10 days ago → out
            ev("b", "Login", T - 10 * D),
            ev("c", "Login", T - 90 * D),  # exactly at the start of the old window → in
            ev("d", "Login", T - 60 * D),  # exactly at its (exclusive) end → out
            ev("e", "Login", T - 75 * D),  # exactly T - 30d is inside "last 30d" → out
            ev("e", "Login", T - 30 * D),
            ev("f", "Login", T - 75 * D),  # 1 ms before the last 30 days → in
            ev("f", "Login", T - 30 * D - 1),
            ev("g", "Login", T - 75 * D),  # comes back at T: does not exist yet → in
            ev("g", "Login", T),
            ev("h", "Login", T - 45 * D),  # active between the windows only → out
            ev("i", "Login", T - 90 * D - 1),  # 1 ms before the old window → out
        ]
    )
    w.check(CHURNING, ["a", "c", "f", "g"])
    # 1 ms later every boundary moves: c drops out of the old window, d enters it,
    # e's event at T - 30d leaves the last 30 days, g's event at T exists
    w.check(CHURNING, ["a", "d", "e", "f"], as_of=T + 1)


UPGRADE_READY = (
    'did("paywall_modal_viewed") >= 3 in last 14d\nand user.plan == "free" and user.projects_created > 4'
)


def test_seed_upgrade_ready(world: Any) -> None:
    def paywalls(user: str, times: list[int], **kw: Any) -> list[dict[str, Any]]:
        return [ev(user, "paywall_modal_viewed", t, **kw) for t in times]

    three = [T - 1 * D, T - 2 * D, T - 3 * D]
    events = (
        paywalls("a", three)  # free, 5 projects → in
        + paywalls("b", three)  # pro → out
        + paywalls("c", three)  # 4 projects: not > 4 → out
        + paywalls("d", [T - 1 * D, T - 2 * D, T - 14 * D - 1])  # 3rd view 1 ms before the window → out
        + paywalls("e", [T - 1 * D, T - 2 * D, T - 14 * D])  # 3rd view exactly at the start → in
        + paywalls("f", three)  # projects_created missing → out
        + paywalls("g", [*three, T])  # 4th view at T does not count; still 3 → in
        + paywalls("h", three)  # free since an event at T - 5d; the undated upsert to pro came after T → in
        + paywalls("i", three)  # properties first set by an event after T: none as of T → out
        + [ev("j", "Page View", T - 1 * D)]  # free with projects but no paywall → out
    )
    events.append(
        ev("g", "Login", T - 5 * D, user_properties={"plan": "free", "projects_created": 7}),
    )
    events.append(ev("h", "Login", T - 5 * D, user_properties={"plan": "free", "projects_created": 9}))
    events.append(ev("i", "Login", T + 1 * H, user_properties={"plan": "free", "projects_created": 6}))
    upserts = [
        {"user_id": "a", "plan": "free", "projects_created": 5},
        {"user_id": "b", "plan": "pro", "projects_created": 5},
        {"user_id": "c", "plan": "free", "projects_created": 4},
        {"user_id": "d", "plan": "free", "projects_created": 5},
        {"user_id": "e", "plan": "free", "projects_created": 10},
        {"user_id": "f", "plan": "free"},
        {"user_id": "h", "plan": "pro"},
        {"user_id": "j", "plan": "free", "projects_created": 8},
    ]
    w = world(events, upserts)
    # as of T, as the properties were (docs/cohort-language.md, "User properties as they were")
    w.check(UPGRADE_READY, ["a", "e", "g", "h"])


ACTIVATION = (
    'sequence("Signup Submitted", "First Feature Used") within 7d in last 30d\n'
    'and not did("Subscription Started") in last 30d'
)


def test_seed_activation_sequence(world: Any) -> None:
    S, F, P = "Signup Submitted", "First Feature Used", "Subscription Started"
    w = world(
        [
            ev("a", S, T - 20 * D),  # in
            ev("a", F, T - 15 * D),
            ev("b", S, T - 20 * D),  # 8 days apart → out
            ev("b", F, T - 12 * D),
            ev("c", S, T - 20 * D),  # exactly 7 days apart (<= within) → in
            ev("c", F, T - 13 * D),
            ev("d", F, T - 20 * D),  # wrong order → out
            ev("d", S, T - 18 * D),
            ev("e", S, T - 5 * D),  # same instant: equal timestamps never advance → out
            ev("e", F, T - 5 * D),
            ev("f", S, T - 20 * D),  # subscribed → out
            ev("f", F, T - 19 * D),
            ev("f", P, T - 3 * D),
            ev("g", S, T - 31 * D),  # signup before the window → out
            ev("g", F, T - 29 * D),
            ev("h", S, T - 10 * D),  # subscribed, but before the window → in
            ev("h", F, T - 9 * D),
            ev("h", P, T - 31 * D),
            ev("i", S, T - 2 * D),  # feature at T does not exist → out
            ev("i", F, T),
            ev("j", F, T - 5 * D),  # one F at the signup instant, another 1 ms later → in
            ev("j", S, T - 5 * D),
            ev("j", F, T - 5 * D + 1),
            ev("k", S, T - 30 * D),  # signup exactly at the window start → in
            ev("k", F, T - 23 * D),
        ]
    )
    w.check(ACTIVATION, ["a", "c", "h", "j", "k"])


# -------------------------------------------------------------- edge cases
def test_equal_timestamps_never_advance_a_sequence(world: Any) -> None:
    t = T - 1 * D
    w = world(
        [
            ev("two_a_same_ms", "A", t),
            ev("two_a_same_ms", "A", t),
            ev("two_a_1ms", "A", t),
            ev("two_a_1ms", "A", t + 1),
            ev("abc_tie_bc", "A", t),  # B and C at the same instant
            ev("abc_tie_bc", "B", t + 5),
            ev("abc_tie_bc", "C", t + 5),
            ev("abc_ok", "A", t),
            ev("abc_ok", "B", t + 5),
            ev("abc_ok", "C", t + 5),
            ev("abc_ok", "C", t + 6),
            ev("ab_tie", "A", t),
            ev("ab_tie", "B", t),
            ev("ab_tie", "A", t + 3),  # a later A with no later B
        ]
    )
    w.check('sequence("A", "A")', ["ab_tie", "two_a_1ms"])
    w.check('sequence("A", "B", "C")', ["abc_ok"])
    w.check('sequence("A", "B")', ["abc_ok", "abc_tie_bc"])
    w.check('sequence("A", "B", "C") within 6ms', ["abc_ok"])
    w.check('sequence("A", "B", "C") within 5ms', [])
    w.check("sequence(any, any) within 1ms", ["abc_ok", "two_a_1ms"])


def _did_world(world: Any) -> Any:
    return world(
        [
            ev("zero", "Other", T - 1 * D),  # known, never did E
            ev("one", "E", T - 1 * D),
            ev("two", "E", T - 1 * D),
            ev("two", "E", T - 1 * D),
            ev("three", "E", T - 1 * D),
            ev("three", "E", T - 2 * D),
            ev("three", "E", T - 3 * D),
            ev("old", "E", T - 60 * D),  # did E, but not in the last 30 days
            ev("future", "E", T),  # first event at T: unknown
        ],
        upserts=[{"user_id": "props_only", "plan": "free"}],
    )


def test_count_below_includes_users_who_never_did(world: Any) -> None:
    w = _did_world(world)
    w.check('did("E") < 3', ["old", "one", "two", "zero"])
    w.check('did("E") < 3 in last 30d', ["old", "one", "two", "zero"])
    w.check('did("E") >= 1', ["old", "one", "three", "two"])
    w.check('did("E") <= 0 in last 30d', ["old", "zero"])
    w.check('did("E") between 0 and 1 in last 30d', ["old", "one", "zero"])
    w.check('did("Never Seen Type") < 1', ["future", "old", "one", "three", "two", "zero"], as_of=T + 1)


def test_did_equals_zero_is_not_did(world: Any) -> None:
    w = _did_world(world)
    w.check('did("E") == 0 in last 30d', ["old", "zero"])
    w.check('not did("E") in last 30d', ["old", "zero"])
    w.check('did("E") == 0', ["zero"])
    w.check('did("E") != 0 in last 30d', ["one", "three", "two"])


# Every kind of condition, several of them true for "nobody did anything".
_EVERYWHERE = [
    'did("E") < 3',
    'did("E") == 0',
    'not did("E")',
    'not did("Other")',
    "did(any) < 100",
    "distinct(p, any) < 5",
    "active_days(any) < 5",
    "active_periods(any, 1d) < 5",
    "top 100% by count(any)",
    "first did(any)",
    "user.plan exists or user.plan not exists",
    'user.plan == "free"',
    "not (did(any) and not did(any))",
]


def test_user_whose_first_event_is_at_t_is_in_no_cohort(world: Any) -> None:
    w = world(
        [
            ev("known", "Other", T - 1 * D, p=1),
            ev("at_t", "E", T, p=2, user_properties={"plan": "free"}),
            ev("at_t", "Other", T + 1 * H),
        ]
    )
    for text in _EVERYWHERE:
        got = w.oracle.members(parse(text), T)
        assert "at_t" not in got
        for kernel in KERNELS:
            assert "at_t" not in w.members(text, kernel=kernel), (text, kernel)
    # and one millisecond later it is a user like any other
    w.check("first did(any) in last 1ms", ["at_t"], as_of=T + 1)
    w.check('user.plan == "free"', ["at_t"], as_of=T + 1)


def test_user_with_only_user_properties_is_in_no_cohort(world: Any) -> None:
    w = world(
        [ev("known", "Other", T - 1 * D, p=1)],
        upserts=[{"user_id": "props_only", "plan": "free"}, {"user_id": "known", "plan": "pro"}],
    )
    for text in _EVERYWHERE:
        expected = w.oracle.members(parse(text), T)
        assert "props_only" not in expected
        for kernel in KERNELS:
            assert w.members(text, kernel=kernel) == expected, (text, kernel)
    w.check('user.plan == "free"', [])
    w.check('not user.plan == "free"', ["known"])
    w.check('did("E") == 0', ["known"])


def test_percentile_ties(world: Any) -> None:
    # counts: a=3, b=3, c=3, d=1, e=0 (e known through an event outside the window)
    events = [
        ev(u, "E", T - (i + 1) * H) for u, n in {"a": 3, "b": 3, "c": 3, "d": 1}.items() for i in range(n)
    ]
    events.append(ev("e", "E", T - 10 * D))
    w = world(events)
    last = "in last 7d"
    w.check(f"top 20% by count(any) {last}", ["a", "b", "c"])  # rank 1, q = 3: ties make 60%
    w.check(f"top 0.001% by count(any) {last}", ["a", "b", "c"])
    w.check(f"top 60% by count(any) {last}", ["a", "b", "c"])  # rank 3, q = 3
    w.check(f"top 61% by count(any) {last}", ["a", "b", "c", "d"])  # rank ceil(3.05) = 4, q = 1
    w.check(f"top 80% by count(any) {last}", ["a", "b", "c", "d"])
    w.check(f"top 100% by count(any) {last}", ["a", "b", "c", "d"])  # q = 0, but M > 0 is required
    w.check(f"top 100% by active_days(any) {last}", ["a", "b", "c", "d"])


@pytest.mark.parametrize("percent", [7, 14, 28, 55])
def test_percentile_rank_uses_the_decimal_value_of_p(world: Any, percent: int) -> None:
    """N = 100: rank ceil(P/100 * 100) is exactly P, although P / 100 * 100 > P in floats."""
    assert percent / 100 * 100 > percent  # the float trap this test is about
    users = [f"u{i:02d}" for i in range(100)]
    events = [ev(u, "E", T - 1 * H) for u in users]  # everyone: 1
    events += [ev(u, "E", T - 2 * H) for u in users[:percent]]  # the first P users: 2
    w = world(events)
    # rank P → q = 2 → exactly the first P users; rank P + 1 would give q = 1, i.e. everyone
    w.check(f"top {percent}% by count(any)", users[:percent])


def test_percentile_by_sum_with_negative_and_missing_values(world: Any) -> None:
    w = world(
        [
            ev("a", "Buy", T - 1 * H, amount=5.25),
            ev("a", "Buy", T - 2 * H, amount=-1.25),  # a: 4.0
            ev("b", "Buy", T - 1 * H, amount=4),  # b: 4.0 (tie with a)
            ev("c", "Buy", T - 1 * H, amount=-3.5),  # c: negative
            ev("d", "Buy", T - 1 * H),  # d: no amount → 0
            ev("e", "View", T - 1 * H, amount=100.0),  # not a Buy
        ]
    )
    w.check('top 20% by sum(amount, "Buy")', ["a", "b"])
    w.check('top 100% by sum(amount, "Buy")', ["a", "b"])
    w.check('sum(amount, "Buy") > 0', ["a", "b"])
    w.check('sum(amount, "Buy") <= 0', ["c"])  # d has no value: not selected
    w.check('not sum(amount, "Buy") > 0', ["c", "d", "e"])
    w.check('avg(amount, "Buy") == 2', ["a"])
    w.check('min(amount, "Buy") < 0', ["a", "c"])
    w.check("max(amount, any) >= 100", ["e"])


def test_distinct_active_days_and_periods(world: Any) -> None:
    midnight = T - 12 * H  # T is 12:00 UTC
    w = world(
        [
            ev("a", "E", midnight - 1, area="x"),  # last ms of the previous UTC day
            ev("a", "E", midnight, area="y"),  # first ms of today
            ev("a", "E", midnight + 1, area="x"),
            ev("b", "E", midnight + 1 * H, area="x"),
            ev("b", "E", midnight + 2 * H),  # no area
            ev("c", "E", T - 1 * D),  # 1d periods: [T-1d, T) is period 0, so this is in it
            ev("c", "E", T - 1 * D - 1),  # period 1 = [T-2d, T-1d)
            ev("c", "E", T - 1),  # period 0
            ev("d", "Other", T - 1 * H),
        ]
    )
    w.check("active_days(any) >= 2", ["a", "c"])
    w.check("active_days(any) == 1", ["b", "d"])
    w.check('active_days("E") == 0', ["d"])
    w.check("active_periods(any, 1d) >= 2", ["c"])
    w.check("active_periods(any, 1d) == 1", ["a", "b", "d"])
    w.check("active_periods(any, 12h) >= 2", ["a", "c"])
    w.check('distinct(area, "E") == 2', ["a"])
    w.check('distinct(area, "E") == 1', ["b"])
    w.check('distinct(area, "E") < 1', ["c", "d"])  # no value counts 0


def test_first_did_looks_before_the_window(world: Any) -> None:
    w = world(
        [
            ev("old", "E", T - 30 * D),
            ev("old", "E", T - 1 * D),
            ev("new", "Other", T - 30 * D),
            ev("new", "E", T - 1 * D),
            ev("edge", "E", T - 7 * D),
            ev("filtered", "E", T - 30 * D, plan="free"),
            ev("filtered", "E", T - 2 * D, plan="pro"),
        ]
    )
    w.check('first did("E") in last 7d', ["edge", "new"])
    w.check('first did("E" where plan == "pro") in last 7d', ["filtered"])
    w.check('first did("E") between 30d ago and 7d ago', ["filtered", "old"])


FREE_TRIAL_AT_RISK = (
    'did("Session Start") < 2 within 7d of first did("Trial Started") in last 14d\n'
    'and not did("Subscription Started") in last 14d'
)


def test_seed_free_trial_at_risk(world: Any) -> None:
    """In the trial period (a 14-day trial started in the last 14 days, not converted), < 2 sessions
    in the trial's first 7 days (so far, for a trial younger than 7 days)."""
    TS, SS, P = "Trial Started", "Session Start", "Subscription Started"
    w = world(
        [
            ev("a", TS, T - 3 * D),  # trial 3 days old, 1 session → in
            ev("a", SS, T - 2 * D),
            ev("b", TS, T - 3 * D),  # 2 sessions → out
            ev("b", SS, T - 2 * D),
            ev("b", SS, T - 1 * D),
            ev("c", TS, T - 10 * D),  # 1 session in trial days 0-7, 3 after → in
            ev("c", SS, T - 9 * D),
            ev("c", SS, T - 2 * D),
            ev("c", SS, T - 2 * D + 1),
            ev("c", SS, T - 1 * D),
            ev("d", TS, T - 10 * D),  # the 2nd session exactly 7d after the start: not counted → in
            ev("d", SS, T - 10 * D),
            ev("d", SS, T - 3 * D),
            ev("e", TS, T - 15 * D),  # trial started before the last 14 days → out
            ev("f", TS, T - 14 * D),  # started exactly at the window start, no session → in
            ev("g", TS, T - 5 * D),  # converted → out
            ev("g", P, T - 1 * D),
            ev("h", SS, T - 2 * D),  # no trial at all → out
            ev("i", TS, T - 40 * D),  # first trial long ago, a second one recently → out (first counts)
            ev("i", TS, T - 2 * D),
            ev("j", TS, T - 1 * D),  # session at T does not exist yet → in
            ev("j", SS, T - 1 * H),
            ev("j", SS, T),
            ev("k", TS, T),  # trial starts at T → out
        ]
    )
    w.check(FREE_TRIAL_AT_RISK, ["a", "c", "d", "f", "j"])
    # a day later: f's trial start leaves the 14 days, j's session at T counts (2 sessions),
    # k's trial (started at T) exists, without a session
    w.check(FREE_TRIAL_AT_RISK, ["a", "c", "d", "k"], as_of=T + 1 * D)
