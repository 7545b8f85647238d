"""The gRPC server: ``build_server`` (one factory) and ``serve`` (blocking, for ``cohortd serve``)."""

from __future__ import annotations

from cohortd.server.app import DEFAULT_GRACE_S, DEFAULT_WORKERS, CohortdServer, build_server, serve
from cohortd.server.limits import Limits

__all__ = ["DEFAULT_GRACE_S", "DEFAULT_WORKERS", "CohortdServer", "Limits", "build_server", "serve"]
