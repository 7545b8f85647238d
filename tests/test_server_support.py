"""Helpers for the end-to-end server tests: a real server process on 127.0.0.1 and a data set.

No tests here; the test_server_*.py modules import it.  The server runs as
``python -m cohortd.server`` (the same ``serve`` that ``cohortd serve`` calls)
on port 0, and its address is read from the line it prints once listening.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow as pa

STARTUP_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 60.0
DAY_MS = 86_400_000
HOUR_MS = 3_600_000


class ServerProcess:
    """``python -m cohortd.server`` on a free loopback port; stderr is collected."""

    def __init__(self, data_dir: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.args = args
        self.lines: list[str] = []
        self._ready = threading.Event()
        self.address = ""
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cohortd.server",
                "--data",
                str(data_dir),
                "--listen",
                "127.0.0.1:0",
                *args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self._ready.wait(STARTUP_TIMEOUT_S) or not self.address:
            self.kill()
            raise RuntimeError("server did not start:\n" + "".join(self.lines))

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)
            m = re.search(r"serving .* on (127\.0\.0\.1:\d+)", line)
            if m:
                self.address = m.group(1)
                self._ready.set()
        self._ready.set()  # exited before listening

    @property
    def port(self) -> int:
        return int(self.address.rsplit(":", 1)[1])

    def terminate(self) -> int:
        """SIGTERM and wait; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(STOP_TIMEOUT_S)
        self._close_pipe()
        return code

    def _close_pipe(self) -> None:
        self._reader.join(10)
        if self.proc.stderr is not None:
            self.proc.stderr.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(STOP_TIMEOUT_S)
        self._close_pipe()

    @property
    def output(self) -> str:
        return "".join(self.lines)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def saas_events(users: int = 200, now: int | None = None) -> pa.Table:
    """A small deterministic event table relative to ``now``.

    User ``u{i}``: signs up ``i % 60`` days ago; does ``Session Start`` ``i % 7``
    times in the last 3 days; users with ``i % 3 == 0`` have a ``Feature Used``
    (area dashboard when ``i`` is even) an hour later than signup; ``i % 10 == 0``
    send ``Subscription Started`` with ``revenue`` 10 + i.
    """
    now = now_ms() if now is None else now
    uid, et, tm, area, revenue = [], [], [], [], []

    def add(u: int, e: str, t: int, a: str | None = None, r: float | None = None) -> None:
        uid.append(f"u{u:04d}")
        et.append(e)
        tm.append(t)
        area.append(a)
        revenue.append(r)

    for i in range(users):
        signup = now - (i % 60) * DAY_MS - HOUR_MS
        add(i, "Signup Submitted", signup)
        for k in range(i % 7):
            add(i, "Session Start", now - 3 * DAY_MS + (k + 1) * HOUR_MS)
        if i % 3 == 0:
            add(i, "Feature Used", signup + HOUR_MS // 2, "dashboard" if i % 2 == 0 else "reports")
        if i % 10 == 0:
            add(i, "Subscription Started", signup + HOUR_MS // 4, r=10.0 + i)
    return pa.table(
        {
            "user_id": pa.array(uid, pa.string()),
            "event_type": pa.array(et, pa.string()),
            "time": pa.array(tm, pa.int64()),
            "feature_area": pa.array(area, pa.string()),
            "revenue": pa.array(revenue, pa.float64()),
        }
    )


def saas_users(users: int = 200) -> pa.Table:
    """``plan`` (paid when i % 10 == 0, else trial when i % 4 == 0, else free) and ``projects``."""
    plans = ["paid" if i % 10 == 0 else "trial" if i % 4 == 0 else "free" for i in range(users)]
    return pa.table(
        {
            "user_id": [f"u{i:04d}" for i in range(users)],
            "plan": plans,
            "projects": pa.array([i % 9 for i in range(users)], pa.int64()),
        }
    )
