"""The HTTP/JSON API: one route per service-layer call, under ``/api``.

Each handler checks the caller's access to the project (``auth.py``), makes
one call into the embedded ``Project`` (the object the gRPC servicer uses) and
returns its answer as JSON; errors go through ``errors.py``.  Handlers are
plain ``def``: FastAPI runs them on its thread pool, as the engine blocks.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.security import HTTPBearer

from cohortd.errors import InvalidArgumentError, PermissionDeniedError
from cohortd.http import models as m
from cohortd.http import views
from cohortd.http.auth import COOKIE, Access, authenticate, authored, same_origin
from cohortd.http.context import Context, context
from cohortd.http.sse import watch_stream
from cohortd.service import Project

__all__ = ["router"]

_bearer = HTTPBearer(auto_error=False, description="an API key from the server's keys file")
router = APIRouter(prefix="/api", responses=m.ERRORS)


def access(
    request: Request, ctx: Annotated[Context, Depends(context)], _b: Annotated[object, Depends(_bearer)]
) -> Access:
    return authenticate(request, ctx.keys, ctx.sessions)


def project(
    project: str, ctx: Annotated[Context, Depends(context)], who: Annotated[Access, Depends(access)]
) -> Project:
    who.check(project)  # PERMISSION_DENIED before anything about the project is looked at
    return views.open_project(ctx.workspace, project)


ProjectDep = Annotated[Project, Depends(project)]
AccessDep = Annotated[Access, Depends(access)]
AsOfQuery = Annotated[str | None, Query(description="epoch ms or ISO-8601; absent: now", max_length=64)]


# ---------------------------------------------------------------- session
@router.post("/session", response_model=m.SessionOut, tags=["session"])
def login(
    body: m.SessionIn, request: Request, response: Response, ctx: Annotated[Context, Depends(context)]
) -> m.SessionOut:
    """Log the console in: checks the key once, then a session cookie stands for it."""
    if not same_origin(request):
        raise PermissionDeniedError("cross-origin login refused")
    projects, author = ctx.keys.lookup(body.api_key)
    sid, session = ctx.sessions.create(projects, author)
    response.set_cookie(COOKIE, sid, httponly=True, secure=True, samesite="strict", path="/")
    who = Access(projects, session, author)
    return m.SessionOut(projects=who.visible(ctx.workspace.project_names()), csrf_token=session.csrf_token)


@router.delete("/session", status_code=204, tags=["session"])
def logout(
    request: Request, ctx: Annotated[Context, Depends(context)], _who: Annotated[Access, Depends(access)]
) -> Response:
    """End the console's session."""
    ctx.sessions.drop(request.cookies.get(COOKIE))
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, path="/", secure=True, httponly=True, samesite="strict")
    return response


@router.get("/projects", response_model=m.ProjectsOut, tags=["projects"])
def projects(
    ctx: Annotated[Context, Depends(context)], who: Annotated[Access, Depends(access)]
) -> m.ProjectsOut:
    """Existing projects the caller may use."""
    return m.ProjectsOut(projects=who.visible(ctx.workspace.project_names()))


# ---------------------------------------------------------------- catalog
@router.get("/projects/{project}/cohorts", response_model=m.CohortsOut, tags=["cohorts"])
def list_cohorts(p: ProjectDep, archived: bool = False) -> m.CohortsOut:
    """Saved cohorts sorted by name (``archived=true`` includes archived ones)."""
    return m.CohortsOut(cohorts=[views.cohort_out(r) for r in p.list_cohorts(archived)])


@router.post("/projects/{project}/cohorts", response_model=m.SavedOut, status_code=201, tags=["cohorts"])
def create_cohort(p: ProjectDep, who: AccessDep, body: m.CreateCohortIn) -> m.SavedOut:
    """Validate, lint and save a new cohort (warnings never block the save)."""
    with authored(who):
        rec, warnings = p.create_cohort(body.name, body.definition, body.description, body.note)
    return m.SavedOut(cohort=views.cohort_out(rec), warnings=views.warnings_out(warnings))


@router.get("/projects/{project}/cohorts/{name}", response_model=m.CohortOut, tags=["cohorts"])
def get_cohort(p: ProjectDep, name: str) -> m.CohortOut:
    return views.cohort_out(p.get_cohort(name))


@router.patch("/projects/{project}/cohorts/{name}", response_model=m.SavedOut, tags=["cohorts"])
def update_cohort(p: ProjectDep, who: AccessDep, name: str, body: m.UpdateCohortIn) -> m.SavedOut:
    """A new version with a new definition and/or description, and a note."""
    with authored(who):
        rec, warnings = p.update_cohort(name, body.definition, body.description, body.note)
    return m.SavedOut(cohort=views.cohort_out(rec), warnings=views.warnings_out(warnings))


@router.post("/projects/{project}/cohorts/{name}/archive", response_model=m.CohortOut, tags=["cohorts"])
def archive_cohort(p: ProjectDep, who: AccessDep, name: str) -> m.CohortOut:
    with authored(who):
        return views.cohort_out(p.archive_cohort(name))


@router.post("/projects/{project}/cohorts/{name}/unarchive", response_model=m.CohortOut, tags=["cohorts"])
def unarchive_cohort(p: ProjectDep, who: AccessDep, name: str) -> m.CohortOut:
    with authored(who):
        return views.cohort_out(p.unarchive_cohort(name))


@router.get("/projects/{project}/cohorts/{name}/history", response_model=m.HistoryOut, tags=["cohorts"])
def history(p: ProjectDep, name: str) -> m.HistoryOut:
    """Every version, oldest first."""
    versions = [m.VersionOut(**v.__dict__) for v in p.cohort_history(name)]
    return m.HistoryOut(cohort=name, versions=versions)


# ---------------------------------------------------------------- queries
def target(body: m.TargetIn) -> tuple[str | None, str | None]:
    if (body.cohort is None) == (body.definition is None):
        raise InvalidArgumentError("give exactly one of a saved cohort name or a definition")
    return body.cohort, body.definition


@router.post("/projects/{project}/evaluate", response_model=m.EvaluateOut, tags=["queries"])
def evaluate(p: ProjectDep, body: m.TargetIn) -> m.EvaluateOut:
    """Size of a saved cohort or an inline definition at an as-of time."""
    name, definition = target(body)
    result = p.evaluate(name, definition, views.as_of_value(body.as_of))
    return m.EvaluateOut(size=result.size, as_of_ms=result.as_of_ms, version=result.version)


@router.post("/projects/{project}/explain", response_model=m.ExplainOut, tags=["queries"])
def explain(p: ProjectDep, body: m.TargetIn) -> m.ExplainOut:
    """The evaluation plan with each step's size and time."""
    name, definition = target(body)
    steps = p.explain(name, definition, views.as_of_value(body.as_of))
    return m.ExplainOut(
        steps=[m.PlanStepOut(text=s.text, size=s.size, millis=s.millis, depth=s.depth) for s in steps]
    )


@router.post("/projects/{project}/lint", response_model=m.LintOut, tags=["queries"])
def lint(p: ProjectDep, body: m.LintIn) -> m.LintOut:
    """Warnings for a definition without saving it (a parse error is INVALID_ARGUMENT with line/column)."""
    return m.LintOut(warnings=views.warnings_out(p.lint(body.definition, body.name)))


@router.get("/projects/{project}/cohorts/{name}/members", response_model=m.MembersOut, tags=["queries"])
def members(
    p: ProjectDep,
    name: str,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    as_of: AsOfQuery = None,
) -> m.MembersOut:
    return views.members_page(p, name, offset, limit, views.as_of_value(as_of))


@router.get("/projects/{project}/cohorts/{name}/sizes", response_model=m.SizesOut, tags=["queries"])
def sizes(
    p: ProjectDep,
    name: str,
    days: Annotated[int, Query(ge=1, le=365)] = 30,
    step_days: Annotated[int, Query(ge=1, le=365)] = 1,
) -> m.SizesOut:
    """Size at each UTC midnight of the last ``days`` days, and now."""
    return views.size_series(p, name, days, step_days)


@router.get("/projects/{project}/overlap", response_model=m.OverlapOut, tags=["queries"])
def overlap(
    p: ProjectDep,
    cohort: Annotated[list[str], Query(description="saved cohorts; none: every non-archived one")] = [],  # noqa: B006
    as_of: AsOfQuery = None,
) -> m.OverlapOut:
    """Sizes, intersections and Jaccard of saved cohorts, with merge suggestions at Jaccard >= 0.8."""
    return views.overlap(p, cohort, views.as_of_value(as_of))


@router.get("/projects/{project}/users/{user_id}/cohorts", response_model=m.UserCohortsOut, tags=["queries"])
def user_cohorts(p: ProjectDep, user_id: str, as_of: AsOfQuery = None) -> m.UserCohortsOut:
    """Every non-archived saved cohort the user is in."""
    return m.UserCohortsOut(user_id=user_id, cohorts=p.user_cohorts(user_id, views.as_of_value(as_of)))


@router.get(
    "/projects/{project}/watch",
    tags=["watch"],
    response_class=Response,
    responses={200: {"content": {"text/event-stream": {}}, "description": "server-sent events"}},
)
async def watch(
    request: Request,
    p: ProjectDep,
    ctx: Annotated[Context, Depends(context)],
    cohort: Annotated[list[str], Query(min_length=1)],
    after_version: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    """Entries and exits of saved cohorts as server-sent events (``event: change``), from now or a version."""
    for name in cohort:
        p.get_cohort(name)  # NOT_FOUND before the stream starts
    return watch_stream(request, p, cohort, after_version, ctx.stopping)
