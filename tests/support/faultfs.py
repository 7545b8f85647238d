"""File layers for storage tests: injected faults and simulated power loss.

Both replace :data:`cohortd.storage.files.ops` (every write the event store makes
goes through it).

* :class:`FaultyOps` fails chosen calls: a ``write`` after N bytes (the first
  part is really written), ENOSPC or EIO from ``write``/``fsync``/``fsync_dir``/
  ``replace``/``open``/``truncate``, for a window of consecutive calls.
* :class:`PowerLossOps` records which file contents and directory entries were
  made durable by ``fsync``/``fsync_dir``; :meth:`PowerLossOps.materialize`
  writes the state a power cut would leave into a fresh directory (unsynced file
  data lost; unsynced directory changes kept or dropped by a policy), and
  ``cut_after`` raises :class:`PowerCut` at the N-th operation to stop the
  workload mid-flight.  ``skip_fsync_in=(function, "fsync" | "fsync_dir")`` drops
  the fsyncs of that kind made within one function, to show that the checks
  notice when any fsync is missing.
"""

from __future__ import annotations

import errno
import functools
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from cohortd.storage.files import FileOps

_F = TypeVar("_F", bound=Callable[..., Any])


def _locked(method: _F) -> _F:
    """One operation at a time: the store writes a seal's pieces on two threads, and the
    model's dicts (and the numbering of operations a cut counts) must see them in one order."""

    @functools.wraps(method)
    def run(self: PowerLossOps, *args: Any, **kwargs: Any) -> Any:
        with self.lock:
            return method(self, *args, **kwargs)

    return run  # type: ignore[return-value]


OPS = ("write", "fsync", "fsync_dir", "replace", "open", "truncate")


@dataclass
class Fault:
    """Fail calls ``at .. at + repeat - 1`` (0-based, counted per operation kind) of ``op``."""

    op: str
    at: int
    err: int = errno.ENOSPC
    repeat: int = 1
    partial: int = 0  # for writes: bytes really written before the error

    def describe(self) -> str:
        name = errno.errorcode[self.err]
        part = f" after {self.partial} bytes" if self.op == "write" else ""
        return f"{self.op}{part}: {name} x{self.repeat} at call {self.at}"


class FaultyOps(FileOps):
    """Fails the calls ``faults`` name; the others really happen, except that fsyncs only
    count (durability is the power-loss test's subject, and real fsyncs make trials slow)."""

    def __init__(self, faults: list[Fault]) -> None:
        self.faults = faults
        self.calls = dict.fromkeys(OPS, 0)
        self.injected = 0

    def _fault(self, op: str) -> Fault | None:
        n = self.calls[op]
        self.calls[op] += 1
        for f in self.faults:
            if f.op == op and f.at <= n < f.at + f.repeat:
                self.injected += 1
                return f
        return None

    def _raise(self, f: Fault) -> None:
        raise OSError(f.err, os.strerror(f.err))

    def write(self, fd: int, data: bytes | memoryview) -> int:
        f = self._fault("write")
        if f is not None:
            if f.partial and len(data) > 1:
                os.write(fd, bytes(data[: min(f.partial, len(data) - 1)]))
            self._raise(f)
        return super().write(fd, data)

    def fsync(self, fd: int) -> None:
        f = self._fault("fsync")
        if f is not None:
            self._raise(f)

    def fsync_dir(self, path: Path) -> None:
        f = self._fault("fsync_dir")
        if f is not None:
            self._raise(f)

    def replace(self, src: Path, dst: Path) -> None:
        f = self._fault("replace")
        if f is not None:
            self._raise(f)
        super().replace(src, dst)

    def open_write(self, path: Path) -> int:
        f = self._fault("open")
        if f is not None:
            self._raise(f)
        return super().open_write(path)

    def open_append(self, path: Path) -> int:
        f = self._fault("open")
        if f is not None:
            self._raise(f)
        return super().open_append(path)

    def truncate(self, fd: int, size: int) -> None:
        f = self._fault("truncate")
        if f is not None:
            self._raise(f)
        super().truncate(fd, size)


# --------------------------------------------------------------------- power loss
class PowerCut(BaseException):
    """The simulated power cut (a BaseException, so no ``except Exception`` swallows it)."""


class OutsideLayer(BaseException):
    """The store fsync'd a directory the layer never saw created: something made it behind
    :data:`files.ops`' back (e.g. ``Path.mkdir``), so its own entry is never made durable.
    A BaseException, so the store's background-failure handlers cannot hide it."""


@dataclass
class _Node:
    is_dir: bool
    durable: bytes = b""  # file content at its last fsync
    entries: dict[str, int] = field(default_factory=dict)  # dir: name -> node at its last fsync


class PowerLossOps(FileOps):
    """Tracks durability under ``root``; everything existing at start counts as durable."""

    def __init__(
        self, root: Path, cut_after: int | None = None, skip_fsync_in: tuple[str, str] | None = None
    ) -> None:
        self.root = Path(root)
        self.cut_after = cut_after
        self.skip_fsync_in = skip_fsync_in
        self.ops_done = 0
        self.skipped = 0
        self.nodes: dict[int, _Node] = {}
        self.names: dict[Path, int] = {}  # current binding of every path we know
        self.fds: dict[int, int] = {}
        self.lock = threading.RLock()
        self._scan(self.root)

    # ---------------------------------------------------------------- model
    def _new(self, path: Path, is_dir: bool, durable: bytes = b"") -> int:
        node = len(self.nodes)
        self.nodes[node] = _Node(is_dir, durable)
        self.names[path] = node
        return node

    def _scan(self, path: Path) -> int:
        if path.is_dir():
            node = self._new(path, True)
            for child in sorted(path.iterdir()):
                self.nodes[node].entries[child.name] = self._scan(child)
            return node
        return self._new(path, False, path.read_bytes())

    def _tick(self) -> None:
        if self.cut_after is not None and self.ops_done >= self.cut_after:
            raise PowerCut(f"power cut at operation {self.ops_done}")
        self.ops_done += 1

    def _skipped(self, op: str) -> bool:
        """Whether this fsync is the one removed: ``skip_fsync_in == (function qualname, op)``."""
        if self.skip_fsync_in is None or self.skip_fsync_in[1] != op:
            return False
        frame = sys._getframe(2)
        while frame is not None:
            if frame.f_code.co_qualname == self.skip_fsync_in[0]:
                self.skipped += 1
                return True
            frame = frame.f_back  # type: ignore[assignment]
        return False

    # ------------------------------------------------------------ operations
    @_locked
    def open_write(self, path: Path) -> int:
        self._tick()
        fd = super().open_write(path)
        node = self.names.get(Path(path))
        self.fds[fd] = node if node is not None else self._new(Path(path), False)
        return fd

    @_locked
    def open_append(self, path: Path) -> int:
        self._tick()
        fd = super().open_append(path)
        node = self.names.get(Path(path))
        self.fds[fd] = node if node is not None else self._new(Path(path), False)
        return fd

    @_locked
    def write(self, fd: int, data: bytes | memoryview) -> int:
        self._tick()
        return super().write(fd, data)

    @_locked
    def truncate(self, fd: int, size: int) -> None:
        self._tick()
        super().truncate(fd, size)

    @_locked
    def fsync(self, fd: int) -> None:
        self._tick()
        if self._skipped("fsync"):
            return
        # no real fsync: durability is what this model records (and the run is much faster)
        with open(f"/proc/self/fd/{fd}", "rb") as fh:
            self.nodes[self.fds[fd]].durable = fh.read()

    @_locked
    def close(self, fd: int) -> None:
        super().close(fd)
        self.fds.pop(fd, None)

    @_locked
    def replace(self, src: Path, dst: Path) -> None:
        self._tick()
        super().replace(src, dst)
        self.names[Path(dst)] = self.names.pop(Path(src))

    @_locked
    def unlink(self, path: Path) -> None:
        self._tick()
        super().unlink(path)
        self.names.pop(Path(path), None)

    @_locked
    def mkdir(self, path: Path) -> None:
        self._tick()
        super().mkdir(path)
        self._new(Path(path), True)

    @_locked
    def fsync_dir(self, path: Path) -> None:
        self._tick()
        if self._skipped("fsync_dir"):
            return
        path = Path(path)
        node = self.names.get(path)
        if node is None:
            raise OutsideLayer(f"fsync_dir({path}): directory created outside the file layer")
        self.nodes[node].entries = {
            p.name: n for p, n in self.names.items() if p.parent == path and p.exists()
        }

    # ------------------------------------------------------------ after the cut
    @_locked
    def materialize(self, out: Path, policy: str = "synced") -> None:
        """Write what survives the power cut to ``out`` (a new directory).

        ``synced``: exactly the fsync'd directory entries.  ``deletes``: like
        ``synced``, but unsynced unlinks (and renames away from a name) also took
        effect (a file system may persist them in any order), the harsher case
        for code that deletes old files after writing new ones.  A name renamed
        over keeps its fsync'd file: a rename is atomic, never "no file".
        """
        self._write(self.names[self.root], self.root, Path(out), policy)

    def _write(self, node_id: int, path: Path, out: Path, policy: str) -> None:
        node = self.nodes[node_id]
        if not node.is_dir:
            out.write_bytes(node.durable)
            return
        out.mkdir()
        for name, child in node.entries.items():
            if policy == "deletes" and (path / name) not in self.names:
                continue  # unlinked (or renamed away) since the last fsync of this directory
            self._write(child, path / name, out / name, policy)
