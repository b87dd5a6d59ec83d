"""Federation, the sync service's part: what the province sends each hub, and what a node lets in from its peers.

The names and the shape of the exchange are in paht/runtime/federation.py; here are its rules:

- The province is the source of record. When it dispatches a report to an agency a declared hub hosts, it grants that
  hub the handling steps with an epoch (services/sync/domain/ownership.py) and sends it the dispatch with that epoch
  in its meta; every later event the owner's handling needs (a reclassification, SLA warnings, the IOC's return at
  step 8, the reporter's clarification request and rating) follows it; a recall (dispatched again, elsewhere) tells
  the old hub, which closes its case.
- The province lets a hub's handling event in only when that hub owns the report at the event's epoch (fencing).
  Anything else is refused — kept in `refused_events`, counted in the status, listed on the sync page, logged —
  never dropped in silence, never applied.
- A hub lets in everything the province sends it.
- What is let in is written to the node's inbound stream with the report's next version in that sequence.
- The read-only copy: dispatch says which declared hubs serve an accepted report's area (ReportPlaced); the province
  sends each of them the placement and then every event of the report that its copy is made of (COPIED), and does the
  same for the hub a report is dispatched to. Each such event carries the header `Paht-Copy`; a hub's border writes it
  into its copies stream (read by its publication alone), never into the inbound stream its handling acts on.
"""
from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timezone

from google.protobuf.message import Message
from opentelemetry import metrics
from sqlalchemy import select

from paht.runtime.db import among, set_many
from paht.runtime import federation
from paht.runtime.events.envelope import Envelope, subject_for
from paht.runtime.ids import new_id
from paht.runtime.uow import UnitOfWork
from paht.sync.v1 import events_pb2 as ev
from services.sync.adapters.orm import reference_snapshots, refused_events, relayed_versions, report_copies
from services.sync.service_layer import links

log = logging.getLogger(__name__)
_refused = metrics.get_meter("paht.sync").create_counter(
    "paht.federation.refused", unit="{event}", description="Events of a hub the province refused (stale epoch or not the owner)")
_let_in = metrics.get_meter("paht.sync").create_counter(
    "paht.federation.let_in", unit="{event}", description="Events a border let into its node, by origin node")


# What the province sends the hub that owns a report, besides the dispatch itself: each event of another service that
# the owner's handling applies (services/handling/bootstrap.py subscribes to the same ones).
FORWARDED = {
    "dispatch": ("paht.dispatch.v1.ReportReclassified", "paht.dispatch.v1.SlaWarning", "paht.dispatch.v1.SlaBreached"),
    "publication": ("paht.publication.v1.PublicationReturned", "paht.publication.v1.ClarificationRequested",
                    "paht.publication.v1.ClarificationSentBack", "paht.publication.v1.ReportRated"),
}


# What a hub's read-only copy of a report is made of, after its placement (dispatch's ReportPlaced): the events of the
# province that the hub's publication applies to its copy (services/publication/service_layer/copies.py; a test keeps
# the two equal). The hub's own handling events need no copy: they are written on the hub.
COPIED = {
    "dispatch": ("paht.dispatch.v1.ReportDispatched",),
    "intake": ("paht.intake.v1.ReportClassified", "paht.intake.v1.PublicMediaChanged"),
    "handling": ("paht.handling.v1.CaseAssigned", "paht.handling.v1.CaseRefusedByAgency", "paht.handling.v1.CaseRefusedByUnit",
                 "paht.handling.v1.ResultDrafted", "paht.handling.v1.ResultApproved", "paht.handling.v1.ResultReturned"),
    "publication": ("paht.publication.v1.ResultPublished", "paht.publication.v1.PublicationReturned", "paht.publication.v1.ReportRated"),
}
PLACED = "paht.dispatch.v1.ReportPlaced"


# Reference data every hub gets (its handling computes deadlines on the province's calendar, names units from its
# directory): each revision as dispatch publishes it.
REFERENCE = ("paht.dispatch.v1.DirectoryPublished", "paht.dispatch.v1.TaxonomyPublished", "paht.dispatch.v1.CalendarPublished")


def next_version(uow: UnitOfWork, key: str) -> int:
    """The next number of one relayed per-report sequence. Within a transaction the counters are read once (locked
    until the commit), counted in memory, and written once at the commit: a batch of events costs one read and one
    write per report, not two statements per event."""
    counters = uow.scratch.get("relayed_versions")
    if counters is None:
        counters = uow.scratch["relayed_versions"] = {}
        uow.before_commit(lambda: _write_counters(uow, counters))
    if key not in counters:
        _load_counters(uow, counters, [key])
    counters[key][0] += 1
    return counters[key][0]


def _load_counters(uow: UnitOfWork, counters: dict, keys: list[str]) -> None:
    wanted = [k for k in keys if k not in counters]
    if not wanted:
        return
    rows = dict(uow.session.execute(select(relayed_versions.c.key, relayed_versions.c.version)
                                    .where(among(uow.session, relayed_versions.c.key, wanted)).with_for_update()).all())
    for k in wanted:
        counters[k] = [rows.get(k, 0), k in rows, rows.get(k, 0)]  # [current, stored, as read]


def _write_counters(uow: UnitOfWork, counters: dict) -> None:
    s = uow.session
    fresh = [{"key": k, "version": v[0]} for k, v in counters.items() if not v[1] and v[0]]
    set_many(s, relayed_versions, "key", "version", {k: v[0] for k, v in counters.items() if v[1] and v[0] != v[2]})  # one statement
    if fresh:
        s.execute(relayed_versions.insert(), fresh)


def preload_for(peer: str, province: bool):
    """What the border of `peer`'s events needs for a batch, read with one query each: the counters of the reports in
    it and (on the province) their ownership rows."""
    # the sequences a batch from this peer may number: the hub's handling; on a hub, what the province sends
    producers = ("handling",) if province else ("sync", "dispatch", "publication")

    def preload(uow: UnitOfWork, report_ids: list[str]) -> None:
        ids = sorted(set(report_ids))
        if province:
            uow.ownerships.load_many(ids)
        counters = uow.scratch.get("relayed_versions")
        if counters is None:
            counters = uow.scratch["relayed_versions"] = {}
            uow.before_commit(lambda: _write_counters(uow, counters))
        keys = [f"in:{peer}.{p}:{r}" for r in ids for p in producers]
        if not province:  # and the read-only copies, numbered apart
            keys += [f"copy:{peer}.{p}:{r}" for r in ids for p in COPIED]
        _load_counters(uow, counters, keys)

    return preload


def send_to_hub(uow: UnitOfWork, hub: str, envelope: Envelope, kind: str = "") -> None:
    """Write one event into what the province sends `hub` (its outbound stream), in this transaction; kind "area" for
    the hub's read-only copy. The copy is numbered apart, per report, and has ids of its own (a hub may get the same
    event both as the owner and for its copy): Envelope.position_key keeps the two sequences apart on every node."""
    key = f"out:{hub}:{envelope.producer}{'+copy' if kind else ''}:{envelope.report_id}"
    copy = replace(envelope, id=federation.copy_id(hub, envelope.id, kind))  # one id per hub: the same event may go to several
    headers = {federation.ORIGIN_VERSION: str(envelope.report_version), federation.ORIGIN_ID: envelope.id}
    if kind:
        headers[federation.COPY_HEADER] = kind
    uow.pass_on(copy, subject=subject_for(uow.node_id, federation.outbound_service(hub), envelope.type),
                version=next_version(uow, key), headers=headers)


def send_own_to_hub(uow: UnitOfWork, hub: str, event: Message, report_id: str) -> None:
    """Send a hub an event of sync itself (its meta already filled by uow.emit) under an id of its own."""
    envelope = Envelope.for_event(event, node_id=uow.node_id, service=uow.service, report_id=report_id, version=0, id=new_id())
    send_to_hub(uow, hub, envelope)


def forward_to_owner(uow: UnitOfWork, msg: Message, envelope: Envelope) -> None:
    """An event about a report a hub owns goes on to that hub (the province's own reports: nothing to do)."""
    own = uow.ownerships.get(envelope.report_id)
    if own is not None and own.node_id != uow.node_id and own.node_id in uow.hubs:
        send_to_hub(uow, own.node_id, envelope)


def hubs_with_copy(uow: UnitOfWork, report_id: str) -> set[str]:
    """The hubs that keep a read-only copy of a report (read once per transaction and report, see preload_copies)."""
    known = uow.scratch.setdefault("report_copies", {})
    if report_id not in known:
        rows = uow.session.execute(select(report_copies.c.hub).where(report_copies.c.report_id == report_id)).scalars()
        known[report_id] = set(rows)
    return known[report_id]


def keep_copy(uow: UnitOfWork, report_id: str, hub: str) -> bool:
    """From now on `hub` keeps a copy of the report; False when it already did."""
    hubs = hubs_with_copy(uow, report_id)
    if hub in hubs or hub not in uow.hubs:
        return False
    uow.session.execute(report_copies.insert().values(report_id=report_id, hub=hub))
    hubs.add(hub)
    return True


def on_report_placed(uow: UnitOfWork, msg: Message, envelope: Envelope) -> None:
    """Dispatch placed an accepted report in the area of some hubs: each keeps a copy from its placement on."""
    for hub in msg.hub_nodes:
        if keep_copy(uow, envelope.report_id, hub):
            send_to_hub(uow, hub, envelope, kind="area")


def copy_to_hubs(uow: UnitOfWork, msg: Message, envelope: Envelope) -> None:
    """An event the copies are made of goes to every hub that keeps a copy of its report."""
    for hub in sorted(hubs_with_copy(uow, envelope.report_id)):
        send_to_hub(uow, hub, envelope, kind="area")


def pass_on_to_hubs(uow: UnitOfWork, msg: Message, envelope: Envelope) -> None:
    """The province's events that concern hubs: to the owner (FORWARDED) and to the copies (COPIED), as the type says."""
    if envelope.type in _FORWARDED_TYPES:
        forward_to_owner(uow, msg, envelope)
    if envelope.type in _COPIED_TYPES:
        copy_to_hubs(uow, msg, envelope)


_FORWARDED_TYPES = frozenset(t for types in FORWARDED.values() for t in types)
_COPIED_TYPES = frozenset(t for types in COPIED.values() for t in types)


def preload_copies(uow: UnitOfWork, report_ids: list[str]) -> None:
    """Before a batch of the province's events: its reports' ownerships and copies, one query each."""
    ids = sorted(set(report_ids))
    uow.ownerships.load_many(ids)
    known = uow.scratch.setdefault("report_copies", {})
    wanted = [r for r in ids if r not in known]
    for r in wanted:
        known[r] = set()
    if wanted:
        for report_id, hub in uow.session.execute(select(report_copies.c.report_id, report_copies.c.hub)
                                                  .where(among(uow.session, report_copies.c.report_id, wanted))):
            known[report_id].add(hub)


def on_reference_published(uow: UnitOfWork, msg: Message, envelope: Envelope) -> None:
    """Keep the latest revision of a reference data set, and send it to every declared hub."""
    s = uow.session
    row = s.execute(select(reference_snapshots.c.version).where(reference_snapshots.c.report_id == envelope.report_id)
                    .with_for_update()).first()
    values = {"ce_type": envelope.type, "version": envelope.report_version, "payload": envelope.data, "headers": envelope.headers()}
    if row is None:
        s.execute(reference_snapshots.insert().values(report_id=envelope.report_id, **values))
    elif envelope.report_version > row.version:
        s.execute(reference_snapshots.update().where(reference_snapshots.c.report_id == envelope.report_id).values(**values))
    for hub in uow.hubs:
        send_to_hub(uow, hub, envelope)


def send_reference_to_new_hubs(uow: UnitOfWork) -> list[str]:
    """A hub declared after the reference data was published gets its latest revision of each set (at start). Return
    the hubs that got something."""
    s = uow.session
    done: list[str] = []
    snapshots = s.execute(select(reference_snapshots)).all()
    for hub in uow.hubs:
        for snap in snapshots:
            key = f"out:{hub}:dispatch:{snap.report_id}"
            if s.execute(select(relayed_versions.c.version).where(relayed_versions.c.key == key)).first() is None:
                send_to_hub(uow, hub, Envelope.from_nats(dict(snap.headers), snap.payload))
                done.append(hub)
    return sorted(set(done))


def let_in(uow: UnitOfWork, msg: Message, envelope: Envelope) -> None:
    """The border: an event of a peer node, checked, into this node's inbound stream (or kept as refused)."""
    origin = envelope.origin_node
    if origin not in federation.peers_of(uow.node_id, uow.hubs, uow.parent_node):
        _refuse(uow, msg, envelope, None, f"node {origin!r} is not a peer of this node")
        return
    if not uow.parent_node:  # the province: a hub writes only what it owns, at the current epoch
        own = uow.ownerships.get(envelope.report_id)
        epoch = msg.meta.epoch if msg.HasField("meta") else 0
        if own is None or not own.accepts(origin, epoch):
            _refuse(uow, msg, envelope, own, "stale epoch" if own is not None and own.node_id == origin else "not the owner")
            return
    headers = {federation.ORIGIN_VERSION: str(envelope.report_version)}
    if uow.parent_node and envelope.extra.get(federation.COPY_HEADER):  # the hub's read-only copy: for its publication only
        key = f"copy:{origin}.{envelope.producer}:{envelope.report_id}"
        subject = federation.copy_subject(uow.node_id, origin, envelope.producer, envelope.type)
        headers[federation.COPY_HEADER] = envelope.extra[federation.COPY_HEADER]
    else:
        key = f"in:{origin}.{envelope.producer}:{envelope.report_id}"
        subject = federation.inbound_subject(uow.node_id, origin, envelope.producer, envelope.type)
    uow.pass_on(envelope, subject=subject, version=next_version(uow, key), headers=headers)
    _let_in.add(1, {"paht.origin_node": origin})
    links.note_let_in(origin, envelope.time)


def _refuse(uow: UnitOfWork, msg: Message, envelope: Envelope, own, reason: str) -> None:
    epoch = msg.meta.epoch if msg.HasField("meta") else 0
    owner, owner_epoch = (own.node_id, own.epoch) if own is not None else ("", 0)
    uow.session.execute(refused_events.insert().values(
        event_id=envelope.id, origin_node=envelope.origin_node[:40], ce_type=envelope.type[:200], report_id=envelope.report_id,
        origin_version=envelope.report_version, epoch=epoch, owner_node=owner, owner_epoch=owner_epoch, reason=reason[:300],
        payload=envelope.data, headers=envelope.headers(), refused_at=datetime.now(timezone.utc)))
    _refused.add(1, {"paht.origin_node": envelope.origin_node, "paht.reason": reason})
    log.error("refused %s from node %s for report %s: %s (its epoch %s; owner %s at epoch %s); kept for the sync page",
              envelope.type, envelope.origin_node, envelope.report_id, reason, epoch, owner or "none", owner_epoch,
              extra={"report_id": envelope.report_id, "event_id": envelope.id})


def recalled_event(node: str, epoch: int, reason: str) -> ev.OwnershipRecalled:
    return ev.OwnershipRecalled(node_id=node, epoch=epoch, reason=reason)
