"""Requests that used to break a project, each against a real server on 127.0.0.1.

* an Arrow batch with invalid UTF-8 in an event property, a ``$user.`` column
  and a user id (was: INTERNAL, then INTERNAL for every request forever);
* a property named ``$error`` with an int value (was: INTERNAL after commit);
* an out-of-range protobuf ``Timestamp`` next to good rows (was: good rows dropped, INTERNAL);
* a structurally broken Arrow IPC column (offsets past the data);
* a full disk (``RLIMIT_FSIZE`` on the server process: writes past it fail with
  EFBIG, which the store treats as "no space"): RESOURCE_EXHAUSTED with a
  message, reads keep working, ingest resumes once the limit is raised.

After each, the project still answers, and after a restart on the same data
directory every acknowledged row is there and no rejected one.
"""

from __future__ import annotations

import resource
from collections.abc import Iterator
from pathlib import Path

import grpc
import pyarrow as pa
import pytest
from cohortd import wire
from cohortd.v1 import cohortd_pb2 as pb
from cohortd.v1 import cohortd_pb2_grpc as pb_grpc
from support.data import now_ms
from support.server import ServerProcess

BAD = b"\xff\xfe"


def _strings(values: list[bytes]) -> pa.Array:
    """A string array holding raw bytes as given (no UTF-8 check), as a hostile client can send."""
    offsets = [0]
    for v in values:
        offsets.append(offsets[-1] + len(v))
    return pa.Array.from_buffers(
        pa.string(),
        len(values),
        [None, pa.py_buffer(pa.array(offsets, pa.int32()).buffers()[1]), pa.py_buffer(b"".join(values))],
    )


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    srv = ServerProcess(tmp_path)
    yield srv
    srv.kill()


def _stub(srv: ServerProcess) -> pb_grpc.CohortdStub:
    channel = grpc.insecure_channel(srv.address)
    grpc.channel_ready_future(channel).result(timeout=30)
    return pb_grpc.CohortdStub(channel)


def _size(stub: pb_grpc.CohortdStub, definition: str = 'did("e")') -> int:
    req = pb.EvaluateRequest(project="p")
    req.target.definition.text = definition
    return stub.Evaluate(req, timeout=30).size


def _ingest_arrow(stub: pb_grpc.CohortdStub, table: pa.Table) -> pb.IngestResponse:
    return stub.Ingest(pb.IngestRequest(project="p", arrow_ipc=wire.table_to_ipc(table)), timeout=30)


def _restart(srv: ServerProcess) -> ServerProcess:
    assert srv.terminate() == 0
    return ServerProcess(srv.data_dir)


def test_invalid_utf8_rows_are_rejected_and_the_project_survives_a_restart(server: ServerProcess) -> None:
    stub = _stub(server)
    t = now_ms() - 60_000
    table = pa.table(
        {
            "user_id": _strings([b"a", b"b" + BAD, b"c", b"d", b"e"]),
            "event_type": ["e"] * 5,
            "time": pa.array([t] * 5, pa.int64()),
            "plan": _strings([b"x", b"y", b"z" + BAD, b"w", b"v"]),
            "$user.tier": _strings([b"1", b"2", b"3", b"4" + BAD, b"5"]),
        }
    )
    resp = _ingest_arrow(stub, table)
    assert resp.accepted == 2
    assert [(r.row, r.field) for r in resp.rejections] == [(1, "user_id"), (2, "plan"), (3, "tier")]
    assert all("not valid UTF-8" in r.reason for r in resp.rejections)
    good = pa.table({"user_id": ["f"], "event_type": ["e"], "time": pa.array([t], pa.int64())})
    assert _ingest_arrow(stub, good).accepted == 1  # the batch after the poison one
    assert _size(stub) == 3
    server = _restart(server)
    try:
        stub = _stub(server)
        assert _size(stub) == 3
        assert _size(stub, 'did("e" where plan == "v")') == 1
        assert _ingest_arrow(stub, good).accepted == 1
    finally:
        server.kill()


def test_a_property_named_error_with_an_int_value_is_stored(server: ServerProcess) -> None:
    stub = _stub(server)
    req = pb.IngestRequest(project="p")
    for i in range(3):
        ev = req.events.add(user_id=f"u{i}", event_type="e", time_ms=now_ms() - 1000)
        ev.properties["$error"].int_value = i
    resp = stub.Ingest(req, timeout=30)
    assert resp.accepted == 3 and not resp.rejections
    assert _size(stub) == 3


def test_an_out_of_range_timestamp_rejects_its_row_and_keeps_the_others(server: ServerProcess) -> None:
    stub = _stub(server)
    req = pb.IngestRequest(project="p")
    req.events.add(user_id="good1", event_type="e", time_ms=now_ms() - 1000)
    bad = req.events.add(user_id="bad", event_type="e")
    bad.timestamp.seconds = 2**62
    far = req.events.add(user_id="far", event_type="e")
    far.timestamp.seconds = 253_402_300_799  # 9999-12-31: a valid Timestamp, absurd as an event time
    req.events.add(user_id="good2", event_type="e", time_ms=now_ms() - 1000)
    resp = stub.Ingest(req, timeout=30)
    assert resp.accepted == 2
    assert [(r.row, r.field) for r in resp.rejections] == [(1, "time"), (2, "time")]
    assert _size(stub) == 2


def test_a_structurally_broken_arrow_column_is_invalid_argument(server: ServerProcess) -> None:
    stub = _stub(server)
    offsets = pa.py_buffer(pa.array([0, 2, 1], pa.int32()).buffers()[1])  # offsets going backwards
    broken = pa.Array.from_buffers(pa.string(), 2, [None, offsets, pa.py_buffer(b"ab")])
    table = pa.table(
        {"user_id": ["a", "b"], "event_type": ["e", "e"], "time": [now_ms() - 1] * 2, "p": broken}
    )
    with pytest.raises(grpc.RpcError) as err:
        _ingest_arrow(stub, table)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, err.value.details()
    good = pa.table({"user_id": ["a"], "event_type": ["e"], "time": [now_ms() - 1]})
    assert _ingest_arrow(stub, good).accepted == 1 and _size(stub) == 1


def test_disk_full_is_resource_exhausted_reads_work_and_ingest_resumes(server: ServerProcess) -> None:
    stub = _stub(server)
    t = now_ms() - 60_000

    def batch(tag: str, n: int) -> pa.Table:
        return pa.table(
            {
                "user_id": [f"{tag}{i}" for i in range(n)],
                "event_type": ["e"] * n,
                "time": pa.array([t] * n, pa.int64()),
                "blob": [f"{tag}-{i}-" + "x" * 200 for i in range(n)],
            }
        )

    assert _ingest_arrow(stub, batch("a", 10)).accepted == 10
    wal = next(server.data_dir.rglob("wal-*.log"))
    limit = wal.stat().st_size + 4096
    _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.prlimit(server.proc.pid, resource.RLIMIT_FSIZE, (limit, hard))
    with pytest.raises(grpc.RpcError) as err:
        _ingest_arrow(stub, batch("full", 2000))  # far past the limit: the append fails part-way
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "no space" in err.value.details() and "not stored" in err.value.details()
    assert wal.stat().st_size < limit, "the failed append was cut back"
    assert _size(stub) == 10  # reads keep working
    assert _ingest_arrow(stub, batch("b", 2)).accepted == 2  # small batches still fit
    resource.prlimit(server.proc.pid, resource.RLIMIT_FSIZE, (hard, hard))  # space returns
    assert _ingest_arrow(stub, batch("c", 2000)).accepted == 2000
    assert _size(stub) == 2012
    server = _restart(server)
    try:
        assert _size(_stub(server)) == 2012
        assert _size(_stub(server), 'did("e" where blob contains "full")') == 0
    finally:
        server.kill()


def test_storage_status_reports_a_quarantined_record_and_the_project_answers(tmp_path: Path) -> None:
    from cohortd import Client, Engine
    from cohortd.storage.store import _encode

    eng = Engine.open(tmp_path / "projects" / "p" / "events")
    t = now_ms() - 60_000
    eng.ingest([{"user_id": "a", "event_type": "e", "time": t}])
    poison = pa.table(
        {"user_id": _strings([b"x" + BAD]), "event_type": ["e"], "time": pa.array([t], pa.int64())}
    )
    eng.store._wal.append(_encode(poison))  # a record an older gate let through
    eng.ingest([{"user_id": "b", "event_type": "e", "time": t}])
    eng.close()
    srv = ServerProcess(tmp_path)
    try:
        with Client(srv.address, project="p") as c:
            status = c.storage_status()
            assert len(status.quarantined) == 1 and "UTF8" in status.quarantined[0]
            assert status.background_failures == 0 and status.log_bytes > 0
        assert _size(_stub(srv)) == 2  # the records around the poison one are there
        assert "quarantined" in srv.output  # and the log says so
    finally:
        srv.kill()


def test_an_error_mid_stream_says_what_was_stored_before_it(server: ServerProcess) -> None:
    stub = _stub(server)
    t = now_ms() - 1000
    good = pa.table({"user_id": ["a", "b"], "event_type": ["e", "e"], "time": pa.array([t, t], pa.int64())})
    offsets = pa.py_buffer(pa.array([0, 2, 1], pa.int32()).buffers()[1])
    broken = good.append_column(
        "p", pa.Array.from_buffers(pa.string(), 2, [None, offsets, pa.py_buffer(b"ab")])
    )
    requests = [pb.IngestRequest(project="p", arrow_ipc=wire.table_to_ipc(x)) for x in (good, broken)]
    with pytest.raises(grpc.RpcError) as err:
        stub.IngestStream(iter(requests), timeout=30)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "2 rows of earlier requests in this stream were stored" in err.value.details()
    assert _size(stub) == 2
