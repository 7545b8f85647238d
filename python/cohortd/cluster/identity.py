"""Identity links on a cluster: the router's map of merged ids, and the moves that keep a person whole.

A person must live on one shard for every condition to stay local, but a link
(``anonymous_id`` beside a user id, or an alias's ``previous_id``) can join ids
that hash to different shards.  The router therefore keeps the identity map of
record and applies the one-process rules to it (docs/identity.md,
``storage/identity.py``), at the level of ids, in the same order: a batch's
anonymous links in row order, then its aliases; an anonymous id joins the first
user it is linked to (a later link to another user is ignored); an alias merges
two user ids when ``previous_id`` is a known user id, else links the anonymous
id ``$anon:<previous_id>``; the alias's user id, and any user id over an
anonymous id, is the canonical id that stays.

Placement: a person lives on ``shard_of(canonical id)``.  Every row is sent
there with its ids replaced by the canonical id (so a shard never sees a link
the router did not decide), and each merge the batch makes becomes a
:class:`Move`: the target shard stores a copy of the losing id's rows together
with the link, in one log record (``cluster/moves.py``), then the source shard
tombstones them.  A merge of two ids already on one shard is a move with
nothing to copy.

Crash safety: the batch's merges and their moves are written to
``identity.sqlite`` in one transaction before any shard is asked, and each
move is marked done only after both of its steps.  Pending moves run again,
in order, before the next write and when the router opens the project; a
replayed copy is skipped when the target already has the two ids merged (the
copy and the link are one record), and a second tombstone is harmless.  A row
is routed by the map only after every earlier move is done, so no row lands on
a shard a person is leaving.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cohortd.cluster.partition import shard_of
from cohortd.storage.validate import ANON_PREFIX

__all__ = ["IdentityRouter", "Move", "SharedExclusive"]


@dataclass(frozen=True)
class Move:
    """``moving`` (a canonical id) joins ``winner``: copied from ``source`` to ``target``, linked there."""

    seq: int
    moving: str
    winner: str
    alias: bool  # a user id merged by an alias (else an anonymous id linked to a user)
    source: int
    target: int


class IdentityRouter:
    """The canonical id of every merged id, and the moves not yet done (``identity.sqlite``)."""

    def __init__(self, path: Path, shards: int) -> None:
        self.count = shards
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("CREATE TABLE IF NOT EXISTS merged (id TEXT PRIMARY KEY, root TEXT NOT NULL)")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS moves (seq INTEGER PRIMARY KEY, moving TEXT NOT NULL, "
            "winner TEXT NOT NULL, alias INTEGER NOT NULL, source INTEGER NOT NULL, "
            "target INTEGER NOT NULL, done INTEGER NOT NULL DEFAULT 0)"
        )
        self._lock = threading.Lock()
        self._root: dict[str, str] = dict(self._db.execute("SELECT id, root FROM merged"))
        self._members: dict[str, set[str]] = {}
        for member, root in self._root.items():
            self._members.setdefault(root, set()).add(member)

    @property
    def empty(self) -> bool:
        """No id was ever merged (rows route by their own ids)."""
        return not self._root

    def root(self, name: str) -> str:
        """The canonical id ``name`` was merged into (itself when none)."""
        return self._root.get(name, name)

    def merged_away(self, name: str) -> bool:
        return name in self._root

    def shard(self, name: str) -> int:
        """The shard that holds the person ``name`` belongs to."""
        return shard_of(self.root(name), self.count)

    def link(
        self,
        names: Sequence[str],
        anonymous: Sequence[str | None],
        previous: Sequence[str | None],
        known_users: Callable[[list[str]], set[str]],
    ) -> list[Move]:
        """Apply a batch's links (canonical columns of the accepted rows); record and return its moves.

        ``known_users(ids)`` says which of the ids are known user ids (for aliases).
        """
        links: list[tuple[str, str, bool]] = []  # (child, user, user merge): the engine's order
        for column, alias in ((anonymous, False), (previous, True)):
            pairs = list(
                dict.fromkeys(
                    (text, name)
                    for text, name in zip(column, names, strict=True)
                    if text is not None and not name.startswith(ANON_PREFIX)
                )
            )
            known = known_users(list(dict.fromkeys(t for t, _ in pairs))) if alias and pairs else set()
            for text, name in pairs:
                if alias and text in known:
                    if text != name:
                        links.append((text, name, True))
                else:
                    links.append((ANON_PREFIX + text, name, False))
        if not links:
            return []
        parent: dict[str, str] = {}

        def root(x: str) -> str:
            r = self.root(x)
            while r in parent:
                r = parent[r]
            return r

        unions: list[tuple[str, str, bool]] = []
        for child, user, user_merge in links:
            rc, ru = root(child), root(user)
            if rc == ru or (not user_merge and not rc.startswith(ANON_PREFIX)):
                continue  # already one person, or a conflict: the anonymous id has its user
            parent[rc] = ru
            unions.append((rc, ru, user_merge))
        return self._record(unions)

    def _record(self, unions: list[tuple[str, str, bool]]) -> list[Move]:
        """Write the merges and their moves in one transaction, then apply them in memory."""
        if not unions:
            return []
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            moves = []
            for moving, winner, alias in unions:
                source, target = shard_of(moving, self.count), shard_of(winner, self.count)
                cur = self._db.execute(
                    "INSERT INTO moves (moving, winner, alias, source, target) VALUES (?, ?, ?, ?, ?)",
                    (moving, winner, int(alias), source, target),
                )
                assert cur.lastrowid is not None
                moves.append(Move(cur.lastrowid, moving, winner, alias, source, target))
                self._db.execute("UPDATE merged SET root = ? WHERE root = ?", (winner, moving))
                self._db.execute("INSERT OR REPLACE INTO merged (id, root) VALUES (?, ?)", (moving, winner))
            self._db.execute("COMMIT")
            for moving, winner, _ in unions:
                group = self._members.pop(moving, set()) | {moving}
                for member in group:
                    self._root[member] = winner
                self._members.setdefault(winner, set()).update(group)
        return moves

    def pending(self) -> list[Move]:
        """Moves recorded but not done, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, moving, winner, alias, source, target FROM moves WHERE done = 0 ORDER BY seq"
            ).fetchall()
        return [Move(s, m, w, bool(a), src, t) for s, m, w, a, src, t in rows]

    def done(self, move: Move) -> None:
        with self._lock:
            self._db.execute("UPDATE moves SET done = 1 WHERE seq = ?", (move.seq,))

    def forget(self, roots: Iterable[str]) -> None:
        """Purged people (user deletion): their ids are new users if they come again."""
        with self._lock:
            gone = [r for r in roots if r in self._members]
            if not gone:
                return
            self._db.execute("BEGIN IMMEDIATE")
            for r in gone:
                self._db.execute("DELETE FROM merged WHERE root = ?", (r,))
            self._db.execute("COMMIT")
            for r in gone:
                for member in self._members.pop(r):
                    self._root.pop(member, None)

    def close(self) -> None:
        self._db.close()


class SharedExclusive:
    """Writes share the router while none moves people; a write that links (or finishes moves) is alone."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._shared = 0
        self._alone = False

    @contextmanager
    def shared(self) -> Iterator[None]:
        with self._cond:
            while self._alone:
                self._cond.wait()
            self._shared += 1
        try:
            yield
        finally:
            with self._cond:
                self._shared -= 1
                self._cond.notify_all()

    @contextmanager
    def alone(self) -> Iterator[None]:
        with self._cond:
            while self._alone or self._shared:
                self._cond.wait()
            self._alone = True
        try:
            yield
        finally:
            with self._cond:
                self._alone = False
                self._cond.notify_all()
