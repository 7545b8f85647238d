"""Which shard holds a user: a keyed hash of the external id, modulo the shard count.

Every event and user property of one user lands on one shard, so every
condition except a percentile is answered by that shard alone.  The hash is
blake2b (stable across processes and Python versions, unlike ``hash``).
"""

from __future__ import annotations

from collections.abc import Sequence
from hashlib import blake2b
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["shard_of", "shard_rows", "split_by_owner", "split_table"]

_KEY = b"cohortd-shard"


def shard_of(user_id: str, shards: int) -> int:
    """The shard (0..shards-1) that holds ``user_id``."""
    digest = blake2b(str(user_id).encode("utf-8", "surrogatepass"), digest_size=8, key=_KEY).digest()
    return int.from_bytes(digest, "little") % shards


def shard_rows(user_ids: Sequence[Any], shards: int) -> np.ndarray:
    """The shard of every row (int64 array); one hash per distinct id."""
    memo: dict[Any, int] = {}
    out = np.empty(len(user_ids), np.int64)
    for i, uid in enumerate(user_ids):
        s = memo.get(uid)
        if s is None:
            s = memo[uid] = shard_of(uid, shards)
        out[i] = s
    return out


def split_table(table: pa.Table, shards: int) -> list[tuple[pa.Table, np.ndarray]]:
    """Per shard: its rows of ``table`` and their positions in it (to renumber rejections).

    One hash per distinct user (the column is dictionary-encoded first); rows
    without a user go to shard 0, whose project rejects them with the engine's message.
    """
    if shards == 1 or "user_id" not in table.column_names:
        everything = (table, np.arange(table.num_rows))
        return [everything] + [(table.slice(0, 0), np.empty(0, np.int64)) for _ in range(shards - 1)]
    encoded = pc.dictionary_encode(table.column("user_id").combine_chunks())
    per_user = shard_rows(encoded.dictionary.to_pylist(), shards)
    codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
    owner = np.where(codes >= 0, per_user[np.maximum(codes, 0)] if len(per_user) else 0, 0)
    return split_by_owner(table, owner, shards)


def split_by_owner(table: pa.Table, owner: np.ndarray, shards: int) -> list[tuple[pa.Table, np.ndarray]]:
    """Per shard: the rows of ``table`` whose ``owner`` it is, and their positions."""
    parts = []
    for s in range(shards):
        rows = np.flatnonzero(owner == s)
        parts.append((table.take(pa.array(rows)), rows))
    return parts
