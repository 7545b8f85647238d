"""``cohortd.v1.Identity`` over a :class:`~cohortd.service.Workspace`: translation only.

The work is in :mod:`cohortd.storage.deletion`; the API key's name (as for
governance) is recorded in the audit log as who asked.
"""

from __future__ import annotations

import json

import grpc

from cohortd.errors import InvalidArgumentError
from cohortd.server.projects import read_project
from cohortd.service import Workspace
from cohortd.v1 import identity_pb2 as pb
from cohortd.v1 import identity_pb2_grpc as pb_grpc

__all__ = ["IDENTITY_SERVICE", "IdentityServicer"]

IDENTITY_SERVICE = pb.DESCRIPTOR.services_by_name["Identity"].full_name


class IdentityServicer(pb_grpc.IdentityServicer):
    """Every RPC of ``cohortd.v1.Identity``."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    def DeleteUsers(
        self, request: pb.DeleteUsersRequest, context: grpc.ServicerContext
    ) -> pb.DeleteUsersResponse:
        if not request.user_ids:
            raise InvalidArgumentError("user_ids is empty")
        project = read_project(self.workspace, request)
        r = project.delete_users(list(request.user_ids), compact=request.compact)
        return pb.DeleteUsersResponse(
            found=r.found,
            not_found=r.not_found,
            ids_deleted=r.ids_deleted,
            events_before=r.events_before,
            events_visible_after=r.events_visible_after,
            purged=r.purged,
            audit_json=json.dumps(r.audit, sort_keys=True),
        )
