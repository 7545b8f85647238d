"""Plain answers built from the service layer, shared by the JSON API and the console pages.

Nothing here computes an analysis: each function calls the embedded
``Project`` and reshapes what it returns.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from cohortd.errors import InvalidArgumentError
from cohortd.http import models as m
from cohortd.service import Project, Workspace
from cohortd.times import DAY_MS

MERGE_JACCARD = 0.8
"""Pairs of cohorts at least this similar are suggested for merging."""
MAX_SERIES_POINTS = 120


def open_project(workspace: Workspace, name: str) -> Project:
    """An existing project (the HTTP API never creates one: that happens on first ingest)."""
    return workspace.project(name, create=False)


def as_of_value(value: int | str | None) -> int | str | None:
    """A query parameter's as-of: digits are epoch ms, anything else ISO-8601 text."""
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return value


def cohort_out(rec: Any) -> m.CohortOut:
    return m.CohortOut(**dataclasses.asdict(rec))


def warnings_out(warnings: list[Any]) -> list[m.LintWarningOut]:
    return [m.LintWarningOut(code=w.code, message=w.message) for w in warnings]


def overlap(project: Project, cohorts: list[str], as_of: int | str | None) -> m.OverlapOut:
    """Pairwise overlap of ``cohorts`` (all non-archived saved cohorts when empty), with merge suggestions."""
    names = cohorts or [r.name for r in project.list_cohorts()]
    if not names:
        return m.OverlapOut(
            names=[], sizes=[], intersections=[], jaccard=[], as_of_ms=_now_ms(), merge_suggestions=[]
        )
    o = project.overlap(names, as_of)
    suggestions = [
        m.MergeSuggestion(a=o.names[i], b=o.names[j], jaccard=o.jaccard[i][j])
        for i in range(len(o.names))
        for j in range(i + 1, len(o.names))
        if o.jaccard[i][j] >= MERGE_JACCARD and o.names[i] != o.names[j]
    ]
    suggestions.sort(key=lambda s: -s.jaccard)
    return m.OverlapOut(
        names=o.names,
        sizes=o.sizes,
        intersections=o.intersections,
        jaccard=o.jaccard,
        as_of_ms=o.as_of_ms or 0,  # always set by the service layer
        merge_suggestions=suggestions,
    )


def related(project: Project, cohort: str, others: list[str]) -> list[dict[str, Any]]:
    """The cohort's overlap now with each other cohort, most similar first (one intersection per pair)."""
    rows = []
    for other in others:
        o = project.overlap([cohort, other])
        rows.append(
            {"name": other, "size": o.sizes[1], "shared": o.intersections[0][1], "jaccard": o.jaccard[0][1]}
        )
    return sorted(rows, key=lambda r: -r["jaccard"])


def _now_ms() -> int:
    return int(time.time() * 1000)


def _midnights(days: int, step_days: int) -> list[int]:
    if days < 1 or step_days < 1:
        raise InvalidArgumentError("days and step_days must be at least 1")
    if days // step_days + 1 > MAX_SERIES_POINTS:
        raise InvalidArgumentError(f"at most {MAX_SERIES_POINTS} points (days / step_days)")
    now = _now_ms()
    midnight = now - now % DAY_MS
    return [midnight - k * DAY_MS for k in range(days - 1, -1, -step_days)]


def size_series(project: Project, cohort: str, days: int, step_days: int = 1) -> m.SizesOut:
    """The saved cohort's size at each UTC midnight of the last ``days`` days, and now.

    The midnights come from the population series (``Project.population``:
    exact as-of evaluations in one pass, answered from the cohort's recorded
    daily sizes once they exist); the last point is the maintained size now.
    """
    times = _midnights(days, step_days)
    series = project.population(cohort, start=times[0], end=times[-1], step=f"{step_days}d")
    points = [m.SizePoint(time_ms=pt.as_of_ms, size=pt.size) for pt in series.points]
    current = project.evaluate(cohort)
    points.append(m.SizePoint(time_ms=current.as_of_ms, size=current.size))
    return m.SizesOut(cohort=cohort, points=points)


def catalog_sizes(project: Project, rec: Any, days: int) -> tuple[int, list[int]]:
    """(size now, sizes at the last ``days`` midnights) for the catalog, without stamping a view.

    Listing the catalog is not reading the cohort: last-viewed (the audit's
    "never read") must not move each time someone opens the list.  The daily
    points come from the population series, which records each cohort's daily
    sizes, so later loads read them back instead of evaluating again.
    """
    now = project._evaluate_saved(rec.name, viewed=False)
    if rec.archived:
        return now.size, []
    times = _midnights(days, 1)
    series = project.population(rec.name, start=times[0], end=times[-1], step="1d", viewed=False)
    return now.size, [*(pt.size for pt in series.points), now.size]


def last_viewed(project: Project, name: str) -> int | None:
    """When a person last read the cohort (know-your-data's stamp)."""
    return project.know.stats.last_viewed(name)


def members_page(
    project: Project, cohort: str, offset: int, limit: int, as_of: int | str | None
) -> m.MembersOut:
    """One page of members in first-seen (dense id) order: no sort of the whole cohort per page."""
    if offset < 0 or not 0 < limit <= 10_000:
        raise InvalidArgumentError("offset must be >= 0 and limit in 1..10000")
    result = project.evaluate(cohort, as_of=as_of)
    page = result.bitmap[offset : offset + limit] if offset < len(result.bitmap) else []
    return m.MembersOut(
        cohort=cohort,
        total=result.size,
        offset=offset,
        members=project.engine.external_ids(page),
        as_of_ms=result.as_of_ms,
        version=result.version,
    )
