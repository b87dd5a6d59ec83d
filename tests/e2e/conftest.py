"""The `paht` fixture: `paht up` as real processes, on every backend this machine offers."""
from __future__ import annotations

import uuid

import pytest

from tests.e2e.harness import BACKENDS, backend_env, cleanup_backend, start_paht, stop_paht


@pytest.fixture(params=BACKENDS)
def paht(request, tmp_path):
    """`paht up` on each backend this machine has: always the embedded default; PostgreSQL + NATS when configured."""
    tag = "e" + uuid.uuid4().hex[:8]
    env = backend_env(request.param, tag)
    env["PAHT_OTEL_EXPORTER"] = f"jsonl:{tmp_path}/traces/{{service}}.jsonl"
    running = start_paht(tmp_path / "data", env)
    yield running
    stop_paht(running)
    cleanup_backend(request.param, tag)
