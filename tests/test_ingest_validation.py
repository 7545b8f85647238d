"""Ingestion: every bad-input rule with its reason, every file format, every time representation.

Bad rows are rejected with (row, field, reason) and the good rows of the same
batch are kept; a file that is not what its extension says raises
``IngestError`` and writes nothing (no events, no log records, no files).
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest
from cohortd import Engine
from cohortd.errors import IngestError

NOW_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z
DAY_MS = 86_400_000
Y2K_MS = 946_684_800_000  # 2000-01-01T00:00:00Z
T = 1_609_459_200_000  # 2021-01-01T00:00:00Z

MISSING_USER = "missing user id"
MISSING_TYPE = "missing event type"
UNPARSEABLE = "unparseable time (expected ISO-8601, epoch milliseconds or a timestamp)"
OUT_OF_RANGE = "time out of range (before 2000-01-01 or more than a day in the future)"


def conflict(prop: str, want: str, got: str) -> str:
    return f"property {prop!r} is {want} in the schema, got {got}"


@pytest.fixture
def eng(tmp_path: Path):
    e = Engine.open(tmp_path / "data", clock=lambda: NOW_MS)
    yield e
    e.close()


def ev(user: Any = "u1", etype: Any = "open", time: Any = T, **props: Any) -> dict[str, Any]:
    return {"user_id": user, "event_type": etype, "time": time, **props}


def rejections(report) -> list[tuple[int, str, str]]:
    return [(r.row, r.field, r.reason) for r in report.rejected]


def rows(e: Engine) -> list[dict[str, Any]]:
    """Stored events without null properties, sorted."""
    out = [{k: v for k, v in r.items() if v is not None} for r in e.events().to_pylist()]
    return sort_rows(out)


def sort_rows(rs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rs, key=lambda r: (r["user_id"], r["event_type"], r["time"], json.dumps(r, sort_keys=True)))


# ----------------------------------------------------------------------- bad rows
def test_missing_user_id_and_event_type(eng: Engine) -> None:
    report = eng.ingest(
        [
            ev(user=None),
            ev(user=""),
            ev(user="   "),
            ev(etype=None),
            ev(etype=""),
            ev(user="good", n=1),
            ev(user=None, etype=None),  # one rejection per row, the first rule that fails
            ev(user=7, etype="open", n=2),  # integer user ids are fine
        ]
    )
    assert rejections(report) == [
        (0, "user_id", MISSING_USER),
        (1, "user_id", MISSING_USER),
        (2, "user_id", MISSING_USER),
        (3, "event_type", MISSING_TYPE),
        (4, "event_type", MISSING_TYPE),
        (6, "user_id", MISSING_USER),
    ]
    assert report.accepted == 2
    assert rows(eng) == [
        {"user_id": "7", "event_type": "open", "time": T, "n": 2},
        {"user_id": "good", "event_type": "open", "time": T, "n": 1},
    ]


def test_missing_columns_reject_every_row(eng: Engine) -> None:
    report = eng.ingest(pa.table({"event_type": ["a", "b"], "time": [T, T]}))
    assert rejections(report) == [(0, "user_id", MISSING_USER), (1, "user_id", MISSING_USER)]
    report = eng.ingest(pa.table({"user_id": ["a"], "time": [T]}))
    assert rejections(report) == [(0, "event_type", MISSING_TYPE)]
    report = eng.ingest(pa.table({"user_id": ["a"], "event_type": ["x"]}))
    assert rejections(report) == [(0, "time", "missing time")]
    assert report.accepted == 0
    assert eng.events().num_rows == 0


def test_user_id_of_another_type_is_rejected(eng: Engine) -> None:
    report = eng.ingest([ev(user=1.5), ev(user=True), ev(user="ok"), ev(user=["a"])])
    assert rejections(report) == [
        (0, "user_id", "user_id must be a string or integer"),
        (1, "user_id", "user_id must be a string or integer"),
        (3, "user_id", "user_id must be a string or integer"),
    ]
    report = eng.ingest(pa.table({"user_id": [1.5], "event_type": ["a"], "time": [T]}))
    assert rejections(report) == [(0, "user_id", "user_id must be a string or integer")]
    assert [r["user_id"] for r in rows(eng)] == ["ok"]


def test_unparseable_times(eng: Engine) -> None:
    report = eng.ingest(
        [
            ev(time="yesterday"),
            ev(time=None),
            ev(time="2021-13-45T00:00:00Z"),
            ev(time=""),
            ev(time="2021-01-01T00:00:00Z", n=1),
            ev(time=[1, 2]),
        ]
    )
    assert rejections(report) == [
        (0, "time", UNPARSEABLE),
        (1, "time", UNPARSEABLE),
        (2, "time", UNPARSEABLE),
        (3, "time", UNPARSEABLE),
        (5, "time", UNPARSEABLE),
    ]
    assert rows(eng) == [{"user_id": "u1", "event_type": "open", "time": T, "n": 1}]


def test_absurd_times_relative_to_the_injected_clock(tmp_path: Path) -> None:
    eng = Engine.open(tmp_path, clock=lambda: NOW_MS)
    report = eng.ingest(
        [
            ev(time=Y2K_MS - 1),
            ev(time=Y2K_MS, n=1),
            ev(time="1999-12-31T23:59:59.999Z"),
            ev(time=NOW_MS + DAY_MS, n=2),
            ev(time=NOW_MS + DAY_MS + 1),
            ev(time="2030-01-01T00:00:00Z"),
            ev(time=0),
            ev(time=-5),
        ]
    )
    assert rejections(report) == [
        (0, "time", OUT_OF_RANGE),
        (2, "time", OUT_OF_RANGE),
        (4, "time", OUT_OF_RANGE),
        (5, "time", OUT_OF_RANGE),
        (6, "time", OUT_OF_RANGE),
        (7, "time", OUT_OF_RANGE),
    ]
    assert sorted(r["time"] for r in rows(eng)) == [Y2K_MS, NOW_MS + DAY_MS]
    eng.close()
    # the bound follows the clock: the same 2030 event is fine once the clock says 2030
    later = 1_893_456_000_000  # 2030-01-01T00:00:00Z
    eng = Engine.open(tmp_path, clock=lambda: later)
    report = eng.ingest([ev(time="2030-01-01T00:00:00Z"), ev(time=later + DAY_MS + 1)])
    assert rejections(report) == [(1, "time", OUT_OF_RANGE)]
    assert report.accepted == 1
    eng.close()


def test_property_type_conflicts_within_and_across_batches(tmp_path: Path) -> None:
    eng = Engine.open(tmp_path, clock=lambda: NOW_MS)
    report = eng.ingest([ev(n=1), ev(n="x"), ev(n=2.5), ev(n=None), ev(n=3, flag=True), ev(flag=1)])
    assert rejections(report) == [
        (1, "n", conflict("n", "int", "string")),
        (2, "n", conflict("n", "int", "float")),
        (5, "flag", conflict("flag", "bool", "int")),
    ]
    assert report.accepted == 3
    # across batches: the schema is what earlier batches established
    report = eng.ingest([ev(n="y"), ev(n=4), ev(flag="yes")])
    assert rejections(report) == [
        (0, "n", conflict("n", "int", "string")),
        (2, "flag", conflict("flag", "bool", "string")),
    ]
    # an Arrow column of the wrong type is rejected row by row too (nulls are no conflict)
    report = eng.ingest(
        pa.table({"user_id": ["a", "b"], "event_type": ["e", "e"], "time": [T, T], "n": ["1", None]})
    )
    assert rejections(report) == [(0, "n", conflict("n", "int", "string"))]
    assert report.accepted == 1
    # ints widen into a float property; floats do not narrow into an int one
    eng.ingest([ev(price=1.5)])
    report = eng.ingest([ev(price=2)])
    assert report.rejected == [] and report.accepted == 1
    # the schema survives reopening, from the log and from a checkpoint
    eng.close()
    eng = Engine.open(tmp_path, clock=lambda: NOW_MS)
    assert rejections(eng.ingest([ev(n="z")])) == [(0, "n", conflict("n", "int", "string"))]
    eng.seal()
    eng.close()
    eng = Engine.open(tmp_path, clock=lambda: NOW_MS)
    assert rejections(eng.ingest([ev(flag=0.5)])) == [(0, "flag", conflict("flag", "bool", "float"))]
    stored = [(r.get("n"), r.get("flag"), r.get("price")) for r in rows(eng)]
    assert sorted(stored, key=repr) == sorted(
        [
            (1, None, None),
            (None, None, None),
            (3, True, None),
            (4, None, None),
            (None, None, None),
            (None, None, 1.5),
            (None, None, 2.0),
        ],
        key=repr,
    )
    eng.close()


def test_user_property_type_conflicts(eng: Engine) -> None:
    report = eng.ingest([ev(user_properties={"plan": "free"}), ev(user_properties={"plan": 3})])
    assert rejections(report) == [(1, "plan", conflict("plan", "string", "int"))]
    report = eng.upsert_user_properties([{"user_id": "u2", "plan": 4}, {"user_id": "u3", "plan": "paid"}])
    assert rejections(report) == [(0, "plan", conflict("plan", "string", "int"))]
    assert eng.user_properties() == {"u1": {"plan": "free"}, "u3": {"plan": "paid"}}
    # event properties and user properties have separate schemas
    assert eng.ingest([ev(plan=5)]).rejected == []


def test_rejected_rows_leave_no_trace_in_the_schema(tmp_path: Path) -> None:
    eng = Engine.open(tmp_path, clock=lambda: NOW_MS)
    report = eng.ingest([ev(user=None, x=1), ev(time="bad", x=2)])
    assert report.accepted == 0
    # x was never stored, so a string x is the first word on its type, before and after reopening
    assert eng.ingest([ev(x="s")]).rejected == []
    eng.close()
    eng = Engine.open(tmp_path, clock=lambda: NOW_MS)
    assert rejections(eng.ingest([ev(x=3)])) == [(0, "x", conflict("x", "string", "int"))]
    eng.close()


def test_unsupported_property_values(eng: Engine) -> None:
    report = eng.ingest([ev(tags=["a", "b"]), ev(n=1)])
    assert rejections(report) == [(0, "tags", "property 'tags' has an unsupported value type")]
    report = eng.ingest(pa.table({"user_id": ["a"], "event_type": ["e"], "time": [T], "l": pa.array([[1]])}))
    assert rejections(report) == [(0, "l", "property 'l' has an unsupported type list<item: int64>")]
    assert rows(eng) == [{"user_id": "u1", "event_type": "open", "time": T, "n": 1}]


def test_all_bad_batch_writes_nothing(eng: Engine) -> None:
    wal = eng.path / "wal-00000000.log"
    size = wal.stat().st_size
    report = eng.ingest([ev(user=None), ev(time="never")])
    assert report.accepted == 0 and len(report.rejected) == 2
    assert wal.stat().st_size == size
    assert eng.events().num_rows == 0


def test_large_string_and_dictionary_columns_are_plain_strings(eng: Engine) -> None:
    table = pa.table(
        {
            "user_id": pa.array(["a", "b"], pa.large_string()),
            "event_type": pa.array(["x", "y"]).dictionary_encode(),
            "time": pa.array([T, T + 1]),
            "s": pa.array(["hello", None], pa.large_string()),
            "d": pa.array(["p", "q"]).dictionary_encode(),
        }
    )
    report = eng.ingest(table)
    assert report.rejected == [] and report.accepted == 2
    assert rows(eng) == [
        {"user_id": "a", "event_type": "x", "time": T, "s": "hello", "d": "p"},
        {"user_id": "b", "event_type": "y", "time": T + 1, "d": "q"},
    ]


# ----------------------------------------------------------------------- times
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2021-01-01T00:00:00Z", T),
        ("2021-01-01T00:00:00.123Z", T + 123),
        ("2021-01-01T00:00:00.5Z", T + 500),
        ("2021-01-01T02:00:00+02:00", T),
        ("2020-12-31T19:00:00.250-05:00", T + 250),
        ("2021-01-01T00:00:00", T),  # no zone: UTC
        ("2021-01-01 00:00:00.123456", T + 123),  # Amplitude's style
        ("2021-01-01T00:00:00.999999Z", T + 999),
        (T + 42, T + 42),
        (str(T + 42), T + 42),
        (dt.datetime(2021, 1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1))), T),
        (dt.datetime(2021, 1, 1, 0, 0, 0, 7000), T + 7),
    ],
)
def test_time_representations_in_rows(eng: Engine, value: Any, expected: int) -> None:
    report = eng.ingest([ev(time=value)])
    assert report.rejected == []
    assert eng.events().column("time").to_pylist() == [expected]


def test_mixed_time_representations_in_one_batch(eng: Engine) -> None:
    report = eng.ingest(
        [ev(time=T), ev(time="2021-01-01T00:00:00.001Z"), ev(time="2021-01-01T01:00:00.002+01:00")]
    )
    assert report.rejected == []
    assert sorted(eng.events().column("time").to_pylist()) == [T, T + 1, T + 2]


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
@pytest.mark.parametrize("tz", [None, "UTC", "Asia/Kolkata"])
def test_arrow_timestamps(eng: Engine, unit: str, tz: str | None) -> None:
    scale = {"s": 1 / 1000, "ms": 1, "us": 1000, "ns": 1_000_000}[unit]
    raw = [int(T * scale), int((T + 3000) * scale)]
    table = pa.table(
        {"user_id": ["a", "b"], "event_type": ["e", "e"], "time": pa.array(raw, pa.timestamp(unit, tz=tz))}
    )
    assert eng.ingest(table).rejected == []
    assert sorted(eng.events().column("time").to_pylist()) == [T, T + 3000]


def test_arrow_timestamp_nulls_and_sub_millisecond_precision(eng: Engine) -> None:
    table = pa.table(
        {
            "user_id": ["a", "b"],
            "event_type": ["e", "e"],
            "time": pa.array([T * 1000 + 999, None], pa.timestamp("us", tz="UTC")),
        }
    )
    report = eng.ingest(table)
    assert rejections(report) == [(1, "time", UNPARSEABLE)]
    assert eng.events().column("time").to_pylist() == [T]


# ----------------------------------------------------------------------- files
def _write_jsonl(path: Path, objs: list[Any], gz: bool = False, extra: str = "") -> Path:
    text = "".join(json.dumps(o) + "\n" for o in objs) + extra
    if gz:
        with gzip.open(path, "wt", encoding="utf-8") as fh:
            fh.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


EXPECTED_FLAT = [
    {"user_id": "a", "event_type": "open", "time": T, "plan": "free", "n": 1, "x": 0.5, "ok": True},
    {"user_id": "b", "event_type": "buy", "time": T + 1, "n": 2},
    {"user_id": "c", "event_type": "open", "time": T + 2, "plan": "paid", "x": 1.5, "ok": False},
]


def test_parquet_file(eng: Engine, tmp_path: Path) -> None:
    table = pa.table(
        {
            "user_id": ["a", "b", "c", None],
            "event_type": ["open", "buy", "open", "open"],
            "time": pa.array([T, T + 1, T + 2, T], pa.timestamp("ms", tz="UTC")),
            "plan": ["free", None, "paid", "x"],
            "n": pa.array([1, 2, None, 4], pa.int32()),
            "x": [0.5, None, 1.5, 0.0],
            "ok": [True, None, False, True],
        }
    )
    path = tmp_path / "events.parquet"
    pq.write_table(table, path, row_group_size=2)
    report = eng.ingest_file(path)
    assert report.accepted == 3
    assert rejections(report) == [(3, "user_id", MISSING_USER)]
    assert rows(eng) == sort_rows(EXPECTED_FLAT)
    assert eng.store.schema == {"plan": "string", "n": "int", "x": "float", "ok": "bool"}


@pytest.mark.parametrize("time_type", ["iso", "epoch", "naive_timestamp"])
def test_parquet_time_columns(eng: Engine, tmp_path: Path, time_type: str) -> None:
    times: pa.Array = {
        "iso": pa.array(["2021-01-01T00:00:00Z", "2021-01-01T01:00:00.001+01:00"]),
        "epoch": pa.array([T, T + 1], pa.int64()),
        "naive_timestamp": pa.array([T * 1000, (T + 1) * 1000], pa.timestamp("us")),
    }[time_type]
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"user_id": ["a", "b"], "event_type": ["e", "e"], "time": times}), path)
    assert eng.ingest_file(path).rejected == []
    assert sorted(eng.events().column("time").to_pylist()) == [T, T + 1]


def test_csv_file(eng: Engine, tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text(
        "user_id,event_type,time,plan,n,x,ok\n"
        "a,open,2021-01-01T00:00:00Z,free,1,0.5,true\n"
        "b,buy,1609459200001,,2,,\n"
        "c,open,2021-01-01T01:00:00.002+01:00,paid,,1.5,false\n"
        ",open,2021-01-01T00:00:00Z,x,4,0.0,true\n"
        "d,open,not a time,x,5,0.0,true\n"
    )
    report = eng.ingest_file(path)
    assert rejections(report) == [(3, "user_id", MISSING_USER), (4, "time", UNPARSEABLE)]
    assert report.accepted == 3
    assert rows(eng) == sort_rows(EXPECTED_FLAT)


def test_csv_quoted_empty_string_is_a_value(eng: Engine, tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_text('user_id,event_type,time,s\na,e,1609459200000,""\nb,e,1609459200000,\n')
    assert eng.ingest_file(path).accepted == 2
    assert {r["user_id"]: r["s"] for r in eng.events().to_pylist()} == {"a": "", "b": None}


def test_csv_user_ids_stay_strings(eng: Engine, tmp_path: Path) -> None:
    path = tmp_path / "ids.csv"
    path.write_text("user_id,event_type,time\n007,open,1609459200000\n7,open,1609459200000\n")
    eng.ingest_file(path)
    assert sorted(eng.events().column("user_id").to_pylist()) == ["007", "7"]


@pytest.mark.parametrize("name", ["events.jsonl", "events.ndjson", "events.jsonl.gz", "events.ndjson.gz"])
def test_flat_jsonl_files(eng: Engine, tmp_path: Path, name: str) -> None:
    objs = [
        {
            "user_id": "a",
            "event_type": "open",
            "time": "2021-01-01T00:00:00Z",
            "plan": "free",
            "n": 1,
            "x": 0.5,
            "ok": True,
        },
        {"user_id": "b", "event_type": "buy", "time": T + 1, "n": 2},
        {
            "user_id": "c",
            "event_type": "open",
            "time": "2021-01-01T00:00:00.002Z",
            "plan": "paid",
            "x": 1.5,
            "ok": False,
        },
        {"user_id": "d", "event_type": "open", "time": T, "n": "four"},  # conflicts with n: int
        {"event_type": "open", "time": T},  # no user
    ]
    path = _write_jsonl(tmp_path / name, objs, gz=name.endswith(".gz"), extra="\n{not json\n")
    report = eng.ingest_file(path)
    assert report.accepted == 3
    assert [(r.row, r.field) for r in report.rejected] == [(3, "n"), (4, "user_id"), (5, "line")]
    assert report.rejected[0].reason == conflict("n", "int", "string")
    assert report.rejected[1].reason == MISSING_USER
    assert report.rejected[2].reason.startswith("not valid JSON")
    assert rows(eng) == sort_rows(EXPECTED_FLAT)


def test_jsonl_type_conflict_across_chunks_of_one_file(eng: Engine, tmp_path: Path) -> None:
    from cohortd.storage import readers

    objs = [ev(time=T + i, n=i) for i in range(5)] + [ev(time=T + 5, n="five")] + [ev(time=T + 6, n=6)]
    path = _write_jsonl(tmp_path / "chunks.jsonl", objs)
    chunks = list(readers.read_events(path, chunk_rows=2))
    assert len(chunks) == 4  # the string sits alone-ish in a later chunk, typed string there
    report = eng.ingest_file(path)
    assert rejections(report) == [(5, "n", conflict("n", "int", "string"))]
    assert sorted(r["n"] for r in rows(eng)) == [0, 1, 2, 3, 4, 6]


def test_amplitude_export_shape(eng: Engine, tmp_path: Path) -> None:
    objs = [
        {
            "user_id": "amp1",
            "event_type": "Song Played",
            "event_time": "2021-01-01 00:00:00.123456",
            "event_properties": {"genre": "jazz", "length": 180},
            "user_properties": {"plan": "premium", "age": 31},
            "device_id": "ignored-top-level",
        },
        {
            "user_id": "amp1",
            "event_type": "Song Played",
            "event_time": "2021-01-01 00:00:01.000000",
            "event_properties": {"genre": "rock"},
            "user_properties": {"plan": "free"},
        },
        {
            "user_id": None,
            "event_type": "Song Played",
            "event_time": "2021-01-01 00:00:00",
            "event_properties": {},
        },
    ]
    report = eng.ingest_file(_write_jsonl(tmp_path / "amp.jsonl.gz", objs, gz=True))
    assert report.accepted == 2
    assert rejections(report) == [(2, "user_id", MISSING_USER)]
    assert rows(eng) == [
        {"user_id": "amp1", "event_type": "Song Played", "time": T + 123, "genre": "jazz", "length": 180},
        {"user_id": "amp1", "event_type": "Song Played", "time": T + 1000, "genre": "rock"},
    ]
    # the later event's user properties win
    assert eng.user_properties() == {"amp1": {"plan": "free", "age": 31}}


def test_segment_spec_track_and_identify(eng: Engine, tmp_path: Path) -> None:
    objs = [
        {
            "type": "identify",
            "userId": "s1",
            "timestamp": "2021-01-01T00:00:05.000Z",
            "traits": {"plan": "trial", "seats": 3},
        },
        {
            "type": "track",
            "userId": "s1",
            "event": "Order Completed",
            "timestamp": "2021-01-01T00:00:00.000Z",
            "properties": {"revenue": 12.5, "currency": "EUR"},
        },
        {
            "type": "track",
            "userId": "s2",
            "event": "Signed Up",
            "timestamp": "2021-01-01T00:00:00.001Z",
            "properties": {},
        },
        {
            "type": "identify",
            "userId": "s1",
            "timestamp": "2021-01-01T00:00:01.000Z",
            "traits": {"plan": "old"},
        },
        {"type": "track", "event": "Anonymous", "anonymousId": "x", "timestamp": "2021-01-01T00:00:00Z"},
    ]
    report = eng.ingest_file(_write_jsonl(tmp_path / "seg.jsonl", objs))
    # issue #16: a row with only an anonymousId is the anonymous user's (docs/identity.md)
    assert report.accepted == 5
    assert rejections(report) == []
    # identify calls are user properties, not events
    assert rows(eng) == [
        {"user_id": "$anon:x", "event_type": "Anonymous", "time": T},
        {"user_id": "s1", "event_type": "Order Completed", "time": T, "revenue": 12.5, "currency": "EUR"},
        {"user_id": "s2", "event_type": "Signed Up", "time": T + 1},
    ]
    # the identify at :05 is later than the one at :01 even though it came first
    assert eng.user_properties() == {"s1": {"plan": "trial", "seats": 3}}


def test_shapes_are_detected_per_line(eng: Engine, tmp_path: Path) -> None:
    objs = [
        {"user_id": "f", "event_type": "flat", "time": T},
        {
            "user_id": "a",
            "event_type": "amp",
            "event_time": "2021-01-01 00:00:00",
            "event_properties": {"k": 1},
        },
        {
            "type": "track",
            "userId": "s",
            "event": "seg",
            "timestamp": "2021-01-01T00:00:00Z",
            "properties": {"k": 2},
        },
    ]
    assert eng.ingest_file(_write_jsonl(tmp_path / "mixed.jsonl", objs)).accepted == 3
    assert rows(eng) == [
        {"user_id": "a", "event_type": "amp", "time": T, "k": 1},
        {"user_id": "f", "event_type": "flat", "time": T},
        {"user_id": "s", "event_type": "seg", "time": T, "k": 2},
    ]


def test_user_property_files(eng: Engine, tmp_path: Path) -> None:
    csv = tmp_path / "users.csv"
    csv.write_text("user_id,plan,seats\nu1,free,1\nu2,paid,\n,paid,3\n")
    report = eng.ingest_file(csv, users=True)
    assert report.accepted == 2 and rejections(report) == [(2, "user_id", MISSING_USER)]
    pq.write_table(
        pa.table({"user_id": ["u1"], "plan": ["paid"], "time": pa.array([NOW_MS], pa.int64())}),
        tmp_path / "users.parquet",
    )
    eng.ingest_file(tmp_path / "users.parquet", users=True)
    assert eng.user_properties() == {"u1": {"plan": "paid", "seats": 1}, "u2": {"plan": "paid"}}
    assert eng.events().num_rows == 0


def test_progress_callback_reports_rows(eng: Engine, tmp_path: Path) -> None:
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"user_id": ["a"] * 10, "event_type": ["e"] * 10, "time": [T] * 10}), path)
    seen: list[tuple[int, int]] = []
    eng.ingest_file(path, progress=lambda r, b: seen.append((r, b)))
    assert seen and seen[-1][0] == 10


# --------------------------------------------------------- not what the extension says
def _snapshot(e: Engine) -> tuple:
    files = sorted(
        (p.relative_to(e.path).as_posix(), p.stat().st_size) for p in e.path.rglob("*") if p.is_file()
    )
    return files, e.events().to_pylist(), e.user_properties()


def _bad_files(tmp_path: Path) -> dict[str, bytes]:
    good_csv = b"user_id,event_type,time\nu,e,1609459200000\n"
    pq.write_table(pa.table({"user_id": ["u"], "event_type": ["e"], "time": [T]}), tmp_path / "real.parquet")
    parquet_bytes = (tmp_path / "real.parquet").read_bytes()
    sink = pa.BufferOutputStream()
    pcsv.write_csv(pa.table({"foo": [1], "bar": [2]}), sink)
    return {
        "csv_named.parquet": good_csv,
        "empty.parquet": b"",
        "parquet_named.csv": parquet_bytes,
        "parquet_named.jsonl": parquet_bytes,
        "binary.jsonl": bytes(range(256)) * 8,
        "binary.csv": bytes(range(256)) * 8,
        "latin1.csv": "user_id,event_type,time\nJosé,e,1609459200000\n".encode("latin-1"),
        "no_columns.csv": sink.getvalue().to_pybytes(),
        "only_user_id.csv": b"user_id\nu\n",
        "array.jsonl": b"[1, 2, 3]\n",
        "text.jsonl": b"hello world\n",
        "plain.jsonl.gz": b'{"user_id": "u", "event_type": "e", "time": 1609459200000}\n',
        "truncated.jsonl.gz": gzip.compress(b'{"user_id": "u"}\n' * 100)[:20],
        "events.txt": good_csv,
    }


def test_files_that_are_not_what_their_extension_says_write_nothing(eng: Engine, tmp_path: Path) -> None:
    eng.ingest([ev(n=1)])  # something already stored, and a log that must not grow
    files = tmp_path / "inputs"
    files.mkdir()
    for name, data in _bad_files(files).items():
        path = files / name
        path.write_bytes(data)
        before = _snapshot(eng)
        with pytest.raises(IngestError) as info:
            eng.ingest_file(path)
        assert str(path) in str(info.value), name
        assert _snapshot(eng) == before, name


def test_parquet_without_required_columns_and_missing_file(eng: Engine, tmp_path: Path) -> None:
    path = tmp_path / "nouser.parquet"
    pq.write_table(pa.table({"event_type": ["e"], "time": [T]}), path)
    with pytest.raises(IngestError, match="user_id"):
        eng.ingest_file(path)
    with pytest.raises(IngestError, match="no such file"):
        eng.ingest_file(tmp_path / "absent.parquet")
    # a user-property file needs only user_id
    pq.write_table(pa.table({"plan": ["x"]}), tmp_path / "noid.parquet")
    with pytest.raises(IngestError, match="user_id"):
        eng.ingest_file(tmp_path / "noid.parquet", users=True)
    assert eng.events().num_rows == 0 and eng.user_properties() == {}


def test_nested_properties_named_like_row_fields_do_not_overwrite_them() -> None:
    from cohortd.storage.readers import json_line_to_row

    amplitude = json_line_to_row(
        '{"user_id": "u1", "event_type": "A", "event_time": "2026-01-01 00:00:00",'
        ' "event_properties": {"time": 5, "user_id": "x", "plan": "free"}}'
    )
    assert amplitude["user_id"] == "u1" and amplitude["time"] == "2026-01-01 00:00:00"
    assert (
        amplitude["property_time"] == 5
        and amplitude["property_user_id"] == "x"
        and amplitude["plan"] == "free"
    )
    segment = json_line_to_row(
        '{"type": "track", "userId": "u2", "event": "B", "timestamp": "2026-01-01T00:00:00Z",'
        ' "properties": {"event_type": "C"}}'
    )
    assert segment["event_type"] == "B" and segment["property_event_type"] == "C"


def test_a_literal_of_the_wrong_type_is_rejected_with_line_and_column(tmp_path: Path) -> None:
    from cohortd.errors import ParseError

    eng = Engine.open(tmp_path, clock=lambda: NOW_MS)
    eng.ingest([{"user_id": "u", "event_type": "E", "time": NOW_MS - 1, "area": "x", "n": 3}])
    eng.upsert_user_properties([{"user_id": "u", "plan": "free"}])
    # each case: the definition, the text the error must point at, what was expected there
    cases = [
        ('did("E" where area == 3)', "3", "a string value"),
        ('did(any)\n  and user.plan in (1, "a")', "1,", "a string value"),
        ('did(any) and sum(area, "E") > 1', "area", "a numeric property"),
        ('did("E" where n contains "1")', '"1"', "a string property"),
    ]
    for text, marker, expected in cases:
        before = text[: text.index(marker)]
        line, column = before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1
        with pytest.raises(ParseError) as err:
            eng.evaluate(text)
        assert (err.value.line, err.value.column, err.value.expected) == (line, column, expected), text
    assert eng.evaluate('did("E" where area == "x" and n == 3)').size == 1
    eng.close()
