"""Password hashing never starves dispatch (issue 5, item 2): a real HTTP server keeps answering topics
quickly while parallel wrong sign-ins keep the hashing pool full, and attempts beyond the pool get 503 at once."""
from __future__ import annotations

import asyncio
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from paht.runtime.errors import Unavailable
from services.dispatch.adapters.hashing import HashingPool
from services.dispatch.bootstrap import SPEC, build_http, seed
from tests.support.live_server import live_server
from tests.support.services import migrated_context

pytestmark = pytest.mark.integration


@pytest.fixture
def dispatch(settings):
    ctx = migrated_context(SPEC, settings.model_copy(update={"demo_password": "mật-khẩu-thử"}))
    seed(ctx)
    yield ctx
    ctx.engine.dispose()


def test_topics_stay_fast_while_32_parallel_wrong_sign_ins_saturate_hashing(dispatch):
    """Before the pool, topics took 4–6 s (13–17 s on this 2-core machine under load) while 32 sign-ins hashed."""
    app = build_http(dispatch)
    stop, sign_ins, latencies = threading.Event(), [], []
    with live_server(app) as url:
        def guesser(n: int) -> None:
            with httpx.Client(base_url=url, timeout=30) as http:
                i = 0
                while not stop.is_set():  # each guess from its own address and name: the throttle lets them all through
                    i += 1
                    headers = {"X-Forwarded-For": f"10.{n}.{i // 250}.{i % 250}"}
                    r = http.post("/auth/token", data={"username": f"nobody-{n}-{i}", "password": "sai"}, headers=headers)
                    sign_ins.append((r.status_code, time.monotonic()))
                    if r.status_code == 503:
                        time.sleep(0.1)  # 32 callers always keep the pool and its queue full; the pause only spares this process's CPU

        with ThreadPoolExecutor(32) as pool, httpx.Client(base_url=url, timeout=30) as reader:
            for n in range(32):
                pool.submit(guesser, n)
            time.sleep(0.5)  # the pool is full by now
            began_at = time.monotonic()
            until = began_at + 4
            while time.monotonic() < until:
                began = time.monotonic()
                r = reader.get("/api/dispatch/v1/topics")
                latencies.append(time.monotonic() - began)
                assert r.status_code == 200 and len(r.json()["items"]) == 21
                time.sleep(0.05)
            ended_at = time.monotonic()
            stop.set()
    statuses = [s for s, _ in sign_ins]
    assert set(statuses) <= {401, 503} and statuses.count(503) > 0  # beyond the pool: refused at once
    hashed_meanwhile = [at for s, at in sign_ins if s == 401 and began_at < at < ended_at]
    assert len(hashed_meanwhile) >= 4 and max(hashed_meanwhile) > (began_at + ended_at) / 2  # hashing ran all along
    assert len(latencies) >= 10 and max(latencies) < 1.5 and statistics.median(latencies) < 0.5, (max(latencies), statistics.median(latencies))


def test_the_pool_refuses_at_once_beyond_its_workers_and_queue():
    pool, gate = HashingPool(workers=1, queue=1), threading.Event()

    async def scenario():
        running = [asyncio.ensure_future(pool.run(gate.wait, 5)) for _ in range(2)]
        await asyncio.sleep(0.05)
        began = time.monotonic()
        with pytest.raises(Unavailable):
            await pool.run(gate.wait, 5)
        assert time.monotonic() - began < 0.05 and pool.busy == 2
        gate.set()
        assert await asyncio.gather(*running) == [True, True]
        assert pool.busy == 0 and await pool.run(lambda: "free again") == "free again"

    asyncio.run(scenario())
    pool.close()
