"""Identity resolution: a union-find over dense user ids (see docs/identity.md for the rules).

Anonymous ids (Segment ``anonymousId``, Amplitude ``device_id``) live in the
user dictionary as ``$anon:<id>``.  A row carrying both a user id and an
anonymous id (or a Segment ``identify``/``alias`` call) links them; the map
sends every id to its canonical id (its root), and the store applies it:

* at ingest, rows of an already linked id are stored under the root;
* at read time, segments holding events of ids merged since they were written
  are seen through :func:`canonical_segment` (same rows, users replaced by
  their root, re-sorted), so past events count for the merged user at once;
* at compaction (seal/merge) the segments are written through the same view,
  which folds the map into the files.

Rules: an anonymous id joins the first user id it is linked to; a later link of
the same anonymous id to a different user is a conflict and is ignored
(counted).  Two user ids merge only by an explicit alias (``previous_id`` into
``user_id``; the alias's ``user_id`` wins).  A user id always wins over an
anonymous id.  Links are applied in log order, so replay is deterministic.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from cohortd.storage.dictionary import StringDictionary
from cohortd.storage.files import FileSum, atomic_write
from cohortd.storage.segment import Segment
from cohortd.storage.userprops import UserProperties
from cohortd.storage.validate import ANON_PREFIX, contiguous  # anonymous ids: in the user dictionary

LINK_COLUMNS = ("anonymous_id", "previous_id")  # canonical link columns (nullable strings)


class IdentityMap:
    """Union-find over dense user ids; ``parent[i] == i`` for a root."""

    def __init__(self, parent: np.ndarray | None = None, conflicts: int = 0) -> None:
        self.parent = np.arange(0, dtype=np.uint32) if parent is None else parent.astype(np.uint32)
        self.conflicts = conflicts  # links ignored because the anonymous id already had another user
        self.version = 0  # bumps on every merge (read-time views are cached per version)
        self.merged = 0  # number of ids that are not their own root
        self.deleted: set[int] = set()  # tombstoned dense ids whose rows are not purged yet

    def grow(self, n: int) -> None:
        if n > len(self.parent):
            self.parent = np.concatenate((self.parent, np.arange(len(self.parent), n, dtype=np.uint32)))

    def find(self, ids: np.ndarray) -> np.ndarray:
        """Root of every id (vectorised; chains are compressed as they are walked)."""
        ids = np.asarray(ids, dtype=np.uint32)
        if self.merged == 0 or len(ids) == 0:
            return ids
        roots = self.parent[ids]
        while True:
            up = self.parent[roots]
            if np.array_equal(up, roots):
                return roots
            roots = up

    def root(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = int(self.parent[i])
        return i

    def canon(self, n: int) -> np.ndarray:
        """Root of every id ``0..n-1``."""
        self.grow(n)
        return self.find(np.arange(n, dtype=np.uint32))

    def union(self, child_root: int, new_root: int) -> None:
        self.parent[child_root] = new_root
        self.merged += 1
        self.version += 1

    def save(self, path: Path) -> FileSum:
        table = pa.table({"parent": pa.array(self.parent, pa.uint32())})
        meta = {"conflicts": str(self.conflicts), "deleted": ",".join(map(str, sorted(self.deleted)))}
        table = table.replace_schema_metadata(meta)

        def write(fh) -> None:  # type: ignore[no-untyped-def]
            with ipc.new_file(fh, table.schema) as writer:
                writer.write_table(table)

        return atomic_write(path, write)

    @classmethod
    def load(cls, path: Path) -> IdentityMap:
        if not path.exists():
            return cls()  # a checkpoint written before identity resolution existed
        with pa.memory_map(str(path)) as src:
            table = ipc.open_file(src).read_all()
        parent = table.column("parent").to_numpy().astype(np.uint32)
        meta = table.schema.metadata or {}
        out = cls(parent, int(meta.get(b"conflicts", b"0")))
        out.merged = int((parent != np.arange(len(parent), dtype=np.uint32)).sum())
        out.deleted = {int(x) for x in meta.get(b"deleted", b"").decode().split(",") if x}
        return out


def encode_links(
    users: StringDictionary, batch: pa.Table, row_users: np.ndarray
) -> list[tuple[int, int, bool]]:
    """The (id, user, user-merge) links a canonical batch asks for; encodes the ids it names.

    ``anonymous_id`` beside a user id links ``$anon:<id>`` to it; ``previous_id``
    (an alias) merges that user id into the row's user when it is a known user
    id, else links the anonymous id ``$anon:<previous_id>``.
    """
    links: list[tuple[int, int, bool]] = []
    names: list[str] | None = None  # every row's user id as text, only for batches that link
    for column in LINK_COLUMNS:
        if column not in batch.column_names:
            continue
        values = contiguous(batch.column(column))
        rows = np.flatnonzero(np.asarray(values.is_valid()))
        if len(rows) == 0:
            continue
        if names is None:
            names = contiguous(batch.column("user_id")).to_pylist()
        texts = values.to_pylist()
        pairs = dict.fromkeys(  # row order: the first link of an anonymous id wins
            (texts[i], names[i], int(row_users[i])) for i in rows if not names[i].startswith(ANON_PREFIX)
        )
        for text, name, user in pairs:
            known = users.get(text) if column == "previous_id" else None
            if known is not None:
                if text != name:
                    links.append((known, user, True))
            else:
                links.append((int(users.encode_unique([ANON_PREFIX + text])[0]), user, False))
    return links


def apply_links(
    idmap: IdentityMap,
    users: StringDictionary,
    links: list[tuple[int, int, bool]],
    first_seen: np.ndarray,
    props: UserProperties,
) -> np.ndarray:
    """Merge linked ids (folding first-seen times and user properties into the root).

    Returns every id whose root changed, and the new roots (the users whose
    cohort membership must be re-evaluated: the merged ids leave, the root is
    evaluated with all their events).
    """
    idmap.grow(len(users))
    roots: set[int] = set()
    for child, user, user_merge in links:
        rc, ru = idmap.root(child), idmap.root(user)
        if rc == ru:
            continue
        if not user_merge and not users.value(rc).startswith(ANON_PREFIX):
            idmap.conflicts += 1  # the anonymous id already belongs to another user: first link wins
            continue
        idmap.union(rc, ru)
        first_seen[ru] = min(first_seen[ru], first_seen[rc])
        first_seen[rc] = np.iinfo(np.int64).max
        for column in props.columns.values():
            column.grow(max(rc, ru) + 1)
            if column.valid[rc]:
                at = column.set_at[rc : rc + 1]
                column.update(np.array([ru], np.uint32), at.copy(), column.values[rc : rc + 1].copy())
        roots.add(ru)
    if not roots:
        return np.empty(0, np.uint32)
    canon = idmap.canon(len(users))
    return np.flatnonzero(np.isin(canon, np.fromiter(roots, np.uint32))).astype(np.uint32)


def canonical_segment(
    seg: Segment, canon: np.ndarray, deleted: np.ndarray, cache: dict[str, tuple[int, Segment]], version: int
) -> Segment:
    """``seg`` with users replaced by their root and rows of ``deleted`` ids dropped (or ``seg`` itself)."""
    if len(seg.users) == 0:
        return seg
    hit = cache.get(seg.name)
    if hit is not None and hit[0] == version:
        return hit[1]
    table, users = seg.table, seg.users
    if len(deleted):
        keep = ~np.isin(users, deleted)
        if not keep.all():
            table, users = table.filter(pa.array(keep)), users[keep]
    mapped = canon[users]
    if table is seg.table and np.array_equal(mapped, users):
        return seg
    table = table.set_column(table.column_names.index("user"), "user", pa.array(mapped, pa.uint32()))
    view = Segment.build(f"{seg.name}~id{version}", table)  # a new name: caches keyed by name see new rows
    cache[seg.name] = (version, view)
    return view


__all__ = ["ANON_PREFIX", "LINK_COLUMNS", "IdentityMap", "apply_links", "canonical_segment", "encode_links"]
