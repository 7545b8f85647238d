"""SDK method of the ``cohortd.v1.Storage`` service, mixed into :class:`cohortd.Client`.

    status = c.storage_status()
    if status.quarantined or status.pending_retry:
        alert(status)

Returns the same ``StorageStatus`` as the embedded ``Project.storage_status``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cohortd.v1 import storage_pb2 as spb
from cohortd.v1 import storage_pb2_grpc as spb_grpc

__all__ = ["StorageClient", "StorageStatus"]


@dataclass(frozen=True)
class StorageStatus:
    """Problems the event store met without failing a request, and its size (docs/storage.md)."""

    quarantined: list[str] = field(default_factory=list)
    background_failures: int = 0
    last_background_error: str | None = None
    pending_retry: bool = False
    log_bytes: int = 0
    sealed_segments: int = 0
    tail_events: int = 0


class StorageClient:
    project: str
    _channel: Any

    def _call(self, method: Any, request: Any, timeout: float | None, retry: bool = True) -> Any: ...

    def storage_status(self, *, timeout: float | None = None) -> StorageStatus:
        """Quarantined log records, background failures being retried, log and segment counts."""
        stub = self.__dict__.get("_storage_stub")
        if stub is None:
            stub = self.__dict__["_storage_stub"] = spb_grpc.StorageStub(self._channel)
        m = self._call(stub.StorageStatus, spb.StorageStatusRequest(project=self.project), timeout)
        return StorageStatus(
            list(m.quarantined),
            m.background_failures,
            m.last_background_error or None,
            m.pending_retry,
            m.log_bytes,
            m.sealed_segments,
            m.tail_events,
        )
