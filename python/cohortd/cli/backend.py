"""The two ways the CLI reaches cohorts: embedded (Workspace) and remote (SDK).

Both expose the same methods and return plain dicts/lists, so printing and
``--json`` do not care where an answer came from.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any, Protocol

from cohortd.storage.catalog import CohortRecord, CohortVersion


def _iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def record_dict(r: CohortRecord) -> dict[str, Any]:
    return {
        "name": r.name,
        "description": r.description,
        "definition": r.definition,
        "version": r.version,
        "created": _iso(r.created_ms),
        "updated": _iso(r.updated_ms),
        "last_evaluated": _iso(r.last_evaluated_ms),
        "archived": r.archived,
    }


def version_dict(v: CohortVersion) -> dict[str, Any]:
    return {
        "version": v.version,
        "definition": v.definition,
        "description": v.description,
        "note": v.note,
        "time": _iso(v.created_ms),
    }


def warning_dicts(ws: Any) -> list[dict[str, Any]]:
    return [{"code": w.code, "message": w.message} for w in ws]


class Backend(Protocol):
    """What every CLI command needs from a target."""

    def create_cohort(self, name: str, definition: str, description: str, note: str) -> dict[str, Any]: ...
    def update_cohort(
        self, name: str, definition: str | None, description: str | None, note: str
    ) -> dict[str, Any]: ...
    def get_cohort(self, name: str) -> dict[str, Any]: ...
    def list_cohorts(self, include_archived: bool) -> list[dict[str, Any]]: ...
    def archive_cohort(self, name: str) -> dict[str, Any]: ...
    def cohort_history(self, name: str) -> list[dict[str, Any]]: ...
    def evaluate(
        self, name: str | None, definition: str | None, as_of_ms: int | None, kernel: str | None
    ) -> dict[str, Any]: ...
    def members(self, name: str | None, definition: str | None, as_of_ms: int | None) -> list[str]: ...
    def overlap(self, cohorts: list[str], as_of_ms: int | None) -> dict[str, Any]: ...
    def user_cohorts(self, user_id: str, as_of_ms: int | None) -> list[str]: ...
    def explain(
        self, name: str | None, definition: str | None, as_of_ms: int | None
    ) -> list[dict[str, Any]]: ...
    def lint(self, definition: str, name: str | None) -> list[dict[str, Any]]: ...
    def watch(
        self, cohorts: list[str], from_version: int | None, started: Callable[[int], None]
    ) -> Iterator[dict[str, Any]]: ...
    def close(self) -> None: ...


def _change_dict(c: Any) -> dict[str, Any]:
    """A workspace or SDK ``Change`` → {cohort, version, time_ms, entered, exited}."""
    return {k: v for k, v in asdict(c).items() if k in ("cohort", "version", "time_ms", "entered", "exited")}


class EmbeddedBackend:
    """``--data DIR``: the service layer in this process."""

    def __init__(self, data_dir: str, project: str) -> None:
        from cohortd.service import Workspace

        self.workspace = Workspace(data_dir)
        try:
            self.project = self.workspace.project(project)
        except BaseException:
            self.workspace.close()
            raise

    def create_cohort(self, name: str, definition: str, description: str, note: str) -> dict[str, Any]:
        rec, warnings = self.project.create_cohort(name, definition, description, note)
        return {"cohort": record_dict(rec), "warnings": warning_dicts(warnings)}

    def update_cohort(
        self, name: str, definition: str | None, description: str | None, note: str
    ) -> dict[str, Any]:
        rec, warnings = self.project.update_cohort(name, definition, description, note)
        return {"cohort": record_dict(rec), "warnings": warning_dicts(warnings)}

    def get_cohort(self, name: str) -> dict[str, Any]:
        return record_dict(self.project.get_cohort(name))

    def list_cohorts(self, include_archived: bool) -> list[dict[str, Any]]:
        return [record_dict(r) for r in self.project.list_cohorts(include_archived)]

    def archive_cohort(self, name: str) -> dict[str, Any]:
        return record_dict(self.project.archive_cohort(name))

    def cohort_history(self, name: str) -> list[dict[str, Any]]:
        return [version_dict(v) for v in self.project.cohort_history(name)]

    def evaluate(
        self, name: str | None, definition: str | None, as_of_ms: int | None, kernel: str | None
    ) -> dict[str, Any]:
        res = self.project.evaluate(name, definition, as_of_ms, kernel=kernel)
        warnings = warning_dicts(self.project.warnings(name, definition))
        return {"size": int(res.size), "as_of": _iso(res.as_of_ms), "warnings": warnings, "result": res}

    def members(self, name: str | None, definition: str | None, as_of_ms: int | None) -> list[str]:
        return [str(m) for m in self.project.members(name, definition, as_of_ms)]

    def overlap(self, cohorts: list[str], as_of_ms: int | None) -> dict[str, Any]:
        ov = self.project.overlap(cohorts, as_of_ms)
        return {
            "names": ov.names,
            "sizes": ov.sizes,
            "intersections": ov.intersections,
            "jaccard": ov.jaccard,
            "as_of": _iso(ov.as_of_ms),
        }

    def user_cohorts(self, user_id: str, as_of_ms: int | None) -> list[str]:
        return self.project.user_cohorts(user_id, as_of_ms)

    def explain(self, name: str | None, definition: str | None, as_of_ms: int | None) -> list[dict[str, Any]]:
        steps = self.project.explain(name, definition, as_of_ms)
        return [
            {"text": s.text, "size": int(s.size), "millis": float(s.millis), "depth": int(s.depth)}
            for s in steps
        ]

    def lint(self, definition: str, name: str | None) -> list[dict[str, Any]]:
        return warning_dicts(self.project.lint(definition, name))

    def watch(
        self, cohorts: list[str], from_version: int | None, started: Callable[[int], None]
    ) -> Iterator[dict[str, Any]]:
        start = self.project.maintainer.version if from_version is None else from_version
        self.project.changes(cohorts, start, upto=start)  # unknown names, versions the log lost
        started(start)
        for change in self.project.watch(cohorts, start):
            yield _change_dict(change)

    def close(self) -> None:
        self.workspace.close()


def _time_iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _remote_record(r: Any) -> dict[str, Any]:
    """An SDK ``Cohort`` → the same dict as :func:`record_dict`."""
    return {
        "name": r.name,
        "description": r.description,
        "definition": r.definition,
        "version": int(r.version),
        "created": _time_iso(r.created),
        "updated": _time_iso(r.updated),
        "last_evaluated": _time_iso(r.last_evaluated),
        "archived": bool(r.archived),
    }


def _as_of_dt(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=UTC)


class RemoteBackend:
    """``--server HOST:PORT``: the same operations through the Python SDK over gRPC."""

    def __init__(self, target: str, api_key: str | None, project: str, tls_ca: str | None = None) -> None:
        from cohortd.client import Client

        self.client = Client(target, api_key=api_key, project=project, tls_root_cert=tls_ca)

    def create_cohort(self, name: str, definition: str, description: str, note: str) -> dict[str, Any]:
        rec, warnings = self.client.create_cohort(name, definition, description=description, note=note)
        return {"cohort": _remote_record(rec), "warnings": warning_dicts(warnings)}

    def update_cohort(
        self, name: str, definition: str | None, description: str | None, note: str
    ) -> dict[str, Any]:
        rec, warnings = self.client.update_cohort(name, definition, description, note)
        return {"cohort": _remote_record(rec), "warnings": warning_dicts(warnings)}

    def get_cohort(self, name: str) -> dict[str, Any]:
        return _remote_record(self.client.get_cohort(name))

    def list_cohorts(self, include_archived: bool) -> list[dict[str, Any]]:
        return [_remote_record(r) for r in self.client.list_cohorts(include_archived)]

    def archive_cohort(self, name: str) -> dict[str, Any]:
        return _remote_record(self.client.archive_cohort(name))

    def cohort_history(self, name: str) -> list[dict[str, Any]]:
        return [
            {
                "version": int(v.version),
                "definition": v.definition,
                "description": v.description,
                "note": v.note,
                "time": _time_iso(v.time),
            }
            for v in self.client.cohort_history(name)
        ]

    def evaluate(
        self, name: str | None, definition: str | None, as_of_ms: int | None, kernel: str | None
    ) -> dict[str, Any]:
        res = self.client.evaluate(name, definition, as_of=_as_of_dt(as_of_ms))
        return {"size": int(res.size), "as_of": _time_iso(res.as_of), "warnings": warning_dicts(res.warnings)}

    def members(self, name: str | None, definition: str | None, as_of_ms: int | None) -> list[str]:
        return self.client.members(name, definition, as_of=_as_of_dt(as_of_ms))

    def overlap(self, cohorts: list[str], as_of_ms: int | None) -> dict[str, Any]:
        ov = self.client.overlap(cohorts, as_of=_as_of_dt(as_of_ms))
        return {
            "names": list(ov.names),
            "sizes": [int(x) for x in ov.sizes],
            "intersections": [[int(x) for x in row] for row in ov.intersections],
            "jaccard": [[float(x) for x in row] for row in ov.jaccard],
            "as_of": _iso(as_of_ms),  # the wire answer carries no as-of time; None means "now"
        }

    def user_cohorts(self, user_id: str, as_of_ms: int | None) -> list[str]:
        return self.client.user_cohorts(user_id, as_of=_as_of_dt(as_of_ms))

    def explain(self, name: str | None, definition: str | None, as_of_ms: int | None) -> list[dict[str, Any]]:
        steps = self.client.explain(name, definition, as_of=_as_of_dt(as_of_ms))
        return [
            {"text": s.text, "size": int(s.size), "millis": float(s.millis), "depth": int(s.depth)}
            for s in steps
        ]

    def lint(self, definition: str, name: str | None) -> list[dict[str, Any]]:
        return warning_dicts(self.client.lint(definition, name))

    def watch(
        self, cohorts: list[str], from_version: int | None, started: Callable[[int], None]
    ) -> Iterator[dict[str, Any]]:
        announced: list[int] = []

        def checkpoint(version: int) -> None:
            if not announced:  # the first start point only, not every resume
                announced.append(version)
                started(version)

        with self.client.watch(cohorts, from_version, retries=20, on_checkpoint=checkpoint) as stream:
            for change in stream:
                yield _change_dict(change)

    def close(self) -> None:
        self.client.close()
