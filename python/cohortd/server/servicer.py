"""``cohortd.v1.Cohortd`` over a :class:`~cohortd.service.Workspace`.

The servicer only translates: wire messages in (via :mod:`cohortd.wire`),
one call into the service layer, wire messages out.  Errors are raised as the
package's exceptions and turned into status codes by ``server/errors.py``;
limits come from ``server/limits.py``.

Handlers are synchronous and run on a thread pool chosen per call
(``server/dispatch.py``); the service layer is thread-safe and the engine
releases the GIL in its kernels.

Watch is the one coroutine: it reads the project's shared change log by
version, so there is no per-subscriber queue, and between changes it awaits
the project's :class:`~cohortd.server.feed.VersionFeed`, holding no thread.  A
slow reader only falls behind in the log (grpc sends under HTTP/2 flow
control); when the log is trimmed past it, the stream fails with
OUT_OF_RANGE.  A stream ends when the client goes away (the coroutine is
cancelled) or the server shuts down (UNAVAILABLE, so the SDK resumes from its
last version on the next server).
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Executor
from typing import Any

import grpc
import numpy as np

from cohortd import wire
from cohortd.errors import (
    CohortError,
    DeadlineExceededError,
    InvalidArgumentError,
    NotInClusterError,
    ShuttingDown,
)
from cohortd.lang import ast as A
from cohortd.server.feed import INLINE_WATCH_USERS, VersionFeed
from cohortd.server.limits import Limits
from cohortd.server.projects import DEFAULT_PROJECT, read_project, write_project
from cohortd.server.stream_ingest import IngestPart, ingest_stream
from cohortd.service import Project, Workspace
from cohortd.service.membership import packed_bits
from cohortd.storage.validate import check_structure
from cohortd.v1 import cohortd_pb2 as pb
from cohortd.v1 import cohortd_pb2_grpc as pb_grpc

__all__ = ["CohortdServicer"]

_EVENT_COLUMNS = frozenset({"user_id", "event_type", "time"})


def _partly_stored(exc: CohortError, stored: int, where: str) -> CohortError:
    """The same error, saying what the call stored before it (an acknowledgement states what was stored)."""
    if not stored:
        return exc
    try:
        return type(exc)(f"{exc} ({stored} rows {where} were stored before this error)")
    except TypeError:
        return exc


def _as_of(request: Any) -> int | None:
    return request.as_of.ToMilliseconds() if request.HasField("as_of") else None


def _check_deadline(context: grpc.ServicerContext) -> None:
    remaining = context.time_remaining()
    if remaining is not None and remaining <= 0:
        raise DeadlineExceededError("the deadline passed before the work was done")


def _target(request: Any) -> tuple[str | None, str | A.Expr | None]:
    """(saved name, inline definition) of a request's ``Target``."""
    kind = request.target.WhichOneof("kind")
    if kind == "cohort":
        if not request.target.cohort:
            raise InvalidArgumentError("target.cohort is empty")
        return request.target.cohort, None
    if kind == "definition":
        return None, wire.definition_from_proto(request.target.definition)
    raise InvalidArgumentError("target: give a saved cohort name or a definition")


def _definition(request: Any) -> str | A.Expr:
    """A request's required ``definition`` (text or tree)."""
    definition = _optional_definition(request)
    if definition is None:
        raise InvalidArgumentError("definition: give text or expr")
    return definition


def _optional_definition(request: Any) -> str | A.Expr | None:
    if not request.HasField("definition"):
        return None
    return wire.definition_from_proto(request.definition)


def _tree(text: str, out: Any) -> str:
    """Fill the tree of a stored definition; the reason when it no longer parses (else "")."""
    from cohortd.lang import parse

    try:
        wire.expr_to_proto(parse(text), out)
    except CohortError as exc:
        return str(exc)
    return ""


def _cohort(rec: Any, out: pb.Cohort | None = None, broken: str | None = None) -> pb.Cohort:
    msg = pb.Cohort() if out is None else out
    msg.name = rec.name
    msg.description = rec.description
    msg.definition_text = rec.definition
    msg.error = broken or _tree(rec.definition, msg.definition_expr)
    if broken:
        msg.ClearField("definition_expr")
    msg.version = rec.version
    msg.created.FromMilliseconds(rec.created_ms)
    msg.updated.FromMilliseconds(rec.updated_ms)
    if rec.last_evaluated_ms is not None:
        msg.last_evaluated.FromMilliseconds(rec.last_evaluated_ms)
    msg.archived = bool(rec.archived)
    return msg


def _membership_response(request: pb.CheckMembershipRequest, matrix: Any) -> pb.CheckMembershipResponse:
    users, cohorts = matrix.shape
    if request.packed:
        return pb.CheckMembershipResponse(member_bits=packed_bits(matrix), users=users, cohorts=cohorts)
    # A bool matrix's bytes (0/1 each) are the wire form of a packed ``repeated bool``: one C-level
    # parse instead of a Python list of a bool per check (~65 us for 1,000 checks).
    body = np.ascontiguousarray(matrix, dtype=np.bool_).tobytes()
    wire = b"".join((b"\x0a", _varint(len(body)), body, b"\x10", _varint(users), b"\x18", _varint(cohorts)))
    return pb.CheckMembershipResponse.FromString(wire)


def _varint(n: int) -> bytes:
    """Protobuf base-128 varint of a non-negative int."""
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _warnings(warnings: Any, out: Any) -> None:
    for w in warnings:
        out.add(code=w.code, message=w.message)


def _rejections(rejections: Any, out: Any) -> None:
    for r in rejections:
        out.add(row=r.row, field=r.field, reason=r.reason)


def _change(change: Any, out: pb.CohortChange) -> pb.CohortChange:
    out.cohort = change.cohort
    out.version = change.version
    out.time_ms = change.time_ms
    out.entered.extend(change.entered)
    out.exited.extend(change.exited)
    return out


class CohortdServicer(pb_grpc.CohortdServicer):
    """Every RPC of ``cohortd.v1.Cohortd``."""

    def __init__(self, workspace: Workspace, limits: Limits | None = None) -> None:
        self.workspace = workspace
        self.limits = limits or Limits()
        self._streams_lock = threading.Lock()
        self._feeds: dict[str, VersionFeed] = {}
        self._shutting_down = False
        self.blocking: Executor | None = None
        """Where Watch runs its short blocking steps (the server sets its cheap-read pool)."""

    def _project(self, request: Any, write: bool = False) -> Project:
        """The request's project: a read needs it to exist, a write creates it (server/projects.py)."""
        project = (write_project if write else read_project)(self.workspace, request)
        limit = self.limits.change_log_users
        if limit is not None and project.maintainer.log_limit != limit:
            project.maintainer.log_limit = limit
        return project

    def _check_properties(self, project: Project, messages: Any, arrow: Any, events: bool) -> None:
        """Property-count limits, checked before any row is converted (a request may name a million)."""
        store = project.engine.store
        reserved = _EVENT_COLUMNS if events else frozenset({"user_id"})
        columns = [] if arrow is None else [c for c in arrow.column_names if c not in reserved]
        if events:
            prefix = wire.USER_PREFIX
            rows = (itertools.chain(m.properties.keys(), (prefix + k for k in m.user_properties.keys()))
                    for m in messages)  # fmt: skip
            seen = self.limits.batch_properties(itertools.chain(rows, [columns]))
            users = {n[len(prefix) :] for n in seen if n.startswith(prefix)}
            self.limits.project_properties(
                (n for n in seen if not n.startswith(prefix)), store.schema, "event property"
            )
        else:
            users = self.limits.batch_properties(
                itertools.chain((m.properties.keys() for m in messages), [columns])
            )
        self.limits.project_properties(users, store.user_schema, "user property")

    def shutdown(self) -> None:
        """End every running Watch stream (UNAVAILABLE) and refuse new ones; called before stopping."""
        with self._streams_lock:
            self._shutting_down = True
            feeds = list(self._feeds.values())
        for feed in feeds:
            feed.close()

    # ---------------------------------------------------------------- ingest
    def _ingest_parts(
        self, request: pb.IngestRequest, first_row: int
    ) -> tuple[Project, list[IngestPart], int]:
        """One request checked and made tables for the gate; (project, parts, rows in the request)."""
        n_events = len(request.events)
        arrow = wire.ipc_to_table(request.arrow_ipc) if request.arrow_ipc else None
        rows = n_events + (arrow.num_rows if arrow is not None else 0)
        self.limits.check("rows in one ingest request", rows, self.limits.max_ingest_rows)
        project = self._project(request, write=True)
        if arrow is not None:
            arrow = check_structure(arrow)  # a broken column fails the request before anything is stored
        self._check_properties(project, request.events, arrow, events=True)
        parts = []
        if n_events:
            batch = wire.events_to_table(request.events, first_row)
            parts.append(IngestPart(batch.table, batch.renumber))
        if arrow is not None and arrow.num_rows:
            offset = first_row + n_events
            parts.append(IngestPart(arrow, lambda rejected: [
                wire.WireRejection(r.row + offset, r.field, r.reason) for r in rejected
            ]))  # fmt: skip
        return project, parts, rows

    def _ingest_one(self, request: pb.IngestRequest, first_row: int) -> tuple[int, list[Any], int]:
        """Ingest one request's rows; (accepted, rejections, rows seen)."""
        project, parts, rows = self._ingest_parts(request, first_row)
        accepted = 0
        rejections: list[Any] = []
        for part in parts:
            if not part.table.num_rows:
                rejections.extend(part.renumber([]))
                continue
            try:
                report = project.ingest(part.table)
            except CohortError as exc:
                raise _partly_stored(exc, accepted, "of this request's events") from exc
            accepted += report.accepted
            rejections.extend(part.renumber(report.rejected))
        return accepted, rejections, rows

    def Ingest(self, request: pb.IngestRequest, context: grpc.ServicerContext) -> pb.IngestResponse:
        accepted, rejections, _ = self._ingest_one(request, 0)
        out = pb.IngestResponse(accepted=accepted)
        _rejections(rejections, out.rejections)
        return out

    def IngestStream(
        self, request_iterator: Iterator[pb.IngestRequest], context: grpc.ServicerContext
    ) -> pb.IngestResponse:
        accepted, rejections = ingest_stream(
            request_iterator, self._ingest_parts, _partly_stored, DEFAULT_PROJECT
        )  # requests that wait are stored together (server/stream_ingest.py)
        out = pb.IngestResponse(accepted=accepted)
        _rejections(rejections, out.rejections)
        return out

    def UpsertUserProperties(
        self, request: pb.UpsertUserPropertiesRequest, context: grpc.ServicerContext
    ) -> pb.IngestResponse:
        arrow = wire.ipc_to_table(request.arrow_ipc) if request.arrow_ipc else None
        n_users = len(request.users)
        rows = n_users + (arrow.num_rows if arrow is not None else 0)
        self.limits.check("rows in one upsert request", rows, self.limits.max_ingest_rows)
        project = self._project(request, write=True)
        self._check_properties(project, request.users, arrow, events=False)
        out = pb.IngestResponse()
        if n_users:
            batch = wire.users_to_table(request.users)
            if batch.table.num_rows:
                report = project.upsert_user_properties(batch.table)
                out.accepted += report.accepted
                _rejections(batch.renumber(report.rejected), out.rejections)
            else:
                _rejections(batch.rejections, out.rejections)
        if arrow is not None and arrow.num_rows:
            report = project.upsert_user_properties(arrow)
            out.accepted += report.accepted
            _rejections([wire.WireRejection(r.row + n_users, r.field, r.reason) for r in report.rejected],
                        out.rejections)  # fmt: skip
        return out

    # --------------------------------------------------------------- catalog
    def CreateCohort(
        self, request: pb.CreateCohortRequest, context: grpc.ServicerContext
    ) -> pb.CreateCohortResponse:
        rec, warnings = self._project(request, write=True).create_cohort(
            request.name, _definition(request), request.description, request.note
        )
        out = pb.CreateCohortResponse()
        _cohort(rec, out.cohort)
        _warnings(warnings, out.warnings)
        return out

    def UpdateCohort(
        self, request: pb.UpdateCohortRequest, context: grpc.ServicerContext
    ) -> pb.UpdateCohortResponse:
        description = request.description if request.HasField("description") else None
        rec, warnings = self._project(request).update_cohort(
            request.name, _optional_definition(request), description, request.note
        )
        out = pb.UpdateCohortResponse()
        _cohort(rec, out.cohort)
        _warnings(warnings, out.warnings)
        return out

    def GetCohort(self, request: pb.GetCohortRequest, context: grpc.ServicerContext) -> pb.GetCohortResponse:
        out = pb.GetCohortResponse()
        project = self._project(request)
        _cohort(project.get_cohort(request.name), out.cohort, project.broken.get(request.name))
        return out

    def ListCohorts(
        self, request: pb.ListCohortsRequest, context: grpc.ServicerContext
    ) -> pb.ListCohortsResponse:
        out = pb.ListCohortsResponse()
        project = self._project(request)
        for rec in project.list_cohorts(request.include_archived):
            _cohort(rec, out.cohorts.add(), project.broken.get(rec.name))
        return out

    def ArchiveCohort(
        self, request: pb.ArchiveCohortRequest, context: grpc.ServicerContext
    ) -> pb.ArchiveCohortResponse:
        out = pb.ArchiveCohortResponse()
        _cohort(self._project(request).archive_cohort(request.name), out.cohort)
        return out

    def CohortHistory(
        self, request: pb.CohortHistoryRequest, context: grpc.ServicerContext
    ) -> pb.CohortHistoryResponse:
        out = pb.CohortHistoryResponse(name=request.name)
        for v in self._project(request).cohort_history(request.name):
            msg = out.versions.add(
                version=v.version, definition_text=v.definition, description=v.description, note=v.note
            )
            _tree(v.definition, msg.definition_expr)
            msg.time.FromMilliseconds(v.created_ms)
        return out

    # --------------------------------------------------------------- queries
    def Evaluate(self, request: pb.EvaluateRequest, context: grpc.ServicerContext) -> pb.EvaluateResponse:
        _check_deadline(context)
        name, definition = _target(request)
        project = self._project(request)
        result = project.evaluate(name, definition, _as_of(request))
        out = pb.EvaluateResponse(size=int(result.size), version=result.version or 0)
        out.as_of.FromMilliseconds(result.as_of_ms)
        _warnings(project.warnings(name, definition), out.warnings)
        return out

    def Members(self, request: pb.MembersRequest, context: grpc.ServicerContext) -> Iterator[pb.MembersPage]:
        _check_deadline(context)
        page_size = request.page_size or self.limits.default_page_size
        if page_size < 0:
            raise InvalidArgumentError("page_size must be positive")
        self.limits.check("members page_size", page_size, self.limits.max_page_size)
        name, definition = _target(request)
        result = self._project(request).evaluate(name, definition, _as_of(request))
        ids = result.members()  # sorted: a stable order for paging and resuming
        total = len(ids)
        version = result.version or 0
        start = bisect.bisect_right(ids, request.start_after) if request.start_after else 0
        first = True
        for i in range(start, total, page_size):
            _check_deadline(context)
            page = pb.MembersPage(user_ids=ids[i : i + page_size], total=total, version=version)
            page.as_of.FromMilliseconds(result.as_of_ms)
            first = False
            yield page
        if first:  # an empty answer is still one page: it carries total and as_of
            page = pb.MembersPage(total=total, version=version)
            page.as_of.FromMilliseconds(result.as_of_ms)
            yield page

    # ----------------------------------------------------------------- watch
    def _watched(self, request: Any) -> list[str]:
        cohorts = list(request.cohorts)
        if not cohorts:
            raise InvalidArgumentError("cohorts: name at least one saved cohort")
        if any(not c for c in cohorts):
            raise InvalidArgumentError("cohorts: empty cohort name")
        self.limits.check("cohorts in one Watch or Changes", len(cohorts), self.limits.max_watch_cohorts)
        return cohorts

    def _feed(self, project: Project, loop: asyncio.AbstractEventLoop) -> VersionFeed:
        with self._streams_lock:
            feed = self._feeds.get(project.name)
            if feed is None or feed.maintainer is not project.maintainer:
                feed = self._feeds[project.name] = VersionFeed(project.maintainer, loop)
            return feed

    async def Watch(
        self, request: pb.WatchRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.WatchEvent]:
        """A coroutine: while no change comes it is suspended on its project's feed, holding no thread."""
        cohorts = self._watched(request)
        if self._shutting_down:
            raise ShuttingDown("the server is shutting down; watch again from the same version")
        loop = asyncio.get_running_loop()
        project = await loop.run_in_executor(self.blocking, self._project, request)
        start = request.from_version if request.HasField("from_version") else project.maintainer.version
        # Unknown cohorts (NOT_FOUND) and a version the log no longer reaches (OUT_OF_RANGE)
        # fail the call before anything is sent.
        await loop.run_in_executor(self.blocking, project.changes, cohorts, start, start)
        feed = self._feed(project, loop)
        yield pb.WatchEvent(version=start)  # checkpoint: where this stream starts
        seen = start
        while not self._shutting_down:
            upto = project.maintainer.version  # read first: the log is complete up to it
            if upto > seen:
                changes = await self._watch_changes(loop, project, cohorts, seen, upto)
                for change in changes:
                    event = pb.WatchEvent(version=change.version)
                    _change(change, event.change)
                    yield event
                seen = upto
            else:
                await feed.wait_past(seen)
        raise ShuttingDown("the server is shutting down; watch again from the last version received")

    async def _watch_changes(
        self, loop: asyncio.AbstractEventLoop, project: Project, cohorts: list[str], seen: int, upto: int
    ) -> list[Any]:
        """The next changes of a Watch: decoded on the event loop when they name few users (the
        common case of a reader that keeps up: two thread hand-offs fewer on the way to the
        subscriber, each a wait for the GIL under load), else on the read pool."""
        try:
            external = project.external_changes
        except NotInClusterError:  # a cluster router: its changes merge the shards' logs
            return await loop.run_in_executor(self.blocking, project.changes, cohorts, seen, upto)
        raw = project.maintainer.changes(cohorts, seen, upto)  # a short locked read of the log
        if sum(len(c.entered) + len(c.exited) for c in raw) <= INLINE_WATCH_USERS:
            return external(cohorts, raw)
        return await loop.run_in_executor(self.blocking, external, cohorts, raw)

    def Changes(self, request: pb.ChangesRequest, context: grpc.ServicerContext) -> pb.ChangesResponse:
        cohorts = self._watched(request)
        project = self._project(request)
        # Reading the version first makes the answer complete up to it: a change is in the log
        # by the time its version is visible to another thread's locked read.
        upto = current = project.maintainer.version
        if request.HasField("to_version"):
            if request.to_version < request.from_version:
                raise InvalidArgumentError(
                    f"to_version {request.to_version} is before from_version {request.from_version}"
                )
            upto = min(request.to_version, current)  # never claim versions that do not exist yet
        out = pb.ChangesResponse(version=upto)
        for change in project.changes(cohorts, request.from_version, upto):
            _change(change, out.changes.add())
        return out

    def IsMember(self, request: pb.IsMemberRequest, context: grpc.ServicerContext) -> pb.IsMemberResponse:
        as_of = request.as_of.ToMilliseconds() if request.HasField("as_of") else None
        return pb.IsMemberResponse(
            member=read_project(self.workspace, request).is_member(request.user_id, request.cohort, as_of)
        )

    def CheckMembership(
        self, request: pb.CheckMembershipRequest, context: grpc.ServicerContext
    ) -> pb.CheckMembershipResponse:
        self._check_size(request)
        matrix = self._project(request).membership_matrix(request.user_ids, request.cohorts, _as_of(request))
        return _membership_response(request, matrix)

    def _check_size(self, request: pb.CheckMembershipRequest) -> None:
        users, cohorts = len(request.user_ids), len(request.cohorts)
        self.limits.check("users x cohorts in one CheckMembership", users * cohorts, self.limits.max_checks)

    # membership on the event loop: no thread hop when the answer needs no wait (server/dispatch.py)
    def inline_handlers(self) -> dict[str, Callable[[Any], Any]]:
        """The handlers the dispatcher tries on the event loop first; None from one sends the
        call to its pool (project not open yet, an ``as_of``, a batch not folded in yet...)."""
        if not isinstance(self.workspace, Workspace) or self.blocking is None:  # e.g. a cluster router
            return {}
        service = f"/{pb.DESCRIPTOR.services_by_name['Cohortd'].full_name}/"
        return {service + "IsMember": self._is_member_now, service + "CheckMembership": self._check_now}

    def _opened(self, request: Any) -> Project | None:
        if request.HasField("as_of"):
            return None
        return self.workspace.opened(request.project or DEFAULT_PROJECT)

    def _stamp_later(self, project: Project) -> None:
        """Read stamps due for SQLite are written on the cheap pool, after the answer."""
        if self.blocking is not None and project.stamps_to_queue():
            self.blocking.submit(project.write_read_stamps)

    def _is_member_now(self, request: pb.IsMemberRequest) -> pb.IsMemberResponse | None:
        project = self._opened(request)
        if project is None:
            return None
        member = project.is_member_now(request.user_id, request.cohort)
        if member is None:
            return None
        self._stamp_later(project)
        return pb.IsMemberResponse(member=member)

    def _check_now(self, request: pb.CheckMembershipRequest) -> pb.CheckMembershipResponse | None:
        self._check_size(request)
        project = self._opened(request)
        if project is None:
            return None
        matrix = project.membership_matrix_now(request.user_ids, request.cohorts)
        if matrix is None:
            return None
        self._stamp_later(project)
        return _membership_response(request, matrix)

    def UserCohorts(
        self, request: pb.UserCohortsRequest, context: grpc.ServicerContext
    ) -> pb.UserCohortsResponse:
        _check_deadline(context)
        names = self._project(request).user_cohorts(request.user_id, _as_of(request))
        return pb.UserCohortsResponse(cohorts=names)

    def Overlap(self, request: pb.OverlapRequest, context: grpc.ServicerContext) -> pb.OverlapResponse:
        _check_deadline(context)
        self.limits.check("cohorts in one Overlap", len(request.cohorts), self.limits.max_overlap_cohorts)
        ov = self._project(request).overlap(list(request.cohorts), _as_of(request))
        out = pb.OverlapResponse(names=ov.names, sizes=ov.sizes)
        for row in ov.intersections:
            out.intersections.add(values=row)
        for ratios in ov.jaccard:
            out.jaccard.add(values=ratios)
        return out

    def Explain(self, request: pb.ExplainRequest, context: grpc.ServicerContext) -> pb.ExplainResponse:
        from cohortd.lang import as_expr, to_text

        _check_deadline(context)
        name, definition = _target(request)
        project = self._project(request)
        steps = project.explain(name, definition, _as_of(request))
        out = pb.ExplainResponse()
        for s in steps:
            out.steps.add(text=s.text, size=int(s.size), millis=float(s.millis), depth=int(s.depth))
        if name is not None:
            out.text = project.get_cohort(name).definition
        else:
            assert definition is not None  # _target gives one of the two
            out.text = to_text(as_expr(definition))
        _warnings(project.warnings(name, definition), out.warnings)
        return out

    def Lint(self, request: pb.LintRequest, context: grpc.ServicerContext) -> pb.LintResponse:
        from cohortd.lang import as_expr, to_text

        definition = _definition(request)
        warnings = self._project(request).lint(definition, request.name or None)
        out = pb.LintResponse(text=to_text(as_expr(definition)))
        _warnings(warnings, out.warnings)
        return out
