"""One writer per engine directory: an advisory ``fcntl.flock`` on ``LOCK``, held while open.

Any process that writes (ingest, serve, saving cohorts) takes it when it opens
the directory; a second writer fails at once with the holder's pid instead of
appending events the first one never sees.  The kernel drops the lock when the
holder exits, however it exits, so a crash never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from cohortd.errors import DataDirectoryLockedError

__all__ = ["LOCK_FILE", "WriterLock"]

LOCK_FILE = "LOCK"


class WriterLock:
    """The held lock of one directory; :meth:`release` (or process exit) frees it."""

    def __init__(self, fd: int, path: Path) -> None:
        self._fd: int | None = fd
        self.path = path

    @classmethod
    def acquire(cls, directory: Path, what: str = "data directory") -> WriterLock:
        """Take the lock of ``directory`` (created if needed) or raise naming the holder."""
        path = directory / LOCK_FILE
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise DataDirectoryLockedError(
                f"{what} {directory} is open for writing by process {holder}; stop it first, "
                "or send it data with `cohortd ingest --server ADDR FILE...`"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return cls(fd, path)

    def release(self) -> None:
        """Free the lock (idempotent)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
