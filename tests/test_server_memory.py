"""server.memory: large blocks leave the process when freed, and free arena memory can be handed back.

The measurement runs in a fresh interpreter: RSS in the test runner's own process moves with whatever
threads earlier tests left behind (render threads, analyses), which made it flaky in the full suite."""
import ctypes.util
import subprocess
import sys
from pathlib import Path

import pytest

glibc = pytest.mark.skipif(ctypes.util.find_library("c") is None, reason="not on glibc")

PROBE = r'''
import numpy as np
from server.memory import large_blocks_to_os, release_memory

def rss_kb():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))

assert large_blocks_to_os()
assert release_memory()
warm = np.ones(12 * 2**20, np.uint8)  # freeing a mapped block would raise glibc's own threshold above 12 MB
del warm
before = rss_kb()
blocks, pins = [], []
for _ in range(4):  # 48 MB in 12 MB blocks (Pillow decodes into 16 MB ones), small live objects between them
    blocks.append(np.ones(12 * 2**20, np.uint8))
    pins.append(np.ones(4096, np.uint8))
grown = rss_kb() - before
del blocks
release_memory()
print(grown, rss_kb() - before)
'''


@glibc
def test_a_freed_photo_sized_buffer_leaves_the_process():
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=root, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    grown, left = map(int, out.stdout.split())
    assert grown > 40_000  # the 48 MB were really held
    assert left < 8_000  # and really left the process
