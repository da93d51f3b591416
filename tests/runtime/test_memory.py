"""The allocator settings for batch work take effect where glibc is the C library."""

from __future__ import annotations

import platform
import sys

from autosoc.runtime.memory import keep_freed_memory


def test_keep_freed_memory_applies_under_glibc() -> None:
    applied = keep_freed_memory()
    if sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc":
        assert applied
    else:
        assert not applied
    big = [bytearray(1 << 20) for _ in range(8)]  # large blocks still allocate and free
    assert sum(map(len, big)) == 8 << 20
