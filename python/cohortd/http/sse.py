"""``Watch`` as server-sent events.

One thread per stream iterates ``Project.watch`` (the generator the gRPC
Watch uses) and hands each change to the event loop; the response sends it as
``event: change`` with the change as JSON and its version as the event id, a
comment every few seconds to keep proxies from closing an idle stream, and
``event: error`` (code and message, e.g. OUT_OF_RANGE when the change log no
longer reaches back) before it ends.  The thread stops when the client goes
away or the server shuts down.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Sequence

from fastapi import Request
from fastapi.responses import StreamingResponse

from cohortd.http.errors import domain_status
from cohortd.service import Project

KEEPALIVE_S = 2.0
POLL_S = 0.25


def _event(kind: str, data: dict, event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {kind}\ndata: {json.dumps(data)}\n\n"


def watch_stream(
    request: Request,
    project: Project,
    cohorts: Sequence[str],
    after_version: int | None,
    stopping: threading.Event,
) -> StreamingResponse:
    """A streaming response of the cohorts' changes after ``after_version`` (None: from now)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()
    stop = threading.Event()
    done = object()

    def pump() -> None:
        try:
            for change in project.watch(list(cohorts), after_version, stop=stop, poll_s=POLL_S):
                loop.call_soon_threadsafe(queue.put_nowait, change)
                if stopping.is_set():
                    break
        except Exception as exc:  # reported to the client as an error event
            loop.call_soon_threadsafe(queue.put_nowait, exc)
        finally:
            loop.call_soon_threadsafe(queue.put_nowait, done)

    async def events() -> AsyncIterator[str]:
        thread = threading.Thread(target=pump, name="cohortd-http-watch", daemon=True)
        thread.start()
        try:
            yield ": watching\n\n"
            while not stopping.is_set():
                try:
                    item = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    if await request.is_disconnected():
                        break
                    yield ": keepalive\n\n"
                    continue
                if item is done:
                    break
                if isinstance(item, Exception):
                    code, message = domain_status(item)
                    yield _event("error", {"code": code.name, "message": message})
                    break
                data = {
                    "cohort": item.cohort,
                    "version": item.version,
                    "time_ms": item.time_ms,
                    "entered": item.entered,
                    "exited": item.exited,
                }
                yield _event("change", data, item.version)
        finally:
            stop.set()

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)
