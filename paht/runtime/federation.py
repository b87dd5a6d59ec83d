"""Federation: the names and rules of how nodes (the province, district hubs) exchange events. One home for them.

A node is the province (the source of record) or a hub that joins it. Each node has its own NATS server with its own
JetStream domain (the node id) and its own databases; a hub's server is a leaf node of the province's. Events cross
only through the sync service of the receiving node (the *border*): it pulls them from a stream of the other node's
domain with a durable consumer, checks them (on the province: the epoch, so a stale hub can never overwrite), and
writes each one it lets in into its own node's *inbound* stream, where that node's services read it like any event.

- province → hub: the province's sync writes what concerns a hub into the stream `PAHT_<PROVINCE>_FOR_<HUB>`
  (subjects `paht.<province>.for-<hub>.<Event>`); nothing else of the province is readable by the hub.
- hub → province: the province's border reads the hub's handling stream `PAHT_<HUB>_HANDLING`.
- inbound, on every node: `PAHT_<NODE>_INBOUND`, subjects `pahtfed.<node>.<origin>.<service>.<Event>` — a root that
  no leaf-node permission lets across, so no two domains' streams can ever capture the same message.
- copies, on a hub: `PAHT_<HUB>_COPIES`, subjects `pahtcopy.<hub>.<origin>.<service>.<Event>`: the read-only copy of
  the province's reports in the hub's area (and of those it handles), for the hub's own read model — kept apart from
  what its handling applies, so that a copy is never taken for an instruction. The province marks each event of the
  copy with the header `Paht-Copy`; the hub's border sorts by it.

Per report, the events a border lets in are numbered again without gaps (the report's version in the inbound stream),
so that a refused stale event never leaves the services of its node waiting for a version that will not come; the
version the origin gave is kept in the header `Paht-Origin-Version`.
"""
from __future__ import annotations

import re

PROVINCE = "province"
NODE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
INBOUND_ROOT = "pahtfed"
ORIGIN_VERSION = "Paht-Origin-Version"
COPY_ROOT = "pahtcopy"
COPY_HEADER = "Paht-Copy"  # on what the province sends a hub for its read-only copy (value: "area")
ORIGIN_ID = "Paht-Origin-Id"  # what the province sends a hub has an id of its own for that hub; the event's id stays here

# The services a hub runs: sign-in (dispatch), handling, sync, and publication for the district IOC's read-only copy of
# its area (statistics and lists; no public portal, no step 8); the province runs all of them.
HUB_SERVICES = ("dispatch", "handling", "publication", "sync")
# Which services of a node read its inbound stream: a hub's handling reads what the province sends it; the province's
# services that follow handling read the hubs' handling events.
INBOUND_READERS = {"province": ("intake", "dispatch", "publication"), "hub": ("handling",)}


def _names(value: str) -> list[str]:
    return [n.strip() for n in value.split(",") if n.strip()]


def check(settings) -> None:
    for name in [settings.node_id, *_names(settings.hubs), *_names(settings.parent_node)]:
        if not NODE_NAME.match(name):
            raise ValueError(f"{name!r} is not a node name (lower-case letters, digits and '-', starting with a letter)")
    if settings.hubs and settings.parent_node:
        raise ValueError("a node is the province (PAHT_HUBS) or a hub (PAHT_PARENT_NODE), not both")
    if settings.node_id in _names(settings.hubs) or settings.node_id == settings.parent_node:
        raise ValueError(f"node {settings.node_id!r} cannot be its own peer")


def hubs(settings) -> list[str]:
    """The hubs a province has declared (empty on a hub and on a node alone)."""
    return _names(settings.hubs)


def is_hub(settings) -> bool:
    return bool(settings.parent_node)


def is_federated(settings) -> bool:
    return bool(settings.hubs or settings.parent_node)


def peers(settings) -> list[str]:
    """The nodes this node exchanges events with."""
    return [settings.parent_node] if settings.parent_node else hubs(settings)


def peers_of(node: str, declared_hubs, parent_node: str) -> list[str]:
    """The same as peers(), from the facts a unit of work carries."""
    return [parent_node] if parent_node else [h for h in declared_hubs if h != node]


def role(settings) -> str:
    return "hub" if is_hub(settings) else "province"


def hosting_node(declared_hubs, hub_node: str) -> str:
    """The node that handles the cases of an agency the directory places on `hub_node` ('' = the province): the hub
    only when the province has declared it as running a node of its own (PAHT_HUBS); otherwise the province does."""
    return hub_node if hub_node and hub_node in declared_hubs else ""


def handled_on(node_id: str, declared_hubs, parent_node: str, hub_node: str) -> str:
    """The node where an organisation's work is done, seen from `node_id`: on a hub, its own organisations are there
    and every other at the province; on the province, a declared hub's organisations are on that hub."""
    if parent_node:
        return node_id if hub_node == node_id else parent_node
    return hosting_node(declared_hubs, hub_node) or node_id


# Who reads a hub's copies stream: its publication (the district's read model).
COPY_READERS = ("publication",)


def reads_inbound(settings, service: str) -> bool:
    return is_federated(settings) and service in INBOUND_READERS[role(settings)]


def reads_copies(settings, service: str) -> bool:
    return is_hub(settings) and service in COPY_READERS


def _upper(node: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in node).upper()


def outbound_service(hub: str) -> str:
    """The service-like name under which the province writes what concerns one hub: its subjects are
    paht.<province>.for-<hub>.<Event>, its stream PAHT_<PROVINCE>_FOR_<HUB> (see envelope.stream_for)."""
    return f"for-{hub}"


def inbound_stream(node: str) -> tuple[str, str]:
    """(name, subjects) of a node's inbound stream."""
    return f"PAHT_{_upper(node)}_INBOUND", f"{INBOUND_ROOT}.{node}.>"


def inbound_subject(node: str, origin: str, service: str, type_name: str) -> str:
    return f"{INBOUND_ROOT}.{node}.{origin}.{service}.{type_name.rsplit('.', 1)[-1]}"


def copies_stream(node: str) -> tuple[str, str]:
    """(name, subjects) of a hub's stream of copies (the province's reports in its area, read-only)."""
    return f"PAHT_{_upper(node)}_COPIES", f"{COPY_ROOT}.{node}.>"


def copy_subject(node: str, origin: str, service: str, type_name: str) -> str:
    return f"{COPY_ROOT}.{node}.{origin}.{service}.{type_name.rsplit('.', 1)[-1]}"


def border_durable(node: str) -> str:
    """The durable consumer a node's border holds on a peer's stream (lives on the peer's server)."""
    return f"border-{node}"


def copy_id(hub: str, event_id: str, kind: str = "") -> str:
    """The id of one hub's copy of an event: the same for the same hub, kind and event (a resend is a duplicate there);
    the read-only copy (kind "area") of an event the hub also gets as its owner has an id of its own."""
    import uuid

    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"paht:{hub}:{kind + ':' if kind else ''}{event_id}"))


def inbox_prefix(settings) -> str:
    """NATS inbox prefix of a node's clients: a hub's are its own, so that the province's leaf-node permissions can
    let through only the answers meant for that hub."""
    return f"_INBOX_{settings.node_id}" if is_hub(settings) else "_INBOX"


def streams_kept_by(settings, service: str) -> list[tuple[str, str, str]]:
    """The federation streams a service makes sure exist on its node before it starts: the inbound stream (its
    readers, and sync, which writes it), and on the province the stream of what goes to each hub (sync writes them)."""
    if not is_federated(settings) or not (service == "sync" or reads_inbound(settings, service) or reads_copies(settings, service)):
        return []
    node = settings.node_id
    name, subjects = inbound_stream(node)
    streams = [(name, subjects, f"Events let in from other nodes, on node {node}")]
    if is_hub(settings):
        name, subjects = copies_stream(node)
        streams.append((name, subjects, f"The read-only copy of the province's reports in the area of hub {node}"))
    if service == "sync":
        from paht.runtime.events.envelope import stream_for

        for hub in hubs(settings):
            name, subjects = stream_for(node, outbound_service(hub))
            streams.append((name, subjects, f"What node {node} sends hub {hub}"))
    return streams
