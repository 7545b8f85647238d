"""The router's handles on the shard actors: start them, call them, and tell a dead one apart.

Ray restarts a shard actor that dies (``max_restarts=-1``) from its data
directory.  A call that was running on it fails; calls made while it restarts
would wait in Ray's queue, so a monitor thread pings every shard every
``MONITOR_INTERVAL_S``: a shard that fails a call or does not answer a ping
within ``PING_TIMEOUT_S`` is down, and calls needing it fail UNAVAILABLE
(naming it) at once, until a ping gets through again.  A ping answered by a
new incarnation of the actor runs the ``on_restart`` callbacks (the catalog
re-sync).  Task retries are off: an ingest is never applied twice behind the
router's back.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from cohortd.errors import CohortError, ShardUnavailableError

__all__ = ["MAX_CONCURRENCY", "MONITOR_INTERVAL_S", "PING_TIMEOUT_S", "ShardSet"]

MAX_CONCURRENCY = 8
"""Calls a shard actor runs at once (threads; the project is thread-safe and its kernels drop the GIL)."""

log = logging.getLogger("cohortd.cluster")

PING_TIMEOUT_S = 2.0
"""How long a ping may take before the shard counts as down."""

MONITOR_INTERVAL_S = 0.25
"""How often every shard is pinged."""


class ShardSet:
    """N shard actors, one data directory each (``DIR/shards/<i>``)."""

    def __init__(self, data_dir: Path, count: int, namespace: str) -> None:
        import ray

        from cohortd.cluster.shard import ShardActor

        self.count = count
        actor = ray.remote(ShardActor)
        # Ray handles to ShardActor: their methods are found by name at run time (Ray's ActorHandle
        # types them as Never unless decorated with @ray.method, which would make shard.py import ray)
        self.actors: list[Any] = [
            actor.options(
                name=f"cohortd-shard-{i}",
                namespace=namespace,
                get_if_exists=True,
                max_restarts=-1,  # Ray restarts a dead shard; it reopens its directory (WAL replay)
                max_task_retries=0,  # never apply an ingest twice behind the router's back
                num_cpus=0,
                max_concurrency=MAX_CONCURRENCY,
            ).remote(str(data_dir / "shards" / str(i)), i)
            for i in range(count)
        ]
        self._down: set[int] = set()
        self._lock = threading.Lock()
        self.incarnations: dict[int, str] = {}
        self.on_restart: list[Callable[[int], None]] = []
        """Called with a shard number when it answers from a new incarnation (e.g. catalog re-sync)."""
        self._stop = threading.Event()
        self._monitor: threading.Thread | None = None

    def start_monitor(self) -> None:
        """Ping every shard in the background (call once every shard answered its first ping)."""
        self._monitor = threading.Thread(target=self._watch, name="cohortd-shard-monitor", daemon=True)
        self._monitor.start()

    def _watch(self) -> None:
        while not self._stop.wait(MONITOR_INTERVAL_S):
            for s in range(self.count):
                if self._stop.is_set():
                    return
                self.ping(s)

    # ----------------------------------------------------------------- calls
    def call(
        self,
        method: str,
        args_by_shard: Mapping[int, tuple[Any, ...]],
        partial: bool = False,
        include_down: bool = False,
    ) -> dict[int, Any]:
        """Run ``method`` on the shards given, in parallel; results by shard.

        A shard that is down, or dies during the call, fails it with
        ``ShardUnavailableError`` naming it, after the other shards finished
        theirs; with ``partial`` it is left out of the answer instead.  A
        cohortd error raised on a shard is raised as itself.
        """
        import ray

        down = [] if include_down else [s for s in args_by_shard if not self._alive(s)]
        refs = {
            s: getattr(self.actors[s], method).remote(*args)
            for s, args in args_by_shard.items()
            if s not in down
        }
        out: dict[int, Any] = {}
        failed = list(down)
        error: CohortError | None = None
        for s, ref in refs.items():
            try:
                out[s] = ray.get(ref)
            except ray.exceptions.RayTaskError as exc:
                cause = getattr(exc, "cause", None)
                if isinstance(cause, CohortError):
                    error = error or cause
                else:
                    raise
            except (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError):
                self._mark_down(s)
                failed.append(s)
        if error is not None:
            raise error
        if failed and not partial:
            raise ShardUnavailableError(_unavailable(sorted(failed), self.count))
        return out

    def all(self, method: str, *args: Any, partial: bool = False) -> dict[int, Any]:
        """``method(*args)`` on every shard."""
        return self.call(method, {s: args for s in range(self.count)}, partial)

    def _alive(self, shard: int) -> bool:
        with self._lock:
            return shard not in self._down

    def _mark_down(self, shard: int) -> None:
        with self._lock:
            self._down.add(shard)

    def ping(self, shard: int, timeout: float = PING_TIMEOUT_S) -> bool:
        """Whether the shard answers within ``timeout``; notices a restarted incarnation."""
        import ray

        try:
            _, incarnation, _ = ray.get(self.actors[shard].ping.remote(), timeout=timeout)
        except (
            ray.exceptions.RayActorError,
            ray.exceptions.ActorUnavailableError,
            ray.exceptions.GetTimeoutError,
        ):
            self._mark_down(shard)
            return False
        previous = self.incarnations.get(shard)
        if previous is not None and previous != incarnation:
            for callback in list(self.on_restart):  # before it counts as up again
                try:
                    callback(shard)
                except Exception:  # tried again at the next ping
                    log.exception("shard %d: restart callback failed", shard)
                    return False
        self.incarnations[shard] = incarnation
        with self._lock:
            self._down.discard(shard)
        return True

    def down(self) -> list[int]:
        """Shards last seen failing (not yet answering again)."""
        return sorted(s for s in range(self.count) if not self._alive(s))

    def close(self, shards: Iterable[int] | None = None) -> None:
        """Close the shards' workspaces (flushes their logs) and end the actors."""
        import ray

        self._stop.set()
        if self._monitor is not None:
            self._monitor.join(PING_TIMEOUT_S + 1)
        for s in range(self.count) if shards is None else shards:
            try:
                ray.get(self.actors[s].close.remote(), timeout=30)
            except Exception:  # a dead shard has nothing left to flush
                pass
            ray.kill(self.actors[s], no_restart=True)


def _unavailable(shards: list[int], count: int) -> str:
    names = ", ".join(f"shard {s}" for s in shards)
    return (
        f"{names} of {count} unavailable (restarting from its data directory); "
        "retry, or ask for a partial answer explicitly"
    )
