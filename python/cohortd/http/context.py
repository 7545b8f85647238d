"""What every request handler needs: the workspace, the keys, the sessions."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from fastapi import Request

from cohortd.http.auth import KeyRing, Sessions
from cohortd.service import Workspace


@dataclass
class Context:
    """Shared by the API and the console pages of one HTTP server."""

    workspace: Workspace
    keys: KeyRing
    sessions: Sessions = field(default_factory=Sessions)
    stopping: threading.Event = field(default_factory=threading.Event)


def context(request: Request) -> Context:
    """FastAPI dependency: the app's context."""
    return request.app.state.cohortd
