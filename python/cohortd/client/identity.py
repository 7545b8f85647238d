"""SDK methods of the ``cohortd.v1.Identity`` service, mixed into :class:`cohortd.Client`.

report = c.delete_users(["u1", "u2"], compact=True)   # gone now; purged from the files
report["events_before"], report["not_found"]
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import grpc

from cohortd.v1 import identity_pb2 as ipb
from cohortd.v1 import identity_pb2_grpc as ipb_grpc

__all__ = ["IdentityClient"]


class IdentityClient:
    """User deletion (needs ``Client``'s channel and ``_call``)."""

    project: str
    _channel: grpc.Channel
    _call: Callable[..., Any]

    @property
    def _identity(self) -> ipb_grpc.IdentityStub:
        stub = self.__dict__.get("_identity_stub")
        if stub is None:
            stub = self.__dict__["_identity_stub"] = ipb_grpc.IdentityStub(self._channel)
        return stub

    def delete_users(
        self, user_ids: Sequence[str], *, compact: bool = False, timeout: float | None = None
    ) -> dict[str, Any]:
        """Delete users (and every id merged into them); the deletion report as a dict."""
        req = ipb.DeleteUsersRequest(project=self.project, user_ids=list(user_ids), compact=compact)
        r = self._call(self._identity.DeleteUsers, req, timeout, retry=False)
        return {
            "requested": list(user_ids),
            "found": list(r.found),
            "not_found": list(r.not_found),
            "ids_deleted": r.ids_deleted,
            "events_before": r.events_before,
            "events_visible_after": r.events_visible_after,
            "purged": r.purged,
            "audit": json.loads(r.audit_json or "{}"),
        }
