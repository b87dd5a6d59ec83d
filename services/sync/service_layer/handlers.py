"""Sync's use cases: follow dispatch decisions with ownership grants and recalls; report status."""
from __future__ import annotations

from dataclasses import replace

from google.protobuf.message import Message

from paht.common.v1 import common_pb2
from paht.runtime.auth import Principal
from paht.runtime.errors import NotFound
from paht.runtime.events.envelope import Envelope
from paht.runtime.ids import ID_PATTERN, looks_like_id
from paht.runtime.uow import UnitOfWork
from paht.sync.v1 import events_pb2 as ev
from services.sync.domain.ownership import Ownership
from services.sync.service_layer import border

SYSTEM = common_pb2.Actor(subject="system", role="sync")
REPORT_ID = ID_PATTERN


def on_report_dispatched(uow: UnitOfWork, event: Message, envelope: Envelope) -> None:
    """Grant the lead agency's hub node the handling steps (and recall them from any earlier hub); on the province, send
    the dispatch to the hub that now owns the report, with the epoch its events must carry."""
    own = uow.ownerships.get_or_start(envelope.report_id)
    recalled, granted = own.follow_dispatch(event.hub_node, event.lead_agency.id)
    if recalled:
        msg = ev.OwnershipRecalled(node_id=recalled[0], epoch=recalled[1], reason="re-dispatched")
        uow.emit(msg, report_id=own.report_id, version=own.next_version(), actor=SYSTEM, epoch=recalled[1])
        if recalled[0] in uow.hubs:  # the old hub closes its case; its late writes are refused from now on
            border.send_own_to_hub(uow, recalled[0], msg, own.report_id)
    if granted:
        msg = ev.OwnershipGranted(node_id=granted[0], epoch=granted[1])
        msg.lead_agency.CopyFrom(event.lead_agency)
        uow.emit(msg, report_id=own.report_id, version=own.next_version(), actor=SYSTEM, epoch=granted[1])
    if own.node_id in uow.hubs:  # every round to a hub goes to it (a new round to the same agency keeps the epoch)
        border.keep_copy(uow, own.report_id, own.node_id)  # and the hub keeps a read-only copy of what it handles
        owned = type(event)()
        owned.CopyFrom(event)
        owned.meta.epoch = own.epoch
        border.send_to_hub(uow, own.node_id, replace(envelope, data=owned.SerializeToString()))


def on_report_recalled(uow: UnitOfWork, event: Message, envelope: Envelope) -> None:
    """The IOC took the report back from its lead agency: a hub that had it loses it now, and is told."""
    own = uow.ownerships.get(envelope.report_id, for_change=True)
    if own is None:
        return
    recalled = own.recall()
    if recalled:
        msg = ev.OwnershipRecalled(node_id=recalled[0], epoch=recalled[1], reason=event.reason or "recalled")
        uow.emit(msg, report_id=own.report_id, version=own.next_version(), actor=SYSTEM, epoch=recalled[1])
        if recalled[0] in uow.hubs:
            border.send_own_to_hub(uow, recalled[0], msg, own.report_id)


def _not_found() -> NotFound:
    # The same answer for unknown and for hidden: a person outside the lead agency learns nothing.
    return NotFound("No ownership is known for this report.", "Không có thông tin quyền xử lý của phản ánh này.")


def ownership_of(uow: UnitOfWork, report_id: str) -> Ownership:
    """Return a dispatched report's ownership, for services (no person's scope applies)."""
    with uow:
        own = uow.ownerships.get(report_id) if looks_like_id(report_id) else None
    if own is None:
        raise _not_found()
    return own


def get_ownership(uow: UnitOfWork, user: Principal, report_id: str) -> Ownership:
    """Return a report's ownership to a person who may see it: the IOC, or people of its lead agency."""
    own = ownership_of(uow, report_id)
    if not own.visible_to(user):
        raise _not_found()
    return own


def status(uow: UnitOfWork, settings) -> dict:
    """This node's sync status: its role, each link to a peer node, refused events, and who owns how many reports."""
    from sqlalchemy import func, select

    from paht.runtime import federation
    from services.sync.adapters.orm import refused_events
    from services.sync.service_layer import links

    peers = federation.peers(settings)
    with uow:
        refused = dict(uow.session.execute(select(refused_events.c.origin_node, func.count())
                                           .group_by(refused_events.c.origin_node)).all())
        by_node = uow.ownerships.count_by_node()
    views = links.snapshot(peers)
    for view in views:
        view["refused_events"] = refused.get(view["peer"], 0)
    return {"role": federation.role(settings) if federation.is_federated(settings) else "alone",
            "parent_node": settings.parent_node or None, "hubs": federation.hubs(settings), "peers": views,
            "refused_events": sum(refused.values()), "reports_by_node": by_node}


def refused(uow: UnitOfWork, limit: int = 50) -> list[dict]:
    """The latest events refused at this node's border (the sync page, the API), newest first."""
    from sqlalchemy import select

    from services.sync.adapters.orm import refused_events as t

    with uow:
        rows = uow.session.execute(select(t.c.event_id, t.c.origin_node, t.c.ce_type, t.c.report_id, t.c.origin_version, t.c.epoch,
                                          t.c.owner_node, t.c.owner_epoch, t.c.reason, t.c.refused_at)
                                   .order_by(t.c.refused_at.desc()).limit(max(1, min(limit, 500)))).all()
    return [{"event_id": r.event_id, "origin_node": r.origin_node, "type": r.ce_type.rsplit(".", 1)[-1], "report_id": r.report_id,
             "origin_version": r.origin_version, "epoch": r.epoch, "owner_node": r.owner_node or None,
             "owner_epoch": r.owner_epoch, "reason": r.reason, "refused_at": r.refused_at.isoformat()} for r in rows]
