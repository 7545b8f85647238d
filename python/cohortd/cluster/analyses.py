"""Analyses on a cluster: each shard runs the analysis over its users, the router adds the counts.

Every analysis is per user (a user's events are all on one shard), so:

* **backtest**: group sizes and conversions add; lift, difference, CI and
  p-value are computed again from the sums (``analysis/stats.py``).
* **retention**: the starting users and the retained users of every period add.
* **funnel**: each shard sends its entrants' per-step times
  (``Project.funnel_parts``); the rows concatenate, so medians and p90s are
  the one-process ones.  Property splits merge by label before the 50 largest
  are picked.
* **journeys**: each shard counts every distinct path (not only its top ones);
  the counts add, and the router takes the top paths with the same tie-break
  (path text).  The "returned" and "did" shares add their users.
* **migration**: transition cells, sizes and overlaps add (a user's cohorts at
  both instants are decided on its shard); shares come from the sums.  Entries
  into a cohort (from the change logs) add, read from the latest point every
  shard's log reaches back to.

Not mergeable: personas (k-means is fitted over every user's features at
once), refused naming why.

Not mergeable: a population, outcome, baseline or split that involves a
``top P%`` percentile (the shards would each apply their local threshold, at
every date of the analysis); refused with ``NotInClusterError``.  As-of
defaults to the router's clock, so every shard answers at one instant.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cohortd.analysis import funnel as fn
from cohortd.analysis.migration import Cell, MigrationEntries, TransitionMatrix
from cohortd.analysis.results import (
    Backtest,
    BacktestRun,
    Group,
    JourneyPath,
    Journeys,
    JourneyShare,
    Retention,
    RetentionCurve,
    RetentionPoint,
    rate,
)
from cohortd.analysis.stats import two_proportions
from cohortd.cluster.face import ProjectFace
from cohortd.errors import DefinitionError, NotInClusterError

__all__ = ["ANALYSES", "ClusterAnalyses"]

ANALYSES = ("backtest", "retention", "funnel_parts", "journeys", "migration", "migration_entries")
"""The ``Project`` methods a shard runs for the router (``ShardActor.analysis``)."""

ALL_PATHS = 2**31 - 1
"""``top`` sent to the shards for journeys: every distinct path, so the counts can add."""


class ClusterAnalyses(ProjectFace):
    """Backtest, retention, funnel and journeys of a cluster project (mixed into ``ClusterProject``)."""

    def _on_shards(self, method: str, args: tuple[Any, ...], kw: dict[str, Any]) -> list[Any]:
        """Run ``Project.<method>`` on every shard; the answers in shard order."""
        answers = self.shards.all("analysis", self.name, method, args, kw)
        return [answers[s] for s in range(self.shards.count)]

    def _local_only(self, *targets: tuple[str | None, Any]) -> None:
        """Refuse populations with a percentile: their threshold is global, not per shard."""
        for name, definition in targets:
            if (name is not None or definition is not None) and self._tops(name, definition):
                what = repr(name) if name is not None else "the definition"
                raise NotInClusterError(
                    f"{what} has a top P% condition: analyses on a cluster are summed per shard, and "
                    "each shard would apply its own percentile threshold (not mergeable yet)"
                )

    def _now(self, as_of: Any) -> Any:
        return self._clock() if as_of is None else as_of

    # ------------------------------------------------------------ backtest
    def backtest(
        self,
        cohort: str | None = None,
        definition: Any = None,
        **kw: Any,
    ) -> Backtest:
        """Per-shard backtests; sizes and conversions add, the statistics come from the sums."""
        self._local_only(
            (cohort, definition),
            (None, kw.get("outcome") or None),
            (kw.get("baseline_cohort"), kw.get("baseline_definition")),
        )
        parts: list[Backtest] = self._on_shards("backtest", (cohort, definition), kw)
        runs = []
        for shard_runs in zip(*(p.runs for p in parts), strict=True):
            first = shard_runs[0]
            mine = _group_sum([r.cohort for r in shard_runs])
            theirs = _group_sum([r.baseline for r in shard_runs])
            stats = two_proportions(mine.converted, mine.size, theirs.converted, theirs.size)
            warnings = tuple(dict.fromkeys(w for r in shard_runs for w in r.warnings))
            runs.append(
                BacktestRun(
                    first.as_of_ms,
                    first.horizon,
                    mine,
                    theirs,
                    stats.lift,
                    stats.difference,
                    stats.ci95,
                    stats.p_value,
                    first.baseline_kind,
                    first.test,
                    warnings,
                )  # fmt: skip
            )
        return Backtest(runs)

    # ----------------------------------------------------------- retention
    def retention(self, start_event: Any, return_event: Any, start: Any, end: Any, **kw: Any) -> Retention:
        """Per-shard curves; starting and retained users add per period."""
        self._local_only(
            (kw.get("cohort"), kw.get("definition")),
            (kw.get("baseline_cohort"), kw.get("baseline_definition")),
        )
        kw["as_of"] = self._now(kw.get("as_of"))
        parts: list[Retention] = self._on_shards("retention", (start_event, return_event, start, end), kw)
        first = parts[0]
        baseline = None
        if first.baseline is not None:
            baseline = _curve_sum([p.baseline for p in parts if p.baseline is not None])
        population = _curve_sum([p.population for p in parts])
        return Retention(first.period, first.mode, population, baseline, first.as_of_ms)

    # -------------------------------------------------------------- funnel
    def funnel(self, steps: Sequence[Any], start: Any, end: Any, **kw: Any) -> Any:
        """Per-shard entrant rows, concatenated, then summarised as in one process."""
        self._local_only(
            (kw.get("cohort"), kw.get("definition")), (kw.get("split_cohort"), kw.get("split_definition"))
        )
        prop = kw.get("split_property")
        if prop and prop not in self.engine.store.user_schema:  # one process's error; else per shard
            raise DefinitionError(f"no user property named {prop!r}")
        kw["as_of"] = self._now(kw.get("as_of"))
        parts: list[fn.FunnelParts] = self._on_shards("funnel_parts", (list(steps), start, end), kw)
        return fn.FunnelParts.merge(parts).summary()

    # ------------------------------------------------------------ journeys
    def journeys(self, anchor: Any, start: Any, end: Any, **kw: Any) -> Journeys:
        """Per-shard path counts (every path), added; the top paths picked from the sums."""
        self._local_only((kw.get("cohort"), kw.get("definition")))
        kw["as_of"] = self._now(kw.get("as_of"))
        top = int(kw.get("top", 10))
        parts: list[Journeys] = self._on_shards("journeys", (anchor, start, end), kw | {"top": ALL_PATHS})
        first = parts[0]
        users = sum(p.users for p in parts)
        returned = None
        if first.returned is not None:
            returned = _share_sum([p.returned for p in parts if p.returned is not None], users)
        did = [_share_sum(list(shares), users) for shares in zip(*(p.did for p in parts), strict=True)]
        return Journeys(
            first.anchor,
            users,
            _top_paths([p.after for p in parts], users, top),
            _top_paths([p.before for p in parts], users, top),
            first.as_of_ms,
            returned,
            did,
        )

    # ----------------------------------------------------------- migration
    def _saved_or_definition(self, cohorts: Sequence[str]) -> None:
        for c in cohorts:
            saved = c in {r.name for r in self.catalog.list(True)}
            self._local_only((c, None) if saved else (None, c))

    def migration(
        self, cohorts: Sequence[str], from_ms: int, to_ms: int, step: str | None = None
    ) -> list[TransitionMatrix]:
        """Per-shard transition matrices; cells, sizes and overlaps add, shares from the sums."""
        self._saved_or_definition(cohorts)
        parts: list[list[TransitionMatrix]] = self._on_shards(
            "migration", (list(cohorts), from_ms, to_ms, step), {}
        )
        return [_matrix_sum(list(ms)) for ms in zip(*parts, strict=True)]

    def migration_entries(
        self, cohorts: Sequence[str], into: str, since_ms: int | None = None, until_ms: int | None = None
    ) -> MigrationEntries:
        """Entries into ``into`` by where each user came from, added over the shards' change logs."""
        self._saved_or_definition([*cohorts, into])
        parts: list[MigrationEntries] = self._on_shards(
            "migration_entries", (list(cohorts), into, since_ms, until_ms), {}
        )
        reach = max(p.log_from_ms for p in parts)
        if any(p.log_from_ms != reach for p in parts):  # count only what every shard's log holds
            since = reach if since_ms is None else max(since_ms, reach)
            parts = self._on_shards("migration_entries", (list(cohorts), into, since, until_ms), {})
        came_from = {c: sum(p.came_from.get(c, 0) for p in parts) for c in parts[0].came_from}
        first = parts[0]
        return MigrationEntries(
            first.cohort, first.cohorts, since_ms, until_ms, sum(p.entries for p in parts), came_from, reach
        )

    # ------------------------------------------------------------ personas
    def personas(self, *args: Any, **kw: Any) -> Any:
        raise NotInClusterError(
            "personas are not available on a cluster: the k-means groups are fitted over every "
            "user's features at once, which per-shard answers cannot add up to (not mergeable)"
        )


def _matrix_sum(matrices: Sequence[TransitionMatrix]) -> TransitionMatrix:
    first = matrices[0]
    sizes_from = {k: sum(m.sizes_from[k] for m in matrices) for k in first.sizes_from}
    sizes_to = {k: sum(m.sizes_to[k] for m in matrices) for k in first.sizes_to}
    cells = []
    for shard_cells in zip(*(m.cells for m in matrices), strict=True):
        c = shard_cells[0]
        users = sum(x.users for x in shard_cells)
        n = sizes_from[c.source]
        cells.append(Cell(c.source, c.target, users, users / n if n else None))
    return TransitionMatrix(
        first.cohorts, first.from_ms, first.to_ms, cells, sizes_from, sizes_to,
        sum(m.overlap_from for m in matrices), sum(m.overlap_to for m in matrices),
    )  # fmt: skip


def _group_sum(groups: Sequence[Group]) -> Group:
    return Group(sum(g.size for g in groups), sum(g.converted for g in groups))


def _curve_sum(curves: Sequence[RetentionCurve]) -> RetentionCurve:
    points = [
        RetentionPoint(p[0].period, sum(x.users for x in p), sum(x.retained for x in p))
        for p in zip(*(c.curve for c in curves), strict=True)
    ]
    return RetentionCurve(sum(c.users for c in curves), points)


def _share_sum(shares: Sequence[JourneyShare], total: int) -> JourneyShare:
    users = sum(s.users for s in shares)
    return JourneyShare(shares[0].what, users, rate(users, total))


def _top_paths(per_shard: Sequence[Sequence[JourneyPath]], total: int, top: int) -> list[JourneyPath]:
    """The ``top`` paths by users over every shard, ties by path text (as ``journeys.top_paths``)."""
    counts: dict[tuple[str, ...], int] = {}
    for paths in per_shard:
        for p in paths:
            counts[tuple(p.path)] = counts.get(tuple(p.path), 0) + p.users
    if total == 0 or top <= 0:
        return []
    order = sorted(counts, key=lambda path: (-counts[path], list(path)))[:top]
    return [JourneyPath(list(path), counts[path], counts[path] / total) for path in order]
