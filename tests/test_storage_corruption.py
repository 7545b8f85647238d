"""A flipped byte in any file kind is caught: the project refuses to open, or keeps every intact batch.

The data directory is a real workspace (``DIR/projects/default/{events,catalog.sqlite}``)
with sealed segments, dictionaries, user properties, a live log of several
records and a saved cohort.  For each file kind one byte is flipped at
hypothesis-chosen positions, then: opening the project either raises
``CorruptionError`` (a clear error, nothing deleted) or answers exactly as
before (a WAL tail: only the last, torn-looking record may go); and
``cohortd verify --data DIR --json`` reports the damage (exit 1).

Also: a log record that cannot be applied is quarantined (reported, kept in
``quarantine/``) and the records after it are kept; a missing manifest never
deletes data.
"""

from __future__ import annotations

import io
import json
import shutil
from collections import Counter
from contextlib import redirect_stdout
from pathlib import Path

import pyarrow as pa
import pytest
from cohortd.cli.main import main as cli
from cohortd.errors import CorruptionError
from cohortd.service import Workspace
from cohortd.storage.store import _encode
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

NOW_MS = 1_780_000_000_000
BATCHES = 6  # batches 0..2 sealed into segments, 3..5 in the live log


def _rows(b: int) -> list[dict]:
    return [
        {
            "user_id": f"u{b}-{n}",
            "event_type": "open" if n % 2 else "buy",
            "time": NOW_MS - 50_000 + b * 100 + n,
            "batch": b,
            "plan": f"p{b}",
            "user_properties": {"tier": f"t{b}"},
        }
        for n in range(4)
    ]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pristine")
    ws = Workspace(root, clock=lambda: NOW_MS)
    project = ws.project()
    for b in range(BATCHES):
        project.ingest(_rows(b))
        if b == 2:
            project.engine.seal()
    project.create_cohort("buyers", 'did("buy")')
    ws.close()
    return root


def _state(root: Path) -> tuple[Counter, dict, list[str]]:
    ws = Workspace(root, clock=lambda: NOW_MS)
    try:
        project = ws.project()
        counts = Counter(project.engine.events().column("batch").to_pylist())
        props = project.engine.user_properties()
        cohorts = [c.definition for c in project.list_cohorts()]
    finally:
        ws.close()
    return counts, props, cohorts


def _verify(root: Path) -> tuple[int, dict]:
    out = io.StringIO()
    with redirect_stdout(out):
        code = cli(["verify", "--data", str(root), "--json"])
    return code, json.loads(out.getvalue())


def _events(root: Path) -> Path:
    return root / "projects" / "default" / "events"


def _target(root: Path, kind: str) -> tuple[Path, int, int]:
    """(file, first byte, end byte) of the region to damage for a file kind."""
    ev = _events(root)
    if kind in ("wal_middle", "wal_tail"):
        from cohortd.storage.wal import intact_records

        (log,) = sorted(ev.glob("wal-*.log"))
        recs = intact_records(log)
        assert len(recs) == 3
        if kind == "wal_middle":
            return log, recs[1].offset, recs[2].offset
        return log, recs[2].offset, log.stat().st_size
    if kind == "segment":
        return sorted((ev / "segments").glob("seg-*[0-9].arrow"))[0], 0, None  # type: ignore[return-value]
    if kind == "index":
        return sorted((ev / "segments").glob("*.index.arrow"))[0], 0, None  # type: ignore[return-value]
    if kind == "dictionary":
        return sorted(ev.glob("dict-users-*.arrow"))[0], 0, None  # type: ignore[return-value]
    if kind == "userprops":
        return sorted(ev.glob("userprops-*.arrow"))[0], 0, None  # type: ignore[return-value]
    if kind == "manifest":
        return ev / "manifest.json", 0, None  # type: ignore[return-value]
    if kind == "catalog":
        return root / "projects" / "default" / "catalog.sqlite", 0, 16  # "SQLite format 3\0"
    raise AssertionError(kind)


KINDS = ["wal_middle", "wal_tail", "segment", "index", "dictionary", "userprops", "manifest", "catalog"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(KINDS), where=st.floats(0, 1, exclude_max=True), bit=st.integers(0, 7))
def test_a_flipped_byte_in_any_file_is_caught(
    pristine: Path, tmp_path_factory: pytest.TempPathFactory, kind: str, where: float, bit: int
) -> None:
    root = tmp_path_factory.mktemp(kind)
    shutil.copytree(pristine, root, dirs_exist_ok=True)
    before = _state(pristine)
    path, start, end = _target(root, kind)
    data = bytearray(path.read_bytes())
    end = len(data) if end is None else end
    at = start + int(where * (end - start))
    data[at] ^= 1 << bit
    path.write_bytes(bytes(data))
    code, report = _verify(root)
    if kind == "wal_tail":
        # indistinguishable from a torn write: the last record may go, nothing else
        assert code == 0 and any(f["status"] == "torn" for f in report["files"])
        counts, props, cohorts = _state(root)
        assert counts == before[0] - Counter({BATCHES - 1: 4}) and cohorts == before[2]
        return
    assert code == 1 and report["problems"] >= 1, f"verify missed a flipped byte in the {kind}"
    with pytest.raises(CorruptionError):
        _state(root)


def test_verify_is_clean_on_an_intact_directory(pristine: Path) -> None:
    code, report = _verify(pristine)
    assert code == 0 and report["problems"] == 0
    kinds = {f["kind"] for f in report["files"] if f["status"] == "ok"}
    assert {"manifest", "segment", "index", "dictionary", "userprops", "log", "catalog"} <= kinds


def test_missing_manifest_refuses_and_deletes_nothing(pristine: Path, tmp_path: Path) -> None:
    shutil.copytree(pristine, tmp_path, dirs_exist_ok=True)
    (_events(tmp_path) / "manifest.json").unlink()
    files_before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    with pytest.raises(CorruptionError, match="manifest.json is missing"):
        _state(tmp_path)
    files_after = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert [f for f in files_before if f not in files_after] == []
    assert _verify(tmp_path)[0] == 1


def test_an_unappliable_log_record_is_quarantined_and_nothing_after_it_is_lost(tmp_path: Path) -> None:
    from cohortd import Engine

    eng = Engine.open(tmp_path, clock=lambda: NOW_MS)
    eng.ingest(_rows(0))
    invalid = pa.Array.from_buffers(
        pa.string(), 1, [None, pa.py_buffer(b"\0\0\0\0\2\0\0\0"), pa.py_buffer(b"\xff\xfe")]
    )
    poison = pa.table({"user_id": invalid, "event_type": ["e"], "time": pa.array([NOW_MS - 1], pa.int64())})
    eng.store._wal.append(_encode(poison))  # what an older version's gate let through
    eng.store._wal.append(b"\xff\xff\xff\xff not an arrow stream")  # intact CRC, undecodable payload
    eng.ingest(_rows(1))
    eng.close()
    for extra in (0, 4):  # the second open meets the same records again
        eng = Engine.open(tmp_path, clock=lambda: NOW_MS)
        expected = {0: 4, 1: 4} | ({2: extra} if extra else {})
        assert Counter(eng.events().column("batch").to_pylist()) == expected
        assert len(eng.store.health.quarantined) == 2
        eng.ingest(_rows(2))
        eng.close()
    assert len(list((tmp_path / "quarantine").glob("*.rec"))) == 2
    code, report = _verify(tmp_path)
    assert code == 0 and sum(f["status"] == "quarantined" for f in report["files"]) >= 2
    eng = Engine.open(tmp_path, clock=lambda: NOW_MS)
    eng.seal()  # the log (and its poison) is checkpointed away; the quarantine copy stays
    assert Counter(eng.events().column("batch").to_pylist()) == {0: 4, 1: 4, 2: 8}
    eng.close()
    assert len(list((tmp_path / "quarantine").glob("*.rec"))) == 2
