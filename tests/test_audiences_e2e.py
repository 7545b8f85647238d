"""Audiences over a real server process and a real HTTP receiver on 127.0.0.1.

Every wait is bounded (``WAIT_S``); nothing asserts how fast anything is.  Each
test uses its own cohort, event type and audience on the module's server.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest
from cohortd import Client
from cohortd.audiences.receiver import Receiver
from cohortd.client import RemoteAlreadyExistsError, RemoteDefinitionError, RemoteNotFoundError
from cohortd.errors import AudienceError
from cohortd.v1 import audiences_pb2 as apb
from cohortd.v1 import audiences_pb2_grpc as apb_grpc
from support.data import now_ms
from support.server import ServerProcess, ready_server

WAIT_S = 60.0
SECRET = "s3cret-for-tests"


def events(users: list[str], event_type: str, t: int | None = None) -> list[dict]:
    t = now_ms() - 1_000 if t is None else t
    return [{"user_id": u, "event_type": event_type, "time": t} for u in users]


def wait_until(cond: Callable[[], bool], what: str, timeout: float = WAIT_S) -> None:
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def synced(client: Client, audience: str, cohort: str) -> bool:
    """The destination acknowledged the cohort's current version."""
    return client.get_audience(audience).acknowledged_version == client.evaluate(cohort).version


def verify_signatures(rx: Receiver, secret: str) -> None:
    assert rx.requests
    for r in rx.requests:
        mac = hmac.new(secret.encode(), r.body, hashlib.sha256).hexdigest()
        assert r.headers["X-Cohortd-Signature"] == f"sha256={mac}"
        assert r.headers["Idempotency-Key"] == r.doc["idempotency_key"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with ready_server(tmp_path_factory.mktemp("audiences")) as srv:
        yield srv


@pytest.fixture
def client(server: ServerProcess) -> Iterator[Client]:
    with Client(server.address, retries=2) as c:
        yield c


@pytest.fixture
def rx() -> Iterator[Receiver]:
    r = Receiver(SECRET)
    yield r
    r.close()


# ------------------------------------------------------------------ tests
def test_realtime_audience_gets_entries_and_exits_signed(client: Client, rx: Receiver) -> None:
    client.create_cohort("Paywall 3s", 'did("Paywall Hit") in last 3s')
    client.create_destination("rt-hook", webhook=rx.url, secret=SECRET)
    client.create_audience("Upgrade sequence", "Paywall 3s", "rt-hook", mode="realtime")
    assert rx.wait_for(lambda r: len(r.accepted()) >= 1, WAIT_S), "no first delivery"
    first = rx.accepted()[0].doc
    assert first["full"] is True and first["added"] == [] and first["batch"] == {"seq": 1, "of": 1}
    assert set(first) == {
        "audience", "cohort", "destination", "version", "full", "batch", "idempotency_key", "added", "removed"
    }  # fmt: skip
    assert (first["audience"], first["cohort"], first["destination"]) == (
        "Upgrade sequence",
        "Paywall 3s",
        "rt-hook",
    )

    client.ingest(events(["pw-1", "pw-2"], "Paywall Hit", now_ms()))
    assert rx.wait_for(lambda r: r.members == {"pw-1", "pw-2"}, WAIT_S), rx.members
    entry = next(r.doc for r in rx.accepted() if r.doc["added"])
    assert entry["full"] is False and sorted(entry["added"]) == ["pw-1", "pw-2"] and entry["removed"] == []
    # the window passes: both exit, and the destination is told
    assert rx.wait_for(lambda r: any(q.doc["removed"] for q in r.accepted()), WAIT_S)
    assert rx.wait_for(lambda r: r.members == set(), WAIT_S)
    versions = [r.doc["version"] for r in rx.accepted()]
    assert versions == sorted(versions) and len(set(versions)) == len(versions)
    verify_signatures(rx, SECRET)
    assert rx.bad_signatures == 0
    wait_until(lambda: synced(client, "Upgrade sequence", "Paywall 3s"), "synced")
    (a,) = [a for a in client.list_audiences() if a.name == "Upgrade sequence"]
    assert a.status == "active" and a.acknowledged_members == 0 and a.last_success_ms and a.failing == 0
    log = client.audience_log("Upgrade sequence", limit=10)
    assert log and all(s.status == "ok" and s.http_status == 200 for s in log)
    assert log[0].to_version == a.acknowledged_version and log[0].removed == 2


def test_failing_receiver_recovers_with_exactly_the_members(client: Client, rx: Receiver) -> None:
    users = [f"fl-{i:03d}" for i in range(250)]
    client.ingest(events(users, "Flaky Event"))
    client.create_cohort("Flaky", 'did("Flaky Event") in last 7d')
    client.create_destination("flaky-hook", webhook=rx.url, secret=SECRET)
    rx.fail_with = 500
    client.create_audience("Flaky sync", "Flaky", "flaky-hook", batch_size=40)
    wait_until(lambda: client.get_audience("Flaky sync").status == "FAILING", "FAILING status")
    # while the destination is down, the cohort keeps moving; it all collapses into one difference
    client.ingest(events([f"fl-new-{i}" for i in range(30)], "Flaky Event"))
    failing = client.get_audience("Flaky sync")
    assert failing.failing >= 3 and "500" in failing.last_error
    rx.fail_with = None
    wait_until(lambda: synced(client, "Flaky sync", "Flaky"), "the audience to catch up")
    assert rx.members == set(client.members("Flaky"))
    assert len(rx.members) == 280
    failed = [r for r in rx.requests if r.status == 500]
    assert failed, "the receiver never failed"
    # retries reuse the idempotency key of the batch they repeat
    retried = {r.doc["idempotency_key"] for r in failed}
    assert retried <= {r.doc["idempotency_key"] for r in rx.accepted()}
    log = client.audience_log("Flaky sync", limit=1_000)
    assert any(s.status == "failed" and s.http_status == 500 for s in log)
    assert client.get_audience("Flaky sync").status == "active"
    # the first delivery was full and in 7 batches of at most 40
    full = [r.doc for r in rx.accepted() if r.doc["full"]]
    assert {d["batch"]["of"] for d in full} == {7} and all(len(d["added"]) <= 40 for d in full)
    verify_signatures(rx, SECRET)


def test_hashed_email_identifier_skips_users_without_one(client: Client, rx: Receiver) -> None:
    users = [f"em-{i}" for i in range(6)]
    client.ingest(events(users, "Email Event"))
    emails = {"em-0": "  Alice@Example.COM ", "em-1": "bob@example.com", "em-2": "Carol@X.io", "em-4": "D@d"}
    client.upsert_user_properties([{"user_id": u, "email": e} for u, e in emails.items()])
    client.create_cohort("Emailed", 'did("Email Event") in last 7d')
    client.create_destination("email-hook", webhook=rx.url, secret=SECRET)
    client.create_audience(
        "Ads", "Emailed", "email-hook", identifier="user.email", hashing="sha256", mode="once"
    )
    wait_until(lambda: client.get_audience("Ads").status == "done", "the once delivery")
    want = {hashlib.sha256(e.strip().lower().encode()).hexdigest() for e in emails.values()}
    assert rx.members == want
    (attempt,) = client.audience_log("Ads")
    assert attempt.full and attempt.added == 4
    assert attempt.skipped == 2 and attempt.skip_reason == "no identifier"
    # once means once: a new member is not delivered
    client.ingest(events(["em-5"], "Email Event"))
    client.upsert_user_properties([{"user_id": "em-5", "email": "late@x.io"}])
    assert client.get_audience("Ads").status == "done" and len(client.audience_log("Ads")) == 1


def test_file_destination_and_meta_shape(client: Client, rx: Receiver, tmp_path: Path) -> None:
    users = [f"fd-{i}" for i in range(5)]
    client.ingest(events(users, "File Event"))
    client.create_cohort("Filed", 'did("File Event") in last 7d')
    for fmt in ("csv", "jsonl", "parquet"):
        client.create_destination(f"dir-{fmt}", directory=str(tmp_path / fmt), fmt=fmt)
        client.create_audience(f"Filed {fmt}", "Filed", f"dir-{fmt}", mode="once", batch_size=2)
    for fmt in ("csv", "jsonl", "parquet"):
        wait_until(lambda fmt=fmt: client.get_audience(f"Filed {fmt}").status == "done", f"{fmt} delivery")
        (f,) = list((tmp_path / fmt).iterdir())  # one file per delivery, no temporary left behind
        assert f.suffix == f".{fmt}" and not f.name.endswith(".tmp")
        if fmt == "csv":
            rows = pcsv.read_csv(f).to_pylist()
        elif fmt == "parquet":
            rows = pq.read_table(f).to_pylist()
        else:
            rows = [json.loads(line) for line in f.read_text().splitlines()]
        assert sorted(r["id"] for r in rows) == users and {r["change"] for r in rows} == {"added"}
        assert all(r["full"] and r["cohort"] == "Filed" for r in rows)

    _, generated = client.create_destination("meta-hook", webhook=rx.url, shape="meta")
    assert generated and len(generated) >= 32  # no secret given: one was generated and shown once
    rx.secret = generated
    client.create_audience("Meta", "Filed", "meta-hook", mode="once", batch_size=3)
    wait_until(lambda: client.get_audience("Meta").status == "done", "meta delivery")
    docs = [r.doc for r in rx.accepted()]
    assert [d["session"]["batch_seq"] for d in docs] == [1, 2]
    assert [d["session"]["last_batch_flag"] for d in docs] == [False, True]
    assert sorted(i for d in docs for i in d["payload"]["data"]) == users
    assert {d["payload"]["schema"] for d in docs} == {"EXTERN_ID"}


def test_pause_resume_delete_and_errors(server: ServerProcess, client: Client, rx: Receiver) -> None:
    client.ingest(events(["pr-1"], "Pause Event"))
    client.create_cohort("Pausable", 'did("Pause Event") in last 7d')
    client.create_destination("pause-hook", webhook=rx.url, secret=SECRET)
    client.create_audience("Paused one", "Pausable", "pause-hook", mode="every 1h")
    assert rx.wait_for(lambda r: r.members == {"pr-1"}, WAIT_S)
    assert client.pause_audience("Paused one").status == "paused"
    client.ingest(events(["pr-2"], "Pause Event"))
    assert client.resume_audience("Paused one").status == "active"
    # every 1h: the first delivery was just now, so the new member waits for the next interval
    assert client.get_audience("Paused one").mode == "every 1h"
    assert rx.members == {"pr-1"}
    client.delete_audience("Paused one")
    with pytest.raises(RemoteNotFoundError):
        client.get_audience("Paused one")
    client.delete_destination("pause-hook")

    with pytest.raises(RemoteNotFoundError):
        client.create_audience("X", "No such cohort", "rt-hook")
    with pytest.raises(RemoteNotFoundError):
        client.create_audience("X", "Pausable", "no-such-destination")
    with pytest.raises(RemoteAlreadyExistsError):
        client.create_destination("rt-hook", webhook=rx.url)
    with grpc.insecure_channel(server.address) as ch:
        stub = apb_grpc.AudiencesStub(ch)
        bad = [
            apb.CreateAudienceRequest(name="X", cohort="Pausable", destination="rt-hook", mode="sometimes"),
            apb.CreateAudienceRequest(name="X", cohort="Pausable", destination="rt-hook", hashing="md5"),
            apb.CreateAudienceRequest(name="X", cohort="Pausable", destination="rt-hook", identifier="email"),
            apb.CreateAudienceRequest(name="X", cohort="Pausable", destination="rt-hook", mode="every 0h"),
        ]
        for req in bad:
            with pytest.raises(grpc.RpcError) as info:
                stub.CreateAudience(req, timeout=WAIT_S)
            assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, req
        with pytest.raises(grpc.RpcError) as info:
            stub.CreateDestination(apb.CreateDestinationRequest(name="Y", webhook="ftp://x"), timeout=WAIT_S)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "http" in info.value.details()
    with pytest.raises(RemoteDefinitionError):
        client.create_destination("Z", directory="/tmp/z", fmt="xml")


def test_kill_9_mid_delivery_then_restart_delivers_exactly_the_members(tmp_path: Path) -> None:
    rx = Receiver(SECRET)
    rx.delay_s = 0.02
    srv = ServerProcess(tmp_path)
    try:
        with Client(srv.address, retries=2) as c:
            c.wait_ready()
            c.ingest(events([f"k-{i:04d}" for i in range(1_500)], "Kill Event"))
            c.create_cohort("Killed", 'did("Kill Event") in last 7d')
            c.create_destination("kill-hook", webhook=rx.url, secret=SECRET)
            c.create_audience("Crashy", "Killed", "kill-hook", batch_size=50)
            assert rx.wait_for(lambda r: len(r.accepted()) >= 5, WAIT_S)
        os.kill(srv.proc.pid, signal.SIGKILL)
        srv.kill()
        got_before = len(rx.members)
        assert 0 < got_before < 1_500, "the kill did not land mid-delivery"
        srv = ServerProcess(tmp_path)
        with Client(srv.address, retries=2) as c:
            c.wait_ready()
            c.ingest(events([f"k-late-{i}" for i in range(20)], "Kill Event"))
            wait_until(lambda: synced(c, "Crashy", "Killed"), "the audience to catch up after the restart")
            assert rx.members == set(c.members("Killed"))
            assert len(rx.members) == 1_520
            keys = [r.doc["idempotency_key"] for r in rx.accepted()]
            assert len(set(keys)) == len(rx.applied_keys)
        verify_signatures(rx, SECRET)
    finally:
        srv.terminate()
        rx.close()


def test_holdout_audience_and_lift_over_the_server(
    server: ServerProcess, client: Client, rx: Receiver
) -> None:
    import subprocess
    import sys

    users = [f"ho-{i:03d}" for i in range(400)]
    client.ingest(events(users, "Holdout Event"))
    client.create_cohort("Holdout cohort", 'did("Holdout Event") in last 7d')
    client.create_destination("holdout-hook", webhook=rx.url, secret=SECRET)
    a = client.create_audience("With holdout", "Holdout cohort", "holdout-hook", holdout="20%", batch_size=64)
    assert a.holdout == pytest.approx(0.2)
    wait_until(lambda: synced(client, "With holdout", "Holdout cohort"), "the first delivery")
    held = set(users) - rx.members
    assert rx.members <= set(users)
    assert abs(len(held) / 400 - 0.2) < 4 * (0.2 * 0.8 / 400) ** 0.5
    assert not held & {u for r in rx.accepted() for u in r.doc["added"]}
    # every entrant is still inside a 30-day horizon; with 1 ms all are measured
    r = client.audience_lift("With holdout", 'did("Holdout Event") in last 7d', "30d")
    assert r.inside_horizon == 400 and r.delivered.users == r.held_out.users == 0
    r = client.audience_lift("With holdout", 'did("Nothing Here")', "1ms")
    assert (r.delivered.users, r.held_out.users, r.inside_horizon) == (400 - len(held), len(held), 0)
    assert r.delivered.converted == r.held_out.converted == 0 and r.p_value == 1.0
    cli = Path(sys.executable).with_name("cohortd")
    proc = subprocess.run(
        [str(cli), "audience", "lift", "--server", server.address, "With holdout", "--outcome",
         'did("Nothing Here")', "--horizon", "1ms", "--json"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["delivered"]["users"] == 400 - len(held) and doc["held_out"]["users"] == len(held)
    with pytest.raises(RemoteDefinitionError):
        client.audience_lift("Flaky sync", 'did("X")', "1d")  # no holdout
    with pytest.raises(AudienceError):  # checked by the SDK before sending
        client.create_audience("Too much", "Holdout cohort", "holdout-hook", holdout=0.95)
    with grpc.insecure_channel(server.address) as ch:
        req = apb.CreateAudienceRequest(name="Too much", cohort="Holdout cohort", destination="holdout-hook")
        req.holdout = 0.95
        with pytest.raises(grpc.RpcError) as info:
            apb_grpc.AudiencesStub(ch).CreateAudience(req, timeout=WAIT_S)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "holdout" in info.value.details()


def test_static_upload_and_streamed_export_over_the_server(
    server: ServerProcess, client: Client, rx: Receiver, tmp_path: Path
) -> None:
    import subprocess
    import sys

    users = [f"ex-{i:03d}" for i in range(150)]
    client.ingest(events(users, "Export Event"))
    client.upsert_user_properties([{"user_id": u, "email": f" {u.upper()}@Example.org"} for u in users[::2]])
    up = client.upload_cohort("Uploaded", [*users[:100], "nobody-1"])
    assert (up.members, up.unknown, up.unknown_sample) == (100, 1, ["nobody-1"])
    assert sorted(client.members("Uploaded")) == users[:100]
    totals: list[tuple[int, int]] = []
    chunks = list(
        client.export_members(
            "Uploaded", "user.email", "sha256", chunk=16, on_totals=lambda t, s: totals.append((t, s))
        )
    )
    want = sorted(hashlib.sha256(f"{u}@example.org".encode()).hexdigest() for u in users[:100:2])
    assert sorted(i for c in chunks for i in c) == want and all(len(c) <= 16 for c in chunks)
    assert totals == [(100, 50)]
    cli = Path(sys.executable).with_name("cohortd")
    out = tmp_path / "uploaded.parquet"
    proc = subprocess.run(
        [str(cli), "members", "--server", server.address, "Uploaded", "--out", str(out), "--id", "user.email",
         "--hash", "sha256", "--json"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["rows"] == 50 and sorted(pq.read_table(out).column(0).to_pylist()) == want
    csv_file = tmp_path / "ids.csv"
    csv_file.write_text("id\n" + "\n".join(users[100:]) + "\n")
    proc = subprocess.run(
        [str(cli), "cohort", "upload", "--server", server.address, "Uploaded", str(csv_file), "--json"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["members"] == 50 and sorted(client.members("Uploaded")) == users[100:]
    # a static cohort is an audience's cohort like any other
    client.create_destination("static-hook", webhook=rx.url, secret=SECRET)
    client.create_audience("Uploaded sync", "Uploaded", "static-hook")
    wait_until(lambda: synced(client, "Uploaded sync", "Uploaded"), "the static audience")
    assert rx.members == set(users[100:])
