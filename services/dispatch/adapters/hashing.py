"""Password checks run in their own small pool, so a burst of sign-ins can never starve other requests.

argon2 is made to be slow and memory-hungry. Run on the shared thread pool, 32 parallel wrong
sign-ins held every thread and made topics and the queue answer in seconds. Here at most `workers`
checks run at once, at a lower CPU priority than request handling, and `queue` more may wait; any
attempt beyond is refused at once (503), without touching the database or the CPU.
"""
from __future__ import annotations

import asyncio
import contextvars
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, TypeVar

from paht.runtime.errors import Unavailable

T = TypeVar("T")
NICE = 10  # sign-in waits a little under load; topics, queues and citizens' submissions do not


def _yield_the_cpu() -> None:
    """Lower this worker's CPU priority (Linux: per thread; argon2's own threads inherit it), so requests go first."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICE)
    except (AttributeError, OSError):  # not Linux, or not allowed: the bounded pool still holds
        pass


class HashingPool:
    def __init__(self, workers: int = 2, queue: int = 8):
        self._executor = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="sign-in", initializer=_yield_the_cpu)
        self._slots = max(1, workers) + max(0, queue)
        self._taken = 0
        self._lock = threading.Lock()

    @property
    def busy(self) -> int:
        """How many attempts are running or waiting now."""
        with self._lock:
            return self._taken

    async def run(self, work: Callable[..., T], *args) -> T:
        """Run `work(*args)` in the pool; raise Unavailable at once when the pool and its queue are full."""
        with self._lock:
            if self._taken >= self._slots:
                raise Unavailable(
                    "Too many sign-ins at this moment; try again in a few seconds.",
                    "Đang có quá nhiều lượt đăng nhập cùng lúc; vui lòng thử lại sau vài giây.",
                )
            self._taken += 1
        context = contextvars.copy_context()  # the request's trace follows the work into the pool
        future = self._executor.submit(context.run, work, *args)
        future.add_done_callback(self._release)  # when the work ends, not when a cancelled request stops waiting
        return await asyncio.wrap_future(future)

    def _release(self, _future) -> None:
        with self._lock:
            self._taken -= 1

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
