"""Watch and Changes over a real server process on 127.0.0.1.

Every wait is bounded (``WAIT_S``); nothing asserts how fast anything is.
Each test uses its own cohort and event type, so tests sharing the module's
server do not see each other's changes.
"""

from __future__ import annotations

import json
import queue
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest
from cohortd import Client
from cohortd.client import (
    Change,
    RemoteDefinitionError,
    RemoteNotFoundError,
    RemoteResyncRequired,
    WatchStream,
)
from cohortd.engine.maintain import ResyncRequired
from cohortd.v1 import cohortd_pb2 as pb
from cohortd.v1 import cohortd_pb2_grpc as pb_grpc
from support.data import now_ms
from support.server import STARTUP_TIMEOUT_S, ServerProcess, ready_server

WAIT_S = 60.0
LOG_LIMIT = 2


# ---------------------------------------------------------------- helpers
class Proxy:
    """A TCP forwarder on 127.0.0.1 in front of a server, to break connections on purpose.

    ``cut()`` closes every open connection; while ``paused`` new connections are
    refused (closed at once); ``target`` can be changed to point at another server.
    """

    def __init__(self, target: str) -> None:
        self.target = target
        self.paused = False
        self.accepted = 0
        self._lock = threading.Lock()
        self._conns: list[socket.socket] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self.address = f"127.0.0.1:{self._sock.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                down, _ = self._sock.accept()
            except OSError:
                return
            if self.paused:
                down.close()
                continue
            host, port = self.target.rsplit(":", 1)
            try:
                up = socket.create_connection((host, int(port)), timeout=5)
            except OSError:
                down.close()
                continue
            up.settimeout(None)
            with self._lock:
                self.accepted += 1
                self._conns += [down, up]
            threading.Thread(target=self._pump, args=(down, up), daemon=True).start()
            threading.Thread(target=self._pump, args=(up, down), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        with self._lock:
            conns, self._conns = self._conns, []
        for s in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self) -> None:
        self._sock.close()
        self.cut()


class Collector:
    """Reads a WatchStream on a thread; ``wait_for`` blocks (bounded) until a condition holds."""

    def __init__(self, open_stream: Callable[[Callable[[int], None]], WatchStream]) -> None:
        self.changes: list[Change] = []
        self.checkpoints: list[int] = []
        self.error: BaseException | None = None
        self._cond = threading.Condition()
        self.stream = open_stream(self._checkpoint)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for change in self.stream:
                with self._cond:
                    self.changes.append(change)
                    self._cond.notify_all()
        except BaseException as exc:  # reported by wait_for / close
            self.error = exc
        with self._cond:
            self._cond.notify_all()

    def _checkpoint(self, version: int) -> None:
        with self._cond:
            self.checkpoints.append(version)
            self._cond.notify_all()

    def entered(self) -> set[str]:
        return {u for c in self.changes for u in c.entered}

    def wait_for(self, cond: Callable[[Collector], bool], what: str) -> None:
        with self._cond:
            ok = self._cond.wait_for(lambda: cond(self) or self.error is not None, WAIT_S)
        if self.error is not None and not cond(self):
            raise AssertionError(f"watch failed while waiting for {what}") from self.error
        assert ok, f"timed out waiting for {what}; got {self.changes}"

    def wait_error(self) -> BaseException:
        self._thread.join(WAIT_S)
        assert not self._thread.is_alive(), "the watch did not end"
        assert self.error is not None
        return self.error

    def close(self) -> None:
        self.stream.close()
        self._thread.join(WAIT_S)
        assert not self._thread.is_alive()


def events(users: list[str], event_type: str) -> list[dict]:
    t = now_ms() - 1_000
    return [{"user_id": u, "event_type": event_type, "time": t} for u in users]


def key(c: Change) -> tuple:
    return (c.cohort, c.version, sorted(c.entered), sorted(c.exited))


# --------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with ready_server(tmp_path_factory.mktemp("watch")) as srv:
        yield srv


@pytest.fixture
def client(server: ServerProcess) -> Iterator[Client]:
    with Client(server.address, retries=2) as c:
        yield c


@pytest.fixture
def stub(server: ServerProcess) -> Iterator[pb_grpc.CohortdStub]:
    with grpc.insecure_channel(server.address) as ch:
        yield pb_grpc.CohortdStub(ch)


# ------------------------------------------------------------------ tests
def test_ingest_reaches_watch_with_user_and_version(client: Client, stub: pb_grpc.CohortdStub) -> None:
    client.create_cohort("Clicked L7", 'did("Click") in last 7d')
    col = Collector(lambda cp: client.watch(["Clicked L7"], on_checkpoint=cp))
    try:
        col.wait_for(lambda c: bool(c.checkpoints), "the checkpoint")
        start = col.checkpoints[0]  # from now on: the server says after which version
        client.ingest(events(["click-1"], "Click"))
        col.wait_for(lambda c: "click-1" in c.entered(), "click-1 to enter")
        (change,) = col.changes
        assert change.cohort == "Clicked L7" and change.entered == ["click-1"] and change.exited == []
        assert change.version > start and col.stream.version == change.version
        assert abs(change.time_ms - now_ms()) < 3_600_000  # a real evaluation time, not 0
    finally:
        col.close()

    # on the wire: the first message is a checkpoint (no change), then one message per version
    call = stub.Watch(pb.WatchRequest(cohorts=["Clicked L7"], from_version=start), timeout=WAIT_S)
    first, second = next(call), next(call)
    call.cancel()
    assert not first.HasField("change") and first.version == start
    assert second.change.cohort == "Clicked L7" and list(second.change.entered) == ["click-1"]
    assert second.version == second.change.version == change.version


def test_disconnected_watch_resumes_with_exactly_the_missed_changes(
    server: ServerProcess, client: Client
) -> None:
    client.create_cohort("Resumers", 'did("Resume") in last 7d')
    v0 = client.evaluate("Resumers").version
    assert v0 > 0
    proxy = Proxy(server.address)
    # the reference watcher is never disconnected
    reference = Collector(lambda cp: client.watch(["Resumers"], from_version=v0, on_checkpoint=cp))
    with Client(proxy.address, retries=30, backoff=0.02, max_backoff=0.5) as far:
        broken = Collector(lambda cp: far.watch(["Resumers"], from_version=v0, on_checkpoint=cp))
        try:
            client.ingest(events([f"r1-{i}" for i in range(5)], "Resume"))
            broken.wait_for(lambda c: {f"r1-{i}" for i in range(5)} <= c.entered(), "batch 1")
            seen_before = len(broken.changes)

            proxy.paused = True  # the watcher is cut off while three batches arrive
            proxy.cut()
            for b in (2, 3, 4):
                client.ingest(events([f"r{b}-{i}" for i in range(3)], "Resume"))
                client.evaluate("Resumers")  # read-your-writes: one version per batch
            everyone = {f"r1-{i}" for i in range(5)} | {f"r{b}-{i}" for b in (2, 3, 4) for i in range(3)}
            reference.wait_for(lambda c: everyone <= c.entered(), "every batch (reference)")
            proxy.paused = False

            broken.wait_for(lambda c: everyone <= c.entered(), "every batch after resuming")
            assert proxy.accepted >= 2, "the stream was never re-established"
            assert [key(c) for c in broken.changes] == [key(c) for c in reference.changes]
            versions = [c.version for c in broken.changes]
            assert versions == sorted(set(versions))  # nothing twice
            assert len(broken.changes) > seen_before
            assert broken.checkpoints == [v0, versions[seen_before - 1]]  # resumed where it broke
            assert broken.stream.version == versions[-1]

            # Changes between the same two versions is what Watch delivered
            polled = client.changes(["Resumers"], v0, versions[-1])
            assert [key(c) for c in polled.changes] == [key(c) for c in reference.changes]
            assert polled.version == versions[-1]
            mid = versions[0]
            assert [key(c) for c in client.changes("Resumers", mid, versions[-1]).changes] == [
                key(c) for c in reference.changes[1:]
            ]
        finally:
            broken.close()
            reference.close()
            proxy.close()


def test_changes_polling_covers_up_to_the_version_it_reports(client: Client) -> None:
    client.create_cohort("Pollers", 'did("Poll") in last 7d')
    v0 = client.evaluate("Pollers").version
    first = client.changes("Pollers", v0)
    assert first.changes == [] and first.version >= v0
    client.ingest(events(["p1", "p2"], "Poll"))
    client.evaluate("Pollers")
    second = client.changes("Pollers", first.version)
    assert [sorted(c.entered) for c in second.changes] == [["p1", "p2"]]
    assert second.version >= second.changes[-1].version
    assert client.changes("Pollers", second.version).changes == []
    # a to_version in the future is capped at the current version
    capped = client.changes("Pollers", v0, second.version + 10**12)
    assert capped.version <= second.version + 10**12 and capped.version >= second.changes[-1].version
    with pytest.raises(RemoteDefinitionError):
        client.changes("Pollers", second.version, v0)  # to before from


def test_members_and_evaluate_report_the_version_to_watch_from(
    client: Client, stub: pb_grpc.CohortdStub
) -> None:
    client.create_cohort("Viewers", 'did("View") in last 7d')
    client.ingest(events([f"v{i}" for i in range(5)], "View"))
    snap = client.member_snapshot("Viewers", page_size=2)
    assert snap.members == [f"v{i}" for i in range(5)] and snap.version > 0
    assert client.evaluate("Viewers").version == snap.version  # nothing changed since
    pages = list(stub.Members(pb.MembersRequest(target=pb.Target(cohort="Viewers"), page_size=2)))
    assert len(pages) == 3 and {p.version for p in pages} == {snap.version}
    # explicit as-of times and inline definitions are not maintained: version 0
    assert client.evaluate("Viewers", as_of=now_ms()).version == 0
    assert client.evaluate(definition='did("View") in last 7d').version == 0

    client.ingest(events(["v5", "v6"], "View"))
    col = Collector(lambda cp: client.watch("Viewers", from_version=snap.version, on_checkpoint=cp))
    try:
        col.wait_for(lambda c: {"v5", "v6"} <= c.entered(), "v5 and v6")
        members = set(snap.members)
        for c in col.changes:
            members = (members | set(c.entered)) - set(c.exited)
        later = client.member_snapshot("Viewers")
        assert later.version == col.changes[-1].version
        assert members == set(later.members)
    finally:
        col.close()


def test_unknown_cohort_is_not_found(client: Client, stub: pb_grpc.CohortdStub) -> None:
    client.create_cohort("Known", 'did("Known Event") in last 7d')
    for call in (
        lambda: next(stub.Watch(pb.WatchRequest(cohorts=["Known", "No Such"]), timeout=WAIT_S)),
        lambda: stub.Changes(pb.ChangesRequest(cohorts=["No Such"], from_version=1), timeout=WAIT_S),
    ):
        with pytest.raises(grpc.RpcError) as info:
            call()
        assert info.value.code() == grpc.StatusCode.NOT_FOUND
        assert "No Such" in info.value.details()
    with pytest.raises(RemoteNotFoundError):
        next(client.watch(["No Such"]))
    with pytest.raises(grpc.RpcError) as info:
        next(stub.Watch(pb.WatchRequest(), timeout=WAIT_S))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_trimmed_log_requires_resync(tmp_path: Path) -> None:
    srv = ServerProcess(tmp_path, "--change-log-limit", str(LOG_LIMIT))
    try:
        with Client(srv.address, retries=2) as c:
            c.wait_ready()
            c.create_cohort("Trimmed", 'did("Trim") in last 7d')
            v0 = c.evaluate("Trimmed").version
            col = Collector(lambda cp: c.watch("Trimmed", from_version=v0, on_checkpoint=cp))
            col.wait_for(lambda x: x.checkpoints == [v0], "the checkpoint")
            versions = []
            for i in range(LOG_LIMIT + 2):  # one user per version: the log outgrows its limit
                c.ingest(events([f"t{i}"], "Trim"))
                versions.append(c.evaluate("Trimmed").version)
            assert len(set(versions)) == len(versions)
            with pytest.raises(RemoteResyncRequired) as info:
                c.changes("Trimmed", v0)
            assert isinstance(info.value, ResyncRequired)
            assert info.value.code == grpc.StatusCode.OUT_OF_RANGE
            assert "oldest kept" in info.value.details
            with pytest.raises(RemoteResyncRequired):
                next(c.watch("Trimmed", from_version=v0))
            # what the log still holds is served
            recent = c.changes("Trimmed", versions[-2])
            assert [ch.entered for ch in recent.changes] == [[f"t{LOG_LIMIT + 1}"]]
            # a watcher that kept up is not affected; it saw every change
            col.wait_for(lambda x: f"t{LOG_LIMIT + 1}" in x.entered(), "the last user")
            assert [ch.version for ch in col.changes] == versions
            col.close()
    finally:
        code = srv.terminate()
    assert code == 0, srv.output


def test_shutdown_ends_watch_with_unavailable_and_resume_after_restart_asks_for_resync(
    tmp_path: Path,
) -> None:
    first = ServerProcess(tmp_path)
    proxy = Proxy(first.address)
    second = None
    # The stream retries from SIGTERM until the second server serves: stopping one and starting
    # the other can take tens of seconds on a loaded machine, so the retries cover the launcher's
    # whole start-up budget (at >= 0.1 s each), not ~7 s (50 at 0.2 s x 50-100 % jitter, the flake).
    retries = int((STARTUP_TIMEOUT_S + WAIT_S) / 0.1)
    try:
        with Client(first.address) as direct, Client(proxy.address, retries=retries, max_backoff=0.2) as c:
            direct.wait_ready()
            direct.create_cohort("Restarts", 'did("Boot") in last 7d')
            col = Collector(lambda cp: c.watch("Restarts", on_checkpoint=cp))
            col.wait_for(lambda x: bool(x.checkpoints), "the checkpoint")
            direct.ingest(events(["b1"], "Boot"))
            col.wait_for(lambda x: "b1" in x.entered(), "b1")
            with grpc.insecure_channel(first.address) as ch:
                raw = pb_grpc.CohortdStub(ch).Watch(pb.WatchRequest(cohorts=["Restarts"]), timeout=WAIT_S)
                next(raw)  # checkpoint: the stream is running
                assert first.terminate() == 0, first.output  # SIGTERM: Watch streams end at once
                with pytest.raises(grpc.RpcError) as info:
                    next(raw)
                assert info.value.code() == grpc.StatusCode.UNAVAILABLE
            # The change log lives in memory: after a restart it starts at a newer version, so
            # the SDK's resume is told to resynchronise instead of silently losing changes.
            second = ServerProcess(tmp_path)
            proxy.target = second.address
            err = col.wait_error()
            assert isinstance(err, RemoteResyncRequired), err
            assert col.entered() == {"b1"}
    finally:
        proxy.close()
        if first.proc.poll() is None:
            first.kill()
        if second is not None:
            assert second.terminate() == 0, second.output


def test_cli_watch_prints_one_line_per_change(server: ServerProcess, client: Client) -> None:
    client.create_cohort("CLI Watched", 'did("Cli Event") in last 7d')
    v0 = client.evaluate("CLI Watched").version
    client.ingest(events(["cli-1", "cli-2"], "Cli Event"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "cohortd.cli.main", "watch", "--server", server.address,
         "CLI Watched", "--from-version", str(v0), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout], daemon=True).start()  # type: ignore[union-attr]
    try:
        doc = json.loads(lines.get(timeout=WAIT_S))
        assert doc["cohort"] == "CLI Watched" and sorted(doc["entered"]) == ["cli-1", "cli-2"]
        assert doc["version"] > v0 and doc["exited"] == [] and doc["time"].endswith("Z")
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(WAIT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        err = proc.stderr.read()  # type: ignore[union-attr]
        proc.stdout.close()  # type: ignore[union-attr]
        proc.stderr.close()  # type: ignore[union-attr]
    assert code == 130, err
    assert f"after version {v0}" in err
