"""Conversions between cohortd's Python values and the wire messages.

* :mod:`cohortd.wire.tree`: cohort trees, scalars and times (both sides);
* :mod:`cohortd.wire.rows`: request rows -> engine tables (the server);
* :mod:`cohortd.wire.encode`: dicts and tables -> request messages (the SDK).
"""

from __future__ import annotations

from cohortd.errors import WireFormatError
from cohortd.wire.encode import rows_to_event_messages, rows_to_user_messages, table_to_ipc
from cohortd.wire.rows import (
    USER_PREFIX,
    RowBatch,
    WireRejection,
    events_to_table,
    ipc_to_table,
    users_to_table,
)
from cohortd.wire.tree import (
    BINARY_LEVELS,
    EVENT_COLUMNS,
    _expr_to_proto,  # noqa: F401  (tests build chain messages directly)
    definition_from_proto,
    definition_to_proto,
    expr_from_proto,
    expr_to_proto,
    ms_to_timestamp,
    python_value,
    timestamp_to_datetime,
    timestamp_to_ms,
    to_epoch_ms,
    value_to_proto,
)

__all__ = [
    "BINARY_LEVELS",
    "EVENT_COLUMNS",
    "USER_PREFIX",
    "RowBatch",
    "WireFormatError",
    "WireRejection",
    "definition_from_proto",
    "definition_to_proto",
    "events_to_table",
    "expr_from_proto",
    "expr_to_proto",
    "ipc_to_table",
    "ms_to_timestamp",
    "python_value",
    "rows_to_event_messages",
    "rows_to_user_messages",
    "table_to_ipc",
    "timestamp_to_datetime",
    "timestamp_to_ms",
    "to_epoch_ms",
    "users_to_table",
    "value_to_proto",
]
