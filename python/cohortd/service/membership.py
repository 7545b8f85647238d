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

import numpy as np
from pyroaring import BitMap

from cohortd.engine.kernels.rust_kernel import contains_matrix

__all__ = ["SerializedMembers", "contains_matrix"]


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


def packed_bits(matrix: np.ndarray) -> bytes:
    """A bool matrix row-major as bits, least significant first in each byte (``member_bits``)."""
    return np.packbits(matrix, axis=None, bitorder="little").tobytes()
