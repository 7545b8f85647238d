"""The console: server-rendered HTML pages over the same service-layer calls as the API.

Pages need the session cookie (``/console/login`` sets it through
``POST /api/session``); without one they redirect to the login page.  Each
page shows one project, after the same access check as the API, so a session
never sees another project's data.  Charts are SVG rendered here
(``charts.py``); the page script (``static/console.js``) only does the live
parts: editor validation, size and plan while typing, saving, the live feed.
"""

from __future__ import annotations

import difflib
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from cohortd.errors import CohortError, LoginRequired
from cohortd.http import charts, views
from cohortd.http.auth import COOKIE, Access
from cohortd.http.context import Context, context
from cohortd.http.errors import HTTP_STATUS, domain_status
from cohortd.server.auth import ALL_PROJECTS
from cohortd.service import Project

__all__ = ["router"]

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
SPARKLINE_DAYS = 7
CHART_DAYS = 30
MEMBERS_SHOWN = 20

router = APIRouter(include_in_schema=False)


def _session_access(request: Request, ctx: Annotated[Context, Depends(context)]) -> Access:
    session = ctx.sessions.get(request.cookies.get(COOKIE))
    if session is not None:
        return Access(session.projects, session)
    if not ctx.keys.enabled:
        return Access(frozenset({ALL_PROJECTS}), None)
    raise LoginRequired("log in to use the console")


def _when(ms: int | None) -> str:
    if ms is None:
        return "never"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


TEMPLATES.env.filters["when"] = _when
TEMPLATES.env.filters["thousands"] = lambda n: f"{n:,}"


def _render(
    request: Request, template: str, who: Access, ctx: Context, project: str | None, **values: Any
) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(
        request,
        template,
        {
            "project": project,
            "projects": who.visible(ctx.workspace.project_names()),
            "csrf_token": who.session.csrf_token if who.session else "",
            **values,
        },
        headers={"Cache-Control": "no-store"},
    )


def _error_page(
    request: Request, who: Access, ctx: Context, project: str | None, exc: Exception
) -> HTMLResponse:
    code, message = domain_status(exc)
    response = _render(request, "error.html", who, ctx, project, code=code.name, message=message)
    response.status_code = HTTP_STATUS[code]
    return response


def _project(ctx: Context, who: Access, name: str) -> Project:
    who.check(name)
    return views.open_project(ctx.workspace, name)


CtxDep = Annotated[Context, Depends(context)]
WhoDep = Annotated[Access, Depends(_session_access)]


@router.get("/")
def root() -> Response:
    return RedirectResponse("/console/", status_code=303)


@router.get("/console/login")
def login_page(request: Request) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(
        request, "login.html", {"project": None, "projects": [], "csrf_token": ""}
    )


@router.get("/console/")
def home(request: Request, ctx: CtxDep, who: WhoDep) -> Response:
    visible = who.visible(ctx.workspace.project_names())
    if visible:
        return RedirectResponse(f"/console/p/{visible[0]}/", status_code=303)
    return _render(
        request,
        "error.html",
        who,
        ctx,
        None,
        code="NOT_FOUND",
        message="no project to show yet: ingest events first",
    )


@router.get("/console/p/{project}/")
def catalog(request: Request, project: str, ctx: CtxDep, who: WhoDep, archived: bool = False) -> Response:
    """Cohort catalog: name, size, sparkline of the last days, lint badges (filled in by the script)."""
    try:
        p = _project(ctx, who, project)
        rows = []
        for rec in p.list_cohorts(include_archived=archived):
            size, sizes = views.catalog_sizes(p, rec, SPARKLINE_DAYS)
            spark = charts.sparkline(sizes) if sizes else ""
            rows.append(
                {"rec": rec, "size": size, "sparkline": spark, "viewed": views.last_viewed(p, rec.name)}
            )
    except CohortError as exc:
        return _error_page(request, who, ctx, project, exc)
    return _render(
        request, "catalog.html", who, ctx, project, rows=rows, archived=archived, days=SPARKLINE_DAYS
    )


@router.get("/console/p/{project}/editor")
def editor(request: Request, project: str, ctx: CtxDep, who: WhoDep, cohort: str | None = None) -> Response:
    """Cohort editor: live validation, size and plan while typing; save with a note."""
    try:
        p = _project(ctx, who, project)
        rec = p.get_cohort(cohort) if cohort else None
    except CohortError as exc:
        return _error_page(request, who, ctx, project, exc)
    return _render(request, "editor.html", who, ctx, project, rec=rec)


def _diffs(versions: list[Any]) -> list[dict[str, Any]]:
    """Each version with the line diff of its definition against the previous one."""
    out, previous = [], ""
    for v in versions:
        lines = list(
            difflib.unified_diff(previous.splitlines(), v.definition.splitlines(), lineterm="", n=1)
        )[2:]
        out.append({"v": v, "diff": [(line[:1], line) for line in lines if not line.startswith("@@")]})
        previous = v.definition
    return list(reversed(out))


@router.get("/console/p/{project}/cohorts/{name}")
def cohort_page(
    request: Request, project: str, name: str, ctx: CtxDep, who: WhoDep, by: str | None = None
) -> Response:
    """One cohort: size, size over time, breakdown, plan, overlap, members, history, live feed."""
    try:
        p = _project(ctx, who, project)
        rec = p.get_cohort(name)
        result = p.evaluate(name)
        series = views.size_series(p, name, CHART_DAYS)
        chart = charts.line_chart(
            [(name, [(pt.time_ms, pt.size) for pt in series.points])],
            y_label="users in cohort",
            css_id="size-chart",
        )
        plan = p.explain(name)
        others = [r.name for r in p.list_cohorts() if r.name != name]
        related = views.related(p, name, others) if not rec.archived else []
        members = views.members_page(p, name, 0, MEMBERS_SHOWN, None)
        history = _diffs(p.cohort_history(name))
        choices = [f"user.{u['name']}" for u in p.schema(1)["user_properties"]]
        by = by or (choices[0] if choices else None)
        split = p.breakdown(name, by=by).to_dict() if by and not rec.archived else None
    except CohortError as exc:
        return _error_page(request, who, ctx, project, exc)
    return _render(
        request,
        "cohort.html",
        who,
        ctx,
        project,
        rec=rec,
        result=result,
        chart=chart,
        days=CHART_DAYS,
        plan=plan,
        related=related,
        merge_jaccard=views.MERGE_JACCARD,
        members=members,
        history=history,
        by=by,
        by_choices=choices,
        split=split,
    )


@router.get("/console/p/{project}/overlap")
def overlap_page(request: Request, project: str, ctx: CtxDep, who: WhoDep) -> Response:
    """Heatmap of the Jaccard overlap of every non-archived cohort, with merge suggestions."""
    try:
        p = _project(ctx, who, project)
        o = views.overlap(p, [], None)
    except CohortError as exc:
        return _error_page(request, who, ctx, project, exc)
    return _render(
        request,
        "overlap.html",
        who,
        ctx,
        project,
        o=o,
        heatmap=charts.heatmap(o.names, o.jaccard),
        merge_jaccard=views.MERGE_JACCARD,
    )


@router.get("/console/p/{project}/schema")
def schema_page(request: Request, project: str, ctx: CtxDep, who: WhoDep) -> Response:
    """Schema browser: event types with their properties and top values, and user properties."""
    try:
        p = _project(ctx, who, project)
        doc = p.schema(5)
    except CohortError as exc:
        return _error_page(request, who, ctx, project, exc)
    return _render(request, "schema.html", who, ctx, project, schema=doc)


@router.get("/console/p/{project}/personas")
def personas_page(
    request: Request,
    project: str,
    ctx: CtxDep,
    who: WhoDep,
    population: str = "all",
    window: str = "30d",
    k: str = "auto",
    run: bool = False,
) -> Response:
    """Personas: run on demand, cluster cards with defining behaviours and a rule to save as a cohort."""
    try:
        p = _project(ctx, who, project)
        cohorts = [r.name for r in p.list_cohorts()]
        report = p.personas(population, window, k).to_dict() if run else None
    except CohortError as exc:
        return _error_page(request, who, ctx, project, exc)
    form = {"population": population, "window": window, "k": k}
    return _render(request, "personas.html", who, ctx, project, report=report, form=form, cohorts=cohorts)


@router.get("/console/p/{project}/audiences")
def audiences_page(request: Request, project: str, ctx: CtxDep, who: WhoDep) -> Response:
    """Audiences: destinations, each audience's delivery status and its recent sync log."""
    try:
        p = _project(ctx, who, project)
        destinations = p.list_destinations()
        audiences = [(a, p.audience_log(a.name, 10)) for a in p.list_audiences()]
    except CohortError as exc:
        return _error_page(request, who, ctx, project, exc)
    return _render(
        request, "audiences.html", who, ctx, project, destinations=destinations, audiences=audiences
    )


DAY = 86_400_000
WEEK = 7 * DAY


def _iso_day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d")


@router.get("/console/p/{project}/cohorts/{name}/analyses")
def analyses_page(
    request: Request,
    project: str,
    name: str,
    ctx: CtxDep,
    who: WhoDep,
    start_event: str = "any",
    return_event: str = "any",
    periods: int = 8,
    outcome: str = "",
    horizon: str = "30d",
    backtest_date: str = "",
    steps: str = "",
    window: str = "7d",
    anchor: str = "",
) -> Response:
    """The cohort's analyses: retention against the rest, backtest lift, funnel and journeys."""
    now = int(datetime.now(tz=UTC).timestamp() * 1000)
    form = {
        "start_event": start_event,
        "return_event": return_event,
        "periods": periods,
        "outcome": outcome,
        "horizon": horizon,
        "backtest_date": backtest_date or _iso_day(now - 30 * DAY),
        "steps": steps,
        "window": window,
        "anchor": anchor,
    }
    out: dict[str, Any] = {}
    try:
        p = _project(ctx, who, project)
        rec = p.get_cohort(name)
        periods = max(1, min(periods, 52))
        ret = p.retention(
            start_event, return_event, now - periods * WEEK, now, period="1w", periods=periods,
            cohort=name, baseline="rest",
        ).to_json()  # fmt: skip
        series = [
            (label, [(pt["period"], pt["rate"] * 100) for pt in curve["curve"] if pt["rate"] is not None])
            for label, curve in ((name, ret["population"]), ("everyone else", ret["baseline"]))
            if curve is not None
        ]
        out["retention"] = ret
        out["retention_chart"] = charts.line_chart(
            series, y_label="retained (%)", x_label="week after start", time_axis=False, y_max=100,
            css_id="retention-chart",
        )  # fmt: skip
        if outcome.strip():
            bt = p.backtest(name, outcome=outcome, horizon=horizon, as_of=form["backtest_date"]).to_json()
            out["backtest"] = bt
            if bt.get("ci95") and bt.get("difference") is not None:
                out["backtest_chart"] = charts.interval(
                    bt["ci95"][0], bt["ci95"][1], bt["difference"],
                    label="difference in outcome rate, cohort minus baseline (95% CI)",
                )  # fmt: skip
        if steps.strip():
            lines = [s.strip() for s in steps.splitlines() if s.strip()]
            fun = p.funnel(lines, now - 30 * DAY, now, window=window, cohort=name).to_json()
            out["funnel"] = fun
            out["funnel_chart"] = charts.bars(
                [s["event"] for s in fun["steps"]], [s["users"] for s in fun["steps"]], unit="users",
                css_id="funnel-chart",
            )  # fmt: skip
        if anchor.strip():
            out["journeys"] = p.journeys(anchor, now - 30 * DAY, now, cohort=name).to_json()
    except CohortError as exc:
        return _error_page(request, who, ctx, project, exc)
    return _render(request, "analyses.html", who, ctx, project, rec=rec, form=form, **out)
