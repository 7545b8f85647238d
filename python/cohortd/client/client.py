"""``cohortd.Client``: the Python SDK over gRPC.

    from cohortd import Client

    with Client("127.0.0.1:50051", api_key="k-analytics", project="growth") as c:
        c.ingest([{"user_id": "u1", "event_type": "Signup Submitted", "time": 1767225600000}])
        c.create_cohort("New Users L7", "first did(any) in last 7d")
        c.is_member("u1", "New Users L7")            # -> True
        c.overlap(["New Users L7", "Activated"]).jaccard

Definitions are accepted as cohort text, as an AST (:mod:`cohortd.lang.ast`)
or anything :func:`cohortd.lang.as_expr` understands (builder objects).

Retries: ``UNAVAILABLE`` is retried with exponential backoff and jitter
(``retries`` attempts after the first, delays ``backoff`` x 2^n capped at
``max_backoff``) for every call that is safe to repeat.  ``ingest``,
``ingest_stream`` and ``create_cohort`` are not retried: if the server did
receive the first attempt, a retry would store events twice or fail with
ALREADY_EXISTS.  ``members`` resumes a broken stream after the last id it
received.  ``watch`` resumes a broken stream from the last version received
(nothing lost, nothing twice).  Errors are raised as :mod:`cohortd.client.types`
exceptions, which belong to the package's exception tree (``NotFoundError``,
``ResyncRequired`` etc.).

Following a cohort::

    snap = c.member_snapshot("Activated")          # members + the version they were read at
    members = set(snap.members)
    for change in c.watch(["Activated"], from_version=snap.version):
        members |= set(change.entered)
        members -= set(change.exited)
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import grpc
import pyarrow as pa

from cohortd import wire
from cohortd.client.analysis import AnalysisClient
from cohortd.client.audiences import AudiencesClient
from cohortd.client.calendar import CalendarClient
from cohortd.client.governance import GovernanceClient
from cohortd.client.identity import IdentityClient
from cohortd.client.membership import AsOf, MembershipClient
from cohortd.client.migration import MigrationClient
from cohortd.client.personas import PersonasClient
from cohortd.client.schema import SchemaMixin
from cohortd.client.storage import StorageClient
from cohortd.client.types import (
    ERROR_BY_CODE,
    Change,
    ChangesResult,
    Cohort,
    CohortVersion,
    Evaluation,
    IngestResult,
    LintWarning,
    MemberSnapshot,
    Overlap,
    PlanStep,
    Rejection,
    RemoteError,
    RemoteParseError,
)
from cohortd.errors import InvalidArgumentError
from cohortd.lang.ast import Expr
from cohortd.v1 import cohortd_pb2 as pb
from cohortd.v1 import cohortd_pb2_grpc as pb_grpc

__all__ = ["Client", "WatchStream"]

T = TypeVar("T")
Definition = str | Expr | Any

DEFAULT_TIMEOUT_S = 30.0
INGEST_BATCH_ROWS = 100_000


def _convert(exc: grpc.RpcError) -> RemoteError:
    """The package exception for a failed call."""
    code: grpc.StatusCode = exc.code()  # type: ignore[attr-defined]
    details: str = exc.details() or ""  # type: ignore[attr-defined]
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        md = {k: v for k, v in (exc.trailing_metadata() or ())}  # type: ignore[attr-defined]
        if "cohortd-error-line" in md:
            expected = md.get("cohortd-error-expected-bin")
            return RemoteParseError(
                code,
                details,
                md.get("cohortd-error-message-bin", b"").decode(errors="replace") or details,
                int(md["cohortd-error-line"]),
                int(md.get("cohortd-error-column", 0)),
                expected.decode(errors="replace") if expected else None,
            )
    return ERROR_BY_CODE.get(code, RemoteError)(code, details)


def _ts(out: Any, as_of: AsOf) -> None:
    if as_of is not None:
        out.FromMilliseconds(wire.to_epoch_ms(as_of))


def _target(out: pb.Target, cohort: str | None, definition: Definition | None) -> None:
    if (cohort is None) == (definition is None):
        raise InvalidArgumentError("give exactly one of a saved cohort name or a definition")
    if cohort is not None:
        out.cohort = cohort
    else:
        wire.definition_to_proto(definition, out.definition)


def _cohort(msg: pb.Cohort) -> Cohort:
    return Cohort(
        name=msg.name,
        description=msg.description,
        definition=msg.definition_text,
        expr=wire.expr_from_proto(msg.definition_expr) if msg.HasField("definition_expr") else None,
        version=msg.version,
        created=wire.timestamp_to_datetime(msg.created),
        updated=wire.timestamp_to_datetime(msg.updated),
        last_evaluated=wire.timestamp_to_datetime(msg.last_evaluated)
        if msg.HasField("last_evaluated")
        else None,
        archived=msg.archived,
        error=msg.error or None,
    )


def _warnings(msgs: Iterable[pb.LintWarning]) -> list[LintWarning]:
    return [LintWarning(w.code, w.message) for w in msgs]


def _change(msg: pb.CohortChange) -> Change:
    return Change(msg.cohort, msg.version, msg.time_ms, list(msg.entered), list(msg.exited))


def _ingest_result(resp: pb.IngestResponse) -> IngestResult:
    return IngestResult(resp.accepted, [Rejection(r.row, r.field, r.reason) for r in resp.rejections])


def _is_table(data: Any) -> bool:
    return isinstance(data, pa.Table | pa.RecordBatch)


def _event_requests(project: str, data: Any, batch_rows: int) -> Iterator[pb.IngestRequest]:
    """IngestRequests for a table (Arrow IPC chunks) or dict rows (typed Event rows)."""
    if _is_table(data):
        table = pa.table(data) if isinstance(data, pa.RecordBatch) else data
        for start in range(0, max(table.num_rows, 1), batch_rows):
            chunk = table.slice(start, batch_rows)
            yield pb.IngestRequest(project=project, arrow_ipc=wire.table_to_ipc(chunk))
        return
    rows = data if isinstance(data, list) else list(data)
    for start in range(0, max(len(rows), 1), batch_rows):
        yield pb.IngestRequest(
            project=project, events=wire.rows_to_event_messages(rows[start : start + batch_rows])
        )


class Client(
    AudiencesClient,
    PersonasClient,
    AnalysisClient,
    SchemaMixin,
    MigrationClient,
    StorageClient,
    GovernanceClient,
    IdentityClient,
    CalendarClient,
    MembershipClient,
):
    """A connection to a cohortd server, scoped to one project.

    ``target``: ``HOST:PORT``.  ``api_key``: sent as ``authorization: Bearer``.
    ``tls_root_cert``: PEM bytes or a file path; with it the channel uses TLS
    (``tls=True`` uses the system roots).  ``timeout``: default deadline of
    every call, in seconds.  ``partial``: against a cluster (``cohortd serve --cluster``),
    accept answers that leave out shards that are down (the trailing metadata
    ``cohortd-missing-shards`` lists them) instead of UNAVAILABLE.  Use as a context
    manager or call :meth:`close`.
    """

    def __init__(
        self,
        target: str,
        api_key: str | None = None,
        project: str = "default",
        tls_root_cert: bytes | str | Path | None = None,
        timeout: float | None = DEFAULT_TIMEOUT_S,
        *,
        tls: bool = False,
        retries: int = 5,
        backoff: float = 0.05,
        max_backoff: float = 2.0,
        max_message_bytes: int = 64 * 1024 * 1024,
        tls_server_name: str | None = None,
        partial: bool = False,
    ) -> None:
        self.target = target
        self.project = project
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._metadata: tuple[tuple[str, str], ...] = (
            (("authorization", f"Bearer {api_key}"),) if api_key else ()
        ) + ((("cohortd-partial", "1"),) if partial else ())  # a cluster may leave down shards out
        options: list[tuple[str, Any]] = [
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
        ]
        if tls_server_name:
            options.append(("grpc.ssl_target_name_override", tls_server_name))
        if tls_root_cert is not None or tls:
            root = tls_root_cert
            if isinstance(root, str | Path):
                root = Path(root).read_bytes()
            creds = grpc.ssl_channel_credentials(root_certificates=root)
            self._channel = grpc.secure_channel(target, creds, options=options)
        else:
            self._channel = grpc.insecure_channel(target, options=options)
        self._stub = pb_grpc.CohortdStub(self._channel)

    # ------------------------------------------------------------ plumbing
    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the channel (calls in flight are cancelled)."""
        self._channel.close()

    def _call(self, method: Callable[..., T], request: Any, timeout: float | None, retry: bool = True) -> T:
        attempt = 0
        deadline_s = self.timeout if timeout is None else timeout
        while True:
            try:
                return method(request, timeout=deadline_s, metadata=self._metadata)
            except grpc.RpcError as exc:
                if not (retry and exc.code() == grpc.StatusCode.UNAVAILABLE and attempt < self.retries):  # type: ignore[attr-defined]
                    raise _convert(exc) from None
            self._sleep(attempt)
            attempt += 1

    def _sleep(self, attempt: int) -> None:
        delay = min(self.max_backoff, self.backoff * (2**attempt))
        time.sleep(delay * (0.5 + random.random() / 2))  # jitter: 50-100% of the delay

    def wait_ready(self, timeout: float = 10.0) -> None:
        """Block until the channel is connected (raises ``RemoteUnavailableError`` after ``timeout``)."""
        try:
            grpc.channel_ready_future(self._channel).result(timeout=timeout)
        except grpc.FutureTimeoutError:
            raise ERROR_BY_CODE[grpc.StatusCode.UNAVAILABLE](
                grpc.StatusCode.UNAVAILABLE, f"{self.target} not reachable within {timeout}s"
            ) from None

    # --------------------------------------------------------------- ingest
    def ingest(
        self,
        events: pa.Table | pa.RecordBatch | Iterable[Mapping[str, Any]],
        *,
        batch_rows: int = INGEST_BATCH_ROWS,
        timeout: float | None = None,
    ) -> IngestResult:
        """Send events; returns accepted count and per-row rejections (durable on return).

        A pyarrow table (``user_id``, ``event_type``, ``time`` as epoch ms or
        timestamp, property columns, ``$user.<name>`` user-property columns)
        travels as Arrow IPC; dicts (``time`` as epoch ms, datetime or ISO
        text; other keys are properties; optional ``user_properties`` dict)
        travel as typed rows.  More than ``batch_rows`` rows go over one
        client stream in chunks.  Not retried.
        """
        requests = list(_event_requests(self.project, events, batch_rows))
        if len(requests) == 1:
            return _ingest_result(self._call(self._stub.Ingest, requests[0], timeout, retry=False))
        return self._ingest_requests(iter(requests), timeout)

    def ingest_stream(
        self,
        batches: Iterable[pa.Table | pa.RecordBatch | Sequence[Mapping[str, Any]]],
        *,
        batch_rows: int = INGEST_BATCH_ROWS,
        timeout: float | None = None,
    ) -> IngestResult:
        """Send many batches over one client-streaming call (sustained loads).

        Batches are produced lazily, so a generator of tables streams without
        holding everything in memory.  Rejection rows count across the stream.
        ``timeout`` (default: none) bounds the whole stream.  Not retried.
        """
        project = self.project

        def requests() -> Iterator[pb.IngestRequest]:
            for batch in batches:
                yield from _event_requests(project, batch, batch_rows)

        return self._ingest_requests(requests(), timeout, stream_default=None)

    def _ingest_requests(
        self, requests: Iterator[pb.IngestRequest], timeout: float | None, stream_default: float | None = None
    ) -> IngestResult:
        try:
            resp = self._stub.IngestStream(
                requests, timeout=stream_default if timeout is None else timeout, metadata=self._metadata
            )
        except grpc.RpcError as exc:
            raise _convert(exc) from None
        return _ingest_result(resp)

    def upsert_user_properties(
        self, users: pa.Table | pa.RecordBatch | Iterable[Mapping[str, Any]], *, timeout: float | None = None
    ) -> IngestResult:
        """Set current user properties: ``user_id`` plus one column / key per property."""
        req = pb.UpsertUserPropertiesRequest(project=self.project)
        if _is_table(users):
            req.arrow_ipc = wire.table_to_ipc(users)
        else:
            req.users.extend(wire.rows_to_user_messages(users))
        return _ingest_result(self._call(self._stub.UpsertUserProperties, req, timeout))

    # -------------------------------------------------------------- catalog
    def create_cohort(
        self,
        name: str,
        definition: Definition,
        description: str = "",
        note: str = "",
        *,
        timeout: float | None = None,
    ) -> tuple[Cohort, list[LintWarning]]:
        """Save a new cohort; returns it and the linter's warnings (which never block the save)."""
        req = pb.CreateCohortRequest(project=self.project, name=name, description=description, note=note)
        wire.definition_to_proto(definition, req.definition)
        resp = self._call(self._stub.CreateCohort, req, timeout, retry=False)
        return _cohort(resp.cohort), _warnings(resp.warnings)

    def update_cohort(
        self,
        name: str,
        definition: Definition | None = None,
        description: str | None = None,
        note: str = "",
        *,
        timeout: float | None = None,
    ) -> tuple[Cohort, list[LintWarning]]:
        """New definition and/or description (a new version when anything changed)."""
        req = pb.UpdateCohortRequest(project=self.project, name=name, note=note)
        if definition is not None:
            wire.definition_to_proto(definition, req.definition)
        if description is not None:
            req.description = description
        resp = self._call(self._stub.UpdateCohort, req, timeout)
        return _cohort(resp.cohort), _warnings(resp.warnings)

    def get_cohort(self, name: str, *, timeout: float | None = None) -> Cohort:
        """The saved cohort (``RemoteNotFoundError`` when there is none)."""
        req = pb.GetCohortRequest(project=self.project, name=name)
        return _cohort(self._call(self._stub.GetCohort, req, timeout).cohort)

    def list_cohorts(self, include_archived: bool = False, *, timeout: float | None = None) -> list[Cohort]:
        """Saved cohorts sorted by name."""
        req = pb.ListCohortsRequest(project=self.project, include_archived=include_archived)
        return [_cohort(c) for c in self._call(self._stub.ListCohorts, req, timeout).cohorts]

    def archive_cohort(self, name: str, *, timeout: float | None = None) -> Cohort:
        """Hide a cohort from lists and user-cohort answers (it still resolves for in_cohort)."""
        req = pb.ArchiveCohortRequest(project=self.project, name=name)
        return _cohort(self._call(self._stub.ArchiveCohort, req, timeout).cohort)

    def cohort_history(self, name: str, *, timeout: float | None = None) -> list[CohortVersion]:
        """Every version, oldest first."""
        req = pb.CohortHistoryRequest(project=self.project, name=name)
        return [
            CohortVersion(
                v.version,
                v.definition_text,
                wire.expr_from_proto(v.definition_expr),
                v.description,
                v.note,
                wire.timestamp_to_datetime(v.time),
            )
            for v in self._call(self._stub.CohortHistory, req, timeout).versions
        ]

    # -------------------------------------------------------------- queries
    def evaluate(
        self,
        cohort: str | None = None,
        definition: Definition | None = None,
        *,
        as_of: AsOf = None,
        timeout: float | None = None,
    ) -> Evaluation:
        """Size of a saved cohort (by name) or an inline definition at ``as_of`` (default now)."""
        req = pb.EvaluateRequest(project=self.project)
        _target(req.target, cohort, definition)
        _ts(req.as_of, as_of)
        resp = self._call(self._stub.Evaluate, req, timeout)
        return Evaluation(
            resp.size, wire.timestamp_to_datetime(resp.as_of), resp.version, _warnings(resp.warnings)
        )

    def member_snapshot(
        self, cohort: str, *, page_size: int = 0, timeout: float | None = None, attempts: int = 5
    ) -> MemberSnapshot:
        """Every member of a saved cohort now, with the maintained version they were read at.

        ``watch([cohort], from_version=snap.version)`` continues from exactly this set.
        The pages of one call share a version; when a broken stream resumes at another
        version the whole read starts again (at most ``attempts`` times).
        """
        deadline_s = self.timeout if timeout is None else timeout
        for _ in range(max(attempts, 1)):
            req = pb.MembersRequest(project=self.project, page_size=page_size)
            req.target.cohort = cohort
            members: list[str] = []
            version: int | None = None
            as_of = None
            consistent = True
            retry = 0
            while True:
                try:
                    for page in self._stub.Members(req, timeout=deadline_s, metadata=self._metadata):
                        if version is None:
                            version, as_of = page.version, page.as_of
                        elif page.version != version:
                            consistent = False
                            break
                        if page.user_ids:
                            req.start_after = page.user_ids[-1]
                            members.extend(page.user_ids)
                            retry = 0
                    break
                except grpc.RpcError as exc:
                    if exc.code() != grpc.StatusCode.UNAVAILABLE or retry >= self.retries:  # type: ignore[attr-defined]
                        raise _convert(exc) from None
                self._sleep(retry)
                retry += 1
            if consistent and version is not None and as_of is not None:
                return MemberSnapshot(members, version, wire.timestamp_to_datetime(as_of))
        raise ERROR_BY_CODE[grpc.StatusCode.UNAVAILABLE](
            grpc.StatusCode.UNAVAILABLE, f"no consistent member list of {cohort!r} in {attempts} attempts"
        )

    def iter_members(
        self,
        cohort: str | None = None,
        definition: Definition | None = None,
        *,
        as_of: AsOf = None,
        page_size: int = 0,
        start_after: str = "",
        timeout: float | None = None,
    ) -> Iterator[list[str]]:
        """Pages of member ids in ascending order; a stream broken by UNAVAILABLE resumes
        after the last id received.  Without ``as_of`` the first page's as-of time is pinned
        for the resumed stream, so the pages belong to one answer."""
        req = pb.MembersRequest(project=self.project, page_size=page_size, start_after=start_after)
        _target(req.target, cohort, definition)
        _ts(req.as_of, as_of)
        attempt = 0
        deadline_s = self.timeout if timeout is None else timeout
        while True:
            try:
                for page in self._stub.Members(req, timeout=deadline_s, metadata=self._metadata):
                    if not req.HasField("as_of"):
                        req.as_of.CopyFrom(page.as_of)
                    if page.user_ids:
                        req.start_after = page.user_ids[-1]
                        attempt = 0
                        yield list(page.user_ids)
                return
            except grpc.RpcError as exc:
                if exc.code() != grpc.StatusCode.UNAVAILABLE or attempt >= self.retries:  # type: ignore[attr-defined]
                    raise _convert(exc) from None
            self._sleep(attempt)
            attempt += 1

    def members(
        self,
        cohort: str | None = None,
        definition: Definition | None = None,
        *,
        as_of: AsOf = None,
        timeout: float | None = None,
    ) -> list[str]:
        """Every member id, sorted."""
        out: list[str] = []
        for page in self.iter_members(cohort, definition, as_of=as_of, timeout=timeout):
            out.extend(page)
        return out

    def members_table(
        self,
        cohort: str | None = None,
        definition: Definition | None = None,
        *,
        as_of: AsOf = None,
        timeout: float | None = None,
    ) -> pa.Table:
        """Members as a one-column (``user_id``) pyarrow table."""
        ids = self.members(cohort, definition, as_of=as_of, timeout=timeout)
        return pa.table({"user_id": pa.array(ids, type=pa.string())})

    def user_cohorts(self, user_id: str, *, as_of: AsOf = None, timeout: float | None = None) -> list[str]:
        """Names of every saved, non-archived cohort the user is in (sorted)."""
        req = pb.UserCohortsRequest(project=self.project, user_id=user_id)
        _ts(req.as_of, as_of)
        return list(self._call(self._stub.UserCohorts, req, timeout).cohorts)

    def overlap(self, cohorts: Sequence[str], *, as_of: AsOf = None, timeout: float | None = None) -> Overlap:
        """Sizes, pairwise intersection sizes and Jaccard of saved cohorts at one as-of time."""
        req = pb.OverlapRequest(project=self.project, cohorts=cohorts)
        _ts(req.as_of, as_of)
        resp = self._call(self._stub.Overlap, req, timeout)
        return Overlap(
            list(resp.names),
            list(resp.sizes),
            [list(r.values) for r in resp.intersections],
            [list(r.values) for r in resp.jaccard],
        )

    def explain(
        self,
        cohort: str | None = None,
        definition: Definition | None = None,
        *,
        as_of: AsOf = None,
        timeout: float | None = None,
    ) -> list[PlanStep]:
        """The evaluation plan with each step's size and time."""
        req = pb.ExplainRequest(project=self.project)
        _target(req.target, cohort, definition)
        _ts(req.as_of, as_of)
        resp = self._call(self._stub.Explain, req, timeout)
        return [PlanStep(s.text, s.size, s.millis, s.depth) for s in resp.steps]

    def lint(
        self, definition: Definition, name: str | None = None, *, timeout: float | None = None
    ) -> list[LintWarning]:
        """Linter warnings for a definition (and the name it would be saved under); saves nothing."""
        req = pb.LintRequest(project=self.project, name=name or "")
        wire.definition_to_proto(definition, req.definition)
        return _warnings(self._call(self._stub.Lint, req, timeout).warnings)

    # ---------------------------------------------------------------- watch
    def watch(
        self,
        cohorts: str | Sequence[str],
        from_version: int | None = None,
        *,
        retries: int | None = None,
        timeout: float | None = None,
        on_checkpoint: Callable[[int], None] | None = None,
    ) -> WatchStream:
        """Every change of saved ``cohorts`` after ``from_version`` (None: from now on), as it happens.

        An iterator of :class:`Change` (one per cohort and version); its ``version``
        attribute is the version everything up to has been received (use it to
        resume later).  A stream broken by UNAVAILABLE (network, server restart
        or shutdown) is resumed from that version, so nothing is lost or repeated;
        after ``retries`` (default: the client's) failed attempts in a row it
        raises ``RemoteUnavailableError``.  ``RemoteResyncRequired`` means the
        server's change log no longer reaches back: read the members again.
        ``timeout`` (default: none) bounds each attempt.  ``on_checkpoint(version)``
        is called whenever the server confirms where a (re)started stream begins
        (before any change of it).  Stop it with ``close()`` (from any thread) or by
        leaving a ``with`` block.
        """
        names = [cohorts] if isinstance(cohorts, str) else list(cohorts)
        n = self.retries if retries is None else retries
        return WatchStream(self, names, from_version, n, timeout, on_checkpoint)

    def changes(
        self,
        cohorts: str | Sequence[str],
        from_version: int,
        to_version: int | None = None,
        *,
        timeout: float | None = None,
    ) -> ChangesResult:
        """Entries and exits with ``from_version < version <= to_version`` (default: now), oldest first.

        Poll with ``from_version`` = the previous answer's ``version``.
        """
        names = [cohorts] if isinstance(cohorts, str) else list(cohorts)
        req = pb.ChangesRequest(project=self.project, cohorts=names, from_version=from_version)
        if to_version is not None:
            req.to_version = to_version
        resp = self._call(self._stub.Changes, req, timeout)
        return ChangesResult([_change(c) for c in resp.changes], resp.version)


class WatchStream:
    """Iterator of :class:`Change` from :meth:`Client.watch`; resumes itself on UNAVAILABLE.

    ``version``: every change of the watched cohorts up to it has been returned
    (None until the server confirmed where the stream starts).
    """

    def __init__(
        self,
        client: Client,
        cohorts: list[str],
        from_version: int | None,
        retries: int,
        timeout: float | None,
        on_checkpoint: Callable[[int], None] | None = None,
    ) -> None:
        self.cohorts = cohorts
        self._on_checkpoint = on_checkpoint
        self.version = from_version
        self._client = client
        self._retries = retries
        self._timeout = timeout
        self._lock = threading.Lock()
        self._call: Any = None
        self._closed = False
        self._it = self._run()

    def __iter__(self) -> WatchStream:
        return self

    def __next__(self) -> Change:
        return next(self._it)

    def __enter__(self) -> WatchStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Cancel the stream; the iterator then ends (safe to call from another thread)."""
        with self._lock:
            self._closed = True
            call = self._call
        if call is not None:
            call.cancel()

    def _request(self) -> pb.WatchRequest:
        req = pb.WatchRequest(project=self._client.project, cohorts=self.cohorts)
        if self.version is not None:
            req.from_version = self.version
        return req

    def _run(self) -> Iterator[Change]:
        c = self._client
        attempt = 0
        while True:
            with self._lock:
                if self._closed:
                    return
                call = c._stub.Watch(self._request(), timeout=self._timeout, metadata=c._metadata)
                self._call = call
            try:
                for event in call:
                    attempt = 0
                    if event.HasField("change"):
                        change = _change(event.change)
                        self.version = event.version
                        yield change
                    else:  # checkpoint
                        self.version = event.version
                        if self._on_checkpoint is not None:
                            self._on_checkpoint(event.version)
                return  # ended by the server without an error: the call was cancelled
            except grpc.RpcError as exc:
                if self._closed and exc.code() == grpc.StatusCode.CANCELLED:  # type: ignore[attr-defined]
                    return
                if exc.code() != grpc.StatusCode.UNAVAILABLE or attempt >= self._retries:  # type: ignore[attr-defined]
                    raise _convert(exc) from None
            c._sleep(attempt)
            attempt += 1
