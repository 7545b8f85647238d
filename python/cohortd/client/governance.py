"""SDK methods of the ``cohortd.v1.Governance`` service, mixed into :class:`cohortd.Client`.

    c.unarchive_cohort("Buyers")
    cohort, followed = c.rename_cohort("Buyers", "Purchasers")   # in_cohort references follow
    c.delete_cohort("Old")                                       # refused while referenced
    for v in c.cohort_changelog("Purchasers"): print(v.version, v.author, v.definition_diff)

A refused delete or rename raises ``RemoteError`` with FAILED_PRECONDITION, the
cap ``RemoteLimitError``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc

from cohortd.client.types import Cohort
from cohortd.governance import VersionChange  # the embedded API's type (no engine import)
from cohortd.v1 import governance_pb2 as gpb
from cohortd.v1 import governance_pb2_grpc as gpb_grpc

__all__ = ["GovernanceClient", "VersionChange"]


class GovernanceClient:
    """Unarchive, rename, delete, changelog (needs ``Client``'s channel and ``_call``)."""

    project: str
    _channel: grpc.Channel
    _call: Callable[..., Any]

    @property
    def _governance(self) -> gpb_grpc.GovernanceStub:
        stub = self.__dict__.get("_governance_stub")
        if stub is None:
            stub = self.__dict__["_governance_stub"] = gpb_grpc.GovernanceStub(self._channel)
        return stub

    def _cohort_value(self, msg: Any) -> Cohort:
        from cohortd.client.client import _cohort

        return _cohort(msg)

    def unarchive_cohort(self, name: str, *, timeout: float | None = None) -> Cohort:
        """Make an archived cohort active again (within the project's cap)."""
        req = gpb.UnarchiveCohortRequest(project=self.project, name=name)
        return self._cohort_value(
            self._call(self._governance.UnarchiveCohort, req, timeout, retry=False).cohort
        )

    def rename_cohort(
        self, name: str, new_name: str, *, timeout: float | None = None
    ) -> tuple[Cohort, list[str]]:
        """Rename a cohort; returns it and the cohorts whose ``in_cohort`` references followed."""
        req = gpb.RenameCohortRequest(project=self.project, name=name, new_name=new_name)
        resp = self._call(self._governance.RenameCohort, req, timeout, retry=False)
        return self._cohort_value(resp.cohort), list(resp.followed)

    def delete_cohort(self, name: str, *, timeout: float | None = None) -> None:
        """Delete a cohort and its history (refused while a cohort or an audience refers to it)."""
        req = gpb.DeleteCohortRequest(project=self.project, name=name)
        self._call(self._governance.DeleteCohort, req, timeout, retry=False)

    def cohort_changelog(self, name: str, *, timeout: float | None = None) -> list[VersionChange]:
        """Every version with its author and diffs against the previous one, oldest first."""
        req = gpb.CohortChangelogRequest(project=self.project, name=name)
        resp = self._call(self._governance.CohortChangelog, req, timeout)
        return [
            VersionChange(v.version, v.time_ms, v.author, v.note, v.definition, v.description,
                          v.definition_diff, v.description_diff)
            for v in resp.versions
        ]  # fmt: skip
