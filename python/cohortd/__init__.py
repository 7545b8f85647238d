"""cohortd: a behavioural cohort engine.

One data directory, one public API, two transports::

    import cohortd

    with cohortd.open("./data") as project:           # in process
        project.evaluate(definition="did(any)").size
    with cohortd.Client("127.0.0.1:50051") as client:  # a running server
        client.evaluate(definition="did(any)").size

Both implement :class:`cohortd.api.CohortService` and return the value types
of :mod:`cohortd.types`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cohortd.embedded import EmbeddedProject

__version__ = "0.1.0"

__all__ = ["Client", "Engine", "open"]


def open(path: str | Path, project: str = "default", *, create: bool = False) -> EmbeddedProject:  # noqa: A001
    """Open ``project`` of the data directory ``path`` in this process.

    Nothing is created unless ``create=True`` (``cohortd init`` and the first
    ``cohortd ingest`` create one too): a path or project that does not exist
    raises ``NotFoundError`` saying so.  The returned object holds the
    project's one-writer lock until :meth:`close` (or the ``with`` block ends).
    """
    from cohortd.embedded import open_project

    return open_project(path, project, create=create)


def __getattr__(name: str) -> Any:
    # Lazy so that importing the package (e.g. for the CLI or the SDK) stays cheap.
    if name == "Engine":
        from cohortd.engine.engine import Engine

        return Engine
    if name == "Client":
        from cohortd.client import Client

        return Client
    raise AttributeError(f"module 'cohortd' has no attribute {name!r}")
