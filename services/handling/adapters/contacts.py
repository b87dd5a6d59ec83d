"""A reporter's contact, released by intake (the only holder of personal data) to the person handling a case:
a port and its gRPC adapter. The person's own staff token goes with the call; intake asks handling back
whether that person handles the case, releases the contact and keeps the audit record."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Protocol

import grpc

from paht.intake.v1 import intake_pb2, intake_pb2_grpc
from paht.runtime.grpcx import bearer_metadata, domain_error

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReporterContact:
    name: str
    phone: str
    email: str
    audit_id: str  # intake's audit record of this release


class ReporterContacts(Protocol):
    async def release(self, token: str, report_id: str, purpose: str) -> ReporterContact: ...


class GrpcReporterContacts:
    """Ask intake's IntakeService.GetReporterContact; the channel is opened on first use."""

    def __init__(self, channel: Callable[[], grpc.aio.Channel], timeout_s: float):
        self._channel = channel
        self._timeout = timeout_s

    async def release(self, token: str, report_id: str, purpose: str) -> ReporterContact:
        stub = intake_pb2_grpc.IntakeServiceStub(self._channel())
        try:
            c = await stub.GetReporterContact(intake_pb2.GetReporterContactRequest(report_id=report_id, purpose=purpose),
                                              metadata=bearer_metadata(token), timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            log.info("intake did not release the reporter's contact of report %s (%s)", report_id, exc.code().name)
            raise domain_error(exc) from None
        return ReporterContact(name=c.name, phone=c.phone, email=c.email, audit_id=c.audit_id)


class ContactsKeptAtTheProvince:
    """On a hub node: the reporter's personal data never leaves the province's intake, and no audited path to it
    crosses nodes yet, so the release is refused with a clear answer (never a 500)."""

    async def release(self, token: str, report_id: str, purpose: str) -> ReporterContact:
        from paht.runtime.errors import Unavailable

        raise Unavailable(
            "The reporter's contact is kept by the provincial IOC and cannot be read from this district node; "
            "ask the provincial IOC to reach the reporter.",
            "Thông tin liên hệ của người phản ánh do Trung tâm IOC tỉnh quản lý, không xem được từ nút cấp huyện này; "
            "đề nghị liên hệ Trung tâm IOC tỉnh để liên lạc với người phản ánh.")
