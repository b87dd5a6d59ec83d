"""A long-running PAHT process's memory: the garbage collector kept off what lives for the whole process, and the C
heap's free pages handed back to the system. Every service (paht/runtime/host.py) and the edge use it."""
from __future__ import annotations

import asyncio
import gc


def settle() -> None:
    """Take what a process has built so far out of the garbage collector's full passes: collect once, then freeze the
    survivors (gc.freeze). A service holds ~130,000 tracked objects from its imports and set-up for its whole life;
    each full collection walked them all (≈ 75 ms with the interpreter held: every request of the process waited),
    and a busy process's churn (a thousand ORM rows for Open311's default page) set one off every few seconds —
    publication spent 16 % of its interpreter time collecting under the mixed load (decision 0027)."""
    gc.collect()
    gc.freeze()


async def give_back_memory(first_s: float = 20.0, every_s: float = 300.0) -> None:
    """After start-up's first requests, settle() again; then hand the C heap's free pages back to the system now and
    then (glibc's malloc_trim): what imports, migrations and a burst of load freed would otherwise stay in the
    process's resident memory."""
    await asyncio.sleep(first_s)
    settle()  # what the first requests and events built (compiled statements, templates, pools) joins start-up's
    trim = _malloc_trim()
    if trim is None:  # not glibc (musl, macOS): nothing to hand back
        return
    while True:
        await asyncio.to_thread(trim, 0)
        await asyncio.sleep(every_s)


def _malloc_trim():
    import ctypes
    import ctypes.util

    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None
