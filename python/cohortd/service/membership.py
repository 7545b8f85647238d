"""Batched membership answered straight from serialized bitmaps.

A cohort's maintained members are replaced on every ingest that touches it and
at every window edge, so anything built per version (a dense mask over all
users, a decoded copy) is rebuilt far more often than it is read.  Instead each
members bitmap is serialized once (pyroaring's portable format, a memory copy
of its containers) and a whole ``CheckMembership`` batch is one native call
(``cohortd._native.contains_matrix``) that reads the container headers once
and looks every dense id up in place.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pyroaring import BitMap

from cohortd.engine.kernels.rust_kernel import contains_matrix
from cohortd.lang.ast import Expr

__all__ = ["BatchPlan", "SerializedMembers", "contains_matrix", "packed_bits"]

DenseIds = Callable[[Expr | None, Sequence[str]], np.ndarray]
"""Dense ids of external ids, as members of cohorts of one kind (the kind's expression; -1: unknown)."""


class SerializedMembers:
    """Each cohort's members serialized once per bitmap (the maintainer replaces, never mutates, them).

    Thread-safe without a lock: a race serializes the same bitmap twice, never answers from another.
    """

    def __init__(self) -> None:
        self._by_cohort: dict[str, tuple[BitMap, bytes]] = {}

    def get(self, cohort: str, members: BitMap) -> bytes:
        cached = self._by_cohort.get(cohort)
        if cached is not None and cached[0] is members:
            return cached[1]
        data = members.serialize()
        self._by_cohort[cohort] = (members, data)
        return data

    def clear(self) -> None:
        self._by_cohort.clear()


@dataclass
class BatchPlan:
    """One list of cohorts asked about again and again (a service's fixed question): its
    serialized members and kinds, valid while every cohort is tracked by the same maintainer
    entry with the same members bitmap.  ``quiet_until``: the wall time before which none of
    its read stamps is due for writing (so a call only stamps in memory)."""

    names: tuple[str, ...]
    tracked: tuple[Any, ...]  # the maintainer's ``Tracked`` entries (replaced when re-tracked)
    members: tuple[BitMap, ...]
    blobs: tuple[bytes, ...]
    kinds: tuple[tuple[Expr | None, tuple[int, ...]], ...]  # columns per kind of member
    quiet_until: int = -1

    def current(self, tracked: Mapping[str, Any]) -> bool:
        for name, entry, members in zip(self.names, self.tracked, self.members, strict=True):
            now = tracked.get(name)
            if now is not entry or now.membership.members is not members:
                return False
        return True

    def matrix(self, user_ids: Sequence[str], dense: DenseIds) -> np.ndarray:
        """Row-major membership of ``user_ids``: one native call per kind of member."""
        if len(self.kinds) <= 1:
            expr = self.kinds[0][0] if self.kinds else None
            out = contains_matrix(self.blobs, dense(expr, user_ids))
            return out.reshape(len(user_ids), len(self.names))
        out = np.zeros((len(user_ids), len(self.names)), bool)
        for expr, cols in self.kinds:
            part = contains_matrix([self.blobs[j] for j in cols], dense(expr, user_ids))
            out[:, list(cols)] = part.reshape(len(user_ids), len(cols))
        return out


def packed_bits(matrix: np.ndarray) -> bytes:
    """A bool matrix row-major as bits, least significant first in each byte (``member_bits``)."""
    return np.packbits(matrix, axis=None, bitorder="little").tobytes()
