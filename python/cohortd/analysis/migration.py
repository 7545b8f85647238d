"""Segment migration: how users move between cohorts from one instant to the next.

For a set of cohorts (saved names or definitions, typically exclusive lifecycle
segments) and two instants A < B, the transition matrix counts, for each pair
(X at A, Y at B), the users in X at A and in Y at B, and their share of X's
users at A.  Two extra rows and one extra column make it complete:
``(none)`` (known at that instant, in none of the cohorts) and, as a row,
``(new)`` (not yet known at A: first event in [A, B)).  A user in several
cohorts at one instant is counted in each; ``overlaps`` says how many were, so
a set that is not exclusive is visible (the CLI warns).  A series (``step``)
is the list of matrices between consecutive instants A, A + step, ... <= B;
``1mo`` steps are calendar months (UTC).

Every set is a roaring bitmap from the normal evaluation path (saved cohorts
through the result cache), each instant evaluated once, so a 5x5 matrix over
12 steps is 13 x 5 evaluations and 12 x 42 intersection counts.

``migration_entries`` answers the other question from the change log: the
entries into one saved cohort of the set over a period, broken down by which
cohorts of the set the user was in just before entering.  The change log is in
memory and bounded, so the answer says how far back it reaches.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pyroaring import BitMap

from cohortd.errors import DefinitionError

__all__ = [
    "NEW",
    "NONE",
    "MigrationEntries",
    "MigrationMethods",
    "TransitionMatrix",
    "instants",
    "transition",
]

NONE = "(none)"
NEW = "(new)"
MAX_INSTANTS = 1_000
_MONTHS = re.compile(r"\s*(\d+)\s*mo\s*")


@dataclass(frozen=True)
class Cell:
    """Users in ``source`` at the first instant and ``target`` at the second."""

    source: str
    target: str
    users: int
    share: float | None  # of the source's users at the first instant (None: it had none)


@dataclass(frozen=True)
class TransitionMatrix:
    cohorts: list[str]
    from_ms: int
    to_ms: int
    cells: list[Cell]
    sizes_from: dict[str, int]
    sizes_to: dict[str, int]
    overlap_from: int  # users in several cohorts of the set at the first instant
    overlap_to: int

    @property
    def exclusive(self) -> bool:
        return self.overlap_from == 0 and self.overlap_to == 0

    def to_dict(self, iso: Callable[[int], str]) -> dict[str, Any]:
        """The JSON shape of the issue: cohorts, from, to, matrix, overlaps."""
        return {
            "cohorts": self.cohorts,
            "from": iso(self.from_ms),
            "to": iso(self.to_ms),
            "matrix": [
                {"from": c.source, "to": c.target, "users": c.users, "share": c.share} for c in self.cells
            ],
            "overlaps": {"from": self.overlap_from, "to": self.overlap_to, "exclusive": self.exclusive},
            "sizes": {"from": self.sizes_from, "to": self.sizes_to},
        }


@dataclass(frozen=True)
class MigrationEntries:
    """Entries into ``cohort`` in ``[since, until)`` by the cohorts of the set the user was in just before."""

    cohort: str
    cohorts: list[str]
    since_ms: int | None
    until_ms: int | None
    entries: int
    came_from: dict[str, int] = field(default_factory=dict)  # cohort (or (none)) -> users
    log_from_ms: int = 0  # the change log reaches back to here; earlier entries are not counted


def _several(sets: Sequence[BitMap]) -> BitMap:
    seen, several = BitMap(), BitMap()
    for s in sets:
        several |= seen & s
        seen |= s
    return several


def transition(
    names: Sequence[str], at_a: Sequence[BitMap], known_a: BitMap, at_b: Sequence[BitMap], known_b: BitMap,
    from_ms: int, to_ms: int,
) -> TransitionMatrix:  # fmt: skip
    """The matrix from the cohorts' members at A and B and the users known at A and B."""
    rows = [
        *zip(names, at_a, strict=True),
        (NONE, known_a - BitMap.union(BitMap(), *at_a)),
        (NEW, known_b - known_a),
    ]
    cols = [*zip(names, at_b, strict=True), (NONE, known_b - BitMap.union(BitMap(), *at_b))]
    cells = []
    for source, x in rows:
        n = len(x)
        for target, y in cols:
            users = x.intersection_cardinality(y)
            cells.append(Cell(source, target, users, users / n if n else None))
    return TransitionMatrix(
        list(names), from_ms, to_ms, cells,
        {k: len(v) for k, v in rows}, {k: len(v) for k, v in cols},
        len(_several(at_a)), len(_several(at_b)),
    )  # fmt: skip


def _add_months(ms: int, months: int) -> int:
    d = datetime.fromtimestamp(ms / 1000, tz=UTC)
    total = d.month - 1 + months
    year, month = d.year + total // 12, total % 12 + 1
    day = min(d.day, calendar.monthrange(year, month)[1])
    return int(d.replace(year=year, month=month, day=day).timestamp() * 1000)


def instants(from_ms: int, to_ms: int, step: str | None) -> list[int]:
    """A, A + step, ... up to B (and B itself when no step is given)."""
    if to_ms <= from_ms:
        raise DefinitionError("the migration's 'to' instant must be after its 'from' instant")
    if not step:
        return [from_ms, to_ms]
    m = _MONTHS.fullmatch(step)
    if m:
        months = int(m.group(1))
        if months <= 0:
            raise DefinitionError(f"step {step!r}: must be positive")
        nxt: Callable[[int, int], int] = lambda _t, i: _add_months(from_ms, i * months)  # noqa: E731
    else:
        from cohortd.lang.parser import parse_duration

        step_ms = parse_duration(step).ms
        nxt = lambda _t, i: from_ms + i * step_ms  # noqa: E731
    out = [from_ms]
    while True:
        t = nxt(out[-1], len(out))
        if t > to_ms:
            break
        out.append(t)
        if len(out) > MAX_INSTANTS:
            raise DefinitionError(f"more than {MAX_INSTANTS} instants: use a longer step")
    if len(out) < 2:
        raise DefinitionError(f"step {step!r} is longer than the range: no transition to show")
    return out


class MigrationMethods:
    """``Project.migration`` and ``Project.migration_entries`` (mixed into ``Project``)."""

    engine: Any
    maintainer: Any

    def _migration_sets(self, cohorts: Sequence[str], as_of: int) -> list[BitMap]:
        out = []
        for c in cohorts:
            saved = c in self._saved  # type: ignore[attr-defined]
            result = self.evaluate(name=c, as_of=as_of) if saved else self.evaluate(definition=c, as_of=as_of)  # type: ignore[attr-defined]
            out.append(result.bitmap)
        return out

    def migration(
        self, cohorts: Sequence[str], from_ms: int, to_ms: int, step: str | None = None
    ) -> list[TransitionMatrix]:
        """The transition matrices between consecutive instants (one matrix without ``step``)."""
        names = list(cohorts)
        if not names:
            raise DefinitionError("migration needs at least one cohort")
        if len(set(names)) != len(names):
            raise DefinitionError("migration: a cohort is named twice")
        times = instants(from_ms, to_ms, step)
        sets = [self._migration_sets(names, t) for t in times]
        known = [self.engine.known_users(t) for t in times]
        return [
            transition(names, sets[i], known[i], sets[i + 1], known[i + 1], times[i], times[i + 1])
            for i in range(len(times) - 1)
        ]

    def migration_entries(
        self, cohorts: Sequence[str], into: str, since_ms: int | None = None, until_ms: int | None = None
    ) -> MigrationEntries:
        """Entries into the saved cohort ``into`` by the set's cohorts each user came from (change log)."""
        names = list(dict.fromkeys([*cohorts, into]))
        for c in names:
            if c not in self._saved:  # type: ignore[attr-defined]
                raise DefinitionError(
                    f"{c!r}: entries come from the change log, which only saved cohorts have"
                )
        m = self.maintainer
        with m.lock:  # one consistent picture: current members and the log up to them
            state = {c: BitMap(m.membership(c).members) if m.membership(c) else BitMap() for c in names}
            log = m.changes(names, m.log_floor)
            floor = m.log_floor
        came_from = {c: 0 for c in names if c != into}
        came_from[NONE] = 0
        entries = 0
        # Undo the log newest first, one maintenance step (same time) at a time, so "just before"
        # means before the step: a move from X to Y within one step counts as from X.
        steps: dict[int, list[Any]] = {}
        for change in log:
            steps.setdefault(change.time_ms, []).append(change)
        for time_ms in sorted(steps, reverse=True):
            group = steps[time_ms]
            for change in reversed(group):
                s = state[change.cohort]
                state[change.cohort] = (s - change.entered) | change.exited
            if (since_ms is not None and time_ms < since_ms) or (
                until_ms is not None and time_ms >= until_ms
            ):
                continue
            for change in group:
                if change.cohort != into:
                    continue
                for u in change.entered:
                    entries += 1
                    before = [c for c in names if c != into and u in state[c]]
                    for c in before:
                        came_from[c] += 1
                    if not before:
                        came_from[NONE] += 1
        return MigrationEntries(into, names, since_ms, until_ms, entries, came_from, floor // 1000)
