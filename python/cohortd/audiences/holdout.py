"""Holdouts: a deterministic share of an audience's members that is never delivered.

A user is held out of an audience when ``blake2b(user id, key = the audience's
uid)``, read as a number in [0, 1), is below the holdout share.  So the
assignment depends only on the user and the audience: it never flips while a
user stays in (or leaves and re-enters) the cohort, survives restarts and
re-evaluations, and two audiences (different keys) hold out independent users.
Only members that could be delivered (they have the identifier) are assigned,
so both arms are drawn from the same population.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import numpy as np
from pyroaring import BitMap

from cohortd.storage.segment import bitmap_from_ids

if TYPE_CHECKING:
    from cohortd.engine.engine import Engine

__all__ = ["Holdout", "holdout_score"]


def holdout_score(key: str, user_id: str) -> float:
    """The user's position in [0, 1) for the audience keyed ``key``."""
    digest = hashlib.blake2b(user_id.encode(), key=key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


class Holdout:
    """The held-out users among a set of members, each user hashed once and remembered."""

    def __init__(self, engine: Engine, key: str, share: float) -> None:
        self.engine = engine
        self.key = key
        self.share = share
        self._checked = BitMap()
        self._held = BitMap()

    def held(self, members: BitMap) -> BitMap:
        """The members that are held out."""
        if self.share <= 0:
            return BitMap()
        new = members - self._checked
        if new:
            ids = np.asarray(new.to_array(), dtype=np.uint32)
            names = self.engine.external_ids(ids)
            hit = np.array([holdout_score(self.key, u) < self.share for u in names], dtype=bool)
            self._held |= bitmap_from_ids(ids[hit])
            self._checked |= new
        return self._held & members
