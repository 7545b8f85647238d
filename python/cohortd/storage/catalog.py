"""Saved cohorts and their version history, in SQLite.

One ``catalog.sqlite`` per project directory.  SQLite rather than our own
files because the catalog is small, relational (cohorts → versions) and must
survive crashes: every change is one transaction, so a version row and the
cohort row it belongs to are never out of step.  The database runs in WAL
journal mode so readers never block the (rare) writer.

Decisions (also in the module-level docstrings of the service layer):

- Names are unique per project and stay taken after archiving: an archived
  cohort keeps its history and can still be referenced by ``in_cohort`` from
  other cohorts, so reusing its name would silently change their meaning.
- Every ``create``/``update`` that changes the definition or the description
  writes a new version row; an update that changes nothing writes none.
- Times are epoch milliseconds (UTC) from an injectable clock.
- Every version row records its ``author`` (the API key's name over gRPC,
  empty when unknown); catalogs written before the column existed get it,
  empty, when opened.
- ``rename`` and ``delete`` take the whole change in one transaction: the
  renamed row plus the rewritten definitions of the cohorts that referenced it
  (each a new version), or the cohort and its history gone.

The catalog stores the definition text it is given; the service layer
(``cohortd.service``) canonicalises it before saving.
"""

from __future__ import annotations

import builtins
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cohortd.errors import AlreadyExistsError, CorruptionError, NotFoundError, StorageError

__all__ = ["Catalog", "CohortRecord", "CohortVersion"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cohorts (
    id                INTEGER PRIMARY KEY,
    name              TEXT NOT NULL UNIQUE,
    description       TEXT NOT NULL,
    definition        TEXT NOT NULL,
    version           INTEGER NOT NULL,
    created_ms        INTEGER NOT NULL,
    updated_ms        INTEGER NOT NULL,
    last_evaluated_ms INTEGER,
    archived          INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS cohort_versions (
    cohort_id   INTEGER NOT NULL REFERENCES cohorts(id),
    version     INTEGER NOT NULL,
    definition  TEXT NOT NULL,
    description TEXT NOT NULL,
    note        TEXT NOT NULL,
    created_ms  INTEGER NOT NULL,
    author      TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (cohort_id, version)
);
"""

_COLUMNS = "name, description, definition, version, created_ms, updated_ms, last_evaluated_ms, archived"


@dataclass(frozen=True)
class CohortRecord:
    """The current state of one saved cohort."""

    name: str
    description: str
    definition: str
    version: int
    created_ms: int
    updated_ms: int
    last_evaluated_ms: int | None
    archived: bool


@dataclass(frozen=True)
class CohortVersion:
    """One entry of a cohort's history (version 1 is the creation)."""

    version: int
    definition: str
    description: str
    note: str
    created_ms: int
    author: str = ""


def _wall_ms() -> int:
    return int(time.time() * 1000)


def _record(row: tuple) -> CohortRecord:
    return CohortRecord(
        name=row[0],
        description=row[1],
        definition=row[2],
        version=row[3],
        created_ms=row[4],
        updated_ms=row[5],
        last_evaluated_ms=row[6],
        archived=bool(row[7]),
    )


class Catalog:
    """Saved cohorts of one project; safe to share between threads.

    One connection guarded by a lock: catalog operations take microseconds,
    so serialising them costs nothing measurable and keeps transactions simple.
    """

    def __init__(self, path: str | Path, clock: Callable[[], int] | None = None) -> None:
        self.path = Path(path)
        self._clock = clock or _wall_ms
        self._lock = threading.RLock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.executescript(_SCHEMA)
            check = self._db.execute("PRAGMA quick_check").fetchone()[0]
        except sqlite3.OperationalError as exc:
            raise StorageError(f"cannot open catalog {self.path}: {exc}") from exc
        except sqlite3.DatabaseError as exc:
            raise CorruptionError(f"catalog {self.path} is damaged: {exc}") from exc
        if check != "ok":
            self._db.close()
            raise CorruptionError(f"catalog {self.path} is damaged: {check}")
        columns = {r[1] for r in self._db.execute("PRAGMA table_info(cohort_versions)")}
        if "author" not in columns:  # a catalog from before authors were recorded
            self._db.execute("ALTER TABLE cohort_versions ADD COLUMN author TEXT NOT NULL DEFAULT ''")

    # ---------------------------------------------------------------- helpers
    def _one(self, name: str) -> tuple[int, CohortRecord]:
        row = self._db.execute(f"SELECT id, {_COLUMNS} FROM cohorts WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise NotFoundError(f"no cohort named {name!r}")
        return row[0], _record(row[1:])

    def _write(self, fn: Callable[[], CohortRecord | None]) -> CohortRecord | None:
        """Run ``fn`` in one IMMEDIATE transaction, rolled back on any error."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                out = fn()
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            return out

    # -------------------------------------------------------------------- API
    def create(
        self, name: str, definition_text: str, description: str = "", note: str = "", author: str = ""
    ) -> CohortRecord:
        """Save a new cohort as version 1; the name must be new to this project."""
        if not name or not name.strip():
            raise ValueError("cohort name must not be empty")

        def tx() -> CohortRecord:
            now = self._clock()
            existing = self._db.execute("SELECT archived FROM cohorts WHERE name = ?", (name,)).fetchone()
            if existing is not None:
                archived = " (archived; names stay taken: unarchive, rename or delete it)"
                suffix = archived if existing[0] else ""
                raise AlreadyExistsError(f"a cohort named {name!r} already exists{suffix}")
            cur = self._db.execute(
                "INSERT INTO cohorts (name, description, definition, version, created_ms, updated_ms)"
                " VALUES (?, ?, ?, 1, ?, ?)",
                (name, description, definition_text, now, now),
            )
            self._db.execute(
                "INSERT INTO cohort_versions VALUES (?, 1, ?, ?, ?, ?, ?)",
                (cur.lastrowid, definition_text, description, note, now, author),
            )
            return self._one(name)[1]

        out = self._write(tx)
        assert out is not None
        return out

    def update(
        self,
        name: str,
        definition_text: str | None = None,
        description: str | None = None,
        note: str = "",
        author: str = "",
    ) -> CohortRecord:
        """Change the definition and/or description; a real change adds a version."""
        out = self._write(lambda: self._update(name, definition_text, description, note, author))
        assert out is not None
        return out

    def _update(
        self, name: str, definition_text: str | None, description: str | None, note: str, author: str,
        force: bool = False,
    ) -> CohortRecord:  # fmt: skip
        """The body of ``update`` inside a transaction; ``force`` adds a version even without a change."""
        cid, cur = self._one(name)
        new_def = cur.definition if definition_text is None else definition_text
        new_desc = cur.description if description is None else description
        if new_def == cur.definition and new_desc == cur.description and not force:
            return cur
        now = self._clock()
        version = cur.version + 1
        self._db.execute(
            "UPDATE cohorts SET definition = ?, description = ?, version = ?, updated_ms = ? WHERE id = ?",
            (new_def, new_desc, version, now, cid),
        )
        self._db.execute(
            "INSERT INTO cohort_versions VALUES (?, ?, ?, ?, ?, ?, ?)",
            (cid, version, new_def, new_desc, note, now, author),
        )
        return self._one(name)[1]

    def get(self, name: str) -> CohortRecord:
        """The current record of ``name`` (archived or not)."""
        with self._lock:
            return self._one(name)[1]

    def list(self, include_archived: bool = False) -> list[CohortRecord]:
        """Saved cohorts sorted by name; archived ones only when asked for."""
        where = "" if include_archived else " WHERE archived = 0"
        with self._lock:
            rows = self._db.execute(f"SELECT {_COLUMNS} FROM cohorts{where} ORDER BY name").fetchall()
        return [_record(r) for r in rows]

    def archive(self, name: str) -> CohortRecord:
        """Hide a cohort from lists and user-cohort answers; its history is kept."""

        def tx() -> CohortRecord:
            cid, cur = self._one(name)
            if not cur.archived:
                self._db.execute(
                    "UPDATE cohorts SET archived = 1, updated_ms = ? WHERE id = ?", (self._clock(), cid)
                )
            return self._one(name)[1]

        out = self._write(tx)
        assert out is not None
        return out

    def unarchive(self, name: str) -> CohortRecord:
        """Make an archived cohort active again (a no-op for an active one)."""

        def tx() -> CohortRecord:
            cid, cur = self._one(name)
            if cur.archived:
                self._db.execute(
                    "UPDATE cohorts SET archived = 0, updated_ms = ? WHERE id = ?", (self._clock(), cid)
                )
            return self._one(name)[1]

        out = self._write(tx)
        assert out is not None
        return out

    def rename(self, old: str, new: str, rewrites: dict[str, str], author: str = "") -> CohortRecord:
        """Rename ``old`` to ``new`` (a new version noting it) and save the ``rewrites``
        (cohort name → new definition text, for the cohorts that referenced ``old``)
        as new versions, all in one transaction."""

        def tx() -> CohortRecord:
            if self._db.execute("SELECT 1 FROM cohorts WHERE name = ?", (new,)).fetchone() is not None:
                raise AlreadyExistsError(f"a cohort named {new!r} already exists")
            cid, _ = self._one(old)
            self._db.execute("UPDATE cohorts SET name = ? WHERE id = ?", (new, cid))
            note = f"renamed from {old!r}"
            self._update(new, None, None, note, author, force=True)
            for name, text in sorted(rewrites.items()):
                self._update(name, text, None, f"in_cohort({old!r}) follows the rename to {new!r}", author)
            return self._one(new)[1]

        out = self._write(tx)
        assert out is not None
        return out

    def delete(self, name: str) -> None:
        """Remove a cohort and its history for good."""

        def tx() -> None:
            cid, _ = self._one(name)
            self._db.execute("DELETE FROM cohort_versions WHERE cohort_id = ?", (cid,))
            self._db.execute("DELETE FROM cohorts WHERE id = ?", (cid,))
            return None

        self._write(tx)

    def count_active(self) -> int:
        """Cohorts that are not archived."""
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM cohorts WHERE archived = 0").fetchone()[0])

    def history(self, name: str) -> builtins.list[CohortVersion]:
        """Every version of ``name``, oldest first."""
        with self._lock:
            cid, _ = self._one(name)
            rows = self._db.execute(
                "SELECT version, definition, description, note, created_ms, author FROM cohort_versions"
                " WHERE cohort_id = ? ORDER BY version",
                (cid,),
            ).fetchall()
        return [CohortVersion(*r) for r in rows]

    def touch_evaluated(self, name: str, ms: int) -> None:
        """Record that ``name`` was evaluated at wall time ``ms`` (never moves backwards)."""

        def tx() -> None:
            cur = self._db.execute(
                "UPDATE cohorts SET last_evaluated_ms = MAX(COALESCE(last_evaluated_ms, ?), ?)"
                " WHERE name = ?",
                (ms, ms, name),
            )
            if cur.rowcount == 0:
                raise NotFoundError(f"no cohort named {name!r}")
            return None

        self._write(tx)

    def close(self) -> None:
        """Close the connection; the catalog must not be used afterwards."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
