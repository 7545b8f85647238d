"""Request limits: past any of them a call fails with RESOURCE_EXHAUSTED naming the limit.

``max_message_bytes`` is enforced by grpcio itself (its message says "larger
than max (N vs. M)"); the others are checked by the servicer through
:meth:`Limits.check`, which raises :class:`~cohortd.errors.LimitExceededError`
(mapped to ``RESOURCE_EXHAUSTED`` in ``server/errors.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cohortd.errors import LimitExceededError

__all__ = ["Limits"]


@dataclass(frozen=True)
class Limits:
    """Per-request limits of one server."""

    #: Largest request or response message, in bytes (grpc.max_{receive,send}_message_length).
    max_message_bytes: int = 64 * 1024 * 1024
    #: Rows (events or users) in one Ingest / UpsertUserProperties request or stream message.
    max_ingest_rows: int = 1_000_000
    #: users x cohorts in one CheckMembership call.
    max_checks: int = 1_000_000
    #: Cohorts in one Overlap call (the answer is a square matrix).
    max_overlap_cohorts: int = 256
    #: Ids per Members page (larger requested pages are an error, not silently cut).
    max_page_size: int = 100_000
    #: Members page size when the request leaves it 0.
    default_page_size: int = 10_000
    #: Cohorts in one Watch or Changes call.
    max_watch_cohorts: int = 1_000
    #: Distinct property names (event or user properties) in one ingest or upsert request.
    max_properties_per_batch: int = 1_000
    #: Distinct event property names, and distinct user property names, one project may hold.
    max_properties_per_project: int = 10_000
    #: Working memory one condition of a query may take (kernel input: ~12 bytes per event row
    #: it reads, 20 with a value column); past it the query is RESOURCE_EXHAUSTED.
    query_memory_bytes: int = 2 * 1024**3
    #: Calls admitted to the work pool at once (running or queued): evaluations, ingest and
    #: other expensive calls past it are refused at once rather than queued without bound.
    max_pending_calls: int = 64
    #: Size of each project's change log, in user changes (entries + exits) kept for
    #: Watch/Changes; a reader asking for a version older than the log reaches gets
    #: OUT_OF_RANGE (resynchronise).  None: the engine's default (1,000,000).
    change_log_users: int | None = None

    def check(self, what: str, value: int, limit: int) -> None:
        """Raise LimitExceededError when ``value`` is past ``limit``."""
        if value > limit:
            raise LimitExceededError(f"{what}: {value:,} is over the server limit of {limit:,}")

    def batch_properties(self, rows: Iterable[Iterable[str]]) -> set[str]:
        """The distinct property names of a request's rows; stops early past the batch limit."""
        seen: set[str] = set()
        for row in rows:
            seen.update(row)
            if len(seen) > self.max_properties_per_batch:
                raise LimitExceededError(
                    f"more than {self.max_properties_per_batch:,} distinct property names in one request "
                    "(max_properties_per_batch)"
                )
        return seen

    def project_properties(self, names: Iterable[str], schema: Mapping[str, str], what: str) -> None:
        """Refuse names that would take a project's ``what`` schema past the per-project limit."""
        new = sum(1 for n in names if n not in schema)
        if new and len(schema) + new > self.max_properties_per_project:
            raise LimitExceededError(
                f"{new:,} new {what} names would give the project {len(schema) + new:,}, "
                f"over the limit of {self.max_properties_per_project:,} (max_properties_per_project)"
            )

    def grpc_options(self) -> list[tuple[str, int]]:
        return [
            ("grpc.max_receive_message_length", self.max_message_bytes),
            ("grpc.max_send_message_length", self.max_message_bytes),
        ]
