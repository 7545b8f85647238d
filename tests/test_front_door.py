"""The front door: one data directory, one public API over two transports, clear refusals.

Everything runs for real: the ``cohortd`` console script in a subprocess, a
server process on 127.0.0.1, data directories under ``tmp_path``.
"""

from __future__ import annotations

import ast
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import cohortd
import cohortd.errors
import grpc
import httpx
import pytest
from cohortd.api import CohortService
from cohortd.client import RemoteNotFoundError
from cohortd.errors import DataDirectoryLockedError, NotFoundError, StorageError
from cohortd.types import Evaluation, Overlap
from cohortd.v1 import cohortd_pb2 as pb
from cohortd.v1 import cohortd_pb2_grpc as pb_grpc
from hypothesis import given, settings
from hypothesis import strategies as st
from support.data import now_ms
from support.server import ServerProcess

QUERY = "top 20% by count(any) in last 30d"
SAVED = 'did("Session Start") >= 3 in last 7d'


def cli(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(["cohortd", *args], capture_output=True, text=True, timeout=300)
    if ok:
        assert r.returncode == 0, r.stderr
    return r


def test_readme_quick_start_same_sizes_from_cli_embedded_and_sdk(tmp_path: Path) -> None:
    events, data = tmp_path / "events.parquet", tmp_path / "data"
    cli("generate", "--users", "3000", "--days", "30", "--seed", "1", "--out", str(events), "--quiet")
    cli("init", str(data))
    cli("ingest", "--data", str(data), str(events), "--quiet")
    cli("ingest-users", "--data", str(data), str(tmp_path / "events.users.parquet"), "--quiet")
    first = json.loads(cli("query", "--data", str(data), "--json", QUERY).stdout)
    as_of = first["as_of"]
    assert first["size"] > 0
    cli("cohort", "create", "--data", str(data), "Active 7d", SAVED)

    with cohortd.open(data) as project:  # embedded, the README's second half
        embedded = project.evaluate(definition=QUERY, as_of=as_of)
        embedded_saved = project.evaluate("Active 7d", as_of=as_of)
        embedded_members = project.members(definition=QUERY, as_of=as_of)
    assert isinstance(embedded, Evaluation) and embedded.size == first["size"]
    assert len(embedded_members) == first["size"]

    server = ServerProcess(data)
    try:
        with cohortd.Client(server.address) as client:
            remote = client.evaluate(definition=QUERY, as_of=as_of)
            remote_saved = client.evaluate("Active 7d", as_of=as_of)
            assert client.members(definition=QUERY, as_of=as_of) == embedded_members
        over_cli = json.loads(
            cli("query", "--server", server.address, "--json", "--as-of", as_of, QUERY).stdout
        )
    finally:
        server.terminate()
    assert type(remote) is type(embedded) and remote.size == embedded.size == over_cli["size"]
    assert remote_saved.size == embedded_saved.size > 0


def test_open_refuses_what_does_not_exist_and_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "nonexistent"
    with pytest.raises(NotFoundError, match="cohortd init"):
        cohortd.open(missing)
    r = cli("cohort", "list", "--data", str(missing), ok=False)
    assert r.returncode == 1 and "no data directory" in r.stderr and "Traceback" not in r.stderr
    assert not missing.exists()

    with cohortd.open(tmp_path / "d", create=True):
        pass
    r = cli("cohort", "list", "--data", str(tmp_path / "d"), "--project", "typo", ok=False)
    assert r.returncode != 0 and "typo" in r.stderr
    assert not (tmp_path / "d" / "projects" / "typo").exists()
    with pytest.raises(NotFoundError, match="projects: default"):
        cohortd.open(tmp_path / "d", project="typo")


def test_engine_open_on_a_data_directory_points_to_cohortd_open(tmp_path: Path) -> None:
    with cohortd.open(tmp_path / "d", create=True):
        pass
    with pytest.raises(StorageError, match=r"cohortd\.open"):
        cohortd.Engine.open(tmp_path / "d")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("not an engine")
    with pytest.raises(StorageError, match="not an engine directory"):
        cohortd.Engine.open(tmp_path / "other")
    assert not list((tmp_path / "d").glob("wal-*"))  # no stray log beside projects/


def test_one_writer_per_data_directory(tmp_path: Path) -> None:
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"user_id": "u1", "event_type": "Signup", "time": 1767225600000}\n')
    with cohortd.open(tmp_path / "d", create=True) as project:  # the writer: holds the lock
        with cohortd.open(tmp_path / "d") as reader:  # a second opener only reads
            assert reader.evaluate(definition="did(any)").size == 0
            with pytest.raises(DataDirectoryLockedError, match=f"process {os.getpid()}"):
                reader.ingest([{"user_id": "u9", "event_type": "Signup", "time": 1767225600000}])
            with pytest.raises(DataDirectoryLockedError):
                reader.create_cohort("Signups", 'did("Signup")')
        r = cli("ingest", "--data", str(tmp_path / "d"), str(rows), ok=False)
        assert r.returncode == 1 and f"process {os.getpid()}" in r.stderr and "--server" in r.stderr
        assert project.evaluate(definition="did(any)").size == 0  # nothing was written beside us
    cli("ingest", "--data", str(tmp_path / "d"), str(rows), "--quiet")  # free again once closed
    with cohortd.open(tmp_path / "d") as project:
        assert project.members(definition="did(any)") == ["u1"]


def test_ingest_server_streams_files_with_the_same_report(tmp_path: Path) -> None:
    rows = tmp_path / "rows.jsonl"
    lines = [{"user_id": f"u{i}", "event_type": "Signup", "time": 1767225600000 + i} for i in range(50)] + [
        {"user_id": "bad", "event_type": "Signup", "time": "yesterday"}
    ]
    rows.write_text("".join(json.dumps(x) + "\n" for x in lines))
    local = json.loads(cli("ingest", "--data", str(tmp_path / "local"), str(rows), "--json").stdout)
    cli("init", str(tmp_path / "remote"))
    server = ServerProcess(tmp_path / "remote")
    try:
        remote = json.loads(cli("ingest", "--server", server.address, str(rows), "--json").stdout)
        with cohortd.Client(server.address) as client:
            assert client.evaluate(definition="did(any)").size == 50
    finally:
        server.terminate()
    assert local["accepted"] == remote["accepted"] == 50
    assert local["rejections"] == remote["rejections"] and remote["rejected"] == 1


def test_serve_on_a_busy_port_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = cli("serve", "--data", str(tmp_path / "d"), "--listen", f"127.0.0.1:{port}", ok=False)
    assert r.returncode == 1 and "cannot listen" in r.stderr and "Traceback" not in r.stderr


def test_bad_server_configuration_is_one_line(tmp_path: Path) -> None:
    keys = tmp_path / "keys.json"
    keys.write_text("[1, 2]")
    for args in (("--auth-keys", str(keys)), ("--http", "nocolon")):
        r = cli("serve", "--data", str(tmp_path / "d"), "--listen", "127.0.0.1:0", *args, ok=False)
        assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1 and r.stderr.startswith("cohortd: error: ")


def test_both_transports_implement_the_protocol_and_the_sdk_stays_light(tmp_path: Path) -> None:
    with cohortd.open(tmp_path / "d", create=True) as project:
        assert isinstance(project, CohortService)
        project.ingest([{"user_id": "u1", "event_type": "A", "time": 1767225600000}])
        project.create_cohort("A ever", 'did("A")')
        assert isinstance(project.overlap(["A ever"]), Overlap)
    with cohortd.Client("127.0.0.1:1") as client:
        assert isinstance(client, CohortService)
    probe = (
        "import sys, cohortd.client; "
        "print(sorted(m for m in sys.modules if m == 'numba' or m.startswith("
        "('cohortd.engine', 'cohortd.storage', 'cohortd.service'))))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=-(10**13), max_value=10**14))
def test_one_iso_spelling_of_an_instant(ms: int) -> None:
    """``times.iso_ms`` (every JSON document's instant) against the obvious datetime arithmetic."""
    from datetime import UTC, datetime, timedelta

    from cohortd.times import iso_ms, to_ms

    want = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)
    text = iso_ms(ms)
    assert text == want.strftime("%Y-%m-%dT%H:%M:%S.") + f"{want.microsecond // 1000:03d}Z"
    assert to_ms(text) == ms and iso_ms(None) is None


def test_reads_over_the_server_create_no_project(tmp_path: Path) -> None:
    """Every read RPC on a project never written answers NOT_FOUND naming the projects that exist,
    and writes nothing; the first write (an ingest) creates it."""
    data = tmp_path / "data"
    cli("init", str(data), "--project", "team-a")
    typo = data / "projects" / "team-b"
    server = ServerProcess(data, "--http", "127.0.0.1:0")
    try:
        with cohortd.Client(server.address, project="team-b") as b:
            reads = {
                "evaluate": lambda: b.evaluate(definition="did(any)"),
                "members": lambda: b.members(definition="did(any)"),
                "is_member": lambda: b.is_member("u1", "Some Cohort"),
                "check_membership": lambda: b.check_membership(["u1"], ["Some Cohort"]),
                "overlap": lambda: b.overlap(["Some Cohort"]),
                "user_cohorts": lambda: b.user_cohorts("u1"),
                "changes": lambda: b.changes(["Some Cohort"], 0),
                "watch": lambda: next(iter(b.watch(["Some Cohort"], 0, retries=0))),
                "list_cohorts": lambda: b.list_cohorts(),
                "get_cohort": lambda: b.get_cohort("Some Cohort"),
                "explain": lambda: b.explain(definition="did(any)"),
                "lint": lambda: b.lint("did(any)"),
                "schema": lambda: b.schema(),
                "time_zone": lambda: b.time_zone(),
                "storage_status": lambda: b.storage_status(),
                "backtest": lambda: b.backtest(definition="did(any)", outcome="did(any)", horizon="7d"),
            }
            for name, read in reads.items():
                with pytest.raises(RemoteNotFoundError) as info:
                    read()
                assert f"no project 'team-b' in {data} (projects: team-a)" in str(info.value), name
                assert not typo.exists(), f"{name} created the project"
            with grpc.insecure_channel(server.address) as channel, pytest.raises(grpc.RpcError) as raw:
                request = pb.EvaluateRequest(project="team-b", target=pb.Target(cohort="x"))
                pb_grpc.CohortdStub(channel).Evaluate(request, timeout=30)
            assert raw.value.code() == grpc.StatusCode.NOT_FOUND

            resp = httpx.get(f"{server.url}/api/projects/team-b/cohorts", timeout=30)
            assert resp.status_code == 404 and "no project 'team-b'" in resp.text
            assert not typo.exists()

            t = now_ms() - 1000
            assert b.ingest([{"user_id": "b1", "event_type": "E", "time": t}]).accepted == 1
            assert typo.is_dir()
            assert b.evaluate(definition="did(any)").size == 1
    finally:
        assert server.terminate() == 0, server.output


def test_a_scoped_key_sees_only_its_projects_in_a_not_found(tmp_path: Path) -> None:
    """The NOT_FOUND of a missing project lists only the projects the caller's key may use."""
    data, keys = tmp_path / "data", tmp_path / "keys.json"
    cli("init", str(data), "--project", "secret-tenant")
    cli("init", str(data), "--project", "mine")
    keys.write_text(json.dumps({"k-scoped": ["mine", "typo"], "k-admin": ["*"]}))
    server = ServerProcess(data, "--auth-keys", str(keys))
    try:
        with cohortd.Client(server.address, api_key="k-scoped", project="typo") as c:
            with pytest.raises(RemoteNotFoundError, match=r"\(projects: mine\)"):
                c.list_cohorts()
        with cohortd.Client(server.address, api_key="k-admin", project="typo") as c:
            with pytest.raises(RemoteNotFoundError, match=r"\(projects: mine, secret-tenant\)"):
                c.list_cohorts()
    finally:
        assert server.terminate() == 0, server.output
    assert not (data / "projects" / "typo").exists()


def test_every_exception_class_lives_in_cohortd_errors() -> None:
    """One error tree: no module but cohortd.errors defines an exception, except dispatch's private
    ``_Aborted`` (a synchronous handler's ``context.abort``, raised and caught inside dispatch.py;
    it must not be a CohortError, which handlers catch to add context)."""
    root = Path(cohortd.errors.__file__).parent
    tree_names = {
        n for n, v in vars(cohortd.errors).items() if isinstance(v, type) and issubclass(v, Exception)
    }
    found = []
    for path in sorted(root.rglob("*.py")):
        if path.name == "errors.py" and path.parent == root or path.parent.name == "v1":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ClassDef):
                continue
            bases = {b.attr if isinstance(b, ast.Attribute) else getattr(b, "id", "") for b in node.bases}
            if bases & (tree_names | {"Exception", "BaseException", "OSError", "ValueError", "RuntimeError"}):
                found.append(f"{path.relative_to(root)}:{node.name}")
    assert found == ["server/dispatch.py:_Aborted"]


def test_serve_on_a_new_data_directory_creates_the_default_project(tmp_path: Path) -> None:
    """``serve`` is a new directory's ``init``: ``default`` exists, answers reads and is healthy."""
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    server = ServerProcess(tmp_path / "new")
    try:
        with cohortd.Client(server.address) as c:
            assert c.list_cohorts() == []
        with grpc.insecure_channel(server.address) as channel:
            request = health_pb2.HealthCheckRequest(service="cohortd.v1.Cohortd/default")
            status = health_pb2_grpc.HealthStub(channel).Check(request, timeout=30).status
        assert status == health_pb2.HealthCheckResponse.SERVING
    finally:
        assert server.terminate() == 0, server.output
    assert (tmp_path / "new" / "projects" / "default").is_dir()
