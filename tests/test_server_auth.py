"""API keys, project permissions and TLS, over a real server process."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from cohortd import Client
from cohortd.client import (
    RemoteNotFoundError,
    RemotePermissionError,
    RemoteUnauthenticatedError,
    RemoteUnavailableError,
)
from cohortd.v1 import cohortd_pb2 as pb
from cohortd.v1 import cohortd_pb2_grpc as pb_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from support.data import now_ms
from support.server import ServerProcess

KEYS = {"key-alpha": ["alpha"], "key-both": ["alpha", "beta"], "key-admin": ["*"]}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    d = tmp_path_factory.mktemp("auth")
    keys = d / "keys.json"
    keys.write_text(json.dumps(KEYS))
    srv = ServerProcess(d / "data", "--auth-keys", str(keys))
    try:
        yield srv
    finally:
        assert srv.terminate() == 0, srv.output


def _code(fn: object) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as info:
        fn()  # type: ignore[operator]
    return info.value.code()  # type: ignore[attr-defined]


def test_missing_or_unknown_key_is_unauthenticated(server: ServerProcess) -> None:
    with grpc.insecure_channel(server.address) as ch:
        stub = pb_grpc.CohortdStub(ch)
        req = pb.ListCohortsRequest(project="alpha")
        assert _code(lambda: stub.ListCohorts(req, timeout=10)) == grpc.StatusCode.UNAUTHENTICATED
        bad = (("authorization", "Bearer nope"),)
        assert (
            _code(lambda: stub.ListCohorts(req, timeout=10, metadata=bad)) == grpc.StatusCode.UNAUTHENTICATED
        )
        basic = (("authorization", "Basic key-alpha"),)
        assert (
            _code(lambda: stub.ListCohorts(req, timeout=10, metadata=basic))
            == grpc.StatusCode.UNAUTHENTICATED
        )
        # health stays open for probes
        ok = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=10)
        assert ok.status == health_pb2.HealthCheckResponse.SERVING
    with Client(server.address, project="alpha", retries=0) as c, pytest.raises(RemoteUnauthenticatedError):
        c.list_cohorts()


def test_key_is_scoped_to_its_projects(server: ServerProcess) -> None:
    t = now_ms() - 1000
    with Client(server.address, api_key="key-alpha", project="alpha") as a:
        assert a.ingest([{"user_id": "a1", "event_type": "E", "time": t}]).accepted == 1
        a.create_cohort("Did E Ever", 'did("E")')
        assert a.is_member("a1", "Did E Ever")
    with Client(server.address, api_key="key-alpha", project="beta") as b:
        for call in (
            lambda: b.list_cohorts(),
            lambda: b.is_member("a1", "Did E Ever"),
            lambda: b.ingest([{"user_id": "b1", "event_type": "E", "time": t}]),
            lambda: b.members(definition="did(any)"),
        ):
            with pytest.raises(RemotePermissionError):
                call()
    with Client(server.address, api_key="key-alpha") as d, pytest.raises(RemotePermissionError):
        d.list_cohorts()  # "default" is a project too
    with Client(server.address, api_key="key-both", project="beta") as b:
        # nothing leaked from alpha; beta was never written, and a read creates nothing (issue 9)
        with pytest.raises(RemoteNotFoundError, match="no project 'beta'"):
            b.evaluate(definition="did(any)")
    with Client(server.address, api_key="key-admin", project="alpha") as adm:
        assert adm.members("Did E Ever") == ["a1"]


def test_stream_messages_are_checked_one_by_one(server: ServerProcess) -> None:
    t = now_ms() - 1000
    ev = pb.Event(user_id="s1", event_type="Streamed", time_ms=t)
    md = (("authorization", "Bearer key-alpha"),)
    with grpc.insecure_channel(server.address) as ch:
        stub = pb_grpc.CohortdStub(ch)
        msgs = [pb.IngestRequest(project="alpha", events=[ev]), pb.IngestRequest(project="beta", events=[ev])]
        code = _code(lambda: stub.IngestStream(iter(msgs), timeout=10, metadata=md))
        assert code == grpc.StatusCode.PERMISSION_DENIED


def _openssl_cert(d: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl CLI not available")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


def test_tls(tmp_path: Path) -> None:
    cert, key = _openssl_cert(tmp_path)
    srv = ServerProcess(tmp_path / "data", "--tls-cert", str(cert), "--tls-key", str(key))
    try:
        assert "(TLS)" in srv.output
        with Client(srv.address, tls_root_cert=cert) as c:
            c.create_cohort("Any Event Ever", "did(any)")
            assert [x.name for x in c.list_cohorts()] == ["Any Event Ever"]
        # a plaintext client cannot talk to it
        with Client(srv.address, retries=0, timeout=5) as plain, pytest.raises(RemoteUnavailableError):
            plain.list_cohorts()
        # nor a TLS client that does not trust the certificate
        (tmp_path / "other").mkdir()
        other, _ = _openssl_cert(tmp_path / "other")
        with Client(srv.address, tls_root_cert=other, retries=0, timeout=5) as wrong:
            with pytest.raises(RemoteUnavailableError):
                wrong.list_cohorts()
    finally:
        assert srv.terminate() == 0, srv.output
