"""``cohortd.v1.Storage`` over a Workspace: the event store's health, translation only.

``Project.storage_status`` (from ``EventStore.status``) answers; this module
copies it into ``StorageStatusResponse``.
"""

from __future__ import annotations

import grpc

from cohortd.server.projects import read_project
from cohortd.service import Workspace
from cohortd.v1 import storage_pb2 as spb
from cohortd.v1 import storage_pb2_grpc as spb_grpc

__all__ = ["STORAGE_SERVICE", "StorageServicer"]

STORAGE_SERVICE = spb.DESCRIPTOR.services_by_name["Storage"].full_name


class StorageServicer(spb_grpc.StorageServicer):
    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    def StorageStatus(
        self, request: spb.StorageStatusRequest, context: grpc.ServicerContext
    ) -> spb.StorageStatusResponse:
        s = read_project(self.workspace, request).storage_status()
        return spb.StorageStatusResponse(
            quarantined=s.quarantined,
            background_failures=s.background_failures,
            last_background_error=s.last_background_error or "",
            pending_retry=s.pending_retry,
            log_bytes=s.log_bytes,
            sealed_segments=s.sealed_segments,
            tail_events=s.tail_events,
        )
