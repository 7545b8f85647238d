"""Opening a project tracks an in_cohort chain in linear time (issue 8, item 12).

Each saved cohort used to be tracked with an evaluation of its own, which
inlines every cohort it references: a chain of n cohorts evaluated n(n+1)/2
conditions at open, and again when an edit of its head re-tracked the
dependents.  Both now share one evaluation, so each condition of the chain is
evaluated exactly once; the members are checked against evaluating every
cohort on its own.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from cohortd.engine.evaluate import Evaluation
from cohortd.lang import ast
from cohortd.service.project import Project
from cohortd.service.registry import MAX_IN_COHORT_DEPTH
from support.data import saas_events

NOW_MS = 1_780_000_000_000
ALGEBRA = (ast.And, ast.Or, ast.Not, ast.InCohort)


def _chain(directory: Path) -> list[str]:
    """The longest allowed chain; names sort against it (the order that was quadratic)."""
    names = [f"c{MAX_IN_COHORT_DEPTH - i:03d}" for i in range(MAX_IN_COHORT_DEPTH)]
    project = Project(directory, "p", clock=lambda: NOW_MS)
    try:
        project.ingest(saas_events(80, now=NOW_MS))
        project.create_cohort(names[0], 'did("Signup Submitted")')
        for k, (prev, name) in enumerate(zip(names, names[1:], strict=False)):
            # a condition of its own per link (nothing shared that the memo could hide)
            project.create_cohort(name, f'in_cohort("{prev}") and did(any) in last {60 - k}d')
    finally:
        project.close()
    return names


def test_opening_a_chain_evaluates_each_condition_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = _chain(tmp_path / "p")
    conditions: Counter[ast.Expr] = Counter()
    run = Evaluation._run

    def counting(self: Evaluation, expr: ast.Expr):  # type: ignore[no-untyped-def]
        if not isinstance(expr, ALGEBRA):
            conditions[expr] += 1
        return run(self, expr)

    monkeypatch.setattr(Evaluation, "_run", counting)
    project = Project(tmp_path / "p", "p", clock=lambda: NOW_MS)
    monkeypatch.setattr(Evaluation, "_run", run)
    try:
        assert project.broken == {}
        assert len(conditions) == len(names)  # the chain's own conditions, one per cohort
        assert set(conditions.values()) == {1}, f"evaluated more than once: {conditions.most_common(3)}"
        sizes = []
        for name in names:
            alone = project.engine.evaluate(
                project.registry.expr(name), as_of=NOW_MS, resolve=project.registry.resolve
            ).bitmap
            assert project.maintainer.membership(name).members == alone, name
            sizes.append(len(alone))
        assert sizes[0] > sizes[-1] > 0  # the windows narrow along the chain: not all equal by accident
        # an edit of the chain's head re-tracks every dependent, again one pass
        conditions.clear()
        monkeypatch.setattr(Evaluation, "_run", counting)
        project.update_cohort(names[0], definition='did("Signup Submitted") in last 30d')
        monkeypatch.setattr(Evaluation, "_run", run)
        head = project.registry.expr(names[0])
        assert conditions.pop(head) == 2  # tracked once, and once by the update's lint
        assert len(conditions) == len(names) - 1
        assert set(conditions.values()) == {1}, f"evaluated more than once: {conditions.most_common(3)}"
        for name in names:
            alone = project.engine.evaluate(
                project.registry.expr(name), as_of=NOW_MS, resolve=project.registry.resolve
            ).bitmap
            assert project.maintainer.membership(name).members == alone, name
    finally:
        project.close()
