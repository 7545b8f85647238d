"""Event and user-property files → validated-shape Arrow tables, in bounded chunks.

Parquet, CSV and JSON lines (``.jsonl`` / ``.ndjson``, optionally ``.gz``).
JSON lines may be flat, Amplitude export shape or Segment spec; the shape is
detected per line.  A file that is not what its extension says raises
``IngestError`` before anything is yielded, so nothing is written.
"""

from __future__ import annotations

import codecs
import gzip
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from cohortd.errors import IngestError
from cohortd.storage.validate import ERROR_COLUMN, RESERVED, USER_PREFIX, Rejection, rows_to_table

CHUNK_ROWS = 500_000
IDENTIFY = "$identify"  # event type of rows that only carry user properties
SEGMENT_GROUP_TYPE = "company"  # the group type of Segment `group` calls without a `groupType`


@dataclass
class ReadChunk:
    """Consecutive input records starting at ``first_row`` (0-based), plus rows the reader rejected."""

    table: pa.Table
    first_row: int
    rejections: list[Rejection] = field(default_factory=list)
    bytes_read: int = 0


def file_format(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    for ext, fmt in ((".parquet", "parquet"), (".csv", "csv"), (".jsonl", "jsonl"), (".ndjson", "jsonl")):
        if name.endswith(ext):
            return fmt
    raise IngestError(f"{path}: unsupported file extension (expected .parquet, .csv, .jsonl or .ndjson[.gz])")


def read_events(path: Path, chunk_rows: int = CHUNK_ROWS) -> Iterator[ReadChunk]:
    """Chunks of an event file; checks the file's format before the first chunk."""
    return _read(Path(path), chunk_rows, ("user_id", "event_type", "time"))


def read_users(path: Path, chunk_rows: int = CHUNK_ROWS) -> Iterator[ReadChunk]:
    """Chunks of a user-property file (``user_id`` + property columns)."""
    return _read(Path(path), chunk_rows, ("user_id",))


def _read(path: Path, chunk_rows: int, required: tuple[str, ...]) -> Iterator[ReadChunk]:
    if not path.is_file():
        raise IngestError(f"{path}: no such file")
    fmt = file_format(path)
    if fmt == "parquet":
        return _read_parquet(path, chunk_rows, required)
    if fmt == "csv":
        return _read_csv(path, chunk_rows, required)
    return _read_jsonl(path, chunk_rows, required)


def _check_columns(path: Path, names: list[str], required: tuple[str, ...], what: str) -> None:
    missing = [c for c in required if c not in names]
    if missing:
        raise IngestError(
            f"{path}: not an event file of the expected shape ({what} lacks column(s) {missing})"
        )


def _read_parquet(path: Path, chunk_rows: int, required: tuple[str, ...]) -> Iterator[ReadChunk]:
    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise IngestError(f"{path}: not a Parquet file ({exc})") from exc
    _check_columns(path, pf.schema_arrow.names, required, "Parquet schema")

    def chunks() -> Iterator[ReadChunk]:
        row = 0
        total = max(pf.metadata.num_rows, 1)
        size = path.stat().st_size
        # one thread decodes: the reader is a stage of its own beside two busy ones
        # (engine.ingest_file), and Arrow's decoding threads would only compete with them
        for batch in pf.iter_batches(batch_size=chunk_rows, use_threads=False):
            table = pa.Table.from_batches([batch])
            yield ReadChunk(table, row, bytes_read=int(size * (row + batch.num_rows) / total))
            row += batch.num_rows

    return chunks()


def _check_text(path: Path, what: str) -> None:
    """Reject binary files before a text reader sees them (NUL bytes or invalid UTF-8 up front)."""
    try:
        with _open_bytes(path) as fh:
            head = fh.read(1 << 16)
    except (OSError, EOFError) as exc:
        raise IngestError(f"{path}: not a {what} file ({exc})") from exc
    if b"\x00" in head:
        raise IngestError(f"{path}: not a {what} file (binary content)")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError as exc:
        detail = f"not UTF-8 text: {exc.reason} at byte {exc.start}"
        raise IngestError(f"{path}: not a {what} file ({detail})") from exc


def _read_csv(path: Path, chunk_rows: int, required: tuple[str, ...]) -> Iterator[ReadChunk]:
    bad: list[Rejection] = []
    _check_text(path, "CSV")

    def on_invalid(row: Any) -> str:
        number = row.number if row.number is not None and row.number >= 0 else -1
        bad.append(Rejection(max(number - 2, 0), "line", f"malformed CSV row: {row.text[:80]!r}"))
        return "skip"

    fh = _open_bytes(path)
    try:
        reader = pcsv.open_csv(
            fh,
            read_options=pcsv.ReadOptions(block_size=1 << 24),
            parse_options=pcsv.ParseOptions(invalid_row_handler=on_invalid),
            convert_options=pcsv.ConvertOptions(
                column_types={"user_id": pa.string(), "time": pa.string()},
                # an empty field is a missing property (null), as for every other type; "" stays ""
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
            ),
        )
        _check_columns(path, reader.schema.names, required, "CSV header")
    except (pa.ArrowInvalid, UnicodeDecodeError, OSError) as exc:
        fh.close()
        raise IngestError(f"{path}: not a CSV file ({exc})") from exc
    except IngestError:
        fh.close()
        raise

    def chunks() -> Iterator[ReadChunk]:
        row = 0
        with fh:
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    return
                except pa.ArrowInvalid as exc:
                    raise IngestError(f"{path}: CSV parse error after row {row} ({exc})") from exc
                table = pa.Table.from_batches([batch])
                found, bad[:] = list(bad), []
                yield ReadChunk(table, row, found)
                row += batch.num_rows + len(found)

    return chunks()


def _open_bytes(path: Path) -> gzip.GzipFile | io.BufferedReader:
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rb")
    return open(path, "rb")


def _read_jsonl(path: Path, chunk_rows: int, required: tuple[str, ...]) -> Iterator[ReadChunk]:
    _check_text(path, "JSON lines")
    fh = io.TextIOWrapper(_open_bytes(path), encoding="utf-8")
    try:
        first = ""
        while not first.strip():
            first = fh.readline()
            if not first:
                break
        if first.strip() and not isinstance(json.loads(first), dict):
            raise ValueError("first line is not a JSON object")
    except (ValueError, OSError, EOFError, UnicodeDecodeError) as exc:
        fh.close()
        raise IngestError(f"{path}: not a JSON lines file ({exc})") from exc

    def chunks() -> Iterator[ReadChunk]:
        rows: list[dict[str, Any]] = []
        start = 0
        lines = [first] if first.strip() else []
        with fh:
            for line in _chain(lines, fh):
                if not line.strip():
                    continue
                rows.append(json_line_to_row(line))
                if len(rows) >= chunk_rows:
                    yield ReadChunk(rows_to_table(rows), start)
                    start += len(rows)
                    rows = []
            if rows:
                yield ReadChunk(rows_to_table(rows), start)

    return chunks()


def _chain(head: list[str], rest: io.TextIOWrapper) -> Iterator[str]:
    yield from head
    yield from rest


def json_line_to_row(line: str) -> dict[str, Any]:
    """One JSON line in flat, Amplitude or Segment shape → one flat row dict."""
    try:
        obj = json.loads(line)
    except ValueError as exc:
        return {ERROR_COLUMN: f"not valid JSON ({exc.args[0][:60]})"}
    if not isinstance(obj, dict):
        return {ERROR_COLUMN: "not a JSON object"}
    segment_ids = "userId" in obj or "anonymousId" in obj or "event" in obj
    if obj.get("type") in ("track", "identify", "alias", "page", "screen", "group") and segment_ids:
        return _segment_row(obj)
    if "event_time" in obj or "event_properties" in obj:
        return _amplitude_row(obj)
    return _flat_row(obj)


def _props(d: Any) -> dict[str, Any]:
    """Nested event properties; one named like a row field (``time``…) is kept as ``property_<name>``."""
    if not isinstance(d, dict):
        return {}
    return {(f"property_{k}" if k in RESERVED else k): v for k, v in d.items()}


def _segment_row(obj: dict[str, Any]) -> dict[str, Any]:
    ids = {"user_id": obj.get("userId"), "anonymous_id": obj.get("anonymousId")}
    if obj["type"] == "group":  # an account: the user belongs to it, its traits are account properties
        group_type = str(obj.get("groupType") or SEGMENT_GROUP_TYPE)
        return {
            **ids,
            "event_type": IDENTIFY,
            "time": obj.get("timestamp"),
            "groups": {group_type: obj.get("groupId")},
            "group_properties": _props(obj.get("traits")),
        }
    if obj["type"] in ("identify", "alias"):
        row: dict[str, Any] = {**ids, "event_type": IDENTIFY, "time": obj.get("timestamp")}
        if obj["type"] == "alias":
            row["previous_id"] = obj.get("previousId")
        row["user_properties"] = _props(obj.get("traits"))
        return row
    name = obj.get("event") if obj["type"] == "track" else obj.get("name") or obj["type"]
    row = {**ids, "event_type": name, "time": obj.get("timestamp")}
    row.update(_props(obj.get("properties")))
    if isinstance(obj.get("context"), dict) and isinstance(obj["context"].get("traits"), dict):
        row["user_properties"] = _props(obj["context"]["traits"])
    if isinstance(obj.get("context"), dict) and obj["context"].get("groupId") is not None:
        row["groups"] = {SEGMENT_GROUP_TYPE: obj["context"]["groupId"]}
    return row


def _amplitude_row(obj: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {
        "user_id": obj.get("user_id"),
        "anonymous_id": obj.get("device_id"),
        "event_type": obj.get("event_type"),
        "time": obj.get("event_time", obj.get("time")),
    }
    row.update(_props(obj.get("event_properties")))
    if obj.get("user_properties"):
        row["user_properties"] = _props(obj.get("user_properties"))
    for nested in ("groups", "group_properties"):  # Amplitude's account fields, kept as they are
        if obj.get(nested):
            row[nested] = obj[nested]
    return row


def _flat_row(obj: dict[str, Any]) -> dict[str, Any]:
    nested = ("user_properties", "groups", "group_properties")
    row = {k: v for k, v in obj.items() if not isinstance(v, dict) or k in nested}
    for k, v in obj.items():
        if isinstance(v, dict) and k not in nested:
            row[k] = json.dumps(v)  # nested objects are kept as JSON text properties
    return row


__all__ = [
    "ReadChunk",
    "read_events",
    "read_users",
    "file_format",
    "json_line_to_row",
    "IDENTIFY",
    "USER_PREFIX",
]
