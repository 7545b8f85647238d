"""One shard of a cluster: an ordinary cohortd workspace in its own data directory.

The actor (``ray.remote`` is applied by the router, so importing this module
needs no Ray) holds a :class:`~cohortd.service.Workspace`; each project on the
shard is a plain :class:`~cohortd.service.Project` (WAL, segments, catalog
copy, incremental maintenance).  When Ray restarts a dead actor, ``__init__``
runs again on the same directory and the projects reopen by WAL replay.

Every method answers for this shard's users only; ``cohortd.cluster.router``
merges.  Percentiles are the one thing a shard cannot answer alone: it reports
its metric distribution (:meth:`ShardActor.metric_counts`) and then evaluates
with the router's global thresholds.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from cohortd.lang import ast as A
from cohortd.lang import walk
from cohortd.service import Project, Workspace
from cohortd.times import parse_as_of

__all__ = ["CatalogEntry", "ShardActor", "Thresholds"]

Thresholds = Mapping[A.Top, float]
CatalogEntry = tuple[str, str, str, bool]
"""(name, canonical definition, description, archived): one cohort of the catalog of record."""


class ShardActor:
    """The shard's workspace and the per-shard half of every cluster operation."""

    def __init__(self, data_dir: str, shard: int) -> None:
        self.shard = shard
        self.incarnation = uuid.uuid4().hex  # changes on every (re)start: the router re-syncs the catalog
        self.workspace = Workspace(Path(data_dir))

    def _p(self, project: str) -> Project:
        return self.workspace.project(project)

    def ping(self) -> tuple[int, str, int]:
        """(shard, incarnation, pid): alive, and which start of the actor this is."""
        return self.shard, self.incarnation, os.getpid()

    # ------------------------------------------------------------- data in
    def ingest(self, project: str, table: pa.Table) -> Any:
        """This shard's rows; returns once they are durable (the project's WAL)."""
        return self._p(project).ingest(table)

    def upsert_user_properties(self, project: str, table: pa.Table) -> Any:
        return self._p(project).upsert_user_properties(table)

    def delete_users(self, project: str, user_ids: Sequence[str], compact: bool) -> tuple[Any, list[str]]:
        """Tombstone this shard's users (and ids merged into them); with ``compact`` purge now.

        Returns (the engine's report, the names the purge forgot): the router
        writes the one audit entry and purges its own copies (router ids, audiences).
        """
        from cohortd.storage.deletion import DeletionReport

        engine = self._p(project).engine
        report = engine.delete_users(list(user_ids)) if user_ids else DeletionReport([], [], [], 0, 0, 0)
        purged: list[str] = []
        if compact:
            store = engine.store
            with store.lock:
                purged = [store.users.value(int(d)) for d in sorted(store.identity.deleted)]
            engine.compact()
            report.purged = True
        return report, purged

    # ------------------------------------------------- identity (cluster/identity.py)
    def known_users(self, project: str, user_ids: Sequence[str]) -> list[str]:
        """Which of the ids this shard's user dictionary holds (an alias merges known user ids)."""
        users = self._p(project).engine.store.users
        return [u for u in user_ids if users.get(u) is not None]

    def linked(self, project: str, moving: str, winner: str) -> bool:
        """Whether ``moving`` is merged into ``winner`` here (a move's copy and link are one record)."""
        store = self._p(project).engine.store
        with store.lock:
            a, b = store.users.get(moving), store.users.get(winner)
            if a is None or b is None:
                return False
            store.identity.grow(len(store.users))
            return store.identity.root(int(a)) == store.identity.root(int(b))

    def moving_rows(self, project: str, moving: str) -> pa.Table | None:
        """Everything this shard holds of ``moving`` (``cluster/moves.py``), to copy to its new shard."""
        from cohortd.cluster.moves import moving_rows

        return moving_rows(self._p(project).engine.store, moving)

    def move_in(
        self, project: str, rows: pa.Table | None, winner: str, moving: str, alias: bool, time_ms: int
    ) -> None:
        """Store the copy of ``moving`` and its link to ``winner`` as one durable log record."""
        from cohortd.cluster.moves import link_rows

        link = link_rows(winner, moving, alias, time_ms)
        batch = link if rows is None else pa.concat_tables([rows, link], promote_options="default")
        self._p(project).engine.append_canonical(batch)

    def tombstone(self, project: str, moving: str) -> None:
        """``moving`` left this shard: its rows leave every answer here (purged at the next compaction)."""
        engine = self._p(project).engine
        if engine.store.users.get(moving) is not None:
            engine.delete_users([moving])

    def set_time_zone(self, project: str, name: str) -> None:
        """The project zone of the record (re-evaluates the saved cohorts when it changes)."""
        p = self._p(project)
        if p.time_zone != name:
            p.set_time_zone(name)

    def schema_names(self, project: str) -> tuple[list[str], list[str]]:
        """Event and user property names this shard has seen (for the router's property limits)."""
        store = self._p(project).engine.store
        return list(store.schema), list(store.user_schema)

    # ------------------------------------------------------------- catalog
    def vocabulary(self, project: str, known_version: int | None) -> Any:
        """This shard's lint vocabulary, strings as text (None: unchanged since ``known_version``)."""
        from cohortd.cluster.lint import shard_vocabulary

        return shard_vocabulary(self._p(project), known_version)

    def lint_counts(
        self,
        project: str,
        name: str | None,
        definition: Any,
        ms: int,
        thresholds: Thresholds | None,
        percentiles: list[str],
    ) -> tuple[int, dict[str, tuple[int, int]]]:
        """Validate a definition; its members here and their overlap with each saved cohort."""
        from cohortd.cluster.lint import shard_lint_counts

        return shard_lint_counts(self._p(project), name, definition, ms, thresholds, percentiles)

    def sync_catalog(self, project: str, entries: Sequence[CatalogEntry]) -> None:
        """Make this shard's catalog copy say what the catalog of record says (dependencies first)."""
        p = self._p(project)
        mine = {r.name: r for r in p.list_cohorts(include_archived=True)}
        pending = [e for e in entries if _differs(mine.get(e[0]), e)]
        while pending:  # a cohort can be created once the cohorts it references exist
            later = []
            for entry in pending:
                name, text, description, archived = entry
                known = set(p.registry.saved)
                refs = {n.name for n in walk.nodes(p.engine.definition(text)) if isinstance(n, A.InCohort)}
                if not refs <= known:
                    later.append(entry)
                    continue
                rec = mine.get(name)
                if rec is None:
                    p.create_cohort(name, text, description)
                elif rec.definition != text or rec.description != description:
                    if rec.archived:
                        p.unarchive_cohort(name)
                    p.update_cohort(name, text, description)
                if archived and not p.get_cohort(name).archived:
                    p.archive_cohort(name)
                elif not archived and p.get_cohort(name).archived:
                    p.unarchive_cohort(name)
            if len(later) == len(pending):
                raise RuntimeError(f"catalog sync: unresolvable references in {[e[0] for e in later]}")
            pending = later
        gone = set(mine) - {e[0] for e in entries}  # deleted, or renamed while this shard was down
        while gone:  # referrers first: the shard refuses to delete a referenced cohort
            refs_of = {o: set(walk.cohort_refs(p.registry.expr(o))) for o in p.registry.saved}
            free = [n for n in gone if not any(n in r for o, r in refs_of.items() if o != n)]
            if not free:
                raise RuntimeError(f"catalog sync: cannot drop {sorted(gone)}")
            for n in free:
                p.delete_cohort(n)
            gone -= set(free)

    def rename_cohort(self, project: str, old: str, new: str) -> None:
        """Rename this shard's copy (its members and change log carry on under the new name)."""
        p = self._p(project)
        if old in p.registry.saved and new not in p.registry.saved:
            p.rename_cohort(old, new)

    # ------------------------------------------------------------- queries
    def _expr(self, p: Project, name: str | None, definition: Any) -> A.Expr:
        if name is not None:
            return p.registry.expr(name)
        expr = p.engine.definition(definition)
        p.registry.check_refs(expr, None)
        return expr

    def _result(
        self,
        project: str,
        name: str | None,
        definition: Any,
        as_of: int | None,
        thresholds: Thresholds | None,
    ) -> Any:
        p = self._p(project)
        if not thresholds:
            return p.evaluate(name, definition, as_of)
        expr = self._expr(p, name, definition)
        ms = parse_as_of(as_of)
        assert ms is not None, "the router fixes the instant of a percentile evaluation"
        return p.engine.evaluate(expr, as_of=ms, resolve=p.registry.resolve, top_thresholds=thresholds)

    def evaluate(
        self,
        project: str,
        name: str | None,
        definition: Any,
        as_of: int | None,
        thresholds: Thresholds | None,
    ) -> tuple[int, int, int]:
        """(size, as_of_ms, maintained version or 0) of this shard's members."""
        r = self._result(project, name, definition, as_of, thresholds)
        return int(r.size), int(r.as_of_ms), int(getattr(r, "version", 0) or 0)

    def members(
        self,
        project: str,
        name: str | None,
        definition: Any,
        as_of: int | None,
        thresholds: Thresholds | None,
    ) -> tuple[list[str], int, int]:
        """(sorted external ids, as_of_ms, version) of this shard's members."""
        r = self._result(project, name, definition, as_of, thresholds)
        return r.members(), int(r.as_of_ms), int(getattr(r, "version", 0) or 0)

    def overlap(
        self, project: str, cohorts: Sequence[str], as_of: int | None, thresholds: Thresholds | None
    ) -> tuple[list[int], list[list[int]], int]:
        """(sizes, intersection counts, as_of_ms) of saved cohorts on this shard."""
        p = self._p(project)
        if not thresholds:
            ov = p.overlap(cohorts, as_of)
            assert ov.as_of_ms is not None  # a project's overlap always names its instant
            return ov.sizes, ov.intersections, int(ov.as_of_ms)
        bitmaps = [self._result(project, c, None, as_of, thresholds).bitmap for c in cohorts]
        n = len(bitmaps)
        inter = [[bitmaps[i].intersection_cardinality(bitmaps[j]) for j in range(n)] for i in range(n)]
        return [len(b) for b in bitmaps], inter, int(as_of or 0)

    def explain(
        self, project: str, name: str | None, definition: Any, as_of: int, thresholds: Thresholds | None
    ) -> list[Any]:
        """This shard's plan of the definition, each step with its size and time here."""
        p = self._p(project)
        expr = self._expr(p, name, definition)
        return p.engine.explain(expr, as_of=as_of, resolve=p.registry.resolve, top_thresholds=thresholds)

    def metric_counts(
        self, project: str, tops: Sequence[A.Top], as_of: int
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per percentile condition: (distinct metric values, users with each) over known users."""
        ev = self._p(project).engine.evaluation(as_of)
        out = []
        for top in tops:
            values = ev.top_metric(top)[ev.known_mask]
            out.append(np.unique(values, return_counts=True))
        return out

    def membership(
        self,
        project: str,
        user_ids: Sequence[str],
        cohorts: Sequence[str],
        as_of: int | None,
        thresholds: Thresholds | None,
    ) -> np.ndarray:
        """Membership matrix of this shard's users (rows) in the cohorts (columns)."""
        p = self._p(project)
        if not thresholds:
            return p.membership_matrix(user_ids, cohorts, as_of)
        ids = p.engine.dense_ids(user_ids)
        out = np.zeros((len(ids), len(cohorts)), bool)
        for j, cohort in enumerate(cohorts):
            bitmap = self._result(project, cohort, None, as_of, thresholds).bitmap
            out[:, j] = [i >= 0 and int(i) in bitmap for i in ids]
        return out

    def user_cohorts(
        self,
        project: str,
        user_id: str,
        cohorts: Sequence[str],
        as_of: int | None,
        thresholds: Thresholds | None,
    ) -> list[str]:
        """Which of ``cohorts`` the user (held by this shard) is in."""
        matrix = self.membership(project, [user_id], cohorts, as_of, thresholds)
        return [c for c, inside in zip(cohorts, matrix[0], strict=True) if inside]

    def identifier_values(self, project: str, user_ids: Sequence[str], identifier: str) -> list[str | None]:
        """Unhashed audience identifiers (``user.<prop>``) of this shard's users; None where unset."""
        from cohortd.audiences.identifiers import Identifier
        from cohortd.storage.segment import bitmap_from_ids

        engine = self._p(project).engine
        dense = engine.dense_ids(user_ids)
        ident = Identifier(engine, identifier, "none")
        found = np.asarray(ident.identifiable(bitmap_from_ids(dense[dense >= 0])).to_array(), np.uint32)
        values = dict(zip(found.tolist(), ident.values(found), strict=True))
        return [values.get(int(d)) for d in dense]

    def analysis(self, project: str, method: str, args: tuple[Any, ...], kw: dict[str, Any]) -> Any:
        """One analysis over this shard's users (``cohortd.cluster.analyses`` adds the answers)."""
        from cohortd.cluster.analyses import ANALYSES

        if method not in ANALYSES:
            raise ValueError(f"not a shard analysis: {method}")
        p = self._p(project)
        prop = kw.get("split_property") if method == "funnel_parts" else None
        if prop and prop not in p.engine.store.user_schema:  # known on other shards (the router checked)
            parts = p.funnel_parts(*args, **(kw | {"split_property": None}))
            parts.split_by, parts.groups = f"user.{prop}", [("(none)", parts.times)]
            return parts
        return getattr(p, method)(*args, **kw)

    def schema_document(self, project: str, now_ms: int, top: int) -> tuple[dict[str, Any], int]:
        """(the ``cohortd schema`` document of this shard at ``now_ms``, this shard's users)."""
        p = self._p(project)
        return p.know.schema_index.describe(now_ms, top), len(p.engine.store.users)

    def population(self, project: str, name: str | None, definition: Any, kw: dict[str, Any]) -> Any:
        """This shard's population series (``viewed`` stamps stay with the router's catalog)."""
        return self._p(project).population(name, definition, **(kw | {"viewed": False}))

    # ------------------------------------------------------------- changes
    def version(self, project: str) -> int:
        """This shard's change-log version of the project."""
        return int(self._p(project).maintainer.version)

    def changes(self, project: str, cohorts: Sequence[str], after: int, upto: int) -> list[Any]:
        """This shard's changes of the cohorts in ``(after, upto]`` (external ids)."""
        return self._p(project).changes(cohorts, after, upto)

    def close(self) -> None:
        self.workspace.close()


def _differs(rec: Any, entry: CatalogEntry) -> bool:
    if rec is None:
        return True
    name, text, description, archived = entry
    return rec.definition != text or rec.description != description or bool(rec.archived) != archived
