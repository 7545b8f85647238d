"""Power loss: only what was fsync'd survives, and that is enough.

SIGKILL keeps the page cache, so the crash tests pass even without fsyncs.
Here the store runs on :class:`support.faultfs.PowerLossOps`, which records which file
contents and directory entries were made durable; the workload (a new project,
ingests, automatic and explicit seals, merges) is cut at a random operation,
and the directory a power cut would leave is rebuilt from the durable state
only.  Checks after reopening it: every acknowledged batch is there in full,
every batch that is there at all is whole.

``test_removing_any_fsync_is_noticed`` drops each fsync call site in turn and
demands that the same checks fail, so the first test cannot pass by accident.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from cohortd import Engine
from cohortd.storage import files
from cohortd.storage import store as store_mod
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.faultfs import PowerCut, PowerLossOps

NOW_MS = 1_780_000_000_000
WEEK_MS = 7 * 86_400_000
BATCHES = 14


def _rows(b: int) -> list[dict]:
    size = 1 + b % 4
    # batches spread over several weeks: seals write several time partitions, merges happen
    t = NOW_MS - (b % 3) * WEEK_MS - 10_000 + b
    return [
        {"user_id": f"u{b}-{n}", "event_type": f"e{b % 3}", "time": t, "batch": b, "n": n, "size": size}
        for n in range(size)
    ]


def _workload(root: Path, acked: list[int], seal: bool = True) -> None:
    """Ingest numbered batches into a new project; ``acked`` gets every batch whose ingest returned."""
    eng = Engine.open(root / "proj" / "events", clock=lambda: NOW_MS)
    for b in range(BATCHES if seal else 2):  # without seal: fewer than SEAL_BATCHES
        eng.ingest(_rows(b))
        acked.append(b)
        if seal and b in (6, 11):
            eng.compact()
    eng.close()


def _check(directory: Path, acked: list[int]) -> None:
    eng = Engine.open(directory / "proj" / "events", clock=lambda: NOW_MS)
    try:
        table = eng.events()
        if table.num_rows == 0:
            assert not acked, f"acknowledged batches {acked} lost (no events at all)"
            return
        counts = Counter(table.column("batch").to_pylist())
        sizes = dict(zip(table.column("batch").to_pylist(), table.column("size").to_pylist(), strict=True))
    finally:
        eng.close()
    for b in acked:
        assert counts.get(b) == 1 + b % 4, f"acknowledged batch {b} lost ({counts.get(b)} rows)"
    for b, n in counts.items():
        assert n == sizes[b], f"batch {b} half there ({n} of {sizes[b]} rows)"


@pytest.fixture(autouse=True)
def _small_tiers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_mod, "SEAL_BATCHES", 3)  # automatic seals and merges within the workload
    monkeypatch.setattr(store_mod, "MERGE_FANIN", 2)


def _run(tmp: Path, cut_after: int | None, skip: tuple[str, str] | None = None, seal: bool = True):
    root = tmp / "run"
    root.mkdir(parents=True)
    layer = PowerLossOps(root, cut_after=cut_after, skip_fsync_in=skip)
    acked: list[int] = []
    saved = files.ops
    files.ops = layer
    try:
        _workload(root, acked, seal)
    except PowerCut:
        pass
    finally:
        files.ops = saved
    return layer, acked


_TOTAL: list[int] = []


def _total_ops(tmp: Path) -> int:
    """Operations of the whole workload (measured once)."""
    if not _TOTAL:
        layer, acked = _run(tmp, None)
        assert acked == list(range(BATCHES))
        _TOTAL.append(layer.ops_done)
    return _TOTAL[0]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.floats(0, 1), policy=st.sampled_from(["synced", "deletes"]))
def test_power_cut_at_any_operation_keeps_every_acknowledged_batch(
    tmp_path_factory: pytest.TempPathFactory, cut: float, policy: str
) -> None:
    tmp = tmp_path_factory.mktemp("cut")
    total = _total_ops(tmp / "a")
    layer, acked = _run(tmp / "b", int(cut * total))
    layer.materialize(tmp / "after", policy)
    _check(tmp / "after", acked)


def test_no_cut_no_loss(tmp_path: Path) -> None:
    layer, acked = _run(tmp_path, None)
    for policy in ("synced", "deletes"):
        layer.materialize(tmp_path / policy, policy)
        _check(tmp_path / policy, acked)


FSYNC_SITES = [
    ("WriteAheadLog.append", "fsync"),  # the log record itself
    ("WriteAheadLog.__init__", "fsync_dir"),  # a new log's directory entry
    ("atomic_write", "fsync"),  # segment / dictionary / manifest contents before the rename
    ("atomic_write", "fsync_dir"),  # the rename into place
    ("make_dirs", "fsync_dir"),  # a new project's directories
]


@pytest.mark.parametrize("site", FSYNC_SITES, ids=["::".join(s) for s in FSYNC_SITES])
def test_removing_any_fsync_is_noticed(tmp_path: Path, site: tuple[str, str]) -> None:
    """With one fsync call site removed, some power cut loses an acknowledged batch or the open fails."""
    failures, skipped = [], 0
    for seal in (False, True):
        tmp = tmp_path / f"seal-{seal}"
        layer, acked = _run(tmp, None, skip=site, seal=seal)
        skipped += layer.skipped
        for policy in ("synced", "deletes"):
            out = tmp / policy
            layer.materialize(out, policy)
            try:
                _check(out, acked)
            except (AssertionError, Exception) as exc:  # noqa: BLE001 - any failure counts as noticed
                failures.append((seal, policy, type(exc).__name__))
    assert skipped, f"{site} was never called: the list of fsync sites is out of date"
    assert failures, f"removing the fsync in {site} went unnoticed"
