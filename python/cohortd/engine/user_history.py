"""User properties at an as-of time, and "had the value at some instant of a window".

Reads the change history (``storage/prophistory.py``).  For one property:

* a user with no *dated* change of it is not time-travelled: every as-of time
  sees the current value (``storage/userprops.py``), as before the history;
* a user with a dated change is: the value as of ``T`` is the last change
  before ``T`` (ties: the one written later; an undated change counts at its
  arrival time), and there is no value before the first change.

The value *at instant* ``t`` is the last change at or before ``t``, so the
value as of ``T`` is the one at ``T - 1 ms`` and ``had user.P ... [start, end)``
holds when the predicate is true at ``start`` or just after some change inside
``(start, end)``.
"""

from __future__ import annotations

import numpy as np

from cohortd.engine.filters import ValueLookups, predicate_mask
from cohortd.lang import ast
from cohortd.storage.prophistory import Changes
from cohortd.storage.store import EventStore

__all__ = ["change_runs", "had_mask", "values_as_of"]


def _changes(store: EventStore, prop: str, n: int) -> tuple[Changes, np.ndarray] | None:
    """Changes of users below ``n`` (canonical ids), and the sorted users with a dated change."""
    canon = store.identity.canon(len(store.users)) if store.identity.merged else None
    ch = store.prop_history.changes(prop, canon)
    if ch is None or not ch.any_dated:
        return None
    if len(ch.users) and int(ch.users[-1]) >= n:  # rows of users newer than the snapshot
        keep = ch.users < n
        ch = Changes(ch.users[keep], ch.times[keep], ch.values[keep], ch.dated[keep])
    is_dated = np.zeros(n, bool)  # a mask, not np.unique: no sort of every change per evaluation
    is_dated[ch.users[ch.dated]] = True
    return ch, np.flatnonzero(is_dated)


def _current(store: EventStore, prop: str, n: int, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    col = store.user_props.get(prop, n)
    if col is None:
        return np.zeros(n, dtype), np.zeros(n, bool)
    return col[0].copy(), col[1].copy()


def _last_per_user(users: np.ndarray) -> np.ndarray:
    """Mask of the last row of each user's run in user-sorted rows."""
    return np.concatenate((users[1:] != users[:-1], [True])) if len(users) else np.zeros(0, bool)


def values_as_of(store: EventStore, prop: str, as_of: int, n: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(values, valid) of ``prop`` for dense ids ``0..n-1`` as of ``as_of``; None if never set."""
    found = _changes(store, prop, n)
    if found is None:
        return store.user_props.get(prop, n)
    ch, dated_users = found
    values, valid = _current(store, prop, n, ch.values.dtype)
    valid[dated_users] = False
    is_dated = np.zeros(n, bool)
    is_dated[dated_users] = True
    sel = (ch.times < as_of) & is_dated[ch.users]
    users, vals = ch.users[sel], ch.values[sel]
    last = _last_per_user(users)
    values[users[last]] = vals[last]
    valid[users[last]] = True
    return values, valid


def had_mask(
    store: EventStore, pred: ast.Predicate, start: int, end: int, n: int, lookups: ValueLookups
) -> np.ndarray:
    """Users whose property satisfied ``pred`` at some instant of ``[start, end)``."""
    kind = store.user_schema.get(pred.prop)
    if start >= end:
        return np.zeros(n, bool)
    found = _changes(store, pred.prop, n)
    col = store.user_props.get(pred.prop, n)
    values, valid = col if col is not None else (None, None)
    out = predicate_mask(pred, values, valid, kind, n, lookups)  # not time-travelled: the current value
    if found is None:
        return out
    ch, dated_users = found
    out[dated_users] = False
    is_dated = np.zeros(n, bool)
    is_dated[dated_users] = True
    rows = is_dated[ch.users]
    users, times, vals = ch.users[rows], ch.times[rows], ch.values[rows]
    # of several changes at one instant only the last written ever held
    held = np.concatenate(((users[1:] != users[:-1]) | (times[1:] != times[:-1]), [True]))
    users, times, vals = users[held], times[held], vals[held]
    # the value at ``start``: the last change at or before it (none: missing)
    before = times <= start
    bu, bv = users[before], vals[before]
    last = _last_per_user(bu)
    at_start = np.zeros(len(dated_users), vals.dtype)
    has_start = np.zeros(len(dated_users), bool)
    slot = np.searchsorted(dated_users, bu[last])
    at_start[slot] = bv[last]
    has_start[slot] = True
    hit = predicate_mask(pred, at_start, has_start, kind, len(dated_users), lookups)
    out[dated_users[hit]] = True
    # every value a change inside ``(start, end)`` set
    inside = (times > start) & (times < end)
    iu, iv = users[inside], vals[inside]
    hit = predicate_mask(pred, iv, np.ones(len(iu), bool), kind, len(iu), lookups)
    out[iu[hit]] = True
    return out


def change_runs(store: EventStore, prop: str) -> tuple[np.ndarray, np.ndarray]:
    """(times sorted, users) of the dated users' changes of ``prop``: where as-of answers flip."""
    n = len(store.users)
    found = _changes(store, prop, n)
    if found is None:
        return np.empty(0, np.int64), np.empty(0, np.uint32)
    ch, dated_users = found
    is_dated = np.zeros(n, bool)
    is_dated[dated_users] = True
    rows = is_dated[ch.users]
    order = np.argsort(ch.times[rows], kind="stable")
    return ch.times[rows][order], ch.users[rows][order]
