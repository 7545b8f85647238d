"""The personas feature matrix: per-user counts of the top event types in a window, plus properties.

Rows are the users of the population who have at least one event in the
window (behaviour needs behaviour: users without events in the window are
counted in ``population_size`` but not clustered).  Columns are:

- the ``top_events`` event types done by the most of those users (ties by
  name), each the user's number of events of that type in the window; built
  by the Rust kernel ``user_type_counts`` straight from the segment columns
  into a sparse CSR matrix;
- optionally, one column per value of each requested user property (one-hot,
  current values; a user without the property has no 1 in its columns); only
  string and bool properties, at most ``MAX_VALUES`` most common values each.

Normalisation for clustering (``normalised``): ``log1p`` of the counts, then
each row scaled to unit Euclidean length (the mix of what a user does, not
how much), and the property block scaled so that its length is
``PROPERTY_WEIGHT`` (each user has at most one 1 per property).  The decision
tree of ``rules.py`` uses the raw counts and 0/1 properties, so its
thresholds are event counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.sparse as sp
from pyroaring import BitMap

from cohortd.engine.engine import Engine
from cohortd.engine.kernels import rust_kernel
from cohortd.errors import InvalidArgumentError, NotFoundError

TOP_EVENTS = 100
"""Event types used as features by default (what Amplitude Personas uses too)."""

MAX_VALUES = 20
"""Most common values of one user property that get a column."""

PROPERTY_WEIGHT = 0.5
"""Length of the property block of a normalised row, against 1 for the behaviour block."""


@dataclass(frozen=True)
class PropertyColumn:
    """One one-hot column: ``user.<prop> == value``."""

    prop: str
    value: str | bool


@dataclass
class Features:
    """The feature matrix of one run; rows aligned with ``users`` (dense ids, increasing)."""

    users: np.ndarray  # uint32 dense ids of the clustered users
    population_size: int
    event_types: list[str]
    counts: sp.csr_matrix  # float64 event counts, users x event_types
    property_columns: list[PropertyColumn]
    property_matrix: sp.csr_matrix  # 0/1, users x property_columns

    @cached_property
    def raw(self) -> sp.csr_matrix:
        """Counts and 0/1 properties side by side (the decision tree's features)."""
        return sp.hstack([self.counts, self.property_matrix], format="csr")

    def normalised(self) -> sp.csr_matrix:
        """log1p, unit-length rows, property block of length ``PROPERTY_WEIGHT`` (module docstring)."""
        behaviour = self.counts.copy()
        behaviour.data = np.log1p(behaviour.data)
        norms = np.sqrt(np.asarray(behaviour.multiply(behaviour).sum(axis=1)).ravel())
        behaviour = sp.diags(np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)) @ behaviour
        props = {c.prop for c in self.property_columns}
        if not props:
            return sp.csr_matrix(behaviour)
        scaled = self.property_matrix * (PROPERTY_WEIGHT / np.sqrt(len(props)))
        return sp.hstack([behaviour, scaled], format="csr")


def build_features(
    engine: Engine,
    population: BitMap,
    start_ms: int,
    end_ms: int,
    top_events: int = TOP_EVENTS,
    properties: list[str] | tuple[str, ...] = (),
) -> Features:
    """The features of ``population``'s users over the window ``[start_ms, end_ms)``."""
    store = engine.store
    snap = store.snapshot()
    n_users = len(snap.first_seen)
    members = np.asarray(population.to_array(), dtype=np.int64)
    members = members[members < n_users]
    row_of_user = np.full(n_users, -1, np.int32)
    row_of_user[members] = np.arange(len(members), dtype=np.int32)
    n_types = len(store.types)
    segments = [s for s in snap.segments if s.num_rows and s.max_time >= start_ms and s.min_time < end_ms]
    indptr, indices, data = rust_kernel.user_type_counts(
        [s.users for s in segments],
        [s.types for s in segments],
        [s.times for s in segments],
        start_ms,
        end_ms,
        row_of_user,
        np.arange(n_types, dtype=np.int32),
        len(members),
        n_types,
    )
    all_types = sp.csr_matrix(
        (data.astype(np.float64), indices, indptr), shape=(len(members), n_types), copy=False
    )
    active = np.diff(indptr) > 0
    all_types = all_types[active]
    reach = np.bincount(all_types.indices, minlength=n_types)
    names = [store.types.value(i) for i in range(n_types)]
    ranked = sorted((t for t in range(n_types) if reach[t] > 0), key=lambda t: (-reach[t], names[t]))
    chosen = sorted(ranked[:top_events], key=lambda t: names[t])
    counts = sp.csr_matrix(all_types[:, chosen])
    users = members[active].astype(np.uint32)
    columns, matrix = _property_block(engine, users, list(properties))
    return Features(
        users=users,
        population_size=len(members),
        event_types=[names[t] for t in chosen],
        counts=counts,
        property_columns=columns,
        property_matrix=matrix,
    )


def _property_block(
    engine: Engine, users: np.ndarray, properties: list[str]
) -> tuple[list[PropertyColumn], sp.csr_matrix]:
    """One-hot columns of the requested user properties for ``users``."""
    store = engine.store
    columns: list[PropertyColumn] = []
    blocks: list[sp.csr_matrix] = []
    for prop in properties:
        kind = store.user_schema.get(prop)
        if kind is None:
            known = ", ".join(sorted(store.user_schema)) or "none"
            raise NotFoundError(f"no user property named {prop!r} (known: {known})")
        if kind not in ("string", "bool"):
            raise InvalidArgumentError(
                f"user property {prop!r} is {kind}: only string and bool properties are one-hot encoded"
            )
        got = store.user_props.get(prop, len(store.users))
        assert got is not None
        values, valid = got[0][users], got[1][users]
        codes, freq = np.unique(values[valid], return_counts=True)
        keep = codes[np.argsort(-freq, kind="stable")][:MAX_VALUES]
        keep.sort()
        for code in keep:
            value: str | bool = bool(code) if kind == "bool" else store.values.value(int(code))
            columns.append(PropertyColumn(prop, value))
        rows = np.flatnonzero(valid & np.isin(values, keep))
        cols = np.searchsorted(keep, values[rows])  # keep is sorted: the column of each value
        blocks.append(sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(users), len(keep))))
    if not blocks:
        return [], sp.csr_matrix((len(users), 0))
    return columns, sp.hstack(blocks, format="csr")
