"""The event store of one data directory: log, tail, sealed segments, dictionaries.

Layout of a data directory::

    manifest.json               live segments, log generation, schemas (atomically replaced)
    wal-<gen>.log               batches accepted since the last checkpoint
    segments/seg-<n>.arrow      sealed segments (+ .index.arrow)
    dict-<kind>-<gen>.arrow     user / event type / value dictionaries at the checkpoint
    userprops-<gen>.arrow       user properties at the checkpoint

An accepted batch is validated, appended to the log (fsync'd) and applied to
the in-memory tail; a checkpoint ("seal") writes the tail as a segment, saves
dictionaries and user properties, points the manifest at a fresh log and
deletes the old one.  Opening replays the log on top of the checkpoint.
"""

from __future__ import annotations

import io
import math
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc

from cohortd.errors import StorageError
from cohortd.storage.dictionary import StringDictionary
from cohortd.storage.files import atomic_write_json, fsync_dir
from cohortd.storage.readers import IDENTIFY
from cohortd.storage.segment import PROP_PREFIX, Segment
from cohortd.storage.userprops import UserProperties
from cohortd.storage.validate import USER_PREFIX, kind_of_type

FORMAT_VERSION = 1
NEVER = np.iinfo(np.int64).max
SEAL_ROWS = 2_000_000  # seal the tail once it holds this many events
SEAL_BATCHES = 256  # ... or after this many batches (the log then replays fast on open)
MERGE_FANIN = 4  # merge when this many segments of one time partition share a size tier
PARTITION_MS = 7 * 86_400_000  # sealed segments never span two weeks: windows prune whole segments
DICT_KINDS = ("users", "types", "values")


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
        self.sealed: list[Segment] = []
        self.tail: list[Segment] = []
        self.first_seen = np.full(0, NEVER, dtype=np.int64)
        self.version = 0
        self._generation = 0
        self._next_segment = 1
        self._tail_serial = 0
        self._tail_batches = 0  # batches since the last checkpoint
        self._wal = None

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
        from cohortd.storage.wal import WriteAheadLog

        self.path.mkdir(parents=True, exist_ok=True)
        self.segments_dir.mkdir(exist_ok=True)
        manifest_path = self.path / "manifest.json"
        if manifest_path.exists():
            import json

            try:
                manifest = json.loads(manifest_path.read_text())
            except ValueError as exc:
                raise StorageError(f"{manifest_path}: unreadable manifest ({exc})") from exc
            if manifest.get("format") != FORMAT_VERSION:
                raise StorageError(f"{manifest_path}: unsupported format {manifest.get('format')}")
            gen = self._generation = manifest["generation"]
            self._next_segment = manifest["next_segment"]
            self.schema = manifest["schema"]
            self.user_schema = manifest["user_schema"]
            self.users = StringDictionary.load(self.path / f"dict-users-{gen:08d}.arrow")
            self.types = StringDictionary.load(self.path / f"dict-types-{gen:08d}.arrow")
            self.values = StringDictionary.load(self.path / f"dict-values-{gen:08d}.arrow")
            self.user_props = UserProperties.load(self.path / f"userprops-{gen:08d}.arrow")
            self.sealed = [Segment.open(self.segments_dir, name) for name in manifest["segments"]]
        self._remove_unlisted_files()
        self.first_seen = np.full(max(len(self.users), 1024), NEVER, dtype=np.int64)
        for seg in self.sealed:
            np.minimum.at(self.first_seen, seg.users, seg.times)
        for gen in self._log_generations():
            for payload in WriteAheadLog.replay(self._wal_path(gen)):
                self._apply(_decode(payload))
        self._wal = WriteAheadLog(self._wal_path(self._generation))
        self.version = 1

    def _log_generations(self) -> list[int]:
        gens = []
        for p in self.path.glob("wal-*.log"):
            g = int(p.stem.split("-")[1])
            if g >= self._generation:
                gens.append(g)
        return sorted(gens)

    def _remove_unlisted_files(self) -> None:
        """Delete what a crash mid-checkpoint or mid-merge left behind."""
        live = {s.name for s in self.sealed}
        for p in self.segments_dir.iterdir():
            if p.name.split(".")[0] not in live or p.name.endswith(".tmp"):
                p.unlink()
        for p in self.path.iterdir():
            m = re.match(r"(dict-\w+|userprops|wal)-(\d+)\.(arrow|log)$", p.name)
            if p.name.endswith(".tmp") or (m and int(m.group(2)) < self._generation):
                p.unlink()

    # --------------------------------------------------------------- writing
    def append(self, batch: pa.Table) -> None:
        """Log a validated batch durably, then make it visible."""
        if batch.num_rows == 0:
            return
        payload = _encode(batch)
        with self.lock:
            assert self._wal is not None
            self._wal.append(payload)
            self._apply(batch)
            self.version += 1
            self._tail_batches += 1
            if sum(s.num_rows for s in self.tail) >= SEAL_ROWS or self._tail_batches >= SEAL_BATCHES:
                self.seal()

    def _apply(self, batch: pa.Table) -> None:
        is_identify = np.asarray(pc.equal(batch.column("event_type"), IDENTIFY).combine_chunks())
        users = self.users.encode_array(batch.column("user_id"))
        times = batch.column("time").combine_chunks().to_numpy().astype(np.int64, copy=False)
        self._grow_users(len(self.users))
        self._apply_user_props(batch, users, times)
        events = ~is_identify
        if not events.any():
            return
        if not events.all():
            keep = pa.array(events)
            batch, users, times = batch.filter(keep), users[events], times[events]
        columns = {
            "user": pa.array(users, pa.uint32()),
            "type": pa.array(self.types.encode_array(batch.column("event_type")), pa.uint32()),
            "time": pa.array(times, pa.int64()),
        }
        for name in batch.column_names:
            if name in ("user_id", "event_type", "time") or name.startswith(USER_PREFIX):
                continue
            col = batch.column(name).combine_chunks()
            kind = self.schema.setdefault(name, kind_of_type(col.type) or "string")
            columns[PROP_PREFIX + name] = self._encode_prop(col, kind)
        np.minimum.at(self.first_seen, users, times)
        self.tail.append(Segment.build(self._tail_name(), pa.table(columns)))
        # Binary-counter merging keeps O(log n) in-memory segments (each query and each
        # incremental step pays per segment) for O(n log n) total sorting work.
        while len(self.tail) >= 2 and self.tail[-1].num_rows * 2 >= self.tail[-2].num_rows:
            last = self.tail.pop()
            self.tail[-1] = Segment.merge(self._tail_name(), [self.tail[-1], last])

    def _tail_name(self) -> str:
        self._tail_serial += 1
        return f"tail-{self._tail_serial}"

    def _encode_prop(self, col: pa.Array, kind: str) -> pa.Array:
        if kind != "string":
            return col
        enc = col.dictionary_encode()
        ids = self.values.encode_unique(enc.dictionary.to_pylist())
        idx = enc.indices
        codes = (
            ids[idx.fill_null(0).to_numpy(zero_copy_only=False)]
            if len(ids)
            else np.zeros(len(col), np.uint32)
        )
        return pa.array(codes, pa.uint32(), mask=np.asarray(idx.is_null()))

    def _apply_user_props(self, batch: pa.Table, users: np.ndarray, times: np.ndarray) -> None:
        for name in batch.column_names:
            if not name.startswith(USER_PREFIX):
                continue
            prop = name[len(USER_PREFIX) :]
            col = batch.column(name).combine_chunks()
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

    def _grow_users(self, n: int) -> None:
        if n > len(self.first_seen):
            extra = max(n, 2 * len(self.first_seen)) - len(self.first_seen)
            self.first_seen = np.concatenate((self.first_seen, np.full(extra, NEVER, np.int64)))

    # ------------------------------------------------------ checkpoint/merge
    def seal(self) -> None:
        """Checkpoint: tail → one sealed segment, dictionaries and user props saved, log rotated."""
        from cohortd.storage.wal import WriteAheadLog

        with self.lock:
            new_gen = self._generation + 1
            assert self._wal is not None
            self._wal.close()
            self._wal = WriteAheadLog(self._wal_path(new_gen))
            try:
                fsync_dir(self.path)
                sealed = list(self.sealed)
                if self.tail:
                    sealed += self._write_partitioned(self.tail)
                self._write_checkpoint(new_gen, sealed)
            except BaseException:
                # Nothing was appended to the new log (we hold the lock): keep logging to the
                # old one, whose records the manifest still points at.
                self._wal.close()
                _unlink(self._wal_path(new_gen))
                self._wal = WriteAheadLog(self._wal_path(self._generation))
                raise
            old = self._generation
            self.sealed, self.tail, self._tail_batches = sealed, [], 0
            self._generation = new_gen
            for kind in DICT_KINDS:
                _unlink(self.path / f"dict-{kind}-{old:08d}.arrow")
            _unlink(self.path / f"userprops-{old:08d}.arrow")
            for g in range(old, new_gen):
                _unlink(self._wal_path(g))
            self.version += 1
            self._merge_tiers()

    def _write_checkpoint(self, gen: int, sealed: list[Segment]) -> None:
        self.users.save(self.path / f"dict-users-{gen:08d}.arrow")
        self.types.save(self.path / f"dict-types-{gen:08d}.arrow")
        self.values.save(self.path / f"dict-values-{gen:08d}.arrow")
        self.user_props.save(self.path / f"userprops-{gen:08d}.arrow", len(self.users))
        atomic_write_json(
            self.path / "manifest.json",
            {
                "format": FORMAT_VERSION,
                "generation": gen,
                "next_segment": self._next_segment,
                "segments": [s.name for s in sealed],
                "schema": self.schema,
                "user_schema": self.user_schema,
            },
        )

    def _new_segment_name(self) -> str:
        name = f"seg-{self._next_segment:06d}"
        self._next_segment += 1
        return name

    def _write_partitioned(self, parts: list[Segment]) -> list[Segment]:
        """Merge ``parts``, split by time partition, write each piece; returns them memory-mapped."""
        merged = Segment.merge("merging", parts)
        pieces = merged.split(PARTITION_MS, self._new_segment_name)
        for piece in pieces:
            piece.write(self.segments_dir)
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
            sealed += self._write_partitioned(group)
            self._write_checkpoint(self._generation, sealed)
            self.sealed = sealed
            for name in names:
                _unlink(self.segments_dir / f"{name}.arrow")
                _unlink(self.segments_dir / f"{name}.index.arrow")
            self.version += 1

    def compact(self) -> None:
        """Seal the tail and merge the sealed segments of each time partition into one."""
        with self.lock:
            self.seal()
            partitions: dict[int, list[Segment]] = {}
            for seg in self.sealed:
                partitions.setdefault(seg.partition(PARTITION_MS), []).append(seg)
            for group in partitions.values():
                if len(group) > 1:
                    self.merge(group)

    # --------------------------------------------------------------- reading
    def snapshot(self) -> Snapshot:
        with self.lock:
            return Snapshot(
                tuple(self.sealed) + tuple(self.tail), self.first_seen[: len(self.users)].copy(), self.version
            )

    def close(self) -> None:
        with self.lock:
            if self._wal is not None:
                self._wal.close()
                self._wal = None


def _unlink(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _encode(batch: pa.Table) -> bytes:
    sink = io.BytesIO()
    with ipc.new_stream(sink, batch.schema, options=ipc.IpcWriteOptions(compression="lz4")) as writer:
        writer.write_table(batch)
    return sink.getvalue()


def _decode(payload: bytes) -> pa.Table:
    return ipc.open_stream(pa.py_buffer(payload)).read_all()
