"""pytest-benchmark suite: seed cohorts and raw kernels, Rust next to Numba in the same run.

Off by default (``--benchmark-disable`` in pyproject); ``make bench`` turns it on
and writes ``benchmarks/results/pytest-benchmark.json``.  Sizes come from
``COHORTD_BENCH_USERS`` / ``COHORTD_BENCH_EVENTS`` (default 100k users, 2M events).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from cohortd import Engine
from cohortd.engine.kernels import get_kernel
from cohortd.synth import generate

USERS = int(os.environ.get("COHORTD_BENCH_USERS", "100000"))
EVENTS = int(os.environ.get("COHORTD_BENCH_EVENTS", "2000000"))

SEED_COHORTS = {
    "new_users_l7": 'first did(any) in last 7d and did("Session Start") < 3 in last 7d',
    "power_users": "top 20% by count(any) in last 30d",
    "churning": "did(any) between 90d ago and 60d ago and not did(any) in last 30d",
    "upgrade_ready": 'did("paywall_modal_viewed") >= 3 in last 14d and user.plan == "free" '
    "and user.projects_created > 4",
    "activation": 'sequence("Signup Submitted", "First Feature Used") within 7d in last 30d '
    'and not did("Subscription Started") in last 30d',
    "revenue": 'sum(revenue, "Purchase") > 100 in last 90d',
}


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Engine, int]:
    root: Path = tmp_path_factory.mktemp("bench")
    summary = generate(USERS, 120, 7, root / "events.parquet", progress=False, target_events=EVENTS)
    engine = Engine.open(root / "data")
    engine.ingest_file(summary.events_path)
    engine.ingest_file(summary.users_path, users=True)
    engine.compact()
    yield engine, summary.end_ms
    engine.close()


@pytest.mark.parametrize("kernel", ["rust", "numba"])
@pytest.mark.parametrize("cohort", sorted(SEED_COHORTS))
def test_seed_cohort(benchmark, loaded, cohort: str, kernel: str) -> None:  # type: ignore[no-untyped-def]
    engine, as_of = loaded
    engine.evaluate(SEED_COHORTS[cohort], as_of=as_of, kernel=kernel)  # warm (Numba compiles here)
    result = benchmark(engine.evaluate, SEED_COHORTS[cohort], as_of=as_of, kernel=kernel)
    assert result.size == engine.evaluate(SEED_COHORTS[cohort], as_of=as_of, kernel="rust").size


@pytest.mark.parametrize("kernel", ["rust", "numba"])
def test_count_kernel(benchmark, kernel: str) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    users = [rng.integers(0, 1_000_000, 5_000_000, dtype=np.uint32) for _ in range(2)]
    times = [rng.integers(0, 10**9, 5_000_000, dtype=np.int64) for _ in range(2)]
    k = get_kernel(kernel)
    k.count(users, times, 0, 5 * 10**8, 1_000_000)
    counts = benchmark(k.count, users, times, 0, 5 * 10**8, 1_000_000)
    assert int(counts.sum()) == sum(int(((t >= 0) & (t < 5 * 10**8)).sum()) for t in times)
