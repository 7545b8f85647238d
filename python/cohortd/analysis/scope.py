"""What every engine-level analysis starts from: one evaluation context and user masks."""

from __future__ import annotations

import numpy as np
from pyroaring import BitMap

from cohortd.engine.evaluate import Evaluation

NONE = np.iinfo(np.int64).max
"""The kernels' "no time" sentinel (no start, no anchor, no next event)."""


def mask(ev: Evaluation, users: BitMap) -> np.ndarray:
    """A bool array over every dense user id, true for ``users``."""
    out = np.zeros(ev.n_users, bool)
    ids = np.asarray(users.to_array(), dtype=np.int64)
    out[ids[ids < ev.n_users]] = True
    return out


def only(times: np.ndarray, keep: np.ndarray | None) -> np.ndarray:
    """Per-user times with every user outside ``keep`` set to NONE (None keeps all)."""
    return times if keep is None else np.where(keep, times, NONE)


def end_at(end: int, as_of: int) -> int:
    """A range end cut at the as-of time (nothing at or after it exists)."""
    return min(end, as_of)
