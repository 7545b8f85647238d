"""Personas and audiences routes of the HTTP API (issues #14 and #13).

Thin, like the rest: each calls the embedded ``Project`` method and returns
its contract JSON.  Audiences are read and paused/resumed here; creating
destinations (webhook URLs, server-side directories) and audiences stays with
the gRPC API and the CLI, where an operator chooses where members are sent.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from cohortd.http import models as m
from cohortd.http import views
from cohortd.http.api import AccessDep, ProjectDep
from cohortd.http.auth import authored

__all__ = ["router"]

router = APIRouter(prefix="/api/projects/{project}", responses=m.ERRORS)


class PersonasIn(BaseModel):
    population: str = Field(default="all", max_length=256, description='a saved cohort, or "all"')
    window: str = Field(default="30d", max_length=32)
    k: str | int = Field(default="auto", description='"auto", a number, or a range like "2-6"')
    properties: list[str] = Field(default=[], max_length=20)
    seed: int = Field(default=0, ge=0, le=2**31)
    as_of: m.AsOfValue = None
    cluster: int | None = Field(default=None, ge=0, le=1000)
    save_cohort: str | None = Field(default=None, max_length=256, description="save that cluster's rule")


@router.post("/personas", response_model=dict[str, Any], tags=["personas"])
def personas(p: ProjectDep, who: AccessDep, body: PersonasIn) -> dict[str, Any]:
    """Behavioural groups of a population, explained, each with a rule scored by the engine."""
    with authored(who):  # save_cohort writes to the catalog
        report = p.personas(
            body.population,
            body.window,
            body.k,
            properties=body.properties,
            seed=body.seed,
            as_of=views.as_of_value(body.as_of),
            cluster=body.cluster,
            save_cohort=body.save_cohort,
        )
    return report.to_dict()


def _plain(value: Any) -> dict[str, Any]:
    return dataclasses.asdict(value)


@router.get("/destinations", response_model=dict[str, Any], tags=["audiences"])
def destinations(p: ProjectDep) -> dict[str, Any]:
    """Audience destinations (secrets are never returned)."""
    return {"destinations": [_plain(d) for d in p.list_destinations()]}


@router.get("/audiences", response_model=dict[str, Any], tags=["audiences"])
def audiences(p: ProjectDep) -> dict[str, Any]:
    """Audiences with their delivery status."""
    return {"audiences": [_plain(a) for a in p.list_audiences()]}


@router.get("/audiences/{name}", response_model=dict[str, Any], tags=["audiences"])
def audience(p: ProjectDep, name: str) -> dict[str, Any]:
    return _plain(p.get_audience(name))


@router.get("/audiences/{name}/log", response_model=dict[str, Any], tags=["audiences"])
def audience_log(
    p: ProjectDep, name: str, limit: Annotated[int, Query(ge=1, le=1000)] = 50
) -> dict[str, Any]:
    """The sync log: one row per delivery attempt, newest first."""
    return {"audience": name, "attempts": [_plain(s) for s in p.audience_log(name, limit)]}


@router.post("/audiences/{name}/pause", response_model=dict[str, Any], tags=["audiences"])
def pause(p: ProjectDep, name: str) -> dict[str, Any]:
    return _plain(p.pause_audience(name))


@router.post("/audiences/{name}/resume", response_model=dict[str, Any], tags=["audiences"])
def resume(p: ProjectDep, name: str) -> dict[str, Any]:
    return _plain(p.resume_audience(name))
