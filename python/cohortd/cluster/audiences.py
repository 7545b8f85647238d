"""Audiences on a cluster: the router delivers them, from the merged change stream.

The delivery workers (``cohortd.audiences.delivery``) run unchanged in the
router.  They need three things a shard cannot give on its own, and this
module gives them:

* **Router ids** (:class:`RouterIds`).  The audience store keeps the member
  set a destination holds as a roaring bitmap of dense ids.  Each shard numbers
  its own users, so the router gives every user an audience has seen its own
  dense id, kept in ``router_ids.sqlite`` (ids only grow, and never change, so
  the stored bitmaps stay valid across restarts).
* **Memberships** (:class:`ClusterMemberships`).  ``maintainer.membership(cohort)``
  is the members at a cluster version.  The first read is the merged members
  (``evaluate_members``), later reads fold in the router's merged changes
  (``ClusterProject.changes``: every shard's change log between two version
  vectors), so a delivery is the exact difference, as in one process.
  A cohort with a percentile is read whole every time (the shards' change logs
  hold their local thresholds, not the global one).
* **Identifiers** (:func:`identifier_values`).  ``user.<prop>`` identifiers are
  read from the shard that holds each user.

While a shard is down, memberships fail UNAVAILABLE and the workers wait and
retry: a delivery is never computed from part of the cluster.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from pyroaring import BitMap

from cohortd.engine.maintain import Membership
from cohortd.errors import NotFoundError, ResyncRequired
from cohortd.storage.segment import bitmap_from_ids

if TYPE_CHECKING:
    from cohortd.cluster.router import ClusterProject

__all__ = ["ClusterMemberships", "RouterIds", "identifier_values"]


class RouterIds:
    """Dense ids (0, 1, 2, ...) the router gives external user ids, kept on disk."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, user TEXT UNIQUE NOT NULL)"
        )
        self._lock = threading.Lock()
        self._names: list[str] = [u for (u,) in self._db.execute("SELECT user FROM users ORDER BY id")]
        self._ids = {u: i for i, u in enumerate(self._names)}

    def dense(self, users: Sequence[str]) -> np.ndarray:
        """The ids of ``users`` (uint32), giving new users the next ids (recorded before returned)."""
        with self._lock:
            new = [u for u in dict.fromkeys(users) if u not in self._ids]
            if new:
                start = len(self._names)
                self._db.execute("BEGIN")
                self._db.executemany(
                    "INSERT INTO users (id, user) VALUES (?, ?)", [(start + k, u) for k, u in enumerate(new)]
                )
                self._db.execute("COMMIT")
                for k, u in enumerate(new):
                    self._ids[u] = start + k
                self._names.extend(new)
            return np.array([self._ids[u] for u in users], dtype=np.uint32)

    def bitmap(self, users: Sequence[str]) -> BitMap:
        return bitmap_from_ids(self.dense(users))

    def external_ids(self, ids: BitMap | Sequence[int] | np.ndarray) -> list[str]:
        """The external ids of router ids (the ``Engine.external_ids`` the audience code calls)."""
        arr = ids.to_array() if isinstance(ids, BitMap) else ids
        with self._lock:
            return [self._names[int(i)] for i in arr]

    def forget(self, users: Sequence[str]) -> BitMap:
        """Purge deleted users: their entries become ``$deleted:<id>`` (the strings leave the file);
        returns their ids (for the audience store's purge)."""
        from cohortd.storage.deletion import DELETED_PREFIX

        with self._lock:
            ids = sorted({self._ids[u] for u in users if u in self._ids})
            if ids:
                self._db.execute("BEGIN")
                self._db.executemany(
                    "UPDATE users SET user = ? WHERE id = ?", [(f"{DELETED_PREFIX}{i}", i) for i in ids]
                )
                self._db.execute("COMMIT")
                self._db.execute("VACUUM")
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                for i in ids:
                    del self._ids[self._names[i]]
                    self._names[i] = f"{DELETED_PREFIX}{i}"
                    self._ids[self._names[i]] = i
        return BitMap(ids)

    def close(self) -> None:
        self._db.close()


def identifier_values(project: ClusterProject, identifier: str, ids: np.ndarray) -> list[str | None]:
    """Unhashed ``identifier`` values of router ids (None: the user has none), each from its shard."""
    users = project.router_ids.external_ids(ids)
    owner = project._owners(users)
    work = {}
    for s in np.unique(owner):
        rows = np.flatnonzero(owner == s)
        work[int(s)] = (project.name, [users[i] for i in rows], identifier)
    answers = project.shards.call("identifier_values", work)
    out: list[str | None] = [None] * len(users)
    for s, values in answers.items():
        for i, v in zip(np.flatnonzero(owner == s), values, strict=True):
            out[i] = v
    return out


@dataclass
class _Held:
    definition_version: int
    membership: Membership


class ClusterMemberships:
    """``maintainer.membership`` of a cluster project: members at a cluster version, in router ids."""

    def __init__(self, project: ClusterProject) -> None:
        self.project = project
        self._lock = threading.Lock()
        self._held: dict[str, _Held] = {}

    def membership(self, cohort: str) -> Membership | None:
        """The members now (None for an archived or unknown cohort, as in one process)."""
        p = self.project
        try:
            rec = p.catalog.get(cohort)
        except NotFoundError:
            return None
        if rec.archived:
            return None
        with self._lock:
            if p._tops(cohort, None):  # a percentile: the global threshold, read whole
                version = p.maintainer.version
                r = p.evaluate_members(cohort)
                return Membership(p.router_ids.bitmap(r.members()), version, r.as_of_ms)
            held = self._held.get(cohort)
            if held is not None and held.definition_version == rec.version:
                now = p.maintainer.version
                if now == held.membership.version:
                    return held.membership
                try:
                    changes = p.changes([cohort], held.membership.version, now)
                except ResyncRequired:  # a shard's change log no longer reaches back: read whole
                    pass
                else:
                    members = held.membership.members.copy()
                    for ch in changes:
                        members -= p.router_ids.bitmap(ch.exited)
                        members |= p.router_ids.bitmap(ch.entered)
                    as_of = max([ch.time_ms for ch in changes], default=held.membership.as_of_ms)
                    held.membership = Membership(members, now, as_of)
                    return held.membership
            r = p.evaluate_members(cohort)
            m = Membership(p.router_ids.bitmap(r.members()), r.version, r.as_of_ms)
            self._held[cohort] = _Held(rec.version, m)
            return m
