"""Which node owns a report's handling, as the sync service (the keeper of ownership) says: a port and its gRPC adapter.

Intake asks it before it copies a report's file to a hub node: only the hub that owns the report gets its files.
"""
from __future__ import annotations

import logging
from typing import Callable, Protocol

import grpc

from paht.runtime.grpcx import domain_error
from paht.sync.v1 import sync_pb2, sync_pb2_grpc

log = logging.getLogger(__name__)


class Owners(Protocol):
    async def owner(self, report_id: str) -> str | None:
        """The node that owns the report's handling now, or None when it was never dispatched."""
        ...


class GrpcOwners:
    """Ask sync's SyncService.GetOwnership; the channel is opened on first use."""

    def __init__(self, channel: Callable[[], grpc.aio.Channel], timeout_s: float):
        self._channel = channel
        self._timeout = timeout_s

    async def owner(self, report_id: str) -> str | None:
        stub = sync_pb2_grpc.SyncServiceStub(self._channel())
        try:
            own = await stub.GetOwnership(sync_pb2.GetOwnershipRequest(report_id=report_id), timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            log.warning("sync could not say who owns report %s (%s)", report_id, exc.code().name)
            raise domain_error(exc) from None
        return own.node_id
