"""``Engine``: one data directory, its event store and cohort evaluation.

The embedded entry point (``cohortd.Engine.open(path)``); the gRPC server and
the CLI hold one Engine per project.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyroaring import BitMap

from cohortd import times
from cohortd.engine.evaluate import Evaluation, PlanStep, Resolver
from cohortd.engine.filters import compatible
from cohortd.engine.kernels import KERNELS, get_kernel
from cohortd.errors import (
    DataDirectoryLockedError,
    DefinitionError,
    InvalidArgumentError,
    ParseError,
    StorageError,
)
from cohortd.lang import as_expr as _as_expr
from cohortd.lang import ast, walk
from cohortd.lang.parser import parse_with_positions
from cohortd.storage.files import make_dirs
from cohortd.storage.groups import entity_name
from cohortd.storage.lock import LOCK_FILE, WriterLock
from cohortd.storage.readahead import read_ahead
from cohortd.storage.readers import ReadChunk, read_events, read_users
from cohortd.storage.segment import bitmap_from_ids
from cohortd.storage.settings import ProjectSettings
from cohortd.storage.store import EventStore, Ingested, Prepared, Snapshot
from cohortd.storage.validate import USER_PREFIX, IngestReport, rows_to_table

log = logging.getLogger("cohortd.engine")

Clock = Callable[[], int]
IngestListener = Callable[[np.ndarray, set[str], bool], None]


wall_clock_ms = times.wall_ms
GROUP_KEY_PATTERN = r"^\$group:[^:]*:"  # a group entity's name up to its key (storage/groups.py)


def to_ms(t: times.Instant | None, clock: Clock) -> int:
    """An as-of time as epoch ms: None is now; datetimes without zone are UTC; strings are ISO-8601."""
    return clock() if t is None else times.to_ms(t)


_ENGINE_FILES = ("manifest.json", "segments", LOCK_FILE)


def _check_engine_dir(path: Path) -> None:
    """Refuse a cohortd data directory and any non-empty directory that holds no engine files."""
    if not path.is_dir():
        if path.exists():
            raise StorageError(f"{path} is a file, not an engine directory")
        return
    names = {p.name for p in path.iterdir()}
    if "projects" in names:
        raise StorageError(
            f"{path} is a cohortd data directory (projects inside), not an engine directory: "
            f"open it with cohortd.open({str(path)!r}, project=...)"
        )
    if names and not names & set(_ENGINE_FILES) and not any(n.startswith("wal-") for n in names):
        raise StorageError(
            f"{path} is not an engine directory (no manifest, log or segments); "
            "for a cohortd data directory use cohortd.open(path, project=...)"
        )


@functools.lru_cache(maxsize=512)
def _parsed(text: str) -> tuple[ast.Expr, Mapping[object, tuple[int, int]]]:
    """The tree and source positions of a definition's text, parsed once per text.

    Trees are immutable values, so an evaluation repeated with the same text (a dashboard,
    a benchmark, maintenance) skips the parser (~0.1 ms of a 0.5 ms selective evaluation).
    """
    return parse_with_positions(text)


@dataclass
class CohortResult:
    """Members of a cohort at one as-of time, as a bitmap of dense user ids."""

    bitmap: BitMap
    as_of_ms: int
    engine: Engine
    version: int | None = None  # the maintained version, for answers about "now" on saved cohorts

    @property
    def size(self) -> int:
        return len(self.bitmap)

    def members(self) -> list[str]:
        """External user ids, sorted."""
        return sorted(self.engine.external_ids(self.bitmap))


class Engine:
    def __init__(self, store: EventStore, clock: Clock | None = None, kernel: str = "rust") -> None:
        if kernel not in KERNELS:
            raise InvalidArgumentError(f"unknown kernel {kernel!r}")
        self.store = store
        self.clock: Clock = clock or wall_clock_ms
        self.kernel = kernel
        self._listeners: list[IngestListener] = []
        self._writer_lock: WriterLock | None = None
        self._held_by: str | None = None  # why this engine only reads (another process writes)
        self._known_cache: tuple[tuple[tuple[int, int, int], np.ndarray, BitMap], ...] = ()

    @classmethod
    def open(cls, path: str | Path, clock: Clock | None = None, kernel: str = "rust") -> Engine:
        """Open (or create) one engine directory, holding its one-writer lock until :meth:`close`.

        When another process holds the lock the directory opens for reading only:
        answers come from what that writer had stored, and every write raises
        ``DataDirectoryLockedError`` naming it.  A cohortd data directory
        (``projects/`` inside) is not an engine directory: open that with
        ``cohortd.open(path, project=...)``.
        """
        path = Path(path)
        _check_engine_dir(path)
        make_dirs(path)  # each new directory fsync'd into its parent: a new project survives a power loss
        writer: WriterLock | None = None
        held_by: str | None = None
        try:
            writer = WriterLock.acquire(path, "engine directory")
        except DataDirectoryLockedError as exc:
            held_by = str(exc)
        try:
            engine = cls(EventStore.open(path), clock, kernel)
        except BaseException:
            if writer is not None:
                writer.release()
            raise
        engine._writer_lock, engine._held_by = writer, held_by
        engine.store.time_zone = ProjectSettings.load(path).time_zone
        return engine

    @property
    def time_zone(self) -> str:
        """The IANA zone of calendar windows and ``active_days`` (``storage/settings.py``)."""
        return self.store.time_zone

    def set_time_zone(self, name: str) -> None:
        """Store a new time zone (durably) and use it from the next evaluation on."""
        self.require_writer()
        name = times.check_zone(name)
        with self.store.lock:
            ProjectSettings(time_zone=name).save(self.store.path)
            self.store.time_zone = name
            self.store.version += 1  # answers cached for the old zone are stale

    def require_writer(self) -> None:
        """Raise ``DataDirectoryLockedError`` unless this process holds the writer lock (retaken if free)."""
        if self._writer_lock is not None:
            return
        path = self.store.path
        self._writer_lock = WriterLock.acquire(path, "engine directory")
        self._held_by = None

    def close(self) -> None:
        try:
            self.store.close()
        finally:
            writer, self._writer_lock = self._writer_lock, None
            if writer is not None:
                writer.release()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def path(self) -> Path:
        return self.store.path

    @property
    def data_version(self) -> int:
        return self.store.version

    # ------------------------------------------------------------- ingest
    def ingest(self, data: pa.Table | pa.RecordBatch | Iterable[Mapping[str, Any]]) -> IngestReport:
        """Validate and durably store events; bad rows are reported, good rows kept."""
        self.require_writer()
        stored = self.store.ingest(_as_table(data), self.clock())
        self._notify(stored)  # outside the store lock: listeners take their own locks
        return stored.report

    def prepare_ingest(self, data: pa.Table | pa.RecordBatch | Iterable[Mapping[str, Any]]) -> Prepared:
        """The pure half of ``ingest`` (validation, the log record), to run ahead on another thread."""
        self.require_writer()
        return self.store.prepare(_as_table(data), self.clock())

    def ingest_prepared(self, prepared: Prepared) -> IngestReport:
        """Store a batch from ``prepare_ingest`` (validated again if the schemas changed since)."""
        self.require_writer()
        stored = self.store.ingest_prepared(prepared)
        self._notify(stored)  # outside the store lock: listeners take their own locks
        return stored.report

    def upsert_user_properties(
        self, data: pa.Table | pa.RecordBatch | Iterable[Mapping[str, Any]]
    ) -> IngestReport:
        """Set current user properties (``user_id`` + property columns, optional ``time``)."""
        self.require_writer()
        stored = self.store.ingest(_as_table(data), self.clock(), users=True)
        self._notify(stored)  # outside the store lock: listeners take their own locks
        return stored.report

    def append_canonical(self, batch: pa.Table) -> IngestReport:
        """Store a batch already in the log's canonical form (``EventStore.append_canonical``)."""
        self.require_writer()
        stored = self.store.append_canonical(batch)
        self._notify(stored)
        return stored.report

    def add_listener(self, listener: IngestListener) -> None:
        """Call ``listener(dense user ids, event types, has user properties)`` after every durable batch."""
        self._listeners.append(listener)

    def _notify(self, stored: Ingested) -> None:
        """Tell listeners about a stored batch; a listener's failure never fails the stored batch."""
        if not self._listeners or stored.batch.num_rows == 0:
            return
        for listener in self._listeners:
            try:
                listener(stored.users, stored.types, stored.user_props)
            except Exception as exc:  # noqa: BLE001 - the batch is stored; the ack must say so
                self.store.health.background_failures += 1
                self.store.health.last_background_error = f"ingest listener: {type(exc).__name__}: {exc}"
                log.exception("ingest listener failed after a batch was stored")

    def ingest_file(
        self, path: str | Path, users: bool = False, progress: Callable[[int, int], None] | None = None
    ) -> IngestReport:
        """Ingest an event (or, with ``users``, user-property) file in bounded chunks.

        ``progress(rows_done, bytes_done)`` is called after every chunk.  The file's
        format is checked before anything is written.
        """
        return self.ingest_chunks(
            read_users(Path(path)) if users else read_events(Path(path)), users, progress
        )

    def ingest_chunks(
        self,
        chunks: Iterator[ReadChunk],
        users: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> IngestReport:
        """``ingest_file`` of a file already opened (``storage.readers``: its format checked)."""
        self.require_writer()
        report = IngestReport()
        # one thread reads and decodes chunks, a second validates and encodes them, while this
        # one logs and applies (storage/readahead.py)
        chunks = read_ahead(chunks)
        prepared = read_ahead((c, self.store.prepare(c.table, self.clock(), users)) for c in chunks)
        try:
            with self.store.bulk():  # each row sorted and written once (storage/store.py)
                for chunk, ready in prepared:
                    stored = self.store.ingest_prepared(ready)
                    self._notify(stored)  # outside the store lock: listeners take their own locks
                    report.merge(stored.report, chunk.first_row)
                    report.rejected.extend(chunk.rejections)
                    if progress is not None:
                        done = chunk.first_row + chunk.table.num_rows + len(chunk.rejections)
                        progress(done, chunk.bytes_read)
        finally:  # a failed load stops both threads now, not when its traceback is dropped
            prepared.close()
            chunks.close()
        report.rejected.sort(key=lambda r: r.row)
        return report

    def seal(self) -> None:
        self.require_writer()
        self.store.seal()

    def compact(self) -> None:
        self.require_writer()
        self.store.compact()

    def delete_users(self, user_ids: list[str]) -> Any:
        """Tombstone users at once (listeners see them leave); purged at the next compaction."""
        self.require_writer()
        report, stored = self.store.delete_users(list(user_ids))
        self._notify(stored)
        return report

    # --------------------------------------------------------- evaluation
    def evaluate(
        self,
        expr: str | ast.Expr | Any,
        as_of: int | dt.datetime | str | None = None,
        kernel: str | None = None,
        resolve: Resolver | None = None,
        top_thresholds: Mapping[ast.Top, float] | None = None,
    ) -> CohortResult:
        """Members of ``expr`` at ``as_of`` (default now); any past instant works.

        ``top_thresholds`` fixes the ``q`` of percentile conditions (a cluster's global threshold).
        """
        tree = self.definition(expr)
        ev = self._evaluation(as_of, kernel, resolve)
        ev.top_thresholds = top_thresholds
        return CohortResult(ev.run(tree), ev.as_of, self)

    def explain(
        self,
        expr: str | ast.Expr | Any,
        as_of: int | dt.datetime | str | None = None,
        kernel: str | None = None,
        resolve: Resolver | None = None,
        top_thresholds: Mapping[ast.Top, float] | None = None,
    ) -> list[PlanStep]:
        """The evaluated plan: every node with its size and time, in tree order."""
        tree = self.definition(expr)
        ev = self._evaluation(as_of, kernel, resolve, explain=True)
        ev.top_thresholds = top_thresholds
        ev.run(tree)
        assert ev.steps is not None
        return ev.steps

    def evaluation(
        self, as_of: int | dt.datetime | str | None = None, kernel: str | None = None
    ) -> Evaluation:
        """One snapshot, kernel and as-of time, for analyses that read event parts directly."""
        return self._evaluation(as_of, kernel, None)

    def _evaluation(
        self, as_of: Any, kernel: str | None, resolve: Resolver | None, explain: bool = False
    ) -> Evaluation:
        snap = self.store.snapshot()
        ms = to_ms(as_of, self.clock)
        return Evaluation(
            self.store,
            snap,
            ms,
            get_kernel(kernel or self.kernel),
            resolve,
            explain,
            known=self._known(snap, ms),
        )

    #: (data version, as-of) pairs whose known users are kept (analyses alternate a few as-of times)
    KNOWN_CACHE = 4

    def _known(self, snap: Snapshot, as_of: int) -> tuple[np.ndarray, BitMap]:
        """Users known at ``as_of`` (mask and bitmap), cached for the last few (data version, as-of)."""
        key = (snap.version, len(snap.first_seen), as_of)
        entries = self._known_cache
        for entry in entries:
            if entry[0] == key:
                return entry[1], entry[2]
        mask = snap.first_seen < as_of
        entry = (key, mask, bitmap_from_ids(np.flatnonzero(mask)))
        self._known_cache = (entry, *entries[: self.KNOWN_CACHE - 1])  # one tuple swap: no lock needed
        return entry[1], entry[2]

    def known_users(self, as_of: int | dt.datetime | str | None = None) -> BitMap:
        """Users with at least one event before ``as_of``."""
        snap = self.store.snapshot()
        return bitmap_from_ids(np.flatnonzero(snap.first_seen < to_ms(as_of, self.clock)))

    def definition(self, definition: str | ast.Expr | Any) -> ast.Expr:
        """The tree of a definition (text, tree or builder), checked against the property schema.

        Text keeps the source positions, so a literal of the wrong type is reported as a
        ``ParseError`` with its line and column, like any other rejected definition.
        """
        if isinstance(definition, str):
            tree, positions = _parsed(definition)
        else:
            tree, positions = _as_expr(definition), {}
        self.check(tree, positions)
        return tree

    def check(self, expr: ast.Expr, positions: Mapping[object, tuple[int, int]] | None = None) -> None:
        """Reject comparisons whose literal type contradicts the known property type."""
        for leaf, _ in walk.leaves(expr):
            if isinstance(leaf, ast.UserProp | ast.HadUserProp):
                _checked(leaf.predicate, self.store.user_schema, "user property", positions)
            if isinstance(leaf, ast.AccountProp):
                _checked(leaf.predicate, self.store.group_schema, "account property", positions)
            for ref in walk.event_refs(leaf):
                if ref.filter is not None:
                    for pred in walk.predicates(ref.filter):
                        _checked(pred, self.store.schema, "event property", positions)
            summed = leaf.metric if isinstance(leaf, ast.Top) else leaf
            if isinstance(summed, ast.Aggregate | ast.MetricSum):
                kind = self.store.schema.get(summed.prop)
                func = getattr(summed, "func", "sum")
                if func != "distinct" and kind in ("string", "bool"):
                    message = f"{func}({summed.prop}, ...): property {summed.prop!r} is {kind}, not numeric"
                    _raise_at(summed, message, "a numeric property", positions)

    # --------------------------------------------------------------- ids
    def dense_id(self, external_user_id: str | int) -> int | None:
        return self.store.users.get(str(external_user_id))

    def dense_ids(self, external_user_ids: Iterable[str | int]) -> np.ndarray:
        """Dense ids (int64) of many users at once; -1 for users never seen."""
        return self.store.users.ids(list(map(str, external_user_ids)))

    def external_ids(self, ids: BitMap | Iterable[int]) -> list[str]:
        """External ids; accounts (members of account cohorts) by their group key (storage/groups.py)."""
        arr = np.array(ids.to_array() if isinstance(ids, BitMap) else list(ids), dtype=np.uint32)
        names = self.store.users.decode(arr)
        if self.store.groups.type_names:
            names = pc.replace_substring_regex(names, GROUP_KEY_PATTERN, "")
        return names.to_pylist()

    def entity_ids(self, expr: ast.Expr, external_ids: Iterable[str | int]) -> list[str]:
        """The dictionary names a cohort's members go by: group entities for an account cohort."""
        if isinstance(expr, ast.Accounts):
            return [entity_name(expr.group, str(i)) for i in external_ids]
        return [str(i) for i in external_ids]

    def event_types(self) -> list[str]:
        return [self.store.types.value(i) for i in range(len(self.store.types))]

    # ------------------------------------------------------ introspection
    def events(self) -> pa.Table:
        """Every stored event with external ids and decoded properties (for tests and export)."""
        snap = self.store.snapshot()
        tables = []
        for seg in snap.segments:
            cols: dict[str, pa.Array] = {
                "user_id": self.store.users.decode(seg.users),
                "event_type": self.store.types.decode(seg.types),
                "time": pa.array(seg.times, pa.int64()),
            }
            for name in seg.prop_names():
                col = seg.prop(name)
                assert col is not None
                if self.store.schema.get(name) == "string":
                    col = self.store.values.as_arrow().take(col)
                cols[name] = col
            tables.append(pa.table(cols))
        if not tables:
            return pa.table(
                {
                    "user_id": pa.array([], pa.string()),
                    "event_type": pa.array([], pa.string()),
                    "time": pa.array([], pa.int64()),
                }
            )
        return pa.concat_tables(tables, promote_options="default")

    def user_properties(self) -> dict[str, dict[str, Any]]:
        """Current user properties: external user id → {property: value}."""
        out: dict[str, dict[str, Any]] = {}
        n = len(self.store.users)
        for name, col in self.store.user_props.columns.items():
            values, valid = self.store.user_props.get(name, n) or (None, None)
            assert values is not None and valid is not None
            for uid in np.flatnonzero(valid):
                v = values[uid].item()
                if col.kind == "string":
                    v = self.store.values.value(int(v))
                out.setdefault(self.store.users.value(int(uid)), {})[name] = v
        return out


def _as_table(data: Any) -> pa.Table:
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    return rows_to_table(data)


def _checked(
    pred: ast.Predicate,
    schema: Mapping[str, str],
    what: str,
    positions: Mapping[object, tuple[int, int]] | None,
) -> None:
    kind = schema.get(pred.prop)
    if kind is None:
        return
    if isinstance(pred, ast.PropCmp):
        literals: tuple[Any, ...] = (pred.value,)
    elif isinstance(pred, ast.PropIn):
        literals = pred.values
    elif isinstance(pred, ast.PropContains):
        if kind != "string":
            message = f"{what} {pred.prop!r} is {kind}: 'contains' needs a string property"
            _raise_at(pred, message, "a string property", positions)
        return
    else:
        return
    for lit in literals:
        if not compatible(kind, lit):
            _raise_at(
                pred, f"{what} {pred.prop!r} is {kind}, compared with {lit!r}", f"a {kind} value", positions
            )


def _raise_at(
    node: object, message: str, expected: str, positions: Mapping[object, tuple[int, int]] | None
) -> None:
    """A type error: with its line and column when the source is known, else without."""
    where = (positions or {}).get(node)
    if where is not None:
        raise ParseError(message, where[0], where[1], expected)
    raise DefinitionError(message)


__all__ = ["Engine", "CohortResult", "PlanStep", "USER_PREFIX", "to_ms"]
