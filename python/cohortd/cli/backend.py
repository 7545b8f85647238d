"""The CLI's target: one :class:`cohortd.api.CohortService`, embedded or remote, and dict views of it.

``--data DIR`` opens the project in process (``cohortd.open``); ``--server
HOST:PORT`` connects the SDK (``cohortd.Client``).  Both return the same value
types, so one set of converters below turns answers into the plain dicts the
printers and ``--json`` use, and the output cannot depend on the transport.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict
from datetime import datetime
from typing import Any

from cohortd.api import CohortService
from cohortd.times import iso_ms, to_ms
from cohortd.types import Change, Cohort, CohortVersion, LintWarning, PlanStep

__all__ = ["Backend", "EmbeddedBackend", "RemoteBackend", "cohort_dict", "record_dict", "warning_dicts"]


def _iso(value: datetime | None) -> str | None:
    """A datetime (naive = UTC) in the JSON documents' spelling."""
    return None if value is None else iso_ms(to_ms(value))


def cohort_dict(r: Cohort) -> dict[str, Any]:
    return {
        "name": r.name,
        "description": r.description,
        "definition": r.definition,
        "version": int(r.version),
        "created": _iso(r.created),
        "updated": _iso(r.updated),
        "last_evaluated": _iso(r.last_evaluated),
        "archived": bool(r.archived),
    }


def record_dict(r: Any) -> dict[str, Any]:
    """A service-layer ``CohortRecord`` (epoch-ms times) as the same dict as :func:`cohort_dict`."""
    ms = {k: getattr(r, f"{k}_ms") for k in ("created", "updated", "last_evaluated")}
    return {
        "name": r.name,
        "description": r.description,
        "definition": r.definition,
        "version": int(r.version),
        **{k: iso_ms(v) for k, v in ms.items()},
        "archived": bool(r.archived),
    }


def version_dict(v: CohortVersion) -> dict[str, Any]:
    return {
        "version": int(v.version),
        "definition": v.definition,
        "description": v.description,
        "note": v.note,
        "time": _iso(v.time),
    }


def warning_dicts(ws: Iterable[LintWarning]) -> list[dict[str, Any]]:
    return [{"code": w.code, "message": w.message} for w in ws]


def step_dicts(steps: Iterable[PlanStep]) -> list[dict[str, Any]]:
    return [
        {"text": s.text, "size": int(s.size), "millis": float(s.millis), "depth": int(s.depth)} for s in steps
    ]


def _change_dict(c: Change) -> dict[str, Any]:
    """A ``Change`` → {cohort, version, time_ms, entered, exited}."""
    return {k: v for k, v in asdict(c).items() if k in ("cohort", "version", "time_ms", "entered", "exited")}


class Backend:
    """What every CLI command asks of a target, answered from its :class:`CohortService`."""

    def __init__(self, api: CohortService) -> None:
        self.api = api

    def create_cohort(self, name: str, definition: str, description: str, note: str) -> dict[str, Any]:
        rec, warnings = self.api.create_cohort(name, definition, description, note)
        return {"cohort": cohort_dict(rec), "warnings": warning_dicts(warnings)}

    def update_cohort(
        self, name: str, definition: str | None, description: str | None, note: str
    ) -> dict[str, Any]:
        rec, warnings = self.api.update_cohort(name, definition, description, note)
        return {"cohort": cohort_dict(rec), "warnings": warning_dicts(warnings)}

    def get_cohort(self, name: str) -> dict[str, Any]:
        return cohort_dict(self.api.get_cohort(name))

    def list_cohorts(self, include_archived: bool) -> list[dict[str, Any]]:
        return [cohort_dict(r) for r in self.api.list_cohorts(include_archived)]

    def archive_cohort(self, name: str) -> dict[str, Any]:
        return cohort_dict(self.api.archive_cohort(name))

    def cohort_history(self, name: str) -> list[dict[str, Any]]:
        return [version_dict(v) for v in self.api.cohort_history(name)]

    def evaluate(
        self, name: str | None, definition: str | None, as_of_ms: int | None, kernel: str | None
    ) -> dict[str, Any]:
        res = self.api.evaluate(name, definition, as_of=as_of_ms)
        return {"size": int(res.size), "as_of": _iso(res.as_of), "warnings": warning_dicts(res.warnings)}

    def members(self, name: str | None, definition: str | None, as_of_ms: int | None) -> list[str]:
        return [str(m) for m in self.api.members(name, definition, as_of=as_of_ms)]

    def overlap(self, cohorts: list[str], as_of_ms: int | None) -> dict[str, Any]:
        ov = self.api.overlap(cohorts, as_of=as_of_ms)
        return {
            "names": list(ov.names),
            "sizes": [int(x) for x in ov.sizes],
            "intersections": [[int(x) for x in row] for row in ov.intersections],
            "jaccard": [[float(x) for x in row] for row in ov.jaccard],
            "as_of": iso_ms(ov.as_of_ms if ov.as_of_ms is not None else as_of_ms),
        }

    def user_cohorts(self, user_id: str, as_of_ms: int | None) -> list[str]:
        return self.api.user_cohorts(user_id, as_of=as_of_ms)

    def explain(self, name: str | None, definition: str | None, as_of_ms: int | None) -> list[dict[str, Any]]:
        return step_dicts(self.api.explain(name, definition, as_of=as_of_ms))

    def lint(self, definition: str, name: str | None) -> list[dict[str, Any]]:
        return warning_dicts(self.api.lint(definition, name))

    def watch(
        self, cohorts: list[str], from_version: int | None, started: Callable[[int], None]
    ) -> Iterator[dict[str, Any]]:
        announced: list[int] = []

        def checkpoint(version: int) -> None:
            if not announced:  # the first start point only, not every resume
                announced.append(version)
                started(version)

        with self._watch(cohorts, from_version, checkpoint) as stream:
            for change in stream:
                yield _change_dict(change)

    def _watch(self, cohorts: list[str], from_version: int | None, checkpoint: Callable[[int], None]) -> Any:
        return self.api.watch(cohorts, from_version, on_checkpoint=checkpoint)

    def close(self) -> None:
        self.api.close()


class EmbeddedBackend(Backend):
    """``--data DIR``: the project in this process (``cohortd.open``); nothing is created unless asked."""

    def __init__(self, data_dir: str, project: str) -> None:
        from cohortd.embedded import open_project

        self.embedded = open_project(data_dir, project, create=False)
        super().__init__(self.embedded)
        self.workspace = self.embedded.workspace
        self.project = self.embedded.service  # the service-layer Project, for area commands

    def evaluate(
        self, name: str | None, definition: str | None, as_of_ms: int | None, kernel: str | None
    ) -> dict[str, Any]:
        res = self.embedded.evaluate(name, definition, as_of=as_of_ms, kernel=kernel)
        return {"size": int(res.size), "as_of": _iso(res.as_of), "warnings": warning_dicts(res.warnings)}


class RemoteBackend(Backend):
    """``--server HOST:PORT``: the same operations through the Python SDK over gRPC."""

    def __init__(self, target: str, api_key: str | None, project: str, tls_ca: str | None = None) -> None:
        from cohortd.client import Client

        self.client = Client(target, api_key=api_key, project=project, tls_root_cert=tls_ca)
        super().__init__(self.client)

    def _watch(self, cohorts: list[str], from_version: int | None, checkpoint: Callable[[int], None]) -> Any:
        return self.client.watch(cohorts, from_version, retries=20, on_checkpoint=checkpoint)
