"""Schema discovery: which event types, event properties and user properties exist, and what they hold.

Why per segment: segments (sealed ones and the in-memory tail's) are immutable
and uniquely named, so the figures of one segment (per event type: rows, time
bounds, users from the type index, per property: rows carrying it and the
count of every value) are computed once and cached by segment name.  A call
sums the cached figures of the segments in the current snapshot (the sealed
sum is cached by the tuple of sealed names, so after a batch only the tail's
few segments are added) and scans only the rows of the segments that straddle
a ``last_7d``/``last_30d`` edge.  Merged segments are new names: their figures
are computed once, in proportion to the merge's own work.

The figures of sealed segments are also saved next to the project (one
``.npz`` per segment under ``schema_stats/``, checked against the segment's
rows and time bounds when read back), so a restart does not rescan the data
for the first call; files of segments merged away are deleted.  User
properties are current values (not time-travelled); their counts are
recomputed when the store's data version moves on.

Decisions: ``present`` is a share in [0, 1] (of the type's events, or of all
users in the project's user dictionary for user properties); property types
are the project's schema types (``string``, ``int``, ``float``, ``bool``);
top values are ordered by count (descending), ties by value; ``last_7d`` and
``last_30d`` count events in ``[now - 7d, now)`` and ``[now - 30d, now)``.
"""

from __future__ import annotations

import io
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

import numpy as np
from pyroaring import BitMap

from cohortd.storage.segment import Segment
from cohortd.storage.store import EventStore, Snapshot
from cohortd.times import DAY_MS, iso_ms

__all__ = ["TOP_VALUES", "PropertyStats", "SchemaIndex", "TypeStats", "Vocabulary"]

TOP_VALUES = 10


@dataclass
class PropertyStats:
    """Rows carrying one property and the count of each distinct value (string values as codes)."""

    present: int
    values: np.ndarray
    counts: np.ndarray

    def merged(self, other: PropertyStats) -> PropertyStats:
        values = np.concatenate((self.values, other.values))
        counts = np.concatenate((self.counts, other.counts))
        uniq, inverse = np.unique(values, return_inverse=True)
        return PropertyStats(
            self.present + other.present, uniq, np.bincount(inverse, counts, len(uniq)).astype(np.int64)
        )


class EventTypeSummary(TypedDict):
    """One entry of the schema document's ``event_types``."""

    name: str
    events: int
    users: int
    first_seen: str
    last_seen: str
    last_7d: int
    last_30d: int
    properties: list[dict[str, Any]]


@dataclass
class TypeStats:
    """One event type: rows, time bounds, distinct users and its properties."""

    events: int
    first_seen: int
    last_seen: int
    users: BitMap
    props: dict[str, PropertyStats] = field(default_factory=dict)

    def merged(self, other: TypeStats) -> TypeStats:
        props = dict(self.props)
        for name, st in other.props.items():
            props[name] = props[name].merged(st) if name in props else st
        return TypeStats(
            self.events + other.events,
            min(self.first_seen, other.first_seen),
            max(self.last_seen, other.last_seen),
            self.users | other.users,
            props,
        )


def value_counts(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values (sorted) and their counts; a bincount for codes and bools, a sort otherwise."""
    if len(values) == 0:
        return values[:0], np.zeros(0, np.int64)
    if values.dtype == np.bool_ or values.dtype == np.uint32:
        counts = np.bincount(values.astype(np.int64))
        uniq = np.flatnonzero(counts)
        return uniq.astype(values.dtype), counts[uniq].astype(np.int64)
    if values.dtype.kind == "f":
        values = np.where(values == 0, 0.0, values)  # -0.0 and 0.0 are one value
    uniq, counts = np.unique(values, return_counts=True)
    return uniq, counts.astype(np.int64)


def segment_stats(seg: Segment) -> dict[int, TypeStats]:
    """The figures of one segment, per event type id."""
    out: dict[int, TypeStats] = {}
    names = seg.prop_names()
    for type_id, r in seg.index.items():
        props: dict[str, PropertyStats] = {}
        for name in names:
            col = seg.prop(name)
            assert col is not None
            part = col.slice(r.start, r.end - r.start)
            present = len(part) - part.null_count
            if present == 0:
                continue
            values = part.drop_null().to_numpy(zero_copy_only=False)
            props[name] = PropertyStats(present, *value_counts(values))
        out[type_id] = TypeStats(r.end - r.start, r.min_time, r.max_time, r.users, props)
    return out


def _save(path: Path, seg: Segment, stats: dict[int, TypeStats]) -> None:
    """One segment's figures as an ``.npz`` (no pickles); a cache, so no fsync: a bad file is recomputed."""
    arrays: dict[str, np.ndarray] = {}
    types = []
    for t, st in stats.items():
        arrays[f"u{t}"] = np.frombuffer(st.users.serialize(), np.uint8)
        props = []
        for j, (name, p) in enumerate(st.props.items()):
            arrays[f"v{t}_{j}"], arrays[f"c{t}_{j}"] = p.values, p.counts
            props.append([name, p.present])
        types.append([t, st.events, st.first_seen, st.last_seen, props])
    meta = {"rows": seg.num_rows, "min": seg.min_time, "max": seg.max_time, "types": types}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        np.savez(buf, allow_pickle=False, **arrays)  # read back with allow_pickle=False
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(buf.getvalue())
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only or full disk only costs a recomputation next time


def _load(path: Path, seg: Segment) -> dict[int, TypeStats] | None:
    """The saved figures of ``seg``, or None when missing, unreadable or of another segment."""
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(z["meta"].tobytes())
            if (meta["rows"], meta["min"], meta["max"]) != (seg.num_rows, seg.min_time, seg.max_time):
                return None
            out = {}
            for t, events, first, last, props in meta["types"]:
                out[t] = TypeStats(
                    events,
                    first,
                    last,
                    BitMap.deserialize(z[f"u{t}"].tobytes()),
                    {
                        name: PropertyStats(present, z[f"v{t}_{j}"], z[f"c{t}_{j}"])
                        for j, (name, present) in enumerate(props)
                    },  # fmt: skip
                )
            return out
    except (OSError, ValueError, KeyError):
        return None


def _merge(total: dict[int, TypeStats], part: dict[int, TypeStats]) -> dict[int, TypeStats]:
    out = dict(total)
    for type_id, st in part.items():
        out[type_id] = out[type_id].merged(st) if type_id in out else st
    return out


@dataclass
class Vocabulary:
    """What the project has seen, by name: the input of the definition lint."""

    types: dict[str, TypeStats]
    event_props: dict[str, str]  # property → type (schema)
    user_props: dict[str, str]
    latest_event_ms: int | None  # the newest event of the project
    values: Any  # StringDictionary of string values
    index: Any = None  # the SchemaIndex, for user values on demand

    def decode(self, code: int) -> str:
        return str(self.values.value(int(code)))

    def user_values(self, prop: str) -> np.ndarray | None:
        """Codes seen for a string user property (counted only when a definition tests a value)."""
        if self.user_props.get(prop) != "string" or self.index is None:
            return None
        found = self.index.user_stats().get(prop)
        codes = None if found is None else found[1]
        past = self.index.past_user_values(prop)  # values it had before: "had the value"
        if past is not None and len(past):
            codes = np.unique(past) if codes is None else np.union1d(codes, past)
        return codes


class SchemaIndex:
    """Per-segment figures cached by segment name, summed per call; one per project's store."""

    def __init__(self, store: EventStore, cache_dir: Path | None = None) -> None:
        self.store = store
        self.cache_dir = cache_dir
        self._pruned = False
        self._lock = threading.Lock()
        self._segments: dict[str, dict[int, TypeStats]] = {}
        self._sealed_key: tuple[str, ...] | None = None
        self._sealed_total: dict[int, TypeStats] = {}
        self._users_key: int | None = None
        self._users_total: dict[str, tuple[int, np.ndarray, np.ndarray]] = {}
        self._vocabulary: tuple[int, Vocabulary] | None = None

    # ------------------------------------------------------------ figures

    def past_user_values(self, prop: str) -> np.ndarray | None:
        """Codes ``prop`` took in its change history (None when it has none)."""
        past = self.store.prop_history.changes(prop)
        return None if past is None else past.values

    def type_stats(self, snap: Snapshot | None = None) -> dict[int, TypeStats]:
        """Figures per event type id over every segment of ``snap`` (default: now)."""
        snap = snap or self.store.snapshot()
        with self._lock:
            live = {seg.name for seg in snap.segments}
            for name in [n for n in self._segments if n not in live]:
                del self._segments[name]
                self._forget(name)
            if not self._pruned and self.cache_dir is not None and self.cache_dir.is_dir():
                self._pruned = True
                for path in self.cache_dir.glob("*.npz"):
                    if path.stem not in live:
                        path.unlink(missing_ok=True)
            sealed = tuple(s.name for s in snap.segments if not s.name.startswith("tail-"))
            if sealed != self._sealed_key:
                total: dict[int, TypeStats] = {}
                for seg in snap.segments:
                    if seg.name in sealed:
                        total = _merge(total, self._of(seg))
                self._sealed_key, self._sealed_total = sealed, total
            total = self._sealed_total
            for seg in snap.segments:
                if seg.name.startswith("tail-"):
                    total = _merge(total, self._of(seg))
            return total

    def _of(self, seg: Segment) -> dict[int, TypeStats]:
        stats = self._segments.get(seg.name)
        if stats is None:
            sealed = self.cache_dir is not None and not seg.name.startswith("tail-")
            stats = _load(self._file(seg.name), seg) if sealed else None
            if stats is None:
                stats = segment_stats(seg)
                if sealed:
                    _save(self._file(seg.name), seg, stats)
            self._segments[seg.name] = stats
        return stats

    def _file(self, name: str) -> Path:
        assert self.cache_dir is not None
        return self.cache_dir / f"{name}.npz"

    def _forget(self, name: str) -> None:
        if self.cache_dir is not None and not name.startswith("tail-"):
            self._file(name).unlink(missing_ok=True)

    def user_stats(self) -> dict[str, tuple[int, np.ndarray, np.ndarray]]:
        """Per user property: (users having it, distinct values, counts); cached per data version."""
        store = self.store
        with store.lock:
            version = store.version
            with self._lock:
                if version == self._users_key:
                    return self._users_total
            n = len(store.users)
            columns = {}
            for name in store.user_props.columns:
                values, valid = store.user_props.get(name, n) or (None, None)
                assert values is not None and valid is not None
                columns[name] = values[valid]  # a copy: later updates do not reach it
        out = {name: (len(values), *value_counts(values)) for name, values in columns.items()}
        with self._lock:
            self._users_key, self._users_total = version, out
        return out

    def recent_counts(self, snap: Snapshot, since_ms: int, until_ms: int) -> dict[int, int]:
        """Events per type id with time in ``[since_ms, until_ms)``: whole type ranges where they fit."""
        out: dict[int, int] = {}
        for seg in snap.segments:
            if seg.num_rows == 0 or seg.max_time < since_ms or seg.min_time >= until_ms:
                continue
            for type_id, r in seg.index.items():
                if r.max_time < since_ms or r.min_time >= until_ms:
                    continue
                if r.min_time >= since_ms and r.max_time < until_ms:
                    n = r.end - r.start
                else:
                    times = seg.times[r.start : r.end]
                    n = int(np.count_nonzero((times >= since_ms) & (times < until_ms)))
                out[type_id] = out.get(type_id, 0) + n
        return out

    # -------------------------------------------------------------- views
    def vocabulary(self) -> Vocabulary:
        """The lint's view of the project, cached per data version (evaluate answers carry its warnings)."""
        store = self.store
        version = store.version
        cached = self._vocabulary
        if cached is not None and cached[0] == version:
            return cached[1]
        stats = self.type_stats()
        types = {store.types.value(t): st for t, st in stats.items()}
        latest = max((st.last_seen for st in stats.values()), default=None)
        vocab = Vocabulary(types, dict(store.schema), dict(store.user_schema), latest, store.values, self)
        self._vocabulary = (version, vocab)
        return vocab

    def describe(self, now_ms: int, top: int = TOP_VALUES) -> dict[str, Any]:
        """The ``cohortd schema`` JSON document (shape in the module docstring of ``cli/schema.py``)."""
        store = self.store
        snap = store.snapshot()
        stats = self.type_stats(snap)
        last7 = self.recent_counts(snap, now_ms - 7 * DAY_MS, now_ms)
        last30 = self.recent_counts(snap, now_ms - 30 * DAY_MS, now_ms)
        event_types: list[EventTypeSummary] = []
        for type_id, st in stats.items():
            props = [
                self._property(name, store.schema.get(name, "string"), p.present / st.events, p, top)
                for name, p in sorted(st.props.items())
            ]
            event_types.append(
                {
                    "name": store.types.value(type_id),
                    "events": st.events,
                    "users": len(st.users),
                    "first_seen": iso_ms(st.first_seen),
                    "last_seen": iso_ms(st.last_seen),
                    "last_7d": last7.get(type_id, 0),
                    "last_30d": last30.get(type_id, 0),
                    "properties": props,
                }
            )
        event_types.sort(key=lambda e: (-e["events"], e["name"]))
        n_users = len(store.users)
        user_properties = []
        for name, (present, values, counts) in sorted(self.user_stats().items()):
            if present == 0:
                continue
            kind = store.user_schema.get(name, "string")
            p = PropertyStats(present, values, counts)
            user_properties.append(self._property(name, kind, present / max(n_users, 1), p, top))
        return {"event_types": event_types, "user_properties": user_properties}

    def _property(self, name: str, kind: str, share: float, p: PropertyStats, top: int) -> dict[str, Any]:
        return {
            "name": name,
            "type": kind,
            "present": share,
            "top_values": [{"value": v, "count": c} for v, c in self.top_values(kind, p, top)],
        }

    def top_values(self, kind: str, p: PropertyStats, top: int) -> list[tuple[Any, int]]:
        """The ``top`` most frequent values, decoded; ties ordered by value."""
        decoded = [self.decode(kind, v) for v in p.values.tolist()]
        pairs = sorted(zip(decoded, p.counts.tolist(), strict=True), key=lambda vc: (-vc[1], _order(vc[0])))
        return pairs[:top]

    def decode(self, kind: str, raw: Any) -> Any:
        if kind == "string":
            return self.store.values.value(int(raw))
        if kind == "bool":
            return bool(raw)
        if kind == "int":
            return int(raw)
        return float(raw)


def _order(value: Any) -> tuple[int, Any]:
    """A total order across value types (numbers and bools before strings)."""
    return (1, value) if isinstance(value, str) else (0, float(value))
