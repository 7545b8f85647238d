"""Catalog governance: unarchive, rename, delete, a cap on active cohorts, authors and a changelog.

Service-layer operations on a :class:`~cohortd.service.Project` (its
catalog, its maintained cohorts and its result cache); the gRPC
``Governance`` service, the SDK and ``cohortd cohort ...`` call these.

Decisions (``docs/governance.md``):

- **Rename follows references.** Every saved cohort (archived ones too) whose
  definition says ``in_cohort("old")`` is rewritten to ``in_cohort("new")``,
  as a new version noting the rename, in the same transaction as the rename
  itself (which also adds a version to the renamed cohort), so no definition
  ever names a cohort that does not exist.  A rename is refused while an
  audience delivers the cohort (the audience names it).
- **Delete is refused while referenced**: by another saved cohort's
  ``in_cohort`` (archived ones included, since they still resolve) or by an
  audience.  The error names every referrer (``ReferencedError``,
  FAILED_PRECONDITION).  Deleting removes the cohort and its history.
- **Cap.** ``Project.max_active_cohorts`` (``Workspace(max_active_cohorts=N)``,
  ``cohortd serve --max-active-cohorts N``; None = no cap) bounds the
  non-archived cohorts: creating or unarchiving past it raises
  ``LimitExceededError`` (RESOURCE_EXHAUSTED) saying how to make room.
- **Authors.** Each version records who made it: :data:`AUTHOR` is set by the
  gRPC authentication interceptor to the API key's name for the duration of
  a call (empty without keys or embedded).
- **Changelog.** ``history`` gives every version with author, time, note and
  a unified diff of the canonical definition text (and of the description)
  against the previous version.
"""

from __future__ import annotations

import difflib
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cohortd.errors import LimitExceededError, ReferencedError
from cohortd.lang import ast as A
from cohortd.lang import walk
from cohortd.lang.printer import to_text

if TYPE_CHECKING:
    from cohortd.service import Project
    from cohortd.storage.catalog import CohortRecord

AUTHOR: ContextVar[str] = ContextVar("cohortd_author", default="")
"""Who is making catalog changes in this context (the API key's name over gRPC)."""


@dataclass(frozen=True)
class VersionChange:
    """One version of a cohort and what changed from the previous one."""

    version: int
    time_ms: int
    author: str
    note: str
    definition: str
    description: str
    definition_diff: str  # unified diff of the canonical text; empty when unchanged
    description_diff: str


def author() -> str:
    """The author of changes made now (empty when unknown)."""
    return AUTHOR.get()


def check_cap(project: Project, adding: int = 1) -> None:
    """Refuse a change that would put the project past its cap on active cohorts."""
    cap = getattr(project, "max_active_cohorts", None)
    if cap is None:
        return
    active = project.catalog.count_active()
    if active + adding > cap:
        raise LimitExceededError(
            f"project {project.name!r} has {active} active cohorts and its cap is {cap}: "
            "archive or delete one first"
        )


def renamed(expr: A.Expr, old: str, new: str) -> A.Expr:
    """``expr`` with every ``in_cohort(old)`` turned into ``in_cohort(new)`` (inside account
    cohorts' user conditions too: the references :func:`referrers` finds are the ones rewritten)."""

    def rename(node: A.Expr) -> A.Expr:
        return A.InCohort(new) if isinstance(node, A.InCohort) and node.name == old else node

    return walk.transform(expr, rename)


def audiences_of(project: Project, name: str) -> list[str]:
    """Audiences delivering ``name``, sorted (a rename or delete is refused while there are any)."""
    return _audiences(project, name)


def referrers(project: Project, name: str) -> list[str]:
    """Saved cohorts (archived too) whose definitions reference ``name``, sorted."""
    return sorted(
        other
        for other in list(project._saved)
        if other != name and name in walk.cohort_refs(project._saved_expr(other))
    )


def _audiences(project: Project, name: str) -> list[str]:
    listing = getattr(project, "list_audiences", None)
    if listing is None:
        return []
    return sorted(a.name for a in listing() if a.cohort == name)


def _forget_results(project: Project) -> None:
    project.forget_results()


def unarchive_cohort(project: Project, name: str) -> CohortRecord:
    """Make an archived cohort active (maintained, listed) again; within the cap."""
    with project._write_lock:
        saved = project._saved.get(name)
        if saved is None:
            project.catalog.get(name)  # NOT_FOUND with the catalog's message
        assert saved is not None
        if not saved.archived:
            return project.catalog.get(name)
        check_cap(project)
        rec = project.catalog.unarchive(name)
        saved.archived = False
        project.maintainer.track(name, project._saved_expr(name))
    return rec


def rename_cohort(project: Project, old: str, new: str) -> tuple[CohortRecord, list[str]]:
    """Rename ``old`` to ``new``; returns the record and the cohorts whose references followed."""
    from cohortd.errors import InvalidArgumentError
    from cohortd.service.registry import Saved

    if not new or not new.strip() or new != new.strip():
        raise InvalidArgumentError("cohort names must be non-empty without leading or trailing spaces")
    with project._write_lock:
        if old not in project._saved:
            project.catalog.get(old)  # NOT_FOUND
        if new == old:
            return project.catalog.get(old), []
        audiences = _audiences(project, old)
        if audiences:
            raise ReferencedError(
                f"cohort {old!r} cannot be renamed while audiences deliver it: {', '.join(audiences)}"
            )
        follow = referrers(project, old)
        exprs = {r: renamed(project._saved_expr(r), old, new) for r in follow}
        rec = project.catalog.rename(old, new, {r: to_text(e) for r, e in exprs.items()}, author())
        moved = project._saved.pop(old)
        project.maintainer.untrack(old)
        project._saved[new] = Saved(rec.version, rec.definition, rec.archived, moved.expr)
        for r, expr in exprs.items():
            cur = project.catalog.get(r)
            project._saved[r] = Saved(cur.version, cur.definition, cur.archived, expr)
        if not rec.archived:
            project.maintainer.track(new, project._saved_expr(new))
        for r in follow:
            if not project._saved[r].archived:
                project.maintainer.track(r, project._saved_expr(r))
        _forget_results(project)
    return rec, follow


def delete_cohort(project: Project, name: str) -> None:
    """Delete a cohort and its history; refused while a cohort or an audience refers to it."""
    with project._write_lock:
        if name not in project._saved:
            project.catalog.get(name)  # NOT_FOUND
        cohorts, audiences = referrers(project, name), _audiences(project, name)
        if cohorts or audiences:
            who = [f"cohort {c!r}" for c in cohorts] + [f"audience {a!r}" for a in audiences]
            raise ReferencedError(f"cohort {name!r} cannot be deleted while referenced by {', '.join(who)}")
        project.catalog.delete(name)
        project._saved.pop(name)
        project.maintainer.untrack(name)
        _forget_results(project)


def _diff(before: str, after: str, old_label: str, new_label: str) -> str:
    if before == after:
        return ""
    lines = difflib.unified_diff(
        before.splitlines(), after.splitlines(), old_label, new_label, lineterm="", n=1
    )
    return "\n".join(lines)


def history(project: Project, name: str) -> list[VersionChange]:
    """Every version of ``name``, oldest first, each with its diff against the one before."""
    out = []
    prev_def = prev_desc = ""
    for v in project.catalog.history(name):
        old, new = f"v{v.version - 1}" if v.version > 1 else "(none)", f"v{v.version}"
        out.append(
            VersionChange(
                version=v.version,
                time_ms=v.created_ms,
                author=v.author,
                note=v.note,
                definition=v.definition,
                description=v.description,
                definition_diff=_diff(prev_def, v.definition, old, new),
                description_diff=_diff(prev_desc, v.description, old, new),
            )
        )
        prev_def, prev_desc = v.definition, v.description
    return out
