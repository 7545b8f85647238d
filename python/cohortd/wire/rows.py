"""Server side: request rows (``Event`` / ``UserProperties`` messages, Arrow IPC) -> engine tables.

Tables have the engine's ingest shape: ``user_id``, ``event_type``, ``time``
then one column per property.  Conversion never guesses silently: a property
whose values disagree in type across rows takes the type of the first row that
sets it (ints widen to float when the column is a float column), and every
other row that disagrees is rejected with ``(row, field, reason)`` rather than
coerced.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
from google.protobuf.timestamp_pb2 import Timestamp

from cohortd.errors import WireFormatError
from cohortd.types import Rejection
from cohortd.v1 import cohortd_pb2 as pb
from cohortd.v1 import expr_pb2 as epb
from cohortd.wire.tree import EVENT_COLUMNS

__all__ = [
    "USER_PREFIX",
    "RowBatch",
    "WireRejection",
    "events_to_table",
    "ipc_to_table",
    "users_to_table",
]


# --------------------------------------------------------------------- rows
WireRejection = Rejection
"""A row turned away before it reached the store: the same type as the store's rejections."""


_KINDS_TO_ARROW = {
    "string_value": pa.string(),
    "int_value": pa.int64(),
    "double_value": pa.float64(),
    "bool_value": pa.bool_(),
}
_KIND_NAMES = {"string_value": "string", "int_value": "int", "double_value": "float", "bool_value": "bool"}


@dataclass
class _Columns:
    """Accumulates typed property columns row by row, rejecting type conflicts."""

    reserved: frozenset[str]
    kinds: dict[str, str] = field(default_factory=dict)
    values: dict[str, list[Any]] = field(default_factory=dict)
    n: int = 0

    def check(self, props: Mapping[str, epb.Value]) -> tuple[str, str] | None:
        """(field, reason) when this row's properties cannot join the columns."""
        for key, val in props.items():
            if key in self.reserved:
                return key, f"property name {key!r} is reserved"
            kind = val.WhichOneof("kind")
            if kind is None:
                return key, "property value with no type set"
            have = self.kinds.get(key)
            if have is None or have == kind:
                continue
            if {have, kind} == {"int_value", "double_value"}:
                continue
            return key, f"type {_KIND_NAMES[kind]} conflicts with {_KIND_NAMES[have]} in earlier rows"
        return None

    def add(self, props: Mapping[str, epb.Value]) -> None:
        for key, val in props.items():
            kind = val.WhichOneof("kind")
            col = self.values.get(key)
            if col is None:
                col = self.values[key] = [None] * self.n
                self.kinds[key] = kind
            elif kind == "double_value" and self.kinds[key] == "int_value":
                self.kinds[key] = "double_value"
            col.append(getattr(val, kind))
        self.n += 1
        for col in self.values.values():
            if len(col) < self.n:
                col.append(None)

    def arrays(self) -> dict[str, pa.Array]:
        return {k: pa.array(v, type=_KINDS_TO_ARROW[self.kinds[k]]) for k, v in self.values.items()}


@dataclass
class RowBatch:
    """Typed rows converted for the engine.

    ``table`` holds the rows that passed wire validation and ``rows[i]`` is the
    request row number of ``table`` row ``i`` (to renumber the engine's
    rejections).
    """

    table: pa.Table
    rows: list[int]
    rejections: list[WireRejection]

    def renumber(self, rejections: Iterable[Any]) -> list[WireRejection]:
        """The engine's rejections (rows of ``table``) in request row numbers, merged with ours."""
        out = list(self.rejections)
        out.extend(WireRejection(self.rows[r.row], r.field, r.reason) for r in rejections)
        out.sort(key=lambda r: r.row)
        return out


USER_PREFIX = "$user."
"""Column prefix of user properties carried by events (the engine's convention)."""


def events_to_table(events: Sequence[pb.Event], first_row: int = 0) -> RowBatch:
    """``Event`` messages as an engine-shaped table.

    Columns: ``user_id``, ``event_type``, ``time`` (int64 epoch ms), one per
    event property, and ``$user.<name>`` for the user properties events carry.
    """
    cols = _Columns(EVENT_COLUMNS)
    ucols = _Columns(frozenset())
    acols = _Columns(frozenset())  # account properties
    groups: dict[str, list[str | None]] = {}  # group type -> key per row
    user_ids: list[str] = []
    links: dict[str, list[str | None]] = {"anonymous_id": [], "previous_id": []}  # docs/identity.md
    types: list[str] = []
    times: list[int] = []
    rows: list[int] = []
    rejections: list[WireRejection] = []
    for i, ev in enumerate(events):
        row = first_row + i
        which = ev.WhichOneof("time")
        if which is None:
            rejections.append(WireRejection(row, "time", "no time given (time_ms or timestamp)"))
            continue
        props = ev.properties
        uprops = ev.user_properties
        bad = cols.check(props) if props else None
        if bad is None and uprops:
            bad = ucols.check(uprops)
        if bad is None and ev.group_properties:
            bad = acols.check(ev.group_properties)
        if bad is not None:
            rejections.append(WireRejection(row, bad[0], bad[1]))
            continue
        if which == "timestamp" and not _timestamp_in_range(ev.timestamp):
            rejections.append(WireRejection(row, "time", "timestamp out of range (years 0001 to 9999)"))
            continue
        user_ids.append(ev.user_id)
        links["anonymous_id"].append(ev.anonymous_id or None)
        links["previous_id"].append(ev.previous_id or None)
        types.append(ev.event_type)
        times.append(ev.time_ms if which == "time_ms" else ev.timestamp.ToMilliseconds())
        cols.add(props)
        ucols.add(uprops)
        acols.add(ev.group_properties)
        for group_type in ev.groups:
            groups.setdefault(group_type, [None] * len(rows))
        for group_type, keys in groups.items():
            keys.append(ev.groups.get(group_type))
        rows.append(row)
    from cohortd.storage.groups import ACCOUNT_PREFIX, GROUP_PREFIX  # here: the SDK imports wire, not storage

    table = pa.table(
        {
            "user_id": pa.array(user_ids, type=pa.string()),
            "event_type": pa.array(types, type=pa.string()),
            "time": pa.array(times, type=pa.int64()),
            **{k: pa.array(v, type=pa.string()) for k, v in links.items() if any(v)},
            **cols.arrays(),
            **{USER_PREFIX + k: v for k, v in ucols.arrays().items()},
            **{GROUP_PREFIX + k: pa.array(v, pa.string()) for k, v in groups.items()},
            **{ACCOUNT_PREFIX + k: v for k, v in acols.arrays().items()},
        }
    )
    return RowBatch(table, rows, rejections)


_TIMESTAMP_SECONDS = (-62_135_596_800, 253_402_300_799)  # 0001-01-01 .. 9999-12-31, protobuf's range


def _timestamp_in_range(ts: Timestamp) -> bool:
    return _TIMESTAMP_SECONDS[0] <= ts.seconds <= _TIMESTAMP_SECONDS[1] and 0 <= ts.nanos < 1_000_000_000


def users_to_table(users: Sequence[pb.UserProperties], first_row: int = 0) -> RowBatch:
    """``UserProperties`` messages as a ``user_id`` + property-columns table."""
    cols = _Columns(frozenset({"user_id"}))
    ids: list[str] = []
    rows: list[int] = []
    rejections: list[WireRejection] = []
    for i, u in enumerate(users):
        bad = cols.check(u.properties)
        if bad is not None:
            rejections.append(WireRejection(first_row + i, *bad))
            continue
        ids.append(u.user_id)
        cols.add(u.properties)
        rows.append(first_row + i)
    table = pa.table({"user_id": pa.array(ids, type=pa.string()), **cols.arrays()})
    return RowBatch(table, rows, rejections)


def ipc_to_table(data: bytes) -> pa.Table:
    """The table held by an Arrow IPC stream; raises :class:`WireFormatError` when unreadable."""
    try:
        return pa.ipc.open_stream(pa.py_buffer(data)).read_all()
    except (pa.ArrowInvalid, OSError) as exc:
        raise WireFormatError(f"arrow_ipc is not a readable Arrow IPC stream: {exc}") from None
