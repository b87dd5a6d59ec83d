"""Federation links between a district hub and the province, measured (a spike for the federation work; its findings
are to be written as decision 0024 — work in progress: not yet run to completion on every mode).

Run:  PYTHONPATH=. .venv/bin/python bench/federation_links.py [--quick] [--modes source,kick,durable,pull]
                                                              [--skip-checks] [--only-checks] [--keep]

Starts two nats-servers with JetStream in a temporary folder:

- "province": JetStream domain `province`, a leafnode listener, one account PAHT for PAHT's events, one leafnode
  user per hub (`donghoi`) bound to that account, with permissions that say what the hub may send and receive;
- "donghoi" (the Đồng Hới hub): JetStream domain `donghoi`, a leafnode remote to the province that goes through a
  TCP proxy written here (asyncio), which can cut the link (close every connection, refuse new ones) and heal it.

The config files are written from the templates below (PROVINCE_CONF, HUB_CONF, hub_permissions()) and are kept in
the temporary folder with each server's log (`--keep` leaves the folder in place and prints its path).

Streams as PAHT names them (decision 0008): on the hub PAHT_DONGHOI_HANDLING (`paht.donghoi.handling.>`), on the
province PAHT_PROVINCE_DISPATCH (`paht.province.dispatch.>`). Each side keeps a copy of the other's stream under the
same name in its own domain; how the copy is kept is the "mode":

- source   the province's copy SOURCES the hub's stream, the hub's copy MIRRORS the province's stream; the servers
           manage the (ephemeral) sourcing consumers themselves (stream config `external: {api: "$JS.<d>.API"}`);
- kick     both copies SOURCE (a mirror's config cannot be updated, so it cannot be kicked), plus a watcher on
           each side that polls its server's /leafz and, when a leaf connection comes (back), "kicks" its copy:
           a stream update without the source, then one with it again, which makes the server set the sourcing
           consumer up at once instead of after its health check and back-off;
- durable  as `source`, but through durable push consumers that the ORIGIN creates (ADR-60, nats-server 2.14+:
           `consumer: {name, deliver_subject}` in the source, ack policy flow_control); the copying side only sends
           RESET requests;
- pull     no sourcing: a relay task on each receiving side (what PAHT's sync service would run) pulls from a durable
           pull consumer on the other domain's stream through `$JS.<d>.API`, republishes each event into its local
           copy with the same headers (Nats-Msg-Id dedup), acks the batch; on any doubt it RESETs the consumer to
           the sequence after the last one its copy holds.

Measured for each mode, and printed as tables (nothing is asserted):

 (i)   steady-state lag p50/p95 both ways at ~100 events/s for 20 s (publish time in the payload, read from the copy
       with an ordered push consumer);
 (ii)  catch-up after a partition: cut the link, publish 10,000 events on each side during the cut, keep it cut for
       45 s, heal; time until each copy has every event;
 (iii) hub restart: stop the hub, publish 1,000 events on the province meanwhile (8 s down), start it; time until
       both copies are complete again, an event published on the hub after the restart included;
 (iv)  province restart: the same the other way round;
       each of (ii)-(iv) three times; then every copy is read whole and compared with its origin: lost, duplicated
       and out-of-order (per subject) events.

Checks (once, --skip-checks to leave them out): an event published on the hub during a cut is kept and arrives
exactly once; a duplicate Nats-Msg-Id within the window is stored once, in the origin and in each copy; what a copy
does with a duplicate older than the origin's window (link up, and during a partition); the hub's permissions (it
cannot publish to `paht.province.>`, read province subjects, or call the province's JetStream API beyond its own
consumers; a leaf connection that breaks the rule is closed); what happens without permissions (two domains' streams
binding the same subjects both store a message) and without `no_advertise` (the hub learns the province's own leaf
address and goes around the proxy).

--quick: one round of each scenario, 2,000 events per cut held 10 s, lag for 5 s, 3 s down. The machine's two cores
are shared: the figures are wall times on a loaded box; the shape (seconds vs. minutes) is what matters.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import statistics
import string
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import nats
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    ExternalStream,
    StorageType,
    StreamConfig,
    StreamConsumerSource,
    StreamSource,
    SubjectTransform,
)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from paht.runtime.events.envelope import stream_for  # noqa: E402
from paht.runtime.supervisor import free_port, nats_server_binary  # noqa: E402

PROVINCE, HUB = "province", "donghoi"
HUB_STREAM, HUB_SUBJECTS = stream_for(HUB, "handling")              # PAHT_DONGHOI_HANDLING, paht.donghoi.handling.>
PROV_STREAM, PROV_SUBJECTS = stream_for(PROVINCE, "dispatch")       # PAHT_PROVINCE_DISPATCH, paht.province.dispatch.>
HUB_EVENTS = ["CaseAssigned", "ResultDrafted", "ResultApproved", "CaseRefusedByUnit", "ClarificationGiven"]
PROV_EVENTS = ["ReportDispatched", "TaxonomyPublished", "DirectoryPublished"]
DUPLICATE_WINDOW_S = 600  # PAHT_NATS_DUPLICATE_WINDOW_S, every PAHT stream

# Deliveries of the copies' consumers cross the link on per-hub subjects, so that the hub's permissions can name them.
TO_PROVINCE = f"fed.{HUB}.in"    # hub → province (the province's copies of hub streams)
TO_HUB = f"fed.{HUB}.out"        # province → hub (the hub's copies of province streams)
COPY_PREFIX = "fed.copy"         # pull mode: the local copy binds fed.copy.<node>.<service>.> and stores paht.…

PASSWORDS = {"sys": "sys-secret", "paht": "paht-secret", "hub": "donghoi-secret"}

# ---------------------------------------------------------------------------------------------------------------
# Config templates (string.Template: $name is filled in, $$ is a literal $).

PROVINCE_CONF = string.Template("""\
# The province node: written by bench/federation_links.py.
server_name: province
listen: 127.0.0.1:$client_port
http: 127.0.0.1:$monitor_port
jetstream {
  store_dir: "$store_dir"
  domain: province                # seen from a hub, this JetStream is $$JS.province.API.>
}
accounts {
  SYS: { users: [ { user: sys, password: "$sys_password" } ] }
  PAHT: {
    jetstream: enabled
    users: [
      { user: paht, password: "$service_password" }       # the province's own services
      # One user per hub, for its leaf connection only. (A `leafnodes { authorization { users } }` block cannot
      # carry permissions: with no such block, leaf connections sign in as the accounts' users.) Permissions are
      # written as seen from the hub: publish = what the hub may send to the province, subscribe = what it may
      # receive from it.
      { user: $hub, password: "$hub_password", allowed_connection_types: ["LEAFNODE"]$hub_permissions }
    ]
  }
}
system_account: SYS
leafnodes {
  listen: 127.0.0.1:$leaf_port
  # Do not tell leaf nodes the addresses this server (or its cluster) listens on: a hub must keep using the URL it
  # was given (a proxy, a load balancer, a VPN address), not learn an internal one.
  no_advertise: $no_advertise
}
""")

HUB_CONF = string.Template("""\
# The Đồng Hới hub node: written by bench/federation_links.py.
server_name: $hub
listen: 127.0.0.1:$client_port
http: 127.0.0.1:$monitor_port
jetstream {
  store_dir: "$store_dir"
  domain: $hub                    # seen from the province, this JetStream is $$JS.$hub.API.>
}
accounts {
  SYS: { users: [ { user: sys, password: "$sys_password" } ] }
  PAHT: {
    jetstream: enabled
    users: [ { user: paht, password: "$service_password" } ]     # the hub's own services
  }
}
system_account: SYS
leafnodes {
  reconnect: "$reconnect"         # how often the hub tries the province again after losing it
  remotes: [
    { url: "nats-leaf://$hub:$hub_password@127.0.0.1:$remote_port", account: PAHT }
  ]
}
""")


def durable_for(copy_node: str, stream: str) -> str:
    """The origin's consumer for one node's copy of a stream: <copy node>-from-<node>-<service>."""
    return f"{copy_node}-from-{stream.removeprefix('PAHT_').lower().replace('_', '-')}"


def hub_permissions(hub: str, hub_streams: list[str], province_streams: list[str], mode: str) -> str:
    """The province's permissions for one hub's leaf connection, as seen from the hub, for one way of copying.

    `province_streams`: the province streams the hub keeps a copy of; `hub_streams`: the hub streams the province
    keeps a copy of. Only JetStream traffic crosses, never a `paht.…` subject: a hub can neither publish into a
    province stream nor read a province subject, and two domains' streams can never both capture one message.
    `mode` "all" grants what every mode needs (the checks use it).
    """
    modes = {"source", "kick", "durable", "pull"} if mode == "all" else {mode}
    publish: list[tuple[str, str]] = []   # (subject, why)
    subscribe: list[tuple[str, str]] = []
    for s in province_streams:
        d = durable_for(hub, s)
        if modes & {"source", "kick"}:
            publish += [(f"$JS.province.API.CONSUMER.CREATE.{s}", "the hub's server makes its (ephemeral)"),
                        (f"$JS.province.API.CONSUMER.CREATE.{s}.>", "  sourcing consumer on the province"),
                        (f"$JS.FC.{s}.>", "flow-control answers of the hub's copy")]
        if "durable" in modes:
            publish += [(f"$JS.province.API.CONSUMER.RESET.{s}.{d}", "the hub's copy restarts the province-made consumer"),
                        (f"$JS.FC.{s}.{d}.*", "flow-control answers (they also acknowledge)")]
        if "pull" in modes:
            publish += [(f"$JS.province.API.CONSUMER.RESET.{s}.{d}", "the hub's relay repositions the province-made consumer"),
                        (f"$JS.province.API.CONSUMER.MSG.NEXT.{s}.{d}", "  pulls from it"),
                        (f"$JS.ACK.{s}.{d}.>", "  and acknowledges")]
    for s in hub_streams:
        d = durable_for(PROVINCE, s)
        if modes & {"source", "kick"}:
            subscribe += [(f"$JS.FC.{s}.>", "flow-control answers of the province's copy")]
        if "durable" in modes:
            subscribe += [(f"$JS.FC.{s}.{d}.*", "flow-control answers of the province's copy")]
        if "pull" in modes:
            subscribe += [(f"$JS.ACK.{s}.{d}.>", "acknowledgements of the province's relay")]
    if modes - {"pull"}:
        publish += [(f"fed.{hub}.in.>", "deliveries to the province's copies (the hub's deliver subjects)")]
        subscribe += [(f"fed.{hub}.out.>", "deliveries to the hub's copies")]
    publish += [("$JSC.R.>", "answers to the province server's JetStream requests")]
    subscribe += [(f"$JS.{hub}.API.>", "the province may use the hub's JetStream"),
                  ("$JSC.R.>", "answers to the hub server's JetStream requests"),
                  (f"_INBOX_{hub}.>", "answers to the hub's clients (they use this inbox prefix)")]
    if "pull" in modes:
        publish += [("_INBOX.>", "answers and deliveries to province clients (the province's relay pulls)")]

    def block(entries: list[tuple[str, str]]) -> str:
        seen: dict[str, str] = {}
        for subject, why in entries:
            seen.setdefault(subject, why)
        width = max(len(x) for x in seen) + 4
        lines = [f'            {json.dumps(x) + ",":{width}s}# {why}' for x, why in seen.items()]
        return "\n".join(lines)

    return (",\n        permissions: {\n          publish: { allow: [\n" + block(publish)
            + "\n          ] }\n          subscribe: { allow: [\n" + block(subscribe) + "\n          ] }\n        }")


# ---------------------------------------------------------------------------------------------------------------
# Processes and the link


def _die_with_parent() -> None:
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Node:
    """One nats-server: its config, store and log in `folder`; started, stopped and restarted on the same ports."""

    def __init__(self, name: str, folder: Path, template: string.Template, **values: object) -> None:
        self.name, self.folder = name, folder
        folder.mkdir(parents=True, exist_ok=True)
        self.client_port, self.monitor_port = free_port(), free_port()
        self.conf, self.log = folder / "nats.conf", folder / "nats.log"
        self.conf.write_text(template.substitute(
            client_port=self.client_port, monitor_port=self.monitor_port, store_dir=folder / "store",
            sys_password=PASSWORDS["sys"], service_password=PASSWORDS["paht"], hub=HUB,
            hub_password=PASSWORDS["hub"], **values))
        self.proc: subprocess.Popen | None = None
        self.http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.monitor_port}", timeout=2)

    @property
    def url(self) -> str:
        return f"nats://paht:{PASSWORDS['paht']}@127.0.0.1:{self.client_port}"

    def start(self) -> None:
        with self.log.open("a") as log:
            self.proc = subprocess.Popen([nats_server_binary(), "-c", str(self.conf)], stdout=log,
                                         stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)

    async def ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if (await self.http.get("/healthz", params={"js-enabled-only": "true"})).status_code == 200:
                    return
            await asyncio.sleep(0.05)
        raise RuntimeError(f"{self.name} did not become ready; see {self.log}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    async def leafs(self) -> list[dict]:
        """The leaf connections of this server (its /leafz); empty when it cannot be asked."""
        try:
            return (await self.http.get("/leafz")).json().get("leafs") or []
        except (httpx.HTTPError, ValueError):
            return []


class LinkProxy:
    """A TCP proxy for the leaf connection that can cut the link (drop every connection, refuse new ones) and heal it."""

    def __init__(self, target_port: int) -> None:
        self.target_port, self.port = target_port, free_port()
        self.server: asyncio.AbstractServer | None = None
        self.conns: set[asyncio.StreamWriter] = set()
        self.accepted = 0

    async def heal(self) -> None:
        if self.server is None:
            self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port, reuse_address=True)

    async def cut(self) -> None:
        if self.server is not None:
            self.server.close()   # no more accepts: new connections are refused
            self.server = None
        for writer in list(self.conns):
            writer.transport.abort()
        self.conns.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self.conns |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.transport.abort()
                self.conns.discard(dst)

        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


# ---------------------------------------------------------------------------------------------------------------
# Events


async def connect(node: Node, inbox_prefix: str) -> nats.NATS:
    async def quiet(_exc: Exception) -> None:
        pass

    return await nats.connect(node.url, name=f"bench-{node.name}", max_reconnect_attempts=-1, reconnect_time_wait=0.1,
                              connect_timeout=2, allow_reconnect=True, inbox_prefix=inbox_prefix, error_cb=quiet)


class Publisher:
    """A node's services: events with PAHT's CloudEvents headers, a unique Nats-Msg-Id, the time sent in the body."""

    def __init__(self, js, node: str, service: str, events: list[str]) -> None:
        self.js, self.node, self.service, self.events, self.n = js, node, service, events, 0

    def next(self, msg_id: str | None = None) -> tuple[str, bytes, dict]:
        self.n += 1
        event = self.events[self.n % len(self.events)]
        msg_id = msg_id or f"{self.node}-{self.n:07d}"
        headers = {
            "Nats-Msg-Id": msg_id, "ce-specversion": "1.0", "ce-id": msg_id, "ce-source": f"/paht/{self.node}/{self.service}",
            "ce-type": f"paht.{self.service}.v1.{event}", "ce-subject": f"reports/{self.n % 997}",
            "ce-time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "ce-datacontenttype": "application/protobuf",
            "ce-reportid": str(self.n % 997), "ce-reportversion": str(self.n),
        }
        body = json.dumps({"id": msg_id, "ts": time.time(), "pad": "x" * 180}).encode()
        return f"paht.{self.node}.{self.service}.{event}", body, headers

    async def one(self, msg_id: str | None = None, retry_for: float = 30.0):
        """Publish one event and wait for its ack, retrying while the node is coming back (as the outbox relay does)."""
        subject, body, headers = self.next(msg_id)
        deadline = time.monotonic() + retry_for
        while True:
            try:
                return await self.js.publish(subject, body, headers=headers, timeout=2)
            except Exception:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)

    async def burst(self, count: int) -> None:
        """Publish `count` events in order, many in flight at once, and wait for all their acks."""
        futures = []
        for _ in range(count):
            subject, body, headers = self.next()
            futures.append(await self.js.publish_async(subject, body, headers=headers))
            if len(futures) >= 500:
                await asyncio.gather(*futures)
                futures.clear()
        await asyncio.gather(*futures)


async def count(js, stream: str) -> int | None:
    try:
        return (await js.stream_info(stream)).state.messages
    except Exception:
        return None


async def read_all(js, stream: str, subjects: str) -> list[tuple[str, str]]:
    """Every message of a stream, in order, as (subject, Nats-Msg-Id)."""
    total = await count(js, stream) or 0
    out: list[tuple[str, str]] = []
    sub = await js.pull_subscribe(subjects, stream=stream, config=ConsumerConfig(
        ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL, inactive_threshold=30))
    try:
        while len(out) < total:
            try:
                msgs = await sub.fetch(1000, timeout=3)
            except Exception:
                break
            out += [(m.subject, (m.headers or {}).get("Nats-Msg-Id", "")) for m in msgs]
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()
    return out


# ---------------------------------------------------------------------------------------------------------------
# The pull relay (mode "pull"): what the receiving side's sync service would run


class PullRelay:
    """Copy one stream of another domain into a local copy: pull, republish with the same headers, ack.

    The origin holds a durable pull consumer (ack policy all, at most `batch` unacknowledged). The local copy is the
    relay's position: each copied event carries the origin's sequence (header Paht-Origin-Seq), so after any error
    (link cut, either server restarted, a delivery missing) the relay asks the origin to RESET its consumer to the
    sequence after the last one the copy holds, and starts a new inbox. Republishing keeps Nats-Msg-Id: an event
    copied twice within the copy's duplicate window is stored once.
    """

    def __init__(self, nc, origin_domain: str, origin_stream: str, durable: str, copy_stream: str, inbox: str,
                 batch: int = 500) -> None:
        self.nc, self.origin_stream, self.durable, self.copy_stream = nc, origin_stream, durable, copy_stream
        self.remote = nc.jetstream(domain=origin_domain, timeout=2)
        self.local = nc.jetstream(timeout=5)
        self.inbox, self.batch = inbox, batch
        self.task: asyncio.Task | None = None
        self.resets = 0

    async def last_copied(self) -> int:
        info = await self.local.stream_info(self.copy_stream)
        if info.state.messages == 0:
            return 0
        msg = await self.local.get_msg(self.copy_stream, info.state.last_seq)
        return int((msg.headers or {}).get("Paht-Origin-Seq", "0"))

    async def run(self) -> None:
        while True:
            sub = None
            try:
                last = await self.last_copied()
                await self.remote.reset_consumer(self.origin_stream, self.durable, seq=last + 1)
                self.resets += 1
                sub = await self.nc.subscribe(f"{self.inbox}.{self.resets}")
                await self._copy(sub, last)
            except asyncio.CancelledError:
                raise
            except Exception:
                await asyncio.sleep(0.2)
            finally:
                if sub is not None:
                    with contextlib.suppress(Exception):
                        await sub.unsubscribe()

    async def _copy(self, sub, last: int) -> None:
        next_subject = f"$JS.{self.remote._prefix.split('.')[1]}.API.CONSUMER.MSG.NEXT.{self.origin_stream}.{self.durable}"
        delivered = 0
        while True:
            await self.nc.publish(next_subject, json.dumps({"batch": self.batch, "expires": 2_000_000_000}).encode(),
                                  reply=sub.subject)
            msgs = []
            deadline = time.monotonic() + 3.0
            while time.monotonic() < deadline:
                try:  # the first message waits for the long poll, the rest of a burst comes within milliseconds
                    msg = await sub.next_msg(timeout=(deadline - time.monotonic()) if not msgs else 0.005)
                except (asyncio.TimeoutError, nats.errors.TimeoutError):
                    break
                if not msg.reply:  # a status: 408 (request expired), 404 (nothing), 409 …
                    if msgs:
                        break
                    continue
                msgs.append(msg)
                if len(msgs) >= self.batch:
                    break
            if not msgs and time.monotonic() >= deadline:
                raise RuntimeError("no answer from the origin")  # the link or a server is gone: reset and start again
            futures = []
            for msg in msgs:
                meta = msg.metadata
                if meta.sequence.consumer != delivered + 1:
                    raise RuntimeError("a delivery is missing")   # reset to what the copy holds
                delivered = meta.sequence.consumer
                if meta.sequence.stream <= last:
                    continue                                     # already copied
                headers = dict(msg.headers or {})
                headers["Paht-Origin-Seq"] = str(meta.sequence.stream)
                futures.append(await self.local.publish_async(f"{COPY_PREFIX}.{msg.subject}", msg.data, headers=headers))
                last = meta.sequence.stream
            if futures:  # an ack that never comes (the local server went away meanwhile) is an error too
                await asyncio.wait_for(asyncio.gather(*futures), timeout=10)
            if msgs:
                await msgs[-1].ack()   # ack policy all: everything up to here is in the copy

    def start(self) -> None:
        self.task = asyncio.create_task(self.run())

    async def stop(self) -> None:
        if self.task:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task


# ---------------------------------------------------------------------------------------------------------------
# The kick (mode "kick"): on each side, watch the leaf connection and restart the copies when it comes back


class Kicker:
    """Poll this side's /leafz; when a leaf connection appears (or is a new one), kick this side's copies."""

    def __init__(self, fed: "Federation", side: str) -> None:
        self.fed, self.side = fed, side
        self.task: asyncio.Task | None = None
        self.kicks = 0

    async def run(self) -> None:
        node = self.fed.province if self.side == PROVINCE else self.fed.hub
        seen: str | None = None
        while True:
            leafs = await node.leafs()
            current = f"{leafs[0].get('ip')}:{leafs[0].get('port')}:{leafs[0].get('id')}" if leafs else None
            if current and current != seen:
                with contextlib.suppress(Exception):
                    await self.fed.kick(self.side)
                    self.kicks += 1
            seen = current
            await asyncio.sleep(0.2)

    def start(self) -> None:
        self.task = asyncio.create_task(self.run())

    async def stop(self) -> None:
        if self.task:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task


# ---------------------------------------------------------------------------------------------------------------
# A province and a hub, linked


@dataclass
class Federation:
    mode: str
    folder: Path
    permissions: bool | str = True  # True: what the mode needs; "all": what any mode needs; False: none
    no_advertise: bool = True
    hub_window: float = DUPLICATE_WINDOW_S
    extra_hub_streams: list[str] = field(default_factory=list)
    reconnect: str = "1s"  # the hub's leafnode reconnect interval (nats-server's default)
    province: Node = None  # type: ignore[assignment]
    hub: Node = None  # type: ignore[assignment]
    proxy: LinkProxy = None  # type: ignore[assignment]
    relays: list[PullRelay] = field(default_factory=list)
    kickers: list[Kicker] = field(default_factory=list)

    async def start(self) -> "Federation":
        leaf_port = free_port()
        perms = hub_permissions(HUB, [HUB_STREAM, *self.extra_hub_streams], [PROV_STREAM],
                                self.permissions if isinstance(self.permissions, str) else self.mode) if self.permissions else ""
        self.province = Node(PROVINCE, self.folder / PROVINCE, PROVINCE_CONF, leaf_port=leaf_port,
                             no_advertise=str(self.no_advertise).lower(), hub_permissions=perms)
        self.proxy = LinkProxy(leaf_port)
        self.hub = Node(HUB, self.folder / HUB, HUB_CONF, remote_port=self.proxy.port, reconnect=self.reconnect)
        await self.proxy.heal()
        self.province.start()
        self.hub.start()
        await asyncio.gather(self.province.ready(), self.hub.ready())
        self.pc = await connect(self.province, "_INBOX")
        self.hc = await connect(self.hub, f"_INBOX_{HUB}")
        self.pjs, self.hjs = self.pc.jetstream(timeout=5), self.hc.jetstream(timeout=5)
        self.hub_pub = Publisher(self.hjs, HUB, "handling", HUB_EVENTS)
        self.prov_pub = Publisher(self.pjs, PROVINCE, "dispatch", PROV_EVENTS)
        await self.wait_link(30)
        await self.hjs.add_stream(origin_config(HUB_STREAM, HUB_SUBJECTS, self.hub_window))
        await self.pjs.add_stream(origin_config(PROV_STREAM, PROV_SUBJECTS, DUPLICATE_WINDOW_S))
        if self.mode != "none":
            await self.add_copies(HUB_STREAM, PROV_STREAM)
        return self

    async def add_copies(self, hub_stream: str, prov_stream: str, copy_name: str | None = None) -> None:
        """The province's copy of `hub_stream` and the hub's copy of `prov_stream`, as the mode keeps them."""
        mode = self.mode
        p_copy, h_copy = copy_name or hub_stream, prov_stream
        in_durable, out_durable = durable_for(PROVINCE, hub_stream), durable_for(HUB, prov_stream)
        to_province = ExternalStream(api=f"$JS.{HUB}.API", deliver=TO_PROVINCE)
        to_hub = ExternalStream(api=f"$JS.{PROVINCE}.API", deliver=TO_HUB)
        if mode == "source":
            await self.pjs.add_stream(copy_config(p_copy, sources=[StreamSource(name=hub_stream, external=to_province)]))
            await self.hjs.add_stream(copy_config(h_copy, mirror=StreamSource(name=prov_stream, external=to_hub)))
        elif mode == "kick":
            await self.pjs.add_stream(copy_config(p_copy, sources=[StreamSource(name=hub_stream, external=to_province)]))
            await self.hjs.add_stream(copy_config(h_copy, sources=[StreamSource(name=prov_stream, external=to_hub)]))
        elif mode == "durable":
            # The origin makes the consumer its copy will use: its deliver subject is the per-hub one.
            in_subject, out_subject = f"{TO_PROVINCE}.{hub_stream}", f"{TO_HUB}.{prov_stream}"
            await self.hjs.add_consumer(hub_stream, durable_push(in_durable, in_subject))
            await self.pjs.add_consumer(prov_stream, durable_push(out_durable, out_subject))
            await self.pjs.add_stream(copy_config(p_copy, sources=[StreamSource(
                name=hub_stream, external=ExternalStream(api=f"$JS.{HUB}.API"),
                consumer=StreamConsumerSource(name=in_durable, deliver_subject=in_subject))]))
            await self.hjs.add_stream(copy_config(h_copy, mirror=StreamSource(
                name=prov_stream, external=ExternalStream(api=f"$JS.{PROVINCE}.API"),
                consumer=StreamConsumerSource(name=out_durable, deliver_subject=out_subject))))
        elif mode == "pull":
            await self.hjs.add_consumer(hub_stream, durable_pull(in_durable))
            await self.pjs.add_consumer(prov_stream, durable_pull(out_durable))
            h_svc, p_svc = hub_stream.split("_")[-1].lower(), prov_stream.split("_")[-1].lower()
            await self.pjs.add_stream(pull_copy_config(p_copy, f"paht.{HUB}.{h_svc}"))
            await self.hjs.add_stream(pull_copy_config(h_copy, f"paht.{PROVINCE}.{p_svc}"))
            self.relays += [
                PullRelay(self.pc, HUB, hub_stream, in_durable, p_copy, f"_INBOX.relay.{p_copy}"),
                PullRelay(self.hc, PROVINCE, prov_stream, out_durable, h_copy, f"_INBOX_{HUB}.relay.{h_copy}"),
            ]
            for relay in self.relays[-2:]:
                relay.start()
        if mode == "kick" and not self.kickers:
            self.kickers = [Kicker(self, PROVINCE), Kicker(self, HUB)]
            for k in self.kickers:
                k.start()

    async def kick(self, side: str) -> None:
        """Restart this side's copy at once (mode kick): update its config without the source, then with it again.

        A mirror's config cannot be updated, so in this mode both copies are sources."""
        js, copy = (self.pjs, HUB_STREAM) if side == PROVINCE else (self.hjs, PROV_STREAM)
        config = (await js.stream_info(copy)).config
        sources, config.sources = config.sources, []
        await js.update_stream(config)
        config.sources = sources
        await js.update_stream(config)

    async def wait_link(self, timeout: float) -> float | None:
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if await self.province.leafs():
                return time.monotonic() - t0
            await asyncio.sleep(0.05)
        return None

    async def copies_complete(self) -> tuple[bool, bool, tuple]:
        h, hc, p, pc = await asyncio.gather(count(self.hjs, HUB_STREAM), count(self.pjs, HUB_STREAM),
                                            count(self.pjs, PROV_STREAM), count(self.hjs, PROV_STREAM))
        return (h is not None and hc is not None and hc >= h), (p is not None and pc is not None and pc >= p), (h, hc, p, pc)

    async def settle(self, timeout: float = 240) -> float:
        """Wait until both copies hold everything their origins hold; return how long that took."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            h2p, p2h, _ = await self.copies_complete()
            if h2p and p2h:
                return time.monotonic() - t0
            await asyncio.sleep(0.1)
        return float("inf")

    async def wait_caught_up(self, targets: tuple[int, int], since: float, timeout: float) -> dict:
        """From `since` (monotonic), when did the link come back and each copy reach its origin's count?"""
        hub_target, prov_target = targets
        out: dict = {"link": None, "h2p": None, "p2h": None}
        while time.monotonic() - since < timeout:
            now = time.monotonic() - since
            if out["link"] is None and await self.province.leafs():
                out["link"] = now
            if out["h2p"] is None and (await count(self.pjs, HUB_STREAM) or 0) >= hub_target:
                out["h2p"] = now
            if out["p2h"] is None and (await count(self.hjs, PROV_STREAM) or 0) >= prov_target:
                out["p2h"] = now
            if None not in out.values():
                break
            await asyncio.sleep(0.05)
        return out

    async def stop(self) -> None:
        for task_owner in [*self.relays, *self.kickers]:
            await task_owner.stop()
        for nc in (getattr(self, "pc", None), getattr(self, "hc", None)):
            if nc is not None:
                with contextlib.suppress(Exception):
                    await nc.close()
        await self.proxy.cut()
        self.hub.stop()
        self.province.stop()
        await self.hub.http.aclose()
        await self.province.http.aclose()


def origin_config(name: str, subjects: str, window: float) -> StreamConfig:
    return StreamConfig(name=name, subjects=[subjects], storage=StorageType.FILE, duplicate_window=float(window))


def copy_config(name: str, **kwargs) -> StreamConfig:
    kwargs.setdefault("duplicate_window", float(DUPLICATE_WINDOW_S)) if "sources" in kwargs else None
    return StreamConfig(name=name, storage=StorageType.FILE, **kwargs)


def pull_copy_config(name: str, subject_root: str, window: float = DUPLICATE_WINDOW_S) -> StreamConfig:
    """The pull relay's copy: it binds fed.copy.<node>.<service>.> (never the origin's subjects, so no message
    published on the other node can be captured twice) and stores the events under their own subjects."""
    return StreamConfig(name=name, subjects=[f"{COPY_PREFIX}.{subject_root}.>"], storage=StorageType.FILE,
                        duplicate_window=float(window),
                        subject_transform=SubjectTransform(src=f"{COPY_PREFIX}.{subject_root}.>", dest=f"{subject_root}.>"))


def durable_push(name: str, deliver_subject: str) -> ConsumerConfig:
    return ConsumerConfig(durable_name=name, deliver_subject=deliver_subject, ack_policy=AckPolicy.FLOW_CONTROL,
                          flow_control=True, idle_heartbeat=1.0, deliver_policy=DeliverPolicy.ALL)


def durable_pull(name: str) -> ConsumerConfig:
    return ConsumerConfig(durable_name=name, ack_policy=AckPolicy.ALL, max_ack_pending=500, ack_wait=10.0,
                          deliver_policy=DeliverPolicy.ALL)


# ---------------------------------------------------------------------------------------------------------------
# Scenarios


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else float("nan")


async def measure_lag(fed: Federation, seconds: float, rate: float) -> dict:
    """Publish `rate` events/s on each side for `seconds`; the lag is the copy's receive time minus the send time."""
    lags: dict[str, list[float]] = {"h2p": [], "p2h": []}

    def collector(key: str):
        async def cb(msg) -> None:
            lags[key].append(time.time() - json.loads(msg.data)["ts"])
        return cb

    # A push consumer without acks on each copy, delivering only what arrives from now on. nats-py fills in the
    # config it is given (deliver subject, filter): one object per consumer, or both deliver to the first inbox.
    def new_only() -> ConsumerConfig:
        return ConsumerConfig(deliver_policy=DeliverPolicy.NEW, ack_policy=AckPolicy.NONE)

    subs = [
        await fed.pjs.subscribe(HUB_SUBJECTS, stream=HUB_STREAM, config=new_only(), manual_ack=True, cb=collector("h2p")),
        await fed.hjs.subscribe(PROV_SUBJECTS, stream=PROV_STREAM, config=new_only(), manual_ack=True, cb=collector("p2h")),
    ]
    t0 = time.monotonic()
    sent = 0
    while time.monotonic() - t0 < seconds:
        await asyncio.gather(fed.hub_pub.one(), fed.prov_pub.one())
        sent += 1
        await asyncio.sleep(max(0.0, t0 + sent / rate - time.monotonic()))
    await asyncio.sleep(2)
    for sub in subs:
        await sub.unsubscribe()
    return {k: {"n": len(v), "p50": statistics.median(v) * 1000 if v else float("nan"), "p95": pct(v, 95) * 1000}
            for k, v in lags.items()} | {"sent": sent}


async def measure_cut(fed: Federation, events: int, hold: float, timeout: float) -> dict:
    await fed.settle()
    await fed.proxy.cut()
    t_cut = time.monotonic()
    await asyncio.gather(fed.hub_pub.burst(events), fed.prov_pub.burst(events))
    published_in = time.monotonic() - t_cut
    await asyncio.sleep(max(0.0, t_cut + hold - time.monotonic()))
    h2p, p2h, counts = await fed.copies_complete()
    targets = (counts[0], counts[2])
    await fed.proxy.heal()
    result = await fed.wait_caught_up(targets, time.monotonic(), timeout)
    result.update(published_in=published_in, copies_moved_during_cut=h2p or p2h)
    return result


async def measure_restart(fed: Federation, which: str, events: int, down: float, timeout: float) -> dict:
    await fed.settle()
    node = fed.hub if which == HUB else fed.province
    other_pub, own_pub = (fed.prov_pub, fed.hub_pub) if which == HUB else (fed.hub_pub, fed.prov_pub)
    node.stop()
    t_stop = time.monotonic()
    await other_pub.burst(events)
    await asyncio.sleep(max(0.0, t_stop + down - time.monotonic()))
    node.start()
    t_start = time.monotonic()
    await node.ready()
    ready = time.monotonic() - t_start
    await own_pub.one()   # an event of the restarted node after its restart: it must cross too
    published = time.monotonic() - t_start
    h = await count(fed.hjs, HUB_STREAM)
    p = await count(fed.pjs, PROV_STREAM)
    result = await fed.wait_caught_up((h or 0, p or 0), t_start, timeout)
    result.update(ready=ready, first_event=published)
    return result


async def verify(fed: Federation) -> dict:
    """Read every copy whole: events lost, duplicated, foreign, and subjects whose order differs from the origin's."""
    out = {}
    for key, ojs, cjs, stream, subjects in (("h2p", fed.hjs, fed.pjs, HUB_STREAM, HUB_SUBJECTS),
                                            ("p2h", fed.pjs, fed.hjs, PROV_STREAM, PROV_SUBJECTS)):
        origin, copy = await read_all(ojs, stream, subjects), await read_all(cjs, stream, subjects)
        o_ids, c_ids = [i for _, i in origin], [i for _, i in copy]
        seen: set[str] = set()
        per_subject_o: dict[str, list[str]] = {}
        per_subject_c: dict[str, list[str]] = {}
        for s, i in origin:
            per_subject_o.setdefault(s, []).append(i)
        for s, i in copy:
            if i not in seen:
                per_subject_c.setdefault(s, []).append(i)
            seen.add(i)
        out[key] = {
            "origin": len(origin), "copy": len(copy), "lost": len(set(o_ids) - set(c_ids)),
            "duplicates": len(c_ids) - len(set(c_ids)), "foreign": len(set(c_ids) - set(o_ids)),
            "out_of_order_subjects": sum(1 for s in per_subject_o if per_subject_o[s] != per_subject_c.get(s, [])),
        }
    return out


async def run_mode(mode: str, folder: Path, args) -> dict:
    fed = await Federation(mode, folder / mode, reconnect=args.reconnect).start()
    res: dict = {"mode": mode, "cut": [], "hub_restart": [], "province_restart": []}
    try:
        await fed.settle()
        if not args.long_cut_only:
            print(f"[{mode}] lag …", flush=True)
            res["lag"] = await measure_lag(fed, args.lag_s, args.rate)
        for i in range(0 if args.long_cut_only else args.repeat):
            print(f"[{mode}] cut {i + 1} …", flush=True)
            res["cut"].append(await measure_cut(fed, args.events, args.hold_s, args.timeout))
            print(f"        {fmt_result(res['cut'][-1])}", flush=True)
        for which in () if args.long_cut_only else (HUB, PROVINCE):
            key = "hub_restart" if which == HUB else "province_restart"
            for i in range(args.repeat):
                print(f"[{mode}] {which} restart {i + 1} …", flush=True)
                res[key].append(await measure_restart(fed, which, args.restart_events, args.down_s, args.timeout))
                print(f"        {fmt_result(res[key][-1])}", flush=True)
            if args.outage_s:
                print(f"[{mode}] {which} down {args.outage_s:.0f} s …", flush=True)
                res[f"{which}_outage"] = await measure_restart(fed, which, args.restart_events, args.outage_s, args.timeout)
                print(f"        {fmt_result(res[f'{which}_outage'])}", flush=True)
        if args.long_cut_s:
            print(f"[{mode}] cut for {args.long_cut_s:.0f} s …", flush=True)
            res["long_cut"] = await measure_cut(fed, args.events, args.long_cut_s, args.timeout)
            print(f"        {fmt_result(res['long_cut'])}", flush=True)
        res["settle_before_verify"] = await fed.settle()
        res["verify"] = await verify(fed)
        res["kicks"] = sum(k.kicks for k in fed.kickers)
        res["relay_resets"] = sum(r.resets for r in fed.relays)
    finally:
        await fed.stop()
    return res


def fmt_s(v) -> str:
    return "  >timeout" if v is None else f"{v:8.2f}s"


def fmt_result(r: dict) -> str:
    return " ".join(f"{k}={fmt_s(r[k]).strip()}" for k in ("link", "h2p", "p2h") if k in r)


def spread(values: list) -> str:
    if not values:
        return "—"
    if any(v is None for v in values):
        done = [v for v in values if v is not None]
        return f"{len(values) - len(done)}/{len(values)} >timeout" + (f"; {min(done):.1f}–{max(done):.1f}" if done else "")
    return f"{statistics.median(values):6.2f} ({min(values):.2f}–{max(values):.2f})"


def print_tables(results: list[dict], args) -> None:
    if args.long_cut_only:
        print_long_cut(results, args)
        return
    print()
    print(f"Figures: median (min–max) of {args.repeat} round(s); seconds. h2p = hub → province copy, p2h = province → hub.")
    print(f"steady lag at {args.rate:.0f} events/s each way for {args.lag_s:.0f} s (received / sent)")
    print(f"{'mode':8s} | {'lag h2p p50/p95 ms':>19s} | {'lag p2h p50/p95 ms':>19s} | received h2p, p2h / sent")
    for r in results:
        lag = r["lag"]
        print(f"{r['mode']:8s} | {lag['h2p']['p50']:8.1f} / {lag['h2p']['p95']:7.1f} | {lag['p2h']['p50']:8.1f} / "
              f"{lag['p2h']['p95']:7.1f} | {lag['h2p']['n']}, {lag['p2h']['n']} / {lag['sent']}")
    print()
    print(f"catch-up after healing a {args.hold_s:.0f} s cut with {args.events:,} events published on each side during it")
    print(f"{'mode':8s} | {'leaf back':>22s} | {'h2p complete':>22s} | {'p2h complete':>22s}")
    for r in results:
        c = r["cut"]
        print(f"{r['mode']:8s} | {spread([x['link'] for x in c]):>22s} | {spread([x['h2p'] for x in c]):>22s} | {spread([x['p2h'] for x in c]):>22s}")
    for key, title in (("hub_restart", "hub"), ("province_restart", "province")):
        print()
        print(f"{title} restart ({args.down_s:.0f} s down, {args.restart_events:,} events published on the other side meanwhile);"
              " from the process start")
        print(f"{'mode':8s} | {'ready':>14s} | {'leaf back':>22s} | {'h2p complete':>22s} | {'p2h complete':>22s} | both")
        for r in results:
            c = r[key]
            both = [None if (x["h2p"] is None or x["p2h"] is None) else max(x["h2p"], x["p2h"]) for x in c]
            print(f"{r['mode']:8s} | {spread([x['ready'] for x in c]):>14s} | {spread([x['link'] for x in c]):>22s} | "
                  f"{spread([x['h2p'] for x in c]):>22s} | {spread([x['p2h'] for x in c]):>22s} | {spread(both)}")
    if args.outage_s or args.long_cut_s:
        print()
        print(f"longer outages, one round each: a server down {args.outage_s:.0f} s (from its start), the link cut "
              f"{args.long_cut_s:.0f} s with {args.events:,} events each side (from healing)")
        print(f"{'mode':8s} | {'hub down: h2p / p2h':>22s} | {'province down: h2p / p2h':>26s} | {'long cut: h2p / p2h':>22s}")
        for r in results:
            cells = []
            for key in (f"{HUB}_outage", f"{PROVINCE}_outage", "long_cut"):
                x = r.get(key)
                cells.append("—" if x is None else f"{fmt_s(x['h2p']).strip()} / {fmt_s(x['p2h']).strip()}")
            print(f"{r['mode']:8s} | {cells[0]:>22s} | {cells[1]:>26s} | {cells[2]:>22s}")
    print_correctness(results)


def print_long_cut(results: list[dict], args) -> None:
    print()
    print(f"the link cut {args.long_cut_s:.0f} s with {args.events:,} events published on each side; from healing")
    print(f"{'mode':8s} | {'leaf back':>10s} | {'h2p complete':>12s} | {'p2h complete':>12s}")
    for r in results:
        x = r["long_cut"]
        print(f"{r['mode']:8s} | {fmt_s(x['link']):>10s} | {fmt_s(x['h2p']):>12s} | {fmt_s(x['p2h']):>12s}")
    print_correctness(results)


def print_correctness(results: list[dict]) -> None:
    print()
    print("correctness, every copy read whole at the end (both directions): origin / copy / lost / duplicated / foreign / subjects out of order")
    for r in results:
        v = r["verify"]
        line = "  ".join(f"{k}: {v[k]['origin']}/{v[k]['copy']}/{v[k]['lost']}/{v[k]['duplicates']}/{v[k]['foreign']}/"
                         f"{v[k]['out_of_order_subjects']}" for k in ("h2p", "p2h"))
        extra = f"  kicks={r['kicks']}" if r["kicks"] else ""
        extra += f"  relay resets={r['relay_resets']}" if r["relay_resets"] else ""
        print(f"{r['mode']:8s} | {line}{extra}")


# ---------------------------------------------------------------------------------------------------------------
# Checks: exactly once, duplicates, permissions, what goes wrong without them

CHECKS_STREAM, CHECKS_SUBJECTS = stream_for(HUB, "checks")       # PAHT_DONGHOI_CHECKS, paht.donghoi.checks.>
INTAKE_STREAM, INTAKE_SUBJECTS = stream_for(PROVINCE, "intake")  # PAHT_PROVINCE_INTAKE: personal data, never for a hub
CHECK_WINDOW_S = 3.0  # the checks' hub stream forgets Nats-Msg-Ids after 3 s, standing for "older than the window"


async def occurrences(js, stream: str, subjects: str, msg_id: str) -> int | None:
    try:
        return sum(1 for _, i in await read_all(js, stream, subjects) if i == msg_id)
    except Exception:
        return None


async def raw_leaf_publish(port: int, user: str, password: str, subject: str) -> str:
    """Speak the leafnode protocol as a hub server that ignores its permissions would: send one message."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        await asyncio.wait_for(reader.readline(), 5)                            # INFO {…}
        connect = {"user": user, "pass": password, "name": "rogue", "headers": True, "domain": HUB}
        writer.write(f"CONNECT {json.dumps(connect)}\r\nPING\r\n".encode())
        await writer.drain()
        seen = []
        with contextlib.suppress(asyncio.TimeoutError):
            while not any("PONG" in line for line in seen):
                seen.append((await asyncio.wait_for(reader.readline(), 3)).decode().strip())
        writer.write(f"LMSG {subject} 6\r\nforged\r\nPING\r\n".encode())
        await writer.drain()
        answer = []
        with contextlib.suppress(asyncio.TimeoutError, ConnectionError):
            while True:
                line = (await asyncio.wait_for(reader.readline(), 3)).decode().strip()
                if not line:
                    answer.append("<connection closed>")
                    break
                if not line.startswith(("INFO", "LS+", "LS-", "PING")):
                    answer.append(line)
        return "; ".join(answer) or "<no answer>"
    finally:
        writer.transport.abort()


async def outcome(coro) -> str:
    try:
        result = await coro
        if hasattr(result, "seq") and hasattr(result, "domain"):
            return f"stored in {result.stream} (domain {result.domain}) at seq {result.seq}"
        return f"done ({type(result).__name__} {getattr(result, 'name', '')})"
    except Exception as exc:  # the kind of failure is the finding
        return f"{type(exc).__name__}"


async def run_checks(folder: Path) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []

    def say(check: str, result: str) -> None:
        out.append((check, result))
        print(f"  {check}: {result}", flush=True)

    print("[checks] with the hub's permissions and no_advertise …", flush=True)
    fed = await Federation("source", folder / "guarded", permissions="all", extra_hub_streams=[CHECKS_STREAM]).start()
    try:
        await fed.hjs.add_stream(origin_config(CHECKS_STREAM, CHECKS_SUBJECTS, CHECK_WINDOW_S))
        await fed.pjs.add_stream(origin_config(INTAKE_STREAM, INTAKE_SUBJECTS, DUPLICATE_WINDOW_S))
        to_province = ExternalStream(api=f"$JS.{HUB}.API", deliver=TO_PROVINCE)
        source = [StreamSource(name=CHECKS_STREAM, external=to_province)]
        copies = {
            "source (600 s window)": CHECKS_STREAM,
            "source (3 s window)": CHECKS_STREAM + "_SHORT",
            "source, durable consumer (600 s window)": CHECKS_STREAM + "_DURABLE",
            "mirror": CHECKS_STREAM + "_MIRROR",
            "pull relay (600 s window)": CHECKS_STREAM + "_PULL",
        }
        await fed.pjs.add_stream(copy_config(CHECKS_STREAM, sources=source))
        await fed.pjs.add_stream(copy_config(CHECKS_STREAM + "_SHORT", sources=source, duplicate_window=CHECK_WINDOW_S))
        await fed.pjs.add_stream(copy_config(CHECKS_STREAM + "_MIRROR", mirror=source[0]))
        pushed, deliver = durable_for(PROVINCE, CHECKS_STREAM) + "-push", f"{TO_PROVINCE}.{CHECKS_STREAM}"
        await fed.hjs.add_consumer(CHECKS_STREAM, durable_push(pushed, deliver))
        await fed.pjs.add_stream(copy_config(CHECKS_STREAM + "_DURABLE", sources=[StreamSource(
            name=CHECKS_STREAM, external=ExternalStream(api=f"$JS.{HUB}.API"),
            consumer=StreamConsumerSource(name=pushed, deliver_subject=deliver))]))
        durable = durable_for(PROVINCE, CHECKS_STREAM)
        await fed.hjs.add_consumer(CHECKS_STREAM, durable_pull(durable))
        await fed.pjs.add_stream(pull_copy_config(CHECKS_STREAM + "_PULL", f"paht.{HUB}.checks"))
        relay = PullRelay(fed.pc, HUB, CHECKS_STREAM, durable, CHECKS_STREAM + "_PULL", "_INBOX.relay.checks")
        fed.relays.append(relay)
        relay.start()
        pub = Publisher(fed.hjs, HUB, "checks", ["CaseAssigned"])

        async def tally(msg_id: str) -> str:
            origin = await occurrences(fed.hjs, CHECKS_STREAM, CHECKS_SUBJECTS, msg_id)
            per_copy = [f"{k} {await occurrences(fed.pjs, v, CHECKS_SUBJECTS, msg_id)}" for k, v in copies.items()]
            return f"hub stream {origin}; copies: " + ", ".join(per_copy)

        async def arrived(msg_id: str, at_least: int = 1, timeout: float = 90) -> float | None:
            t0 = time.monotonic()
            while time.monotonic() - t0 < timeout:
                counts = [await occurrences(fed.pjs, v, CHECKS_SUBJECTS, msg_id) for v in copies.values()]
                if all((c or 0) >= at_least for c in counts):
                    return time.monotonic() - t0
                await asyncio.sleep(0.2)
            return None

        await pub.one("warm-up")
        await arrived("warm-up")

        # 1. Kept during a cut, arrives once after healing.
        await fed.proxy.cut()
        ack = await pub.one("kept-during-cut")
        await asyncio.sleep(5)
        during = await tally("kept-during-cut")
        await fed.proxy.heal()
        took = await arrived("kept-during-cut")
        await asyncio.sleep(3)
        say("event published on the hub during a cut",
            f"hub acked it (seq {ack.seq}); during the cut: {during}; after healing, in every copy within "
            f"{fmt_s(took).strip()}; 3 s later: {await tally('kept-during-cut')}")

        # 2. Twice within the window.
        a1, a2 = await pub.one("twice-in-window"), await pub.one("twice-in-window")
        await arrived("twice-in-window")
        await asyncio.sleep(3)
        say("same Nats-Msg-Id twice within the window",
            f"second ack duplicate={a2.duplicate} (seq {a2.seq} = {a1.seq}); {await tally('twice-in-window')}")

        # 3. Again after the origin's window, link up.
        await pub.one("after-window")
        await arrived("after-window")
        await asyncio.sleep(CHECK_WINDOW_S + 2)
        again = await pub.one("after-window")
        await asyncio.sleep(4)
        say(f"same Nats-Msg-Id again {CHECK_WINDOW_S + 2:.0f} s later (after the hub stream's {CHECK_WINDOW_S:.0f} s window), link up",
            f"second ack duplicate={again.duplicate}; {await tally('after-window')}")

        # 4. The same during a partition: both copies reach the province together after healing.
        await fed.proxy.cut()
        await pub.one("after-window-cut")
        await asyncio.sleep(CHECK_WINDOW_S + 2)
        again = await pub.one("after-window-cut")
        await fed.proxy.heal()
        await arrived("after-window-cut")
        await asyncio.sleep(4)
        say(f"same again {CHECK_WINDOW_S + 2:.0f} s later during a cut, then healed",
            f"second ack duplicate={again.duplicate}; {await tally('after-window-cut')}")

        # 5. Permissions: the hub cannot write province subjects, read them, or use the province's JetStream freely.
        await fed.prov_pub.burst(3)
        before = await count(fed.pjs, PROV_STREAM)
        forged = await outcome(fed.hjs.publish(f"{PROV_SUBJECTS[:-2]}.ReportDispatched", b"forged", timeout=2))
        await fed.hc.publish(f"{PROV_SUBJECTS[:-2]}.ReportDispatched", b"forged")
        await fed.hc.flush()
        await asyncio.sleep(1)
        say("hub publishes to paht.province.dispatch.ReportDispatched (JetStream publish, then a plain one)",
            f"JetStream publish: {forged}; province stream {before} → {await count(fed.pjs, PROV_STREAM)} messages")

        got_hub, got_prov = [], []

        def keep(into: list):
            async def cb(msg) -> None:
                into.append(msg)
            return cb

        s1 = await fed.hc.subscribe(f"paht.{PROVINCE}.>", cb=keep(got_hub))
        s2 = await fed.pc.subscribe(f"paht.{PROVINCE}.intake.>", cb=keep(got_prov))
        await fed.hc.flush()
        await asyncio.sleep(0.5)
        await fed.pjs.publish(f"{INTAKE_SUBJECTS[:-2]}.ReportSubmitted", b"name, phone", timeout=2)
        await asyncio.sleep(1)
        await s1.unsubscribe()
        await s2.unsubscribe()
        say("hub subscribes to paht.province.> while intake publishes a report",
            f"hub received {len(got_hub)}, a province subscriber {len(got_prov)}")

        remote = fed.hc.jetstream(domain=PROVINCE, timeout=2)
        say("hub asks $JS.province.API.STREAM.INFO.PAHT_PROVINCE_INTAKE", await outcome(remote.stream_info(INTAKE_STREAM)))
        say("hub asks $JS.province.API.STREAM.DELETE.PAHT_PROVINCE_DISPATCH",
            await outcome(remote.delete_stream(PROV_STREAM)) + f"; stream still there: {await count(fed.pjs, PROV_STREAM) is not None}")
        say("hub creates a consumer on PAHT_PROVINCE_INTAKE",
            await outcome(remote.add_consumer(INTAKE_STREAM, ConsumerConfig(deliver_subject=f"{TO_HUB}.steal"))))
        before_intake = await count(fed.pjs, INTAKE_STREAM)
        hijack = await outcome(remote.add_consumer(PROV_STREAM, ConsumerConfig(
            name="hijack", deliver_subject=f"{INTAKE_SUBJECTS[:-2]}.Forged", ack_policy=AckPolicy.NONE)))
        await asyncio.sleep(2)
        idle = await count(fed.pjs, INTAKE_STREAM)
        tail = await fed.pc.subscribe(f"{INTAKE_SUBJECTS[:-2]}.>", cb=keep([]))  # any province client listening there
        await asyncio.sleep(2)
        after = await count(fed.pjs, INTAKE_STREAM)
        await tail.unsubscribe()
        say("hub creates a consumer on PAHT_PROVINCE_DISPATCH (allowed when its copy is server-managed) delivering to "
            "paht.province.intake.Forged", f"{hijack}; province intake stream {before_intake} → {idle}; once a province "
            f"client subscribes to paht.province.intake.> → {after}")
        with contextlib.suppress(Exception):
            await fed.pjs.delete_consumer(PROV_STREAM, "hijack")

        bound = f"{HUB_STREAM}_BOUND"
        await fed.pjs.add_stream(StreamConfig(name=bound, subjects=[HUB_SUBJECTS], storage=StorageType.MEMORY))
        await asyncio.sleep(0.5)
        ack = await fed.hub_pub.one()
        await asyncio.sleep(1)
        say("a province stream binding paht.donghoi.handling.> too; the hub publishes one event",
            f"acked by {ack.stream} in domain {ack.domain}; the province's binding stream holds {await count(fed.pjs, bound)}")
        await fed.pjs.delete_stream(bound)

        before = await count(fed.pjs, PROV_STREAM)
        rogue = await raw_leaf_publish(int(fed.proxy.target_port), HUB, PASSWORDS["hub"], f"{PROV_SUBJECTS[:-2]}.Forged")
        await asyncio.sleep(0.5)
        say("a hub server that ignores its permissions sends paht.province.dispatch.Forged over its leaf connection",
            f"province answers: {rogue}; province stream {before} → {await count(fed.pjs, PROV_STREAM)}")
    finally:
        await fed.stop()

    print("[checks] without permissions and without no_advertise …", flush=True)
    fed = await Federation("source", folder / "open", permissions=False, no_advertise=False).start()
    try:
        await fed.settle()
        await fed.proxy.cut()
        await asyncio.sleep(5)
        leafs = await fed.province.leafs()
        hub_side = await fed.hub.leafs()
        say("no_advertise: false; the proxy cut for 5 s",
            f"province leaf connections: {len(leafs)}; the hub's leaf goes to port "
            f"{hub_side[0].get('port') if hub_side else '—'} (proxy {fed.proxy.port}, province leaf port "
            f"{fed.proxy.target_port})")
        await fed.proxy.heal()

        bound = f"{HUB_STREAM}_BOUND"
        await fed.pjs.add_stream(StreamConfig(name=bound, subjects=[HUB_SUBJECTS], storage=StorageType.MEMORY))
        await asyncio.sleep(0.5)
        acks = [await fed.hub_pub.one() for _ in range(10)]
        await asyncio.sleep(1)
        domains = sorted({f"{a.stream}@{a.domain}" for a in acks})
        say("without permissions, a province stream binding paht.donghoi.handling.> too; the hub publishes 10 events",
            f"acks from {domains}; the province's binding stream holds {await count(fed.pjs, bound)}")
        await fed.pjs.delete_stream(bound)
        before = await count(fed.pjs, PROV_STREAM)
        forged = await outcome(fed.hjs.publish(f"{PROV_SUBJECTS[:-2]}.ReportDispatched", b"forged", timeout=2))
        say("without permissions, the hub publishes to paht.province.dispatch.ReportDispatched",
            f"{forged}; province stream {before} → {await count(fed.pjs, PROV_STREAM)}")
    finally:
        await fed.stop()
    return out


def print_checks(checks: list[tuple[str, str]]) -> None:
    print()
    print("checks")
    for check, result in checks:
        print(f"- {check}:\n    {result}")


# ---------------------------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--modes", default="source,kick,durable,pull")
    parser.add_argument("--skip-checks", action="store_true")
    parser.add_argument("--only-checks", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (configs, logs, stores)")
    parser.add_argument("--outage-s", type=float, default=None, help="one more restart of each server after this long "
                        "down (default 60, 0 with --quick)")
    parser.add_argument("--long-cut-s", type=float, default=0, help="one more cut this long (e.g. 600: the goal's "
                        "10-minute partition), 10,000 events each side")
    parser.add_argument("--reconnect", default="1s", help="the hub's leafnode reconnect interval (default 1s)")
    parser.add_argument("--long-cut-only", action="store_true", help="only the --long-cut-s cut (and the correctness "
                        "check), no lag, cuts or restarts")
    args = parser.parse_args()
    args.repeat, args.events, args.hold_s, args.lag_s, args.rate = (1, 2000, 10, 5, 100) if args.quick else (3, 10_000, 45, 20, 100)
    args.restart_events, args.down_s, args.timeout = (500, 3, 180) if args.quick else (1000, 8, 240)
    args.outage_s = args.outage_s if args.outage_s is not None else (0 if args.quick else 60)
    folder = Path(tempfile.mkdtemp(prefix="paht-federation-"))
    print(f"nats-server {subprocess.run([nats_server_binary(), '--version'], capture_output=True, text=True).stdout.strip()}; "
          f"{os.cpu_count()} cores; folder {folder}")
    try:
        results = []
        if not args.only_checks:
            for mode in args.modes.split(","):
                results.append(asyncio.run(run_mode(mode, folder, args)))
            print_tables(results, args)
        if not args.skip_checks and not args.long_cut_only:
            print_checks(asyncio.run(run_checks(folder / "checks")))
    finally:
        if not args.keep:
            import shutil

            shutil.rmtree(folder, ignore_errors=True)
        else:
            print(f"kept: {folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
