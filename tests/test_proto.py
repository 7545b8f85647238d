"""The committed stubs in python/cohortd/v1/ are exactly what `make proto` generates."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROTO = ROOT / "proto"
STUBS = ROOT / "python" / "cohortd" / "v1"


def test_regenerating_stubs_gives_no_diff(tmp_path: Path) -> None:
    protos = sorted(str(p.relative_to(PROTO)) for p in (PROTO / "cohortd" / "v1").glob("*.proto"))
    assert protos, "no .proto files found"
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{PROTO}", f"--python_out={tmp_path}",
         f"--pyi_out={tmp_path}", f"--grpc_python_out={tmp_path}", *protos],
        check=True, cwd=PROTO,
    )  # fmt: skip
    generated = {p.name: p.read_bytes() for p in (tmp_path / "cohortd" / "v1").iterdir()}
    committed = {p.name: p.read_bytes() for p in STUBS.iterdir() if p.name.endswith((".py", ".pyi"))}
    committed.pop("__init__.py")
    assert sorted(generated) == sorted(committed)
    for name, data in generated.items():
        assert committed[name] == data, f"{name} differs from a fresh `make proto`; run it and commit"


def test_every_rpc_of_the_contract_is_in_the_service() -> None:
    from cohortd.v1 import cohortd_pb2

    service = cohortd_pb2.DESCRIPTOR.services_by_name["Cohortd"]
    methods = {m.name: (m.client_streaming, m.server_streaming) for m in service.methods}
    assert methods.pop("IngestStream") == (True, False)
    assert methods.pop("Members") == (False, True)
    assert methods.pop("Watch") == (False, True)
    assert set(methods) == {
        "Ingest", "UpsertUserProperties", "CreateCohort", "UpdateCohort", "GetCohort", "ListCohorts",
        "ArchiveCohort", "CohortHistory", "Evaluate", "IsMember", "CheckMembership", "UserCohorts",
        "Overlap", "Explain", "Lint", "Changes",
    }  # fmt: skip
    assert all(v == (False, False) for v in methods.values())
    # every request is scoped to a project
    for m in service.methods:
        assert "project" in m.input_type.fields_by_name, m.name
