"""The one launcher of a real server process on 127.0.0.1, for the tests and the benchmarks.

The server runs as ``python -m cohortd.server`` (the same ``serve`` that ``cohortd serve``
calls) on port 0; its gRPC address is read from the ``serving ... on HOST:PORT`` line it
prints once listening, and the console's URL from the ``console on URL/console/`` line when
it serves HTTP too.  stderr is read by a thread for the process's whole life, so a chatty
server never blocks on a full pipe, and kept for the failure message.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

STARTUP_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 60.0

_SERVING = re.compile(r"serving (?:.* )?on (127\.0\.0\.1:\d+)")
_CONSOLE = re.compile(r"console on (http://\S+)/console/")


class ServerProcess:
    """``python -m cohortd.server --data DIR --listen 127.0.0.1:0 ARGS...``, started and listening.

    ``env`` adds to (or overrides) this process's environment.  ``command`` replaces the
    ``python -m cohortd.server --data DIR --listen 127.0.0.1:0`` prefix (e.g. the CLI's
    ``serve``, or another server that prints the same ``serving ... on`` line).
    """

    def __init__(
        self,
        data_dir: Path | None,
        *args: str,
        env: dict[str, str] | None = None,
        command: Sequence[str] | None = None,
        startup_timeout: float = STARTUP_TIMEOUT_S,
    ) -> None:
        if command is None:
            if data_dir is None:
                raise ValueError("a data directory or a command is needed")
            command = [
                sys.executable,
                "-m",
                "cohortd.server",
                "--data",
                str(data_dir),
                "--listen",
                "127.0.0.1:0",
            ]
        self.data_dir = data_dir
        self.args = args
        self.lines: list[str] = []
        self.address = ""
        self.url = ""
        self._ready = threading.Event()
        started = time.perf_counter()
        self.proc = subprocess.Popen(
            [*command, *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self._ready.wait(startup_timeout) or not self.address:
            self.kill()
            raise RuntimeError("server did not start:\n" + self.output)
        self.start_s = time.perf_counter() - started
        """Seconds from the process start to its ``serving`` line."""

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)
            if m := _CONSOLE.search(line):
                self.url = m.group(1)
            if m := _SERVING.search(line):
                self.address = m.group(1)
                self._ready.set()
        self._ready.set()  # exited before listening

    @property
    def port(self) -> int:
        return int(self.address.rsplit(":", 1)[1])

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def terminate(self, timeout: float = STOP_TIMEOUT_S) -> int:
        """SIGTERM and wait; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        self._close_pipe()
        return code

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> int:
        """SIGTERM, then SIGKILL if it has not exited within ``timeout``; returns the exit status."""
        try:
            return self.terminate(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return self.proc.returncode

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(STOP_TIMEOUT_S)
        self._close_pipe()

    def _close_pipe(self) -> None:
        self._reader.join(10)
        if self.proc.stderr is not None:
            self.proc.stderr.close()

    def cpu_seconds(self) -> float:
        """User + system CPU time the server process has used (Linux ``/proc``)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def threads(self) -> int:
        """The server process's thread count (Linux ``/proc``), -1 when unknown."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("Threads:"):
                return int(line.split()[1])
        return -1

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


@contextmanager
def ready_server(data_dir: Path, *args: str) -> Iterator[ServerProcess]:
    """A :class:`ServerProcess` that has answered (``Client.wait_ready``); on leaving, it is
    stopped with SIGTERM and must exit with status 0 (a clean shutdown is part of every test)."""
    from cohortd import Client

    srv = ServerProcess(data_dir, *args)
    try:
        with Client(srv.address) as c:
            c.wait_ready()
        yield srv
    finally:
        code = srv.terminate()
        assert code == 0, srv.output


KEYS = {"k-default": {"name": "dana", "projects": ["default"]}, "k-other": ["other"], "k-admin": ["*"]}
"""The API keys :class:`HttpServer` serves with: one per project, and an admin key."""


class HttpServer(ServerProcess):
    """``cohortd`` serving gRPC and HTTP (the console) on free loopback ports, with :data:`KEYS`."""

    def __init__(self, data_dir: Path, tmp: Path, *args: str) -> None:
        keys = tmp / "keys.json"
        keys.write_text(json.dumps(KEYS))
        super().__init__(data_dir, "--http", "127.0.0.1:0", "--auth-keys", str(keys), *args)
        if not self.url:
            self.kill()
            raise RuntimeError("no console line:\n" + self.output)
