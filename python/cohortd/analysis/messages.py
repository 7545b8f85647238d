"""Analysis answers ⇄ ``cohortd.v1.analysis`` messages (used by the server and the SDK).

Optional proto fields carry the ``None`` of rates, shares, lifts and
percentiles, so an answer survives the wire unchanged.  No engine imports.
"""

from __future__ import annotations

from typing import Any

from cohortd import wire
from cohortd.analysis.results import (
    Backtest,
    BacktestRun,
    Funnel,
    FunnelGroup,
    FunnelSplit,
    FunnelStep,
    Group,
    JourneyPath,
    Journeys,
    JourneyShare,
    Retention,
    RetentionCurve,
    RetentionPoint,
)
from cohortd.v1 import analysis_pb2 as apb
from cohortd.v1 import cohortd_pb2 as pb


def _opt(msg: Any, name: str) -> Any:
    return getattr(msg, name) if msg.HasField(name) else None


def _set(msg: Any, name: str, value: Any) -> None:
    if value is not None:
        setattr(msg, name, value)


def target_to_proto(out: pb.Target, cohort: str | None, definition: Any) -> bool:
    """Fill a ``Target`` from a saved name or a definition; False when both are None."""
    if cohort is not None and definition is not None:
        raise ValueError("give a saved cohort name or a definition, not both")
    if cohort is not None:
        out.cohort = cohort
    elif definition is not None:
        wire.definition_to_proto(definition, out.definition)
    else:
        return False
    return True


def target_from_proto(msg: Any, field: str) -> tuple[str | None, Any]:
    """(saved name, definition) of an optional ``Target`` field; (None, None) when unset."""
    if not msg.HasField(field):
        return None, None
    target = getattr(msg, field)
    kind = target.WhichOneof("kind")
    if kind == "cohort":
        return target.cohort, None
    if kind == "definition":
        return None, wire.definition_from_proto(target.definition)
    return None, None


# ------------------------------------------------------------------ backtest


def _group_to(g: Group, out: apb.BacktestGroup) -> None:
    out.size, out.converted = g.size, g.converted
    _set(out, "rate", g.rate)


def backtest_to_proto(b: Backtest) -> apb.BacktestResponse:
    resp = apb.BacktestResponse()
    for r in b.runs:
        m = resp.runs.add(horizon=r.horizon, test=r.test, baseline_kind=r.baseline_kind)
        m.as_of.FromMilliseconds(r.as_of_ms)
        _group_to(r.cohort, m.cohort)
        _group_to(r.baseline, m.baseline)
        _set(m, "lift", r.lift)
        _set(m, "difference", r.difference)
        _set(m, "p_value", r.p_value)
        if r.ci95 is not None:
            m.ci95_low, m.ci95_high = r.ci95
        m.warnings.extend(r.warnings)
    return resp


def backtest_from_proto(resp: apb.BacktestResponse) -> Backtest:
    runs = []
    for m in resp.runs:
        ci = (m.ci95_low, m.ci95_high) if m.HasField("ci95_low") else None
        runs.append(
            BacktestRun(
                as_of_ms=m.as_of.ToMilliseconds(),
                horizon=m.horizon,
                cohort=Group(m.cohort.size, m.cohort.converted),
                baseline=Group(m.baseline.size, m.baseline.converted),
                lift=_opt(m, "lift"),
                difference=_opt(m, "difference"),
                ci95=ci,
                p_value=_opt(m, "p_value"),
                baseline_kind=m.baseline_kind,
                test=m.test,
                warnings=tuple(m.warnings),
            )
        )
    return Backtest(runs)


# ----------------------------------------------------------------- retention


def _curve_to(c: RetentionCurve, out: apb.RetentionCurve) -> None:
    out.users = c.users
    for p in c.curve:
        out.curve.add(period=p.period, users=p.users, retained=p.retained)
        _set(out.curve[-1], "rate", p.rate)


def _curve(m: apb.RetentionCurve) -> RetentionCurve:
    return RetentionCurve(m.users, [RetentionPoint(p.period, p.users, p.retained) for p in m.curve])


def retention_to_proto(r: Retention) -> apb.RetentionResponse:
    resp = apb.RetentionResponse(period=r.period, mode=r.mode)
    resp.as_of.FromMilliseconds(r.as_of_ms)
    _curve_to(r.population, resp.population)
    if r.baseline is not None:
        _curve_to(r.baseline, resp.baseline)
    return resp


def retention_from_proto(m: apb.RetentionResponse) -> Retention:
    baseline = _curve(m.baseline) if m.HasField("baseline") else None
    return Retention(m.period, m.mode, _curve(m.population), baseline, m.as_of.ToMilliseconds())


# -------------------------------------------------------------------- funnel


def _steps_to(steps: list[FunnelStep], out: Any) -> None:
    for s in steps:
        m = out.add(event=s.event, users=s.users)
        for name in ("from_previous", "from_entry", "median_ms", "p90_ms"):
            _set(m, name, getattr(s, name))


def _steps(msgs: Any) -> list[FunnelStep]:
    return [
        FunnelStep(
            m.event,
            m.users,
            _opt(m, "from_previous"),
            _opt(m, "from_entry"),
            _opt(m, "median_ms"),
            _opt(m, "p90_ms"),
        )
        for m in msgs
    ]


def funnel_to_proto(f: Funnel) -> apb.FunnelResponse:
    resp = apb.FunnelResponse()
    resp.as_of.FromMilliseconds(f.as_of_ms)
    _steps_to(f.steps, resp.steps)
    if f.split is not None:
        resp.split.by = f.split.by
        for g in f.split.groups:
            _steps_to(g.steps, resp.split.groups.add(group=g.group).steps)
    return resp


def funnel_from_proto(m: apb.FunnelResponse) -> Funnel:
    split = None
    if m.HasField("split"):
        split = FunnelSplit(m.split.by, [FunnelGroup(g.group, _steps(g.steps)) for g in m.split.groups])
    return Funnel(_steps(m.steps), split, m.as_of.ToMilliseconds())


# ------------------------------------------------------------------ journeys


def _share_to(s: JourneyShare, out: apb.JourneyShare) -> None:
    out.what, out.users = s.what, s.users
    _set(out, "share", s.share)


def _share(m: apb.JourneyShare) -> JourneyShare:
    return JourneyShare(m.what, m.users, _opt(m, "share"))


def journeys_to_proto(j: Journeys) -> apb.JourneysResponse:
    resp = apb.JourneysResponse(anchor=j.anchor, users=j.users)
    resp.as_of.FromMilliseconds(j.as_of_ms)
    for rows, out in ((j.after, resp.after), (j.before, resp.before)):
        for p in rows:
            out.add(path=p.path, users=p.users, share=p.share)
    if j.returned is not None:
        _share_to(j.returned, resp.returned)
    for d in j.did:
        _share_to(d, resp.did.add())
    return resp


def journeys_from_proto(m: apb.JourneysResponse) -> Journeys:
    def paths(rows: Any) -> list[JourneyPath]:
        return [JourneyPath(list(p.path), p.users, p.share) for p in rows]

    return Journeys(
        anchor=m.anchor,
        users=m.users,
        after=paths(m.after),
        before=paths(m.before),
        as_of_ms=m.as_of.ToMilliseconds(),
        returned=_share(m.returned) if m.HasField("returned") else None,
        did=[_share(d) for d in m.did],
    )
