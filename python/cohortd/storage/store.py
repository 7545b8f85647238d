"""The event store of one data directory: log, tail, sealed segments, dictionaries.

Layout of a data directory::

    manifest.json               live segments, log generation, schemas (atomically replaced)
    wal-<gen>.log               batches accepted since the last checkpoint
    segments/seg-<n>.arrow      sealed segments (+ .index.arrow)
    dict-<kind>-<gen>.arrow     user / event type / value dictionaries at the checkpoint
    userprops-<gen>.arrow       user properties at the checkpoint
    groups-<gen>.arrow          user -> group membership (storage/groups.py)
    groupprops-<gen>.arrow      account (group) properties
    userhist-<gen>.arrow        every user-property change with its time (storage/prophistory.py)

    quarantine/                 log records that could not be applied on replay (kept, reported)

The ingest gate is :meth:`EventStore.ingest`: a batch is validated completely
(``validate.py``), logged (fsync'd) and applied to the in-memory tail there and
nowhere else; the gRPC server, ``cohortd ingest`` and the embedded API all call
it.  A checkpoint ("seal") writes the tail as a segment, saves dictionaries and
user properties, points the manifest at a fresh log and deletes the old one.
Opening replays the log on top of the checkpoint.

Integrity: the manifest records the size and CRC-32 of every file it lists and
a checksum of itself; both are verified on open, and a mismatch refuses to
open (``CorruptionError``) instead of answering from damaged data.  Files are
deleted only when the manifest proves them superseded; a directory whose
manifest is missing but whose data files exist is refused, never cleaned.

Failures: a batch that got an error was not stored (the log is cut back); a
seal or merge that fails after a batch was stored is logged, counted in
:attr:`EventStore.health`, retried later, and never reported as the batch's
error.
"""

from __future__ import annotations

import io
import json
import logging
import math
import re
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc
from pyroaring import BitMap

from cohortd.errors import CorruptionError, DirSyncError, IngestError, StorageError, StorageFullError
from cohortd.storage import files
from cohortd.storage.deletion import DELETE, DeletionReport, free_entries, purge_quarantine
from cohortd.storage.dictionary import StringDictionary, dictionary_encoded, distinct_values
from cohortd.storage.files import FileSum, atomic_write, atomic_write_json, file_sum, make_dirs
from cohortd.storage.groups import ACCOUNT_PREFIX, GROUP_PREFIX, GroupMembership, entity_name
from cohortd.storage.identity import LINK_COLUMNS, IdentityMap, apply_links, canonical_segment, encode_links
from cohortd.storage.prophistory import UNDATED, PropertyHistory
from cohortd.storage.readers import IDENTIFY
from cohortd.storage.segment import PROP_PREFIX, Segment
from cohortd.storage.userprops import UserProperties
from cohortd.storage.validate import (
    USER_PREFIX,
    IngestReport,
    canonical_problem,
    contiguous,
    kind_of_type,
    normalize_events,
    normalize_user_properties,
)
from cohortd.storage.wal import Record, WriteAheadLog

FORMAT_VERSION = 1
NEVER = np.iinfo(np.int64).max
SEAL_ROWS = 2_000_000  # seal the tail once it holds this many events
SEAL_BATCHES = 256  # ... or after this many batches (the log then replays fast on open)
BULK_TAIL_BYTES = 1 << 30  # during a bulk load (EventStore.bulk) seal once the tail holds this much
BULK_TAIL_SEGMENTS = 64  # ... and merge tail segments again once there are more than this many
MERGE_FANIN = 4  # merge when this many segments of one time partition share a size tier
PARTITION_MS = 7 * 86_400_000  # sealed segments never span two weeks: windows prune whole segments
DICT_KINDS = ("users", "types", "values")
RETRY_MAX_S = 30.0  # longest wait before a failed background seal/merge is tried again
_WRITE_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="segment-write")  # see _write_partitioned

log = logging.getLogger("cohortd.storage")


@dataclass
class Ingested:
    """What the gate stored for one batch: the report, the canonical rows and who they touch."""

    report: IngestReport
    batch: pa.Table
    dense: np.ndarray  # dense user id of every stored row (and of merged ids), repeats included
    types: set[str]  # event types of the stored rows ($identify excluded)
    user_props: bool  # whether some stored row sets a user property
    _users: np.ndarray | None = field(default=None, repr=False)

    @property
    def users(self) -> np.ndarray:
        """Distinct dense user ids of the stored rows, sorted; computed on first use (only
        listeners ask, so a bulk load without any does not sort every chunk's ids)."""
        if self._users is None:
            self._users = np.unique(self.dense)
        return self._users


@dataclass
class Prepared:
    """A batch validated and encoded for the log by :meth:`EventStore.prepare`, not yet stored."""

    table: pa.Table  # as given: validated again when the schemas changed before it is stored
    now_ms: int
    users: bool
    base: tuple[dict[str, str], dict[str, str], dict[str, str]]  # schemas it was validated against
    extended: tuple[dict[str, str], dict[str, str], dict[str, str]]  # ... and with its new properties
    normalized: pa.Table
    report: IngestReport
    payload: bytes  # the log record (empty when no row is to be stored)
    encoded: dict[str, pa.Array] = field(default_factory=dict)  # string columns, dictionary-encoded once


@dataclass
class StorageHealth:
    """Problems a store met without failing a request: reported by ``cohortd verify`` and logs."""

    quarantined: list[str] = field(default_factory=list)  # log records set aside on replay
    background_failures: int = 0  # seal/merge attempts that failed (each retried)
    last_background_error: str | None = None
    pending_retry: bool = False  # a failed seal/merge is waiting for its retry

    def as_json(self) -> dict[str, Any]:
        return {
            "quarantined": list(self.quarantined),
            "background_failures": self.background_failures,
            "last_background_error": self.last_background_error,
            "pending_retry": self.pending_retry,
        }


@dataclass(frozen=True)
class Snapshot:
    """A consistent read view: every segment (sealed, then tail) and per-user first-seen times."""

    segments: tuple[Segment, ...]
    first_seen: np.ndarray  # int64 per dense user id; NEVER for users without events
    version: int


class EventStore:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.lock = threading.RLock()
        self.users = StringDictionary()
        self.types = StringDictionary()
        self.values = StringDictionary()
        self.schema: dict[str, str] = {}
        self.user_schema: dict[str, str] = {}
        self.user_props = UserProperties()
        self.group_schema: dict[str, str] = {}  # account properties (storage/groups.py)
        self.groups = GroupMembership()
        self.group_props = UserProperties()  # keyed by the group's dense id
        self.prop_history = PropertyHistory()  # user properties as they were (storage/prophistory.py)
        self.time_zone = "UTC"  # the project's IANA zone (set by the engine from storage/settings.py)
        self.identity = IdentityMap()  # anonymous ids and aliases -> canonical user (storage/identity.py)
        self._views: dict[str, tuple[int, Segment]] = {}  # segments seen through the identity map
        self._canon: tuple[int, int, np.ndarray] | None = None  # (identity version, n, root of every id)
        self._merged_now = False  # whether the batch being applied merged ids
        self._scrub: set[int] = set()  # value codes deleted users had (blanked at compaction if unused)
        self.sealed: list[Segment] = []
        self.tail: list[Segment] = []
        self.first_seen = np.full(0, NEVER, dtype=np.int64)
        self._first_seen_copy: np.ndarray | None = None  # shared by snapshots until the next change
        self._published: Snapshot | None = None  # the last view built (see recent_snapshot)
        self.version = 0
        self._generation = 0
        self._next_segment = 1
        self._tail_serial = 0
        self._tail_batches = 0  # batches since the last checkpoint
        self._bulk = 0  # open bulk loads (see bulk): seal by size at the end, tail merges deferred
        self._wal: WriteAheadLog | None = None
        self._sums: dict[str, FileSum] = {}  # live file (relative path) -> size and CRC-32
        self.health = StorageHealth()
        self.purge_listeners: list[Callable[[BitMap], None]] = []
        """Called with the dense ids a deletion's purge forgot (other copies: audiences.sqlite)."""
        self._retry_at = 0.0  # monotonic time before which a failed background seal is not retried
        self._consecutive_failures = 0

    # ------------------------------------------------------------------ open
    @classmethod
    def open(cls, path: Path) -> EventStore:
        store = cls(path)
        store._recover()
        return store

    @property
    def segments_dir(self) -> Path:
        return self.path / "segments"

    def _wal_path(self, gen: int) -> Path:
        return self.path / f"wal-{gen:08d}.log"

    def _recover(self) -> None:
        make_dirs(self.segments_dir)  # fsync'd into their parents: a new project survives a power loss
        manifest = self._read_manifest()
        if manifest is not None:
            gen = self._generation = manifest["generation"]
            self._next_segment = manifest["next_segment"]
            self.schema = manifest["schema"]
            self.user_schema = manifest["user_schema"]
            self._verify_files(manifest)
            self.users = StringDictionary.load(self.path / f"dict-users-{gen:08d}.arrow")
            self.types = StringDictionary.load(self.path / f"dict-types-{gen:08d}.arrow")
            self.values = StringDictionary.load(self.path / f"dict-values-{gen:08d}.arrow")
            self.user_props = UserProperties.load(self.path / f"userprops-{gen:08d}.arrow")
            self.identity = IdentityMap.load(self.path / f"identity-{gen:08d}.arrow")
            self.group_schema = manifest.get("group_schema", {})
            self.groups = GroupMembership.load(self.path / f"groups-{gen:08d}.arrow")
            if (self.path / f"groupprops-{gen:08d}.arrow").exists():
                self.group_props = UserProperties.load(self.path / f"groupprops-{gen:08d}.arrow")
            if f"userhist-{gen:08d}.arrow" in self._sums:  # checkpoints from before the history have none
                self.prop_history = PropertyHistory.load(self.path / f"userhist-{gen:08d}.arrow")
            self.sealed = [Segment.open(self.segments_dir, name) for name in manifest["segments"]]
        self._remove_debris(manifest is not None)
        self.first_seen = np.full(max(len(self.users), 1024), NEVER, dtype=np.int64)
        canon = self.identity.canon(len(self.users))
        for seg in self.sealed:
            np.minimum.at(self.first_seen, canon[seg.users], seg.times)
        self._first_seen_copy = None
        for gen in self._log_generations():
            wal = self._wal_path(gen)
            for record in WriteAheadLog.replay(wal):
                self._replay(wal, record)
        self._wal = WriteAheadLog(self._wal_path(self._generation))
        self.version = 1

    def _read_manifest(self) -> dict[str, Any] | None:
        """The verified manifest, or None for a store that never completed a checkpoint."""
        path = self.path / "manifest.json"
        if not path.exists():
            data_files = [p.name for p in self.segments_dir.iterdir() if p.suffix == ".arrow"]
            data_files += [
                p.name
                for p in self.path.iterdir()
                if re.match(r"(dict-\w+|userprops|userhist)-\d+\.arrow$", p.name)
                or re.match(r"wal-\d+\.log$", p.name)
            ]
            if self._wal_path(0).exists() or not data_files:
                return None  # never checkpointed: whatever else is here is a failed first checkpoint
            raise CorruptionError(
                f"{path} is missing but the directory holds {len(data_files)} data file(s) "
                f"(e.g. {sorted(data_files)[0]}); refusing to open rather than guess which are live "
                "(nothing was deleted; restore the manifest from a backup)"
            )
        try:
            manifest = json.loads(path.read_text())
        except (ValueError, UnicodeDecodeError) as exc:
            raise CorruptionError(f"{path}: unreadable manifest ({exc}); nothing was deleted") from exc
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_VERSION:
            got = manifest.get("format") if isinstance(manifest, dict) else manifest
            raise StorageError(f"{path}: unsupported format {got}")
        stored = manifest.pop("checksum", None)
        if stored is not None and stored != _manifest_checksum(manifest):
            raise CorruptionError(f"{path}: the manifest fails its checksum; nothing was deleted")
        for key in ("generation", "next_segment", "segments", "schema", "user_schema"):
            if key not in manifest:
                raise CorruptionError(f"{path}: the manifest has no {key!r}; nothing was deleted")
        self._sums = {name: FileSum(s["size"], s["crc32"]) for name, s in manifest.get("files", {}).items()}
        return manifest

    def _verify_files(self, manifest: dict[str, Any]) -> None:
        """Every file the manifest lists exists with the recorded size and CRC-32 (read on two
        threads: file reads and zlib's CRC release the GIL, and this is most of an open's time)."""
        for name in self._sums:
            if not (self.path / name).exists():
                raise CorruptionError(f"{self.path / name} is listed in the manifest but missing")
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="verify") as pool:
            sums = list(pool.map(file_sum, [self.path / name for name in self._sums]))
        for (name, want), got in zip(self._sums.items(), sums, strict=True):
            path = self.path / name
            if got != want:
                raise CorruptionError(
                    f"{path} fails its checksum (size {got.size}, crc32 {got.crc32:08x}; the manifest "
                    f"recorded size {want.size}, crc32 {want.crc32:08x}); refusing to answer from damaged "
                    "data (run `cohortd verify` for a full report)"
                )

    def _replay(self, wal: Path, record: Record) -> None:
        """Apply one logged batch, or quarantine it when it cannot be applied (the open goes on)."""
        try:
            batch = _decode(record.payload)
        except Exception as exc:  # noqa: BLE001 - any undecodable record is set aside
            self._quarantine(wal, record, f"undecodable record ({type(exc).__name__}: {exc})")
            return
        problem = canonical_problem(batch, self.schema, self.user_schema, group_schema=self.group_schema)
        if problem is not None:
            self._quarantine(wal, record, problem)
            return
        try:
            self._apply(batch)
        except Exception as exc:  # noqa: BLE001 - checked above; anything left is set aside, not fatal
            self._quarantine(wal, record, f"could not be applied ({type(exc).__name__}: {exc})")
            return
        self._tail_batches += 1

    def _quarantine(self, wal: Path, record: Record, reason: str) -> None:
        """Keep a record that cannot be applied beside the data (``quarantine/``) and report it."""
        name = f"{wal.stem}-{record.offset:012d}"
        what = f"{wal.name} record at byte {record.offset}: {reason}"
        log.error("quarantined %s (the project opens without it; the record is kept in quarantine/%s.rec)",
                  what, name)  # fmt: skip
        self.health.quarantined.append(what)
        qdir = self.path / "quarantine"
        try:
            make_dirs(qdir)
            if not (qdir / f"{name}.rec").exists():
                atomic_write(qdir / f"{name}.reason", lambda fh: fh.write(reason.encode()))
                atomic_write(qdir / f"{name}.rec", lambda fh: fh.write(record.payload))
        except OSError as exc:
            log.error("could not save quarantined record %s: %s", name, exc)

    def _log_generations(self) -> list[int]:
        gens = []
        for p in self.path.glob("wal-*.log"):
            g = int(p.stem.split("-")[1])
            if g >= self._generation:
                gens.append(g)
        return sorted(gens)

    def _remove_debris(self, checkpointed: bool) -> None:
        """Delete what a crash mid-checkpoint or mid-merge provably left behind.

        Temporary files were never renamed into place.  With a verified manifest,
        unlisted segments and older-generation files are superseded; without one
        (a store that never completed its first checkpoint, see ``_read_manifest``)
        every segment is from that failed checkpoint and its log still holds the data.
        """
        live = {s.name for s in self.sealed}
        for p in self.segments_dir.iterdir():
            if p.name.endswith(".tmp") or p.name.split(".")[0] not in live:
                _unlink(p)
        for p in self.path.iterdir():
            m = re.match(
                r"(dict-\w+|userprops|userhist|identity|groups|groupprops|wal)-(\d+)\.(arrow|log)$", p.name
            )
            if p.name.endswith(".tmp"):
                _unlink(p)
            elif m and m.group(1) != "wal" and not checkpointed:
                _unlink(p)
            elif m and int(m.group(2)) < self._generation:
                _unlink(p)

    # --------------------------------------------------------------- writing
    def ingest(self, table: pa.Table, now_ms: int, users: bool = False) -> Ingested:
        """The ingest gate: validate a batch completely, log it durably, make it visible.

        ``users`` marks a user-property upsert (``user_id`` + property columns).
        Bad rows are rejected in the report, good rows stored.  Raises
        ``StorageFullError`` (disk full) or ``StorageError`` (I/O failure) when
        nothing of the batch was stored, and ``IngestError`` for a table that is
        not valid Arrow; once the batch is logged no error is raised.
        """
        return self.ingest_prepared(self.prepare(table, now_ms, users))

    def prepare(self, table: pa.Table, now_ms: int, users: bool = False) -> Prepared:
        """Validate a batch and encode its log record, outside the lock (the slow, pure part).

        Against a copy of the schemas; :meth:`ingest_prepared` stores it, validating again
        if another batch changed the schemas meanwhile.  Raises ``IngestError`` as ``ingest``.
        """
        # Without the lock, which the writer holds while it logs and applies the batch before
        # (this runs beside it): each dict copy is atomic under the GIL, and a mix of old and
        # new schemas differs from the store's at ingest_prepared, so it is validated again.
        base = (dict(self.schema), dict(self.user_schema), dict(self.group_schema))
        schema, user_schema, group_schema = (dict(d) for d in base)
        if users:
            normalized, report = normalize_user_properties(table, user_schema, now_ms)
        else:
            normalized, report = normalize_events(table, schema, user_schema, now_ms, group_schema)
        problem = canonical_problem(normalized, schema, user_schema, False, group_schema)
        if problem is not None:  # a gap in validation: refuse rather than log what replay would quarantine
            raise IngestError(f"batch cannot be stored ({problem}); nothing was stored")
        # Every string column is dictionary-encoded once, here, beside the writer: the log record
        # carries the encoded columns (half the bytes to compress), and applying the batch
        # hashes only each column's distinct strings into the dictionaries.
        encoded = dictionary_encoded(normalized)
        # a bulk load's read-ahead thread compresses alone (its pipeline keeps both cores busy)
        payload = _encode(normalized, encoded, threads=not self._bulk) if normalized.num_rows else b""
        extended = (schema, user_schema, group_schema)
        return Prepared(table, now_ms, users, base, extended, normalized, report, payload, encoded)

    def ingest_prepared(self, prepared: Prepared) -> Ingested:
        """Log and apply a prepared batch (the gate's second half, under the lock)."""
        with self.lock:
            if prepared.base != (self.schema, self.user_schema, self.group_schema):
                prepared = self.prepare(prepared.table, prepared.now_ms, prepared.users)  # we hold the lock
            normalized, report = prepared.normalized, prepared.report
            if normalized.num_rows == 0:
                return Ingested(report, normalized, np.empty(0, np.uint32), set(), False)
            self._log(prepared.payload)
            schema, user_schema, group_schema = prepared.extended
            self.schema.update(schema)
            self.user_schema.update(user_schema)
            self.group_schema.update(group_schema)
            return self._stored(report, normalized, prepared.encoded)

    def append_canonical(self, batch: pa.Table) -> Ingested:
        """Log and apply a batch already in the log's canonical form (one durable record).

        For a batch built from stored rows rather than from a client (the cluster
        moving a user between shards, ``cohortd.cluster.moves``); it is checked as
        replay checks a logged record, so a malformed one is refused before logging.
        """
        with self.lock:
            problem = canonical_problem(batch, self.schema, self.user_schema, True, self.group_schema)
            if problem is not None:
                raise IngestError(f"batch cannot be stored ({problem}); nothing was stored")
            self._log(_encode(batch))
            return self._stored(IngestReport(accepted=batch.num_rows, rejected=[]), batch)

    def _stored(
        self, report: IngestReport, normalized: pa.Table, encoded: dict[str, pa.Array] | None = None
    ) -> Ingested:
        """Apply a batch just logged (under the lock) and say what it touched."""
        self._merged_now = False
        dense = self._apply(normalized, encoded or {})
        merged_ids = self._merged_now  # a merge changes the merged users' every event type and property
        known = (encoded or {}).get("event_type")  # the column's distinct values, found by prepare
        names = (
            known.dictionary if known is not None else pc.unique(normalized.column("event_type"))
        ).to_pylist()
        types = set(names) - {IDENTIFY}
        if merged_ids:
            types |= {self.types.value(i) for i in range(len(self.types))} - {IDENTIFY}
        self.version += 1
        self._tail_batches += 1
        self._snapshot_locked()  # published: readers of recent_snapshot need not wait for a seal
        self._seal_if_due()
        user_props = merged_ids or any(
            name.startswith((USER_PREFIX, GROUP_PREFIX, ACCOUNT_PREFIX))
            and normalized.column(name).null_count < normalized.num_rows
            for name in normalized.column_names
        )
        return Ingested(report, normalized, dense, types, user_props)

    @contextmanager
    def bulk(self) -> Iterator[None]:
        """A bulk load (a file): every row is sorted and written once instead of three times.

        While it lasts, the tail is sealed only once it holds ``BULK_TAIL_BYTES`` (not
        ``SEAL_ROWS``) and its segments are not merged pairwise on arrival; at the end the
        normal rules apply.  One seal then writes each time partition once, so a compaction
        after the load has nothing to merge.  Durability is unchanged: every batch is in the
        log before its ingest returns, and a crash replays it.
        """
        with self.lock:
            self._bulk += 1
        try:
            yield
        finally:
            with self.lock:
                self._bulk -= 1
                if not self._bulk:
                    self._seal_if_due()
                    self._merge_tail()

    def _log(self, payload: bytes) -> None:
        """Append one record; an OSError becomes StorageFullError / StorageError (nothing stored)."""
        assert self._wal is not None, "store is closed"
        try:
            self._wal.append(payload)
        except OSError as exc:
            detail = f"{exc.strerror or exc}" if isinstance(exc, OSError) else str(exc)
            if files.is_no_space(exc):
                raise StorageFullError(
                    f"no space left for the data directory ({detail}): the batch was not stored; reads keep "
                    "working and ingest resumes once space is freed"
                ) from exc
            raise StorageError(f"could not write the log ({detail}): the batch was not stored") from exc

    def _seal_if_due(self) -> None:
        """Seal when the tail is big enough; a failure is logged, reported and retried, never raised."""
        if self._bulk:
            due = sum(s.table.nbytes for s in self.tail) >= BULK_TAIL_BYTES
        else:
            due = sum(s.num_rows for s in self.tail) >= SEAL_ROWS
        due = due or self._tail_batches >= SEAL_BATCHES
        if not due or time.monotonic() < self._retry_at:
            return
        try:
            self.seal()
        except Exception as exc:  # noqa: BLE001 - the batch is stored; the seal is retried later
            self._background_failed("seal", exc)

    def _background_failed(self, what: str, exc: BaseException) -> None:
        self._consecutive_failures += 1
        delay = min(RETRY_MAX_S, 0.05 * 2**self._consecutive_failures)
        self._retry_at = time.monotonic() + delay
        self.health.background_failures += 1
        self.health.last_background_error = f"{what}: {type(exc).__name__}: {exc}"
        self.health.pending_retry = True
        log.warning("%s of %s failed (%s: %s); stored batches are safe in the log, retrying in %.2fs",
                    what, self.path, type(exc).__name__, exc, delay)  # fmt: skip

    def _background_ok(self) -> None:
        self._consecutive_failures = 0
        self._retry_at = 0.0
        self.health.pending_retry = False

    def _apply(self, batch: pa.Table, encoded: dict[str, pa.Array] | None = None) -> np.ndarray:
        """Make a logged batch visible; returns the dense user id of every row.

        ``encoded`` holds the batch's string columns dictionary-encoded when ``prepare``
        encoded them ahead (the same ids result); a column is used only while the batch
        still has all its rows.
        """
        encoded = encoded or {}
        distinct = {
            name: distinct_values(encoded[name]) for name in ("user_id", "event_type") if name in encoded
        }
        self._first_seen_copy = None  # first_seen changes below (first events, merges, deletions)
        if batch.num_rows and batch.column("event_type")[0].as_py() == DELETE:
            return self._apply_deletion(batch)
        known = distinct.get("event_type")
        if known is not None and len(known[1]) == batch.num_rows:  # no string compare per row
            at = pc.index(known[0], IDENTIFY).as_py()  # -1: no $identify row in the batch
            is_identify = known[1] == at if at >= 0 else np.zeros(batch.num_rows, bool)
        else:
            is_identify = np.asarray(contiguous(pc.equal(batch.column("event_type"), IDENTIFY)))
        users = self.users.encode_distinct(
            distinct.get("user_id") or distinct_values(batch.column("user_id"))
        )
        times = contiguous(batch.column("time")).to_numpy().astype(np.int64, copy=False)
        links = encode_links(self.users, batch, users)
        self._grow_users(len(self.users))
        merged = apply_links(self.identity, self.users, links, self.first_seen, self.user_props)
        users = self.identity.find(users)  # rows of a linked id are stored under its root
        if self.identity.deleted:  # rows of a deleted user arriving before the purge are dropped
            alive = ~np.isin(users, np.fromiter(self.identity.deleted, np.uint32))
            if not alive.all():
                batch, users, times = batch.filter(pa.array(alive)), users[alive], times[alive]
                is_identify = is_identify[alive]
        self._apply_user_props(batch, users, times)
        self._apply_groups(batch, users, times)
        self._merged_now = len(merged) > 0
        dense = np.concatenate((users, merged)) if len(merged) else users
        events = ~is_identify
        if not events.any():
            return dense
        if not events.all():
            keep = pa.array(events)
            batch, users, times = batch.filter(keep), users[events], times[events]
        type_values = distinct.get("event_type")
        if type_values is None or len(type_values[1]) != batch.num_rows:  # rows were left out above:
            type_values = distinct_values(batch.column("event_type"))  # the stored rows' types only
        columns = {
            "user": pa.array(users, pa.uint32()),
            "type": pa.array(self.types.encode_distinct(type_values), pa.uint32()),
            "time": pa.array(times, pa.int64()),
        }
        for name in batch.column_names:
            if name in ("user_id", "event_type", "time", UNDATED, *LINK_COLUMNS) or name.startswith(
                (USER_PREFIX, GROUP_PREFIX, ACCOUNT_PREFIX)
            ):
                continue
            col = encoded.get(name)
            if col is None or len(col) != batch.num_rows:
                col = contiguous(batch.column(name))
            kind = self.schema.setdefault(name, kind_of_type(col.type) or "string")
            columns[PROP_PREFIX + name] = self._encode_prop(col, kind)
        np.minimum.at(self.first_seen, users, times)
        self.tail.append(Segment.build(self._tail_name(), pa.table(columns), threads=not self._bulk))
        if not self._bulk or len(self.tail) > BULK_TAIL_SEGMENTS:
            self._merge_tail()
        return dense

    def _merge_tail(self) -> None:
        """Binary-counter merging: O(log n) in-memory segments (each query and each incremental
        step pays per segment) for O(n log n) total sorting work."""
        while len(self.tail) >= 2 and self.tail[-1].num_rows * 2 >= self.tail[-2].num_rows:
            last = self.tail.pop()
            self.tail[-1] = Segment.merge(self._tail_name(), [self.tail[-1], last])

    def _tail_name(self) -> str:
        self._tail_serial += 1
        return f"tail-{self._tail_serial}"

    def _encode_prop(self, col: pa.Array, kind: str) -> pa.Array:
        if kind != "string":
            return col
        enc = col if pa.types.is_dictionary(col.type) else col.dictionary_encode()
        ids = pa.array(self.values.encode_unique(enc.dictionary), pa.uint32())
        return ids.take(enc.indices)  # one gather; a null value stays null

    def _apply_user_props(self, batch: pa.Table, users: np.ndarray, times: np.ndarray) -> None:
        undated = (
            np.asarray(contiguous(batch.column(UNDATED)))
            if UNDATED in batch.column_names
            else np.zeros(batch.num_rows, bool)
        )
        for name in batch.column_names:
            if not name.startswith(USER_PREFIX):
                continue
            prop = name[len(USER_PREFIX) :]
            col = contiguous(batch.column(name))
            kind = self.user_schema.setdefault(prop, kind_of_type(col.type) or "string")
            has = np.asarray(col.is_valid())
            if not has.any():
                continue
            if kind == "string":
                values = np.asarray(self._encode_prop(col, kind).fill_null(0).to_numpy(zero_copy_only=False))
            else:
                fill = False if kind == "bool" else 0
                values = col.fill_null(fill).to_numpy(zero_copy_only=False)
            self.user_props.column(prop, kind).update(users[has], times[has], values[has])
            self.prop_history.record(prop, kind, users[has], times[has], values[has], ~undated[has])

    def _apply_groups(self, batch: pa.Table, users: np.ndarray, times: np.ndarray) -> None:
        """Memberships of the rows' users in the groups they name; account properties of those groups."""
        group_columns = [c for c in batch.column_names if c.startswith(GROUP_PREFIX)]
        if not group_columns:
            return
        accounts = [c for c in batch.column_names if c.startswith(ACCOUNT_PREFIX)]
        for name in group_columns:
            group_type = name[len(GROUP_PREFIX) :]
            keys = contiguous(batch.column(name))
            has = np.asarray(keys.is_valid())
            if not has.any():
                continue
            names = [entity_name(group_type, k) for k in keys.filter(pa.array(has)).to_pylist()]
            gids = np.zeros(len(keys), np.uint32)
            gids[has] = self.users.encode_array(pa.array(names, pa.string()))
            self.groups.add(users[has], gids[has], group_type, times[has])
            for column in accounts:
                prop = column[len(ACCOUNT_PREFIX) :]
                col = contiguous(batch.column(column))
                kind = self.group_schema.setdefault(prop, kind_of_type(col.type) or "string")
                set_here = has & np.asarray(col.is_valid())
                if not set_here.any():
                    continue
                if kind == "string":
                    values = np.asarray(
                        self._encode_prop(col, kind).fill_null(0).to_numpy(zero_copy_only=False)
                    )
                else:
                    values = col.fill_null(False if kind == "bool" else 0).to_numpy(zero_copy_only=False)
                self.group_props.column(prop, kind).update(gids[set_here], times[set_here], values[set_here])
        self._grow_users(len(self.users))
        self.identity.grow(len(self.users))

    def _grow_users(self, n: int) -> None:
        self._first_seen_copy = None
        if n > len(self.first_seen):
            extra = max(n, 2 * len(self.first_seen)) - len(self.first_seen)
            self.first_seen = np.concatenate((self.first_seen, np.full(extra, NEVER, np.int64)))

    # ------------------------------------------------------ checkpoint/merge
    def seal(self) -> None:
        """Checkpoint: tail → sealed segments, dictionaries and user props saved, log rotated.

        Raises on failure (callers on the ingest path catch and retry); a failure
        leaves the live log and the previous checkpoint in charge, and removes
        what this attempt wrote.
        """
        with self.lock:
            assert self._wal is not None
            new_gen = self._generation + 1
            new_wal = WriteAheadLog(self._wal_path(new_gen))
            written: list[Path] = []
            unsynced: DirSyncError | None = None
            try:
                sealed = list(self.sealed)
                if self.tail:
                    sealed += self._write_partitioned(self.tail, written)
                self._write_checkpoint(new_gen, sealed)
            except DirSyncError as exc:
                unsynced = exc  # the new manifest is in place but maybe not durable: keep every file
            except BaseException:
                # Nothing was appended to the new log (we hold the lock): keep logging to the
                # old one, whose records the manifest still points at.
                new_wal.close()
                _unlink(self._wal_path(new_gen))
                for path in written + self._checkpoint_files(new_gen):
                    _unlink(path)
                raise
            old = self._generation
            self._wal.close()
            self._wal = new_wal
            self.sealed, self.tail, self._tail_batches = sealed, [], 0
            self._generation = new_gen
            self.version += 1
            if unsynced is not None:
                raise unsynced  # old files stay until a later checkpoint or open proves them superseded
            for path in self._checkpoint_files(old):
                _unlink(path)
            for g in range(old, new_gen):
                _unlink(self._wal_path(g))
            try:
                self._merge_tiers()
            except Exception as exc:  # noqa: BLE001 - the checkpoint is done; merging is retried next seal
                self._background_failed("merge", exc)
            else:
                self._background_ok()

    def _checkpoint_files(self, gen: int) -> list[Path]:
        names = [f"dict-{kind}-{gen:08d}.arrow" for kind in DICT_KINDS] + [f"userprops-{gen:08d}.arrow"]
        names += [f"identity-{gen:08d}.arrow", f"groups-{gen:08d}.arrow", f"groupprops-{gen:08d}.arrow"]
        names.append(f"userhist-{gen:08d}.arrow")
        return [self.path / n for n in names]

    def _write_checkpoint(self, gen: int, sealed: list[Segment]) -> None:
        for kind, dictionary in (("users", self.users), ("types", self.types), ("values", self.values)):
            name = f"dict-{kind}-{gen:08d}.arrow"
            self._sums[name] = dictionary.save(self.path / name)
        name = f"userprops-{gen:08d}.arrow"
        self._sums[name] = self.user_props.save(self.path / name, len(self.users))
        name = f"identity-{gen:08d}.arrow"
        self._sums[name] = self.identity.save(self.path / name)
        name = f"userhist-{gen:08d}.arrow"
        self._sums[name] = self.prop_history.save(self.path / name)
        if self.groups.type_names or self.group_props.columns:  # only projects with groups have the files
            name = f"groups-{gen:08d}.arrow"
            self._sums[name] = self.groups.save(self.path / name)
            name = f"groupprops-{gen:08d}.arrow"
            self._sums[name] = self.group_props.save(self.path / name, len(self.users))
        self._write_manifest(gen, sealed)

    def _write_manifest(self, gen: int, sealed: list[Segment]) -> None:
        """Atomically point the directory at checkpoint ``gen`` with segments ``sealed``."""
        live = [f"segments/{s.name}{ext}" for s in sealed for ext in (".arrow", ".index.arrow")]
        live += [p.name for p in self._checkpoint_files(gen)]
        body = {
            "format": FORMAT_VERSION,
            "generation": gen,
            "next_segment": self._next_segment,
            "segments": [s.name for s in sealed],
            "schema": self.schema,
            "user_schema": self.user_schema,
            "group_schema": self.group_schema,
            "files": {n: self._sums[n].as_json() for n in live if n in self._sums},
        }
        body["checksum"] = _manifest_checksum(body)
        atomic_write_json(self.path / "manifest.json", body, commit=True)

    def _new_segment_name(self) -> str:
        name = f"seg-{self._next_segment:06d}"
        self._next_segment += 1
        return name

    def _write_partitioned(self, parts: list[Segment], written: list[Path]) -> list[Segment]:
        """Merge ``parts``, split by time partition, write each piece; returns them memory-mapped.

        Every file written is appended to ``written`` (so a failed caller can remove them).
        """
        canonical = [self._canonical(s) for s in parts]  # folds the identity map
        pieces = Segment.merge_split(canonical, PARTITION_MS, self._new_segment_name)
        for piece in pieces:
            written += [self.segments_dir / f"{piece.name}{ext}" for ext in (".arrow", ".index.arrow")]
        # Pieces are written two at a time: Arrow's IPC writer, CRC-32 and fsync release the
        # GIL, so one piece's fsync overlaps the next one's serialization (the seal of a bulk
        # load writes every row once, in many pieces).  All finish before the first failure is
        # raised, so the caller's clean-up of ``written`` never races a write still running.
        futures = [_WRITE_POOL.submit(piece.write, self.segments_dir) for piece in pieces]
        wait(futures)
        sums = [f.result() for f in futures]
        for piece, (data_sum, index_sum) in zip(pieces, sums, strict=True):
            self._sums[f"segments/{piece.name}.arrow"] = data_sum
            self._sums[f"segments/{piece.name}.index.arrow"] = index_sum
        return [Segment.open(self.segments_dir, piece.name) for piece in pieces]

    def _merge_tiers(self) -> None:
        """Size-tiered compaction within each time partition: MERGE_FANIN segments of one tier merge."""
        while True:
            tiers: dict[tuple[int, int], list[Segment]] = {}
            for seg in self.sealed:
                key = (seg.partition(PARTITION_MS), int(math.log(max(seg.num_rows, 1), MERGE_FANIN)))
                tiers.setdefault(key, []).append(seg)
            group = next((g for g in tiers.values() if len(g) >= MERGE_FANIN), None)
            if group is None:
                return
            self.merge(group)

    def merge(self, group: list[Segment]) -> None:
        """Replace ``group`` by merged segments (new files first, manifest swap, then deletes)."""
        with self.lock:
            names = {s.name for s in group}
            sealed = [s for s in self.sealed if s.name not in names]
            written: list[Path] = []
            try:
                sealed += self._write_partitioned(group, written)
                self._write_manifest(self._generation, sealed)
            except DirSyncError:
                self.sealed = sealed  # in place but maybe not durable: the old segments stay on disk
                self.version += 1
                raise
            except BaseException:
                for path in written:
                    _unlink(path)
                raise
            self.sealed = sealed
            for name in names:
                for ext in (".arrow", ".index.arrow"):
                    _unlink(self.segments_dir / f"{name}{ext}")
                    self._sums.pop(f"segments/{name}{ext}", None)
            self.version += 1

    def compact(self) -> None:
        """Seal the tail and merge the sealed segments of each time partition into one."""
        with self.lock:
            self.seal()
            partitions: dict[int, list[Segment]] = {}
            for seg in self.sealed:
                partitions.setdefault(seg.partition(PARTITION_MS), []).append(seg)
            for group in partitions.values():
                if len(group) > 1 or any(self._canonical(s) is not s for s in group):
                    self.merge(group)  # also rewrites a lone segment holding merged or deleted users
            if self.identity.deleted:  # every row of theirs is rewritten away: forget them
                deleted = np.fromiter(sorted(self.identity.deleted), np.uint32)
                self.groups.fold(self.identity.canon(len(self.users)), deleted)
                names = [self.users.value(int(d)) for d in deleted]
                purge_quarantine(self.path / "quarantine", names)
                for listener in self.purge_listeners:
                    listener(BitMap(deleted.tolist()))
                free_entries(self.users, np.fromiter(sorted(self.identity.deleted), np.uint32))
                self.identity.deleted = set()
                self.identity.version += 1
                self._scrub_values()
                self.seal()  # dictionaries, user properties and the map saved without them

    # --------------------------------------------------------------- reading
    def _canonical(self, seg: Segment) -> Segment:
        """``seg`` with users replaced by their canonical id (itself when nothing of it was merged)."""
        if self.identity.merged == 0 and not self.identity.deleted:
            return seg
        n = len(self.users)
        if self._canon is None or self._canon[:2] != (self.identity.version, n):
            self._canon = (self.identity.version, n, self.identity.canon(n))
        deleted = np.fromiter(sorted(self.identity.deleted), np.uint32, len(self.identity.deleted))
        return canonical_segment(seg, self._canon[2], deleted, self._views, self.identity.version)

    # -------------------------------------------------------------- deletion
    def delete_users(self, user_ids: list[str]) -> tuple[DeletionReport, Ingested]:
        """Tombstone users (and every id merged into them) durably; purged at the next compaction."""
        with self.lock:
            found = [u for u in dict.fromkeys(user_ids) if self.users.get(u) is not None]
            missing = [u for u in dict.fromkeys(user_ids) if self.users.get(u) is None]
            dense = self._merged_set([self.users.get(u) for u in found])  # type: ignore[misc]
            before = sum(int(np.isin(s.users, dense).sum()) for s in self.snapshot().segments)
            types = {self.types.value(i) for i in range(len(self.types))}
            if found:
                now = int(time.time() * 1000)
                batch = pa.table(
                    {
                        "user_id": pa.array(found, pa.string()),
                        "event_type": pa.array([DELETE] * len(found), pa.string()),
                        "time": pa.array([now] * len(found), pa.int64()),
                    }
                )
                self._log(_encode(batch))
                self._apply(batch)
                self.version += 1
                self._tail_batches += 1
            after = sum(int(np.isin(s.users, dense).sum()) for s in self.snapshot().segments)
        report = DeletionReport(list(user_ids), found, missing, len(dense), before, after)
        asked = pa.table({"user_id": pa.array(found, pa.string())})
        stored = Ingested(
            IngestReport(accepted=len(found), rejected=[]), asked, dense, types - {IDENTIFY}, True
        )
        return report, stored

    def _merged_set(self, dense: list[int]) -> np.ndarray:
        """``dense`` ids and every id merged with them (the whole person)."""
        if not dense:
            return np.empty(0, np.uint32)
        roots = np.unique([self.identity.root(d) for d in dense]).astype(np.uint32)
        canon = self.identity.canon(len(self.users))
        return np.flatnonzero(np.isin(canon, roots)).astype(np.uint32)

    def _apply_deletion(self, batch: pa.Table) -> np.ndarray:
        """Tombstone the users a logged ``$delete`` batch names (replayed in log order)."""
        self.identity.grow(len(self.users))
        known = [self.users.get(u) for u in batch.column("user_id").to_pylist()]
        dense = self._merged_set([d for d in known if d is not None])
        if len(dense) == 0:
            return dense
        self.first_seen[dense] = NEVER
        self.prop_history.drop_users(dense)
        for column in self.user_props.columns.values():
            column.grow(len(self.users))
            if column.kind == "string":
                self._scrub |= {int(v) for v in column.values[dense][column.valid[dense]]}
            column.valid[dense] = False
            column.values[dense] = 0
            column.set_at[dense] = np.iinfo(np.int64).min
        for seg in tuple(self.sealed) + tuple(self.tail):
            rows = np.isin(seg.users, dense)
            if rows.any():
                for name, kind in self.schema.items():
                    col = seg.prop(name) if kind == "string" else None
                    if col is not None:
                        codes = col.filter(pa.array(rows)).drop_null().to_numpy(zero_copy_only=False)
                        self._scrub |= {int(v) for v in codes}
        self.identity.deleted |= {int(d) for d in dense}
        self.identity.version += 1  # their strings stay until compaction, so Watch exits still name them
        return dense

    def _scrub_values(self) -> None:
        """Blank value strings only deleted users had (after their rows were rewritten away)."""
        if not self._scrub:
            return
        used: set[int] = set()
        for seg in self.sealed + self.tail:
            for name, kind in self.schema.items():
                col = seg.prop(name) if kind == "string" else None
                if col is not None:
                    used |= {int(v) for v in np.unique(col.drop_null().to_numpy(zero_copy_only=False))}
        for column in self.user_props.columns.values():
            if column.kind == "string":
                used |= {int(v) for v in np.unique(column.values[column.valid])}
        for code in sorted(self._scrub - used):
            self.values.forget(code, f"$deleted-value:{code}")
        self._scrub = set()

    def group_members(self, group_type: str, as_of: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(user, group) pairs of one group type whose membership began before ``as_of``: users by
        their canonical id, deleted users left out, groups below ``n`` (the snapshot's users)."""
        with self.lock:
            users, groups, since = self.groups.of_type(group_type)
            keep = (since < as_of) & (groups < n)
            users, groups = users[keep], groups[keep]
            if self.identity.merged or self.identity.deleted:
                users = self.identity.canon(len(self.users))[users]
                if self.identity.deleted:
                    alive = ~np.isin(users, np.fromiter(self.identity.deleted, np.uint32))
                    users, groups = users[alive], groups[alive]
            keep = users < n
            users, groups = users[keep], groups[keep]
        if len(users):
            pairs = np.unique(np.stack((users.astype(np.int64), groups.astype(np.int64))), axis=1)
            users, groups = pairs[0], pairs[1]
        return users.astype(np.int64), groups.astype(np.int64)

    def snapshot(self) -> Snapshot:
        with self.lock:
            return self._snapshot_locked()

    def _snapshot_locked(self) -> Snapshot:
        segments = tuple(self._canonical(s) for s in tuple(self.sealed) + tuple(self.tail))
        live = {s.name for s in tuple(self.sealed) + tuple(self.tail)}
        for name in [n for n in self._views if n not in live]:
            del self._views[name]
        snap = Snapshot(segments, self._first_seen_view(), self.version)
        self._published = snap
        return snap

    def recent_snapshot(self, min_version: int) -> Snapshot:
        """A view holding at least data version ``min_version``, without waiting for a writer
        in the middle of a seal or a merge (seconds at 2M rows): then the view published when
        the last batch was stored serves, if it is that recent (incremental maintenance)."""
        if self.lock.acquire(blocking=False):
            try:
                return self._snapshot_locked()
            finally:
                self.lock.release()
        published = self._published
        if published is not None and published.version >= min_version:
            return published
        return self.snapshot()

    def _first_seen_view(self) -> np.ndarray:
        """A read-only copy of first_seen, one per change rather than one per snapshot.

        Every change of first_seen goes through ``_apply`` or ``_grow_users``, which drop the
        copy; at 10M users a copy per evaluation was 80 MB written and ~40 ms.
        """
        copy = self._first_seen_copy
        if copy is None or len(copy) != len(self.users):
            copy = self.first_seen[: len(self.users)].copy()
            copy.flags.writeable = False
            self._first_seen_copy = copy
        return copy

    def status(self) -> dict[str, Any]:
        """Health (quarantine kept on disk, background failures) plus log and segment sizes."""
        qdir = self.path / "quarantine"
        kept = [
            f"{p.stem}: {p.read_text(errors='replace')}" for p in sorted(qdir.glob("*.reason"))
        ] if qdir.is_dir() else []  # fmt: skip
        with self.lock:
            return {
                **self.health.as_json(),
                "quarantined": kept,  # every record ever set aside and still kept, not only this open's
                "log_bytes": self._wal.size if self._wal is not None else 0,
                "sealed_segments": len(self.sealed),
                "tail_events": sum(s.num_rows for s in self.tail),
            }

    def close(self) -> None:
        with self.lock:
            if self._wal is not None:
                self._wal.close()
                self._wal = None


def _unlink(path: Path) -> None:
    """Remove a file the store no longer needs (a failure only leaves debris for the next open)."""
    try:
        files.ops.unlink(path)
    except OSError:
        pass


def _manifest_checksum(body: dict[str, Any]) -> int:
    """CRC-32 of the manifest's content without its ``checksum`` field."""
    data = {k: v for k, v in body.items() if k != "checksum"}
    return zlib.crc32(json.dumps(data, sort_keys=True).encode())


def _encode(batch: pa.Table, encoded: dict[str, pa.Array] | None = None, threads: bool = True) -> bytes:
    """A log record's payload: the batch, its string columns as ``encoded`` gives them
    (dictionary-encoded: fewer bytes to compress and write), LZ4-compressed.  Without
    ``threads`` compressed on the calling thread only (a bulk load's read-ahead thread,
    beside two busy stages): Arrow's compression threads then cost a third more CPU on two
    cores and finish no sooner."""
    encoded = encoded or {}
    columns = [encoded.get(name, col) for name, col in zip(batch.column_names, batch.columns, strict=True)]
    batch = pa.table(columns, names=batch.column_names)
    sink = io.BytesIO()
    options = ipc.IpcWriteOptions(compression="lz4", use_threads=threads)
    with ipc.new_stream(sink, batch.schema, options=options) as writer:
        writer.write_table(batch)
    return sink.getvalue()


def _decode(payload: bytes) -> pa.Table:
    """A log record's batch in canonical form (dictionary-encoded strings decoded)."""
    batch = ipc.open_stream(pa.py_buffer(payload)).read_all()
    for i, field_ in enumerate(batch.schema):
        if pa.types.is_dictionary(field_.type):
            batch = batch.set_column(i, field_.name, batch.column(i).cast(field_.type.value_type))
    return batch
