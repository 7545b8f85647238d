"""Analyses routes of the HTTP API: backtest, retention, funnel, journeys (issue #12).

Thin: each calls the embedded ``Project`` method (``analysis/service.py``)
and returns its contract JSON (``to_json``) unchanged.  Event references are
text as in the language (``"Feature Used" where area == "export"`` or ``any``),
durations are text (``30d``), instants epoch ms or ISO-8601.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from cohortd.http import models as m
from cohortd.http import views
from cohortd.http.api import ProjectDep

__all__ = ["router"]

router = APIRouter(prefix="/api/projects/{project}", tags=["analyses"], responses=m.ERRORS)

Text = Field(max_length=65_536)
Instant = int | str


class Scope(BaseModel):
    """The population analysed: a saved cohort, an inline definition, or (neither) every known user."""

    cohort: str | None = Field(default=None, max_length=256)
    definition: str | None = Field(default=None, max_length=65_536)
    as_of: m.AsOfValue = None


class BacktestIn(Scope):
    outcome: str = Text
    horizon: str = Field(default="30d", max_length=32)
    baseline: str = Field(default="rest", max_length=16, description="rest, all or cohort")
    baseline_cohort: str | None = Field(default=None, max_length=256)
    baseline_definition: str | None = Field(default=None, max_length=65_536)
    every: str | None = Field(default=None, max_length=32)
    start: Instant | None = None
    end: Instant | None = None


class RetentionIn(Scope):
    start_event: str = Field(default="any", max_length=4096)
    return_event: str = Field(default="any", max_length=4096)
    start: Instant
    end: Instant
    period: str = Field(default="1w", max_length=32)
    periods: int = Field(default=8, ge=1, le=366)
    unbounded: bool = False
    baseline: str | None = Field(default=None, max_length=16, description="all, rest, none or cohort")
    baseline_cohort: str | None = Field(default=None, max_length=256)
    baseline_definition: str | None = Field(default=None, max_length=65_536)


class FunnelIn(Scope):
    steps: list[str] = Field(min_length=1, max_length=32)
    start: Instant
    end: Instant
    window: str | None = Field(default="7d", max_length=32)
    split_cohort: str | None = Field(default=None, max_length=256)
    split_definition: str | None = Field(default=None, max_length=65_536)
    split_property: str | None = Field(default=None, max_length=256)


class JourneysIn(Scope):
    anchor: str = Field(max_length=4096)
    start: Instant
    end: Instant
    after: str = Field(default="30m", max_length=32)
    before: str = Field(default="30m", max_length=32)
    depth: int = Field(default=3, ge=1, le=10)
    top: int = Field(default=10, ge=1, le=1000)
    keep_repeats: bool = False
    returned_within: str | None = Field(default=None, max_length=32)
    did: list[str] = Field(default=[], max_length=32)


def _t(value: Any) -> Any:
    return views.as_of_value(value)


@router.post("/backtest", response_model=dict[str, Any])
def backtest(p: ProjectDep, body: BacktestIn) -> dict[str, Any]:
    """Outcome rate of the cohort at a past date against a baseline: lift, difference, 95% CI, p-value."""
    result = p.backtest(
        body.cohort,
        body.definition,
        outcome=body.outcome,
        horizon=body.horizon,
        as_of=_t(body.as_of),
        baseline=body.baseline,
        baseline_cohort=body.baseline_cohort,
        baseline_definition=body.baseline_definition,
        every=body.every,
        start=_t(body.start),
        end=_t(body.end),
    )
    return result.to_json()


@router.post("/retention", response_model=dict[str, Any])
def retention(p: ProjectDep, body: RetentionIn) -> dict[str, Any]:
    """Retention curve of the population and of a baseline."""
    result = p.retention(
        body.start_event,
        body.return_event,
        _t(body.start),
        _t(body.end),
        period=body.period,
        periods=body.periods,
        as_of=_t(body.as_of),
        cohort=body.cohort,
        definition=body.definition,
        unbounded=body.unbounded,
        baseline=body.baseline,
        baseline_cohort=body.baseline_cohort,
        baseline_definition=body.baseline_definition,
    )
    return result.to_json()


@router.post("/funnel", response_model=dict[str, Any])
def funnel(p: ProjectDep, body: FunnelIn) -> dict[str, Any]:
    """Users reaching each step in order within the window, optionally split."""
    result = p.funnel(
        body.steps,
        _t(body.start),
        _t(body.end),
        window=body.window,
        as_of=_t(body.as_of),
        cohort=body.cohort,
        definition=body.definition,
        split_cohort=body.split_cohort,
        split_definition=body.split_definition,
        split_property=body.split_property,
    )
    return result.to_json()


@router.post("/journeys", response_model=dict[str, Any])
def journeys(p: ProjectDep, body: JourneysIn) -> dict[str, Any]:
    """Top paths after and before each user's first anchor event in the range."""
    result = p.journeys(
        body.anchor,
        _t(body.start),
        _t(body.end),
        after=body.after,
        before=body.before,
        depth=body.depth,
        top=body.top,
        keep_repeats=body.keep_repeats,
        as_of=_t(body.as_of),
        cohort=body.cohort,
        definition=body.definition,
        returned_within=body.returned_within,
        did=body.did,
    )
    return result.to_json()
