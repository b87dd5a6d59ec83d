"""The organisation directory as handling sees it: a port, dispatch's gRPC adapter, and the look-ups
the service layer makes through it (a unit with its ancestors, a person)."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Protocol

import grpc

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


class DirectoryUnavailable(Unavailable):
    """Dispatch (the owner of the directory) did not answer, so a unit or person cannot be checked."""


class OrgDirectory(Protocol):
    async def get_unit(self, unit_id: str) -> OrgUnitInfo | None: ...

    async def get_person(self, subject: str) -> CandidatePerson | None: ...

    async def list_people(self, org_unit_id: str, role: str = "") -> list[CandidatePerson]: ...


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
        return OrgUnitInfo(id=reply.id, name=reply.name, parent_id=reply.parent_id, kind=reply.kind)

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
