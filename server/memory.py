"""Give freed memory back to the operating system after a large photo goes away.

    large_blocks_to_os()  # once, at start-up: big blocks (decoded photos) go back to the OS when freed
    release_memory()      # after a photo's pixels are dropped (cancel, failure, delete, expiry)

Decoding and resizing a 4096² photo allocates many blocks below glibc's mmap threshold in the arenas
of the worker threads that did it; once freed they stay in those arenas, so the process kept ~300 MB
it no longer used after a few upload-then-cancel rounds (benchmarks/photo_memory.py). `malloc_trim`
returns the free parts of every arena. Elsewhere than glibc this does nothing.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools

__all__ = ["release_memory", "large_blocks_to_os"]

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number
LARGE = 8 * 2**20


@functools.lru_cache(maxsize=1)
def _libc():
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name) if name else None
    except OSError:
        return None


def large_blocks_to_os(threshold: int = LARGE) -> bool:
    """Serve every allocation of `threshold` bytes or more from its own mapping, returned to the OS on free.

    glibc raises its mmap threshold each time a mapped block is freed (up to 32 MB), so after the first
    photo, the 16 MB blocks Pillow decodes into came from the arenas and stayed there. A fixed threshold
    keeps them mapped; frames and activations of a render are far smaller, so rendering is unaffected."""
    libc = _libc()
    if libc is None or not hasattr(libc, "mallopt"):
        return False
    return bool(libc.mallopt(M_MMAP_THRESHOLD, int(threshold)))


@functools.lru_cache(maxsize=1)
def _trim():
    libc = _libc()
    return libc.malloc_trim if libc is not None and hasattr(libc, "malloc_trim") else None


def release_memory() -> bool:
    """True when the allocator was asked to return free memory (glibc); a few ms for a large heap."""
    trim = _trim()
    if trim is None:
        return False
    trim(0)
    return True
