"""SDK methods of the ``cohortd.v1.Audiences`` service, mixed into :class:`cohortd.Client`.

    dest, secret = c.create_destination("crm", webhook="https://crm.example/hooks/cohortd")
    c.create_audience("Upgrade sequence", cohort="Upgrade-ready", destination="crm",
                      identifier="user.email", hashing="sha256", mode="realtime")
    c.list_audiences()[0].status            # active | paused | done | FAILING | waiting
    c.audience_log("Upgrade sequence", limit=20)
    c.upload_cohort("VIP list", ["u1", "u2"]).unknown
    for ids in c.export_members("VIP list", identifier="user.email", hashing="sha256"): ...

Returns the same plain values as the embedded API (:mod:`cohortd.audiences.model`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import grpc

from cohortd.audiences.model import (
    Arm,
    AudienceInfo,
    DestinationInfo,
    LiftResult,
    SyncAttempt,
    UploadResult,
)
from cohortd.v1 import audiences_pb2 as apb
from cohortd.v1 import audiences_pb2_grpc as apb_grpc

__all__ = ["AudiencesClient"]


def _destination(m: apb.Destination) -> DestinationInfo:
    return DestinationInfo(m.name, m.kind, m.url, m.path, m.format, m.shape, m.created_ms)


def _audience(m: apb.Audience) -> AudienceInfo:
    return AudienceInfo(
        m.name, m.cohort, m.destination, m.identifier, m.hashing, m.mode, m.batch_size, m.status,
        m.acknowledged_version, m.acknowledged_members,
        m.last_success_ms if m.HasField("last_success_ms") else None,
        m.lag_ms, m.failing, m.last_error, m.created_ms, m.holdout,
    )  # fmt: skip


def _attempt(audience: str, m: apb.SyncAttempt) -> SyncAttempt:
    return SyncAttempt(
        audience, m.time_ms, m.from_version, m.to_version, m.full, m.seq, m.of, m.added, m.removed,
        m.skipped, m.skip_reason, m.status, m.http_status, m.error, m.latency_ms, m.idempotency_key,
    )  # fmt: skip


class AudiencesClient:
    """Destinations, audiences, static cohorts and exports (needs ``Client``'s channel and ``_call``)."""

    project: str
    _channel: grpc.Channel
    _metadata: tuple[tuple[str, str], ...]
    timeout: float | None
    _call: Callable[..., Any]

    @property
    def _audiences(self) -> apb_grpc.AudiencesStub:
        stub = self.__dict__.get("_audiences_stub")
        if stub is None:
            stub = self.__dict__["_audiences_stub"] = apb_grpc.AudiencesStub(self._channel)
        return stub

    def create_destination(
        self,
        name: str,
        *,
        webhook: str | None = None,
        directory: str | None = None,
        secret: str | None = None,
        fmt: str | None = None,
        shape: str = "cohortd",
        timeout: float | None = None,
    ) -> tuple[DestinationInfo, str | None]:
        """A webhook (signed with ``secret``, generated when omitted) or a server-side directory.

        Returns the destination and the generated secret (None when you gave one).
        """
        req = apb.CreateDestinationRequest(
            project=self.project, name=name, secret=secret or "", format=fmt or "", shape=shape
        )
        if webhook is not None:
            req.webhook = webhook
        if directory is not None:
            req.directory = directory
        resp = self._call(self._audiences.CreateDestination, req, timeout, retry=False)
        return _destination(resp.destination), resp.generated_secret or None

    def list_destinations(self, *, timeout: float | None = None) -> list[DestinationInfo]:
        req = apb.ListDestinationsRequest(project=self.project)
        return [
            _destination(d) for d in self._call(self._audiences.ListDestinations, req, timeout).destinations
        ]

    def delete_destination(self, name: str, *, timeout: float | None = None) -> None:
        req = apb.DeleteDestinationRequest(project=self.project, name=name)
        self._call(self._audiences.DeleteDestination, req, timeout)

    def create_audience(
        self,
        name: str,
        cohort: str,
        destination: str,
        identifier: str = "user_id",
        hashing: str = "none",
        mode: str = "realtime",
        batch_size: int = 1_000,
        holdout: float | str = 0.0,
        *,
        timeout: float | None = None,
    ) -> AudienceInfo:
        """Bind a saved cohort to a destination; the server starts delivering at once.

        ``holdout``: ``"10%"`` or ``0.1`` of the members are never delivered (to measure lift).
        """
        from cohortd.audiences.model import parse_share

        req = apb.CreateAudienceRequest(
            project=self.project, name=name, cohort=cohort, destination=destination,
            identifier=identifier, hashing=hashing, mode=mode, batch_size=batch_size,
            holdout=parse_share(holdout),
        )  # fmt: skip
        return _audience(self._call(self._audiences.CreateAudience, req, timeout, retry=False).audience)

    def get_audience(self, name: str, *, timeout: float | None = None) -> AudienceInfo:
        req = apb.AudienceRequest(project=self.project, name=name)
        return _audience(self._call(self._audiences.GetAudience, req, timeout).audience)

    def list_audiences(self, *, timeout: float | None = None) -> list[AudienceInfo]:
        req = apb.ListAudiencesRequest(project=self.project)
        return [_audience(a) for a in self._call(self._audiences.ListAudiences, req, timeout).audiences]

    def audience_log(self, name: str, limit: int = 50, *, timeout: float | None = None) -> list[SyncAttempt]:
        """The latest delivery attempts, newest first."""
        req = apb.AudienceLogRequest(project=self.project, name=name, limit=limit)
        resp = self._call(self._audiences.AudienceLog, req, timeout)
        return [_attempt(name, a) for a in resp.attempts]

    def pause_audience(self, name: str, *, timeout: float | None = None) -> AudienceInfo:
        req = apb.AudienceRequest(project=self.project, name=name)
        return _audience(self._call(self._audiences.PauseAudience, req, timeout).audience)

    def resume_audience(self, name: str, *, timeout: float | None = None) -> AudienceInfo:
        req = apb.AudienceRequest(project=self.project, name=name)
        return _audience(self._call(self._audiences.ResumeAudience, req, timeout).audience)

    def delete_audience(self, name: str, *, timeout: float | None = None) -> None:
        req = apb.AudienceRequest(project=self.project, name=name)
        self._call(self._audiences.DeleteAudience, req, timeout)

    def audience_lift(
        self,
        name: str,
        outcome: str,
        horizon: str,
        since_ms: int | None = None,
        until_ms: int | None = None,
        *,
        timeout: float | None = None,
    ) -> LiftResult:
        """Outcome rate of delivered vs held-out entrants, each measured from their own entry time."""
        req = apb.AudienceLiftRequest(project=self.project, name=name, outcome=outcome, horizon=horizon)
        if since_ms is not None:
            req.since_ms = since_ms
        if until_ms is not None:
            req.until_ms = until_ms
        r = self._call(self._audiences.AudienceLift, req, timeout)

        def opt(field: str) -> float | None:
            return getattr(r, field) if r.HasField(field) else None

        return LiftResult(
            r.audience, r.outcome, r.horizon, opt("since_ms"), opt("until_ms"), r.holdout,  # type: ignore[arg-type]
            Arm(r.delivered.users, r.delivered.converted), Arm(r.held_out.users, r.held_out.converted),
            opt("lift"), opt("difference"),
            (r.ci95_low, r.ci95_high) if r.HasField("ci95_low") else None, opt("p_value"), r.inside_horizon,
        )  # fmt: skip

    def upload_cohort(
        self, name: str, user_ids: Sequence[str], description: str = "", *, timeout: float | None = None
    ) -> UploadResult:
        """Create or replace a static cohort; unknown ids are counted (and sampled), not added."""
        req = apb.UploadCohortRequest(
            project=self.project, name=name, user_ids=[str(u) for u in user_ids], description=description
        )
        r = self._call(self._audiences.UploadCohort, req, timeout, retry=False)
        return UploadResult(r.cohort, r.version, r.ids, r.members, r.unknown, list(r.unknown_sample))

    def export_members(
        self,
        cohort: str,
        identifier: str = "user_id",
        hashing: str = "none",
        *,
        chunk: int = 50_000,
        timeout: float | None = None,
        on_totals: Callable[[int, int], None] | None = None,
    ) -> Iterator[list[str]]:
        """The members as identifiers, chunk by chunk; ``on_totals(total, skipped)`` before the first."""
        from cohortd.client.client import _convert

        req = apb.ExportMembersRequest(
            project=self.project, cohort=cohort, identifier=identifier, hashing=hashing, chunk=chunk
        )
        told = False
        try:
            for msg in self._audiences.ExportMembers(req, timeout=timeout, metadata=self._metadata):
                if not told and on_totals is not None:
                    on_totals(msg.total, msg.skipped)
                told = True
                if msg.ids:
                    yield list(msg.ids)
        except grpc.RpcError as exc:
            raise _convert(exc) from None
