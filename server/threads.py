"""How the server uses the CPU's cores: torch runs single-threaded in every thread; batches of frames
are split across several render threads instead.

    single_threaded()                  # in the event loop before it runs torch, and first in every worker
    Renderer(threads=default_render_threads())
    own_threads(n)                     # first in a photo job's thread (n = settings.job_threads, default 1)

torch's OpenMP runtime (libgomp) parallelizes one render across cores with a barrier after every layer.
In the server the event loop, the frame encoders and the websocket clients keep taking a core away
from such a team, and every barrier then waits for a preempted thread. Worse, each thread that runs a
parallel op gets a team of its own, and once libgomp manages more threads than cores its workers stop
spinning between regions, and a render thread's frame takes several times longer once the event loop
has run a single multi-threaded op (`benchmarks/threads.py` measures it). With many painters
(`benchmarks/concurrency.py`), single-threaded renders made every renderer faster (the README's
benchmarks table has the figures). A batch of frames from several sessions
still uses every core: it is split into one part per render thread, and the parts never wait for each
other. A photo job runs single-threaded too (settings.job_threads): with two intra-op threads its team
waited at every barrier for a core the render threads held and took many times longer than on one
thread; one thread beside the render threads takes its fair share of the cores and never stalls
(benchmarks/photo_load.py measures both).
"""
from __future__ import annotations

import os
import threading

import torch

__all__ = ["single_threaded", "own_threads", "default_render_threads"]


def single_threaded() -> int:
    """Run torch single-threaded in this thread and, by default, in threads that have not run it yet.
    Returns the intra-op thread count this thread had."""
    n = torch.get_num_threads()  # settles this thread's lazy initialisation, which would undo the next line
    torch.set_num_threads(1)
    return n


def own_threads(n: int) -> None:
    """Give this thread (a photo job's: the only team, since renders are single-threaded) n intra-op
    threads, and leave the default for threads that have not run torch yet at one."""
    torch.get_num_threads()
    torch.set_num_threads(n)
    # torch.set_num_threads also sets that default: put it back from a short-lived thread
    reset = threading.Thread(target=torch.set_num_threads, args=(1,), name="ganpaint-threads")
    reset.start()
    reset.join()


def default_render_threads() -> int:
    """One render thread per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)
