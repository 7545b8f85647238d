"""User deletion: gone from every answer at once, purged from every file at compaction.

After ``delete_users`` and a compaction, no file under the data directory
contains the deleted ids or their property values (byte search), every other
user's answers are unchanged, the maintained cohorts saw the exits, and the
audit log names who asked without naming the ids.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cohortd.lang import parse
from cohortd.service import Workspace
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

NOW = 1_780_272_000_000
DAY = 86_400_000
COHORTS = {
    "buyers": 'did("Purchase")',
    "active": 'did("Session Start") in last 7d',
    "quiet": 'not did("Purchase")',
}


def _rows(n: int) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for i in range(n):
        u = f"user-{i:03d}"
        rows.append({"user_id": u, "event_type": "Session Start", "time": NOW - (i % 9) * DAY - 1,
                     "page": f"page-of-{u}", "user_properties": {"email": f"{u}@example.org"}})  # fmt: skip
        if i % 3 == 0:
            rows.append({"user_id": u, "event_type": "Purchase", "time": NOW - DAY, "sku": f"sku-{u}"})
    rows.append({"anonymous_id": "device-of-user-001", "event_type": "Purchase", "time": NOW - 2 * DAY})
    rows.append({"user_id": "user-001", "anonymous_id": "device-of-user-001", "event_type": "Login",
                 "time": NOW - DAY})  # fmt: skip
    return rows


def _files(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(victims=st.sets(st.integers(0, 11), min_size=1, max_size=4), seal_first=st.booleans())
def test_deleted_users_leave_every_answer_and_every_file(tmp_path_factory, victims, seal_first) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("data")
    ws = Workspace(root, clock=lambda: NOW)
    p = ws.project()
    p.ingest(_rows(12))
    if seal_first:
        p.engine.compact()  # their rows already in sealed segments, not only in the log
    for name, text in COHORTS.items():
        p.create_cohort(name, text)
    ids = [f"user-{i:03d}" for i in sorted(victims)]
    before = {name: set(p.members(name)) for name in COHORTS}
    start = {name: p.maintainer.current(name).version for name in COHORTS}  # type: ignore[union-attr]
    report = p.delete_users([*ids, "nobody"], compact=False)
    assert report.found == ids and report.not_found == ["nobody"]
    assert report.events_before > 0 and report.events_visible_after == 0
    # At once: gone from every answer, others unchanged; the maintained cohorts emitted exits.
    p.maintainer.step()
    for name in COHORTS:
        assert set(p.members(name)) == before[name] - set(ids)
        full = set(p.engine.external_ids(p.engine.evaluate(parse(COHORTS[name]), as_of=NOW).bitmap))
        assert full == before[name] - set(ids)
        exited = {
            u for c in p.maintainer.changes([name], start[name]) for u in p.engine.external_ids(c.exited)
        }
        assert exited == before[name] & set(ids)
    p.engine.compact()
    for name in COHORTS:
        assert set(p.members(name)) == before[name] - set(ids)
    ws.close()
    secrets = [s.encode() for u in ids for s in (u, f"page-of-{u}", f"sku-{u}", f"{u}@example.org")]
    if "user-001" in ids:
        secrets.append(b"device-of-user-001")  # merged into a deleted user: deleted with them
    for path, data in _files(root).items():
        for secret in secrets:
            assert secret not in data, (path, secret)
    (log,) = root.rglob("deletions.jsonl")
    audit = [json.loads(x) for x in log.read_text().splitlines()]
    assert audit[-1]["events_before"] == report.events_before and audit[-1]["not_found"] == 1
    # Reopened: the same answers, and a deleted id arriving again is a new user.
    ws = Workspace(root, clock=lambda: NOW)
    p = ws.project()
    for name in COHORTS:
        assert set(p.members(name)) == before[name] - set(ids)
    p.ingest([{"user_id": ids[0], "event_type": "Purchase", "time": NOW - 1}])
    assert ids[0] in p.members("buyers")
    ws.close()


def test_delete_over_a_real_server_sdk_and_cli(tmp_path: Path) -> None:
    import subprocess
    import sys

    import grpc
    from cohortd import Client
    from cohortd.client import RemoteError
    from support.server import ServerProcess

    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"k-dpo": {"name": "dpo", "projects": ["*"]}}))
    data = tmp_path / "data"
    srv = ServerProcess(data, "--auth-keys", str(keys))
    try:
        with Client(srv.address, api_key="k-dpo", retries=1) as c:
            c.ingest(_rows(6))
            c.create_cohort("buyers", COHORTS["buyers"])
            assert "user-003" in c.members("buyers")
            report = c.delete_users(["user-003", "ghost"], compact=True)
            assert report["found"] == ["user-003"] and report["not_found"] == ["ghost"]
            assert report["purged"] and report["events_visible_after"] == 0 and report["events_before"] == 2
            assert report["audit"]["by"] == "dpo"
            assert "user-003" not in c.members("buyers")
            with pytest.raises(RemoteError) as bad:
                c.delete_users([])
            assert bad.value.code == grpc.StatusCode.INVALID_ARGUMENT
        cli = Path(sys.executable).with_name("cohortd")
        args = ["users", "delete", "user-000", "--server", srv.address, "--api-key", "k-dpo", "--json"]
        out = subprocess.run(
            [str(cli), *args],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["found"] == ["user-000"]
    finally:
        assert srv.terminate() == 0, srv.output
    for path in data.rglob("*"):
        if path.is_file():
            assert b"user-003" not in path.read_bytes(), path
