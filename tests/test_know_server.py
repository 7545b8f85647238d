"""Know your data over a real server on 127.0.0.1: DataCatalog RPCs, warnings on Evaluate/Explain, CLI.

Expected figures come from the data set's construction
(``support.data.saas_events``) or from the embedded API on a copy of
the same data, never from the server itself.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from cohortd import Client
from cohortd.client import RemoteDefinitionError, RemoteNotFoundError, RemoteParseError
from cohortd.service import Workspace
from cohortd.v1 import schema_pb2 as spb
from cohortd.v1 import schema_pb2_grpc as spb_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from support.data import DAY_MS, now_ms, saas_events, saas_users
from support.server import ServerProcess

USERS = 120
COHORTD = Path(sys.executable).with_name("cohortd")
FEATURE = {i for i in range(USERS) if i % 3 == 0}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = ServerProcess(tmp_path_factory.mktemp("know"))
    try:
        with Client(srv.address) as c:
            c.wait_ready()
            assert c.ingest(saas_events(USERS)).rejections == []
            assert c.upsert_user_properties(saas_users(USERS)).accepted == USERS
            c.create_cohort("Feature users 90d", 'did("Feature Used") in last 90d')
        yield srv
    finally:
        assert srv.terminate() == 0, srv.output


@pytest.fixture
def client(server: ServerProcess) -> Iterator[Client]:
    with Client(server.address, retries=1) as c:
        yield c


def cli(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(COHORTD), *args], capture_output=True, text=True, timeout=300, check=False)
    if ok:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_health_lists_the_data_catalog(server: ServerProcess) -> None:
    with grpc.insecure_channel(server.address) as ch:
        resp = health_pb2_grpc.HealthStub(ch).Check(
            health_pb2.HealthCheckRequest(service="cohortd.v1.DataCatalog"), timeout=10
        )
        assert resp.status == health_pb2.HealthCheckResponse.SERVING


def test_schema_over_grpc(client: Client) -> None:
    doc = client.schema()
    types = {e["name"]: e for e in doc["event_types"]}
    assert types["Signup Submitted"]["events"] == USERS == types["Signup Submitted"]["users"]
    assert types["Session Start"]["events"] == sum(i % 7 for i in range(USERS))
    assert types["Session Start"]["last_7d"] == types["Session Start"]["events"]
    fu = types["Feature Used"]
    assert fu["events"] == len(FEATURE)
    (area,) = [p for p in fu["properties"] if p["name"] == "feature_area"]
    assert area["type"] == "string" and area["present"] == 1.0
    dash = sum(1 for i in FEATURE if i % 2 == 0)
    assert area["top_values"] == sorted(
        [{"value": "dashboard", "count": dash}, {"value": "reports", "count": len(FEATURE) - dash}],
        key=lambda v: (-v["count"], v["value"]),
    )
    plans = {p["name"]: p for p in doc["user_properties"]}["plan"]
    assert {v["value"]: v["count"] for v in plans["top_values"]} == {
        "paid": sum(i % 10 == 0 for i in range(USERS)),
        "trial": sum(i % 10 != 0 and i % 4 == 0 for i in range(USERS)),
        "free": sum(i % 10 != 0 and i % 4 != 0 for i in range(USERS)),
    }
    assert doc["event_types"][0]["first_seen"].endswith("Z")


def test_evaluate_and_explain_carry_warnings(client: Client) -> None:
    res = client.evaluate(definition='did("Feature Used" where feature_area == "dashbord") in last 90d')
    assert res.size == 0
    assert [w.code for w in res.warnings] == ["unknown-value"]
    assert "did you mean 'dashboard'" in res.warnings[0].message
    assert client.evaluate("Feature users 90d").warnings == []
    steps, warnings = client.explain_warnings(definition='user.paln == "paid"')
    assert steps and [w.code for w in warnings] == ["unknown-user-property"]
    assert "did you mean 'plan'" in warnings[0].message


def test_breakdown_over_grpc(client: Client) -> None:
    doc = client.breakdown("Feature users 90d", by="user.plan")
    assert doc["cohort"] == "Feature users 90d" and doc["size"] == len(FEATURE)
    paid = {i for i in range(USERS) if i % 10 == 0}
    row = {r["value"]: r for r in doc["rows"]}["paid"]
    assert row["members"] == len(FEATURE & paid)
    assert row["share"] == len(FEATURE & paid) / len(FEATURE)
    assert row["base_share"] == len(paid) / USERS
    assert row["index"] == pytest.approx(row["share"] / row["base_share"])
    doc = client.breakdown(definition="did(any) in last 90d", by='event("Feature Used").feature_area', top=1)
    values = [r["value"] for r in doc["rows"]]
    assert values == ["dashboard", "(other)", "(none)"]
    assert doc["rows"][-1]["members"] == USERS - len(FEATURE)
    doc = client.breakdown(definition="did(any) in last 90d", by_cohorts=["Feature users 90d"])
    assert [(r["value"], r["members"]) for r in doc["rows"]] == [
        ("Feature users 90d", len(FEATURE)),
        ("(none)", USERS - len(FEATURE)),
    ]


def test_population_over_grpc(client: Client) -> None:
    now = now_ms()
    start = (now // DAY_MS - 5) * DAY_MS
    doc = client.population(
        definition='did("Signup Submitted") in last 30d', start=start, end=start + 5 * DAY_MS
    )
    assert len(doc["points"]) == 6
    for p in doc["points"]:
        assert (
            p["size"]
            == client.evaluate(definition='did("Signup Submitted") in last 30d', as_of=p["as_of"]).size
        )
    saved = client.population("Feature users 90d", start=start, end=start + 2 * DAY_MS, step="1d")
    assert [p["size"] for p in saved["points"]] == [
        client.evaluate("Feature users 90d", as_of=p["as_of"]).size for p in saved["points"]
    ]
    assert saved == client.population("Feature users 90d", start=start, end=start + 2 * DAY_MS)  # recorded


def test_audit_over_grpc(client: Client) -> None:
    doc = client.audit()
    assert set(doc) == {"as_of", "stale_event_types", "findings", "similar_pairs"}
    assert doc["stale_event_types"] == []


def test_errors_are_status_codes(client: Client, server: ServerProcess) -> None:
    with pytest.raises(RemoteDefinitionError):
        client.breakdown(definition="did(any)", by="plan")
    with pytest.raises(RemoteDefinitionError):
        client.breakdown(definition="did(any)", by="user.paln")
    with pytest.raises(RemoteNotFoundError):
        client.breakdown("Nope", by="user.plan")
    with pytest.raises(RemoteParseError):
        client.population(definition="did(any)", start=0, end=DAY_MS, step="daily")
    with pytest.raises(RemoteDefinitionError):
        client.population(definition="did(any)", start=DAY_MS, end=0)
    with grpc.insecure_channel(server.address) as ch:
        stub = spb_grpc.DataCatalogStub(ch)
        with pytest.raises(grpc.RpcError) as info:
            stub.Population(spb.PopulationRequest(target={"cohort": "Feature users 90d"}), timeout=10)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
        with pytest.raises(grpc.RpcError) as info:
            stub.GetSchema(spb.GetSchemaRequest(top_values=-1), timeout=10)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]


def _json(*args: str) -> Any:
    return json.loads(cli(*args, "--json").stdout)


def test_cli_remote_and_embedded_agree(server: ServerProcess, tmp_path: Path) -> None:
    data = tmp_path / "data"
    with Workspace(data) as ws:
        p = ws.project()
        now = now_ms()
        p.ingest(saas_events(USERS, now))
        p.upsert_user_properties(saas_users(USERS))
    remote, local = ("--server", server.address), ("--data", str(data))
    for target in (remote, local):
        doc = _json("schema", *target)
        assert {e["name"] for e in doc["event_types"]} >= {"Signup Submitted", "Feature Used"}
        doc = _json("breakdown", *target, 'did("Feature Used") in last 90d', "--by", "user.plan")
        assert doc["size"] == len(FEATURE) and sum(r["members"] for r in doc["rows"]) == len(FEATURE)
        by = 'event("Feature Used").feature_area'
        doc = _json(
            "breakdown", *target, "did(any) in last 90d", "--by", by, "--window", "90d", "--pick", "most"
        )
        assert {r["value"] for r in doc["rows"]} == {"dashboard", "reports", "(none)"}
        proc = cli("query", *target, "--strict", 'did("Feature Usd") in last 7d', ok=False)
        assert proc.returncode == 1 and "did you mean 'Feature Used'" in proc.stderr
        if target == local:
            continue  # the rest prints through the same code whichever the target
        doc = _json("population", *target, 'did("Session Start") in last 7d',
                    "--from", "2026-01-01", "--to", "2026-01-03")  # fmt: skip
        assert [p["size"] for p in doc["points"]] == [0, 0, 0]
        assert set(_json("audit", *target)) == {"as_of", "stale_event_types", "findings", "similar_pairs"}
        proc = cli("query", *target, 'did("Feature Usd") in last 7d')
        assert "did you mean 'Feature Used'" in proc.stderr and "size 0" in proc.stdout
        proc = cli("explain", *target, "--strict", 'user.plan == "pad"', ok=False)
        assert proc.returncode == 1 and "did you mean 'paid'" in proc.stderr
        proc = cli("cohort", "create", *target, "--strict", "Paid plan", 'user.plan == "pad"', ok=False)
        assert proc.returncode == 1
        assert "Paid plan" not in cli("cohort", "list", *target).stdout  # nothing was saved
        human = cli("breakdown", *target, 'did("Feature Used") in last 90d', "--by", "user.plan").stdout
        assert "base share" in human and "paid" in human
