"""Where audiences are delivered: the ``Destination`` interface and its implementations.

A destination receives :class:`Batch` objects (one audience, one version, one
slice of the added and removed identifiers) and says whether it acknowledged
each one.  The delivery worker handles ordering, retries, batching and state;
a destination only turns a batch into bytes on the wire or on disk, so a
platform adapter is one small class (see :class:`MetaCustomAudienceDestination`).

- :class:`WebhookDestination`: HTTP(S) POST of the JSON body of the contract,
  signed with HMAC-SHA256 over the exact body bytes (``X-Cohortd-Signature:
  sha256=<hex>``); any 2xx acknowledges.
- :class:`FileDestination`: one file per delivery in a directory (CSV, JSONL or
  Parquet), written to a temporary name, fsync'd and renamed.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa

from cohortd.audiences.model import FORMATS, DestinationInfo
from cohortd.errors import AudienceError
from cohortd.storage.files import atomic_write

__all__ = [
    "SIGNATURE_HEADER",
    "Batch",
    "Destination",
    "FileDestination",
    "MetaCustomAudienceDestination",
    "Outcome",
    "WebhookDestination",
    "open_destination",
    "sign",
]

SIGNATURE_HEADER = "X-Cohortd-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
HTTP_TIMEOUT_S = 10.0
"""Connect + read timeout of one webhook request; a slower receiver counts as a failed attempt."""


@dataclass(frozen=True)
class Batch:
    """One slice of one delivery: the unit that is sent, acknowledged and retried."""

    audience: str
    cohort: str
    destination: str
    version: int
    from_version: int
    full: bool
    seq: int  # 1-based
    of: int
    idempotency_key: str
    identifier: str
    hashing: str
    added: list[str]
    removed: list[str]

    def body(self) -> dict[str, Any]:
        """The webhook body of the delivery contract (docs/audiences.md)."""
        return {
            "audience": self.audience,
            "cohort": self.cohort,
            "destination": self.destination,
            "version": self.version,
            "full": self.full,
            "batch": {"seq": self.seq, "of": self.of},
            "idempotency_key": self.idempotency_key,
            "added": self.added,
            "removed": self.removed,
        }


@dataclass(frozen=True)
class Outcome:
    """Whether the destination acknowledged a batch, with the HTTP status or error."""

    ok: bool
    http_status: int = 0
    error: str = ""


class Destination(ABC):
    """A target that acknowledges batches; implementations must be safe to retry (same key)."""

    whole_deliveries = False
    """True: the destination wants each delivery as one batch (``of == 1``), e.g. one file."""

    @abstractmethod
    def send(self, batch: Batch) -> Outcome:
        """Deliver one batch; never raises for a failure of the destination itself."""

    def close(self) -> None:  # noqa: B027 - optional hook, most destinations hold nothing
        """Release connections."""


def sign(secret: str, body: bytes) -> str:
    """The ``X-Cohortd-Signature`` value: ``sha256=`` + hex HMAC-SHA256 of the body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookDestination(Destination):
    """POSTs each batch as JSON; 2xx acknowledges, anything else (or no answer) is a failure."""

    def __init__(self, url: str, secret: str, timeout_s: float = HTTP_TIMEOUT_S) -> None:
        self.url = url
        self.secret = secret
        self._http = httpx.Client(timeout=timeout_s, follow_redirects=False)

    def requests(self, batch: Batch) -> list[tuple[str, bytes]]:
        """(HTTP method, body) of every request that delivers ``batch``; all must succeed."""
        return [("POST", _json(batch.body()))]

    def send(self, batch: Batch) -> Outcome:
        status = 0
        for method, body in self.requests(batch):
            headers = {
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(self.secret, body),
                IDEMPOTENCY_HEADER: batch.idempotency_key,
                "User-Agent": "cohortd-audiences",
            }
            try:
                resp = self._http.request(method, self.url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                return Outcome(False, 0, f"{type(exc).__name__}: {exc}"[:300])
            status = resp.status_code
            if not 200 <= status < 300:
                return Outcome(False, status, resp.text[:300])
        return Outcome(True, status)

    def close(self) -> None:
        self._http.close()


class MetaCustomAudienceDestination(WebhookDestination):
    """A platform-shaped example: Meta custom-audience "users" calls (session batches).

    Added users are POSTed and removed users DELETEd, each as
    ``{"session": {...}, "payload": {"schema": ..., "data": [...]}}``; the
    session fields carry the batch position, so the platform can tell the last
    batch of a replace-style session.  Everything else is inherited.
    """

    def requests(self, batch: Batch) -> list[tuple[str, bytes]]:
        schema = "EXTERN_ID"
        if batch.identifier == "user.email":
            schema = "EMAIL_SHA256" if batch.hashing == "sha256" else "EMAIL"
        session = {
            "session_id": batch.version,
            "batch_seq": batch.seq,
            "last_batch_flag": batch.seq == batch.of,
        }
        out = []
        for method, ids in (("POST", batch.added), ("DELETE", batch.removed)):
            if ids or (method == "POST" and not batch.removed):
                payload = {"schema": schema, "data": ids}
                out.append((method, _json({"session": session, "payload": payload})))
        return out


class FileDestination(Destination):
    """One file per delivery: ``<audience>.<version>.<format>`` with rows (change, id)."""

    whole_deliveries = True

    def __init__(self, path: str | Path, fmt: str) -> None:
        self.path = Path(path)
        self.format = fmt

    def file_for(self, batch: Batch) -> Path:
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", batch.audience)
        return self.path / f"{slug}.{batch.version:020d}.{batch.seq:05d}-of-{batch.of:05d}.{self.format}"

    def send(self, batch: Batch) -> Outcome:
        changes = ["added"] * len(batch.added) + ["removed"] * len(batch.removed)
        table = pa.table(
            {
                "audience": pa.array([batch.audience] * len(changes), pa.string()),
                "cohort": pa.array([batch.cohort] * len(changes), pa.string()),
                "version": pa.array([batch.version] * len(changes), pa.int64()),
                "full": pa.array([batch.full] * len(changes), pa.bool_()),
                "change": pa.array(changes, pa.string()),
                "id": pa.array(batch.added + batch.removed, pa.string()),
            }
        )
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            atomic_write(self.file_for(batch), lambda fh: write_table(table, fh, self.format))
        except OSError as exc:
            return Outcome(False, 0, f"{type(exc).__name__}: {exc}"[:300])
        return Outcome(True)


def write_table(table: pa.Table, fh: Any, fmt: str) -> None:
    """Write ``table`` to an open binary file as CSV, JSONL or Parquet."""
    if fmt == "csv":
        import pyarrow.csv as pcsv

        pcsv.write_csv(table, fh)
    elif fmt == "jsonl":
        buf = io.StringIO()
        for row in table.to_pylist():
            buf.write(json.dumps(row, ensure_ascii=False) + "\n")
        fh.write(buf.getvalue().encode())
    elif fmt == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, fh)
    else:  # pragma: no cover - validated at creation
        raise AudienceError(f"format {fmt!r}: expected one of {', '.join(FORMATS)}")


def _json(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def open_destination(info: DestinationInfo, secret: str) -> Destination:
    """The implementation of a stored destination."""
    if info.kind == "file":
        return FileDestination(info.path, info.format)
    if info.shape == "meta":
        return MetaCustomAudienceDestination(info.url, secret)
    return WebhookDestination(info.url, secret)
