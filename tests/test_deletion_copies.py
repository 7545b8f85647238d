"""User deletion reaches every copy in the data directory, not only the event store.

Beside segments, dictionaries, user properties and the log (``test_deletion.py``), a
deleted user may sit in an audience's delivery state (``audiences.sqlite``: the
acknowledged set, the entry log), in quarantined log records (``quarantine/``:
batches that could not be applied, decodable or not) and in account memberships.
After ``delete_users(..., compact=True)`` no file under the data directory holds
the user's id or property values (byte search), the audience state no longer holds
their dense id, and the other users' rows of a shared quarantined record are kept.
"""

from __future__ import annotations

import time
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc as ipc
from cohortd.service import Workspace
from cohortd.storage.store import _encode

NOW = 1_790_000_000_000
DAY = 86_400_000
VICTIM = "victim-0007"
SECRETS = [VICTIM.encode(), b"victim-page-7", b"victim@example.org", b"victim-device-7"]


def _rows() -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for u in ("keeper-1", "keeper-2", VICTIM):
        page = "victim-page-7" if u == VICTIM else f"page-{u}"
        email = "victim@example.org" if u == VICTIM else f"{u}@example.org"
        rows.append({"user_id": u, "event_type": "Purchase", "time": NOW - DAY, "page": page,
                     "groups": {"company": "acme"}, "user_properties": {"email": email}})  # fmt: skip
    rows.append({"anonymous_id": "victim-device-7", "event_type": "Purchase", "time": NOW - 2 * DAY})
    rows.append(
        {"user_id": VICTIM, "anonymous_id": "victim-device-7", "event_type": "Login", "time": NOW - 1}
    )
    return rows


def _wait_synced(p, audience: str, cohort: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        p.maintainer.step()
        m = p.maintainer.membership(cohort)
        if m is not None and p.get_audience(audience).acknowledged_version == m.version:
            return
        time.sleep(0.01)
    raise AssertionError("the audience did not catch up")


def test_deletion_purges_audience_state_quarantine_and_memberships(tmp_path: Path) -> None:
    root, outside = tmp_path / "data", tmp_path / "destination"
    ws = Workspace(root, clock=lambda: NOW, deliver_audiences=True)
    p = ws.project()
    assert not p.ingest(_rows()).rejected
    p.create_cohort("buyers", 'did("Purchase")')
    p.create_destination("files", directory=str(outside), fmt="jsonl")
    p.create_audience("Sync", "buyers", "files", holdout=0.0)
    _wait_synced(p, "Sync", "buyers")
    victim = p.engine.dense_id(VICTIM)
    assert victim in p.audiences.store.acknowledged("Sync")[1]
    p.schema()  # the schema figures are saved beside the project too
    # two log records a replay cannot apply: one decodable (a property of the wrong type) holding
    # the victim's and a keeper's rows, one that is not a batch at all but names the victim
    poison = pa.table(
        {
            "user_id": [VICTIM, "keeper-9"],
            "event_type": ["Purchase"] * 2,
            "time": pa.array([NOW - 5] * 2, pa.int64()),
            "page": pa.array([1, 2], pa.int64()),
        }
    )
    p.engine.store._wal.append(_encode(poison))
    p.engine.store._wal.append(b"\xff\xff\xff\xff " + VICTIM.encode() + b" not a batch")
    ws.close()

    ws = Workspace(root, clock=lambda: NOW, deliver_audiences=True)
    p = ws.project()
    quarantine = root / "projects" / "default" / "events" / "quarantine"
    assert len(list(quarantine.glob("*.rec"))) == 2
    accounts = "accounts(company): count of users who did(any) >= 3"
    assert p.members(definition=accounts) == ["acme"]
    report = p.delete_users([VICTIM], compact=True)
    assert report.found == [VICTIM] and report.purged and report.ids_deleted == 2
    assert p.members(definition=accounts) == []  # the victim left the account
    assert victim not in p.audiences.store.acknowledged("Sync")[1]
    assert p.audiences.store.entries("Sync", None, None) == [] or all(
        u != victim for u, _, _ in p.audiences.store.entries("Sync", None, None)
    )
    assert sorted(p.members("buyers")) == ["keeper-1", "keeper-2"]
    ws.close()

    (kept,) = quarantine.glob("*.rec")  # the undecodable one is gone; the other lost the victim's row
    table = ipc.open_stream(pa.py_buffer(kept.read_bytes())).read_all()
    assert table.column("user_id").to_pylist() == ["keeper-9"]
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for secret in SECRETS:
                assert secret not in data, (path, secret)
