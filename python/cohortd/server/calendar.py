"""``cohortd.v1.Calendar`` over a :class:`~cohortd.service.Workspace`: the project time zone."""

from __future__ import annotations

import grpc

from cohortd.server.projects import read_project, write_project
from cohortd.service import Workspace
from cohortd.v1 import calendar_pb2 as pb
from cohortd.v1 import calendar_pb2_grpc as pb_grpc

__all__ = ["CALENDAR_SERVICE", "CalendarServicer"]

CALENDAR_SERVICE = pb.DESCRIPTOR.services_by_name["Calendar"].full_name


class CalendarServicer(pb_grpc.CalendarServicer):
    """Every RPC of ``cohortd.v1.Calendar``."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    def GetTimeZone(self, request: pb.GetTimeZoneRequest, context: grpc.ServicerContext) -> pb.TimeZone:
        return pb.TimeZone(time_zone=read_project(self.workspace, request).time_zone)

    def SetTimeZone(self, request: pb.SetTimeZoneRequest, context: grpc.ServicerContext) -> pb.TimeZone:
        project = write_project(self.workspace, request)
        return pb.TimeZone(time_zone=project.set_time_zone(request.time_zone))
