"""A person moving between shards: what a shard sends of one user, and the batch the target stores.

When a link joins two people held by different shards (``cluster/identity.py``),
the one whose id loses moves to the winner's shard.  Its source shard sends
everything it holds of it, read through the identity view (rows of ids merged
into it count as its rows), as one batch in the log's canonical form:

* every event row (type, time, event properties), under the moving id;
* every user-property change it had, in arrival order, as ``$identify`` rows
  (time, value, and whether the change was dated: ``$undated``), so the
  target's current values and history are what the source's were;
* last, the link itself (an ``$identify`` row naming the winner and the
  anonymous id or the alias), so the target merges them exactly as one process
  merges a link.

The target stores the batch as one log record (``EventStore.append_canonical``):
the copy and the link are durable together or not at all, which is what makes
a replayed move idempotent (the router asks the target whether the ids are
merged before sending it again).  The source then tombstones the moving id
(``EventStore.delete_users``: its rows leave every answer at once, purged at the
next compaction).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from cohortd.storage.prophistory import UNDATED
from cohortd.storage.readers import IDENTIFY
from cohortd.storage.validate import ANON_PREFIX, USER_PREFIX

__all__ = ["link_rows", "moving_rows"]


def moving_rows(store: Any, name: str) -> pa.Table | None:
    """Every event and user-property change ``name`` has on this store (None: it has none here)."""
    with store.lock:
        dense = store.users.get(name)
        if dense is None:
            return None
        root = store.identity.root(int(dense))
        parts = [_events(store, seg, root, name) for seg in store.snapshot().segments]
        parts.append(_property_changes(store, root, name))
    tables = [t for t in parts if t is not None and t.num_rows]
    if not tables:
        return None
    return pa.concat_tables(tables, promote_options="default")


def _events(store: Any, seg: Any, root: int, name: str) -> pa.Table | None:
    rows = np.flatnonzero(seg.users == root)
    if len(rows) == 0:
        return None
    take = pa.array(rows)
    cols: dict[str, pa.Array] = {
        "user_id": pa.array([name] * len(rows), pa.string()),
        "event_type": store.types.decode(seg.types[rows]),
        "time": pa.array(seg.times[rows], pa.int64()),
    }
    for prop in seg.prop_names():
        col = seg.prop(prop).take(take)
        if store.schema.get(prop) == "string":
            col = store.values.as_arrow().take(col)
        cols[prop] = col
    cols[UNDATED] = pa.array(np.zeros(len(rows), bool))
    return pa.table(cols)


def _property_changes(store: Any, root: int, name: str) -> pa.Table | None:
    """One ``$identify`` row per user-property change of ``root`` (and of ids merged into it), in order."""
    canon = store.identity.canon(len(store.users))
    seqs, times, dated, values = [], [], [], []
    for prop, column in store.prop_history.columns.items():
        users, t, v, d, seq = column.arrays()
        mine = np.flatnonzero(canon[users] == root) if len(users) else np.empty(0, np.int64)
        if len(mine) == 0:
            continue
        arr = v[mine]
        if column.kind == "string":
            col = store.values.as_arrow().take(pa.array(arr.astype(np.int64)))
        else:
            col = pa.array(arr)
        seqs.append(seq[mine])
        times.append(t[mine])
        dated.append(d[mine])
        values.append((prop, col))
    if not seqs:
        return None
    n = sum(len(s) for s in seqs)
    order = np.argsort(np.concatenate(seqs), kind="stable")
    cols: dict[str, pa.Array] = {
        "user_id": pa.array([name] * n, pa.string()),
        "event_type": pa.array([IDENTIFY] * n, pa.string()),
        "time": pa.array(np.concatenate(times)[order], pa.int64()),
    }
    start = 0
    for prop, col in values:  # each property's values at its own rows, null elsewhere
        full = pa.concat_arrays([pa.nulls(start, col.type), col, pa.nulls(n - start - len(col), col.type)])
        cols[USER_PREFIX + prop] = full.take(pa.array(order))
        start += len(col)
    cols[UNDATED] = pa.array(~np.concatenate(dated)[order])
    return pa.table(cols)


def link_rows(winner: str, moving: str, alias: bool, time_ms: int) -> pa.Table:
    """The link as canonical rows: ``moving`` (an anonymous id or a user id) joins ``winner``.

    A bare ``$identify`` row of ``moving`` comes first, so an alias finds it a known
    user id on the target even when it had no rows to copy (as the one-process map does).
    """
    link = pa.array([None, moving if alias else moving[len(ANON_PREFIX) :]], pa.string())
    cols: dict[str, pa.Array] = {
        "user_id": pa.array([moving, winner], pa.string()),
        "event_type": pa.array([IDENTIFY] * 2, pa.string()),
        "time": pa.array([time_ms] * 2, pa.int64()),
        UNDATED: pa.array([False, False]),
        "previous_id" if alias else "anonymous_id": link,
    }
    assert alias or moving.startswith(ANON_PREFIX)
    return pa.table(cols)
