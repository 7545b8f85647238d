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
from dataclasses import dataclass, field
from pathlib import Path

from cohortd.errors import CohortError, InvalidArgumentError, NotFoundError, StorageError
from cohortd.service.project import Project
from cohortd.storage.files import make_dirs

__all__ = ["PROJECT_NAME", "Workspace", "init_data_dir"]

PROJECT_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")

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
        and callers for other projects are not held up at all.
        """
        if not isinstance(name, str) or not PROJECT_NAME.fullmatch(name):
            raise InvalidArgumentError(f"project name {name!r} must match [A-Za-z0-9_-]{{1,64}}")
        with self._lock:
            if self._closed:
                raise CohortError("workspace is closed")
            proj = self._projects.get(name)
            if proj is not None:
                return proj
            opening = self._opening.get(name)
            leader = opening is None
            if opening is None:
                opening = self._opening[name] = _Opening()
        if not leader:
            opening.done.wait()
            if opening.error is not None:
                raise opening.error
            assert opening.project is not None
            return opening.project
        return self._open(name, opening, self.create if create is None else create)

    def opened(self, name: str) -> Project | None:
        """The named project if it is open already (None otherwise): no lock, no opening, no
        creating, so the server's membership fast path can call it on the event loop."""
        return None if self._closed else self._projects.get(name)

    def _open(self, name: str, opening: _Opening, create: bool) -> Project:
        self._notify(name, True)
        try:
            directory = self.data_dir / "projects" / name
            if not create and not directory.is_dir():
                known = ", ".join(self.project_names()) or "none"
                raise NotFoundError(f"no project {name!r} in {self.data_dir} (projects: {known})")
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
        root = self.data_dir / "projects"
        if not root.is_dir():
            return []
        return sorted(p.name for p in root.iterdir() if p.is_dir() and PROJECT_NAME.fullmatch(p.name))

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
