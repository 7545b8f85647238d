"""Campaign lift: did acting on an audience change the outcome, compared with its holdout?

For users who entered the audience in ``[since, until)`` (first entry in the
period per user; an entry is recorded when the audience's sync sees the user
enter, for delivered and held-out users alike), the outcome — any cohort
expression — is evaluated as of ``entry + horizon``, exactly like a backtest
run at the entry instant: ``did("Subscription Started") in last 30d`` with a
``30d`` horizon means the event happened in ``[entry, entry + 30d)``.  Users
whose horizon has not passed yet are left out and counted.  The comparison is
the backtest's two-proportion statistics (``cohortd.analysis.stats``): lift
(rate ratio), difference, its 95 % Wald interval and the pooled z-test p-value.
One evaluation per distinct entry instant.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyroaring import BitMap

from cohortd.analysis.stats import two_proportions
from cohortd.audiences.model import Arm, LiftResult, parse_duration_ms
from cohortd.errors import AudienceError

if TYPE_CHECKING:
    from cohortd.service import Project

__all__ = ["audience_lift"]


def audience_lift(
    project: Project,
    name: str,
    outcome: str,
    horizon: str,
    since_ms: int | None = None,
    until_ms: int | None = None,
) -> LiftResult:
    store = project.audiences.store
    rec = store.audience(name)
    if rec.holdout <= 0:
        raise AudienceError(f"audience {name!r} has no holdout: create one with --holdout (e.g. 10%)")
    horizon_ms = parse_duration_ms(horizon)
    expr = project.engine.definition(outcome)
    project._check_refs(expr, None)  # unknown in_cohort names are rejected before any work
    first: dict[int, tuple[int, bool]] = {}
    for user, t, held in store.entries(name, since_ms, until_ms):
        first.setdefault(user, (t, held))
    now = project._clock()
    by_time: dict[int, list[tuple[int, bool]]] = {}
    inside = 0
    for user, (t, held) in first.items():
        if t + horizon_ms > now:
            inside += 1
        else:
            by_time.setdefault(t, []).append((user, held))
    counts = {False: [0, 0], True: [0, 0]}  # held out -> [users, converted]
    for t, users in sorted(by_time.items()):
        reached: BitMap = project.evaluate(definition=expr, as_of=t + horizon_ms).bitmap
        for user, held in users:
            counts[held][0] += 1
            counts[held][1] += user in reached
    delivered, held_out = Arm(*counts[False]), Arm(*counts[True])
    c = two_proportions(delivered.converted, delivered.users, held_out.converted, held_out.users)
    return LiftResult(
        name, outcome, horizon, since_ms, until_ms, rec.holdout, delivered, held_out,
        c.lift, c.difference, c.ci95, c.p_value, inside,
    )  # fmt: skip
