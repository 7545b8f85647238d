"""The router: a workspace whose projects are spread over shard actors, with the same answers.

:class:`ClusterWorkspace` stands where :class:`~cohortd.service.Workspace`
stands in the server, so the gRPC API and the SDK do not change.  Each
:class:`ClusterProject` answers the questions the ``Cohortd`` service asks:

* ingest: rows split by ``partition.shard_of`` of their canonical id (links are
  merged and people moved first: ``cluster/identity.py``), every shard's part
  sent in parallel; the call returns only when every shard has made its part
  durable (its WAL).  A shard that is down fails the call UNAVAILABLE naming
  it; the parts for the other shards were stored, and the message says how many.
* evaluate: sizes add; members are the shards' sorted lists merged (ids stay
  external); overlap adds intersection counts and recomputes Jaccard.
* ``top P%``: two phases. Each shard reports the distribution of the metric over
  its known users, the router finds the global threshold ``q`` (rank
  ``ceil(P/100 * N)`` over all ``N`` users), the shards select ``M > 0 and M >= q``.
  An instant is fixed for both phases (the router's clock for "now").
* saved cohorts: the router's ``catalog.sqlite`` is the catalog of record; every
  change is validated on a shard, written there, then replicated to every shard's
  catalog copy (``ShardActor.sync_catalog``), again whenever a shard restarts.
* Watch/Changes: cluster versions name vectors of shard versions
  (:mod:`cohortd.cluster.versions`); a step's changes of one cohort are merged
  across shards (net entries and exits); a percentile cohort's come from the
  router's own log (:mod:`cohortd.cluster.percentiles`).
* delete_users, the time zone: routed to the owning shards / set on every shard
  from the router's record.
"""

from __future__ import annotations

import heapq
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cohortd import governance
from cohortd.audiences.project import AudienceMethods
from cohortd.cluster.analyses import ClusterAnalyses
from cohortd.cluster.audiences import ClusterMemberships, RouterIds, identifier_values
from cohortd.cluster.identity import IdentityRouter, Move, SharedExclusive
from cohortd.cluster.know import ClusterKnow
from cohortd.cluster.lint import ClusterLint
from cohortd.cluster.partial import PartialInterceptor, asked_partial
from cohortd.cluster.partial import missing as record_missing
from cohortd.cluster.partition import shard_rows, split_by_owner, split_table
from cohortd.cluster.percentiles import PercentileLog
from cohortd.cluster.shards import ShardSet
from cohortd.cluster.versions import ClusterVersions
from cohortd.engine.evaluate import percentile_threshold_rank
from cohortd.errors import (
    AlreadyExistsError,
    InvalidArgumentError,
    NotFoundError,
    NotInClusterError,
    ReferencedError,
    ShardUnavailableError,
)
from cohortd.lang import ast as A
from cohortd.lang import walk
from cohortd.service.workspace import check_project_name, no_project, project_names_in
from cohortd.storage.catalog import Catalog, CohortRecord, CohortVersion
from cohortd.storage.deletion import DeletionReport, audit_deletion
from cohortd.storage.settings import ProjectSettings
from cohortd.storage.validate import ANON_PREFIX, USER_PREFIX, normalize_events, rows_to_table
from cohortd.times import Instant, check_zone, parse_as_of, wall_ms
from cohortd.types import Change, IngestReport, LintWarning, Overlap, PlanStep, Rejection

if TYPE_CHECKING:
    from cohortd.service import Project

__all__ = ["ClusterProject", "ClusterResult", "ClusterWorkspace", "global_threshold"]

Thresholds = dict[A.Top, float]

log = logging.getLogger("cohortd.cluster")

IDENTITY_LINKS = ("anonymous_id", "previous_id")
"""Columns that link ids (docs/identity.md): merged by the router (``cluster/identity.py``)."""


@dataclass
class ClusterResult:
    """An evaluation merged over the shards (the fields the servicer reads of a ``CohortResult``)."""

    size: int
    as_of_ms: int
    version: int
    ids: list[str] | None = None
    missing_shards: list[int] = field(default_factory=list)
    """Shards left out of a partial answer (empty unless one was asked for)."""
    fetch: Callable[[], list[str]] | None = None
    """Reads the members when the size was read alone (the servicer's Members calls evaluate)."""
    to_bitmap: Callable[[list[str]], Any] | None = None
    """External ids to a bitmap of router ids (``cluster/audiences.py``), for member exports."""

    @property
    def bitmap(self) -> Any:
        """The members as router ids (what the audience code reads of a ``CohortResult``)."""
        assert self.to_bitmap is not None
        return self.to_bitmap(self.members())

    def members(self) -> list[str]:
        """External ids, sorted (the shards' sorted lists merged)."""
        if self.ids is None:
            assert self.fetch is not None
            self.ids = self.fetch()
        return self.ids


def global_threshold(values: np.ndarray, counts: np.ndarray, percent: float) -> float:
    """``q`` of ``top P%`` over all users: the value at rank ceil(P/100*N), N = sum(counts).

    ``values`` ascending and distinct with ``counts`` users each (the shards'
    distributions merged).  No user qualifies (``inf``) when N or the rank is 0.
    """
    n = int(counts.sum())
    rank = percentile_threshold_rank(percent, n)
    if n == 0 or rank == 0:
        return float("inf")
    from_top = np.cumsum(counts[::-1])
    return float(values[::-1][int(np.searchsorted(from_top, rank))])


def _merge_counts(parts: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    values = np.concatenate([p[0] for p in parts]) if parts else np.empty(0)
    counts = np.concatenate([p[1] for p in parts]) if parts else np.empty(0, np.int64)
    uniq, inverse = np.unique(values, return_inverse=True)
    return uniq, np.bincount(inverse, weights=counts, minlength=len(uniq)).astype(np.int64)


class _Schemas:
    """Property names the cluster has seen, for the servicer's per-project property limits."""

    def __init__(self) -> None:
        self.schema: dict[str, str] = {}
        self.user_schema: dict[str, str] = {}
        self.purge_listeners: list[Callable[..., Any]] = []
        """Where the audience store registers for user deletion's purge (router ids of the purged
        users; ``ClusterProject.delete_users`` calls them)."""


class _Engine:
    """The engine face the servicer and the audience code read: schema sizes, router ids, identifiers."""

    def __init__(self, project: ClusterProject) -> None:
        self.store = _Schemas()
        self.external_ids = project.router_ids.external_ids
        self.identifier_values = lambda identifier, ids: identifier_values(project, identifier, ids)


class ClusterProject(AudienceMethods, ClusterAnalyses, ClusterKnow, ClusterLint):
    """One project spread over the cluster's shards (the part of ``Project`` the services use)."""

    def __init__(self, cluster: ClusterWorkspace, name: str) -> None:
        self.cluster = cluster
        self.name = name
        self.shards = cluster.shards
        self.directory = cluster.data_dir / "router" / "projects" / name
        self.directory.mkdir(parents=True, exist_ok=True)
        self._clock = cluster.clock
        self.catalog = Catalog(self.directory / "catalog.sqlite", clock=self._clock)
        self.router_ids = RouterIds(self.directory / "router_ids.sqlite")
        self._watched: set[str] = set()  # percentile cohorts refreshed since the router opened
        self.maintainer = ClusterVersions(
            self.directory / "versions.sqlite",
            self._vector,
            ClusterMemberships(self).membership,
            self._refresh_watched,
        )
        self.engine = _Engine(self)
        self.identity = IdentityRouter(self.directory / "identity.sqlite", self.shards.count)
        self.percentiles = PercentileLog(self.directory / "percentiles.sqlite")
        self._refreshing = threading.Lock()
        self._people = SharedExclusive()
        self._moves_pending = True  # until the first write finds none left by an earlier router
        self.broken: dict[str, str] = {}
        self.max_active_cohorts: int | None = None
        self._write_lock = threading.RLock()
        self._parsed: dict[tuple[str, str], A.Expr] = {}
        self._init_lint()
        self.shards.on_restart.append(self._resync)
        self._settings = ProjectSettings.load(self.directory)
        self.shards.all("set_time_zone", name, self._settings.time_zone, partial=True)
        self._sync_catalog(partial=True)
        try:  # a move an earlier router left half done (else: at the next write)
            with self._people.alone():
                self._finish_moves()
        except ShardUnavailableError as exc:
            log.warning("project %s: identity moves wait for a shard: %s", name, exc)
        for events, users in self.shards.all("schema_names", name, partial=True).values():
            self.engine.store.schema.update(dict.fromkeys(events, ""))
            self.engine.store.user_schema.update(dict.fromkeys(users, ""))
        from cohortd.audiences.delivery import AudienceService

        # delivered from the router; the service uses the Project face a ClusterProject has
        self.audiences = AudienceService(cast("Project", self), cluster.deliver_audiences)

    # ------------------------------------------------------------- data in
    def ingest(self, table: Any) -> IngestReport:
        """Split by user, store every part on its shard, return once every part is durable."""
        return self._write("ingest", table)

    def upsert_user_properties(self, table: Any) -> IngestReport:
        """Current user properties, each user's on its own shard."""
        return self._write("upsert_user_properties", table)

    def _write(self, method: str, table: Any) -> IngestReport:
        if not isinstance(table, pa.Table | pa.RecordBatch):
            table = rows_to_table(table)  # the engine's own conversion (mixed types rejected per row)
        elif isinstance(table, pa.RecordBatch):
            table = pa.Table.from_batches([table])
        links = method == "ingest" and any(
            c in table.column_names and table.column(c).null_count < table.num_rows for c in IDENTITY_LINKS
        )
        if links or self._moves_pending:
            with self._people.alone():  # merges and moves in log order, no write racing a move
                self._finish_moves()
                if links:
                    return self._write_linked(table)
                return self._send(method, self._at_roots(table), None)
        with self._people.shared():
            return self._send(method, self._at_roots(table), None)

    def _send(self, method: str, table: pa.Table, owner: np.ndarray | None) -> IngestReport:
        """Store every shard's rows (by ``owner``, else by ``user_id``); one report in the table's rows."""
        count = self.shards.count
        parts = split_table(table, count) if owner is None else split_by_owner(table, owner, count)
        work = {s: (self.name, part) for s, (part, _) in enumerate(parts) if part.num_rows}
        try:
            reports = self.shards.call(method, work)
        except ShardUnavailableError as exc:  # the other shards' parts were stored (and are durable)
            raise ShardUnavailableError(
                f"{exc}; the rows for the other shards of this request were stored"
            ) from exc
        report = IngestReport()
        for s, rep in reports.items():
            rows = parts[s][1]
            report.accepted += rep.accepted
            report.rejected.extend(Rejection(int(rows[r.row]), r.field, r.reason) for r in rep.rejected)
        report.rejected.sort(key=lambda r: r.row)
        names = [c for c in table.column_names if c not in ("user_id", "event_type", "time", *IDENTITY_LINKS)]
        target = self.engine.store.user_schema if method != "ingest" else self.engine.store.schema
        for c in names:
            if method == "ingest" and c.startswith(USER_PREFIX):
                self.engine.store.user_schema.setdefault(c[len(USER_PREFIX) :], "")
            else:
                target.setdefault(c, "")
        return report

    # ------------------------------------------------------------ identity
    def _at_roots(self, table: pa.Table) -> pa.Table:
        """Rows of merged ids under their canonical id (stored there in one process too)."""
        if self.identity.empty or "user_id" not in table.column_names:
            return table
        column = table.column("user_id").combine_chunks()
        encoded = pc.dictionary_encode(column)
        names = encoded.dictionary.to_pylist()
        roots = [self.identity.root(str(n)) for n in names]
        if roots == names:
            return table
        rooted = pa.array(roots, pa.string()).take(encoded.indices)
        return table.set_column(table.column_names.index("user_id"), "user_id", rooted)

    def _write_linked(self, table: pa.Table) -> IngestReport:
        """A batch with links: merge in the router's map, move people, then store every row at its root.

        The router reads the ids as the ingest gate does (``normalize_events``): a
        row the gate rejects links nothing and is reported here; the others go,
        without their link columns, to the shard of their canonical id.
        """
        now = self._clock()
        normalized, checked = normalize_events(table, {}, {}, now)
        keep = np.ones(table.num_rows, bool)
        keep[[r.row for r in checked.rejected]] = False
        accepted = np.flatnonzero(keep)

        def column(name: str) -> list[Any]:
            if name not in normalized.column_names:
                return [None] * normalized.num_rows
            return normalized.column(name).to_pylist()

        names = [str(n) for n in column("user_id")]
        moves = self.identity.link(names, column("anonymous_id"), column("previous_id"), self._known(names))
        self._moves_pending = self._moves_pending or bool(moves)
        self._run_moves(moves)  # UNAVAILABLE: nothing of the batch stored; a retry finishes the moves
        roots = [self.identity.root(n) for n in names]
        anon = [r.startswith(ANON_PREFIX) for r in roots]
        rows = table.take(pa.array(accepted)).drop_columns(
            [c for c in (*IDENTITY_LINKS, "user_id") if c in table.column_names]
        )
        rows = rows.append_column(
            "user_id", pa.array([None if a else r for r, a in zip(roots, anon, strict=True)], pa.string())
        )
        if any(anon):
            texts = [r[len(ANON_PREFIX) :] if a else None for r, a in zip(roots, anon, strict=True)]
            rows = rows.append_column("anonymous_id", pa.array(texts, pa.string()))
        stored = self._send("ingest", rows, shard_rows(roots, self.shards.count))
        report = IngestReport(accepted=stored.accepted, rejected=list(checked.rejected))
        report.rejected.extend(Rejection(int(accepted[r.row]), r.field, r.reason) for r in stored.rejected)
        report.rejected.sort(key=lambda r: r.row)
        return report

    def _known(self, batch_users: Sequence[str]) -> Callable[[list[str]], set[str]]:
        """Which ids are known user ids: in this batch, merged on the router, or held by their shard."""
        in_batch = set(batch_users)

        def known(ids: list[str]) -> set[str]:
            out = {i for i in ids if i in in_batch or self.identity.merged_away(i)}
            ask: dict[int, list[str]] = {}
            for i in ids:
                if i not in out:
                    ask.setdefault(self.identity.shard(i), []).append(i)
            answers = self.shards.call("known_users", {s: (self.name, ask[s]) for s in ask})
            return out | {u for found in answers.values() for u in found}

        return known

    def _run_moves(self, moves: Sequence[Move]) -> None:
        """Each move: copy + link on the target (skipped when already merged there), tombstone the source."""
        for m in moves:
            linked = self.shards.call("linked", {m.target: (self.name, m.moving, m.winner)})[m.target]
            if not linked:
                rows = None
                if m.source != m.target:
                    rows = self.shards.call("moving_rows", {m.source: (self.name, m.moving)})[m.source]
                args = (self.name, rows, m.winner, m.moving, m.alias, self._clock())
                self.shards.call("move_in", {m.target: args})
            if m.source != m.target:
                self.shards.call("tombstone", {m.source: (self.name, m.moving)})
            self.identity.done(m)

    def _finish_moves(self) -> None:
        """Moves a failed write (or a router that died) left half done, in order (idempotent)."""
        if self._moves_pending:
            self._run_moves(self.identity.pending())
            self._moves_pending = False

    def delete_users(self, user_ids: list[str], compact: bool = False) -> DeletionReport:
        """Delete users on the shards that hold them; one report and one audit entry, as in one process.

        Every shard must answer (a down one fails the call UNAVAILABLE naming it; the
        ids on the other shards were deleted, and deleting again is harmless).  With
        ``compact`` every shard purges now and the router purges its own copies: the
        router ids of the purged users and the audiences' state (``purge_listeners``).
        """
        if not user_ids:
            raise InvalidArgumentError("no user id to delete")
        asked = list(dict.fromkeys(str(u) for u in user_ids))
        roots = [self.identity.root(u) for u in asked]  # a merged id is deleted with its person, by its root
        owner = self._owners(roots)
        shards = range(self.shards.count) if compact else np.unique(owner)  # compact: purge everywhere
        work = {
            int(s): (self.name, list(dict.fromkeys(roots[i] for i in np.flatnonzero(owner == s))), compact)
            for s in shards
        }
        with self._write_lock:
            try:
                answers = self.shards.call("delete_users", work)
            except ShardUnavailableError as exc:
                raise ShardUnavailableError(
                    f"{exc}; the ids held by the other shards were deleted (deleting again is harmless)"
                ) from exc
            found = {u for rep, _ in answers.values() for u in rep.found}
            reports = [rep for rep, _ in answers.values()]
            report = DeletionReport(
                [str(u) for u in user_ids],
                [u for u, r in zip(asked, roots, strict=True) if r in found],
                [u for u, r in zip(asked, roots, strict=True) if r not in found],
                sum(r.ids_deleted for r in reports),
                sum(r.events_before for r in reports),
                sum(r.events_visible_after for r in reports),
                purged=compact,
            )
            if compact:
                purged = [u for _, names in answers.values() for u in names]
                self.identity.forget(purged)  # their ids are new people if they come again
                gone = self.router_ids.forget(purged)
                for listener in self.engine.store.purge_listeners:
                    listener(gone)
            audit_deletion(self.directory / "audit" / "deletions.jsonl", report)
        return report

    def _owners(self, user_ids: Sequence[str]) -> np.ndarray:
        """The shard holding each external id (its canonical id's)."""
        if self.identity.empty:
            return shard_rows(user_ids, self.shards.count)
        return np.array([self.identity.shard(str(u)) for u in user_ids], np.int64)

    # ------------------------------------------------------------ settings
    @property
    def time_zone(self) -> str:
        """The project zone of calendar windows and ``active_days``, from the router's record."""
        return self._settings.time_zone

    def set_time_zone(self, name: str) -> str:
        """Record the zone (the router's ``settings.json``), then set it on every shard.

        A shard that is down fails the call UNAVAILABLE; it takes the recorded zone
        when it is back (``_resync``), before it answers again.
        """
        name = check_zone(name)
        with self._write_lock:
            self._settings = ProjectSettings(time_zone=name)
            self._settings.save(self.directory)
            self.shards.all("set_time_zone", self.name, name)
        return name

    # ------------------------------------------------------------- catalog
    def _entries(self) -> list[tuple[str, str, str, bool]]:
        return [(r.name, r.definition, r.description, bool(r.archived)) for r in self.catalog.list(True)]

    def _sync_catalog(self, partial: bool = False) -> None:
        entries = self._entries()
        self.shards.call("sync_catalog", {s: (self.name, entries) for s in range(self.shards.count)}, partial)

    def _resync(self, shard: int) -> None:
        """A restarted shard: replay the recorded zone and catalog onto it (it may have missed a change)."""
        self.shards.call("set_time_zone", {shard: (self.name, self.time_zone)}, include_down=True)
        self.shards.call("sync_catalog", {shard: (self.name, self._entries())}, include_down=True)

    def _canonical(self, definition: str | A.Expr) -> str:
        from cohortd.lang import as_expr, to_text

        return to_text(as_expr(definition))

    def create_cohort(
        self, name: str, definition: str | A.Expr, description: str = "", note: str = ""
    ) -> tuple[CohortRecord, list[LintWarning]]:
        """Validate on shard 0, record, replicate to every shard."""
        with self._write_lock:
            if self._exists(name):
                raise AlreadyExistsError(f"a cohort named {name!r} already exists")
            warnings = self.lint(definition, name)  # validated on every shard
            rec = self.catalog.create(
                name, self._canonical(definition), description, note, governance.author()
            )
            self._sync_catalog()
            self._refresh_if_percentile(name)
        return rec, warnings

    def update_cohort(
        self,
        name: str,
        definition: str | A.Expr | None = None,
        description: str | None = None,
        note: str = "",
    ) -> tuple[CohortRecord, list[LintWarning]]:
        with self._write_lock:
            self.catalog.get(name)  # NOT_FOUND first
            warnings: list[LintWarning] = []
            text = None
            if definition is not None:
                warnings = self.lint(definition, name)
                text = self._canonical(definition)
            rec = self.catalog.update(name, text, description, note, governance.author())
            self._sync_catalog()
            self._refresh_if_percentile(name)
        return rec, warnings

    def archive_cohort(self, name: str) -> CohortRecord:
        with self._write_lock:
            rec = self.catalog.archive(name)
            self._sync_catalog()
        return rec

    def unarchive_cohort(self, name: str) -> CohortRecord:
        with self._write_lock:
            rec = self.catalog.unarchive(name)
            self._sync_catalog()
        return rec

    def _exists(self, name: str) -> bool:
        try:
            self.catalog.get(name)
        except NotFoundError:
            return False
        return True

    def get_cohort(self, name: str) -> CohortRecord:
        return self.catalog.get(name)

    def list_cohorts(self, include_archived: bool = False) -> list[CohortRecord]:
        return self.catalog.list(include_archived)

    def cohort_history(self, name: str) -> list[CohortVersion]:
        return self.catalog.history(name)

    def _referrers(self, name: str) -> list[str]:
        """Saved cohorts (archived too) whose definitions reference ``name`` directly, sorted."""
        out = []
        for rec in self.catalog.list(True):
            expr = self._resolve(rec.name)
            if rec.name != name and expr is not None and name in walk.cohort_refs(expr):
                out.append(rec.name)
        return out

    def rename_cohort(self, old: str, new: str) -> tuple[CohortRecord, list[str]]:
        """Rename in the catalog of record (references follow, as in one process), then on every shard.

        The shards rename their copies, so their maintained members and change
        logs carry on under the new name; a shard that was down catches up when
        it is back (``ShardActor.sync_catalog`` drops the old name, adds the new).
        """
        from cohortd.lang import to_text

        if not new or not new.strip() or new != new.strip():
            raise InvalidArgumentError("cohort names must be non-empty without leading or trailing spaces")
        with self._write_lock:
            self.catalog.get(old)  # NOT_FOUND
            if new == old:
                return self.catalog.get(old), []
            audiences = governance.audiences_of(cast("Project", self), old)
            if audiences:
                raise ReferencedError(
                    f"cohort {old!r} cannot be renamed while audiences deliver it: {', '.join(audiences)}"
                )
            follow = self._referrers(old)
            rewrites = {}
            for r in follow:
                expr = self._resolve(r)
                assert expr is not None
                rewrites[r] = to_text(governance.renamed(expr, old, new))
            rec = self.catalog.rename(old, new, rewrites, governance.author())
            self.shards.all("rename_cohort", self.name, old, new, partial=True)
            self.percentiles.rename(old, new)
            self._sync_catalog()
        return rec, follow

    def delete_cohort(self, name: str) -> None:
        """Delete from the catalog of record (refused while referenced, as in one process), then copies."""
        with self._write_lock:
            self.catalog.get(name)  # NOT_FOUND
            cohorts, audiences = self._referrers(name), governance.audiences_of(cast("Project", self), name)
            if cohorts or audiences:
                who = [f"cohort {c!r}" for c in cohorts] + [f"audience {a!r}" for a in audiences]
                raise ReferencedError(
                    f"cohort {name!r} cannot be deleted while referenced by {', '.join(who)}"
                )
            self.catalog.delete(name)
            self.percentiles.drop(name)
            self._sync_catalog()

    def cohort_changelog(self, name: str) -> list[governance.VersionChange]:
        """Every version with its author and diff, from the catalog of record."""
        return governance.history(cast("Project", self), name)

    # ------------------------------------------------------- percentiles
    def _resolve(self, name: str) -> A.Expr | None:
        from cohortd.lang import parse

        try:
            rec = self.catalog.get(name)
        except NotFoundError:
            return None
        key = (name, rec.definition)
        if key not in self._parsed:
            self._parsed[key] = parse(rec.definition)
        return self._parsed[key]

    def _tops(self, name: str | None, definition: Any) -> list[A.Top]:
        """The percentile conditions a query involves (every query's definition passes here)."""
        from cohortd.lang import as_expr

        if name is not None:
            expr = self._resolve(name)
            if expr is None:
                raise NotFoundError(f"no cohort named {name!r}")
        else:
            expr = as_expr(definition)
        if isinstance(expr, A.Accounts):
            raise NotInClusterError(
                "account cohorts (accounts(...)) are not available on a cluster yet: an account's users "
                "are spread over the shards, so its user counts would need adding across them"
            )
        return list(dict.fromkeys(n for n in walk.expand(expr, self._resolve) if isinstance(n, A.Top)))

    def _thresholds(self, tops: Sequence[A.Top], ms: int, partial: bool) -> Thresholds:
        """Phase one of ``top P%``: every shard's distribution, the global ``q`` of each."""
        per_shard = self.shards.all("metric_counts", self.name, list(tops), ms, partial=partial)
        out: Thresholds = {}
        for i, top in enumerate(tops):
            values, counts = _merge_counts([parts[i] for parts in per_shard.values()])
            out[top] = global_threshold(values, counts, top.percent)
        return out

    def _plan(
        self, names: Sequence[str | None], definition: Any, as_of: Instant | None, partial: bool
    ) -> tuple[int | None, Thresholds | None]:
        """(instant to send, thresholds): an instant is fixed when a percentile is involved."""
        ms = parse_as_of(as_of)
        tops: list[A.Top] = []
        for n in names:
            tops.extend(self._tops(n, definition if n is None else None))
        if not tops:
            return ms, None
        ms = self._clock() if ms is None else ms
        return ms, self._thresholds(list(dict.fromkeys(tops)), ms, partial)

    # ------------------------------------------------------------ queries
    def _check_target(self, name: str | None, definition: Any) -> None:
        if (name is None) == (definition is None):
            raise InvalidArgumentError("give exactly one of a saved cohort name or a definition")
        if name is not None:
            self.catalog.get(name)

    def evaluate(
        self,
        name: str | None = None,
        definition: str | A.Expr | None = None,
        as_of: Instant | None = None,
        kernel: str | None = None,
        partial: bool = False,
    ) -> ClusterResult:
        """Size of a saved cohort or a definition over every shard (sizes add)."""
        return self._evaluate("evaluate", name, definition, as_of, partial)

    def members(
        self, name: str | None = None, definition: str | A.Expr | None = None, as_of: Instant | None = None
    ) -> list[str]:
        return self._evaluate("members", name, definition, as_of, False).members()

    def evaluate_members(
        self,
        name: str | None = None,
        definition: str | A.Expr | None = None,
        as_of: Instant | None = None,
        partial: bool = False,
    ) -> ClusterResult:
        """Like ``evaluate`` with the members (sorted external ids, the shards' lists merged)."""
        return self._evaluate("members", name, definition, as_of, partial)

    def _evaluate(
        self, method: str, name: str | None, definition: Any, as_of: Instant | None, partial: bool
    ) -> ClusterResult:
        self._check_target(name, definition)
        partial = partial or asked_partial()
        if name is not None and as_of is None and not partial and self._tops(name, None):
            members, version, at = self._refresh(name)  # "now" of a percentile cohort: its log's version
            return ClusterResult(len(members), at, version, members, to_bitmap=self.router_ids.bitmap)
        ms, thresholds = self._plan([name], definition, as_of, partial)
        now = ms is None and name is not None and not thresholds
        if ms is None and not now:
            ms = self._clock()  # one instant for every shard
        answers = self.shards.all(method, self.name, name, definition, ms, thresholds, partial=partial)
        missing = [s for s in range(self.shards.count) if s not in answers]
        record_missing(missing)
        if method == "members":
            ids = list(heapq.merge(*(a[0] for a in answers.values())))
            size = len(ids)
        else:
            ids, size = None, sum(a[0] for a in answers.values())
        as_of_ms = max((a[1] for a in answers.values()), default=ms or 0) if now else int(ms or 0)
        version = 0
        if now:
            version = self._version_at({s: a[2] for s, a in answers.items()})
        result = ClusterResult(size, as_of_ms, version, ids, missing, to_bitmap=self.router_ids.bitmap)
        if ids is None:
            pinned = as_of if as_of is not None else (None if now else ms)
            result.fetch = lambda: self._evaluate("members", name, definition, pinned, partial).members()
        return result

    def _refresh(self, cohort: str) -> tuple[list[str], int, int]:
        """(members, cluster version, instant) of a percentile cohort now, logged (``percentiles.py``)."""
        with self._refreshing:  # one refresh at a time: the log's versions only grow
            self._watched.add(cohort)
            vector = self._vector()
            version = self.maintainer.register(vector)
            ms = self._clock()
            members = self._evaluate("members", cohort, None, ms, False).members()
            version = self.percentiles.record(
                cohort, version, ms, members, lambda: self.maintainer.register(vector, fresh=True)
            )
        return members, version, ms

    def _refresh_watched(self) -> None:
        """Refresh every percentile cohort read or watched since the router opened (before a version
        is read: Changes and Watch then see what the refresh logged)."""
        for cohort in sorted(self._watched):
            try:
                if not self.catalog.get(cohort).archived:
                    self._refresh(cohort)
            except NotFoundError:  # deleted or renamed
                self._watched.discard(cohort)

    def _refresh_if_percentile(self, cohort: str) -> None:
        """A saved cohort with a percentile starts its log when it is saved (Watch from then on)."""
        if self._tops(cohort, None) and not self.catalog.get(cohort).archived:
            self._refresh(cohort)

    def _version_at(self, shard_versions: dict[int, int]) -> int:
        """The cluster version of an answer read at these shard versions (0 for a partial one)."""
        if len(shard_versions) < self.shards.count:
            return 0
        return self.maintainer.register([shard_versions[s] for s in range(self.shards.count)])

    def explain(
        self, name: str | None = None, definition: str | A.Expr | None = None, as_of: Instant | None = None
    ) -> list[PlanStep]:
        """Every shard's plan at one instant: sizes add, a step's time is its slowest shard's."""
        self._check_target(name, definition)
        ms, thresholds = self._plan([name], definition, as_of, False)
        ms = self._clock() if ms is None else ms
        answers = self.shards.all("explain", self.name, name, definition, ms, thresholds)
        plans = [answers[s] for s in range(self.shards.count)]
        return [
            PlanStep(steps[0].text, sum(s.size for s in steps), max(s.millis for s in steps), steps[0].depth)
            for steps in zip(*plans, strict=True)  # one tree: the same steps on every shard
        ]

    def overlap(self, cohorts: Sequence[str], as_of: Instant | None = None, partial: bool = False) -> Overlap:
        """Sizes and intersection counts add over the shards; Jaccard from the sums."""
        if not cohorts:
            raise InvalidArgumentError("overlap needs at least one cohort")
        for c in cohorts:
            self.catalog.get(c)
        partial = partial or asked_partial()
        ms, thresholds = self._plan(list(cohorts), None, as_of, partial)
        answers = self.shards.all("overlap", self.name, list(cohorts), ms, thresholds, partial=partial)
        record_missing([s for s in range(self.shards.count) if s not in answers])
        n = len(cohorts)
        sizes = [sum(a[0][i] for a in answers.values()) for i in range(n)]
        inter = [[sum(a[1][i][j] for a in answers.values()) for j in range(n)] for i in range(n)]
        union = [[sizes[i] + sizes[j] - inter[i][j] for j in range(n)] for i in range(n)]
        jac = [[inter[i][j] / union[i][j] if union[i][j] else 0.0 for j in range(n)] for i in range(n)]
        as_of_ms = int(ms) if ms is not None else max((a[2] for a in answers.values()), default=0)
        return Overlap(list(cohorts), sizes, inter, jac, as_of_ms)

    def is_member(self, user_id: str, cohort: str, as_of: Instant | None = None) -> bool:
        return bool(self.membership_matrix([user_id], [cohort], as_of)[0, 0])

    def check_membership(
        self, user_ids: Sequence[str], cohorts: Sequence[str], as_of: Instant | None = None
    ) -> list[list[bool]]:
        return self.membership_matrix(user_ids, cohorts, as_of).tolist()

    def membership_matrix(
        self, user_ids: Sequence[str], cohorts: Sequence[str], as_of: Instant | None = None
    ) -> np.ndarray:
        """Each user asked of its own shard; only the shards holding asked users are needed."""
        for c in cohorts:
            self.catalog.get(c)
        ids = [str(u) for u in user_ids]
        owner = self._owners(ids)
        ms, thresholds = self._plan(list(cohorts), None, as_of, False)
        work = {}
        for s in np.unique(owner):
            rows = np.flatnonzero(owner == s)
            work[int(s)] = (self.name, [ids[i] for i in rows], list(cohorts), ms, thresholds)
        answers = self.shards.call("membership", work)
        out = np.zeros((len(ids), len(cohorts)), bool)
        for s, matrix in answers.items():
            out[np.flatnonzero(owner == s)] = matrix
        return out

    def user_cohorts(self, user_id: str, as_of: Instant | None = None) -> list[str]:
        live = [r.name for r in self.catalog.list(False)]
        if not live:
            return []
        ms, thresholds = self._plan(live, None, as_of, False)
        s = int(self._owners([str(user_id)])[0])
        return self.shards.call("user_cohorts", {s: (self.name, str(user_id), live, ms, thresholds)})[s]

    # ------------------------------------------------------------ changes
    def _vector(self) -> tuple[int, ...]:
        answers = self.shards.all("version", self.name)
        return tuple(answers[s] for s in range(self.shards.count))

    def changes(self, cohorts: Sequence[str], after_version: int, upto: int | None = None) -> list[Change]:
        """Changes of the cohorts after cluster version ``after_version`` up to ``upto``.

        Every shard's changes between the two vectors, merged per cohort into one
        change (net entries and exits) at version ``upto``: one per (cohort, version).
        A cohort with a ``top P%`` condition is refreshed and read from the router's
        own log instead (``cluster/percentiles.py``).
        """
        for c in cohorts:
            self.catalog.get(c)
        percentile = [c for c in cohorts if self._tops(c, None)]
        for c in percentile:  # their log is the router's: refreshed now, then read
            self._refresh(c)
        upto = self.maintainer.version if upto is None else upto
        logged = [ch for c in percentile for ch in self.percentiles.changes(c, after_version, upto)]
        local = [c for c in cohorts if c not in percentile]
        self.maintainer.vector(after_version)  # ResyncRequired for a version never handed out
        if upto <= after_version:
            return []
        out = self._shard_changes(local, after_version, upto) if local else []
        return sorted(out + logged, key=lambda ch: ch.version)

    def _shard_changes(self, cohorts: Sequence[str], after_version: int, upto: int) -> list[Change]:
        """Every shard's changes between the two vectors, merged per cohort at version ``upto``."""
        start, end = self.maintainer.vector(after_version), self.maintainer.vector(upto)
        work = {s: (self.name, list(cohorts), start[s], end[s]) for s in range(self.shards.count)}
        answers = self.shards.call("changes", work)
        net: dict[str, dict[str, int]] = {}  # cohort -> user -> +1 entered / -1 exited over the step
        times: dict[str, int] = {}
        for s in range(self.shards.count):  # a user lives on one shard: its changes come in order
            for ch in answers[s]:
                users = net.setdefault(ch.cohort, {})
                for u in ch.exited:
                    users[u] = users.get(u, 0) - 1
                for u in ch.entered:
                    users[u] = users.get(u, 0) + 1
                times[ch.cohort] = max(times.get(ch.cohort, 0), ch.time_ms)
        out = []
        for cohort in cohorts:
            users = net.get(cohort, {})
            entered = sorted(u for u, v in users.items() if v > 0)
            exited = sorted(u for u, v in users.items() if v < 0)
            if entered or exited:
                out.append(Change(cohort, upto, times[cohort], entered, exited))
        return out

    def watch(self, *args: Any, **kwargs: Any) -> Any:
        raise NotInClusterError("the embedded watch is not available on a cluster; use the Watch RPC")

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("_"):
            raise AttributeError(attr)
        raise NotInClusterError(f"{attr} is not available when the project is served by a cluster (yet)")

    def upload_cohort(self, *args: Any, **kwargs: Any) -> Any:
        raise NotInClusterError(
            "static cohort uploads are not available on a cluster yet (each id's flag would be "
            "written on its own shard; not built)"
        )

    def audience_lift(self, *args: Any, **kwargs: Any) -> Any:
        raise NotInClusterError("audience lift is not available on a cluster yet")

    def close(self) -> None:
        if self._resync in self.shards.on_restart:
            self.shards.on_restart.remove(self._resync)
        self.audiences.close()
        self.maintainer.close()
        self.percentiles.close()
        self.identity.close()
        self.router_ids.close()
        self.catalog.close()


class ClusterWorkspace:
    """The cluster behind ``cohortd serve --cluster``: shard actors plus the router's own directory.

    ``DIR/cluster.json`` records the shard count: reopening with another count is
    refused (users would move between shards; rebalancing is not built, see
    ``docs/cluster.md``).
    """

    def __init__(
        self,
        data_dir: str | Path,
        shards: int,
        address: str = "local",
        clock: Callable[[], int] | None = None,
        namespace: str | None = None,
        max_active_cohorts: int | None = None,
        deliver_audiences: bool = False,
    ) -> None:
        import json

        import ray

        if shards < 1:
            raise InvalidArgumentError("--shards must be at least 1")
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        meta = self.data_dir / "cluster.json"
        if meta.exists():
            recorded = json.loads(meta.read_text())["shards"]
            if recorded != shards:
                raise InvalidArgumentError(
                    f"{self.data_dir} holds a cluster of {recorded} shards, not {shards} (no rebalancing)"
                )
        else:
            meta.write_text(json.dumps({"shards": shards}))
        if not ray.is_initialized():
            if address == "local":
                ray.init(include_dashboard=False, configure_logging=False, log_to_driver=False)
            else:
                ray.init(address=address, log_to_driver=False)
        self.clock = clock or wall_ms
        self.max_active_cohorts = max_active_cohorts
        self.deliver_audiences = deliver_audiences
        self.on_loading: list[Callable[[str, bool], None]] = []
        self.shards = ShardSet(self.data_dir, shards, namespace or f"cohortd-{abs(hash(str(self.data_dir)))}")
        for s in range(shards):  # wait for every shard to open (and learn its incarnation)
            if not self.shards.ping(s, timeout=300):
                raise ShardUnavailableError(f"shard {s} did not start")
        self.shards.start_monitor()
        self._projects: dict[str, ClusterProject] = {}
        self._lock = threading.Lock()
        self.server_interceptors = (PartialInterceptor(),)
        """Installed first by the gRPC server (``server/app.py``): partial answers on request."""
        if deliver_audiences:
            self._open_delivering()

    def _open_delivering(self) -> None:
        """Open the projects with audiences in the background: they deliver without a request."""
        from cohortd.audiences.store import has_audiences

        def open_one(name: str) -> None:
            try:
                self.project(name)
            except Exception as exc:  # requests to it will see the error too
                log.error("project %s did not open: %s", name, exc)

        for name in self.project_names():
            if has_audiences(self.data_dir / "router" / "projects" / name / "audiences.sqlite"):
                threading.Thread(
                    target=open_one, args=(name,), name=f"cohortd-open-{name}", daemon=True
                ).start()

    def project(self, name: str = "default", create: bool | None = None) -> ClusterProject:
        """The named project; like ``Workspace.project``, one that does not exist is created only
        when ``create`` is not False (reads pass False: NotFoundError naming the projects)."""
        check_project_name(name)
        with self._lock:
            proj = self._projects.get(name)
            if proj is None:
                if create is False and name not in self.project_names():
                    raise no_project(name, self.data_dir, self.project_names())
                proj = self._projects[name] = ClusterProject(self, name)
            return proj

    def project_names(self) -> list[str]:
        return project_names_in(self.data_dir / "router" / "projects")

    def close(self) -> None:
        with self._lock:
            projects, self._projects = list(self._projects.values()), {}
        for p in projects:
            p.close()
        self.shards.close()

    def __enter__(self) -> ClusterWorkspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
