"""``keep_freed_memory``: a freed 64 MiB block is reused, not faulted in again (glibc).

In a fresh interpreter each, without and with the setting: allocate, touch and free a
64 MiB array, then do it again and count the minor page faults of the second time.
Without the setting glibc maps the block afresh (every page faults again); with it the
block comes back from the heap.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = """
import resource, sys
import numpy as np
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
print(took, faults() - before)
"""


def _second_allocation_faults(mode: str) -> tuple[str, int]:
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True)
    took, faults = out.stdout.split()
    return took, int(faults)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_freed_block_is_reused_only_with_the_setting() -> None:
    pages = (64 << 20) // 4096
    _, plain = _second_allocation_faults("plain")
    took, kept = _second_allocation_faults("keep")
    assert took == "True"
    assert plain > pages // 2, f"without the setting the block should fault again ({plain} faults)"
    assert kept < pages // 10, f"with the setting the block should be reused ({kept} faults)"
