"""The organisation directory as handling sees it: a port, its adapters (handling's copy of the units,
dispatch's gRPC service for people), and the look-ups the service layer makes (a unit with its ancestors, a person)."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Protocol

import grpc

from paht.runtime import db
from paht.dispatch.v1 import directory_pb2, directory_pb2_grpc
from paht.runtime.errors import Unavailable
from services.handling.domain.case import CandidatePerson, CandidateUnit

log = logging.getLogger(__name__)
MAX_DEPTH = 12  # deeper than any real tree; stops a cycle in bad data


@dataclass(frozen=True)
class OrgUnitInfo:
    id: str
    name: str
    parent_id: str
    kind: str
    hub_node: str = ""  # the node the directory places its handling on ("" = the province; federation)


class DirectoryUnavailable(Unavailable):
    """Dispatch (the owner of the directory) did not answer, so a unit or person cannot be checked."""


class OrgDirectory(Protocol):
    async def get_unit(self, unit_id: str) -> OrgUnitInfo | None: ...

    async def get_person(self, subject: str) -> CandidatePerson | None: ...

    async def list_people(self, org_unit_id: str, role: str = "") -> list[CandidatePerson]: ...

    async def list_children(self, parent_id: str) -> list[OrgUnitInfo]: ...


def _unavailable(what: str, exc: grpc.aio.AioRpcError) -> DirectoryUnavailable:
    log.warning("dispatch could not answer a directory look-up of a %s (%s)", what, exc.code().name)
    return DirectoryUnavailable(
        "The organisation directory is not reachable; try again shortly.",
        "Không truy cập được danh bạ tổ chức; vui lòng thử lại sau ít phút.",
    )


def _person(p: directory_pb2.Person) -> CandidatePerson:
    return CandidatePerson(subject=p.subject, name=p.name, org_unit_id=p.org_unit_id, roles=tuple(p.roles), active=p.active)


class GrpcOrgDirectory:
    """Ask dispatch's DirectoryService; the channel is opened on first use."""

    def __init__(self, channel: Callable[[], grpc.aio.Channel], timeout_s: float):
        self._channel = channel
        self._timeout = timeout_s

    def _stub(self) -> directory_pb2_grpc.DirectoryServiceStub:
        return directory_pb2_grpc.DirectoryServiceStub(self._channel())

    async def get_unit(self, unit_id: str) -> OrgUnitInfo | None:
        try:
            reply = await self._stub().GetOrgUnit(directory_pb2.GetOrgUnitRequest(id=unit_id), timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise _unavailable("unit", exc) from exc
        return OrgUnitInfo(id=reply.id, name=reply.name, parent_id=reply.parent_id, kind=reply.kind, hub_node=reply.hub_node)

    async def get_person(self, subject: str) -> CandidatePerson | None:
        try:
            reply = await self._stub().GetPerson(directory_pb2.GetPersonRequest(subject=subject), timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise _unavailable("person", exc) from exc
        return _person(reply)

    async def list_people(self, org_unit_id: str, role: str = "") -> list[CandidatePerson]:
        try:
            reply = await self._stub().ListPeople(directory_pb2.ListPeopleRequest(org_unit_id=org_unit_id, role=role), timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            raise _unavailable("unit's people", exc) from exc
        return [_person(p) for p in reply.people]

    async def list_children(self, parent_id: str) -> list[OrgUnitInfo]:
        """The units directly under one (those in force today), for the coordinator's choice of a lead unit."""
        try:
            reply = await self._stub().ListChildren(directory_pb2.ListChildrenRequest(parent_id=parent_id), timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            raise _unavailable("unit's children", exc) from exc
        return [OrgUnitInfo(id=u.id, name=u.name, parent_id=u.parent_id, kind=u.kind) for u in reply.units]


def on_directory_published(uow, event, envelope) -> None:
    """Replace handling's copy of the organisation units with the published revision (in the consumer's transaction)."""
    from services.handling.adapters.orm import directory_units

    s = uow.session
    s.execute(directory_units.delete())
    rows = [{"id": u.id, "name": u.name[:300], "parent_id": u.parent_id, "kind": u.kind, "hub_node": u.hub_node,
             "valid_from": u.valid_from, "valid_to": u.valid_to, "revision": event.revision} for u in event.units]
    if rows:
        s.execute(directory_units.insert(), rows)


class CopiedOrgDirectory:
    """Units from handling's own copy of the directory (fed by DirectoryPublished); people from dispatch.

    Until the first revision has arrived, units are asked of dispatch too. People are not part of the
    published directory (no personal lists travel in events): assigning staff asks dispatch.
    """

    def __init__(self, engine, people: OrgDirectory):
        self._engine = engine
        self._people = people

    def _row(self, unit_id: str):
        from sqlalchemy import func, select

        from services.handling.adapters.orm import directory_units

        with db.reading(self._engine) as conn:
            row = conn.execute(select(directory_units).where(directory_units.c.id == unit_id)).first()
            if row is None and not conn.execute(select(func.count()).select_from(directory_units)).scalar():
                return False  # no copy yet
        return row

    async def get_unit(self, unit_id: str) -> OrgUnitInfo | None:
        import asyncio

        row = await asyncio.to_thread(self._row, unit_id)
        if row is False:
            return await self._people.get_unit(unit_id)
        return None if row is None else OrgUnitInfo(id=row.id, name=row.name, parent_id=row.parent_id, kind=row.kind, hub_node=row.hub_node or "")

    async def get_person(self, subject: str) -> CandidatePerson | None:
        return await self._people.get_person(subject)

    def _children(self, parent_id: str, today: str):
        from sqlalchemy import func, select

        from services.handling.adapters.orm import directory_units

        t = directory_units.c
        with db.reading(self._engine) as conn:
            rows = conn.execute(select(directory_units).where(t.parent_id == parent_id).order_by(t.name)).all()
            if not rows and not conn.execute(select(func.count()).select_from(directory_units)).scalar():
                return False  # no copy yet
        return [r for r in rows if (not r.valid_from or r.valid_from <= today) and (not r.valid_to or today < r.valid_to)]

    async def list_children(self, parent_id: str) -> list[OrgUnitInfo]:
        """The units in force directly under one, from the copy (from dispatch until the first revision arrived)."""
        import asyncio
        from datetime import datetime
        from zoneinfo import ZoneInfo

        today = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date().isoformat()
        rows = await asyncio.to_thread(self._children, parent_id, today)
        if rows is False:
            return await self._people.list_children(parent_id)
        return [OrgUnitInfo(id=r.id, name=r.name, parent_id=r.parent_id, kind=r.kind) for r in rows]

    async def list_people(self, org_unit_id: str, role: str = "") -> list[CandidatePerson]:
        return await self._people.list_people(org_unit_id, role)

    def _in_force(self, today: str):
        from sqlalchemy import select

        from services.handling.adapters.orm import directory_units

        t = directory_units.c
        with db.reading(self._engine) as conn:
            rows = conn.execute(select(directory_units).order_by(t.name, t.id)).all()
        return [r for r in rows if (not r.valid_from or r.valid_from <= today) and (not r.valid_to or today < r.valid_to)]

    async def list_units(self) -> list[OrgUnitInfo]:
        """Every unit in force today, from the copy (none before the first revision arrived): whom step 5 may ask."""
        import asyncio
        from datetime import datetime
        from zoneinfo import ZoneInfo

        today = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date().isoformat()
        rows = await asyncio.to_thread(self._in_force, today)
        return [OrgUnitInfo(id=r.id, name=r.name, parent_id=r.parent_id, kind=r.kind) for r in rows]


async def candidate_unit(directory: OrgDirectory, unit_id: str) -> CandidateUnit | None:
    """Look a unit up with its chain of ancestors, for the domain to check it against the lead agency."""
    unit = await directory.get_unit(unit_id)
    if unit is None:
        return None
    ancestors: list[str] = []
    parent_id = unit.parent_id
    while parent_id and parent_id not in ancestors and len(ancestors) < MAX_DEPTH:
        ancestors.append(parent_id)
        parent = await directory.get_unit(parent_id)
        parent_id = parent.parent_id if parent else ""
    return CandidateUnit(id=unit.id, name=unit.name, ancestor_ids=tuple(ancestors))
