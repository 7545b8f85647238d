"""Process-wide malloc settings for a process that bulk-loads files (``cohortd ingest FILE``).

A bulk load allocates and frees columns of tens of megabytes per batch.  glibc
serves each allocation above its mmap threshold (at most 32 MiB, adapting) with a
fresh ``mmap`` and returns it on ``free``, and Arrow's default pool (mimalloc) purges
freed pages back to the OS, so every batch faults its pages in again and the kernel
zeroes them: measured on the 10M-event ingest, a quarter to a third of the CPU time
went to zeroing pages.  Raising glibc's mmap and trim thresholds keeps freed blocks in
the heap for the next batch, and Arrow then allocates from glibc too (``bulk ingest``
in benchmarks/README.md has the figures).  The cost: each heap keeps up to
``TRIM_BYTES`` of freed memory instead of returning it at once, and aligned
allocations leave gaps (the 10M-event load peaked at 2.0 GB resident, not 1.45).

Only the CLI's local ingest calls this; a library embedding the engine keeps its
host's settings, and so does the server: its many threads streaming requests ran
slower on glibc's pool (``IngestStream`` 1.3M events/s instead of 1.7M, measured back to back).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

import pyarrow as pa

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_BYTES = 256 << 20  # allocations above this still get their own mapping
TRIM_BYTES = 256 << 20  # free memory at the top of a heap (one per arena) kept for reuse


def keep_freed_memory() -> bool:
    """Keep freed large blocks for reuse, Arrow's too (glibc only); True when the settings took."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    if not (mallopt(M_MMAP_THRESHOLD, MMAP_BYTES) and mallopt(M_TRIM_THRESHOLD, TRIM_BYTES)):
        return False
    pa.set_memory_pool(pa.system_memory_pool())
    return True
