"""End to end over a real server process on 127.0.0.1: every RPC and every error path.

Expected answers are computed from the data set's construction
(``support.data.saas_events``), never from the server itself.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from cohortd import Client
from cohortd.client import (
    RemoteAlreadyExistsError,
    RemoteDeadlineError,
    RemoteDefinitionError,
    RemoteLimitError,
    RemoteNotFoundError,
    RemoteParseError,
)
from cohortd.errors import NotFoundError, ParseError
from cohortd.lang import ast as A
from cohortd.v1 import cohortd_pb2 as pb
from cohortd.v1 import cohortd_pb2_grpc as pb_grpc
from cohortd.v1 import expr_pb2 as epb
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from support.data import DAY_MS, now_ms, saas_events, saas_users
from support.server import ServerProcess

USERS = 200
ALL = {f"u{i:04d}" for i in range(USERS)}
SESSIONS_L7 = {f"u{i:04d}" for i in range(USERS) if i % 7 != 0}
SESSIONS_3 = {f"u{i:04d}" for i in range(USERS) if i % 7 >= 3}
DASHBOARD = {f"u{i:04d}" for i in range(USERS) if i % 6 == 0}
PAID = {f"u{i:04d}" for i in range(USERS) if i % 10 == 0}
MAX_CHECKS = 500
MAX_ROWS = 5_000
MAX_BYTES = 1_000_000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = ServerProcess(
        tmp_path_factory.mktemp("e2e"),
        "--max-checks", str(MAX_CHECKS),
        "--max-ingest-rows", str(MAX_ROWS),
        "--max-message-bytes", str(MAX_BYTES),
    )  # fmt: skip
    try:
        with Client(srv.address) as c:
            c.wait_ready()
            res = c.ingest(saas_events(USERS))
            assert res.rejections == [] and res.accepted > USERS
            assert c.upsert_user_properties(saas_users(USERS)).accepted == USERS
            c.create_cohort(
                "Session Starters L7", 'did("Session Start") in last 7d', description="any session"
            )
            c.create_cohort("Frequent Sessions L7", 'did("Session Start") >= 3 in last 7d')
            c.create_cohort("Paid Plan Users", 'user.plan == "paid"')
        yield srv
    finally:
        code = srv.terminate()
        assert code == 0, srv.output


@pytest.fixture
def client(server: ServerProcess) -> Iterator[Client]:
    with Client(server.address, retries=1) as c:
        yield c


@pytest.fixture
def stub(server: ServerProcess) -> Iterator[pb_grpc.CohortdStub]:
    with grpc.insecure_channel(server.address) as ch:
        yield pb_grpc.CohortdStub(ch)


def _code(call: object) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as info:
        call()  # type: ignore[operator]
    return info.value.code(), info.value.details()  # type: ignore[attr-defined]


# ----------------------------------------------------------------- plumbing
def test_health_and_reflection(server: ServerProcess) -> None:
    with grpc.insecure_channel(server.address) as ch:
        health = health_pb2_grpc.HealthStub(ch)
        for service in ("", "cohortd.v1.Cohortd"):
            resp = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
            assert resp.status == health_pb2.HealthCheckResponse.SERVING
        refl = reflection_pb2_grpc.ServerReflectionStub(ch)
        answers = list(
            refl.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
        )
        names = {s.name for s in answers[0].list_services_response.service}
        assert "cohortd.v1.Cohortd" in names and "grpc.health.v1.Health" in names


# ------------------------------------------------------------------- ingest
def test_ingest_rows_with_rejections(client: Client) -> None:
    t = now_ms()
    res = client.ingest(
        [
            {"user_id": "ing-1", "event_type": "Ping", "time": t - 1000, "n": 1},
            {"user_id": "ing-2", "event_type": "Ping", "time": None},  # no time
            {"user_id": "ing-3", "event_type": "Ping", "time": t - 1000, "n": "x"},  # type conflict in batch
            {"user_id": "ing-4", "event_type": "Ping", "time": 5},  # before 2000: engine rejects
            {"user_id": "ing-5", "event_type": "Ping", "time": t - 1000, "user_properties": {"tier": "gold"}},
        ]
    )
    assert res.accepted == 2
    assert [(r.row, r.field) for r in res.rejections] == [(1, "time"), (2, "n"), (3, "time")]
    assert all(r.reason for r in res.rejections)
    assert client.evaluate(definition='did("Ping")').size == 2
    assert client.evaluate(definition='user.tier == "gold"').size == 1


def test_ingest_stream_of_tables_numbers_rows_across_the_stream(client: Client) -> None:
    import pyarrow as pa

    t = now_ms() - 1000
    good = pa.table({"user_id": ["s1", "s2"], "event_type": ["Streamed", "Streamed"], "time": [t, t]})
    bad = pa.table({"user_id": ["s3", ""], "event_type": ["Streamed", "Streamed"], "time": [t, t]})
    res = client.ingest_stream(iter([good, bad, good]))
    assert res.accepted == 5
    assert [(r.row, r.field) for r in res.rejections] == [(3, "user_id")]
    assert client.evaluate(definition='did("Streamed") >= 2').size == 2  # s1, s2 twice each


def test_large_table_ingest_goes_over_the_stream_in_chunks(client: Client) -> None:
    import pyarrow as pa

    t = now_ms() - 1000
    n = MAX_ROWS * 2 + 7  # over the per-message row limit, fine in chunks
    table = pa.table({"user_id": [f"big{i}" for i in range(n)], "event_type": ["Big"] * n, "time": [t] * n})
    assert client.ingest(table, batch_rows=MAX_ROWS).accepted == n
    assert client.evaluate(definition='did("Big")').size == n


def test_upsert_user_properties_rows(client: Client) -> None:
    res = client.upsert_user_properties([{"user_id": "u0001", "nickname": "ace"}, {"user_id": "u0002"}])
    assert res.accepted == 2
    assert client.members(definition='user.nickname == "ace"') == ["u0001"]


# ------------------------------------------------------------------ catalog
def test_catalog_lifecycle(client: Client) -> None:
    rec, warnings = client.create_cohort(
        "Dashboard Feature Users",
        'did("Feature Used" where feature_area == "dashboard") in last 90d',
        note="v1",
    )
    assert rec.version == 1 and not rec.archived and rec.description == ""
    assert rec.expr == A.Did(
        A.EventRef("Feature Used", A.PropCmp("feature_area", "==", "dashboard")),
        None,
        A.Last(A.Duration(90, "d")),
    )
    assert isinstance(warnings, list)
    got = client.get_cohort("Dashboard Feature Users")
    assert got.definition == rec.definition and got.expr == rec.expr

    # an update given as a tree; the stored text is its canonical print
    new_tree = A.Did(A.EventRef("Feature Used", A.PropCmp("feature_area", "==", "reports")), None, A.Ever())
    upd, _ = client.update_cohort("Dashboard Feature Users", new_tree, description="now reports", note="v2")
    assert upd.version == 2 and upd.definition == 'did("Feature Used" where feature_area == "reports")'
    assert upd.description == "now reports"
    hist = client.cohort_history("Dashboard Feature Users")
    assert [(v.version, v.note) for v in hist] == [(1, "v1"), (2, "v2")]
    assert hist[0].expr == rec.expr and hist[1].expr == new_tree
    assert hist[0].time <= hist[1].time

    names = [c.name for c in client.list_cohorts()]
    assert "Dashboard Feature Users" in names and names == sorted(names)
    arch = client.archive_cohort("Dashboard Feature Users")
    assert arch.archived
    assert "Dashboard Feature Users" not in [c.name for c in client.list_cohorts()]
    assert "Dashboard Feature Users" in [c.name for c in client.list_cohorts(include_archived=True)]


def test_cohort_messages_carry_text_and_tree(stub: pb_grpc.CohortdStub) -> None:
    resp = stub.GetCohort(pb.GetCohortRequest(name="Session Starters L7"), timeout=10)
    assert resp.cohort.definition_text == 'did("Session Start") in last 7d'
    assert resp.cohort.definition_expr.did.event.event_type == "Session Start"
    assert resp.cohort.definition_expr.did.window.last.duration.value == 7
    assert resp.cohort.description == "any session"
    assert resp.cohort.created.ToMilliseconds() > 0


# ------------------------------------------------------------------ queries
def test_evaluate_saved_inline_text_and_tree(client: Client) -> None:
    assert client.evaluate("Session Starters L7").size == len(SESSIONS_L7)
    assert client.evaluate(definition='did("Session Start") >= 3 in last 7d').size == len(SESSIONS_3)
    tree = A.Did(A.EventRef("Feature Used", A.PropCmp("feature_area", "==", "dashboard")))
    assert client.evaluate(definition=tree).size == len(DASHBOARD)
    # as of 10 days ago nobody had a session in the 7 days before
    past = client.evaluate("Session Starters L7", as_of=now_ms() - 10 * DAY_MS)
    assert past.size == 0
    assert abs(past.as_of.timestamp() * 1000 - (now_ms() - 10 * DAY_MS)) < 60_000


def test_members_pages_in_stable_order(client: Client, stub: pb_grpc.CohortdStub) -> None:
    members = client.members("Session Starters L7")
    assert members == sorted(SESSIONS_L7)
    req = pb.MembersRequest(target=pb.Target(cohort="Session Starters L7"), page_size=50)
    pages = list(stub.Members(req, timeout=10))
    assert [len(p.user_ids) for p in pages] == [50, 50, 50, len(SESSIONS_L7) - 150]
    assert all(p.total == len(SESSIONS_L7) for p in pages)
    assert [u for p in pages for u in p.user_ids] == members
    # resume after an id
    resumed = list(client.iter_members("Session Starters L7", start_after=members[99]))
    assert [u for p in resumed for u in p] == members[100:]
    # empty cohort: one page with total 0
    empty = list(
        stub.Members(
            pb.MembersRequest(target=pb.Target(definition=epb.Definition(text='did("Nope")'))), timeout=10
        )
    )
    assert len(empty) == 1 and empty[0].total == 0 and not empty[0].user_ids
    assert client.members_table("Paid Plan Users").column("user_id").to_pylist() == sorted(PAID)


def test_is_member_check_membership_user_cohorts(client: Client) -> None:
    for uid in ("u0000", "u0001", "u0003", "u0010", "u0014", "nobody"):
        assert client.is_member(uid, "Session Starters L7") == (uid in SESSIONS_L7)
        assert client.is_member(uid, "Paid Plan Users") == (uid in PAID)
    users = sorted(ALL)[:40] + ["nobody"]
    cohorts = ["Session Starters L7", "Frequent Sessions L7", "Paid Plan Users"]
    sets = [SESSIONS_L7, SESSIONS_3, PAID]
    matrix = client.check_membership(users, cohorts)
    assert matrix == [[u in s for s in sets] for u in users]
    for uid in ("u0010", "u0005", "u0000", "nobody"):
        expected = sorted(n for n, s in zip(cohorts, sets, strict=True) if uid in s)
        got = [n for n in client.user_cohorts(uid) if n in cohorts]
        assert got == expected


def test_overlap_matrix(client: Client) -> None:
    cohorts = ["Session Starters L7", "Frequent Sessions L7", "Paid Plan Users"]
    sets = [SESSIONS_L7, SESSIONS_3, PAID]
    ov = client.overlap(cohorts)
    assert ov.names == cohorts
    assert ov.sizes == [len(s) for s in sets]
    assert ov.intersections == [[len(a & b) for b in sets] for a in sets]
    for i, a in enumerate(sets):
        for j, b in enumerate(sets):
            assert ov.jaccard[i][j] == pytest.approx(len(a & b) / len(a | b))


def test_explain_and_lint(client: Client, stub: pb_grpc.CohortdStub) -> None:
    steps = client.explain("Frequent Sessions L7")
    assert steps and steps[0].depth == 0 and steps[0].size == len(SESSIONS_3)
    resp = stub.Explain(
        pb.ExplainRequest(target=pb.Target(definition=epb.Definition(text="did(any)  and did(any)")))
    )
    assert resp.text == "did(any) and did(any)" and resp.steps
    warnings = client.lint('did("Sesion Start") >= 3', name="VIP users")
    codes = {w.code for w in warnings}
    assert {"count-without-window", "unknown-event-type"} <= codes
    assert any(c.startswith("name-") for c in codes)
    lint = stub.Lint(
        pb.LintRequest(definition=epb.Definition(text="did(any) in last 7d # comment")), timeout=10
    )
    assert lint.text == "did(any) in last 7d"


# ------------------------------------------------------------------- errors
def test_bad_definition_is_invalid_argument_with_line_and_column(
    client: Client, stub: pb_grpc.CohortdStub
) -> None:
    req = pb.CreateCohortRequest(
        name="Broken", definition=epb.Definition(text='did(any) in last 7d\nand did("X") >== 3')
    )
    code, details = _code(lambda: stub.CreateCohort(req, timeout=10))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert "line 2, column" in details
    with pytest.raises(RemoteParseError) as info:
        client.evaluate(definition="did(any) and\n  (did(any)")
    assert isinstance(info.value, ParseError) and info.value.line == 2 and info.value.column > 1
    # an incomplete tree is INVALID_ARGUMENT too
    bad_tree = epb.Definition(expr=epb.CohortExpr(not_expr=epb.NotExpr()))
    code, _ = _code(
        lambda: stub.Evaluate(pb.EvaluateRequest(target=pb.Target(definition=bad_tree)), timeout=10)
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    # a reference to an unknown cohort is a definition error
    with pytest.raises(RemoteDefinitionError):
        client.create_cohort("Refs Missing", 'in_cohort("No Such Cohort")')
    # nothing was saved
    with pytest.raises(RemoteNotFoundError):
        client.get_cohort("Broken")


def test_unknown_cohort_is_not_found(client: Client, stub: pb_grpc.CohortdStub) -> None:
    code, details = _code(lambda: stub.IsMember(pb.IsMemberRequest(user_id="u1", cohort="Ghost"), timeout=10))
    assert code == grpc.StatusCode.NOT_FOUND and "Ghost" in details
    for call in (
        lambda: client.get_cohort("Ghost"),
        lambda: client.evaluate("Ghost"),
        lambda: client.members("Ghost"),
        lambda: client.cohort_history("Ghost"),
        lambda: client.archive_cohort("Ghost"),
        lambda: client.overlap(["Paid Plan Users", "Ghost"]),
        lambda: client.check_membership(["u1"], ["Ghost"]),
    ):
        with pytest.raises(RemoteNotFoundError) as info:
            call()
        assert isinstance(info.value, NotFoundError)


def test_duplicate_is_already_exists(client: Client, stub: pb_grpc.CohortdStub) -> None:
    req = pb.CreateCohortRequest(name="Paid Plan Users", definition=epb.Definition(text="did(any)"))
    assert _code(lambda: stub.CreateCohort(req, timeout=10))[0] == grpc.StatusCode.ALREADY_EXISTS
    with pytest.raises(RemoteAlreadyExistsError):
        client.create_cohort("Paid Plan Users", "did(any)")


def test_limits_are_resource_exhausted_naming_the_limit(client: Client, stub: pb_grpc.CohortdStub) -> None:
    users = [f"u{i}" for i in range(MAX_CHECKS // 2 + 1)]
    req = pb.CheckMembershipRequest(user_ids=users, cohorts=["Paid Plan Users", "Session Starters L7"])
    code, details = _code(lambda: stub.CheckMembership(req, timeout=10))
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and f"{MAX_CHECKS:,}" in details
    assert (
        len(client.check_membership(users[:-1], ["Paid Plan Users", "Session Starters L7"])) == len(users) - 1
    )

    rows = [pb.Event(user_id="r", event_type="Limit", time_ms=now_ms()) for _ in range(MAX_ROWS + 1)]
    code, details = _code(lambda: stub.Ingest(pb.IngestRequest(events=rows), timeout=10))
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and f"{MAX_ROWS:,}" in details

    big = pb.LintRequest(definition=epb.Definition(text="did(any)" + " " * MAX_BYTES))
    code, details = _code(lambda: stub.Lint(big, timeout=10))
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and str(MAX_BYTES) in details
    with pytest.raises(RemoteLimitError):
        client.check_membership(users, ["Paid Plan Users", "Session Starters L7"])
    # nothing from the refused ingest was stored
    assert client.evaluate(definition='did("Limit")').size == 0


def test_deadline_exceeded(client: Client, stub: pb_grpc.CohortdStub) -> None:
    req = pb.EvaluateRequest(target=pb.Target(definition=epb.Definition(text="did(any)")))
    # a deadline that has passed when the call starts
    assert _code(lambda: stub.Evaluate(req, timeout=-1))[0] == grpc.StatusCode.DEADLINE_EXCEEDED
    with pytest.raises(RemoteDeadlineError):
        client.members(definition="did(any)", timeout=-1)
    with pytest.raises(RemoteDeadlineError):
        client.is_member("u0001", "Paid Plan Users", timeout=-1)


def test_bad_arguments_are_invalid_argument(stub: pb_grpc.CohortdStub) -> None:
    cases = [
        lambda: stub.Evaluate(pb.EvaluateRequest(), timeout=10),  # no target
        lambda: stub.Evaluate(pb.EvaluateRequest(project="../etc", target=pb.Target(cohort="x")), timeout=10),
        lambda: stub.Ingest(pb.IngestRequest(arrow_ipc=b"garbage"), timeout=10),
        lambda: stub.CreateCohort(pb.CreateCohortRequest(name="No Definition"), timeout=10),
    ]
    for call in cases:
        assert _code(call)[0] == grpc.StatusCode.INVALID_ARGUMENT


# ------------------------------------------------------- projects, clients
def test_projects_are_isolated(server: ServerProcess) -> None:
    t = now_ms() - 1000
    with Client(server.address, project="iso-a") as a, Client(server.address, project="iso-b") as b:
        a.ingest([{"user_id": "only-a", "event_type": "A", "time": t}])
        a.create_cohort("Did A Ever", 'did("A")')
        assert a.members("Did A Ever") == ["only-a"]
        with pytest.raises(RemoteNotFoundError):
            b.get_cohort("Did A Ever")
        # iso-b was never written: a read creates nothing and says so (issue 9)
        with pytest.raises(RemoteNotFoundError, match="no project 'iso-b'"):
            b.evaluate(definition="did(any)")
        b.create_cohort("Did A Ever", 'did("A")')  # same name, other project: allowed
        assert b.evaluate("Did A Ever").size == 0


def test_concurrent_clients(server: ServerProcess) -> None:
    errors: list[BaseException] = []
    t = now_ms() - 1000
    cohorts = ["Session Starters L7", "Frequent Sessions L7", "Paid Plan Users"]
    sets = [SESSIONS_L7, SESSIONS_3, PAID]

    def work(k: int) -> None:
        try:
            with Client(server.address) as c:
                for i in range(30):
                    uid = f"u{(k * 31 + i) % USERS:04d}"
                    j = i % 3
                    assert c.is_member(uid, cohorts[j]) == (uid in sets[j])
                    if i % 10 == 0:
                        c.ingest([{"user_id": f"conc-{k}-{i}", "event_type": "Concurrent", "time": t}])
                assert c.check_membership([f"u{k:04d}"], cohorts) == [[f"u{k:04d}" in s for s in sets]]
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(120)
    assert not errors, errors
    with Client(server.address) as c:
        assert c.evaluate(definition='did("Concurrent")').size == 8 * 3


def test_client_from_package_root_and_path(tmp_path: Path) -> None:
    import cohortd

    assert cohortd.Client is Client
