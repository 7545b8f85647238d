"""``cohortd.v1.Audiences`` over a :class:`~cohortd.service.Workspace`: translation only.

Errors are the package's exceptions (``AudienceError`` is INVALID_ARGUMENT,
unknown names NOT_FOUND, taken names ALREADY_EXISTS) mapped by ``server/errors.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc

from cohortd.audiences.model import AudienceInfo, DestinationInfo, SyncAttempt
from cohortd.errors import InvalidArgumentError
from cohortd.server.limits import Limits
from cohortd.server.projects import read_project, write_project
from cohortd.service import Project, Workspace
from cohortd.v1 import audiences_pb2 as pb
from cohortd.v1 import audiences_pb2_grpc as pb_grpc

__all__ = ["AUDIENCES_SERVICE", "AudiencesServicer"]

AUDIENCES_SERVICE = pb.DESCRIPTOR.services_by_name["Audiences"].full_name


def destination_msg(d: DestinationInfo, out: pb.Destination) -> pb.Destination:
    out.name, out.kind, out.url, out.path = d.name, d.kind, d.url, d.path
    out.format, out.shape, out.created_ms = d.format, d.shape, d.created_ms
    return out


def audience_msg(a: AudienceInfo, out: pb.Audience) -> pb.Audience:
    out.name, out.cohort, out.destination = a.name, a.cohort, a.destination
    out.identifier, out.hashing, out.mode, out.batch_size = a.identifier, a.hashing, a.mode, a.batch_size
    out.status, out.acknowledged_version = a.status, a.acknowledged_version
    out.acknowledged_members, out.lag_ms, out.failing = a.acknowledged_members, a.lag_ms, a.failing
    out.last_error, out.created_ms, out.holdout = a.last_error, a.created_ms, a.holdout
    if a.last_success_ms is not None:
        out.last_success_ms = a.last_success_ms
    return out


def attempt_msg(s: SyncAttempt, out: pb.SyncAttempt) -> pb.SyncAttempt:
    for f in pb.SyncAttempt.DESCRIPTOR.fields:
        setattr(out, f.name, getattr(s, f.name))
    return out


class AudiencesServicer(pb_grpc.AudiencesServicer):
    """Every RPC of ``cohortd.v1.Audiences``."""

    def __init__(self, workspace: Workspace, limits: Limits | None = None) -> None:
        self.workspace = workspace
        self.limits = limits or Limits()

    def _project(self, request: Any) -> Project:
        return read_project(self.workspace, request)

    def _audience(self, a: AudienceInfo) -> pb.AudienceResponse:
        out = pb.AudienceResponse()
        audience_msg(a, out.audience)
        return out

    def CreateDestination(
        self, request: pb.CreateDestinationRequest, context: grpc.ServicerContext
    ) -> pb.CreateDestinationResponse:
        kind = request.WhichOneof("target")
        if kind is None:
            raise InvalidArgumentError("give a webhook URL or a directory")
        info, generated = write_project(self.workspace, request).create_destination(
            request.name,
            webhook=request.webhook if kind == "webhook" else None,
            directory=request.directory if kind == "directory" else None,
            secret=request.secret or None,
            fmt=request.format or None,
            shape=request.shape or "cohortd",
        )
        out = pb.CreateDestinationResponse(generated_secret=generated or "")
        destination_msg(info, out.destination)
        return out

    def ListDestinations(
        self, request: pb.ListDestinationsRequest, context: grpc.ServicerContext
    ) -> pb.ListDestinationsResponse:
        out = pb.ListDestinationsResponse()
        for d in self._project(request).list_destinations():
            destination_msg(d, out.destinations.add())
        return out

    def DeleteDestination(
        self, request: pb.DeleteDestinationRequest, context: grpc.ServicerContext
    ) -> pb.DeleteDestinationResponse:
        self._project(request).delete_destination(request.name)
        return pb.DeleteDestinationResponse()

    def CreateAudience(
        self, request: pb.CreateAudienceRequest, context: grpc.ServicerContext
    ) -> pb.AudienceResponse:
        if request.batch_size < 0:
            raise InvalidArgumentError("batch_size must be positive")
        a = self._project(request).create_audience(
            request.name,
            request.cohort,
            request.destination,
            request.identifier or "user_id",
            request.hashing or "none",
            request.mode or "realtime",
            request.batch_size or 1_000,
            request.holdout,
        )
        return self._audience(a)

    def GetAudience(self, request: pb.AudienceRequest, context: grpc.ServicerContext) -> pb.AudienceResponse:
        return self._audience(self._project(request).get_audience(request.name))

    def ListAudiences(
        self, request: pb.ListAudiencesRequest, context: grpc.ServicerContext
    ) -> pb.ListAudiencesResponse:
        out = pb.ListAudiencesResponse()
        for a in self._project(request).list_audiences():
            audience_msg(a, out.audiences.add())
        return out

    def AudienceLog(
        self, request: pb.AudienceLogRequest, context: grpc.ServicerContext
    ) -> pb.AudienceLogResponse:
        if request.limit < 0:
            raise InvalidArgumentError("limit must be positive")
        out = pb.AudienceLogResponse()
        for s in self._project(request).audience_log(request.name, request.limit or 50):
            attempt_msg(s, out.attempts.add())
        return out

    def PauseAudience(
        self, request: pb.AudienceRequest, context: grpc.ServicerContext
    ) -> pb.AudienceResponse:
        return self._audience(self._project(request).pause_audience(request.name))

    def ResumeAudience(
        self, request: pb.AudienceRequest, context: grpc.ServicerContext
    ) -> pb.AudienceResponse:
        return self._audience(self._project(request).resume_audience(request.name))

    def DeleteAudience(
        self, request: pb.AudienceRequest, context: grpc.ServicerContext
    ) -> pb.DeleteAudienceResponse:
        self._project(request).delete_audience(request.name)
        return pb.DeleteAudienceResponse()

    def AudienceLift(
        self, request: pb.AudienceLiftRequest, context: grpc.ServicerContext
    ) -> pb.AudienceLiftResponse:
        if not request.outcome or not request.horizon:
            raise InvalidArgumentError("give an outcome definition and a horizon (e.g. 30d)")
        r = self._project(request).audience_lift(
            request.name,
            request.outcome,
            request.horizon,
            request.since_ms if request.HasField("since_ms") else None,
            request.until_ms if request.HasField("until_ms") else None,
        )
        out = pb.AudienceLiftResponse(
            audience=r.audience, outcome=r.outcome, horizon=r.horizon, holdout=r.holdout,
            inside_horizon=r.inside_horizon,
        )  # fmt: skip
        for arm, msg in ((r.delivered, out.delivered), (r.held_out, out.held_out)):
            msg.users, msg.converted = arm.users, arm.converted
            if arm.rate is not None:
                msg.rate = arm.rate
        for field in ("lift", "difference", "p_value", "since_ms", "until_ms"):
            if getattr(r, field) is not None:
                setattr(out, field, getattr(r, field))
        if r.ci95 is not None:
            out.ci95_low, out.ci95_high = r.ci95
        return out

    def UploadCohort(
        self, request: pb.UploadCohortRequest, context: grpc.ServicerContext
    ) -> pb.UploadCohortResponse:
        self.limits.check("ids in one UploadCohort", len(request.user_ids), self.limits.max_ingest_rows)
        r = write_project(self.workspace, request).upload_cohort(
            request.name, list(request.user_ids), request.description
        )
        return pb.UploadCohortResponse(
            cohort=r.cohort, version=r.version, ids=r.ids, members=r.members, unknown=r.unknown,
            unknown_sample=r.unknown_sample,
        )  # fmt: skip

    def ExportMembers(
        self, request: pb.ExportMembersRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.ExportMembersChunk]:
        if not request.cohort:
            raise InvalidArgumentError("cohort: name a saved cohort")
        if request.chunk < 0:
            raise InvalidArgumentError("chunk must be positive")
        chunk = min(request.chunk or 50_000, self.limits.max_page_size)
        ex = self._project(request).export_members(
            request.cohort, request.identifier or "user_id", request.hashing or "none", chunk
        )
        first = True
        for ids in ex.chunks:
            first = False
            yield pb.ExportMembersChunk(ids=ids, total=ex.total, skipped=ex.skipped, version=ex.version)
        if first:  # an empty cohort is still one message: it carries the totals
            yield pb.ExportMembersChunk(total=ex.total, skipped=ex.skipped, version=ex.version)
