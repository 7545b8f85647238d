"""Items of an iterator produced by a thread ahead of their consumer (a two-stage pipeline).

A bulk load is three stages chained by two of these: one thread reads and decodes
file chunks, a second validates them and encodes their log records
(``EventStore.prepare``), and the caller logs and applies them.  Parquet decoding,
Arrow compute kernels, LZ4 and ``fsync`` all release the GIL, so the stages share
both cores instead of one thread decoding and validating in turn.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterator
from typing import Any, TypeVar

T = TypeVar("T")
DEPTH = 2  # items produced ahead of the one being consumed (a file chunk is ~30-60 MB)


def read_ahead(items: Iterator[T], depth: int = DEPTH) -> Generator[T, None, None]:
    """``items`` in order, produced by a thread up to ``depth`` ahead.

    An error of the producer is raised here, where its item would have come; a
    consumer that stops early (its ingest failed) stops the producer.
    """
    slots: queue.Queue[tuple[bool, Any]] = queue.Queue(depth)
    stop = threading.Event()

    def put(slot: tuple[bool, Any]) -> bool:
        while not stop.is_set():
            try:
                slots.put(slot, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((True, item)):
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which raises it
            put((False, exc))
            return
        finally:
            close = getattr(items, "close", None)
            if close is not None:  # a generator (another read_ahead: its thread stops now)
                close()
        put((False, None))

    thread = threading.Thread(target=produce, daemon=True, name="read-ahead")
    thread.start()
    try:
        while True:
            more, item = slots.get()
            if not more:
                if item is not None:
                    raise item
                return
            yield item
    finally:
        stop.set()
        thread.join()
