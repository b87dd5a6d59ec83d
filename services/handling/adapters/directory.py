"""The organisation directory as handling sees it: a port, dispatch's gRPC adapter and an in-memory fake."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

import grpc

from paht.dispatch.v1 import directory_pb2, directory_pb2_grpc
from paht.runtime.errors import Unavailable
from services.handling.domain.case import CandidateUnit

log = logging.getLogger(__name__)
SEED = Path(__file__).resolve().parents[2] / "dispatch" / "seed" / "org_units.json"
MAX_DEPTH = 12  # deeper than any real tree; stops a cycle in bad data


@dataclass(frozen=True)
class OrgUnitInfo:
    id: str
    name: str
    parent_id: str
    kind: str


class DirectoryUnavailable(Unavailable):
    """Dispatch (the owner of the directory) did not answer, so a unit cannot be checked."""


class OrgDirectory(Protocol):
    async def get_unit(self, unit_id: str) -> OrgUnitInfo | None: ...


class GrpcOrgDirectory:
    """Ask dispatch's DirectoryService; the channel is opened on first use."""

    def __init__(self, channel: Callable[[], grpc.aio.Channel], timeout_s: float):
        self._channel = channel
        self._timeout = timeout_s

    async def get_unit(self, unit_id: str) -> OrgUnitInfo | None:
        stub = directory_pb2_grpc.DirectoryServiceStub(self._channel())
        try:
            reply = await stub.GetOrgUnit(directory_pb2.GetOrgUnitRequest(id=unit_id), timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            log.warning("dispatch could not resolve unit %s (%s)", unit_id, exc.code().name)
            raise DirectoryUnavailable(
                "The organisation directory is not reachable; try again shortly.",
                "Không truy cập được danh bạ tổ chức; vui lòng thử lại sau ít phút.",
            ) from exc
        return OrgUnitInfo(id=reply.id, name=reply.name, parent_id=reply.parent_id, kind=reply.kind)


class FakeOrgDirectory:
    """An in-memory directory for tests, by default the demo organisation tree of dispatch's seed."""

    def __init__(self, units: dict[str, OrgUnitInfo]):
        self.units = units

    @classmethod
    def from_seed(cls, path: Path = SEED) -> "FakeOrgDirectory":
        data = json.loads(path.read_text(encoding="utf-8"))
        units = {u["id"]: OrgUnitInfo(u["id"], u["name"], u.get("parent_id") or "", u["kind"]) for u in data["units"]}
        return cls(units)

    async def get_unit(self, unit_id: str) -> OrgUnitInfo | None:
        return self.units.get(unit_id)


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
