"""Personas: discover behavioural groups of users, explain them, turn one into an exact cohort.

The loop (``docs/personas.md``): ``features`` builds per-user counts of the top
event types in a window (a Rust kernel, straight from the segments into a
sparse matrix) plus optional one-hot user properties; ``cluster`` groups the
normalised rows with k-means and measures how stable the grouping is;
``explain`` says what sets each group apart; ``rules`` writes a shallow
decision tree for one group as a cohort definition, evaluates it with the real
engine and reports how faithful it is.  ``discover`` runs the whole loop.

Only ``report`` (plain result types) is imported eagerly, so the SDK can use
the result types without numpy, scikit-learn or the storage engine.
"""

from __future__ import annotations

from typing import Any

from cohortd.personas.report import (
    Behaviour,
    Persona,
    PersonaReport,
    PropertyShare,
    Rule,
    Stability,
)

__all__ = [
    "Behaviour",
    "Persona",
    "PersonaReport",
    "PropertyShare",
    "Rule",
    "Stability",
    "discover",
]


def __getattr__(name: str) -> Any:
    if name == "discover":
        from cohortd.personas.pipeline import discover

        return discover
    raise AttributeError(f"module 'cohortd.personas' has no attribute {name!r}")
