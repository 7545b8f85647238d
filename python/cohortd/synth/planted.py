"""Events with planted behavioural groups: ground truth for personas tests and benchmarks.

Each user belongs to one of ``groups`` groups.  Group ``g`` has two signature
event types (``Group g A``, ``Group g B``) that make up most of its members'
events; every user also has ``Session Start`` events, and a share ``noise``
of every user's events is of a type drawn uniformly from all types.  Event
times are uniform in the ``days`` before ``end_ms``; ``outside`` more events
per user fall before that period (uniform types), so a window of ``days``
must ignore them.  A ``plan`` user property leans on the group (group ``g``
mostly ``plan-g``) without deciding it.

Fully vectorised and deterministic for ``(users, events_per_user, groups,
noise, days, seed, end_ms)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from cohortd.times import DAY_MS


@dataclass(frozen=True)
class Planted:
    """Events, user properties and the group of every user (aligned with ``user_ids``)."""

    events: pa.Table
    users: pa.Table
    user_ids: list[str]
    groups: np.ndarray


def event_types(groups: int) -> list[str]:
    """Every event type the generator uses: signatures of each group, then the shared one."""
    return [f"Group {g} {s}" for g in range(groups) for s in "AB"] + ["Session Start"]


def planted_groups(
    users: int,
    events_per_user: float = 10.0,
    groups: int = 5,
    noise: float = 0.15,
    days: int = 30,
    seed: int = 0,
    end_ms: int = 1_800_000_000_000,
    outside: float = 2.0,
) -> Planted:
    """Generate the data set (module docstring)."""
    rng = np.random.default_rng([seed, users, groups])
    types = event_types(groups)
    group = rng.integers(0, groups, users)
    n_in = np.maximum(rng.poisson(events_per_user, users), 3)
    n_out = rng.poisson(outside, users)
    user_of = np.repeat(np.arange(users), n_in)
    g = group[user_of]
    draw = rng.random(len(user_of))
    # signature A 45 %, signature B 25 %, Session Start 15 % (of the non-noise share), noise uniform
    kind = np.where(draw < 0.45, 0, np.where(draw < 0.75, 1, 2))
    etype = np.where(kind == 2, len(types) - 1, 2 * g + kind)
    noisy = rng.random(len(user_of)) < noise
    etype = np.where(noisy, rng.integers(0, len(types), len(user_of)), etype)
    start = end_ms - days * DAY_MS
    times = rng.integers(start, end_ms, len(user_of))
    old_user = np.repeat(np.arange(users), n_out)
    old_type = rng.integers(0, len(types), len(old_user))
    old_time = rng.integers(start - 60 * DAY_MS, start, len(old_user))
    all_users = np.concatenate((user_of, old_user))
    all_types = np.concatenate((etype, old_type))
    all_times = np.concatenate((times, old_time))
    order = np.lexsort((all_times, all_users))
    width = len(str(users))
    ids = [f"p{i:0{width}d}" for i in range(users)]
    id_array = pa.array(ids, pa.string())
    type_array = pa.array(types, pa.string())
    events = pa.table(
        {
            "user_id": id_array.take(pa.array(all_users[order])),
            "event_type": type_array.take(pa.array(all_types[order])),
            "time": pa.array(all_times[order], pa.timestamp("ms", tz="UTC")),
        }
    )
    lean = rng.random(users) < 0.7
    plan = np.where(lean, group, rng.integers(0, groups, users))
    users_table = pa.table(
        {"user_id": id_array, "plan": pa.array([f"plan-{p}" for p in plan.tolist()], pa.string())}
    )
    return Planted(events, users_table, ids, group)
