"""What a destination receives for a user: the user id or a user property, optionally hashed.

Ad platforms match on ``sha256`` of the trimmed, lower-cased value (e.g. an
e-mail address); ``hash_value`` is that, and nothing else.  Identifiers are
resolved when a batch is sent, from the current user properties; a member
without the property is *skipped* (counted in the sync log, never delivered)
and is delivered once the property is set.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import numpy as np
from pyroaring import BitMap

from cohortd.audiences.model import HASHES
from cohortd.errors import AudienceError
from cohortd.storage.segment import bitmap_from_ids

if TYPE_CHECKING:
    from cohortd.engine.engine import Engine

__all__ = ["Identifier", "hash_value", "parse_identifier"]

USER_ID = "user_id"


def hash_value(value: str) -> str:
    """``sha256(value.strip().lower())`` as lower-case hex."""
    return hashlib.sha256(value.strip().lower().encode()).hexdigest()


def parse_identifier(identifier: str, hashing: str) -> tuple[str, str]:
    """Validate ``user_id`` | ``user.<prop>`` and ``none`` | ``sha256``."""
    identifier = identifier or USER_ID
    hashing = hashing or "none"
    if identifier != USER_ID and not (identifier.startswith("user.") and len(identifier) > 5):
        raise AudienceError(
            f"identifier {identifier!r}: expected user_id or user.<property> (e.g. user.email)"
        )
    if hashing not in HASHES:
        raise AudienceError(f"hash {hashing!r}: expected one of {', '.join(HASHES)}")
    return identifier, hashing


class Identifier:
    """Maps dense user ids to the values one audience sends."""

    def __init__(self, engine: Engine, identifier: str, hashing: str) -> None:
        self.engine = engine
        self.identifier, self.hashing = parse_identifier(identifier, hashing)
        self.prop = None if self.identifier == USER_ID else self.identifier[len("user.") :]
        self._remote = getattr(engine, "identifier_values", None)
        """The cluster router's lookup (``cohortd.cluster.audiences``); None for a local engine."""

    def identifiable(self, users: BitMap) -> BitMap:
        """The users of ``users`` that have a value (all of them for ``user_id``)."""
        if self.prop is None or not users:
            return users
        if self._remote is not None:  # a cluster router: the values live on the shards
            ids = np.asarray(users.to_array(), dtype=np.uint32)
            found = self._remote(self.identifier, ids)
            return bitmap_from_ids(ids[np.array([v is not None for v in found], dtype=bool)])
        store = self.engine.store
        with store.lock:  # user-property columns grow under this lock
            got = store.user_props.get(self.prop, len(store.users))
            if got is None:
                return BitMap()
            valid = got[1].copy()
        ids = np.asarray(users.to_array(), dtype=np.int64)
        ids = ids[ids < len(valid)]
        return bitmap_from_ids(ids[valid[ids]])

    def values(self, ids: np.ndarray) -> list[str]:
        """Identifiers of ``ids`` (every one must be identifiable), hashed when asked."""
        store = self.engine.store
        if self.prop is None:
            out = self.engine.external_ids(ids)
        elif self._remote is not None:
            out = [str(v) for v in self._remote(self.identifier, ids)]
        else:
            with store.lock:
                values, _ = store.user_props.get(self.prop, len(store.users))  # type: ignore[misc]
                picked = values[ids.astype(np.int64)].copy()
                kind = store.user_schema.get(self.prop)
                if kind == "string":
                    out = store.values.decode(picked.astype(np.uint32)).to_pylist()
                else:
                    out = [str(v) for v in picked.tolist()]
        if self.hashing == "sha256":
            return [hash_value(v) for v in out]
        return out
