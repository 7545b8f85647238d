"""Batched membership answered straight from serialized bitmaps.

A cohort's maintained members are replaced on every ingest that touches it and
at every window edge, so anything built per version (a dense mask over all
users, a decoded copy) is rebuilt far more often than it is read.  Instead each
members bitmap is serialized once (pyroaring's portable format, a memory copy
of its containers) and a whole ``CheckMembership`` batch is one native call
(``cohortd._native.contains_matrix``) that reads the container headers once
and looks every dense id up in place.  When the members' ids are within
``MAX_FLAT_BYTES`` of bits (every user base up to tens of millions), the
serialization is also turned into a flat bitset once per bitmap (a memory
copy of the bitset containers, bits set for the array and run ones), so a
check is one byte read (``contains_flat``) instead of a binary search among a
container's entries: ~60 ns -> ~5 ns per check at 1M users.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pyroaring import BitMap

from cohortd.engine.kernels.rust_kernel import contains_flat, contains_matrix, flat_bitset
from cohortd.lang.ast import Expr

__all__ = ["MAX_FLAT_BYTES", "BatchPlan", "SerializedMembers", "contains_matrix", "packed_bits"]

MAX_FLAT_BYTES = 4 << 20
"""Largest flat bitset kept per cohort (ids below 32M); members past it are read serialized."""

DenseIds = Callable[[Expr | None, Sequence[str]], np.ndarray]
"""Dense ids of external ids, as members of cohorts of one kind (the kind's expression; -1: unknown)."""


class SerializedMembers:
    """Each cohort's members in their lookup form, made once per bitmap (the maintainer replaces,
    never mutates, them): a flat bitset (``True, bytes``) or, for ids past ``MAX_FLAT_BYTES``,
    the portable serialization (``False, bytes``).

    Thread-safe without a lock: a race builds the same form twice, never answers from another.
    """

    def __init__(self) -> None:
        self._by_cohort: dict[str, tuple[BitMap, tuple[bool, bytes]]] = {}

    def get(self, cohort: str, members: BitMap) -> tuple[bool, bytes]:
        cached = self._by_cohort.get(cohort)
        if cached is not None and cached[0] is members:
            return cached[1]
        data = members.serialize()
        flat = flat_bitset(data, MAX_FLAT_BYTES)
        form = (False, data) if flat is None else (True, flat)
        self._by_cohort[cohort] = (members, form)
        return form

    def clear(self) -> None:
        self._by_cohort.clear()


@dataclass(frozen=True)
class _Lookup:
    """One native call of a batch: the columns of one kind of member in one lookup form."""

    expr: Expr | None
    cols: tuple[int, ...]
    fn: Callable[[Sequence[bytes], np.ndarray], np.ndarray]
    data: tuple[bytes, ...]


@dataclass
class BatchPlan:
    """One list of cohorts asked about again and again (a service's fixed question): its
    serialized members and kinds, valid while every cohort is tracked by the same maintainer
    entry with the same members bitmap.  ``quiet_until``: the wall time before which none of
    its read stamps is due for writing (so a call only stamps in memory)."""

    names: tuple[str, ...]
    tracked: tuple[Any, ...]  # the maintainer's ``Tracked`` entries (replaced when re-tracked)
    members: tuple[BitMap, ...]
    forms: tuple[tuple[bool, bytes], ...]  # SerializedMembers.get of each cohort
    kinds: tuple[tuple[Expr | None, tuple[int, ...]], ...]  # columns per kind of member
    quiet_until: int = -1
    _lookups: tuple[_Lookup, ...] = ()

    def __post_init__(self) -> None:
        lookups = []
        for expr, cols in self.kinds:
            for flat, fn in ((True, contains_flat), (False, contains_matrix)):
                part = tuple(j for j in cols if self.forms[j][0] is flat)
                if part:
                    lookups.append(_Lookup(expr, part, fn, tuple(self.forms[j][1] for j in part)))
        self._lookups = tuple(lookups)

    def current(self, tracked: Mapping[str, Any]) -> bool:
        for name, entry, members in zip(self.names, self.tracked, self.members, strict=True):
            now = tracked.get(name)
            if now is not entry or now.membership.members is not members:
                return False
        return True

    def matrix(self, user_ids: Sequence[str], dense: DenseIds) -> np.ndarray:
        """Row-major membership of ``user_ids``: one native call per kind and form of members."""
        n, k = len(user_ids), len(self.names)
        if len(self._lookups) == 1:  # the usual batch: cohorts of users, all flat
            one = self._lookups[0]
            return one.fn(one.data, dense(one.expr, user_ids)).reshape(n, k)
        out = np.zeros((n, k), bool)
        for part in self._lookups:
            out[:, list(part.cols)] = part.fn(part.data, dense(part.expr, user_ids)).reshape(
                n, len(part.cols)
            )
        return out


def packed_bits(matrix: np.ndarray) -> bytes:
    """A bool matrix row-major as bits, least significant first in each byte (``member_bits``)."""
    return np.packbits(matrix, axis=None, bitorder="little").tobytes()
