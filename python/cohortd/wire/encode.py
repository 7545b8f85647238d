"""Client side: plain dicts and Arrow tables -> request messages and Arrow IPC bytes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pyarrow as pa

from cohortd.v1 import cohortd_pb2 as pb
from cohortd.wire.tree import EVENT_COLUMNS, to_epoch_ms, value_to_proto

__all__ = ["rows_to_event_messages", "rows_to_user_messages", "table_to_ipc"]


def _props_to_proto(props: Mapping[str, Any], out: Any) -> None:
    for key, val in props.items():
        if val is None:
            continue
        value_to_proto(val, out[key])


def rows_to_event_messages(rows: Iterable[Mapping[str, Any]]) -> list[pb.Event]:
    """Dicts (``user_id``, ``event_type``, ``time`` as epoch ms or datetime, other keys are
    properties; optional ``user_properties``, ``groups`` and ``group_properties`` dicts) as
    ``Event`` messages."""
    out: list[pb.Event] = []
    for row in rows:
        ev = pb.Event(event_type=str(row["event_type"]))
        for key in ("user_id", "anonymous_id", "previous_id"):  # ids (docs/identity.md)
            if row.get(key) is not None:
                setattr(ev, key, str(row[key]))
        t = row.get("time")
        if t is not None:
            ev.time_ms = to_epoch_ms(t)
        nested = ("user_properties", "groups", "group_properties")
        props = {k: v for k, v in row.items() if k not in EVENT_COLUMNS and k not in nested}
        _props_to_proto(props, ev.properties)
        if row.get("user_properties"):
            _props_to_proto(row["user_properties"], ev.user_properties)
        for group_type, key in (row.get("groups") or {}).items():  # Amplitude's shape
            if key is not None:
                ev.groups[str(group_type)] = str(key)
        if row.get("group_properties"):
            _props_to_proto(row["group_properties"], ev.group_properties)
        out.append(ev)
    return out


def rows_to_user_messages(rows: Iterable[Mapping[str, Any]]) -> list[pb.UserProperties]:
    """Dicts (``user_id`` and property keys) as ``UserProperties`` messages."""
    out: list[pb.UserProperties] = []
    for row in rows:
        msg = pb.UserProperties(user_id=str(row["user_id"]))
        _props_to_proto({k: v for k, v in row.items() if k != "user_id"}, msg.properties)
        out.append(msg)
    return out


def table_to_ipc(table: pa.Table | pa.RecordBatch) -> bytes:
    """An Arrow IPC stream holding the table (for the ``arrow_ipc`` request fields)."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write(table)
    return sink.getvalue().to_pybytes()
