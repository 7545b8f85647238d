"""Running a benchmark script at a tiny size, for the smoke tests (no timing is asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
BENCHMARKS = REPO / "benchmarks"
CI_RESULTS = BENCHMARKS / "results" / "ci"
"""Where the smoke runs whose figures CI keeps write their JSON."""


def run_bench(script: str, *args: str, timeout: float) -> None:
    """``python benchmarks/SCRIPT ARGS...``, which must exit with status 0 (its output says why not)."""
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args],
        capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr


def bench_json(script: str, *args: str, out: Path, timeout: float = 600) -> Any:
    """:func:`run_bench` with ``--out OUT``, then the JSON it wrote there."""
    out.parent.mkdir(parents=True, exist_ok=True)
    run_bench(script, *args, "--out", str(out), timeout=timeout)
    return json.loads(out.read_text())
