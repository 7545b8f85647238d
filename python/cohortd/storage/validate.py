"""Row validation and normalisation: the checks every event passes before the log.

Input is a table with ``user_id``, ``event_type``, ``time``, event-property
columns and, for user properties carried by events, columns named
``$user.<name>``.  Output is the same rows with canonical types (user id and
event type as strings, time as int64 epoch ms, properties as string / int64 /
float64 / bool) minus the rejected rows, plus one ``Rejection`` per bad row.

A batch is checked completely here (column structure, UTF-8, names, sizes,
types, times) so that a batch that reaches the log can always be applied;
:func:`canonical_problem` re-checks a logged batch on replay.  The store's
ingest gate (``EventStore.ingest``) is the only caller on the write path.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cohortd import times
from cohortd.errors import InvalidArgumentError
from cohortd.storage.groups import ACCOUNT_PREFIX, GROUP_ID_PREFIX, GROUP_PREFIX
from cohortd.storage.prophistory import UNDATED
from cohortd.times import DAY_MS
from cohortd.types import IngestReport, Rejection

USER_PREFIX = "$user."
# Set by file readers on records they could not turn into a row.  The NUL keeps it apart from
# any property a client can name (property names with control characters are rejected).
ERROR_COLUMN = "\x00error"
RESERVED = ("user_id", "event_type", "time", "anonymous_id", "previous_id")
ANON_PREFIX = "$anon:"  # how anonymous ids are kept in the user dictionary (storage/identity.py)
KINDS = ("string", "int", "float", "bool")
ARROW_TYPES = {"string": pa.string(), "int": pa.int64(), "float": pa.float64(), "bool": pa.bool_()}
MIN_TIME_MS = 946_684_800_000  # 2000-01-01T00:00:00Z
MAX_ID_BYTES = 1024  # a user id or event type
MAX_STRING_BYTES = 65_536  # one string property value
MAX_NAME_CHARS = 256  # a property name


def contiguous(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    """One array for a column: its only chunk as is (``combine_chunks`` copies even that)."""
    if isinstance(col, pa.Array):
        return col
    return col.chunk(0) if col.num_chunks == 1 else col.combine_chunks()


def kind_of_type(t: pa.DataType) -> str | None:
    """The schema kind an Arrow type maps to; None for all-null columns."""
    if pa.types.is_dictionary(t):
        t = t.value_type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "string"
    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_integer(t) or pa.types.is_timestamp(t):
        return "int"
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "float"
    if pa.types.is_null(t):
        return None
    return "unsupported"


def kind_of_value(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "string"
    return "unsupported"


def rows_to_table(rows: Iterable[Mapping[str, Any]]) -> pa.Table:
    """Columns from a list of dicts; ``user_properties`` dicts become ``$user.`` columns.

    Mixed value types in one column are kept as strings tagged with each value's
    kind, in a column of the private extension type ``_MIXED``, so that
    ``coerce_column`` can reject per row.
    """
    rows = list(rows)
    names: dict[str, None] = {}
    flat: list[dict[str, Any]] = []
    for r in rows:
        f = {k: v for k, v in r.items() if k not in _NESTED}
        for k, v in (r.get("user_properties") or {}).items():
            f[USER_PREFIX + k] = v
        for nested, prefix in (("groups", GROUP_PREFIX), ("group_properties", ACCOUNT_PREFIX)):
            if isinstance(r.get(nested), Mapping):  # Amplitude's shape (docs/cohort-language.md, "Accounts")
                for k, v in r[nested].items():
                    f[prefix + str(k)] = v
            elif nested in r and r[nested] is not None:
                f[ERROR_COLUMN] = f"{nested} must be an object of name: value"
        flat.append(f)
        names.update(dict.fromkeys(f))
    columns = {}
    for name in names:
        values = [f.get(name) for f in flat]
        columns[name] = _column_from_values(name, values)
    return pa.table(columns) if columns else pa.table({"user_id": pa.array([], pa.string())})


_NESTED = ("user_properties", "groups", "group_properties")


def _column_from_values(name: str, values: list[Any]) -> pa.Array:
    if name in RESERVED or name.startswith(GROUP_PREFIX):
        if name == "time" and any(isinstance(v, dt.datetime) for v in values):
            return pa.array([_time_value(v) for v in values], pa.string())
        kinds = {kind_of_value(v) for v in values if v is not None}
        if kinds <= {"int"}:
            return pa.array(values, pa.int64())
        if kinds <= {"int", "string"} or name == "time":
            return pa.array([None if v is None else str(v) for v in values], pa.string())
        return _mixed_column(values)  # a user id / event type neither string nor integer: rejected per row
    kinds = {kind_of_value(v) for v in values if v is not None}
    if kinds == {"int", "float"}:
        kinds = {"float"}
    if not kinds:
        return pa.nulls(len(values))  # no value: the column says nothing about the property's type
    if len(kinds) == 1 and "unsupported" not in kinds:
        return pa.array(values, ARROW_TYPES[kinds.pop()])
    return _mixed_column(values)


def _mixed_column(values: list[Any]) -> pa.Array:
    # Mixed kinds: encode each value with its kind so coerce_column can reject per row.
    tagged = [None if v is None else f"{kind_of_value(v)}\x00{v}" for v in values]
    storage = pa.array(tagged, pa.large_string())
    return pa.ExtensionArray.from_storage(_MIXED, storage)


class _MixedType(pa.ExtensionType):
    """Marker type of mixed-kind columns built by ``rows_to_table`` (never in user data, never stored)."""

    def __init__(self) -> None:
        super().__init__(pa.large_string(), "cohortd.mixed")

    def __arrow_ext_serialize__(self) -> bytes:
        return b""

    @classmethod
    def __arrow_ext_deserialize__(cls, storage_type: pa.DataType, serialized: bytes) -> _MixedType:
        return cls()


_MIXED = _MixedType()


def _mixed_kinds(arr: pa.Array) -> list[str | None]:
    """The Python kind of every value of a mixed column (None for nulls)."""
    return [None if s is None else s.split("\x00", 1)[0] for s in arr.storage.to_pylist()]


def _time_value(v: Any) -> Any:
    if isinstance(v, dt.datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=dt.UTC)
        return v.isoformat()
    return v


def parse_time_column(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(epoch ms int64, ok mask) for an ISO-8601 / epoch-ms / timestamp column."""
    n = len(arr)
    t = arr.type
    if pa.types.is_timestamp(t):
        ms = pc.cast(arr, pa.timestamp("ms", tz=t.tz), safe=False)
        return _ms_and_valid(ms.cast(pa.int64()))
    if pa.types.is_date(t):
        return _ms_and_valid(pc.cast(pc.cast(arr, pa.timestamp("ms")), pa.int64()))
    if pa.types.is_integer(t):
        return _ms_and_valid(arr.cast(pa.int64()))
    if pa.types.is_floating(t):
        valid = np.asarray(pc.and_(pc.is_valid(arr), pc.is_finite(arr)).fill_null(False))
        vals = np.floor(np.nan_to_num(arr.to_numpy(zero_copy_only=False), nan=0.0, posinf=0, neginf=0))
        return vals.astype(np.int64), valid
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_dictionary(t):
        strings = arr.cast(pa.string()) if not pa.types.is_dictionary(t) else arr.cast(pa.string())
        try:
            ts = pc.cast(strings, pa.timestamp("ms", tz="UTC"))
            return _ms_and_valid(ts.cast(pa.int64()))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
        out = np.zeros(n, dtype=np.int64)
        ok = np.zeros(n, dtype=bool)
        for i, s in enumerate(strings.to_pylist()):
            ms = _parse_time_text(s)
            if ms is not None:
                out[i], ok[i] = ms, True
        return out, ok
    return np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool)


def _ms_and_valid(ms: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    valid = np.asarray(pc.is_valid(ms))
    return ms.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64, copy=False), valid


def _parse_time_text(s: str | None) -> int | None:
    """Epoch ms from digits or ISO-8601 text; None when it is neither."""
    if s is None:
        return None
    s = s.strip()
    if s.lstrip("-").isdigit():
        return int(s)
    try:
        return times.to_ms(s)
    except InvalidArgumentError:
        return None


def coerce_column(arr: pa.Array, kind: str) -> tuple[pa.Array, np.ndarray]:
    """Cast ``arr`` to ``kind``; return the cast column and a mask of rows that conflict."""
    n = len(arr)
    if arr.type == _MIXED:
        values: list[str | int | float | bool | None] = []
        bad = np.zeros(n, dtype=bool)
        for i, s in enumerate(arr.storage.to_pylist()):
            if s is None:
                values.append(None)
                continue
            k, text = s.split("\x00", 1)
            if k == kind or (k == "int" and kind == "float"):
                values.append({"string": str, "int": int, "float": float}.get(kind, _bool)(text))
            else:
                values.append(None)
                bad[i] = True
        return pa.array(values, ARROW_TYPES[kind]), bad
    have = kind_of_type(arr.type)
    if have is None:
        return pa.nulls(n, ARROW_TYPES[kind]), np.zeros(n, dtype=bool)
    if have == kind or (have == "int" and kind == "float"):
        if pa.types.is_timestamp(arr.type):
            arr = pc.cast(arr, pa.timestamp("ms", tz=arr.type.tz), safe=False).cast(pa.int64())
        return arr.cast(ARROW_TYPES[kind]), np.zeros(n, dtype=bool)
    return pa.nulls(n, ARROW_TYPES[kind]), np.asarray(pc.is_valid(arr))


def _bool(text: str) -> bool:
    return text == "True"


def reason_for_conflict(name: str, want: str, got: str | None) -> str:
    if got == "unsupported":
        got = "a value of an unsupported type"
    return f"property {name!r} is {want} in the schema, got {got}"


def check_structure(table: pa.Table) -> pa.Table:
    """Reject (IngestError) a table whose columns are malformed Arrow; chunks are combined.

    String columns are checked as binary here (offsets and lengths); their UTF-8 is
    checked per row by :func:`utf8_checked`, so one bad value rejects one row.
    """
    from cohortd.errors import IngestError

    columns = {}
    for name, col in zip(table.column_names, table.columns, strict=True):
        arr = contiguous(col)
        try:
            if pa.types.is_dictionary(arr.type):  # kept encoded: decoding here would cost a copy
                arr.indices.validate(full=True)
                _structure_only(arr.dictionary).validate(full=True)
                if len(arr) and pc.max(arr.indices).as_py() >= len(arr.dictionary):
                    raise ValueError("dictionary index out of range")
            elif pa.types.is_primitive(arr.type):
                arr.validate()  # fixed width: the buffer sizes are all there is to check
            else:
                _structure_only(arr).validate(full=True)
        except (pa.ArrowInvalid, pa.ArrowException, ValueError) as exc:
            raise IngestError(
                f"column {name!r} is not a valid Arrow column ({exc}); nothing was stored"
            ) from None
        columns[name] = arr
    return pa.table(columns) if columns else table


def _structure_only(arr: pa.Array) -> pa.Array:
    """``arr`` with strings seen as bytes, so validation checks layout but not UTF-8."""
    if pa.types.is_string(arr.type):
        return arr.view(pa.binary())
    if pa.types.is_large_string(arr.type):
        return arr.view(pa.large_binary())
    return arr


def utf8_checked(arr: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """(the string column with invalid-UTF-8 values as nulls, mask of those rows)."""
    n = len(arr)
    try:
        arr.validate(full=True)
        return arr, np.zeros(n, dtype=bool)
    except pa.ArrowInvalid:
        pass
    raw = _structure_only(arr).to_pylist()
    bad = np.zeros(n, dtype=bool)
    text: list[str | None] = []
    for i, b in enumerate(raw):
        try:
            text.append(None if b is None else b.decode("utf-8"))
        except UnicodeDecodeError:
            text.append(None)
            bad[i] = True
    return pa.array(text, arr.type), bad


def too_long(arr: pa.Array, limit: int) -> np.ndarray:
    """Rows whose string value is longer than ``limit`` bytes."""
    lengths = pc.binary_length(arr)
    longest = pc.max(lengths).as_py()
    if longest is None or longest <= limit:
        return np.zeros(len(arr), dtype=bool)
    return np.asarray(pc.fill_null(pc.greater(lengths, limit), False))


def blank(arr: pa.Array) -> np.ndarray:
    """Rows that are null, empty or only (Unicode) whitespace, without trimming a copy of every value."""
    is_blank = pc.or_(pc.equal(pc.binary_length(arr), 0), pc.utf8_is_space(arr))
    return np.asarray(pc.fill_null(is_blank, True))


def name_problem(name: str) -> str | None:
    """Why a property name cannot be stored, or None."""
    if not name:
        return "empty property name"
    if len(name) > MAX_NAME_CHARS:
        return f"property name longer than {MAX_NAME_CHARS} characters"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return f"property name {name!r} contains a control character"
    return None


def canonical_problem(
    batch: pa.Table,
    schema: Mapping[str, str],
    user_schema: Mapping[str, str],
    full: bool = True,
    group_schema: Mapping[str, str] | None = None,
) -> str | None:
    """Why a logged (already normalised) batch cannot be applied, or None.

    The gate guarantees none of these for a batch it logs; replay re-checks because a
    log written by an older version, or damaged in a way its CRC did not catch, must
    be quarantined rather than applied halfway.  ``full=False`` skips re-validating
    the Arrow data (the gate has just checked structure and UTF-8 row by row).
    """
    want = {"user_id": pa.string(), "event_type": pa.string(), "time": pa.int64()}
    for name, typ in want.items():
        if name not in batch.column_names:
            return f"missing column {name}"
        col = batch.column(name)
        if col.type != typ or col.null_count:
            return f"column {name} is {col.type} with {col.null_count} nulls"
    for name in batch.column_names:
        col = batch.column(name)
        try:
            if full:
                col.validate(full=True)
        except pa.ArrowInvalid as exc:
            return f"column {name!r}: {exc}"
        if name in want:
            continue
        if name in ("anonymous_id", "previous_id") or name.startswith(GROUP_PREFIX):
            if col.type != pa.string():
                return f"column {name} is {col.type}"
            if name.startswith(GROUP_PREFIX) and group_type_problem(name[len(GROUP_PREFIX) :]):
                return group_type_problem(name[len(GROUP_PREFIX) :])
            continue
        if name == UNDATED:
            if col.type != pa.bool_() or col.null_count:
                return f"column {name} is {col.type} with {col.null_count} nulls"
            continue
        target, prop = _target(name, schema, user_schema, group_schema or {})
        problem = name_problem(prop)
        if problem:
            return problem
        have = kind_of_type(col.type)
        known = target.get(prop)
        if have not in KINDS:
            return f"property {prop!r} has type {col.type}"
        if known is not None and known != have:
            return f"property {prop!r} is {have}, the schema says {known}"
    return None


def _target(
    name: str, schema: dict[str, str] | Mapping[str, str], user_schema: Any, group_schema: Any
) -> tuple[Any, str]:
    """The schema a property column belongs to, and the property's name."""
    if name.startswith(USER_PREFIX):
        return user_schema, name[len(USER_PREFIX) :]
    if name.startswith(ACCOUNT_PREFIX):
        return group_schema, name[len(ACCOUNT_PREFIX) :]
    return schema, name


def group_type_problem(group_type: str) -> str | None:
    """Why a group type (``company`` of ``$group.company``) cannot be stored, or None."""
    if ":" in group_type:
        return f"group type {group_type!r} contains ':'"
    problem = name_problem(group_type)
    return problem.replace("property name", "group type") if problem else None


def _group_keys(table: pa.Table, name: str, reject: Any) -> pa.Array:
    """A ``$group.<type>`` column as strings (ids: string or integer), empty keys as no group."""
    n = table.num_rows
    col = contiguous(table.column(name))
    group_type = name[len(GROUP_PREFIX) :]
    problem = group_type_problem(group_type)
    if col.type == pa.null():
        return pa.nulls(n, pa.string())
    if problem is not None:
        reject(np.asarray(pc.is_valid(col.storage if col.type == _MIXED else col)), name, problem)
        return pa.nulls(n, pa.string())
    if col.type == _MIXED:
        kinds = np.array(_mixed_kinds(col), dtype=object)
        wrong = (kinds != None) & (kinds != "int") & (kinds != "string")  # noqa: E711
        reject(wrong, name, f"group key {group_type!r} must be a string or integer (one key per row)")
        col = pa.array([None if s is None else s.split("\x00", 1)[1] for s in col.storage.to_pylist()])
    if kind_of_type(col.type) not in ("int", "string"):
        reject(np.asarray(pc.is_valid(col)), name, f"group key {group_type!r} must be a string or integer")
        return pa.nulls(n, pa.string())
    keys, bad_text = utf8_checked(col.cast(pa.string()))
    reject(bad_text, name, f"group key {group_type!r} is not valid UTF-8")
    reject(
        too_long(keys, MAX_ID_BYTES), name, f"group key {group_type!r} is longer than {MAX_ID_BYTES} bytes"
    )
    empty = blank(keys)
    return pc.if_else(pa.array(empty), pa.nulls(n, pa.string()), keys)


def normalize_events(
    table: pa.Table,
    schema: dict[str, str],
    user_schema: dict[str, str],
    now_ms: int,
    group_schema: dict[str, str] | None = None,
) -> tuple[pa.Table, IngestReport]:
    """Validate an event batch; returns accepted rows in canonical form and the report.

    ``schema`` / ``user_schema`` / ``group_schema`` are extended in place with newly seen
    property names, but only by properties that an accepted row carries: a rejected row
    leaves no trace.
    """
    group_schema = {} if group_schema is None else group_schema
    table = check_structure(table)
    n = table.num_rows
    reasons: list[tuple[str, str] | None] = [None] * n
    bad = np.zeros(n, dtype=bool)

    def reject(mask: np.ndarray, field_name: str, reason: str) -> None:
        if not mask.any():
            return
        for i in np.flatnonzero(mask & ~bad):
            reasons[i] = (field_name, reason)
        bad[:] |= mask

    for name in ("user_id", "event_type", "time"):
        if name == "user_id" and "anonymous_id" in table.column_names:
            continue  # anonymous rows: checked row by row below
        if name not in table.column_names:
            raise_missing = np.ones(n, dtype=bool)
            reject(raise_missing, name, f"missing {name.replace('_', ' ')}")
    if ERROR_COLUMN in table.column_names:
        errors = contiguous(table.column(ERROR_COLUMN))
        for i in np.flatnonzero(np.asarray(errors.is_valid())):
            reasons[i] = ("line", str(errors[int(i)].as_py()))
            bad[i] = True
        table = table.drop_columns([ERROR_COLUMN])
    if "user_id" not in table.column_names and "anonymous_id" in table.column_names:
        table = table.append_column("user_id", pa.nulls(n, pa.string()))
    out: dict[str, pa.Array] = {}
    for name in ("anonymous_id", "previous_id", "user_id", "event_type"):
        link = name in ("anonymous_id", "previous_id")
        if name not in table.column_names:
            if not link:
                out[name] = pa.nulls(n, pa.string())
            continue
        col = contiguous(table.column(name))
        if col.type == pa.null():
            col = pa.nulls(n, pa.string())
        if col.type == _MIXED:
            kinds = np.array(_mixed_kinds(col), dtype=object)
            wrong = (kinds != None) & (kinds != "int") & (kinds != "string")  # noqa: E711
            reject(wrong, name, f"{name} must be a string or integer")
            texts = [None if s is None else s.split("\x00", 1)[1] for s in col.storage.to_pylist()]
            col = pa.array(texts, pa.string())
        strings = col.cast(pa.string()) if kind_of_type(col.type) in ("int", "string") else None
        if strings is None:
            reject(np.ones(n, dtype=bool), name, f"{name} must be a string or integer")
            strings = pa.nulls(n, pa.string())
        strings, bad_text = utf8_checked(strings)
        reject(bad_text, name, f"{name} is not valid UTF-8")
        reject(too_long(strings, MAX_ID_BYTES), name, f"{name} is longer than {MAX_ID_BYTES} bytes")
        empty = blank(strings)
        if link:  # an empty link id is no link
            out[name] = pc.if_else(pa.array(empty), pa.nulls(n, pa.string()), strings)
            continue
        if name == "user_id":
            reserved = np.asarray(pc.fill_null(pc.starts_with(strings, ANON_PREFIX), False))
            reject(reserved, name, f"user_id must not start with {ANON_PREFIX!r} (kept for anonymous ids)")
            reserved = np.asarray(pc.fill_null(pc.starts_with(strings, GROUP_ID_PREFIX), False))
            reject(reserved, name, f"user_id must not start with {GROUP_ID_PREFIX!r} (kept for groups)")
            if "anonymous_id" in out:  # a row with only an anonymous id is that anonymous user's
                anon = out["anonymous_id"]
                only_anon = empty & np.asarray(anon.is_valid())
                prefixed = pc.binary_join_element_wise(ANON_PREFIX, anon, "")
                strings = pc.if_else(pa.array(only_anon), prefixed, strings)
                out["anonymous_id"] = pc.if_else(pa.array(only_anon), pa.nulls(n, pa.string()), anon)
                empty = empty & ~only_anon
        reject(empty, name, f"missing {name.replace('_', ' ')}")
        if name == "event_type":
            deleting = np.asarray(pc.fill_null(pc.equal(strings, "$delete"), False))
            reject(deleting, name, "event type '$delete' is reserved (use `cohortd users delete`)")
        out[name] = strings
    if "time" in table.column_names:
        time_col = contiguous(table.column("time"))
        if kind_of_type(time_col.type) == "string":
            time_col, bad_text = utf8_checked(time_col)
            reject(bad_text, "time", "time is not valid UTF-8")
        ms, ok = parse_time_column(time_col)
        reject(~ok, "time", "unparseable time (expected ISO-8601, epoch milliseconds or a timestamp)")
        absurd = ok & ((ms < MIN_TIME_MS) | (ms > now_ms + DAY_MS))
        reject(absurd, "time", "time out of range (before 2000-01-01 or more than a day in the future)")
        out["time"] = pa.array(ms, pa.int64())
    else:
        out["time"] = pa.array(np.zeros(n, dtype=np.int64))
    new_kinds: dict[str, tuple[dict[str, str], str, str]] = {}  # column -> (schema, prop, kind)
    has_group = np.zeros(n, dtype=bool)
    has_account = np.zeros(n, dtype=bool)
    for name in table.column_names:
        if name in RESERVED:
            continue
        if name.startswith(GROUP_PREFIX):
            out[name] = _group_keys(table, name, reject)
            has_group |= np.asarray(out[name].is_valid())
            continue
        target, prop = _target(name, schema, user_schema, group_schema)
        col = contiguous(table.column(name))
        if name.startswith(ACCOUNT_PREFIX):
            has_account |= np.asarray(pc.is_valid(col.storage if col.type == _MIXED else col))
        mixed = _mixed_kinds(col) if col.type == _MIXED else None
        have = kind_of_type(col.type) if mixed is None else next((k for k in mixed if k is not None), None)
        if have is None:
            continue
        problem = name_problem(prop)
        if problem is not None:
            reject(np.asarray(pc.is_valid(col.storage if mixed is not None else col)), prop or name, problem)
            continue
        if have == "string" and mixed is None:
            col, bad_text = utf8_checked(col.cast(pa.string()))
            reject(bad_text, prop, f"property {prop!r} is not valid UTF-8")
            long = too_long(col, MAX_STRING_BYTES)
            reject(long, prop, f"property {prop!r} is longer than {MAX_STRING_BYTES} bytes")
        want = target.get(prop)
        if want is None:
            if have == "unsupported":
                what = f"type {col.type}" if mixed is None else "value type"
                valid = np.asarray(pc.is_valid(col.storage if mixed is not None else col))
                reject(valid, prop, f"property {prop!r} has an unsupported {what}")
                continue
            want = have
            new_kinds[name] = (target, prop, want)
        cast, conflict = coerce_column(col, want)
        if mixed is None:
            reject(conflict, prop, reason_for_conflict(prop, want, have))
        else:
            kinds = np.array(mixed, dtype=object)
            # a conflict is a non-null row, so its kind is never None
            for k in sorted({k for i in np.flatnonzero(conflict) if (k := mixed[i]) is not None}):
                reject(conflict & (kinds == k), prop, reason_for_conflict(prop, want, k))
        out[name] = cast
    reject(has_account & ~has_group, "group_properties", "account properties need a group key (groups)")
    good = ~bad
    for name in [c for c in out if c.startswith(GROUP_PREFIX)]:
        if not pc.any(pc.is_valid(out[name]).filter(pa.array(good))).as_py():
            del out[name]  # no accepted row names a group of this type
    for name, (target, prop, kind) in new_kinds.items():
        if pc.any(pc.is_valid(out[name]).filter(pa.array(good))).as_py():
            target.setdefault(prop, kind)
        else:
            del out[name]  # no accepted row has a value: the batch says nothing about this property
    normalized = pa.table(out).filter(pa.array(good)) if bad.any() else pa.table(out)
    report = IngestReport(
        accepted=int(good.sum()),
        rejected=[Rejection(int(i), *reasons[i]) for i in np.flatnonzero(bad)],  # type: ignore[misc]
    )
    return normalized, report


def normalize_user_properties(
    table: pa.Table, user_schema: dict[str, str], now_ms: int
) -> tuple[pa.Table, IngestReport]:
    """Validate a user-property upsert (``user_id`` + property columns, optional ``time``)."""
    renamed = {}
    for name in table.column_names:
        if name in ("user_id", "time") or name.startswith(USER_PREFIX):
            renamed[name] = table.column(name)
        else:
            renamed[USER_PREFIX + name] = table.column(name)
    n = table.num_rows
    if "time" not in renamed:
        undated = np.ones(n, dtype=bool)
        renamed["time"] = pa.chunked_array([pa.array(np.full(n, now_ms, dtype=np.int64))])
    else:
        given = contiguous(renamed["time"])
        undated = np.asarray(given.is_null()) if given.null_count else np.zeros(n, dtype=bool)
        renamed["time"] = _default_time(given, now_ms)
    renamed["event_type"] = pa.chunked_array([pa.array(["$identify"] * n, pa.string())])
    normalized, report = normalize_events(pa.table(renamed), {}, user_schema, now_ms)
    if undated.any():  # rows without a time: set "now", but not time-travelled (storage/prophistory.py)
        kept = np.ones(n, dtype=bool)
        kept[[r.row for r in report.rejected]] = False
        normalized = normalized.append_column(UNDATED, pa.array(undated[kept], pa.bool_()))
    return normalized, report


def _default_time(col: pa.Array, now_ms: int) -> pa.Array:
    """The optional ``time`` of a user-property upsert: a row without one is set now."""
    if col.null_count == 0:
        return col
    t = col.type
    if pa.types.is_null(t):
        return pa.array(np.full(len(col), now_ms, dtype=np.int64))
    if pa.types.is_integer(t):
        return col.cast(pa.int64()).fill_null(now_ms)
    if pa.types.is_floating(t):
        return col.fill_null(float(now_ms))
    if pa.types.is_timestamp(t):
        return col.fill_null(pa.scalar(now_ms, pa.timestamp("ms", tz=t.tz)).cast(t))
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_dictionary(t):
        return col.cast(pa.string()).fill_null(str(now_ms))
    return col
