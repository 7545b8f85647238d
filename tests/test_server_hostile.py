"""Requests that used to break or starve the server (issue 8, items 2, 3, 10, 11, 12).

Every test talks to a real ``python -m cohortd.server`` on 127.0.0.1 and
checks both the refusal (status code, the limit named) and that the server
and project keep answering afterwards.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pyarrow as pa
import pytest
from cohortd import Client, wire
from cohortd.lang import ast as A
from cohortd.lang import limits as L
from cohortd.v1 import cohortd_pb2 as pb
from cohortd.v1 import cohortd_pb2_grpc as pb_grpc
from cohortd.v1 import expr_pb2 as epb
from grpc_health.v1 import health_pb2, health_pb2_grpc
from support.data import DAY_MS, now_ms, saas_events
from support.server import ServerProcess

USERS = 200
WORKERS = 2
WATCHERS = 300


def stub(srv: ServerProcess) -> tuple[grpc.Channel, pb_grpc.CohortdStub]:
    channel = grpc.insecure_channel(srv.address)
    return channel, pb_grpc.CohortdStub(channel)


def code_of(call, *args, **kwargs) -> tuple[grpc.StatusCode, str]:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.RpcError) as err:
        call(*args, **kwargs)
    return err.value.code(), err.value.details()


def health_status(srv: ServerProcess, service: str = "") -> int:
    """The health of ``service``; SERVICE_UNKNOWN for a name the server does not know (yet)."""
    with grpc.insecure_channel(srv.address) as ch:
        try:
            reply = health_pb2_grpc.HealthStub(ch).Check(
                health_pb2.HealthCheckRequest(service=service), timeout=30
            )
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.NOT_FOUND:
                raise
            return health_pb2.HealthCheckResponse.SERVICE_UNKNOWN
        return reply.status


def server_threads(srv: ServerProcess) -> int:
    for line in Path(f"/proc/{srv.proc.pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise AssertionError("no thread count")


def heavy_events(users: int = 5_000, per_user: int = 40) -> pa.Table:
    """Enough rows that a definition of hundreds of distinct conditions takes a while."""
    now = now_ms()
    n = users * per_user
    return pa.table(
        {
            "user_id": [f"h{i % users}" for i in range(n)],
            "event_type": [f"T{i % 7}" for i in range(n)],
            "time": pa.array([now - (i % 50) * DAY_MS // 2 - 1000 for i in range(n)], pa.int64()),
        }
    )


# The costliest definition the language limits allow: MAX_CONDITIONS sequences of
# MAX_SEQUENCE_STEPS steps, each over every row, all distinct (nothing memoised, no one
# matches).  Both it and a cheap read scale with the machine's speed, so it outlasts a
# read by the same large factor everywhere (~0.07 s per term on the CI machine: 30 s or
# more per evaluation against milliseconds per read); the tests cancel it, never wait.
_STEPS = ", ".join(["any", '"T1"'] * (L.MAX_SEQUENCE_STEPS // 2))


def heavy_definition(salt: int) -> str:
    """A slow definition, distinct for every ``salt`` (windows nothing else uses)."""
    base = 1 + salt * L.MAX_CONDITIONS
    return " or ".join(
        f"sequence({_STEPS}) within {base + i}s in last {i % 40 + 5}d" for i in range(L.MAX_CONDITIONS)
    )


def slow_evaluations(cohortd: pb_grpc.CohortdStub, n: int, seed: int) -> list[grpc.Future]:
    """``n`` evaluations of distinct heavy definitions in flight (raw futures, so they can be cancelled)."""
    futures = []
    for i in range(n):
        request = pb.EvaluateRequest()
        request.target.definition.text = heavy_definition(seed * 100 + i)
        futures.append(cohortd.Evaluate.future(request, timeout=600))
    return futures


def server_cpu_seconds(srv: ServerProcess) -> float:
    """CPU time the server process has used (user + system)."""
    fields = Path(f"/proc/{srv.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_until_working(srv: ServerProcess, since: float, cpu_s: float, futures: list[grpc.Future]) -> None:
    """Return once the server spent ``cpu_s`` CPU seconds after ``since``: the evaluations run.

    Progress measured in work done, not in elapsed time: on a loaded machine it only
    takes longer.  An evaluation that ended (error or result) fails the test at once.
    """
    while server_cpu_seconds(srv) - since < cpu_s:
        ended = [f for f in futures if f.done()]
        assert not ended, f"an evaluation ended early: {ended[0].exception() or 'it finished'}"
        time.sleep(0.02)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = ServerProcess(tmp_path_factory.mktemp("hostile"), "--workers", str(WORKERS),
                        "--max-properties-per-project", "50")  # fmt: skip
    try:
        with Client(srv.address) as c:
            c.wait_ready()
            assert c.ingest(saas_events(USERS)).rejections == []
            c.create_cohort("Session Starters", 'did("Session Start") in last 7d')
            c.create_cohort("Signed up", 'did("Signup Submitted")')
        yield srv
    finally:
        srv.terminate()


# ------------------------------------------------------------ item 2: trees
BAD_TREES = {
    "top 150%": A.Top(150.0, A.MetricCount(A.EventRef(None))),
    "one-step sequence": A.Sequence((A.EventRef("Signup Submitted"),)),
    "zero duration": A.Did(A.EventRef(None), None, A.Last(A.Duration(0, "d"))),
    "negative duration": A.Did(A.EventRef(None), None, A.Last(A.Duration(-7, "d"))),
    "reversed range": A.Did(A.EventRef(None), A.Range(9, 3)),
    "negative count": A.Did(A.EventRef(None), A.Compare(">=", -2)),
}


@pytest.mark.parametrize("name", sorted(BAD_TREES))
def test_a_tree_gets_the_checks_text_gets(server: ServerProcess, name: str) -> None:
    channel, cohortd = stub(server)
    with channel:
        request = pb.CreateCohortRequest(name=f"bad {name}")
        wire.expr_to_proto(BAD_TREES[name], request.definition.expr)
        code, details = code_of(cohortd.CreateCohort, request, timeout=30)
        assert code == grpc.StatusCode.INVALID_ARGUMENT, details
        listed = cohortd.ListCohorts(pb.ListCohortsRequest(), timeout=30)
        assert f"bad {name}" not in {c.name for c in listed.cohorts}
        assert all(c.error == "" for c in listed.cohorts)


def test_a_broken_saved_definition_does_not_stop_the_project(tmp_path: Path) -> None:
    srv = ServerProcess(tmp_path)
    try:
        with Client(srv.address) as c:
            c.wait_ready()
            c.ingest(saas_events(50))
            c.create_cohort("good", 'did("Signup Submitted")')
            c.create_cohort("victim", 'did("Feature Used") >= 1 in last 30d')
    finally:
        srv.terminate()
    db = sqlite3.connect(tmp_path / "projects" / "default" / "catalog.sqlite")
    with db:  # what a server without tree checks could have saved
        db.execute("UPDATE cohorts SET definition = 'sequence(\"Feature Used\")' WHERE name = 'victim'")
    db.close()
    srv = ServerProcess(tmp_path)
    try:
        with Client(srv.address) as c:
            c.wait_ready()
            cohorts = {x.name: x for x in c.list_cohorts()}
            assert cohorts["victim"].error and "two steps" in cohorts["victim"].error
            assert cohorts["victim"].expr is None
            assert cohorts["good"].error is None and c.evaluate("good").size == 50
            channel, cohortd = stub(srv)
            with channel:
                code, details = code_of(
                    cohortd.IsMember, pb.IsMemberRequest(user_id="u0000", cohort="victim")
                )
            assert code == grpc.StatusCode.FAILED_PRECONDITION and "victim" in details
            c.update_cohort("victim", 'did("Feature Used") >= 1')
            assert c.get_cohort("victim").error is None and c.evaluate("victim").size > 0
    finally:
        srv.terminate()


# --------------------------------------------------- item 3: wide and deep
def test_the_widest_cohort_round_trips_through_every_client(
    server: ServerProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    text = " or ".join(f'did("Session Start") >= {i}' for i in range(L.MAX_CONDITIONS))
    with Client(server.address) as c:
        created, _warnings = c.create_cohort("Widest", text)
        assert created.expr is not None and len(A.chain(created.expr)) == L.MAX_CONDITIONS
        assert c.get_cohort("Widest").definition == created.definition
        assert "Widest" in {x.name for x in c.list_cohorts()}
        assert c.evaluate("Widest").size == c.evaluate(definition="did(any)").size  # `>= 0`: everyone
    channel, cohortd = stub(server)
    with channel:
        raw = cohortd.GetCohort(pb.GetCohortRequest(name="Widest"), timeout=30).cohort
        assert raw.definition_expr.WhichOneof("node") == "or_chain"
        assert len(raw.definition_expr.or_chain.items) == L.MAX_CONDITIONS
    from cohortd.cli.main import main

    capsys.readouterr()
    assert main(["cohort", "list", "--server", server.address, "--json"]) == 0
    names = [row["name"] for row in json.loads(capsys.readouterr().out)["cohorts"]]
    assert "Widest" in names


@pytest.mark.parametrize(
    ("text", "limit"),
    [
        ("(" * 900 + 'did("a")' + ")" * 900, "MAX_DEPTH"),
        (" or ".join(f'did("E{i}")' for i in range(1000)), "MAX_CONDITIONS"),
        ("sequence(" + ", ".join(["any"] * 80) + ")", "MAX_SEQUENCE_STEPS"),
    ],
)
def test_too_deep_or_too_wide_text_is_invalid_argument_with_position(
    server: ServerProcess, text: str, limit: str
) -> None:
    channel, cohortd = stub(server)
    with channel:
        request = pb.EvaluateRequest()
        request.target.definition.text = text
        with pytest.raises(grpc.RpcError) as err:
            cohortd.Evaluate(request, timeout=30)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert limit in err.value.details()
        trailing = dict(err.value.trailing_metadata())
        assert int(trailing["cohortd-error-line"]) == 1 and int(trailing["cohortd-error-column"]) > 1


def _binary_or(n: int) -> epb.CohortExpr:
    """An old-style binary OR tree of n conditions, n - 1 levels deep."""
    msg = epb.CohortExpr()
    wire.expr_to_proto(A.Did(A.EventRef("a")), msg)
    for i in range(n - 1):
        outer = epb.CohortExpr()
        outer.or_expr.left.CopyFrom(msg)
        wire.expr_to_proto(A.Did(A.EventRef(f"b{i}")), outer.or_expr.right)
        msg = outer
    return msg


def test_deep_or_wide_trees_are_invalid_argument(server: ServerProcess) -> None:
    channel, cohortd = stub(server)
    with channel:
        # old binary form, shallow enough to decode: still accepted (old clients keep working)
        ok = pb.EvaluateRequest()
        ok.target.definition.expr.CopyFrom(_binary_or(20))
        assert cohortd.Evaluate(ok, timeout=30).size == 0
        # too deep for protobuf to decode at all: INVALID_ARGUMENT, not INTERNAL
        deep = pb.EvaluateRequest()
        deep.target.definition.expr.CopyFrom(_binary_or(200))
        data = deep.SerializeToString()
        raw = channel.unary_unary("/cohortd.v1.Cohortd/Evaluate", request_serializer=None)
        code, details = code_of(raw, data, timeout=30)
        assert code == grpc.StatusCode.INVALID_ARGUMENT and "decoded" in details
        # wide as a chain: decodes, then the condition limit refuses it
        wide = pb.EvaluateRequest()
        for i in range(1000):
            wire.expr_to_proto(A.Did(A.EventRef(f"e{i}")), wide.target.definition.expr.or_chain.items.add())
        code, details = code_of(cohortd.Evaluate, wide, timeout=30)
        assert code == grpc.StatusCode.INVALID_ARGUMENT and "MAX_CONDITIONS" in details
        assert health_status(server) == health_pb2.HealthCheckResponse.SERVING


# ------------------------------------------------------- item 11: big work
def test_a_million_property_names_are_refused_quickly(server: ServerProcess) -> None:
    request = pb.IngestRequest()
    t = now_ms() - 1000
    for e in range(1000):
        ev = request.events.add(user_id=f"p{e}", event_type="Wide", time_ms=t)
        for k in range(1000):
            ev.properties[f"k{e}_{k}"].int_value = k
    assert len(request.SerializeToString()) < 32 * 1024 * 1024
    channel, cohortd = stub(server)
    with channel:
        code, details = code_of(cohortd.Ingest, request, timeout=120)
        assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and "max_properties_per_batch" in details
        # per project: this server allows 50 event property names in all
        few = pb.IngestRequest()
        for k in range(60):
            few.events.add(user_id="p", event_type="Wide", time_ms=t).properties[f"n{k}"].int_value = k
        code, details = code_of(cohortd.Ingest, few, timeout=30)
        assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and "max_properties_per_project" in details
        ok = pb.IngestRequest()
        ok.events.add(user_id="p", event_type="Wide", time_ms=t).properties["n0"].int_value = 1
        assert cohortd.Ingest(ok, timeout=30).accepted == 1


# ------------------------------------------------- item 10: starvation
async def _open_watchers(
    address: str, n: int, ready: threading.Event, got: list[int], done: asyncio.Event
) -> None:
    async with grpc.aio.insecure_channel(address) as channel:
        cohortd = pb_grpc.CohortdStub(channel)
        calls = [cohortd.Watch(pb.WatchRequest(cohorts=["Session Starters"])) for _ in range(n)]
        for call in calls:
            await call.read()  # the checkpoint: the stream is open
        ready.set()

        async def next_change(call: grpc.aio.UnaryStreamCall) -> None:
            event = await call.read()
            got.append(len(event.change.entered))

        waits = asyncio.gather(*(next_change(c) for c in calls))
        stop = asyncio.ensure_future(done.wait())
        await asyncio.wait([waits, stop], return_when=asyncio.FIRST_COMPLETED)
        await done.wait()
        for call in calls:
            call.cancel()


def test_idle_watchers_and_slow_evaluations_starve_nothing(server: ServerProcess) -> None:
    with Client(server.address) as c:
        assert c.ingest(heavy_events()).accepted > 0
    loop = asyncio.new_event_loop()
    ready, got = threading.Event(), []
    done = asyncio.Event()
    opening = _open_watchers(server.address, WATCHERS, ready, got, done)
    watchers = threading.Thread(target=loop.run_until_complete, args=(opening,))
    watchers.start()
    try:
        assert ready.wait(120), "watch streams did not open"
        # each stream is a suspended coroutine, not a thread of its own
        assert server_threads(server) < WATCHERS // 2
        assert health_status(server) == health_pb2.HealthCheckResponse.SERVING
        with Client(server.address) as c:
            assert c.is_member("u0001", "Session Starters", timeout=30)
            # a change reaches every idle watcher
            c.ingest(
                [{"user_id": "newcomer", "event_type": "Session Start", "time": now_ms() - 1000}], timeout=60
            )
            deadline = time.monotonic() + 120
            while len(got) < WATCHERS and time.monotonic() < deadline:
                time.sleep(0.1)
            assert got == [1] * WATCHERS
            # eight slow evaluations fill the work pool (two run, six queue); cheap reads go past them
            channel, cohortd = stub(server)
            with channel:
                since = server_cpu_seconds(server)
                slow = slow_evaluations(cohortd, 8, seed=1)
                try:
                    wait_until_working(server, since, 1.0, slow)
                    for i in range(20):
                        assert c.is_member(f"u{i:04d}", "Signed up", timeout=60)
                        assert c.check_membership([f"u{i:04d}"], ["Signed up"], timeout=60) == [[True]]
                        assert health_status(server) == health_pb2.HealthCheckResponse.SERVING
                    # queued behind them, the first read would have waited for all eight
                    assert not any(f.done() for f in slow), "an evaluation ended before the reads"
                finally:
                    for f in slow:
                        f.cancel()
    finally:
        loop.call_soon_threadsafe(done.set)
        watchers.join(60)
        loop.close()


def test_an_evaluation_stops_at_its_deadline_and_on_cancel(tmp_path: Path) -> None:
    # a server of its own: every "stopped before the end" line in its log is this test's
    srv = ServerProcess(tmp_path, "--workers", str(WORKERS))
    try:
        with Client(srv.address) as c:
            c.wait_ready()
            assert c.ingest(heavy_events()).accepted > 0
        channel, cohortd = stub(srv)
        with channel:
            request = pb.EvaluateRequest()
            request.target.definition.text = heavy_definition(0)
            code, _ = code_of(cohortd.Evaluate, request, timeout=0.5)
            assert code == grpc.StatusCode.DEADLINE_EXCEEDED
            deadline = time.monotonic() + 120
            while "the deadline passed" not in srv.output and time.monotonic() < deadline:
                time.sleep(0.05)
            since = server_cpu_seconds(srv)
            (future,) = slow_evaluations(cohortd, 1, seed=2)
            wait_until_working(srv, since, 0.5, [future])
            future.cancel()
            while "cancelled by its client" not in srv.output and time.monotonic() < deadline:
                time.sleep(0.05)
        stops = [line for line in srv.lines if "stopped before the end" in line]
        assert len(stops) == 2, srv.output[-2000:]
        assert "the deadline passed" in stops[0] and "cancelled by its client" in stops[1], stops
    finally:
        srv.terminate()


# ----------------------------------------- item 12: projects open independently
def test_in_cohort_chains_are_limited_and_reopen_in_dependency_order(tmp_path: Path) -> None:
    from cohortd.service.registry import MAX_IN_COHORT_DEPTH

    srv = ServerProcess(tmp_path)
    try:
        with Client(srv.address) as c:
            c.wait_ready()
            c.ingest(saas_events(50))
            # names sort against the chain, the order that used to re-evaluate every dependent
            names = [f"c{MAX_IN_COHORT_DEPTH - i:03d}" for i in range(MAX_IN_COHORT_DEPTH)]
            c.create_cohort(names[0], 'did("Signup Submitted")')
            for prev, name in zip(names, names[1:], strict=False):
                c.create_cohort(name, f'in_cohort("{prev}") and did(any)')
            with pytest.raises(Exception) as err:
                c.create_cohort("one too deep", f'in_cohort("{names[-1]}")')
            assert "MAX_IN_COHORT_DEPTH" in str(err.value)
    finally:
        srv.terminate()
    srv = ServerProcess(tmp_path)
    try:
        with Client(srv.address) as c:
            c.wait_ready()
            assert c.evaluate(names[-1]).size == 50
            assert all(x.error is None for x in c.list_cohorts())
    finally:
        srv.terminate()


def test_health_names_each_project_and_one_project_never_waits_for_another(tmp_path: Path) -> None:
    srv = ServerProcess(tmp_path)
    try:
        with Client(srv.address, project="big", timeout=600) as big:
            big.wait_ready()
            big.ingest(heavy_events(2_000, 20))
            # distinct heavy definitions (nothing memoised across them, unlike near-copies, which
            # one shared open evaluates once): re-tracking them at open costs thousands of times
            # the small project's whole answer on any machine
            for i in range(2):
                big.create_cohort(f"heavy {i}", heavy_definition(900 + i))
        with Client(srv.address, project="small") as small:
            small.ingest(saas_events(20))
            small.create_cohort("signed up", 'did("Signup Submitted")')
    finally:
        srv.terminate()
    srv = ServerProcess(tmp_path)
    try:
        name = "cohortd.v1.Cohortd/big"
        seen = set()
        with Client(srv.address, project="small") as small, Client(srv.address, project="big") as big:
            small.wait_ready()
            opening = threading.Thread(target=big.evaluate, args=("heavy 0",), kwargs={"timeout": 300})
            opening.start()  # the first call opens the project
            while health_status(srv, name) == health_pb2.HealthCheckResponse.SERVICE_UNKNOWN:
                time.sleep(0.01)
            seen.add(health_status(srv, name))
            assert small.is_member("u0001", "signed up", timeout=120)
            still_loading = health_status(srv, name)
            opening.join(300)
        deadline = time.monotonic() + 300
        while (
            health_status(srv, name) != health_pb2.HealthCheckResponse.SERVING and time.monotonic() < deadline
        ):
            time.sleep(0.1)
        assert health_status(srv, name) == health_pb2.HealthCheckResponse.SERVING
        assert health_status(srv, "cohortd.v1.Cohortd/small") == health_pb2.HealthCheckResponse.SERVING
        # the small project opened and answered while the big one was still opening
        assert seen == {health_pb2.HealthCheckResponse.NOT_SERVING}
        assert still_loading == health_pb2.HealthCheckResponse.NOT_SERVING
        with Client(srv.address, project="big") as big:
            assert big.evaluate("heavy 0").size == 0
    finally:
        srv.terminate()


def test_a_query_past_the_memory_budget_is_refused_and_the_server_lives(tmp_path: Path) -> None:
    srv = ServerProcess(tmp_path, "--query-memory-mb", "1")
    try:
        with Client(srv.address) as c:
            c.wait_ready()
            c.ingest(heavy_events(2_000, 50))  # 100,000 rows: ~1.2 MB of kernel input per pass over all
            channel, cohortd = stub(srv)
            with channel:
                request = pb.EvaluateRequest()
                request.target.definition.text = "sequence(" + ", ".join(["any"] * L.MAX_SEQUENCE_STEPS) + ")"
                code, details = code_of(cohortd.Evaluate, request, timeout=120)
            assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and "query_memory_bytes" in details
            assert c.evaluate(definition='did("T0") in last 2d').size > 0  # a narrow one fits
            assert health_status(srv) == health_pb2.HealthCheckResponse.SERVING
    finally:
        assert srv.terminate() == 0
