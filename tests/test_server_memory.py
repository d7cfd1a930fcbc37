"""server.memory: large blocks leave the process when freed, and free arena memory can be handed back."""
import ctypes.util

import numpy as np
import pytest

from server.memory import large_blocks_to_os, release_memory

glibc = pytest.mark.skipif(ctypes.util.find_library("c") is None, reason="not on glibc")


def _rss_kb() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


@glibc
def test_a_freed_photo_sized_buffer_leaves_the_process():
    assert large_blocks_to_os()
    assert release_memory()
    warm = np.ones(12 * 2**20, np.uint8)  # freeing a mapped block would raise glibc's own threshold above 12 MB
    del warm
    before = _rss_kb()
    blocks, pins = [], []
    for _ in range(4):  # 48 MB in 12 MB blocks (Pillow decodes into 16 MB ones), small live objects between them
        blocks.append(np.ones(12 * 2**20, np.uint8))
        pins.append(np.ones(4096, np.uint8))
    assert _rss_kb() - before > 40_000
    del blocks
    release_memory()
    assert _rss_kb() - before < 8_000
