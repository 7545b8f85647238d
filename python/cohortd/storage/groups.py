"""Groups (accounts): which users belong to which group, since when (see docs/cohort-language.md, "Accounts").

Events carry group keys (Amplitude ``groups: {"company": "acme"}``, Segment
``group`` calls and ``context.groupId``), which the ingest gate turns into
``$group.<type>`` columns; account properties travel as ``$account.<name>``
columns and apply to every group the row names.

A group is an entity of the user dictionary named ``$group:<type>:<key>``
(the prefix is reserved, like ``$anon:``), so account cohorts are bitmaps of
dense ids like user cohorts and members, Watch and audiences name them the
same way (listed by their key, :func:`display_key`).  Account properties are
:class:`~cohortd.storage.userprops.UserProperties` keyed by that dense id.

Membership is a relation: one row per (user, group) with the time of the
earliest row that linked them; a user is a member of a group at ``T`` from
that time on (memberships are never removed, except by deleting the user).
Saved with every checkpoint as ``groups-<gen>.arrow``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from cohortd.storage.files import FileSum, atomic_write

GROUP_PREFIX = "$group."  # row column holding the row's key of one group type: ``$group.company``
ACCOUNT_PREFIX = "$account."  # row column holding an account property: ``$account.plan``
GROUP_ID_PREFIX = "$group:"  # group entities in the user dictionary: ``$group:company:acme``


def entity_name(group_type: str, key: str) -> str:
    """The user-dictionary name of one group."""
    return f"{GROUP_ID_PREFIX}{group_type}:{key}"


def display_key(name: str) -> str:
    """A dictionary name as members list it: a group's key (``acme``), anything else unchanged."""
    if name.startswith(GROUP_ID_PREFIX):
        return name.split(":", 2)[2]
    return name


class GroupMembership:
    """(user, group, type, since) rows, one per distinct (user, group), since = earliest link time."""

    def __init__(self) -> None:
        self.type_names: list[str] = []
        self.users = np.empty(0, np.uint32)
        self.groups = np.empty(0, np.uint32)
        self.types = np.empty(0, np.uint16)
        self.since = np.empty(0, np.int64)
        self.version = 0  # bumps on every change (callers cache per version)

    def __len__(self) -> int:
        return len(self.users)

    def type_code(self, group_type: str) -> int:
        if group_type not in self.type_names:
            self.type_names.append(group_type)
        return self.type_names.index(group_type)

    def add(self, users: np.ndarray, groups: np.ndarray, group_type: str, times: np.ndarray) -> None:
        """Record that ``users[i]`` belongs to ``groups[i]`` from ``times[i]`` (earliest time wins)."""
        if len(users) == 0:
            return
        code = self.type_code(group_type)
        self._set(
            np.concatenate((self.users, np.asarray(users, np.uint32))),
            np.concatenate((self.groups, np.asarray(groups, np.uint32))),
            np.concatenate((self.types, np.full(len(users), code, np.uint16))),
            np.concatenate((self.since, np.asarray(times, np.int64))),
        )

    def _set(self, users: np.ndarray, groups: np.ndarray, types: np.ndarray, since: np.ndarray) -> None:
        order = np.lexsort((since, users, groups))  # by group, user, then earliest time first
        users, groups, types, since = users[order], groups[order], types[order], since[order]
        first = np.ones(len(users), bool)
        first[1:] = (users[1:] != users[:-1]) | (groups[1:] != groups[:-1])
        self.users, self.groups, self.types, self.since = (
            users[first],
            groups[first],
            types[first],
            since[first],
        )
        self.version += 1

    def fold(self, canon: np.ndarray, deleted: np.ndarray) -> None:
        """Users replaced by their canonical id, deleted users' rows dropped (at compaction)."""
        keep = ~np.isin(self.users, deleted) if len(deleted) else np.ones(len(self.users), bool)
        users = self.users[keep]
        users = canon[users] if len(canon) else users
        self._set(users, self.groups[keep], self.types[keep], self.since[keep])

    def of_type(self, group_type: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(users, groups, since) of one group type."""
        if group_type not in self.type_names:
            empty = np.empty(0, np.uint32)
            return empty, empty, np.empty(0, np.int64)
        rows = self.types == self.type_names.index(group_type)
        return self.users[rows], self.groups[rows], self.since[rows]

    def save(self, path: Path) -> FileSum:
        table = pa.table(
            {
                "user": pa.array(self.users, pa.uint32()),
                "group": pa.array(self.groups, pa.uint32()),
                "type": pa.array(self.types, pa.uint16()),
                "since": pa.array(self.since, pa.int64()),
            }
        ).replace_schema_metadata({"types": "\x1f".join(self.type_names)})

        def write(fh) -> None:  # type: ignore[no-untyped-def]
            with ipc.new_file(fh, table.schema) as writer:
                writer.write_table(table)

        return atomic_write(path, write)

    @classmethod
    def load(cls, path: Path) -> GroupMembership:
        out = cls()
        if not path.exists():
            return out  # a checkpoint written before groups existed
        with pa.memory_map(str(path)) as src:
            table = ipc.open_file(src).read_all()
        names = (table.schema.metadata or {}).get(b"types", b"").decode()
        out.type_names = names.split("\x1f") if names else []
        out.users = table.column("user").to_numpy().astype(np.uint32)
        out.groups = table.column("group").to_numpy().astype(np.uint32)
        out.types = table.column("type").to_numpy().astype(np.uint16)
        out.since = table.column("since").to_numpy().astype(np.int64)
        return out


__all__ = [
    "ACCOUNT_PREFIX",
    "GROUP_ID_PREFIX",
    "GROUP_PREFIX",
    "GroupMembership",
    "display_key",
    "entity_name",
]
