"""Injected file-system faults never lose an acknowledged batch nor resurrect a failed one.

The store runs on :class:`support.faultfs.FaultyOps`; a hypothesis-chosen fault (a
``write`` that fails after N bytes, ENOSPC or EIO from a write, fsync,
directory fsync, rename, open or truncate, for one or several consecutive
calls) hits a workload of numbered batches with automatic seals and merges.
During the fault, reads keep working; once the fault has passed, ingest
resumes by itself.  After each trial the directory is reopened with the real
file layer and checked: every acknowledged batch present in full, no batch
that got an error present at all, the directory opens.

``fault_table`` runs the same trials per fault class and counts them; it is
what ``python benchmarks/storage_faults.py`` prints for the report.
"""

from __future__ import annotations

import errno
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from cohortd import Engine
from cohortd.errors import StorageError, StorageFullError
from cohortd.storage import files
from cohortd.storage import store as store_mod
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.faultfs import Fault, FaultyOps

NOW_MS = 1_780_000_000_000
WEEK_MS = 7 * 86_400_000
BATCHES = 16

#: fault classes: (operation, errno, largest run of consecutive failing calls)
CLASSES = {
    "write_enospc_partial": ("write", errno.ENOSPC, 6),
    "write_eio_partial": ("write", errno.EIO, 1),
    "fsync_eio": ("fsync", errno.EIO, 3),
    "fsync_dir_eio": ("fsync_dir", errno.EIO, 2),
    "rename_enospc": ("replace", errno.ENOSPC, 2),
    "open_enospc": ("open", errno.ENOSPC, 3),
    "write_then_truncate": ("write+truncate", errno.ENOSPC, 1),
}


def _rows(b: int) -> list[dict]:
    size = 1 + b % 5
    t = NOW_MS - (b % 3) * WEEK_MS - 10_000 + b
    return [
        {
            "user_id": f"u{(b * 7 + n) % 11}",
            "event_type": f"e{b % 3}",
            "time": t,
            "batch": b,
            "n": n,
            "user_properties": {"last": b},
        }
        for n in range(size)
    ]


@dataclass
class Trial:
    acked: list[int]
    errored: list[int]
    injected: int


def run_trial(directory: Path, faults: list[Fault]) -> Trial:
    """The workload under ``faults``; checks reads during faults, returns what was acknowledged."""
    eng = Engine.open(directory, clock=lambda: NOW_MS)
    layer = FaultyOps(faults)
    saved, files.ops = files.ops, layer
    acked: list[int] = []
    errored: list[int] = []
    try:
        for b in range(BATCHES):
            try:
                report = eng.ingest(_rows(b))
            except (StorageFullError, StorageError):
                errored.append(b)
                eng.events()  # reads keep working while writes fail
                continue
            assert report.accepted == 1 + b % 5 and not report.rejected
            acked.append(b)
            if b % 6 == 5:
                try:
                    eng.compact()
                except OSError:
                    pass  # an explicit compaction may fail; the data stays where it was
        eng.close()
    finally:
        files.ops = saved
    return Trial(acked, errored, layer.injected)


def check_directory(directory: Path, trial: Trial) -> None:
    eng = Engine.open(directory, clock=lambda: NOW_MS)
    try:
        table = eng.events()
        counts = Counter(table.column("batch").to_pylist()) if table.num_rows else Counter()
        last = eng.user_properties()
    finally:
        eng.close()
    for b in trial.acked:
        assert counts.get(b) == 1 + b % 5, f"acknowledged batch {b} lost or partial: {counts.get(b)}"
    for b in trial.errored:
        assert b not in counts, f"batch {b} got an error but is stored"
    assert set(counts) == set(trial.acked)
    newest: dict[str, tuple[int, int]] = {}  # user -> (time, batch): the latest time wins, ties the later row
    for b in trial.acked:
        for row in _rows(b):
            newest[row["user_id"]] = max(newest.get(row["user_id"], (-1, -1)), (row["time"], b))
    assert {u: p["last"] for u, p in last.items()} == {u: b for u, (_, b) in newest.items()}


def faults_for(cls: str, at: int, repeat: int, partial: int) -> list[Fault]:
    op, err, _ = CLASSES[cls]
    if op == "write+truncate":
        return [Fault("write", at, err, 1, partial), Fault("truncate", 0, errno.EIO, 1)]
    return [Fault(op, at, err, repeat, partial)]


@pytest.fixture(autouse=True)
def _small_tiers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_mod, "SEAL_BATCHES", 3)
    monkeypatch.setattr(store_mod, "MERGE_FANIN", 2)
    monkeypatch.setattr(store_mod, "RETRY_MAX_S", 0.0)  # retry failed seals at the next batch


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    cls=st.sampled_from(sorted(CLASSES)),
    at=st.integers(0, 60),
    repeat=st.integers(1, 6),
    partial=st.integers(1, 400),
)
def test_faults_lose_nothing_acknowledged_and_resurrect_nothing(
    tmp_path_factory: pytest.TempPathFactory, cls: str, at: int, repeat: int, partial: int
) -> None:
    directory = tmp_path_factory.mktemp("faults")
    faults = faults_for(cls, at, min(repeat, CLASSES[cls][2]), partial)
    trial = run_trial(directory, faults)
    check_directory(directory, trial)
    assert trial.acked[-1] == BATCHES - 1, "ingest did not resume after the fault"


def test_disk_full_is_storage_full_error_and_nothing_of_the_batch_is_stored(tmp_path: Path) -> None:
    eng = Engine.open(tmp_path, clock=lambda: NOW_MS)
    eng.ingest(_rows(0))
    saved, files.ops = files.ops, FaultyOps([Fault("write", 0, errno.ENOSPC, 1, partial=30)])
    try:
        with pytest.raises(StorageFullError, match="no space left"):
            eng.ingest(_rows(1))
    finally:
        files.ops = saved
    assert Counter(eng.events().column("batch").to_pylist()) == {0: 1}
    eng.ingest(_rows(2))
    eng.close()
    eng = Engine.open(tmp_path, clock=lambda: NOW_MS)
    assert Counter(eng.events().column("batch").to_pylist()) == {0: 1, 2: 3}
    eng.close()


def test_a_failing_seal_after_the_log_append_is_reported_not_raised(tmp_path: Path) -> None:
    """The batch is durable once logged: a seal failing behind it is retried, never its error."""
    eng = Engine.open(tmp_path, clock=lambda: NOW_MS)
    saved, files.ops = files.ops, FaultyOps([Fault("replace", 0, errno.ENOSPC, 1000)])
    try:
        for b in range(5):  # the third batch triggers a seal, which fails at its first rename
            assert eng.ingest(_rows(b)).accepted == 1 + b % 5
    finally:
        files.ops = saved
    health = eng.store.health
    assert health.background_failures >= 1 and health.pending_retry
    assert "seal" in (health.last_background_error or "")
    eng.ingest(_rows(5))  # the retry succeeds now
    assert not eng.store.health.pending_retry and eng.store.sealed
    eng.close()
    eng = Engine.open(tmp_path, clock=lambda: NOW_MS)
    assert set(eng.events().column("batch").to_pylist()) == set(range(6))
    eng.close()


def fault_table(trials_per_class: int, root: Path, seed: int = 0) -> list[dict]:
    """Per fault class: trials, faults injected, batches acknowledged / errored, lost and resurrected."""
    import random

    rng = random.Random(seed)
    rows = []
    for cls in sorted(CLASSES):
        stats = Counter()
        for i in range(trials_per_class):
            directory = root / f"{cls}-{i}"
            faults = faults_for(cls, rng.randrange(60), rng.randint(1, CLASSES[cls][2]), rng.randint(1, 400))
            trial = run_trial(directory, faults)
            eng = Engine.open(directory, clock=lambda: NOW_MS)
            table = eng.events()
            present = set(table.column("batch").to_pylist()) if table.num_rows else set()
            eng.close()
            stats["trials"] += 1
            stats["injected"] += trial.injected
            stats["acknowledged"] += len(trial.acked)
            stats["errored"] += len(trial.errored)
            stats["lost"] += len(set(trial.acked) - present)
            stats["resurrected"] += len(set(trial.errored) & present)
        rows.append({"fault": cls, **stats})
    return rows
