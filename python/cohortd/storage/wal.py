"""Write-ahead log: every accepted batch is on disk (fsync'd) before ingest returns.

Record layout: ``u32 length | u32 crc32(payload) | payload``, little endian.
On replay a record whose header or payload is short, or whose CRC does not
match, marks the torn tail: it and everything after it are cut off, so a batch
is either wholly present or wholly absent.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

_HEADER = struct.Struct("<II")


class WriteAheadLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh = open(path, "ab")

    def append(self, payload: bytes) -> None:
        """Append one record and fsync; returns only once it is durable."""
        self._fh.write(_HEADER.pack(len(payload), zlib.crc32(payload)) + payload)
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.close()

    @staticmethod
    def replay(path: Path) -> Iterator[bytes]:
        """Yield intact records in order and truncate the file after the last one."""
        good_end = 0
        with open(path, "rb") as fh:
            data = fh.read()
        pos = 0
        while pos + _HEADER.size <= len(data):
            length, crc = _HEADER.unpack_from(data, pos)
            start, end = pos + _HEADER.size, pos + _HEADER.size + length
            if end > len(data) or zlib.crc32(data[start:end]) != crc:
                break
            yield data[start:end]
            pos = good_end = end
        if good_end != len(data):
            with open(path, "r+b") as fh:
                fh.truncate(good_end)
                os.fsync(fh.fileno())
