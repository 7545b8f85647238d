"""Durable file primitives, all through one replaceable file layer.

Every write the store makes (log appends, segments, dictionaries, user
properties, the manifest) goes through :data:`ops`, an instance of
:class:`FileOps`.  Tests swap it for a layer that fails a write after N bytes,
raises ENOSPC, fails an fsync or a rename, or records writes and fsyncs to
simulate a power loss (tests/test_storage_faults.py, test_storage_powerloss.py).

Files are written to a temporary name, fsync'd, renamed, and the directory is
fsync'd; new directories are fsync'd into their parent.  Each written file's
size and CRC-32 are returned so the manifest can record them.
"""

from __future__ import annotations

import errno
import json
import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cohortd.errors import DirSyncError

#: errno values that mean "out of space" (reported as StorageFullError, RESOURCE_EXHAUSTED).
NO_SPACE = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


class FileOps:
    """The file operations the store uses for writing (reads go straight to the OS / mmap)."""

    def open_write(self, path: Path) -> int:
        """A new (truncated) file for writing."""
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)

    def open_append(self, path: Path) -> int:
        """A log file for appending (created when missing)."""
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def write(self, fd: int, data: bytes | memoryview) -> int:
        return os.write(fd, data)

    def fsync(self, fd: int) -> None:
        os.fsync(fd)

    def truncate(self, fd: int, size: int) -> None:
        os.ftruncate(fd, size)

    def close(self, fd: int) -> None:
        os.close(fd)

    def replace(self, src: Path, dst: Path) -> None:
        os.replace(src, dst)

    def unlink(self, path: Path) -> None:
        os.unlink(path)

    def mkdir(self, path: Path) -> None:
        os.mkdir(path)

    def fsync_dir(self, path: Path) -> None:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


ops: FileOps = FileOps()


def fsync_dir(path: Path) -> None:
    """Make a create, rename or unlink inside ``path`` durable."""
    ops.fsync_dir(path)


def write_all(fd: int, data: bytes | memoryview) -> None:
    """``write`` until every byte is written (a short write is retried, an error raised)."""
    view = memoryview(data)
    while len(view):
        n = ops.write(fd, view)
        if n <= 0:
            raise OSError(errno.EIO, "write returned no progress")
        view = view[n:]


def make_dirs(path: Path) -> None:
    """Create ``path`` and missing parents, each fsync'd into its parent (so it survives a power loss)."""
    path = Path(path)
    if path.is_dir():
        return
    make_dirs(path.parent)
    try:
        ops.mkdir(path)
    except FileExistsError:
        return
    fsync_dir(path.parent)


@dataclass(frozen=True)
class FileSum:
    """Size and CRC-32 of a file as written; the manifest records them to detect damage."""

    size: int
    crc32: int

    def as_json(self) -> dict[str, int]:
        return {"size": self.size, "crc32": self.crc32}


class DurableWriter:
    """A write-only file object (enough for pyarrow's writers) that checksums what it writes."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._pos = 0
        self._crc = 0
        self.closed = False

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        write_all(self._fd, view)
        self._crc = zlib.crc32(view, self._crc)
        self._pos += len(view)
        return len(view)

    def tell(self) -> int:
        return self._pos

    def flush(self) -> None:
        pass

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readable(self) -> bool:
        return False

    def close(self) -> None:
        self.closed = True

    @property
    def sum(self) -> FileSum:
        return FileSum(self._pos, self._crc)


def atomic_write(path: Path, write: Callable[[DurableWriter], object], commit: bool = False) -> FileSum:
    """Write ``path`` so that readers see either the old file or the complete new one.

    A failure before the rename removes the temporary file and leaves ``path`` as
    it was; a failed directory fsync after it raises :class:`DirSyncError` when
    ``commit`` (the file switches the directory to a new state), else OSError.
    """
    tmp = path.with_name(path.name + ".tmp")
    fd = ops.open_write(tmp)
    try:
        try:
            out = DurableWriter(fd)
            write(out)
            ops.fsync(fd)
        finally:
            ops.close(fd)
        ops.replace(tmp, path)
    except BaseException:
        try:
            ops.unlink(tmp)
        except OSError:
            pass
        raise
    try:
        fsync_dir(path.parent)
    except OSError as exc:
        if commit:
            raise DirSyncError(
                exc.errno, f"{path} is in place but its directory fsync failed: {exc}"
            ) from exc
        raise
    return out.sum


def atomic_write_json(path: Path, obj: Any, commit: bool = False) -> FileSum:
    data = json.dumps(obj, indent=1, sort_keys=True).encode()
    return atomic_write(path, lambda fh: fh.write(data), commit)


def file_sum(path: Path) -> FileSum:
    """Size and CRC-32 of a file on disk, read in 8 MiB pieces."""
    crc, size = 0, 0
    with open(path, "rb") as fh:
        while chunk := fh.read(8 << 20):
            crc = zlib.crc32(chunk, crc)
            size += len(chunk)
    return FileSum(size, crc)


def is_no_space(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in NO_SPACE
