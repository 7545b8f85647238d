"""Journeys: around each user's first anchor event in ``[from, to)``, the top K paths of
the next ``depth`` event types within ``after`` and the previous ``depth``
within ``before``.

Decisions: after means ``anchor < t <= anchor + after`` (and ``t < T``),
before means ``anchor - before <= t < anchor``; events at exactly the anchor's
time are in neither.  Events at the same time are ordered by event type name.
Consecutive repeats of a type collapse to one unless ``keep_repeats``.  A
path shorter than ``depth`` gets ``"(end)"`` where the user's events run out:
last in an after-path, first in a before-path (paths read in time order).
Ties in the top K are broken by path text.  "Returned within D": another
anchor event in ``(anchor, anchor + D]``; "did X": an X event in the
after-window.  Paths come from one kernel pass over the segments that overlap
the windows (all event types, no per-event Python objects).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cohortd.analysis.results import END, JourneyPath, JourneyShare, rate
from cohortd.analysis.scope import NONE, end_at, only
from cohortd.engine.evaluate import Evaluation
from cohortd.errors import DefinitionError
from cohortd.lang import ast

MAX_DEPTH = 20

END_ID = np.uint32(2**32 - 1)


def anchors(
    ev: Evaluation, anchor: ast.EventRef, start: int, end: int, keep: np.ndarray | None
) -> np.ndarray:
    """Each user's first anchor event in ``[start, min(end, T))``, NONE outside ``keep``."""
    if start >= end:
        raise DefinitionError("the anchor range is empty (from must be before to)")
    end = end_at(end, ev.as_of)
    p = ev.parts(anchor, start, end)
    return only(ev.kernel.first_in_window(p.users, p.times, start, end, ev.n_users), keep)


def type_ranks(ev: Evaluation) -> np.ndarray:
    """rank[type id] = position of the type's name in sorted order (the tie-break at equal times)."""
    names = [ev.store.types.value(i) for i in range(len(ev.store.types))]
    rank = np.empty(len(names), np.uint32)
    rank[np.argsort(np.array(names, dtype=object), kind="stable")] = np.arange(len(names), dtype=np.uint32)
    return rank


def path_rows(
    ev: Evaluation, first: np.ndarray, before_ms: int, after_ms: int, depth: int, keep_repeats: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(anchored users, after rows, before rows nearest first) from the segments near any anchor."""
    if not 1 <= depth <= MAX_DEPTH:
        raise DefinitionError(f"depth must be between 1 and {MAX_DEPTH}, got {depth}")
    anchored = first[first != NONE]
    users, times, types = [], [], []
    if len(anchored):
        lo, hi = int(anchored.min()) - before_ms, int(anchored.max()) + after_ms
        for seg in ev.snap.segments:
            if seg.num_rows and seg.max_time >= lo and seg.min_time <= hi and seg.min_time < ev.as_of:
                users.append(seg.users)
                times.append(seg.times)
                types.append(seg.types)
    return ev.kernel.journeys(
        first, users, times, types, type_ranks(ev), before_ms, after_ms, depth, keep_repeats, ev.as_of
    )


def top_paths(ev: Evaluation, rows: np.ndarray, depth: int, top: int, before: bool) -> list[JourneyPath]:
    """The ``top`` most common rows as paths of names, with users and share of the anchored users."""
    total = rows.shape[0]
    if total == 0 or top <= 0:
        return []
    first, counts = _distinct_rows(rows)
    # names only for the rows that can make the top (ties at the cut are broken by path text)
    cut = np.sort(counts)[::-1][min(top, len(counts)) - 1]
    candidates = np.flatnonzero(counts >= cut)
    paths = {int(i): _names(ev, rows[first[i]], depth, before) for i in candidates}
    order = sorted(paths, key=lambda i: (-int(counts[i]), paths[i]))[:top]
    return [JourneyPath(paths[i], int(counts[i]), int(counts[i]) / total) for i in order]


def _distinct_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(index of one occurrence, count) of each distinct row: rows packed into one integer key
    when they fit in 63 bits (a 1-D sort), else a lexicographic sort of the columns."""
    codes = np.where(rows == END_ID, 0, rows.astype(np.int64) + 1)
    base = int(codes.max()) + 1
    if base ** rows.shape[1] < 2**63:
        keys = np.zeros(rows.shape[0], np.int64)
        for j in range(rows.shape[1]):
            keys = keys * base + codes[:, j]
        _, first, counts = np.unique(keys, return_index=True, return_counts=True)
        return first, counts
    order = np.lexsort(codes.T[::-1])
    ordered = codes[order]
    starts = np.concatenate(([True], np.any(ordered[1:] != ordered[:-1], axis=1)))
    at = np.flatnonzero(starts)
    return order[at], np.diff(np.append(at, len(order)))


def _names(ev: Evaluation, row: np.ndarray, depth: int, before: bool) -> list[str]:
    ids = row[row != END_ID]
    names = [ev.store.types.value(int(i)) for i in ids]
    if before:
        names.reverse()  # rows are nearest first; paths read in time order
        return [END, *names] if len(names) < depth else names
    return [*names, END] if len(names) < depth else names


def shares_after(
    ev: Evaluation, first: np.ndarray, events: Sequence[ast.EventRef], start: int, within_ms: int
) -> list[tuple[int, float | None]]:
    """(users, share) of anchored users with each event in ``(anchor, anchor + within]``."""
    total = int(np.count_nonzero(first != NONE))
    out = []
    for event in events:
        p = ev.parts(event, start, ev.as_of)
        nxt = ev.kernel.next_after(first, p.users, p.times, ev.as_of)
        hit = (nxt != NONE) & (first != NONE)
        hit[hit] = (nxt[hit] - first[hit]) <= within_ms
        users = int(np.count_nonzero(hit))
        out.append((users, rate(users, total)))
    return out


def share(what: str, users_share: tuple[int, float | None]) -> JourneyShare:
    return JourneyShare(what, users_share[0], users_share[1])
