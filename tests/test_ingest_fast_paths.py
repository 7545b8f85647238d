"""The fast ingest paths store exactly what the plain ones store.

- ``Segment.merge_split`` (one sort, one take, slices) against a plain-Python sort
  of the rows by (time partition, type, user, time).
- A bulk load (``Engine.ingest_file``: tail merges deferred, one seal at the end)
  against the same events ingested batch by batch; acknowledged batches of a bulk
  load that never reached its seal survive a crash (the log replays them).
- ``IngestStream`` stores the requests that wait together: against a real server,
  the accepted count, the rejections' stream row numbers and the stored events
  equal those of sending each request alone with ``Ingest``.
"""

from __future__ import annotations

import functools
import itertools
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from cohortd import Engine, wire
from cohortd.engine import engine as engine_mod
from cohortd.storage import readers
from cohortd.storage import store as store_mod
from cohortd.storage.segment import Segment
from cohortd.storage.store import PARTITION_MS, EventStore
from cohortd.v1 import cohortd_pb2 as pb
from cohortd.v1 import cohortd_pb2_grpc as pb_grpc
from hypothesis import given, settings
from hypothesis import strategies as st
from support.segments import check_segment, stored_events
from support.server import ServerProcess

NOW_MS = 1_704_067_200_000
T0 = NOW_MS - 40 * 86_400_000


def _parts(seed: int, sizes: list[int], users: int, weeks: int, shuffled: int | None = None) -> list[Segment]:
    """Sorted segments, but part ``shuffled`` keeps its rows in random order (a part whose ids
    were remapped: the merge must sort it).  Few distinct times, so equal keys occur."""
    rng = np.random.default_rng(seed)
    parts = []
    for i, n in enumerate(sizes):
        table = pa.table(
            {
                "user": pa.array(rng.integers(0, users, n), pa.uint32()),
                "type": pa.array(rng.integers(0, 5, n), pa.uint32()),
                "time": pa.array(T0 + rng.integers(0, weeks * 7, n) * (PARTITION_MS // 7), pa.int64()),
                "p:x": pa.array(rng.integers(0, 10, n), pa.int64(), mask=rng.random(n) < 0.3),
                "row": pa.array(np.arange(n) + 1000 * i, pa.int64()),
            }
        )
        parts.append(Segment(f"s{i}", table) if i == shuffled else Segment.build(f"s{i}", table))
    return parts


def _rows(table: pa.Table) -> list[tuple]:
    return list(
        zip(*(table.column(c).to_pylist() for c in ("user", "type", "time", "p:x", "row")), strict=True)
    )


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    sizes=st.lists(st.integers(1, 300), min_size=1, max_size=5),
    users=st.sampled_from([1, 7, 1000, 2**32 - 1]),
    weeks=st.integers(1, 5),
    shuffled=st.sampled_from([None, None, 0, 1]),
)
def test_merge_split_is_a_sort_by_partition_then_type_user_time(
    seed: int, sizes: list[int], users: int, weeks: int, shuffled: int | None
) -> None:
    """Sorted parts take the native merge, a part out of order the sort; both keep equal keys
    in input order (a stable sort of the concatenation), and ``merge`` is the one-piece case."""
    parts = _parts(seed, sizes, users, weeks, shuffled)
    names = (f"piece-{i}" for i in itertools.count())
    pieces = Segment.merge_split(parts, PARTITION_MS, lambda: next(names))
    everything = [r for p in parts for r in _rows(p.table)]
    want = sorted(everything, key=lambda r: (r[2] // PARTITION_MS, r[1], r[0], r[2]))
    assert [r for piece in pieces for r in _rows(piece.table)] == want
    assert [p.name for p in pieces] == [f"piece-{i}" for i in range(len(pieces))]
    merged = Segment.merge("m", parts)
    assert _rows(merged.table) == sorted(everything, key=lambda r: (r[1], r[0], r[2]))
    check_segment(merged)
    for piece in pieces:
        check_segment(piece)
        partitions = {t // PARTITION_MS for t in piece.times.tolist()}
        assert len(partitions) == 1, f"{piece.name} spans partitions {partitions}"
    assert len(pieces) == len({r[2] // PARTITION_MS for r in everything})


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(2, 400),
    users=st.sampled_from([1, 5, 1000]),
    types=st.sampled_from([1, 3, 70_000]),
    user_sorted=st.booleans(),
)
def test_build_orders_rows_as_a_stable_lexsort(
    seed: int, n: int, users: int, types: int, user_sorted: bool
) -> None:
    """Rows in (user, time) order take the stable-sort-by-type path; the order is the same."""
    rng = np.random.default_rng(seed)
    u = rng.integers(0, users, n)
    t = T0 + rng.integers(0, 50, n)
    if user_sorted:
        order = np.lexsort((t, u))
        u, t = u[order], t[order]
    y = rng.integers(0, types, n)
    table = pa.table(
        {
            "user": pa.array(u, pa.uint32()),
            "type": pa.array(y, pa.uint32()),
            "time": pa.array(t, pa.int64()),
            "row": pa.array(np.arange(n), pa.int64()),  # which input row: equal keys keep input order
        }
    )
    seg = Segment.build("b", table)
    assert seg.table.column("row").to_pylist() == np.lexsort((t, u, y)).tolist()
    check_segment(seg)


def _events_file(path: Path, n: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    table = pa.table(
        {
            "user_id": pa.array([f"u{i}" for i in rng.integers(0, n // 3 + 1, n)]),
            "event_type": pa.array([f"e{i}" for i in rng.integers(0, 4, n)]),
            "time": pa.array(T0 + rng.integers(0, 5 * PARTITION_MS, n), pa.timestamp("ms", tz="UTC")),
            "plan": pa.array([["free", "pro", None][i] for i in rng.integers(0, 3, n)]),
            "amount": pa.array(rng.random(n)),
        }
    )
    pq.write_table(table, path, row_group_size=max(n // 7, 1))
    return table


@pytest.mark.parametrize("tail_bytes, tail_segments", [(store_mod.BULK_TAIL_BYTES, 64), (60_000, 3)])
def test_bulk_load_stores_what_batch_by_batch_ingest_stores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tail_bytes: int, tail_segments: int
) -> None:
    """Defaults (one seal at the end, or none), and small bounds (seals and tail merges mid-load)."""
    src = tmp_path / "events.parquet"
    table = _events_file(src, 6000, 1)
    monkeypatch.setattr(store_mod, "BULK_TAIL_BYTES", tail_bytes)
    monkeypatch.setattr(store_mod, "BULK_TAIL_SEGMENTS", tail_segments)
    monkeypatch.setattr(engine_mod, "read_events", functools.partial(readers.read_events, chunk_rows=700))
    chunks = list(readers.read_events(src, chunk_rows=700))
    assert len(chunks) > 2
    bulk = Engine.open(tmp_path / "bulk", clock=lambda: NOW_MS)
    report = bulk.ingest_file(src)
    assert report.accepted == table.num_rows and not report.rejected
    plain = Engine.open(tmp_path / "plain", clock=lambda: NOW_MS)
    for chunk in chunks:
        plain.ingest(chunk.table)
    assert stored_events(bulk) == stored_events(plain)
    for seg in bulk.store.sealed + bulk.store.tail:
        check_segment(seg)
    bulk.compact()
    by_partition = Counter(s.partition(PARTITION_MS) for s in bulk.store.sealed)
    assert set(by_partition.values()) == {1}  # one segment per time partition
    bulk.close()
    reopened = Engine.open(tmp_path / "bulk", clock=lambda: NOW_MS)
    assert stored_events(reopened) == stored_events(plain)
    reopened.close()
    plain.close()


def test_a_bulk_load_cut_before_its_seal_replays_every_acknowledged_batch(tmp_path: Path) -> None:
    src = tmp_path / "events.parquet"
    _events_file(src, 3000, 2)
    store = EventStore.open(tmp_path / "store")
    acked = 0
    with store.bulk():
        for chunk in readers.read_events(src, chunk_rows=500):
            acked += store.ingest(chunk.table, NOW_MS).report.accepted
        assert len(store.tail) > 1 and not store.sealed  # deferred: nothing merged or sealed yet
        # a crash here: the process dies with the tail in memory only; the next open replays the log
        crashed = EventStore.open(tmp_path / "store")
        assert sum(s.num_rows for s in crashed.snapshot().segments) == acked == 3000
        crashed.close()
    store.close()


# ------------------------------------------------------------------ IngestStream
@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = ServerProcess(tmp_path_factory.mktemp("stream"))
    yield srv
    srv.kill()


def _requests(project: str, seed: int) -> list[pb.IngestRequest]:
    """Arrow requests with bad rows here and there, a column only some have, and typed events."""
    rng = np.random.default_rng(seed)
    out = []
    t = NOW_MS - 1000
    for i in range(12):
        n = int(rng.integers(1, 40))
        users = [f"s{seed}-{int(u)}" for u in rng.integers(0, 30, n)]
        for j in rng.integers(0, n, int(rng.integers(0, 3))):
            users[int(j)] = ""  # a rejected row
        cols = {"user_id": users, "event_type": ["Streamed"] * n, "time": pa.array([t] * n, pa.int64())}
        if i % 4 == 1:
            cols["plan"] = pa.array(["pro"] * n)  # another schema: stored apart, as sent
        if i % 5 == 3:
            out.append(
                pb.IngestRequest(
                    project=project,
                    events=wire.rows_to_event_messages(
                        [{"user_id": "", "event_type": "Streamed", "time": t}]
                        + [{"user_id": f"s{seed}-typed", "event_type": "Streamed", "time": t}]
                    ),
                )
            )
        out.append(pb.IngestRequest(project=project, arrow_ipc=wire.table_to_ipc(pa.table(cols))))
    return out


def _size(stub: pb_grpc.CohortdStub, project: str, definition: str) -> int:
    req = pb.EvaluateRequest(project=project)
    req.target.definition.text = definition
    return stub.Evaluate(req, timeout=60).size


def test_stream_stores_what_the_requests_sent_one_by_one_store(server: ServerProcess) -> None:
    with grpc.insecure_channel(server.address) as channel:
        grpc.channel_ready_future(channel).result(timeout=30)
        stub = pb_grpc.CohortdStub(channel)
        alone = _requests("alone", 5)
        want_accepted, want_rows, row = 0, [], 0
        for req in alone:
            resp = stub.Ingest(req, timeout=30)
            want_accepted += resp.accepted
            want_rows += [(r.row + row, r.field, r.reason) for r in resp.rejections]
            row += len(req.events) + (wire.ipc_to_table(req.arrow_ipc).num_rows if req.arrow_ipc else 0)
        streamed = _requests("streamed", 5)
        resp = stub.IngestStream(iter(streamed), timeout=60)
        assert resp.accepted == want_accepted
        assert [(r.row, r.field, r.reason) for r in resp.rejections] == sorted(want_rows)
        assert want_rows  # the test sends bad rows
        for definition in (
            'did("Streamed") >= 1',
            'did("Streamed") >= 3',
            'did("Streamed" where plan == "pro")',
        ):
            assert _size(stub, "streamed", definition) == _size(stub, "alone", definition)


def test_a_bad_request_mid_stream_stores_the_requests_before_it(server: ServerProcess) -> None:
    with grpc.insecure_channel(server.address) as channel:
        grpc.channel_ready_future(channel).result(timeout=30)
        stub = pb_grpc.CohortdStub(channel)
        alone = stub.IngestStream(iter(_requests("cut-alone", 6)[:5]), timeout=60).accepted
        good = _requests("cut", 6)[:5]
        bad = pb.IngestRequest(project="cut", arrow_ipc=b"not arrow")
        with pytest.raises(grpc.RpcError) as err:
            stub.IngestStream(iter([*good, bad]), timeout=60)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert f"({alone} rows of earlier requests in this stream were stored" in err.value.details()
        for definition in ('did("Streamed") >= 1', 'did("Streamed") >= 2'):
            assert _size(stub, "cut", definition) == _size(stub, "cut-alone", definition) > 0
