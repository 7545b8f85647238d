"""Checks of stored segments and events shared by the storage and ingest tests."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
from cohortd import Engine
from cohortd.storage.segment import Segment


def typed_value(v: Any) -> tuple[str, Any]:
    """A value tagged with its Python type, so 1, 1.0 and True never compare equal."""
    return (type(v).__name__, v)


def event_key(row: dict[str, Any]) -> tuple:
    props = tuple(
        sorted(
            (k, typed_value(v))
            for k, v in row.items()
            if k not in ("user_id", "event_type", "time") and v is not None
        )
    )
    return (str(row["user_id"]), row["event_type"], int(row["time"]), props)


def stored_events(eng: Engine) -> Counter:
    return Counter(event_key(r) for r in eng.events().to_pylist())


def check_segment(seg: Segment) -> None:
    """Sorted by (type, user, time); the index describes exactly the rows it covers."""
    types = seg.types.astype(np.int64)
    users = seg.users.astype(np.int64)
    times = seg.times
    n = len(types)
    assert seg.num_rows == n == len(users) == len(times)
    keys = list(zip(types.tolist(), users.tolist(), times.tolist(), strict=True))
    assert keys == sorted(keys), f"{seg.name} is not sorted by (type, user, time)"
    assert sorted(seg.index) == sorted(set(types.tolist()))
    covered = 0
    for t, r in sorted(seg.index.items(), key=lambda kv: kv[1].start):
        assert r.start == covered, f"{seg.name}: type {t} range does not follow the previous one"
        assert r.end > r.start
        assert (types[r.start : r.end] == t).all()
        assert set(r.users) == set(users[r.start : r.end].tolist())
        assert r.min_time == times[r.start : r.end].min()
        assert r.max_time == times[r.start : r.end].max()
        covered = r.end
    assert covered == n
    if n:
        assert seg.min_time == times.min() and seg.max_time == times.max()
