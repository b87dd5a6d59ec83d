"""Start `paht up` as real processes for end-to-end tests, and drive it over HTTP."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from paht.runtime.supervisor import DEMO_PASSWORD, free_port


@dataclass
class Running:
    proc: subprocess.Popen
    url: str
    data: Path
    started_in: float

    def run_info(self) -> dict:
        return json.loads((self.data / "run.json").read_text())

    def pids(self) -> list[int]:
        """Every process `paht up` started: the node's, and those of the hubs it runs beside it (nodes/<hub>/run.json)."""
        pids = []
        for run in [self.data / "run.json", *sorted((self.data / "nodes").glob("*/run.json"))]:
            info = json.loads(run.read_text())
            pids += [s["pid"] for s in info["services"].values() if s["pid"]]
            if info.get("nats_pid"):
                pids.append(info["nats_pid"])
        return pids


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is not alive
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


BACKENDS = ["embedded"] + (["external"] if os.environ.get("DATABASE_URL") and os.environ.get("NATS_URL") else [])


def backend_env(backend: str, tag: str) -> dict:
    """embedded: SQLite + the bundled nats-server; external: DATABASE_URL + NATS_URL, isolated by schema prefix and node id."""
    if backend == "embedded":
        return {"DATABASE_URL": None, "NATS_URL": None}
    return {"PAHT_DB_SCHEMA_PREFIX": f"{tag}_", "PAHT_NODE_ID": tag}


def start_paht(data: Path, env_extra: dict | None = None, timeout: float = 90.0, args: list[str] | None = None,
               port: int | None = None) -> Running:
    """`paht up --port P --data DATA [args…]`, healthy at P (`args` e.g. ["--with-hub", "donghoi"])."""
    port = port or free_port()
    env = dict(os.environ)
    for key, value in (env_extra or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    env.pop("PAHT_PORT", None)
    # every test's citizens ask for SMS codes from 127.0.0.1: one address, far beyond a real person's hourly limit
    env.setdefault("PAHT_OTP_PER_ADDRESS_HOUR", "100000")
    log = (data.parent / f"{data.name}-up.log").open("ab")
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "paht.runtime.cli", "up", "--port", str(port), "--data", str(data), *(args or [])],
                            env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)  # its own process group, like a terminal's foreground job
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"paht up exited with {proc.returncode}: {(data.parent / f'{data.name}-up.log').read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return Running(proc, url, data, time.monotonic() - t0)
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # the whole group: `paht up` and every process it started (its own session)
    proc.wait(timeout=30)
    raise AssertionError(f"paht up did not become healthy in time: {(data.parent / f'{data.name}-up.log').read_text()[-3000:]}")


def stop_paht(running: Running, ctrl_c: bool = False) -> None:
    """Stop with SIGTERM to `paht up`, or like Ctrl-C in a terminal (SIGINT to the whole process group)."""
    pids = running.pids() if (running.data / "run.json").exists() else []
    if ctrl_c:
        os.killpg(running.proc.pid, signal.SIGINT)
    else:
        running.proc.send_signal(signal.SIGTERM)
    running.proc.wait(timeout=30)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.1)
    left = [p for p in pids if alive(p)]
    assert not left, f"processes left behind after SIGTERM: {left}"


def cleanup_backend(backend: str, tag: str) -> None:
    if backend == "external":
        from tests.conftest import _delete_streams, _drop_schemas

        _drop_schemas(f"{tag}_")
        _delete_streams(tag)


CITIZEN = "citizen"  # who="citizen": the demo reporter, signed in by SMS code (the walkthrough's phone)
_CITIZENS: dict[str, dict] = {}  # base URL -> the citizen's session header: one code per running PAHT


def citizen_headers(http: httpx.Client) -> dict:
    """The demo citizen's app session on this PAHT (its phone proved once, by the development SMS outbox)."""
    from paht.runtime.walkthrough import REPORT
    from tests.support.reporters import signed_in_over_http

    url = str(http.base_url)
    if url not in _CITIZENS:
        _CITIZENS[url] = signed_in_over_http(http, REPORT["reporter"]["phone"])
    return _CITIZENS[url]


class Client:
    """A person using PAHT over HTTP: signs in, calls the API, waits for events to land."""

    def __init__(self, url: str):
        self.http = httpx.Client(base_url=url, timeout=10)
        self.tokens: dict[str, str] = {}

    def sign_in(self, username: str) -> str:
        r = self.http.post("/auth/token", data={"username": username, "password": DEMO_PASSWORD})
        assert r.status_code == 200, r.text
        self.tokens[username] = r.json()["access_token"]
        return self.tokens[username]

    def as_(self, username: str) -> dict:
        if username == CITIZEN:
            return citizen_headers(self.http)
        if username not in self.tokens:
            self.sign_in(username)
        return {"Authorization": f"Bearer {self.tokens[username]}"}

    def post(self, path: str, who: str | None = None, **kw) -> httpx.Response:
        return self.http.post(path, headers=self.as_(who) if who else None, **kw)

    def get(self, path: str, who: str | None = None, **kw) -> httpx.Response:
        return self.http.get(path, headers=self.as_(who) if who else None, **kw)

    def wait_for(self, path: str, who: str | None = None, check=lambda r: r.status_code == 200, timeout: float = 20.0) -> httpx.Response:
        deadline = time.monotonic() + timeout
        while True:
            r = self.get(path, who)
            if check(r):
                return r
            if time.monotonic() > deadline:
                raise AssertionError(f"{path} never became ready: {r.status_code} {r.text[:500]}")
            time.sleep(0.05)
