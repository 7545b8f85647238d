"""Static cohorts: an uploaded list of user ids, usable wherever a saved cohort is.

An upload stores membership as a boolean user property (``static_<slug>``) on
the listed users and saves the cohort ``user.static_<slug> == true``.  So a
static cohort is an ordinary saved cohort: durable through the write-ahead log,
kept current by maintenance, usable in ``in_cohort(...)``, overlaps, audiences
and exports, with its history in the catalog.  Re-uploading replaces the list
(users no longer listed get ``false``) as a new version.

Ids the engine does not know (never seen in any event) are not added; they
are counted and a sample is returned, never silently dropped.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from cohortd.audiences.model import UploadResult, check_name
from cohortd.errors import AlreadyExistsError, NotFoundError
from cohortd.lang import parse, to_text

if TYPE_CHECKING:
    from cohortd.service import Project

__all__ = ["property_name", "upload"]

UNKNOWN_SAMPLE = 20


def property_name(cohort: str) -> str:
    """The user property holding a static cohort's membership (stable per cohort name)."""
    slug = re.sub(r"[^a-z0-9]+", "_", cohort.lower()).strip("_")[:40]
    return f"static_{slug}_{hashlib.sha256(cohort.encode()).hexdigest()[:8]}"


def definition_of(cohort: str) -> str:
    return f"user.{property_name(cohort)} == true"


def upload(project: Project, name: str, user_ids: Sequence[str], description: str = "") -> UploadResult:
    """Create or replace the static cohort ``name`` with ``user_ids``."""
    check_name("cohort", name)
    wanted = list(dict.fromkeys(str(u).strip() for u in user_ids if str(u).strip()))
    engine = project.engine
    prop = property_name(name)
    existing = None
    try:
        existing = project.get_cohort(name)
    except NotFoundError:
        pass
    if existing is not None and existing.definition != to_text(parse(definition_of(name))):
        raise AlreadyExistsError(f"a cohort named {name!r} exists and is not a static (uploaded) cohort")
    dense = engine.dense_ids(wanted)
    snap = engine.store.snapshot()
    seen = np.zeros(len(dense), bool)
    inside = dense >= 0
    inside[inside] = dense[inside] < len(snap.first_seen)
    seen[inside] = snap.first_seen[dense[inside]] < np.iinfo(np.int64).max
    known = [u for u, ok in zip(wanted, seen.tolist(), strict=True) if ok]
    unknown = [u for u, ok in zip(wanted, seen.tolist(), strict=True) if not ok]
    previous: list[str] = []
    store = engine.store
    with store.lock:
        got = store.user_props.get(prop, len(store.users))
        if got is not None:
            values, valid = got
            ids = np.flatnonzero(valid & values.astype(bool))
            previous = engine.external_ids(ids)
    dropped = sorted(set(previous) - set(known))
    rows = known + dropped
    if rows:
        flags = [True] * len(known) + [False] * len(dropped)
        project.upsert_user_properties(pa.table({"user_id": pa.array(rows, pa.string()), prop: flags}))
    note = f"uploaded {len(wanted):,} ids ({len(unknown):,} unknown)"
    if existing is None:
        project.create_cohort(name, definition_of(name), description or "static cohort (uploaded ids)", note)
    else:
        project.update_cohort(name, None, description or None, note)
    result = project.evaluate(name)
    version = project.get_cohort(name).version
    return UploadResult(name, version, len(wanted), int(result.size), len(unknown), unknown[:UNKNOWN_SAMPLE])
