"""Storage round trip: what goes in comes back out, across seal, merge, compaction and reopen.

The oracle is a plain-Python model: a multiset of events (typed properties,
nulls dropped) and, for user properties, the value with the latest time per
(user, property), ties going to the later write.  Segment invariants (sort
order by (type, user, time), type → row range, type → users bitmap, min/max
time) are checked against the rows themselves, for in-memory and reopened
segments alike.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pyarrow as pa
import pytest
from cohortd import Engine
from cohortd.storage import store as store_mod
from cohortd.storage.segment import Segment
from cohortd.storage.store import PARTITION_MS
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from support.segments import check_segment, event_key, stored_events, typed_value

NOW_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z, the injected clock
T0 = 1_600_000_000_000


def clock() -> int:
    return NOW_MS


# --------------------------------------------------------------------------- helpers
def model_events(rows: list[dict[str, Any]]) -> Counter:
    out = []
    for r in rows:
        flat = {k: v for k, v in r.items() if k != "user_properties"}
        out.append(event_key(flat))
    return Counter(out)


def typed_user_props(props: dict[str, dict[str, Any]]) -> dict[str, dict[str, tuple[str, Any]]]:
    return {u: {k: typed_value(v) for k, v in p.items()} for u, p in props.items() if p}


def check_store_segments(eng: Engine) -> None:
    for seg in list(eng.store.sealed) + list(eng.store.tail):
        check_segment(seg)
    # every sealed segment is on disk (data + index), and nothing else is
    names = {s.name for s in eng.store.sealed}
    on_disk = {p.name for p in (eng.path / "segments").iterdir()}
    assert on_disk == {f"{n}.arrow" for n in names} | {f"{n}.index.arrow" for n in names}


# --------------------------------------------------------------------------- examples
def _sample_rows() -> list[dict[str, Any]]:
    return [
        {"user_id": "alice", "event_type": "Signup", "time": T0, "plan": "free", "n": 1},
        {"user_id": "bob", "event_type": "Signup", "time": T0 + 5, "plan": None, "n": -(2**62)},
        {"user_id": 42, "event_type": "Purchase", "time": T0 + 7, "revenue": 9.99, "paid": True},
        {"user_id": "alice", "event_type": "Purchase", "time": T0 + 9, "revenue": 0.0, "paid": False},
        {
            "user_id": "alice",
            "event_type": "Purchase",
            "time": T0 + 9,
            "revenue": 0.0,
            "paid": False,
        },  # duplicate
        {
            "user_id": "carol",
            "event_type": "Ünïcode ✓",
            "time": T0 + 11,
            "plan": "",
            "user_properties": {"tier": "gold"},
        },
    ]


def test_reopen_returns_exactly_the_stored_events_and_user_properties(tmp_path: Path) -> None:
    rows = _sample_rows()
    eng = Engine.open(tmp_path, clock=clock)
    assert eng.ingest(rows).accepted == len(rows)
    eng.seal()
    later = [{"user_id": "bob", "event_type": "Login", "time": T0 + 20, "device": "ios", "n": 3}]
    eng.ingest(later)  # stays in the log / tail
    eng.upsert_user_properties([{"user_id": "alice", "country": "FR", "score": 7, "ratio": 0.5, "vip": True}])
    before_events = stored_events(eng)
    before_props = typed_user_props(eng.user_properties())
    assert before_events == model_events(rows + later)
    eng.close()

    eng = Engine.open(tmp_path, clock=clock)
    assert stored_events(eng) == before_events
    assert typed_user_props(eng.user_properties()) == before_props
    assert before_props == {
        "alice": {
            "country": ("str", "FR"),
            "score": ("int", 7),
            "ratio": ("float", 0.5),
            "vip": ("bool", True),
        },
        "carol": {"tier": ("str", "gold")},
    }
    # the columns keep their types and nulls through the round trip
    table = eng.events()
    assert table.schema.field("n").type == pa.int64()
    assert table.schema.field("revenue").type == pa.float64()
    assert table.schema.field("paid").type == pa.bool_()
    assert table.schema.field("time").type == pa.int64()
    bob_signup = [r for r in table.to_pylist() if r["user_id"] == "bob" and r["event_type"] == "Signup"]
    assert bob_signup == [
        {
            "user_id": "bob",
            "event_type": "Signup",
            "time": T0 + 5,
            "plan": None,
            "n": -(2**62),
            "revenue": None,
            "paid": None,
            "device": None,
        }
    ]
    check_store_segments(eng)
    # reopening twice without writing changes nothing either
    eng.close()
    eng = Engine.open(tmp_path, clock=clock)
    assert stored_events(eng) == before_events
    eng.compact()
    eng.close()
    eng = Engine.open(tmp_path, clock=clock)
    assert stored_events(eng) == before_events
    assert typed_user_props(eng.user_properties()) == before_props
    assert len(eng.store.sealed) == 1 and not eng.store.tail
    check_store_segments(eng)
    eng.close()


def test_reopen_after_close_without_any_seal(tmp_path: Path) -> None:
    eng = Engine.open(tmp_path, clock=clock)
    rows = _sample_rows()
    eng.ingest(rows)
    eng.close()
    eng = Engine.open(tmp_path, clock=clock)
    assert stored_events(eng) == model_events(rows)
    assert typed_user_props(eng.user_properties()) == {"carol": {"tier": ("str", "gold")}}
    eng.close()


def test_empty_store_reopens_empty(tmp_path: Path) -> None:
    eng = Engine.open(tmp_path, clock=clock)
    eng.seal()
    eng.compact()
    eng.close()
    eng = Engine.open(tmp_path, clock=clock)
    assert eng.events().num_rows == 0
    assert eng.user_properties() == {}
    eng.close()


def test_segment_index_of_a_large_sealed_segment(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    n = 20_000
    table = pa.table(
        {
            "user_id": pa.array([f"u{i}" for i in rng.integers(0, 500, n)]),
            "event_type": pa.array([f"t{i}" for i in rng.integers(0, 12, n)]),
            "time": pa.array(T0 + rng.integers(0, 10**9, n), pa.int64()),
            "x": pa.array(rng.normal(size=n)),
        }
    )
    eng = Engine.open(tmp_path, clock=clock)
    assert eng.ingest(table).accepted == n
    eng.seal()
    check_store_segments(eng)
    eng.close()
    eng = Engine.open(tmp_path, clock=clock)
    # 10^9 ms of events: one segment per week-long time partition, none spanning two
    partitions = [seg.partition(PARTITION_MS) for seg in eng.store.sealed]
    assert len(partitions) == len(set(partitions)) >= 2
    for seg in eng.store.sealed:
        check_segment(seg)
        assert seg.max_time // PARTITION_MS == seg.partition(PARTITION_MS)
    assert stored_events(eng) == model_events(table.to_pylist())
    eng.close()


def test_segment_count_stays_bounded_under_many_small_seals(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("os.fsync", lambda fd: None)  # not a durability test; fsync only costs time here
    eng = Engine.open(tmp_path, clock=clock)
    total = 0
    rng = np.random.default_rng(1)
    for i in range(150):
        k = int(rng.integers(1, 8))
        eng.ingest(
            [
                {"user_id": f"u{j % 5}", "event_type": f"e{j % 3}", "time": T0 + i * 10 + j, "i": i}
                for j in range(k)
            ]
        )
        total += k
        eng.seal()
        # size tiers of base MERGE_FANIN, fewer than MERGE_FANIN segments in each tier
        tiers = int(math.log(max(total, 1), store_mod.MERGE_FANIN)) + 2
        assert len(eng.store.sealed) <= (store_mod.MERGE_FANIN - 1) * tiers
    assert len(eng.store.sealed) < 20
    assert sum(s.num_rows for s in eng.store.sealed) == total
    assert eng.events().num_rows == total
    eng.close()
    eng = Engine.open(tmp_path, clock=clock)
    assert eng.events().num_rows == total
    check_store_segments(eng)
    eng.close()


def test_tail_is_sealed_automatically_after_many_batches(tmp_path: Path) -> None:
    eng = Engine.open(tmp_path, clock=clock)
    for i in range(store_mod.SEAL_BATCHES + 3):
        eng.ingest([{"user_id": "u", "event_type": "e", "time": T0 + i}])
    assert eng.store.sealed
    assert len(eng.store.tail) <= 3  # in-memory segments merge as they come
    assert eng.events().num_rows == store_mod.SEAL_BATCHES + 3
    eng.close()


# --------------------------------------------------------------------------- property test
USERS = ["u0", "u1", "u2", "ü3", "u 4", 7, 8]
TYPES = ["Signup", "Login", "Feature Used", "Purchase", "évènement"]
# property name -> kind (fixed, so generated rows never conflict with the schema)
EVENT_PROPS = {"s": "string", "area": "string", "i": "int", "f": "float", "b": "bool"}
USER_PROPS = {"plan": "string", "score": "int", "ratio": "float", "vip": "bool"}

_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=6)
_VALUES = {
    "string": st.one_of(st.sampled_from(["a", "b", "", "x y"]), _text),
    "int": st.integers(-(2**63), 2**63 - 1),
    "float": st.floats(allow_nan=False, allow_infinity=False),
    "bool": st.booleans(),
}
_times = st.integers(T0, T0 + 50)  # a narrow range so ties in user-property times happen


@st.composite
def prop_values(draw: st.DrawFn, kinds: dict[str, str], names: list[str]) -> dict[str, Any]:
    chosen = draw(st.lists(st.sampled_from(names), unique=True, max_size=len(names))) if names else []
    return {n: draw(st.one_of(st.none(), _VALUES[kinds[n]])) for n in chosen}


@st.composite
def event_rows(draw: st.DrawFn, prop_names: list[str]) -> dict[str, Any]:
    row = {
        "user_id": draw(st.sampled_from(USERS)),
        "event_type": draw(st.sampled_from(TYPES)),
        "time": draw(_times),
    }
    row.update(draw(prop_values(EVENT_PROPS, prop_names)))
    if draw(st.integers(0, 3)) == 0:
        up = draw(prop_values(USER_PROPS, list(USER_PROPS)))
        if up:
            row["user_properties"] = up
    return row


class StoreMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        import tempfile

        self._tmp = tempfile.TemporaryDirectory()
        # Durability is the crash test's business; here fsync only costs time (and shrinking).
        self._no_fsync = mock.patch("os.fsync", lambda fd: None)
        self._no_fsync.start()
        self.dir = Path(self._tmp.name)
        self.eng = Engine.open(self.dir, clock=clock)
        self.events: list[dict[str, Any]] = []
        # (user, prop) -> (time, seq, value); latest time wins, ties go to the later write
        self.uprops: dict[tuple[str, str], tuple[int, int, Any]] = {}
        self.seq = 0
        # properties "appear over time": each rule may unlock one more
        self.unlocked_event_props: list[str] = []

    def _set_uprop(self, user: Any, name: str, t: int, value: Any) -> None:
        self.seq += 1
        key = (str(user), name)
        old = self.uprops.get(key)
        if old is None or t >= old[0]:
            self.uprops[key] = (t, self.seq, value)

    @rule(data=st.data(), unlock=st.sampled_from([None, *EVENT_PROPS]))
    def ingest(self, data: st.DataObject, unlock: str | None) -> None:
        if unlock is not None and unlock not in self.unlocked_event_props:
            self.unlocked_event_props.append(unlock)
        rows = data.draw(st.lists(event_rows(list(self.unlocked_event_props)), min_size=1, max_size=12))
        as_arrow = data.draw(st.booleans())
        payload: Any = rows
        if as_arrow and not any("user_properties" in r for r in rows):
            cols: dict[str, list[Any]] = {}
            for name in dict.fromkeys(k for r in rows for k in r):
                cols[name] = [r.get(name) for r in rows]
            types = {
                n: {"string": pa.string(), "int": pa.int64(), "float": pa.float64(), "bool": pa.bool_()}[k]
                for n, k in EVENT_PROPS.items()
            }
            payload = pa.table(
                {
                    n: pa.array(
                        [None if v is None else (str(v) if n == "user_id" else v) for v in vs],
                        types.get(n, pa.string() if n in ("user_id", "event_type") else pa.int64()),
                    )
                    for n, vs in cols.items()
                }
            )
        rep = self.eng.ingest(payload)
        assert rep.rejected == []
        assert rep.accepted == len(rows)
        for r in rows:
            self.events.append(r)
            for name, v in (r.get("user_properties") or {}).items():
                if v is not None:
                    self._set_uprop(r["user_id"], name, r["time"], v)

    @rule(data=st.data())
    def upsert_user_properties(self, data: st.DataObject) -> None:
        rows = []
        for _ in range(data.draw(st.integers(1, 4))):
            props = data.draw(prop_values(USER_PROPS, list(USER_PROPS)))
            row = {"user_id": data.draw(st.sampled_from(USERS)), **props}
            if data.draw(st.booleans()):
                row["time"] = data.draw(_times)
            rows.append(row)
        rep = self.eng.upsert_user_properties(rows)
        assert rep.rejected == [] and rep.accepted == len(rows)
        for r in rows:
            for name, v in r.items():
                if name not in ("user_id", "time") and v is not None:
                    self._set_uprop(r["user_id"], name, r.get("time", NOW_MS), v)

    @rule()
    def seal(self) -> None:
        self.eng.seal()

    @rule()
    def compact(self) -> None:
        self.eng.compact()
        assert len(self.eng.store.sealed) <= 1 and not self.eng.store.tail

    @precondition(lambda self: len(self.eng.store.sealed) >= 2)
    @rule(data=st.data())
    def merge(self, data: st.DataObject) -> None:
        group = data.draw(
            st.lists(st.sampled_from(self.eng.store.sealed), min_size=2, unique_by=lambda s: s.name)
        )
        self.eng.store.merge(group)

    @rule()
    def reopen(self) -> None:
        self.eng.close()
        self.eng = Engine.open(self.dir, clock=clock)
        check_store_segments(self.eng)

    @invariant()
    def contents_match_the_model(self) -> None:
        assert stored_events(self.eng) == model_events(self.events)
        want: dict[str, dict[str, tuple[str, Any]]] = {}
        for (user, name), (_, _, v) in self.uprops.items():
            want.setdefault(user, {})[name] = typed_value(v)
        assert typed_user_props(self.eng.user_properties()) == want

    @invariant()
    def segments_are_sorted_and_indexed(self) -> None:
        for seg in list(self.eng.store.sealed) + list(self.eng.store.tail):
            check_segment(seg)

    def teardown(self) -> None:
        self.eng.close()
        self._tmp.cleanup()
        self._no_fsync.stop()


StoreMachine.TestCase.settings = settings(
    max_examples=100,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
test_store_state_machine = StoreMachine.TestCase


@pytest.mark.parametrize("fanin", [2, 3])
def test_merge_of_arbitrary_groups_keeps_every_event(tmp_path: Path, fanin: int) -> None:
    eng = Engine.open(tmp_path, clock=clock)
    rows = []
    for i in range(9):
        batch = [
            {
                "user_id": f"u{(i * 7 + j) % 4}",
                "event_type": TYPES[j % len(TYPES)],
                "time": T0 + j,
                "i": i * 100 + j,
                "s": f"v{j % 3}",
            }
            for j in range(i + 1)
        ]
        rows += batch
        eng.ingest(batch)
        eng.seal()
    while len(eng.store.sealed) >= fanin:
        eng.store.merge(list(eng.store.sealed[-fanin:]))
        check_store_segments(eng)
        assert stored_events(eng) == model_events(rows)
    eng.close()
    eng = Engine.open(tmp_path, clock=clock)
    assert stored_events(eng) == model_events(rows)
    eng.close()


@pytest.mark.parametrize("wide", [False, True])
def test_segment_build_and_merge_sort_by_type_user_time(wide: bool) -> None:
    """Both sort paths: packed 64-bit keys, and the three-key fallback for ids/times too wide to pack."""
    rng = np.random.default_rng(3)
    n = 5_000
    hi_user = 2**32 - 1 if wide else 1000
    span = 2**40 if wide else 10**6
    tables = []
    for _ in range(3):
        tables.append(
            pa.table(
                {
                    "user": pa.array(rng.integers(0, hi_user, n, endpoint=True), pa.uint32()),
                    "type": pa.array(rng.integers(0, 40, n), pa.uint32()),
                    "time": pa.array(T0 + rng.integers(0, span, n), pa.int64()),
                    "p:x": pa.array(rng.integers(0, 10, n), pa.int64()),
                }
            )
        )
    parts = [Segment.build(f"s{i}", t) for i, t in enumerate(tables)]
    for seg in parts:
        check_segment(seg)
    merged = Segment.merge("m", parts)
    check_segment(merged)

    def row_multiset(tabs: list[pa.Table]) -> Counter:
        return Counter(
            r for t in tabs for r in zip(*(t.column(c).to_pylist() for c in t.column_names), strict=True)
        )

    assert row_multiset([merged.table]) == row_multiset(tables)
    assert Segment.build("again", merged.table).table.equals(merged.table)  # sorted input stays as is
