"""SDK methods of ``cohortd.v1.Migration`` (mixed into :class:`cohortd.Client`).

    for m in c.migration(["New", "Activated", "Engaged"], "2026-01-01", "2026-07-01", step="1mo"):
        print(m.from_ms, [(cell.source, cell.target, cell.users) for cell in m.cells])
    c.migration_entries(["New", "Activated", "Engaged"], into="Engaged").came_from

Returns the same values as the embedded API (:mod:`cohortd.analysis.migration`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import grpc

from cohortd import wire
from cohortd.v1 import migration_pb2 as mpb
from cohortd.v1 import migration_pb2_grpc as mpb_grpc

__all__ = ["MigrationClient"]


class MigrationClient:
    project: str
    _channel: grpc.Channel
    _call: Callable[..., Any]

    @property
    def _migration(self) -> mpb_grpc.MigrationStub:
        stub = self.__dict__.get("_migration_stub")
        if stub is None:
            stub = self.__dict__["_migration_stub"] = mpb_grpc.MigrationStub(self._channel)
        return stub

    def migration(
        self,
        cohorts: Sequence[str],
        from_: Any,
        to: Any,
        step: str | None = None,
        *,
        timeout: float | None = None,
    ) -> list[Any]:
        """Transition matrices (``TransitionMatrix``) between ``from_`` and ``to`` (every ``step``)."""
        from cohortd.analysis.migration import Cell, TransitionMatrix

        req = mpb.TransitionsRequest(
            project=self.project, cohorts=list(cohorts), from_ms=wire.to_epoch_ms(from_),
            to_ms=wire.to_epoch_ms(to), step=step or "",
        )  # fmt: skip
        resp = self._call(self._migration.Transitions, req, timeout)
        return [
            TransitionMatrix(
                list(m.cohorts),
                m.from_ms,
                m.to_ms,
                [
                    Cell(c.source, c.target, c.users, c.share if c.HasField("share") else None)
                    for c in m.cells
                ],
                dict(m.sizes_from),
                dict(m.sizes_to),
                m.overlap_from,
                m.overlap_to,
            )  # fmt: skip
            for m in resp.matrices
        ]

    def migration_entries(
        self,
        cohorts: Sequence[str],
        into: str,
        since: Any = None,
        until: Any = None,
        *,
        timeout: float | None = None,
    ) -> Any:
        """Entries into saved cohort ``into`` by the set's cohorts the users came from (change log)."""
        from cohortd.analysis.migration import MigrationEntries

        req = mpb.MigrationEntriesRequest(project=self.project, cohorts=list(cohorts), into=into)
        if since is not None:
            req.since_ms = wire.to_epoch_ms(since)
        if until is not None:
            req.until_ms = wire.to_epoch_ms(until)
        r = self._call(self._migration.Entries, req, timeout)
        return MigrationEntries(
            r.cohort, list(r.cohorts), r.since_ms if r.HasField("since_ms") else None,
            r.until_ms if r.HasField("until_ms") else None, r.entries, dict(r.came_from), r.log_from_ms,
        )  # fmt: skip
