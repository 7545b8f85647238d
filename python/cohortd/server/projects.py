"""The project a request names, and whether the call may create it.

Every request carries ``project`` (empty: ``default``).  A call that only reads
never creates one: a project that does not exist is NOT_FOUND, naming the
projects that do (``no project 'team-b' in DIR (projects: team-a)``, as the
local CLI says).  A write that can succeed on an empty project (ingest, a new
cohort, a time zone, a destination or audience) creates it on first use, as
the first local ingest does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cohortd.service import Project

__all__ = ["DEFAULT_PROJECT", "read_project", "write_project"]

DEFAULT_PROJECT = "default"


def read_project(workspace: Any, request: Any) -> Project:
    """The request's project, which must exist (NotFoundError otherwise; nothing is created)."""
    project: Project = workspace.project(request.project or DEFAULT_PROJECT, create=False)
    return project


def write_project(workspace: Any, request: Any) -> Project:
    """The request's project, created when it does not exist yet."""
    project: Project = workspace.project(request.project or DEFAULT_PROJECT, create=True)
    return project
