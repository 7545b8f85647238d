"""Synthetic SaaS event data for benchmarks, demos and tests.

``generate(users, days, seed, out)`` writes a deterministic Parquet event stream
(and a user-property table next to it); see :mod:`cohortd.synth.generator`.
"""

from cohortd.synth.generator import (
    EVENT_TYPES,
    EVENTS_SCHEMA,
    USERS_SCHEMA,
    GenerateSummary,
    default_end_ms,
    generate,
    users_path_for,
)

__all__ = [
    "EVENT_TYPES",
    "EVENTS_SCHEMA",
    "USERS_SCHEMA",
    "GenerateSummary",
    "default_end_ms",
    "generate",
    "users_path_for",
]
