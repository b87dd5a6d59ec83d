"""Who handles a report's case, as the handling service (the owner of cases) says: a port and its gRPC adapter.

Intake asks it before it releases a reporter's contact to someone outside the IOC; the person's own staff
token goes with the question, so handling checks the person itself and intake trusts no claim it cannot verify.
"""
from __future__ import annotations

import logging
from typing import Callable, Protocol

import grpc

from paht.handling.v1 import handling_pb2, handling_pb2_grpc
from paht.runtime.grpcx import bearer_metadata, domain_error

log = logging.getLogger(__name__)


class CaseDesk(Protocol):
    async def handles(self, token: str, report_id: str) -> bool:
        """Whether the person whose staff token this is handles the report's case."""
        ...


class GrpcCaseDesk:
    """Ask handling's HandlingService.GetCaseAccess; the channel is opened on first use."""

    def __init__(self, channel: Callable[[], grpc.aio.Channel], timeout_s: float):
        self._channel = channel
        self._timeout = timeout_s

    async def handles(self, token: str, report_id: str) -> bool:
        stub = handling_pb2_grpc.HandlingServiceStub(self._channel())
        try:
            access = await stub.GetCaseAccess(handling_pb2.GetCaseAccessRequest(report_id=report_id), metadata=bearer_metadata(token),
                                              timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            log.warning("handling could not say who handles the case of report %s (%s)", report_id, exc.code().name)
            raise domain_error(exc) from None
        return access.handles
