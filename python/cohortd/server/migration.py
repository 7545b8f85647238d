"""``cohortd.v1.Migration`` over a :class:`~cohortd.service.Workspace`: translation only."""

from __future__ import annotations

from typing import Any

import grpc

from cohortd.errors import InvalidArgumentError
from cohortd.server.projects import read_project
from cohortd.service import Project, Workspace
from cohortd.v1 import migration_pb2 as pb
from cohortd.v1 import migration_pb2_grpc as pb_grpc

__all__ = ["MIGRATION_SERVICE", "MigrationServicer"]

MIGRATION_SERVICE = pb.DESCRIPTOR.services_by_name["Migration"].full_name


class MigrationServicer(pb_grpc.MigrationServicer):
    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    def _project(self, request: Any) -> Project:
        return read_project(self.workspace, request)

    def Transitions(
        self, request: pb.TransitionsRequest, context: grpc.ServicerContext
    ) -> pb.TransitionsResponse:
        if not request.cohorts:
            raise InvalidArgumentError("cohorts: name at least one cohort")
        matrices = self._project(request).migration(
            list(request.cohorts), request.from_ms, request.to_ms, request.step or None
        )
        out = pb.TransitionsResponse()
        for m in matrices:
            msg = out.matrices.add(
                cohorts=m.cohorts, from_ms=m.from_ms, to_ms=m.to_ms, overlap_from=m.overlap_from,
                overlap_to=m.overlap_to,
            )  # fmt: skip
            msg.sizes_from.update(m.sizes_from)
            msg.sizes_to.update(m.sizes_to)
            for c in m.cells:
                cell = msg.cells.add(source=c.source, target=c.target, users=c.users)
                if c.share is not None:
                    cell.share = c.share
        return out

    def Entries(
        self, request: pb.MigrationEntriesRequest, context: grpc.ServicerContext
    ) -> pb.MigrationEntriesResponse:
        if not request.into:
            raise InvalidArgumentError("into: name the saved cohort whose entries to break down")
        r = self._project(request).migration_entries(
            list(request.cohorts),
            request.into,
            request.since_ms if request.HasField("since_ms") else None,
            request.until_ms if request.HasField("until_ms") else None,
        )
        out = pb.MigrationEntriesResponse(
            cohort=r.cohort, cohorts=r.cohorts, entries=r.entries, log_from_ms=r.log_from_ms
        )
        out.came_from.update(r.came_from)
        if r.since_ms is not None:
            out.since_ms = r.since_ms
        if r.until_ms is not None:
            out.until_ms = r.until_ms
        return out
