"""A data directory holding one or more isolated projects.

Layout::

    DIR/projects/<name>/events/          the project's Engine (WAL, segments, dictionaries)
    DIR/projects/<name>/catalog.sqlite   its saved cohorts and their history

Project names match ``[A-Za-z0-9_-]{1,64}``.  Opening never creates anything
unless asked to (``create=True``: ``cohortd init``, the first ingest, ``serve``):
a mistyped path or project is an error that says so, not an empty answer.  An
open project holds its engine directory's one-writer lock (``storage/lock.py``),
so a second process fails at once naming the first instead of writing beside it.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path

from cohortd.errors import CohortError, InvalidArgumentError, NotFoundError, StorageError
from cohortd.service.project import Project
from cohortd.storage.files import make_dirs

__all__ = [
    "PROJECT_NAME",
    "VISIBLE_PROJECTS",
    "Workspace",
    "check_project_name",
    "init_data_dir",
    "no_project",
    "project_names_in",
]

PROJECT_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


def check_project_name(name: object) -> str:
    """``name`` if it is a valid project name, else the error saying what one looks like."""
    if not isinstance(name, str) or not PROJECT_NAME.fullmatch(name):
        raise InvalidArgumentError(f"project name {name!r} must match [A-Za-z0-9_-]{{1,64}}")
    return name


def project_names_in(root: Path) -> list[str]:
    """The projects under ``root`` (one directory each, sorted); none when it does not exist."""
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and PROJECT_NAME.fullmatch(p.name))


VISIBLE_PROJECTS: ContextVar[frozenset[str] | None] = ContextVar("cohortd_visible_projects", default=None)
"""The projects the caller may use, set by a server's API-key check for a key scoped to some
projects; a missing-project error then names only these (one tenant never learns another's)."""


def no_project(name: str, data_dir: Path, existing: list[str]) -> NotFoundError:
    """The error for a read of a project that does not exist: it names the ones that do."""
    visible = VISIBLE_PROJECTS.get()
    known = ", ".join(n for n in existing if visible is None or n in visible) or "none"
    return NotFoundError(f"no project {name!r} in {data_dir} (projects: {known})")


log = logging.getLogger("cohortd.service")


@dataclass
class _Opening:
    """A project being opened by one thread; others wait on ``done``."""

    done: threading.Event = field(default_factory=threading.Event)
    project: Project | None = None
    error: BaseException | None = None


def _is_engine_dir(path: Path) -> bool:
    return (path / "manifest.json").exists() or any(path.glob("wal-*.log"))


def init_data_dir(path: str | Path) -> Path:
    """Create a data directory (``projects/`` inside); an existing one is left as it is."""
    root = Path(path)
    if root.is_dir() and _is_engine_dir(root):
        raise StorageError(f"{root} is an engine directory (Engine.open), not a cohortd data directory")
    if root.exists() and not root.is_dir():
        raise StorageError(f"{root} is a file, not a data directory")
    make_dirs(root / "projects")  # fsync'd into its parents, like every directory the store creates
    return root


def check_data_dir(path: str | Path) -> Path:
    """The data directory at ``path``, or an error saying why it is not one."""
    root = Path(path)
    if not root.exists():
        raise NotFoundError(f"no data directory at {root} (create one with `cohortd init {root}`)")
    if not (root / "projects").is_dir():
        if root.is_dir() and _is_engine_dir(root):
            raise StorageError(
                f"{root} is an engine directory: open it with cohortd.Engine.open({str(root)!r})"
            )
        raise NotFoundError(f"{root} is not a cohortd data directory (no projects/ inside)")
    return root


class Workspace:
    """A data directory holding one or more isolated projects."""

    def __init__(
        self,
        data_dir: str | Path,
        clock: Callable[[], int] | None = None,
        deliver_audiences: bool = False,
        max_active_cohorts: int | None = None,
        *,
        create: bool = True,
    ) -> None:
        self.data_dir = init_data_dir(data_dir) if create else check_data_dir(data_dir)
        self._clock = clock
        self.max_active_cohorts = max_active_cohorts  # per project; None: no cap (cohortd.governance)
        self.deliver_audiences = deliver_audiences
        self.create = create
        self._projects: dict[str, Project] = {}
        self._opening: dict[str, _Opening] = {}
        self._lock = threading.Lock()  # guards the two dicts only: never held while a project opens
        self._closed = False
        self.on_loading: list[Callable[[str, bool], None]] = []
        """Called with (project name, True) when a project starts opening, (name, False) once open
        (a project that failed to open stays at True until an open succeeds)."""

    def project(self, name: str = "default", create: bool | None = None) -> Project:
        """The named project, opened on first use; created when ``create`` (default: the workspace's).

        Projects open independently: the first caller opens it outside the
        workspace lock, later callers for the same project wait for that open,
        and callers for other projects are not held up at all.  Without ``create`` a
        project that does not exist is a NotFoundError (nothing is written, and a caller
        that may create it is never handed that error: the check comes before the open).
        """
        check_project_name(name)
        directory = self.data_dir / "projects" / name
        may_create = self.create if create is None else create
        with self._lock:
            if self._closed:
                raise CohortError("workspace is closed")
            proj = self._projects.get(name)
            if proj is not None:
                return proj
            opening = self._opening.get(name)
            missing = opening is None and not may_create and not directory.is_dir()
            leader = opening is None and not missing
            if leader:
                opening = self._opening[name] = _Opening()
        if missing:
            raise no_project(name, self.data_dir, self.project_names())
        assert opening is not None
        if not leader:
            opening.done.wait()
            if opening.error is not None:
                raise opening.error
            assert opening.project is not None
            return opening.project
        return self._open(name, directory, opening)

    def opened(self, name: str) -> Project | None:
        """The named project if it is open already (None otherwise): no lock, no opening, no
        creating, so the server's membership fast path can call it on the event loop."""
        return None if self._closed else self._projects.get(name)

    def _open(self, name: str, directory: Path, opening: _Opening) -> Project:
        self._notify(name, True)
        try:
            proj = Project(directory, name, self._clock, self.deliver_audiences)
            proj.max_active_cohorts = self.max_active_cohorts
        except BaseException as exc:  # listeners keep "loading": the project is not ready
            opening.error = exc
            with self._lock:
                self._opening.pop(name, None)
            opening.done.set()
            raise
        with self._lock:
            self._opening.pop(name, None)
            closed = self._closed
            if not closed:
                self._projects[name] = proj
        if closed:  # closed while opening: do not leak it
            proj.close()
            opening.error = CohortError("workspace is closed")
        opening.project = proj
        opening.done.set()
        self._notify(name, False)
        if closed:
            raise CohortError("workspace is closed")
        return proj

    def _notify(self, name: str, loading: bool) -> None:
        for callback in list(self.on_loading):
            try:
                callback(name, loading)
            except Exception:  # a listener never breaks opening
                log.exception("on_loading listener failed for project %s", name)

    def project_names(self) -> list[str]:
        """Projects that exist on disk (sorted)."""
        return project_names_in(self.data_dir / "projects")

    def close(self) -> None:
        """Close every open project."""
        with self._lock:
            self._closed = True
            projects, self._projects = list(self._projects.values()), {}
        errors = []
        for p in projects:
            try:
                p.close()
            except Exception as exc:  # close the others before reporting
                errors.append(exc)
        if errors:
            raise errors[0]

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
