"""User deletion (GDPR/CCPA): tombstone at once, physical purge at the next compaction.

A deletion is a logged batch of ``$delete`` rows (one per user id) that goes
through the same log as events, so it is durable before it is acknowledged
and replays in order.  Applying it:

* tombstones the dense ids of the user and of every id merged into them
  (``storage/identity.py``): their rows disappear from every read at once
  (segments are seen through the same view as identity merges), their user
  properties are cleared and they stop being known users;
* frees the id in the user dictionary (the entry is renamed ``$deleted:<n>``),
  so the same id arriving later is a new user.

At the next compaction every segment holding their rows is rewritten without
them, the log that named them is rotated away, the dictionaries and user
properties are saved without their strings, and values of the value
dictionary that only they used are blanked.  The audit log
(``audit/deletions.jsonl``) records who asked, when and how many rows,
keyed hashes of the ids, never the ids themselves.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc

from cohortd.errors import InvalidArgumentError
from cohortd.storage.dictionary import StringDictionary
from cohortd.storage.files import atomic_write, fsync_dir, make_dirs

DELETE = "$delete"  # event type of deletion rows (reserved: refused from clients)
DELETED_PREFIX = "$deleted:"  # what a freed dictionary entry becomes


@dataclass
class DeletionReport:
    """What a deletion found and did; ``purged`` turns true after the next compaction."""

    requested: list[str]
    found: list[str]  # ids that existed
    not_found: list[str]
    ids_deleted: int  # dense ids tombstoned (the users and every id merged into them)
    events_before: int  # their stored rows at the time of the request
    events_visible_after: int  # rows of theirs any read can still see (always 0)
    purged: bool = False
    audit: dict[str, object] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        return asdict(self)


def id_digest(user_id: str) -> str:
    """A hash of an id for the audit log (the id itself never reaches a file after compaction)."""
    return hashlib.blake2b(user_id.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def free_entries(users: StringDictionary, dense: np.ndarray) -> None:
    """Rename the dictionary entries of ``dense`` so their strings are gone and the ids reusable."""
    for i in dense.tolist():
        users.forget(int(i), f"{DELETED_PREFIX}{i}")


def purge_quarantine(qdir: Path, names: list[str]) -> int:
    """Remove deleted users from the quarantined log records (``quarantine/*.rec``); returns the
    number of records changed.

    A record that still decodes as a batch is rewritten without their rows (dropped when
    nothing else is left); one that does not decode cannot be filtered, so it is dropped
    (with its ``.reason``) when its bytes hold one of their ids.  ``names`` are dictionary
    names: anonymous ids (``$anon:<id>``) are matched with and without the prefix.
    """
    if not names or not qdir.is_dir():
        return 0
    from cohortd.storage.validate import ANON_PREFIX

    ids = set(names) | {n[len(ANON_PREFIX) :] for n in names if n.startswith(ANON_PREFIX)}
    needles = [i.encode("utf-8", "surrogatepass") for i in ids]
    changed = 0
    for rec in sorted(qdir.glob("*.rec")):
        payload = rec.read_bytes()
        try:
            batch = ipc.open_stream(pa.py_buffer(payload)).read_all()
        except Exception:  # noqa: BLE001 - an undecodable record: only its bytes can be searched
            batch = None
        if batch is None:
            if any(n in payload for n in needles):
                rec.unlink()
                rec.with_suffix(".reason").unlink(missing_ok=True)
                changed += 1
            continue
        theirs = np.zeros(batch.num_rows, bool)
        for column in ("user_id", "anonymous_id", "previous_id"):
            if column in batch.column_names:
                theirs |= _is_one_of(batch.column(column).combine_chunks(), needles)
        if not theirs.any():
            continue
        changed += 1
        if theirs.all():
            rec.unlink()
            rec.with_suffix(".reason").unlink(missing_ok=True)
            continue
        _rewrite(rec, batch.filter(pa.array(~theirs)))
    return changed


def _is_one_of(col: pa.Array, needles: list[bytes]) -> np.ndarray:
    """Rows of an id column equal to one of ``needles``, compared as bytes (invalid UTF-8 too)."""
    try:
        if pa.types.is_string(col.type):
            col = col.view(pa.binary())
        elif not pa.types.is_binary(col.type):
            col = col.cast(pa.string()).view(pa.binary())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return np.zeros(len(col), bool)
    hit = pc.is_in(col, value_set=pa.array(needles, pa.binary()))
    return np.asarray(hit.fill_null(False))


def _rewrite(path: Path, table: pa.Table) -> None:
    """Replace a quarantined record by ``table`` as an Arrow IPC stream (atomically)."""

    def write(fh: Any) -> None:
        with ipc.new_stream(fh, table.schema) as writer:
            writer.write_table(table)

    atomic_write(path, write)


def append_audit(path: Path, entry: dict[str, object]) -> None:
    """Append one JSON line to the audit log, fsync'd (a new log's directory entry too)."""
    make_dirs(path.parent)
    created = not path.exists()
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry, sort_keys=True) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    if created:
        fsync_dir(path.parent)


def delete_and_audit(engine: Any, audit_path: Path, user_ids: list[str], compact: bool) -> DeletionReport:
    """Delete through ``engine``, optionally compact (purge now), and append the audit entry."""
    if not user_ids:
        raise InvalidArgumentError("no user id to delete")
    report: DeletionReport = engine.delete_users(user_ids)
    if compact:
        engine.compact()
        report.purged = True
    audit_deletion(audit_path, report)
    return report


def audit_deletion(audit_path: Path, report: DeletionReport) -> None:
    """Append a deletion's audit entry (who, when, hashes of the ids found, counts); set ``report.audit``."""
    from cohortd import governance

    entry: dict[str, object] = {
        "at_ms": int(time.time() * 1000),
        "by": governance.author() or "(unknown)",
        "ids_blake2b": [id_digest(u) for u in report.found],
        "not_found": len(report.not_found),
        "ids_deleted": report.ids_deleted,
        "events_before": report.events_before,
        "events_visible_after": report.events_visible_after,
        "purged": report.purged,
    }
    append_audit(audit_path, entry)
    report.audit = entry


__all__ = [
    "DELETE",
    "DELETED_PREFIX",
    "DeletionReport",
    "append_audit",
    "audit_deletion",
    "delete_and_audit",
    "free_entries",
    "id_digest",
]
