"""SDK methods of the ``cohortd.v1.Calendar`` service, mixed into :class:`cohortd.Client`.

c.set_time_zone("America/New_York")   # calendar windows and active_days in New York days
c.time_zone()                         # 'America/New_York'
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc

from cohortd.v1 import calendar_pb2 as cpb
from cohortd.v1 import calendar_pb2_grpc as cpb_grpc

__all__ = ["CalendarClient"]


class CalendarClient:
    """The project time zone (needs ``Client``'s channel and ``_call``)."""

    project: str
    _channel: grpc.Channel
    _call: Callable[..., Any]

    @property
    def _calendar(self) -> cpb_grpc.CalendarStub:
        stub = self.__dict__.get("_calendar_stub")
        if stub is None:
            stub = self.__dict__["_calendar_stub"] = cpb_grpc.CalendarStub(self._channel)
        return stub

    def time_zone(self, *, timeout: float | None = None) -> str:
        """The project's IANA time zone (``UTC`` unless set)."""
        return self._call(
            self._calendar.GetTimeZone, cpb.GetTimeZoneRequest(project=self.project), timeout
        ).time_zone

    def set_time_zone(self, time_zone: str, *, timeout: float | None = None) -> str:
        """Set the project's time zone; saved cohorts are re-evaluated in it at once."""
        req = cpb.SetTimeZoneRequest(project=self.project, time_zone=time_zone)
        return self._call(self._calendar.SetTimeZone, req, timeout, retry=False).time_zone
