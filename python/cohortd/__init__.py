"""cohortd: a behavioural cohort engine."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # Lazy so that importing the package (e.g. for the CLI) stays cheap.
    if name == "Engine":
        from cohortd.engine.engine import Engine

        return Engine
    if name == "Client":
        from cohortd.client import Client

        return Client
    raise AttributeError(f"module 'cohortd' has no attribute {name!r}")
