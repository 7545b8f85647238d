"""Who is in a cohort: members broken down by a user property, an event property or other cohorts.

Each row compares the cohort with the whole base (every user known at the
as-of time, the same population ``not`` is taken in), so over-representation
shows as ``index = share / base_share``.

Decisions:

- A member without the property (never set, or no event carrying it in the
  window) is counted under ``"(none)"``; the values past the top ``k`` are
  summed into ``"(other)"``.  Rows are ordered by members (descending), ties
  by value; ``(other)`` and ``(none)`` come last and only when non-empty.
- ``--pick last``: the value of the user's latest matching event;
  ``--pick most``: the value carried by most of their matching events.  Ties
  (equal times, equal counts) go to the smallest value (numbers in numeric
  order, strings in code-point order), so every answer is reproducible.
- An event's window is ``[as_of - window, as_of)``, like ``in last``.
- ``index`` is ``null`` when the base share is 0 (it cannot happen for a
  value some member has, since members are part of the base).
- ``--by-cohorts A B``: one row per named cohort (members also in it), not
  exclusive, plus ``"(none)"`` for members in none of them.
- An empty cohort has no rows.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from pyroaring import BitMap

from cohortd.errors import DefinitionError
from cohortd.times import iso_ms

__all__ = ["OTHER", "NONE", "Breakdown", "BreakdownRow", "assign_by_events", "parse_by", "rows_from"]

OTHER = "(other)"
NONE = "(none)"
DEFAULT_TOP = 10
PICKS = ("last", "most")

_USER_BY = re.compile(r"user\.(?P<prop>.+)")
_EVENT_BY = re.compile(r'event\("(?P<type>(?:[^"\\]|\\.)*)"\)\.(?P<prop>.+)')


@dataclass(frozen=True)
class BreakdownRow:
    value: Any
    members: int
    share: float
    base_share: float
    index: float | None


@dataclass(frozen=True)
class Breakdown:
    cohort: str
    as_of_ms: int
    size: int
    rows: list[BreakdownRow]

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of the contract: ``{cohort, as_of, size, rows: [{value, members, share, ...}]}``."""
        return {
            "cohort": self.cohort,
            "as_of": iso_ms(self.as_of_ms),
            "size": self.size,
            "rows": [asdict(r) for r in self.rows],
        }


def parse_by(by: str) -> tuple[str, str | None, str]:
    """``user.<prop>`` → ("user", None, prop); ``event("E").<prop>`` → ("event", E, prop)."""
    text = by.strip()
    m = _USER_BY.fullmatch(text)
    if m:
        return "user", None, m.group("prop")
    m = _EVENT_BY.fullmatch(text)
    if m:
        return "event", m.group("type").replace('\\"', '"').replace("\\\\", "\\"), m.group("prop")
    raise DefinitionError(f'--by {by!r}: expected user.<property> or event("<event type>").<property>')


def _row(value: Any, members: int, base: int, size: int, n_base: int) -> BreakdownRow:
    share = members / size
    base_share = base / n_base if n_base else 0.0
    return BreakdownRow(value, members, share, base_share, share / base_share if base_share else None)


def rows_from(
    assign: np.ndarray, labels: Any, members: np.ndarray, base: np.ndarray, top: int = DEFAULT_TOP
) -> list[BreakdownRow]:
    """Rows for a grouping: ``assign[user]`` is a group id (-1: none), ``labels[id]`` its value.

    ``members`` and ``base`` are boolean masks (members ⊆ base) over the same ids.
    """
    size = int(members.sum())
    n_base = int(base.sum())
    if size == 0:
        return []
    if top < 0:
        raise DefinitionError("top must be >= 0")
    n = int(assign.max()) + 1 if len(assign) else 0
    m_counts = np.bincount(assign[members & (assign >= 0)], minlength=n)
    b_counts = np.bincount(assign[base & (assign >= 0)], minlength=n)
    order = sorted(np.flatnonzero(m_counts).tolist(), key=lambda i: (-int(m_counts[i]), _order(labels[i])))
    rows = [_row(labels[i], int(m_counts[i]), int(b_counts[i]), size, n_base) for i in order[:top]]
    rest = order[top:]
    if rest:
        shown = order[:top]
        other_base = int(b_counts.sum()) - int(b_counts[shown].sum()) if shown else int(b_counts.sum())
        rows.append(_row(OTHER, int(m_counts[rest].sum()), other_base, size, n_base))
    none_m = int((members & (assign < 0)).sum())
    if none_m:
        rows.append(_row(NONE, none_m, int((base & (assign < 0)).sum()), size, n_base))
    return rows


def _order(value: Any) -> tuple[int, Any]:
    return (1, value) if isinstance(value, str) else (0, float(value))


def ranks(values: np.ndarray, kind: str, decode: Any) -> tuple[np.ndarray, list[Any]]:
    """Per value its rank in value order, and the decoded labels by rank (strings compare as text)."""
    if kind == "float":
        values = np.where(values == 0, 0.0, values)
    uniq, inverse = np.unique(values, return_inverse=True)
    labels = [decode(v) for v in uniq.tolist()]
    if kind == "string":
        by_text = sorted(range(len(labels)), key=lambda i: labels[i])
        rank_of = np.empty(len(labels), np.int64)
        rank_of[by_text] = np.arange(len(labels))
        return rank_of[inverse], [labels[i] for i in by_text]
    return inverse.astype(np.int64), labels


def assign_by_events(
    users: np.ndarray, times: np.ndarray, value_ranks: np.ndarray, pick: str, n_users: int
) -> np.ndarray:
    """Per user the rank of the picked value of their events (-1 for users without one)."""
    if pick not in PICKS:
        raise DefinitionError(f"--pick {pick!r}: expected one of {', '.join(PICKS)}")
    assign = np.full(n_users, -1, np.int64)
    if len(users) == 0:
        return assign
    users = users.astype(np.int64)
    if pick == "last":
        order = np.lexsort((value_ranks, -times, users))  # latest first, then smallest value
        u, r = users[order], value_ranks[order]
    else:
        pairs = np.unique(np.stack((users, value_ranks), axis=1), axis=0, return_counts=True)
        (pu, pr), counts = pairs[0].T, pairs[1]
        order = np.lexsort((pr, -counts, pu))  # most events first, then smallest value
        u, r = pu[order], pr[order]
    first = np.concatenate(([True], u[1:] != u[:-1]))
    assign[u[first]] = r[first]
    return assign


def by_cohorts(members: BitMap, base: BitMap, others: dict[str, BitMap]) -> list[BreakdownRow]:
    """One row per other cohort (members also in it) and ``(none)`` for members in none of them."""
    size = len(members)
    if size == 0:
        return []
    n_base = len(base)
    rows = [_row(name, members.intersection_cardinality(bm), base.intersection_cardinality(bm), size, n_base)
            for name, bm in others.items()]  # fmt: skip
    union = BitMap.union(*others.values()) if others else BitMap()
    none_m = len(members - union)
    if none_m:
        rows.append(_row(NONE, none_m, len(base - union), size, n_base))
    return rows


def _event_rows(
    store: Any, snap: Any, type_id: int, prop: str, start: int, end: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(users, times, raw values) of the events of one type in ``[start, end)`` that carry ``prop``."""
    users, times, values = [], [], []
    for seg in snap.segments:
        r = seg.index.get(type_id)
        if r is None or r.max_time < start or r.min_time >= end:
            continue
        col = seg.prop(prop)
        if col is None:
            continue
        part = col.slice(r.start, r.end - r.start)
        t = seg.times[r.start : r.end]
        keep = (t >= start) & (t < end) & np.asarray(part.is_valid())
        if not keep.any():
            continue
        fill = False if store.schema.get(prop) == "bool" else 0
        raw = part.fill_null(fill).to_numpy(zero_copy_only=False)
        users.append(seg.users[r.start : r.end][keep])
        times.append(t[keep])
        values.append(raw[keep])
    if not users:
        return np.empty(0, np.uint32), np.empty(0, np.int64), np.empty(0)
    return np.concatenate(users), np.concatenate(times), np.concatenate(values)


def breakdown(
    engine: Any,
    members: BitMap,
    as_of_ms: int,
    cohort: str,
    by: str | None = None,
    *,
    window_ms: int | None = None,
    pick: str = "last",
    top: int = DEFAULT_TOP,
    cohorts: dict[str, BitMap] | None = None,
) -> Breakdown:
    """Members of a cohort at ``as_of_ms`` broken down ``by`` a property, or by other ``cohorts``."""
    from cohortd.engine.lint import suggest
    from cohortd.storage.segment import bitmap_from_ids

    store = engine.store
    snap = store.snapshot()
    n = len(snap.first_seen)
    base = snap.first_seen < as_of_ms
    size = len(members)
    if cohorts is not None:
        if by is not None:
            raise DefinitionError("give either --by or --by-cohorts, not both")
        rows = by_cohorts(members, bitmap_from_ids(np.flatnonzero(base)), cohorts)
        return Breakdown(cohort, as_of_ms, size, rows)
    if by is None:
        raise DefinitionError('give --by user.<property>, --by event("<type>").<property> or --by-cohorts')
    member_mask = np.zeros(n, bool)
    member_mask[np.asarray(members.to_array(), dtype=np.int64)] = True
    source, event_type, prop = parse_by(by)
    labels: _Labels | list[Any]  # group id -> value
    if source == "user":
        kind = store.user_schema.get(prop)
        column = store.user_props.get(prop, n)
        if kind is None or column is None:
            hint = suggest(prop, sorted(store.user_schema))
            raise DefinitionError(f"user property {prop!r} has never been set{hint}")
        values, valid = column
        assign, labels = _groups(values, valid, kind, _decoder(store, kind))
    else:
        assert event_type is not None
        type_id = store.types.get(event_type)
        if type_id is None:
            hint = suggest(event_type, sorted(store.types.value(i) for i in range(len(store.types))))
            raise DefinitionError(f"event type {event_type!r} has never been received{hint}")
        kind = store.schema.get(prop)
        if kind is None:
            raise DefinitionError(
                f"event property {prop!r} is on no event{suggest(prop, sorted(store.schema))}"
            )
        start = -(2**63) if window_ms is None else as_of_ms - window_ms
        users, times, raw = _event_rows(store, snap, type_id, prop, start, as_of_ms)
        value_ranks, labels = ranks(raw, kind, _decoder(store, kind))
        assign = assign_by_events(users, times, value_ranks, pick, n)
    return Breakdown(cohort, as_of_ms, size, rows_from(assign, labels, member_mask, base, top))


class _Labels:
    """Group id → value, decoded on demand (only the groups shown are ever decoded)."""

    def __init__(self, decode: Any, offset: int = 0, table: np.ndarray | None = None) -> None:
        self.decode, self.offset, self.table = decode, offset, table

    def __getitem__(self, group: int) -> Any:
        raw = self.table[group] if self.table is not None else group + self.offset
        return self.decode(raw)


def _groups(values: np.ndarray, valid: np.ndarray, kind: str, decode: Any) -> tuple[np.ndarray, _Labels]:
    """Per user a group id (-1 without a value): string codes and small int ranges as they are, else ranks."""
    idx = np.flatnonzero(valid)
    assign = np.full(len(values), -1, np.int64)
    if kind in ("string", "bool"):
        assign[idx] = values[idx].astype(np.int64)
        return assign, _Labels(decode)
    present = values[idx]
    if kind == "int" and len(present) and int(present.max()) - int(present.min()) <= 4 * len(values):
        low = int(present.min())
        assign[idx] = present.astype(np.int64) - low
        return assign, _Labels(decode, offset=low)
    if kind == "float":
        present = np.where(present == 0, 0.0, present)
    uniq, inverse = np.unique(present, return_inverse=True)
    assign[idx] = inverse
    return assign, _Labels(decode, table=uniq)


def _decoder(store: Any, kind: str) -> Any:
    if kind == "string":
        return lambda code: store.values.value(int(code))
    if kind == "bool":
        return bool
    if kind == "int":
        return int
    return float
