"""`paht up` of a federated node: the nats-server config of the province and of a hub, their secrets, and the join.

A node alone keeps the plain command-line nats-server of the embedded run. A federated node (the province with
PAHT_HUBS, or a hub) gets a config file written here, from the templates measured in bench/federation_links.py
("pull" mode, the one PAHT uses): JetStream domain = node id; accounts SYS and PAHT (the node's services sign in
as `paht`); on the province a leafnode listener with one leaf user per declared hub, on a hub a leafnode remote
to the province.

Files, all 0600 under `<data>/federation/` (the folder 0700; never logged, never printed):

- `paht.password`, `sys.password`: the node's own NATS users (random, made once per data folder);
- `<hub>.secret` (province): a declared hub's secret. It is both the bearer token the hub presents to
  `GET /api/sync/v1/join/<hub>` and the password of its leaf user: whoever holds it can join as that hub;
- `leaf.json` (province): where the leafnode listener is (`local_url`) and the URL hubs are given (`leaf_url`:
  PAHT_LEAF_PUBLIC_URL when set — `tls://…` in production — else the local listener); the sync service reads it
  to answer the join; the listener keeps its port from one run to the next when it is free;
- `nats.conf`: the node's nats-server config (it holds the passwords, hence 0600).
"""
from __future__ import annotations

import json
import os
import secrets
import string
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from paht.runtime import federation
from paht.runtime.events.envelope import stream_for


def folder(data: Path) -> Path:
    path = Path(data) / "federation"
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read, without a moment where it is readable by others."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(tmp, 0o600)
    tmp.replace(path)


def secret(path: Path) -> str:
    """The secret kept in `path`, made (random, URL-safe) the first time."""
    if path.exists():
        value = path.read_text(encoding="utf-8").strip()
        if value:
            return value
    value = secrets.token_urlsafe(32)
    write_private(path, value + "\n")
    return value


def hub_secret_path(data: Path, hub: str) -> Path:
    return folder(data) / f"{hub}.secret"


def service_password(data: Path) -> str:
    return secret(folder(data) / "paht.password")


def services_url(password: str, port: int) -> str:
    """NATS_URL of the node's own services (user `paht` of account PAHT)."""
    return f"nats://paht:{urllib.parse.quote(password, safe='')}@127.0.0.1:{port}"


def without_credentials(url: str) -> str:
    """A URL fit for run.json and messages: user and password taken out."""
    parts = urllib.parse.urlsplit(url)
    if not parts.password and not parts.username:
        return url
    host = parts.hostname or ""
    return urllib.parse.urlunsplit((parts.scheme, f"{host}:{parts.port}" if parts.port else host, parts.path, parts.query, parts.fragment))


# ---------------------------------------------------------------------------------------------------------------
# Permissions of a hub's leaf connection


def hub_permissions(hub: str, province: str = federation.PROVINCE) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(publish, subscribe) allow lists of one hub's leaf user, as seen from the hub: publish = what the hub may send
    the province, subscribe = what the province may send the hub. Each entry is (subject, why).

    Only JetStream API traffic of the two border consumers crosses, in pull mode: never a `paht.…` or `pahtfed.…`
    subject (so no stream of one domain can capture a message of the other), nothing of another hub's streams, and
    of the province only the stream of what it sends this hub. The API subjects are exactly those nats-py sends for
    what the border does (paht.runtime.events.bus.ensure_durable, consumer.py): CONSUMER.INFO, then
    CONSUMER.DURABLE.CREATE (CONSUMER.CREATE.<stream>.<name>[.<filter>] by clients that name consumers), pull_subscribe_bind
    (nothing sent), fetch = CONSUMER.MSG.NEXT; and the acknowledgements. No STREAM.* request is needed.
    """
    hub_stream, _ = stream_for(hub, "handling")                                   # PAHT_DONGHOI_HANDLING
    to_hub, _ = stream_for(province, federation.outbound_service(hub))            # PAHT_PROVINCE_FOR_DONGHOI
    hub_reader, province_reader = federation.border_durable(hub), federation.border_durable(province)

    def consumer_api(domain: str, stream: str, durable: str, who: str) -> list[tuple[str, str]]:
        api = f"$JS.{domain}.API.CONSUMER"
        return [(f"{api}.INFO.{stream}.{durable}", f"{who}: does its durable consumer exist,"),
                (f"{api}.DURABLE.CREATE.{stream}.{durable}", "  create it (nats-py, durable_name)"),
                (f"{api}.CREATE.{stream}.{durable}", "  or (clients that name consumers, nats-server 2.9+)"),
                (f"{api}.CREATE.{stream}.{durable}.>", "  the same with its filter subject"),
                (f"{api}.MSG.NEXT.{stream}.{durable}", "  pull (fetch)"),
                (f"$JS.ACK.{stream}.{durable}.>", "  and acknowledge")]

    publish = [*consumer_api(province, to_hub, hub_reader, "the hub's border"),
               ("_INBOX.>", "answers and pulled events for the province's clients (the province's border)"),
               ("$JSC.R.>", "answers to the province server's JetStream requests")]
    subscribe = [*consumer_api(hub, hub_stream, province_reader, "the province's border"),
                 (f"_INBOX_{hub}.>", "answers and pulled events for the hub's clients (federation.inbox_prefix)"),
                 ("$JSC.R.>", "answers to the hub server's JetStream requests")]
    return publish, subscribe


def _permissions_block(hub: str, province: str) -> str:
    publish, subscribe = hub_permissions(hub, province)

    def block(entries: list[tuple[str, str]]) -> str:
        width = max(len(json.dumps(x)) for x, _ in entries) + 5
        return "\n".join(f'          {json.dumps(x) + ",":{width}s}# {why}' for x, why in entries)

    return ("permissions: {\n        publish: { allow: [\n" + block(publish) + "\n        ] }\n"
            "        subscribe: { allow: [\n" + block(subscribe) + "\n        ] }\n      }")


# ---------------------------------------------------------------------------------------------------------------
# Config files (string.Template: $name is filled in, $$ is a literal $)

_COMMON = string.Template("""\
# PAHT node $node ($role): written by `paht up` (paht/runtime/federation_up.py) at each start; edits are lost.
server_name: $node
listen: 127.0.0.1:$client_port
http: 127.0.0.1:$monitor_port
jetstream {
  store_dir: $store_dir
  domain: $node                   # seen from its peers, this JetStream is $$JS.$node.API.>
}
accounts {
  SYS: { users: [ { user: sys, password: $sys_password } ] }
  PAHT: {
    jetstream: enabled
    users: [
      { user: paht, password: $service_password }       # this node's own services
$leaf_users    ]
  }
}
system_account: SYS
""")

_PROVINCE_LEAF = string.Template("""\
leafnodes {
  listen: $leaf_listen
  # Hubs keep using the URL they were given (a proxy, a load balancer, a VPN address), never an internal one.
  no_advertise: true
}
""")

_HUB_LEAF = string.Template("""\
leafnodes {
  reconnect: "1s"                 # how soon the hub tries the province again after losing it
  remotes: [
    { url: $remote_url, account: PAHT }
  ]
}
""")

_LEAF_USER = string.Template("""\
      # Hub $hub: its leaf connection only. Permissions as seen from the hub.
      { user: $hub, password: $password, allowed_connection_types: ["LEAFNODE"],
      $permissions }
""")


@dataclass
class NatsPorts:
    client: int
    monitor: int


def province_conf(node: str, data: Path, ports: NatsPorts, leaf_listen: str, hubs: list[str]) -> str:
    """The province's nats-server config: its domain, accounts, and one leaf user per declared hub."""
    users = "".join(_LEAF_USER.substitute(hub=h, password=json.dumps(secret(hub_secret_path(data, h))),
                                          permissions=_permissions_block(h, node)) for h in hubs)
    return _common(node, "province", data, ports, users) + _PROVINCE_LEAF.substitute(leaf_listen=leaf_listen)


def hub_conf(node: str, data: Path, ports: NatsPorts, leaf_url: str, leaf_user: str, leaf_password: str) -> str:
    """A hub's nats-server config: its domain, accounts, and the leafnode remote to the province."""
    return _common(node, "hub", data, ports, "") + _HUB_LEAF.substitute(remote_url=json.dumps(with_user(leaf_url, leaf_user, leaf_password)))


def _common(node: str, role: str, data: Path, ports: NatsPorts, leaf_users: str) -> str:
    fed = folder(data)
    return _COMMON.substitute(node=node, role=role, client_port=ports.client, monitor_port=ports.monitor,
                              store_dir=json.dumps(str(Path(data) / "nats")), sys_password=json.dumps(secret(fed / "sys.password")),
                              service_password=json.dumps(service_password(data)), leaf_users=leaf_users)


def with_user(url: str, user: str, password: str) -> str:
    """The leaf URL with the hub's user and password in it (nats-leaf://, nats://, tls://)."""
    parts = urllib.parse.urlsplit(url if "://" in url else f"nats-leaf://{url}")
    netloc = f"{urllib.parse.quote(user, safe='')}:{urllib.parse.quote(password, safe='')}@{parts.hostname}"
    if parts.port:
        netloc += f":{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))


# ---------------------------------------------------------------------------------------------------------------
# Operators' examples (deploy/k8s/nats/, written by scripts/nats-examples): when the operators run NATS, the same
# accounts and leaf users as above, with TLS on the leaf link and every password read from the server's environment
# (nats-server replaces `$NAME` by the environment variable NAME), so the files hold no secret.

SERVICE_PASSWORD_VARIABLE = "PAHT_NATS_PASSWORD"        # user `paht` of account PAHT: this node's services
SYS_PASSWORD_VARIABLE = "PAHT_NATS_SYS_PASSWORD"        # user `sys` of account SYS
LEAF_URL_VARIABLE = "PAHT_LEAF_URL"                     # a hub: tls://<hub>:<its leaf password>@<the province's leaf listener>
EXAMPLE_TLS_DIR = "/etc/nats/leaf-tls"                  # tls.crt, tls.key, ca.crt (a kubernetes.io/tls Secret with ca.crt)
EXAMPLE_STORE_DIR = "/data/jetstream"


def leaf_password_variable(hub: str) -> str:
    """The province's environment variable with one hub's leaf password (= that hub's join secret, `<hub>.secret`)."""
    return "PAHT_LEAF_" + "".join(c if c.isalnum() else "_" for c in hub).upper() + "_PASSWORD"


_OPERATOR_COMMON = string.Template("""\
# PAHT $role node $node: the settings PAHT needs in the operators' nats-server config (merge them into yours).
# Generated by scripts/nats-examples from paht/runtime/federation_up.py; tests/unit/test_k8s_nats_examples.py fails
# when it no longer matches: regenerate, do not edit. Every `$$NAME` is read from the server's environment
# (fill it from a Kubernetes Secret); see deploy/k8s/README.md, "NATS".
jetstream {
  store_dir: $store_dir
  domain: $node                   # seen from its peers, this JetStream is $$JS.$node.API.>
}
accounts {
  SYS: { users: [ { user: sys, password: $$$sys_password } ] }
  PAHT: {
    jetstream: enabled
    users: [
      { user: paht, password: $$$service_password }       # this node's services: their NATS_URL (Secret paht-nats)
$leaf_users    ]
  }
}
system_account: SYS
""")

_OPERATOR_PROVINCE_LEAF = string.Template("""\
leafnodes {
  listen: "$leaf_listen"
  # Hubs keep using the URL they were given (PAHT_LEAF_PUBLIC_URL), never an internal address of this cluster.
  no_advertise: true
  # Hubs connect across networks PAHT does not own: TLS, and each hub shows a certificate from this CA as well as
  # its leaf user's password.
  tls {
    cert_file: "$tls_dir/tls.crt"
    key_file: "$tls_dir/tls.key"
    ca_file: "$tls_dir/ca.crt"
    verify: true
  }
}
""")

_OPERATOR_HUB_LEAF = string.Template("""\
leafnodes {
  reconnect: "1s"                 # how soon the hub tries the province again after losing it
  remotes: [
    {
      # tls://$hub:<the hub's leaf password = the province's $hub.secret>@<the province's leaf listener>:7422
      url: $$$leaf_url
      account: PAHT               # the province's border pulls from this account's JetStream
      tls {
        ca_file: "$tls_dir/ca.crt"          # the CA of the province's listener
        cert_file: "$tls_dir/tls.crt"       # the hub's client certificate (the listener verifies it)
        key_file: "$tls_dir/tls.key"
      }
    }
  ]
}
""")


def _operator_common(node: str, role: str, leaf_users: str, store_dir: str) -> str:
    return _OPERATOR_COMMON.substitute(node=node, role=role, store_dir=json.dumps(store_dir), leaf_users=leaf_users,
                                       sys_password=SYS_PASSWORD_VARIABLE, service_password=SERVICE_PASSWORD_VARIABLE)


def province_operator_conf(node: str, hubs: list[str], leaf_listen: str = "0.0.0.0:7422", tls_dir: str = EXAMPLE_TLS_DIR,
                           store_dir: str = EXAMPLE_STORE_DIR) -> str:
    """The province's part of an operator-run nats-server config: its domain, accounts, one leaf user per hub (the
    permissions `paht up` gives them) and a leafnode listener with TLS. Passwords are environment variables."""
    users = "".join(_LEAF_USER.substitute(hub=h, password="$" + leaf_password_variable(h), permissions=_permissions_block(h, node))
                    for h in hubs)
    return (_operator_common(node, "province", users, store_dir)
            + _OPERATOR_PROVINCE_LEAF.substitute(leaf_listen=leaf_listen, tls_dir=tls_dir))


def hub_operator_conf(node: str, tls_dir: str = EXAMPLE_TLS_DIR, store_dir: str = EXAMPLE_STORE_DIR) -> str:
    """A hub's part of an operator-run nats-server config: its domain, accounts and the TLS leafnode remote to the
    province (its URL, with the hub's leaf user and password, is an environment variable)."""
    return (_operator_common(node, "hub", "", store_dir)
            + _OPERATOR_HUB_LEAF.substitute(hub=node, leaf_url=LEAF_URL_VARIABLE, tls_dir=tls_dir))


def write_conf(data: Path, text: str, name: str = "nats.conf") -> Path:
    path = folder(data) / name
    write_private(path, text)
    return path


# ---------------------------------------------------------------------------------------------------------------
# The leaf listener's address, and the join


def leaf_address(data: Path, host: str, public_url: str | None, free_port, port_is_free) -> dict:
    """Choose the province's leafnode listener (the port of the last run when it is still free) and write leaf.json."""
    path = folder(data) / "leaf.json"
    port = 0
    try:
        previous = json.loads(path.read_text())
        if previous.get("host") == host and port_is_free(int(previous["port"]), host):
            port = int(previous["port"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    port = port or free_port(host)
    local = f"nats-leaf://127.0.0.1:{port}"
    info = {"host": host, "port": port, "local_url": local, "leaf_url": public_url or local}
    write_private(path, json.dumps(info, indent=2) + "\n")
    return info


def read_leaf_url(data: Path, public_url: str | None) -> str | None:
    """The leaf URL hubs are given: PAHT_LEAF_PUBLIC_URL, else the listener `paht up` wrote down (None: unknown)."""
    if public_url:
        return public_url
    try:
        return json.loads((Path(data) / "federation" / "leaf.json").read_text())["leaf_url"]
    except (OSError, ValueError, KeyError):
        return None


def join_answer(province: str, hub: str, leaf_url: str | None, hub_secret: str, public_url: str | None) -> dict:
    return {"province_node": province, "hub": hub, "leaf_url": leaf_url, "leaf_user": hub, "leaf_password": hub_secret,
            "public_url": public_url}


class JoinRefused(SystemExit):
    """The province answered, and said no: retrying will not help."""


def fetch_join(province_url: str, hub: str, join_secret: str, wait_s: float = 120.0, say=print) -> dict:
    """Ask the province for what a hub needs to join it; while it is not up yet (no answer, 5xx), ask again."""
    url = f"{province_url.rstrip('/')}/api/sync/v1/join/{urllib.parse.quote(hub, safe='')}"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {join_secret}", "Accept": "application/json"})
    end = time.monotonic() + wait_s
    told = False
    while True:
        try:
            with urllib.request.urlopen(request, timeout=5) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as exc:
            if exc.code in (401, 403, 404):
                raise JoinRefused(f"the province at {province_url} refused hub {hub!r} (HTTP {exc.code}): "
                                  + ("wrong join secret" if exc.code in (401, 403) else "not a hub it declared (PAHT_HUBS)"))
            problem = f"HTTP {exc.code}"
        except (OSError, ValueError) as exc:
            problem = type(exc).__name__
        if time.monotonic() > end:
            raise SystemExit(f"could not join the province at {province_url} ({problem}); is it up?")
        if not told:
            say(f"  waiting for the province at {province_url} ({problem})…")
            told = True
        time.sleep(1.0)


def check_hub_secret(data: Path, hub: str, authorization: str | None) -> None:
    """A declared hub presents its secret (`Authorization: Bearer <secret>`): the join, and what a hub fetches from the
    province (the files of a case it owns). Compared in constant time; a wrong or missing one is a 401."""
    import hmac

    from paht.runtime.errors import Unauthorized

    try:
        expected = hub_secret_path(Path(data), hub).read_text(encoding="utf-8").strip()
    except OSError:
        expected = ""
    scheme, _, given = (authorization or "").partition(" ")
    if not expected or scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected.encode()):
        raise Unauthorized(f"Wrong or missing secret of hub {hub!r}.", f"Mã bí mật của nút cấp huyện {hub!r} không đúng hoặc chưa được gửi.")
