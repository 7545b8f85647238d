"""The parts of the bulk-ingest pipeline against plain references.

- ``StringDictionary.encode_unique`` / ``encode_array`` (one C-level lookup pass, new
  values appended in order) against a plain dict assigning ids by first appearance.
- ``read_ahead`` yields every item in order, raises a producer's error where its item
  would have come, and a consumer that stops early stops the producer.
- ``EventStore.prepare`` validates outside the lock: a batch prepared before another
  batch changed the schema is validated again when stored (its conflicting rows are
  rejected, as if it had been ingested after).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
from cohortd.storage.dictionary import StringDictionary
from cohortd.storage.readahead import read_ahead
from cohortd.storage.store import EventStore
from hypothesis import given, settings
from hypothesis import strategies as st

NOW_MS = 1_704_067_200_000
words = st.text(alphabet="abcé\u00a0 ", min_size=0, max_size=3)


@settings(max_examples=120, deadline=None)
@given(
    seed=st.lists(words, max_size=5, unique=True), batches=st.lists(st.lists(words, max_size=12), max_size=6)
)
def test_dictionary_encoding_matches_first_appearance_ids(seed: list[str], batches: list[list[str]]) -> None:
    d = StringDictionary(seed)
    model = {v: i for i, v in enumerate(seed)}
    for i, batch in enumerate(batches):
        if i % 2:
            got = d.encode_array(pa.array(batch, pa.string())).tolist()
        else:
            got = d.encode_unique(batch).tolist()  # duplicates allowed: one id each
        want = [model.setdefault(v, len(model)) for v in batch]
        assert got == want
        assert [d.value(j) for j in range(len(d))] == list(model)
        assert d.as_arrow().to_pylist() == list(model)


def test_read_ahead_keeps_order_and_raises_in_place() -> None:
    assert list(read_ahead(iter(range(50)), depth=3)) == list(range(50))

    def failing() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("chunk 3 is bad")

    got: list[int] = []
    with pytest.raises(ValueError, match="chunk 3 is bad"):
        for item in read_ahead(failing()):
            got.append(item)
    assert got == [1, 2]


def test_read_ahead_consumer_stopping_early_stops_the_producer() -> None:
    produced: list[int] = []

    def endless() -> Iterator[int]:
        n = 0
        while True:
            produced.append(n)
            yield n
            n += 1

    before = threading.active_count()
    for item in read_ahead(endless(), depth=2):
        if item == 3:
            break
    time.sleep(0.3)  # the generator's finally has joined the thread already
    assert threading.active_count() == before
    assert len(produced) <= 3 + 1 + 2 + 1  # consumed, held in the queue, one being put


def _batch(kind: str) -> pa.Table:
    value = pa.array([1, 2], pa.int64()) if kind == "int" else pa.array(["a", "b"], pa.string())
    return pa.table(
        {
            "user_id": pa.array(["u1", "u2"]),
            "event_type": pa.array(["E", "E"]),
            "time": pa.array([NOW_MS - 1000, NOW_MS - 500], pa.int64()),
            "x": value,
        }
    )


def test_a_batch_prepared_before_a_schema_change_is_validated_again(tmp_path: Path) -> None:
    store = EventStore.open(tmp_path / "p")
    early = store.prepare(_batch("int"), NOW_MS)  # x is new: it would become an int
    assert early.report.accepted == 2
    assert store.ingest(_batch("string"), NOW_MS).report.accepted == 2  # x is a string now
    stored = store.ingest_prepared(early)
    assert stored.report.accepted == 0
    assert [r.field for r in stored.report.rejected] == ["x", "x"]
    assert "string in the schema" in stored.report.rejected[0].reason
    assert store.schema == {"x": "string"}
    assert sum(s.num_rows for s in store.snapshot().segments) == 2
    store.close()
    reopened = EventStore.open(tmp_path / "p")  # the log replays what was stored, nothing else
    assert sum(s.num_rows for s in reopened.snapshot().segments) == 2
    reopened.close()


def test_a_prepared_batch_with_unchanged_schemas_is_stored_as_prepared(tmp_path: Path) -> None:
    store = EventStore.open(tmp_path / "p")
    ready = store.prepare(_batch("int"), NOW_MS)
    stored = store.ingest_prepared(ready)
    assert stored.report.accepted == 2 and store.schema == {"x": "int"}
    assert stored.batch is ready.normalized
    store.close()
