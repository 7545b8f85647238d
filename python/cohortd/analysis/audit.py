"""``cohortd audit``: what is wrong with the saved cohorts as a whole.

Findings (each with a stable ``code``):

``stale-event``
    The cohort reads an event type that stopped arriving (see
    ``engine/lint.py``'s ``stale-event-type``): it will silently shrink.
``shrank``
    Its size now is more than ``shrink_percent`` % below its size
    ``SHRINK_DAYS`` (30) days ago, both evaluated exactly as of those times.
``never-read``
    No user read in ``unread_days`` (60) days (last viewed, or created when
    never viewed, is older).  Maintenance and lint do not count as reads.
``archived-referenced``
    An archived cohort that a non-archived cohort still reads through
    ``in_cohort``.
``similar``
    Two non-archived cohorts whose members now overlap by Jaccard >= 0.8
    (also listed as pairs in ``similar_pairs``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pyroaring import BitMap

from cohortd.engine.lint import JACCARD_THRESHOLD, jaccard
from cohortd.lang.ast import Expr, InCohort
from cohortd.lang.walk import event_refs
from cohortd.lang.walk import leaves as conditions
from cohortd.times import DAY_MS, iso_ms

__all__ = ["SHRINK_DAYS", "AuditCohort", "audit_report"]

SHRINK_DAYS = 30


@dataclass(frozen=True)
class AuditCohort:
    """What the audit needs to know about one saved cohort."""

    name: str
    expr: Expr
    archived: bool
    created_ms: int
    last_viewed_ms: int | None
    size_now: int | None = None  # None for archived cohorts (not evaluated)
    size_before: int | None = None
    members: BitMap | None = None


def audit_report(
    cohorts: list[AuditCohort],
    stale: dict[str, int],
    now_ms: int,
    latest_event_ms: int | None,
    *,
    shrink_percent: float = 20.0,
    unread_days: int = 60,
) -> dict[str, Any]:
    """The audit JSON document: ``{as_of, stale_event_types, findings, similar_pairs}``."""
    findings: list[dict[str, Any]] = []

    def add(cohort: str, code: str, message: str) -> None:
        findings.append({"cohort": cohort, "code": code, "message": message})

    referenced_by: dict[str, list[str]] = {}
    for c in cohorts:
        if c.archived:
            continue
        for cond, _ in conditions(c.expr):
            if isinstance(cond, InCohort):
                referenced_by.setdefault(cond.name, []).append(c.name)
    archived = {c.name for c in cohorts if c.archived}
    for c in sorted(cohorts, key=lambda c: c.name):
        refs = [r for cond, _ in conditions(c.expr) for r in event_refs(cond)]
        types = sorted({r.event_type for r in refs if r.event_type is not None})
        for et in types:
            if et in stale:
                add(c.name, "stale-event", f"reads {et!r}, which has not arrived since {iso_ms(stale[et])}")
        if not c.archived and c.size_now is not None and c.size_before:
            drop = 100.0 * (c.size_before - c.size_now) / c.size_before
            if drop > shrink_percent:
                add(
                    c.name,
                    "shrank",
                    f"shrank by {drop:.1f}% in {SHRINK_DAYS} days ({c.size_before:,} -> {c.size_now:,})",
                )
        seen = c.last_viewed_ms if c.last_viewed_ms is not None else c.created_ms
        if not c.archived and seen < now_ms - unread_days * DAY_MS:
            what = "never read" if c.last_viewed_ms is None else f"last read {iso_ms(c.last_viewed_ms)}"
            add(c.name, "never-read", f"no read in {unread_days} days ({what})")
        if c.name in archived and c.name in referenced_by:
            users = ", ".join(repr(n) for n in sorted(set(referenced_by[c.name])))
            add(c.name, "archived-referenced", f"archived but still read through in_cohort by {users}")
    live = sorted((c for c in cohorts if not c.archived and c.members is not None), key=lambda c: c.name)
    pairs = []
    for i, a in enumerate(live):
        for b in live[i + 1 :]:
            assert a.members is not None and b.members is not None
            score = jaccard(a.members, b.members)
            if score >= JACCARD_THRESHOLD:
                pairs.append({"a": a.name, "b": b.name, "jaccard": score})
                add(a.name, "similar", f"members overlap {b.name!r} by Jaccard {score:.2f}: consider merging")
    stale_rows = [
        {
            "name": name,
            "last_seen": iso_ms(ms),
            "days_silent": (latest_event_ms - ms) // DAY_MS if latest_event_ms is not None else None,
        }
        for name, ms in sorted(stale.items())
    ]
    return {
        "as_of": iso_ms(now_ms),
        "stale_event_types": stale_rows,
        "findings": findings,
        "similar_pairs": pairs,
    }
