"""Slow, obviously-correct references of the analyses (issue 12), over plain event dicts.

Events are ``{"user_id", "event_type", "time", <props>}``; an event reference
matches through the oracle's ``event_matches``.  Every function loops over
users and their events; no sorting tricks, no kernels.  Used by the
kernel, analysis and peer tests.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from itertools import product
from typing import Any

from cohortd.lang import ast as A

from support.oracle import event_matches

Event = Mapping[str, Any]
END = "(end)"


def users_of(events: Iterable[Event]) -> list[str]:
    return sorted({e["user_id"] for e in events})


def first_in(events: Iterable[Event], user: str, ref: A.EventRef, lo: int, hi: int) -> int | None:
    """The user's earliest matching event time in ``[lo, hi)``."""
    times = [
        e["time"] for e in events if e["user_id"] == user and lo <= e["time"] < hi and event_matches(ref, e)
    ]
    return min(times) if times else None


def retention(
    events: list[Event],
    start: A.EventRef,
    back: A.EventRef,
    lo: int,
    hi: int,
    T: int,
    P: int,
    periods: int,
    population: set[str] | None = None,
    unbounded: bool = False,
) -> tuple[int, list[tuple[int, int]]]:
    """(users with a start, [(users, retained) per period])."""
    counts = [[0, 0] for _ in range(periods)]
    started = 0
    for user in users_of(events):
        if population is not None and user not in population:
            continue
        s = first_in(events, user, start, lo, min(hi, T))
        if s is None:
            continue
        started += 1
        returns = [
            e["time"] for e in events if e["user_id"] == user and e["time"] < T and event_matches(back, e)
        ]
        for k in range(periods):
            if s + (k + 1) * P > T:
                continue  # period not over yet: out of the denominator
            counts[k][0] += 1
            if unbounded:
                hit = any(t >= s + k * P for t in returns)
            else:
                hit = any(s + k * P <= t < s + (k + 1) * P for t in returns)
            counts[k][1] += hit
    return started, [(u, r) for u, r in counts]


def funnel_times(
    events: list[Event], steps: list[A.EventRef], lo: int, hi: int, T: int, window: int
) -> dict[str, list[int | None]]:
    """Entrant → per-step shortest ek - e1 over every valid chain (brute force), None if not reached."""
    out = {}
    for user in users_of(events):
        mine = [e for e in events if e["user_id"] == user and e["time"] < T]
        lists = [sorted({e["time"] for e in mine if event_matches(ref, e)}) for ref in steps]
        entries = [t for t in lists[0] if lo <= t < min(hi, T)]
        if not entries:
            continue
        best: list[int | None] = [0] + [None] * (len(steps) - 1)
        for k in range(2, len(steps) + 1):
            for chain in product(entries, *lists[1:k]):
                if all(a < b for a, b in zip(chain, chain[1:], strict=False)) and (
                    window < 0 or chain[-1] - chain[0] <= window
                ):
                    span = chain[-1] - chain[0]
                    if best[k - 1] is None or span < best[k - 1]:
                        best[k - 1] = span
        out[user] = best
    return out


def nearest_rank(values: list[int], q: float) -> int | None:
    if not values:
        return None
    values = sorted(values)
    return values[max(1, math.ceil(q * len(values))) - 1]


def funnel_steps(times: dict[str, list[int | None]], n_steps: int) -> list[dict[str, Any]]:
    """Per-step users, conversions and nearest-rank median/p90 of the shortest times."""
    entered = len(times)
    rows, previous = [], entered
    for j in range(n_steps):
        reached = [t[j] for t in times.values() if t[j] is not None]
        rows.append(
            {
                "users": len(reached),
                "from_previous": len(reached) / previous if previous else None,
                "from_entry": len(reached) / entered if entered else None,
                "median_ms": None if j == 0 else nearest_rank(reached, 0.5),
                "p90_ms": None if j == 0 else nearest_rank(reached, 0.9),
            }
        )
        previous = len(reached)
    return rows


def _collapse(types: list[str], keep_repeats: bool) -> list[str]:
    out: list[str] = []
    for t in types:
        if keep_repeats or not out or out[-1] != t:
            out.append(t)
    return out


def journeys(
    events: list[Event],
    anchor: A.EventRef,
    lo: int,
    hi: int,
    T: int,
    before: int,
    after: int,
    depth: int,
    keep_repeats: bool = False,
    population: set[str] | None = None,
) -> tuple[dict[str, int], dict[tuple[str, ...], int], dict[tuple[str, ...], int]]:
    """(anchor time per user, after-path counts, before-path counts)."""
    anchors: dict[str, int] = {}
    after_paths: dict[tuple[str, ...], int] = {}
    before_paths: dict[tuple[str, ...], int] = {}
    for user in users_of(events):
        if population is not None and user not in population:
            continue
        a = first_in(events, user, anchor, lo, min(hi, T))
        if a is None:
            continue
        anchors[user] = a
        mine = sorted(
            ((e["time"], e["event_type"]) for e in events if e["user_id"] == user and e["time"] < T),
        )
        nxt = _collapse([y for t, y in mine if a < t <= a + after], keep_repeats)[:depth]
        prev = _collapse([y for t, y in mine if a - before <= t < a], keep_repeats)[-depth:]
        a_path = tuple(nxt + [END] if len(nxt) < depth else nxt)
        b_path = tuple([END] + prev if len(prev) < depth else prev)
        after_paths[a_path] = after_paths.get(a_path, 0) + 1
        before_paths[b_path] = before_paths.get(b_path, 0) + 1
    return anchors, after_paths, before_paths


def did_within(events: list[Event], anchors: dict[str, int], ref: A.EventRef, within: int, T: int) -> int:
    """Anchored users with a matching event in ``(anchor, anchor + within]`` before T."""
    return sum(
        any(
            e["user_id"] == user and a < e["time"] <= a + within and e["time"] < T and event_matches(ref, e)
            for e in events
        )
        for user, a in anchors.items()
    )
