"""Server lifecycle over real processes: graceful SIGTERM, restart with data intact, CLI remote mode."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from cohortd import Client
from support.data import now_ms, saas_events, saas_users
from support.server import ServerProcess

COHORTS = {
    "Session Starters L7": 'did("Session Start") in last 7d',
    "Paid Plan Users": 'user.plan == "paid"',
    "Dashboard Feature Users": 'did("Feature Used" where feature_area == "dashboard")',
}


def _snapshot(c: Client) -> dict[str, object]:
    return {
        "cohorts": [
            (x.name, x.definition, x.version, x.archived) for x in c.list_cohorts(include_archived=True)
        ],
        "history": [(v.version, v.definition, v.note) for v in c.cohort_history("Session Starters L7")],
        "members": {n: c.members(n) for n in COHORTS},
        "all": c.evaluate(definition="did(any)").size,
        "props": c.members(definition='user.plan == "trial"'),
    }


def test_restart_keeps_cohorts_and_data(tmp_path: Path) -> None:
    data = tmp_path / "data"
    srv = ServerProcess(data)
    try:
        with Client(srv.address) as c:
            c.ingest(saas_events(120))
            c.upsert_user_properties(saas_users(120))
            for name, definition in COHORTS.items():
                c.create_cohort(name, definition, note="first")
            c.update_cohort("Session Starters L7", 'did("Session Start") >= 2 in last 7d', note="stricter")
            c.archive_cohort("Dashboard Feature Users")
            before = _snapshot(c)
    finally:
        code = srv.terminate()
    assert code == 0, srv.output
    assert "stopped" in srv.output
    assert before["all"] == 120 and before["members"]["Paid Plan Users"]

    again = ServerProcess(data)
    try:
        with Client(again.address) as c:
            assert _snapshot(c) == before
    finally:
        assert again.terminate() == 0, again.output


def test_sigterm_drains_calls_in_flight(tmp_path: Path) -> None:
    srv = ServerProcess(tmp_path / "data")
    results: list[object] = []
    started = threading.Event()
    t = now_ms() - 1000
    try:
        with Client(srv.address) as c:
            c.ingest(saas_events(50))

            def stream() -> None:
                def batches():  # the stream stays open until SIGTERM was sent
                    yield [{"user_id": "late-1", "event_type": "Late", "time": t}]
                    started.set()
                    while srv.proc.poll() is None and "shutting down" not in srv.output:
                        threading.Event().wait(0.05)
                    yield [{"user_id": "late-2", "event_type": "Late", "time": t}]

                try:
                    results.append(c.ingest_stream(batches()))
                except Exception as exc:  # reported by the asserts below
                    results.append(exc)

            th = threading.Thread(target=stream)
            th.start()
            assert started.wait(30)
            # the call is in flight on the server once its first batch is stored
            for _ in range(600):
                if c.evaluate(definition='did("Late")').size == 1:
                    break
                threading.Event().wait(0.05)
            code = srv.terminate()
            th.join(60)
    finally:
        srv.kill()
    assert code == 0, srv.output
    assert len(results) == 1 and not isinstance(results[0], Exception), (results, srv.output)
    assert results[0].accepted == 2  # type: ignore[union-attr]
    # both events are durable: a new server sees them
    again = ServerProcess(tmp_path / "data")
    try:
        with Client(again.address) as c:
            assert c.members(definition='did("Late")') == ["late-1", "late-2"]
    finally:
        assert again.terminate() == 0


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cohortd.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cli_remote_mode(tmp_path: Path) -> None:
    srv = ServerProcess(tmp_path / "data")
    try:
        with Client(srv.address) as c:
            c.ingest(saas_events(60))
            c.upsert_user_properties(saas_users(60))
        server = ("--server", srv.address)
        made = _cli("cohort", "create", "Paid Plan Users", 'user.plan == "paid"', *server, "--json")
        assert made.returncode == 0, made.stderr
        assert json.loads(made.stdout)["cohort"]["name"] == "Paid Plan Users"
        listed = _cli("cohort", "list", *server, "--json")
        assert listed.returncode == 0, listed.stderr
        assert [x["name"] for x in json.loads(listed.stdout)["cohorts"]] == ["Paid Plan Users"]
        members = _cli("members", "Paid Plan Users", *server, "--json")
        assert members.returncode == 0, members.stderr
        expected = [f"u{i:04d}" for i in range(60) if i % 10 == 0]
        out = json.loads(members.stdout)
        assert (out["members"] if isinstance(out, dict) else out) == expected
        uc = _cli("user-cohorts", "u0010", *server, "--json")
        assert uc.returncode == 0, uc.stderr
        assert json.loads(uc.stdout)["cohorts"] == ["Paid Plan Users"]
        missing = _cli("cohort", "show", "Ghost", *server)
        assert missing.returncode != 0 and "Ghost" in missing.stderr
        bad = _cli("cohort", "create", "Broken", "did(any) >== 3", *server)
        assert bad.returncode != 0 and "line 1, column" in bad.stderr
    finally:
        assert srv.terminate() == 0, srv.output


@pytest.mark.parametrize("args", [("--tls-cert", "x.pem"), ("--listen", "nonsense")])
def test_bad_server_arguments_fail_fast(tmp_path: Path, args: tuple[str, ...]) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "cohortd.server", "--data", str(tmp_path / "d"), *args],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode != 0
