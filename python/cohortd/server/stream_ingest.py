"""IngestStream: the requests waiting in one stream stored together (one log write, one sort).

Two stages: a batch is validated and its log record encoded on a helper thread
(``Project.prepare_ingest``) while the batch before it is logged and applied, so a fast
sender's stream uses both cores; batches are still stored one after the other, in order.

A reader thread takes requests off the stream as they arrive; the storing loop takes
every request already waiting (up to ``STREAM_BATCH_ROWS`` rows) and stores them as one
batch through the ingest gate.  A fast sender's requests so become large batches (the
log's fsync, the tail's sort and the listeners' work are paid per batch, not per
request), while a slow sender's request is stored as soon as it arrives (no added
latency for Watch).  Nothing is acknowledged before the stream ends, so durability is
as before: the response, and an error's message, count only what was stored.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from cohortd import wire
from cohortd.errors import CohortError, InvalidArgumentError
from cohortd.v1 import cohortd_pb2 as pb

STREAM_BATCH_ROWS = 1_000_000  # rows of waiting requests stored as one batch, at most (plus one request)
READ_AHEAD = 16  # requests the reader thread holds before the sender is slowed down (flow control)


@dataclass
class IngestPart:
    """Rows of one request ready for the gate, and how its rejections become stream row numbers."""

    table: pa.Table
    renumber: Callable[[list[Any]], list[wire.WireRejection]]  # gate rejections (rows of table) -> ours


Prepare = Callable[[pb.IngestRequest, int], tuple[Any, list[IngestPart], int]]
"""(request, its first stream row) -> (project, parts, rows in the request); raises for a bad request."""


def ingest_stream(
    requests: Iterator[pb.IngestRequest],
    prepare: Prepare,
    partly_stored: Callable[[CohortError, int, str], CohortError],
    default_project: str,
) -> tuple[int, list[wire.WireRejection]]:
    """Store a stream's requests, batching those that wait; (accepted, rejections in row order)."""
    reader = _Reader(requests)
    accepted = 0
    rejections: list[wire.WireRejection] = []
    pending: list[IngestPart] = []
    pending_rows = 0
    project: Any = None
    name = None
    row = 0

    ahead = ThreadPoolExecutor(1, thread_name_prefix="ingest-stream-prepare")
    inflight: tuple[Callable[[], Any] | None, list[IngestPart]] | None = None

    def flush() -> None:
        """Start validating the waiting requests (on the other thread); store the previous batch."""
        nonlocal pending, pending_rows, inflight
        parts, pending, pending_rows = pending, [], 0
        stored = [p for p in parts if p.table.num_rows]
        store: Callable[[], Any] | None = None
        if stored:
            table = stored[0].table if len(stored) == 1 else pa.concat_tables([p.table for p in stored])
            store = _pipelined(ahead, project, table)
        finish()  # the previous batch is logged and applied while this one is validated
        inflight = (store, parts)

    def finish() -> None:
        """Store the batch validated ahead, if any (batches are stored in stream order)."""
        nonlocal accepted, inflight
        if inflight is None:
            return
        (store, parts), inflight = inflight, None
        report = None
        if store is not None:
            try:
                report = store()
            except CohortError as exc:
                raise partly_stored(exc, accepted, "of earlier requests in this stream") from exc
            accepted += report.accepted
        gate = sorted(report.rejected, key=lambda r: r.row) if report is not None else []
        start = 0
        for part in parts:
            end = start + part.table.num_rows
            mine = [r for r in gate if start <= r.row < end]
            rejections.extend(part.renumber([_shifted(r, -start) for r in mine]))
            start = end

    def drain() -> None:
        flush()
        finish()

    try:
        for request in reader:
            asked = request.project or default_project
            if name is None:
                name = asked
            elif asked != name:
                drain()
                raise InvalidArgumentError(f"one IngestStream serves one project ({name!r}), got {asked!r}")
            try:
                project, parts, rows = prepare(request, row)
            except CohortError as exc:
                drain()  # what came before the bad request is stored, as if sent one by one
                raise partly_stored(exc, accepted, "of earlier requests in this stream") from exc
            row += rows
            for part in parts:
                if pending and not _concatenable(pending[-1].table, part.table):
                    flush()  # different columns or types: validated apart, as sent
                pending.append(part)
                pending_rows += part.table.num_rows
            if pending_rows >= STREAM_BATCH_ROWS or not reader.waiting():
                flush()
            if not reader.waiting():
                finish()  # nothing more is here yet: store now (a slow sender's request waits for none)
        drain()
    finally:
        reader.stop()
        ahead.shutdown(wait=True)
    return accepted, rejections


def _pipelined(ahead: ThreadPoolExecutor, project: Any, table: pa.Table) -> Callable[[], Any]:
    """How to store ``table``: validated now on the ``ahead`` thread when the project can
    (``prepare_ingest``), then logged and applied when called; else one ``ingest`` call then."""
    if not hasattr(project, "prepare_ingest"):
        return lambda: project.ingest(table)
    ready = ahead.submit(project.prepare_ingest, table)
    return lambda: project.ingest_prepared(ready.result())


def _concatenable(a: pa.Table, b: pa.Table) -> bool:
    return a.schema.equals(b.schema)


def _shifted(r: Any, by: int) -> Any:
    return type(r)(r.row + by, r.field, r.reason)


class _Reader:
    """Requests of a stream read ahead by a thread, so the storing loop can see what waits."""

    _END = object()

    def __init__(self, requests: Iterator[pb.IngestRequest]) -> None:
        self._queue: queue.Queue[Any] = queue.Queue(READ_AHEAD)
        self._stopped = threading.Event()
        self._thread = threading.Thread(
            target=self._read, args=(requests,), daemon=True, name="ingest-stream"
        )
        self._thread.start()

    def _read(self, requests: Iterator[pb.IngestRequest]) -> None:
        item: Any = self._END
        try:
            for request in requests:
                if not self._put(request):
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the storing loop, which raises it
            item = exc
        self._put(item)

    def _put(self, item: Any) -> bool:
        while not self._stopped.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[pb.IngestRequest]:
        while True:
            item = self._queue.get()
            if item is self._END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def waiting(self) -> bool:
        """Whether another request (or the stream's end) is already here."""
        return not self._queue.empty()

    def stop(self) -> None:
        self._stopped.set()
