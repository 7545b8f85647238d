"""Process-wide malloc settings for the processes cohortd owns (the server and the CLI).

A bulk load or a seal allocates and frees columns of tens of megabytes per batch.
glibc serves each allocation above its mmap threshold (at most 32 MiB, adapting)
with a fresh ``mmap`` and returns it on ``free``, so every batch faults its pages in
again and the kernel zeroes them: measured on the 10M-event ingest, a quarter of the
CPU time went to zeroing pages.  Raising the mmap and trim thresholds keeps freed
blocks in the heap for the next batch.  Only the server and the CLI call this (a
library embedding the engine keeps its host's settings); the cost is that the heap
keeps up to ``TRIM_BYTES`` of freed memory instead of returning it at once.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_BYTES = 1 << 30  # allocations above this still get their own mapping
TRIM_BYTES = 1 << 30  # free memory at the top of the heap kept for reuse


def keep_freed_memory() -> bool:
    """Keep freed large blocks for reuse (glibc only); True when the settings took."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_BYTES)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_BYTES))
