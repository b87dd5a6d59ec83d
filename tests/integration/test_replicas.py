"""Several processes of one service (PAHT_REPLICAS): SQLite writers take turns through a file lock, one relay
leads, and the edge shares requests among the processes and passes over one that cannot be reached."""
from __future__ import annotations

import fcntl
import os
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, Request

from paht.runtime.db import make_engine
from paht.runtime.edge import UVICORN_OPTIONS, build_edge_app
from paht.runtime.events.relay import OutboxRelay
from paht.runtime.settings import SERVICES, Settings
from paht.runtime.supervisor import free_port
from services.intake.bootstrap import SPEC
from tests.integration.test_edge import Served
from tests.support.services import migrated_context
from tests.support.services import test_settings as settings_in

pytestmark = pytest.mark.integration


def test_replica_counts_come_from_one_setting():
    assert Settings(replicas="intake=2, publication=3").replica_counts() == {**dict.fromkeys(SERVICES, 1), "intake": 2, "publication": 3}
    assert Settings(replicas="").replica_counts() == dict.fromkeys(SERVICES, 1)
    for bad in ("intake", "intake=0", "intake=x", "nothing=2", "intake=99"):
        with pytest.raises(ValueError, match="PAHT_REPLICAS"):
            Settings(replicas=bad).replica_counts()


@pytest.fixture
def on_sqlite(tmp_path, monkeypatch) -> Settings:
    """The embedded database whatever the run's backend: file locks are SQLite's (PostgreSQL has its own locks)."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    settings = settings_in(tmp_path)
    assert settings.database_url is None
    return settings


def held_by_someone(lock_file: Path) -> bool:
    fd = os.open(lock_file, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def test_a_write_transaction_holds_the_file_lock_other_processes_wait_on(on_sqlite):
    ctx = migrated_context(SPEC, on_sqlite)
    lock_file = Path(ctx.engine.url.database + ".writer-lock")
    assert not held_by_someone(lock_file)
    with ctx.engine.begin() as conn:  # a write transaction (BEGIN IMMEDIATE)
        conn.exec_driver_sql("SELECT 1")
        assert held_by_someone(lock_file)  # another process's writer would wait here, not poll SQLite
    assert not held_by_someone(lock_file)
    with ctx.engine.connect().execution_options(paht_read_only=True) as conn:  # a reader never takes it
        conn.exec_driver_sql("SELECT 1")
        assert not held_by_someone(lock_file)
        conn.rollback()
    ctx.engine.dispose()


def test_one_relay_leads_per_database_file_and_another_takes_over_when_it_stops(on_sqlite):
    ctx = migrated_context(SPEC, on_sqlite)
    other_engine = make_engine(ctx.settings, "intake")  # as another process of intake would open it
    outbox = ctx.spec.event_tables["outbox"]
    first, second = OutboxRelay(ctx.engine, outbox, js=None), OutboxRelay(other_engine, outbox, js=None)
    assert first._holds_leadership() and not second._holds_leadership()
    first.close()
    assert second._holds_leadership() and not first._holds_leadership()
    second.close()
    other_engine.dispose()
    ctx.engine.dispose()


def whoami(label: str) -> FastAPI:
    app = FastAPI()

    @app.get("/api/intake/v1/who")
    async def who(request: Request):
        return {"process": label}

    return app


def test_the_edge_shares_requests_among_processes_and_passes_over_one_that_is_down(tmp_path):
    a, b = Served(whoami("a")), Served(whoami("b"))
    down = f"http://127.0.0.1:{free_port()}"  # nothing listens: a process being restarted
    settings = Settings(env="test", data=tmp_path)
    edges = [Served(build_edge_app({**{s: a.url for s in SERVICES}, "intake": [a.url, b.url]}, None, settings), **UVICORN_OPTIONS),
             Served(build_edge_app({**{s: a.url for s in SERVICES}, "intake": [a.url, down]}, None, settings), **UVICORN_OPTIONS)]
    try:
        with httpx.Client(timeout=10) as client:
            shared = [client.get(f"{edges[0].url}/api/intake/v1/who").json()["process"] for _ in range(20)]
            assert shared.count("a") == shared.count("b") == 10
            passed_over = [client.get(f"{edges[1].url}/api/intake/v1/who") for _ in range(10)]
            assert {r.status_code for r in passed_over} == {200} and {r.json()["process"] for r in passed_over} == {"a"}
    finally:
        for s in (*edges, a, b):
            s.stop()
