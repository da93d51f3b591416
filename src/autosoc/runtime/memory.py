"""Process-wide allocator settings for batch work (``autosoc hunt`` and its benchmark).

A hunt allocates and frees the same large buffers batch after batch: the decoder's columns (16
bytes of views per row and column, a few hundred kilobytes each), the JSON lines, Polars' copies.
glibc serves blocks from about 128 KiB up (its threshold grows with use) with ``mmap`` and returns
them to the system on ``free``, and trims the heap's free top: each batch then faults its pages in
anew, zeroed by the kernel and cold in the caches.  :func:`keep_freed_memory` raises both
thresholds, so large blocks come from the heap and stay there for the next batch (measured on the
benchmark's 100,000-event slice: about a third fewer page faults).  The process keeps its peak
memory until it exits, which a batch command is about to do anyway.
"""

from __future__ import annotations

import ctypes
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: glibc's ceiling for the mmap threshold on 64-bit (DEFAULT_MMAP_THRESHOLD_MAX)
MMAP_THRESHOLD = 32 << 20
TRIM_THRESHOLD = 1 << 30


def keep_freed_memory() -> bool:
    """Large blocks from the heap and freed memory kept (glibc only); whether it was applied."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the process's own C library
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
