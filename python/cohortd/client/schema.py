"""SDK methods of ``cohortd.v1.DataCatalog`` (a mixin of :class:`cohortd.Client`).

Each returns the same JSON-shaped document as the CLI's ``--json`` output and
the embedded API (``Project.schema()``, ``.breakdown(...).to_dict()``,
``.population(...).to_dict()``, ``.audit()``), so scripts can move between
embedded and remote without change.  Times are ISO-8601 UTC text.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from typing import Any

from cohortd import wire
from cohortd.client.types import LintWarning
from cohortd.v1 import cohortd_pb2 as pb
from cohortd.v1 import schema_pb2 as spb
from cohortd.v1 import schema_pb2_grpc as spb_grpc

__all__ = ["SchemaMixin"]


def _iso(ts: Any) -> str:
    dt = wire.timestamp_to_datetime(ts).astimezone(UTC)
    return dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _property(p: spb.PropertyInfo) -> dict[str, Any]:
    return {
        "name": p.name,
        "type": p.type,
        "present": p.present,
        "top_values": [{"value": wire.python_value(v.value), "count": v.count} for v in p.top_values],
    }


class SchemaMixin:
    """Schema discovery, breakdowns, population over time and the saved-cohort audit."""

    project: str
    _channel: Any

    def _call(self, method: Any, request: Any, timeout: float | None, retry: bool = True) -> Any: ...

    @property
    def _catalog_stub(self) -> spb_grpc.DataCatalogStub:
        stub = self.__dict__.get("_data_catalog_stub")
        if stub is None:
            stub = self.__dict__["_data_catalog_stub"] = spb_grpc.DataCatalogStub(self._channel)
        return stub

    def schema(self, *, top_values: int = 10, timeout: float | None = None) -> dict[str, Any]:
        """``{"event_types": [...], "user_properties": [...]}`` (see docs/know-your-data.md)."""
        req = spb.GetSchemaRequest(project=self.project, top_values=top_values)
        resp = self._call(self._catalog_stub.GetSchema, req, timeout)
        return {
            "event_types": [
                {
                    "name": e.name,
                    "events": e.events,
                    "users": e.users,
                    "first_seen": _iso(e.first_seen),
                    "last_seen": _iso(e.last_seen),
                    "last_7d": e.last_7d,
                    "last_30d": e.last_30d,
                    "properties": [_property(p) for p in e.properties],
                }
                for e in resp.event_types
            ],
            "user_properties": [_property(p) for p in resp.user_properties],
        }

    def breakdown(
        self,
        cohort: str | None = None,
        definition: Any = None,
        by: str | None = None,
        *,
        window: str | None = None,
        pick: str = "last",
        top: int = 10,
        by_cohorts: Sequence[str] | None = None,
        as_of: Any = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """``{"cohort", "as_of", "size", "rows": [{"value", "members", "share", "base_share", "index"}]}``."""
        from cohortd.client.client import _target, _ts

        req = spb.BreakdownRequest(
            project=self.project,
            by=by or "",
            window=window or "",
            pick=pick,
            top=top,
            by_cohorts=by_cohorts or (),
        )
        _target(req.target, cohort, definition)
        _ts(req.as_of, as_of)
        resp = self._call(self._catalog_stub.Breakdown, req, timeout)
        return {
            "cohort": resp.cohort,
            "as_of": _iso(resp.as_of),
            "size": resp.size,
            "rows": [
                {
                    "value": wire.python_value(r.value),
                    "members": r.members,
                    "share": r.share,
                    "base_share": r.base_share,
                    "index": r.index if r.HasField("index") else None,
                }
                for r in resp.rows
            ],
        }

    def population(
        self,
        cohort: str | None = None,
        definition: Any = None,
        *,
        start: Any,
        end: Any,
        step: str = "1d",
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """``{"cohort", "points": [{"as_of", "size", "entered", "exited"}]}`` from start to end."""
        from cohortd.client.client import _target, _ts

        req = spb.PopulationRequest(project=self.project, step=step)
        _target(req.target, cohort, definition)
        _ts(req.start, start)
        _ts(req.end, end)
        resp = self._call(self._catalog_stub.Population, req, timeout)
        return {
            "cohort": resp.cohort,
            "points": [
                {"as_of": _iso(p.as_of), "size": p.size, "entered": p.entered, "exited": p.exited}
                for p in resp.points
            ],
        }

    def audit(
        self,
        *,
        stale_days: int = 30,
        shrink_percent: float = 20.0,
        unread_days: int = 60,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """``{"as_of", "stale_event_types", "findings", "similar_pairs"}`` over every saved cohort."""
        req = spb.AuditRequest(
            project=self.project,
            stale_days=stale_days,
            shrink_percent=shrink_percent,
            unread_days=unread_days,
        )
        resp = self._call(self._catalog_stub.Audit, req, timeout)
        return {
            "as_of": _iso(resp.as_of),
            "stale_event_types": [
                {"name": s.name, "last_seen": _iso(s.last_seen), "days_silent": s.days_silent}
                for s in resp.stale_event_types
            ],
            "findings": [{"cohort": f.cohort, "code": f.code, "message": f.message} for f in resp.findings],
            "similar_pairs": [{"a": p.a, "b": p.b, "jaccard": p.jaccard} for p in resp.similar_pairs],
        }

    def explain_warnings(
        self,
        cohort: str | None = None,
        definition: Any = None,
        *,
        as_of: Any = None,
        timeout: float | None = None,
    ) -> tuple[list[Any], list[LintWarning]]:
        """The plan (as :meth:`explain`) and the lint warnings the Explain answer carries."""
        from cohortd.client.client import _target, _ts
        from cohortd.client.types import PlanStep

        req = pb.ExplainRequest(project=self.project)
        _target(req.target, cohort, definition)
        _ts(req.as_of, as_of)
        resp = self._call(self._stub.Explain, req, timeout)  # type: ignore[attr-defined]
        steps = [PlanStep(s.text, s.size, s.millis, s.depth) for s in resp.steps]
        return steps, [LintWarning(w.code, w.message) for w in resp.warnings]
