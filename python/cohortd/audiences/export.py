"""Streamed member exports: a saved cohort's members as identifiers, written chunk by chunk.

The same identifier rules as audiences (``user_id`` or ``user.<prop>``,
optional ``sha256``); members without the property are counted as skipped.
Files are written to a temporary name and renamed, so a reader never sees half
an export.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cohortd.audiences.model import FORMATS
from cohortd.errors import AudienceError

if TYPE_CHECKING:
    from cohortd.service import Project

__all__ = ["MemberExport", "column_name", "member_export", "write_ids"]


@dataclass
class MemberExport:
    """A cohort's members as identifier chunks; ``total`` members, ``skipped`` without an identifier."""

    cohort: str
    version: int
    total: int
    skipped: int
    chunks: Iterator[list[str]]


def member_export(
    project: Project, name: str, identifier: str = "user_id", hashing: str = "none", chunk: int = 50_000
) -> MemberExport:
    from cohortd.audiences.identifiers import Identifier

    result = project.evaluate(name)
    ident = Identifier(project.engine, identifier, hashing)
    target = ident.identifiable(result.bitmap)
    ids = np.asarray(target.to_array(), dtype=np.uint32)
    step = max(1, int(chunk))

    def chunks() -> Iterator[list[str]]:
        for i in range(0, len(ids), step):
            yield ident.values(ids[i : i + step])

    return MemberExport(
        name, result.version or 0, len(result.bitmap), len(result.bitmap) - len(target), chunks()
    )


def column_name(identifier: str, hashing: str) -> str:
    """``user_id``, ``email`` or ``email_sha256`` (the export's one column)."""
    base = identifier[len("user.") :] if identifier.startswith("user.") else identifier
    return f"{base}_sha256" if hashing == "sha256" else base


def write_ids(path: str | Path, fmt: str, column: str, chunks: Iterable[list[str]]) -> int:
    """Write one column of ids chunk by chunk (CSV with header, JSONL, Parquet); returns rows written."""
    import pyarrow as pa

    if fmt not in FORMATS:
        raise AudienceError(f"format {fmt!r}: expected one of {', '.join(FORMATS)}")
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    schema = pa.schema([(column, pa.string())])
    rows = 0
    with open(tmp, "wb") as fh:
        writer: Any = None
        if fmt == "csv":
            import pyarrow.csv as pcsv

            writer = pcsv.CSVWriter(fh, schema)
        elif fmt == "parquet":
            import pyarrow.parquet as pq

            writer = pq.ParquetWriter(fh, schema)
        for ids in chunks:
            rows += len(ids)
            if fmt == "jsonl":
                fh.write("".join(json.dumps({column: i}, ensure_ascii=False) + "\n" for i in ids).encode())
            else:
                writer.write_table(pa.table({column: pa.array(ids, pa.string())}, schema=schema))
        if writer is not None:
            writer.close()
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return rows
