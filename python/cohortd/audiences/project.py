"""The audience methods of the service-layer ``Project`` (embedded API, gRPC servicer and CLI).

Thin: each one delegates to the project's :class:`~cohortd.audiences.delivery.AudienceService`
(``project.audiences``), or to the static-cohort and export modules.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from cohortd.audiences.model import AudienceInfo, DestinationInfo, LiftResult, SyncAttempt, UploadResult

if TYPE_CHECKING:
    from cohortd.audiences.delivery import AudienceService
    from cohortd.audiences.export import MemberExport


class AudienceMethods:
    """Mixed into ``Project``; ``self.audiences`` is set by its constructor."""

    audiences: AudienceService

    def create_destination(
        self,
        name: str,
        *,
        webhook: str | None = None,
        secret: str | None = None,
        directory: str | None = None,
        fmt: str | None = None,
        shape: str = "cohortd",
    ) -> tuple[DestinationInfo, str | None]:
        """A webhook or directory destination; returns it and the secret when one was generated."""
        return self.audiences.create_destination(
            name, webhook=webhook, secret=secret, directory=directory, fmt=fmt, shape=shape
        )

    def list_destinations(self) -> list[DestinationInfo]:
        return self.audiences.list_destinations()

    def delete_destination(self, name: str) -> None:
        self.audiences.delete_destination(name)

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
    ) -> AudienceInfo:
        """Bind a saved cohort to a destination (see docs/audiences.md for the delivery contract)."""
        return self.audiences.create_audience(
            name, cohort, destination, identifier, hashing, mode, batch_size, holdout
        )

    def audience_lift(
        self,
        name: str,
        outcome: str,
        horizon: str,
        since_ms: int | None = None,
        until_ms: int | None = None,
    ) -> LiftResult:
        """Outcome rate of delivered vs held-out entrants, each from their own entry time."""
        from cohortd.audiences.lift import audience_lift

        return audience_lift(self, name, outcome, horizon, since_ms, until_ms)  # type: ignore[arg-type]

    def get_audience(self, name: str) -> AudienceInfo:
        return self.audiences.audience(name)

    def list_audiences(self) -> list[AudienceInfo]:
        return self.audiences.list_audiences()

    def audience_log(self, name: str, limit: int = 50) -> list[SyncAttempt]:
        return self.audiences.audience_log(name, limit)

    def pause_audience(self, name: str) -> AudienceInfo:
        return self.audiences.pause(name)

    def resume_audience(self, name: str) -> AudienceInfo:
        return self.audiences.resume(name)

    def delete_audience(self, name: str) -> None:
        self.audiences.delete_audience(name)

    def upload_cohort(self, name: str, user_ids: Sequence[str], description: str = "") -> UploadResult:
        """Create (or replace) a static cohort from a list of user ids."""
        from cohortd.audiences.static import upload

        return upload(self, name, user_ids, description)  # type: ignore[arg-type]

    def export_members(
        self, name: str, identifier: str = "user_id", hashing: str = "none", chunk: int = 50_000
    ) -> MemberExport:
        """The members of a saved cohort as identifiers, in chunks (for streamed exports)."""
        from cohortd.audiences.export import member_export

        return member_export(self, name, identifier, hashing, chunk)  # type: ignore[arg-type]
