"""The router's log of percentile cohorts (``cohortd.cluster.percentiles``): members at a version
plus the changes after it are the members now, whatever order refreshes and versions come in."""

from __future__ import annotations

import itertools
from pathlib import Path

from cohortd.cluster.percentiles import PercentileLog


def test_a_change_is_logged_after_every_version_handed_out(tmp_path: Path) -> None:
    log = PercentileLog(tmp_path / "percentiles.sqlite")
    versions = itertools.count(7)
    try:
        assert log.record("power", 5, 1, ["a", "b"], lambda: next(versions)) == 5
        # unchanged at a later cluster version: a reader now holds ["a", "b"] at version 6
        at = log.record("power", 6, 2, ["a", "b"], lambda: next(versions))
        assert at == 6
        # a refresh that read the shard versions (6) before an ingest, and the members after it
        logged = log.record("power", 6, 3, ["a", "c"], lambda: next(versions))
        assert logged == 7
        changes = log.changes("power", at, 100)
        assert [(c.version, c.entered, c.exited) for c in changes] == [(7, ["c"], ["b"])]
    finally:
        log.close()
