"""``keep_freed_memory``: a freed 64 MiB block is reused, not faulted in again (glibc).

In a fresh interpreter each, without and with the setting: allocate, touch and free a
64 MiB numpy array, then do it again and count the minor page faults of the second
time.  Without the setting the block is mapped afresh (every page faults again); with it
the block comes back from the heap.  Arrow then allocates from the same heap.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = """
import resource, sys
import numpy as np
import pyarrow as pa
from cohortd.storage.allocator import keep_freed_memory
np._core.multiarray._set_madvise_hugepage(False)  # 4 KiB pages: one fault per page touched
took = keep_freed_memory() if sys.argv[1] == "keep" else None
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
block = np.ones(8 << 20)
del block
before = faults()
block = np.ones(8 << 20)
del block
print(took, faults() - before, pa.default_memory_pool().backend_name)
"""


def _second_allocation_faults(mode: str) -> tuple[str, int, str]:
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True)
    took, faults, arrow_pool = out.stdout.split()
    return took, int(faults), arrow_pool


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_freed_block_is_reused_only_with_the_setting() -> None:
    pages = (64 << 20) // 4096
    _, plain, plain_pool = _second_allocation_faults("plain")
    took, kept, kept_pool = _second_allocation_faults("keep")
    assert took == "True"
    assert plain > pages // 2, f"without the setting the block should fault again ({plain} faults)"
    assert kept < pages // 10, f"with the setting the block should be reused ({kept} faults)"
    assert kept_pool == "system", f"Arrow allocates from {kept_pool} (was {plain_pool})"
