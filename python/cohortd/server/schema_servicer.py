"""``cohortd.v1.DataCatalog`` over a Workspace: schema, breakdown, population, audit.

Like the main servicer it only translates: the service layer
(``Project.schema`` / ``breakdown`` / ``population`` / ``audit``, implemented
in ``analysis/know.py``) answers with the JSON-shaped documents of the CLI,
and this module copies them into the messages of ``schema.proto``.
"""

from __future__ import annotations

from typing import Any

import grpc

from cohortd import times, wire
from cohortd.errors import InvalidArgumentError
from cohortd.server.projects import read_project
from cohortd.server.servicer import _as_of, _check_deadline, _target
from cohortd.service import Project, Workspace
from cohortd.v1 import schema_pb2 as spb
from cohortd.v1 import schema_pb2_grpc as spb_grpc

__all__ = ["DATA_CATALOG_SERVICE", "DataCatalogServicer"]

DATA_CATALOG_SERVICE = spb.DESCRIPTOR.services_by_name["DataCatalog"].full_name


def _ts(iso: str | None, out: Any) -> None:
    if iso is not None:
        out.FromMilliseconds(times.to_ms(iso))


def _property(p: dict[str, Any], out: spb.PropertyInfo) -> None:
    out.name, out.type, out.present = p["name"], p["type"], p["present"]
    for tv in p["top_values"]:
        vc = out.top_values.add(count=tv["count"])
        wire.value_to_proto(tv["value"], vc.value)


class DataCatalogServicer(spb_grpc.DataCatalogServicer):
    """Every RPC of ``cohortd.v1.DataCatalog``."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    def _project(self, request: Any) -> Project:
        return read_project(self.workspace, request)

    def GetSchema(
        self, request: spb.GetSchemaRequest, context: grpc.ServicerContext
    ) -> spb.GetSchemaResponse:
        if request.top_values < 0:
            raise InvalidArgumentError("top_values must be >= 0")
        doc = self._project(request).schema(request.top_values or 10)
        out = spb.GetSchemaResponse()
        for et in doc["event_types"]:
            msg = out.event_types.add(
                name=et["name"],
                events=et["events"],
                users=et["users"],
                last_7d=et["last_7d"],
                last_30d=et["last_30d"],
            )
            _ts(et["first_seen"], msg.first_seen)
            _ts(et["last_seen"], msg.last_seen)
            for p in et["properties"]:
                _property(p, msg.properties.add())
        for p in doc["user_properties"]:
            _property(p, out.user_properties.add())
        return out

    def Breakdown(
        self, request: spb.BreakdownRequest, context: grpc.ServicerContext
    ) -> spb.BreakdownResponse:
        _check_deadline(context)
        if request.top < 0:
            raise InvalidArgumentError("top must be >= 0")
        name, definition = _target(request)
        result = self._project(request).breakdown(
            name,
            definition,
            request.by or None,
            window=request.window or None,
            pick=request.pick or "last",
            top=request.top or 10,
            by_cohorts=list(request.by_cohorts) or None,
            as_of=_as_of(request),
        )
        out = spb.BreakdownResponse(cohort=result.cohort, size=result.size)
        out.as_of.FromMilliseconds(result.as_of_ms)
        for r in result.rows:
            row = out.rows.add(members=r.members, share=r.share, base_share=r.base_share)
            wire.value_to_proto(r.value, row.value)
            if r.index is not None:
                row.index = r.index
        return out

    def Population(
        self, request: spb.PopulationRequest, context: grpc.ServicerContext
    ) -> spb.PopulationResponse:
        _check_deadline(context)
        if not request.HasField("start") or not request.HasField("end"):
            raise InvalidArgumentError("population needs start and end")
        name, definition = _target(request)
        series = self._project(request).population(
            name,
            definition,
            start=request.start.ToMilliseconds(),
            end=request.end.ToMilliseconds(),
            step=request.step or "1d",
        )
        out = spb.PopulationResponse(cohort=series.cohort)
        for p in series.points:
            msg = out.points.add(size=p.size, entered=p.entered, exited=p.exited)
            msg.as_of.FromMilliseconds(p.as_of_ms)
        return out

    def Audit(self, request: spb.AuditRequest, context: grpc.ServicerContext) -> spb.AuditResponse:
        _check_deadline(context)
        if request.stale_days < 0 or request.unread_days < 0 or request.shrink_percent < 0:
            raise InvalidArgumentError("stale_days, shrink_percent and unread_days must be >= 0")
        doc = self._project(request).audit(
            stale_days=request.stale_days or 30,
            shrink_percent=request.shrink_percent or 20.0,
            unread_days=request.unread_days or 60,
        )
        out = spb.AuditResponse()
        _ts(doc["as_of"], out.as_of)
        for s in doc["stale_event_types"]:
            msg = out.stale_event_types.add(name=s["name"], days_silent=s["days_silent"] or 0)
            _ts(s["last_seen"], msg.last_seen)
        for f in doc["findings"]:
            out.findings.add(cohort=f["cohort"], code=f["code"], message=f["message"])
        for pair in doc["similar_pairs"]:
            out.similar_pairs.add(a=pair["a"], b=pair["b"], jaccard=pair["jaccard"])
        return out
