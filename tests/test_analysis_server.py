"""The analyses over a real gRPC server on 127.0.0.1: SDK answers equal the embedded ones on the
same data, the CLI prints the same JSON with ``--server`` and ``--data``, and bad
input comes back as INVALID_ARGUMENT / NOT_FOUND (a one-line CLI error)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from cohortd.client import Client, RemoteError
from cohortd.service import Workspace
from cohortd.v1 import analysis_pb2 as apb
from cohortd.v1 import analysis_pb2_grpc as apb_grpc
from support.data import DAY_MS, now_ms, saas_events, saas_users
from support.server import ServerProcess

USERS = 300
NOW = now_ms()
AS_OF = NOW + 1
FROM, TO = NOW - 40 * DAY_MS, NOW - 2 * DAY_MS
COHORTD = Path(sys.executable).with_name("cohortd")
SAVED = ("Frequent sessions", 'did("Session Start") >= 3 in last 7d')


def _load(target: Any) -> None:
    target.ingest(saas_events(USERS, NOW))
    target.upsert_user_properties(saas_users(USERS))
    target.create_cohort(*SAVED)


@pytest.fixture(scope="module")
def dirs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Path]]:
    srv = ServerProcess(tmp_path_factory.mktemp("server"))
    embedded = tmp_path_factory.mktemp("embedded")
    try:
        with Client(srv.address) as c:
            c.wait_ready()
            _load(c)
        with Workspace(embedded) as ws:
            _load(ws.project())
        yield srv, embedded
    finally:
        assert srv.terminate() == 0, srv.output


CALLS: dict[str, tuple[str, tuple, dict[str, Any]]] = {
    "backtest": ("backtest", (None, 'did("Signup Submitted") in last 14d'),
                 {"outcome": 'did("Session Start") in last 30d', "horizon": "30d", "every": "1w",
                  "start": NOW - 30 * DAY_MS, "end": NOW - 10 * DAY_MS}),
    "backtest_all": ("backtest", (None, 'user.plan == "free"'), {"outcome": 'did("Session Start") in last 3d',
                                                                 "horizon": "3d", "as_of": NOW - 3 * DAY_MS,
                                                                 "baseline": "all"}),
    "retention": ("retention", ('"Signup Submitted"', '"Session Start"', FROM, TO),
                  {"period": "1w", "periods": 8, "as_of": AS_OF, "cohort": SAVED[0]}),
    "funnel": ("funnel", (['"Signup Submitted"', '"Feature Used" where feature_area == "dashboard"',
                           '"Session Start"'], FROM, TO),
               {"window": "60d", "as_of": AS_OF, "split_property": "plan"}),
    "funnel_cohort": ("funnel", (['"Signup Submitted"', '"Subscription Started"'], FROM, TO),
                      {"as_of": AS_OF, "split_cohort": SAVED[0]}),
    "journeys": ("journeys", ('"Signup Submitted"', FROM, TO),
                 {"after": "2h", "before": "30m", "as_of": AS_OF, "returned_within": "24h",
                  "did": ['"Feature Used"']}),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(CALLS))
def test_sdk_equals_embedded(dirs: tuple[ServerProcess, Path], name: str) -> None:
    srv, embedded = dirs
    method, args, kwargs = CALLS[name]
    with Client(srv.address) as c:
        remote = getattr(c, method)(*args, **kwargs)
    with Workspace(embedded) as ws:
        local = getattr(ws.project(), method)(*args, **kwargs)
    assert remote == local
    assert json.dumps(remote.to_json()) == json.dumps(local.to_json())
    if method == "backtest":
        assert any(r.cohort.size > 0 for r in remote.runs)


def cli(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(COHORTD), *args], capture_output=True, text=True, timeout=300, check=False)
    if ok:
        assert proc.returncode == 0, proc.stderr
    return proc


def cli_json(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    """``cohortd ARGS --json`` in this process (the console script's ``main``)."""
    from cohortd.cli.main import main

    capsys.readouterr()
    assert main([*args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_cli_json_is_the_same_remote_and_embedded(
    dirs: tuple[ServerProcess, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    srv, embedded = dirs
    when = ["--from", str(_iso(FROM)), "--to", str(_iso(TO)), "--as-of", _iso(AS_OF)]
    commands = [
        ["funnel", "--step", '"Signup Submitted"', "--step", '"Session Start"', "--window", "30d",
         "--split-property", "plan", *when],
        ["retention", "--start", '"Signup Submitted"', "--return", "any", "--period", "1w", "--periods", "4",
         "--definition", 'user.plan == "free"', *when],
        ["journeys", "--anchor", '"Signup Submitted"', "--after", "2h", "--did", '"Feature Used"', *when],
        ["backtest", "--cohort", SAVED[0], "--outcome", 'did("Feature Used") in last 30d', "--horizon", "30d",
         "--as-of", _iso(NOW - 20 * DAY_MS)],
    ]  # fmt: skip
    for command in commands:
        remote = cli_json(capsys, *command, "--server", srv.address)
        local = cli_json(capsys, *command, "--data", str(embedded))
        assert remote == local, command[0]
    text = cli(*commands[0], "--server", srv.address).stdout  # the console script, as a table
    assert "Signup Submitted" in text and "user.plan" in text


def _iso(ms: int) -> str:
    from cohortd.times import iso_ms

    return iso_ms(ms)


def test_bad_input_is_invalid_argument_or_not_found(dirs: tuple[ServerProcess, Path]) -> None:
    srv, _ = dirs
    with grpc.insecure_channel(srv.address) as ch:
        stub = apb_grpc.AnalysisStub(ch)
        cases = [
            (stub.Funnel, apb.FunnelRequest(steps=['"Signup" where'])),
            (stub.Retention, apb.RetentionRequest(start_event="any", return_event="any", periods=5000)),
            (stub.Journeys, apb.JourneysRequest(anchor="any", depth=99)),
            (stub.Backtest, apb.BacktestRequest(horizon="30d")),
        ]
        for call, request in cases:
            if call is not stub.Funnel:
                getattr(request, "from").FromMilliseconds(FROM)
                request.to.FromMilliseconds(TO)
            with pytest.raises(grpc.RpcError) as err:
                call(request, timeout=30)
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, err.value.details()
        request = apb.BacktestRequest(horizon="30d", outcome={"cohort": "nope"})
        request.cohort.cohort = "no such cohort"
        request.as_of.FromMilliseconds(NOW)
        with pytest.raises(grpc.RpcError) as err:
            stub.Backtest(request, timeout=30)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
    with Client(srv.address) as c, pytest.raises(RemoteError):
        c.funnel(['"Signup Submitted"'], FROM, TO, split_property="no_such_property")
    proc = cli("funnel", "--server", srv.address, "--step", '"Signup" where', "--from", "2026-01-01",
               "--to", "2026-02-01", ok=False)  # fmt: skip
    assert (
        proc.returncode == 1 and proc.stderr.startswith("cohortd: error:") and "Traceback" not in proc.stderr
    )
    proc = cli("retention", "--server", srv.address, "--start", "any", "--return", "any", "--from", "soon",
               "--to", "2026-02-01", ok=False)  # fmt: skip
    assert proc.returncode == 1 and "ISO-8601" in proc.stderr and "Traceback" not in proc.stderr
