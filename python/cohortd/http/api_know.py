"""Know-your-data routes of the HTTP API: schema, breakdown, population, audit.

Thin: each calls the embedded ``Project`` method of issue #11
(``analysis/know.py``) and returns its contract JSON (``to_dict``) unchanged.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import Field

from cohortd.http import models as m
from cohortd.http import views
from cohortd.http.api import ProjectDep, target

__all__ = ["router"]

router = APIRouter(prefix="/api/projects/{project}", tags=["know your data"], responses=m.ERRORS)


class BreakdownIn(m.TargetIn):
    by: str | None = Field(default=None, max_length=512, description='user.<prop> or event("E").<prop>')
    window: str | None = Field(default=None, max_length=32, description="for event properties, e.g. 14d")
    pick: str = Field(default="last", pattern="^(last|most)$")
    top: int = Field(default=10, ge=1, le=1000)
    by_cohorts: list[str] | None = Field(default=None, max_length=100)


class PopulationIn(m.TargetIn):
    start: int | str = Field(description="epoch ms or ISO-8601")
    end: int | str = Field(description="epoch ms or ISO-8601")
    step: str = Field(default="1d", max_length=32)


@router.get("/schema", response_model=dict[str, Any])
def schema(p: ProjectDep, top: Annotated[int, Query(ge=1, le=1000)] = 10) -> dict[str, Any]:
    """Event types, their properties and user properties with counts and top values."""
    return p.schema(top)


@router.post("/breakdown", response_model=dict[str, Any])
def breakdown(p: ProjectDep, body: BreakdownIn) -> dict[str, Any]:
    """Members by a user property, an event property in a window, or other cohorts."""
    name, definition = target(body)
    result = p.breakdown(
        name,
        definition,
        by=body.by,
        window=body.window,
        pick=body.pick,
        top=body.top,
        by_cohorts=body.by_cohorts,
        as_of=views.as_of_value(body.as_of),
    )
    return result.to_dict()


@router.post("/population", response_model=dict[str, Any])
def population(p: ProjectDep, body: PopulationIn) -> dict[str, Any]:
    """Size, entered and exited at each step of a range."""
    name, definition = target(body)
    result = p.population(
        name, definition, start=views.as_of_value(body.start), end=views.as_of_value(body.end), step=body.step
    )
    return result.to_dict()


@router.get("/audit", response_model=dict[str, Any])
def audit(
    p: ProjectDep,
    stale_days: Annotated[int, Query(ge=1, le=3650)] = 30,
    shrink_percent: Annotated[float, Query(ge=0, le=100)] = 20.0,
    unread_days: Annotated[int, Query(ge=1, le=3650)] = 60,
) -> dict[str, Any]:
    """Stale events, shrinking, unread, archived-but-referenced and near-duplicate saved cohorts."""
    return p.audit(stale_days=stale_days, shrink_percent=shrink_percent, unread_days=unread_days)
