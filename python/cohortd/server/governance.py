"""``cohortd.v1.Governance`` over a :class:`~cohortd.service.Workspace`: translation only.

The work is in :mod:`cohortd.governance`; a refused delete or rename is
``ReferencedError`` (FAILED_PRECONDITION), the cap ``LimitExceededError``
(RESOURCE_EXHAUSTED), unknown names NOT_FOUND, taken names ALREADY_EXISTS.
"""

from __future__ import annotations

from dataclasses import asdict

import grpc

from cohortd.errors import InvalidArgumentError
from cohortd.server.projects import read_project
from cohortd.server.servicer import _cohort
from cohortd.service import Project, Workspace
from cohortd.v1 import governance_pb2 as pb
from cohortd.v1 import governance_pb2_grpc as pb_grpc

__all__ = ["GOVERNANCE_SERVICE", "GovernanceServicer"]

GOVERNANCE_SERVICE = pb.DESCRIPTOR.services_by_name["Governance"].full_name


class GovernanceServicer(pb_grpc.GovernanceServicer):
    """Every RPC of ``cohortd.v1.Governance``."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    def _project(self, request: pb.UnarchiveCohortRequest) -> Project:
        if not request.name:
            raise InvalidArgumentError("name is empty")
        return read_project(self.workspace, request)

    def UnarchiveCohort(
        self, request: pb.UnarchiveCohortRequest, context: grpc.ServicerContext
    ) -> pb.UnarchiveCohortResponse:
        rec = self._project(request).unarchive_cohort(request.name)
        out = pb.UnarchiveCohortResponse()
        _cohort(rec, out.cohort)
        return out

    def RenameCohort(
        self, request: pb.RenameCohortRequest, context: grpc.ServicerContext
    ) -> pb.RenameCohortResponse:
        rec, followed = self._project(request).rename_cohort(request.name, request.new_name)
        out = pb.RenameCohortResponse(followed=followed)
        _cohort(rec, out.cohort)
        return out

    def DeleteCohort(
        self, request: pb.DeleteCohortRequest, context: grpc.ServicerContext
    ) -> pb.DeleteCohortResponse:
        self._project(request).delete_cohort(request.name)
        return pb.DeleteCohortResponse()

    def CohortChangelog(
        self, request: pb.CohortChangelogRequest, context: grpc.ServicerContext
    ) -> pb.CohortChangelogResponse:
        out = pb.CohortChangelogResponse()
        for v in self._project(request).cohort_changelog(request.name):
            out.versions.add(**asdict(v))
        return out
