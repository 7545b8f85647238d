"""Write-ahead log: every accepted batch is on disk (fsync'd) before ingest returns.

Record layout: ``u32 length | u32 crc32(payload) | payload``, little endian;
a payload is an Arrow IPC stream, so it starts with the continuation marker
``ff ff ff ff``.

Appending: a record is written and fsync'd; if either fails (disk full, I/O
error) the file is truncated back to the end of the last good record before
the error is raised, and no further record is written until that truncation
has succeeded.  So a batch that got an error never reappears, and a partial
record can never sit in front of later, acknowledged ones.

Replay: a record whose header or payload is short, or whose CRC does not
match, is either the torn tail (nothing valid follows it: it is cut off, which
only drops a batch that was never acknowledged) or corruption (an intact
record follows it: :class:`~cohortd.errors.CorruptionError`, the log is left
untouched and the project does not open, rather than silently dropping the
acknowledged batches behind the damage).
"""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from cohortd.errors import CorruptionError
from cohortd.storage import files

_HEADER = struct.Struct("<II")
_IPC_MARKER = b"\xff\xff\xff\xff"  # every Arrow IPC stream (our payloads) starts with it


@dataclass(frozen=True)
class Record:
    """One intact log record: where it starts in the file and its payload."""

    offset: int
    payload: bytes


class WriteAheadLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        existed = path.exists()
        self._fd: int | None = files.ops.open_append(path)
        self._end = os.fstat(self._fd).st_size  # end of the last good record
        self._dirty = False  # a failed append may have left bytes after _end
        if not existed:
            files.fsync_dir(path.parent)  # the new log's directory entry is durable too

    @property
    def size(self) -> int:
        return self._end

    def append(self, payload: bytes) -> None:
        """Append one record and fsync; returns only once it is durable.

        On failure the OSError is raised after the log is cut back to its last
        good record (or, if even that fails, the log refuses appends until it
        can be cut back).
        """
        assert self._fd is not None, "log is closed"
        if self._dirty:
            self._cut_back()
        record = _HEADER.pack(len(payload), zlib.crc32(payload)) + payload
        try:
            files.write_all(self._fd, record)
            files.ops.fsync(self._fd)
        except OSError:
            self._dirty = True
            try:
                self._cut_back()
            except OSError:
                pass  # retried before the next append
            raise
        self._end += len(record)

    def _cut_back(self) -> None:
        assert self._fd is not None
        files.ops.truncate(self._fd, self._end)
        files.ops.fsync(self._fd)
        self._dirty = False

    def close(self) -> None:
        if self._fd is not None:
            if self._dirty:
                try:
                    self._cut_back()
                except OSError:
                    pass
            files.ops.close(self._fd)
            self._fd = None

    @staticmethod
    def replay(path: Path) -> list[Record]:
        """The intact records in order; a torn tail is cut off, damage in the middle raises."""
        with open(path, "rb") as fh:
            data = fh.read()
        records, end = _scan(data)
        if end == len(data):
            return records
        follower = _next_intact(data, end)
        if follower is not None:
            raise CorruptionError(
                f"{path}: the log record at byte {end} is damaged but an intact record follows at byte "
                f"{follower}; refusing to drop acknowledged batches (nothing was changed; run "
                "`cohortd verify` and restore the file, or move it aside to accept the loss)"
            )
        fd = files.ops.open_append(path)
        try:
            files.ops.truncate(fd, end)
            files.ops.fsync(fd)
        finally:
            files.ops.close(fd)
        return records


def _scan(data: bytes) -> tuple[list[Record], int]:
    """Records from the start up to the first damaged one; (records, end of the last good one)."""
    records: list[Record] = []
    pos = 0
    while pos + _HEADER.size <= len(data):
        length, crc = _HEADER.unpack_from(data, pos)
        start, end = pos + _HEADER.size, pos + _HEADER.size + length
        if end > len(data) or zlib.crc32(data[start:end]) != crc:
            break
        records.append(Record(pos, data[start:end]))
        pos = end
    return records, pos


def _next_intact(data: bytes, after: int) -> int | None:
    """The offset of the first intact record starting after ``after``, if any.

    Candidates are found by the Arrow IPC marker every payload starts with, so
    the search costs one ``bytes.find`` per marker, not a CRC per byte.
    """
    at = data.find(_IPC_MARKER, after + _HEADER.size + 1)
    while at != -1:
        pos = at - _HEADER.size
        length, crc = _HEADER.unpack_from(data, pos)
        if length and pos + _HEADER.size + length <= len(data):
            if zlib.crc32(data[at : at + length]) == crc:
                return pos
        at = data.find(_IPC_MARKER, at + 1)
    return None


def intact_records(path: Path) -> list[Record]:
    """The records before the first damaged one, without changing the file."""
    return _scan(path.read_bytes())[0]


def inspect(path: Path) -> tuple[int, int, str | None]:
    """(intact records, bytes, problem) of a log file without changing it (for ``cohortd verify``)."""
    data = path.read_bytes()
    records, end = _scan(data)
    if end == len(data):
        return len(records), len(data), None
    follower = _next_intact(data, end)
    if follower is None:
        return len(records), len(data), f"torn last record at byte {end} (dropped on open)"
    return len(records), len(data), f"damaged record at byte {end}, intact record follows at {follower}"
