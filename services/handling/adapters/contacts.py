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


class ContactsThroughTheProvince:
    """On a hub node joined over HTTP: the province's intake releases the contact to the hub that owns the report now,
    for the person the hub names (its handling has checked they handle the case), and keeps the audit record; the
    hub authenticates with its secret. Nothing of the contact is kept or logged on the hub."""

    def __init__(self, settings, verifier):
        self._settings = settings
        self._verifier = verifier

    async def release(self, token: str, report_id: str, purpose: str) -> ReporterContact:
        from pathlib import Path

        import httpx

        from paht.runtime.errors import NotFound, Unavailable

        person = self._verifier.verify(token)
        s = self._settings
        url = f"{s.parent_url.rstrip('/')}/api/intake/v1/federation/{s.node_id}/contacts/{report_id}"
        body = {"purpose": purpose, "person": {"subject": person.subject, "name": person.name, "org_unit": person.org_unit,
                                               "roles": sorted(person.roles)}}
        try:
            secret = Path(s.join_secret_file).read_text(encoding="utf-8").strip()
            async with httpx.AsyncClient(timeout=s.grpc_timeout_s) as http:
                r = await http.post(url, json=body, headers={"Authorization": f"Bearer {secret}"})
        except (OSError, httpx.HTTPError) as exc:
            log.warning("the province's intake could not be asked for a reporter's contact (%s)", type(exc).__name__)
            raise Unavailable("The province cannot be reached just now, and it alone keeps the reporter's contact; try again "
                              "when the link is back, or ask the provincial IOC.",
                              "Hiện không kết nối được với hệ thống của tỉnh, nơi duy nhất lưu thông tin liên hệ của người "
                              "phản ánh; vui lòng thử lại khi có kết nối, hoặc liên hệ Trung tâm IOC tỉnh.") from None
        if r.status_code == 404:
            raise NotFound("The province does not list this report as this hub's any more (taken back or sent elsewhere).",
                           "Tỉnh không còn ghi nhận phản ánh này thuộc nút cấp huyện (đã thu hồi hoặc chuyển nơi khác).")
        if r.status_code == 403:
            from paht.runtime.errors import Forbidden

            raise Forbidden("Only the people handling the report's case may see a reporter's contact.",
                            "Chỉ người đang xử lý phản ánh được xem thông tin liên hệ của người phản ánh.")
        if r.status_code == 422:
            from paht.runtime.errors import InvalidInput

            raise InvalidInput("Say why you need the contact, in 3 to 300 characters (it is audited).",
                               "Cần nêu mục đích xem thông tin liên hệ, từ 3 đến 300 ký tự (được ghi nhật ký).")
        if r.status_code != 200:
            log.error("the province's intake refused a reporter's contact to this hub (HTTP %s)", r.status_code)
            raise Unavailable("The province refused this hub's request for the contact; ask the provincial IOC.",
                              "Tỉnh từ chối yêu cầu của nút cấp huyện; vui lòng liên hệ Trung tâm IOC tỉnh.")
        got = r.json()
        return ReporterContact(name=got["name"], phone=got["phone"], email=got["email"], audit_id=got["audit_id"])


class ContactsKeptAtTheProvince:
    """On a hub node not joined over HTTP (no address and secret of the province, e.g. on Kubernetes): the reporter's
    personal data stays in the province's intake and there is no audited path to it from here, so the release is
    refused with a clear answer (never a 500)."""

    async def release(self, token: str, report_id: str, purpose: str) -> ReporterContact:
        from paht.runtime.errors import Unavailable

        raise Unavailable(
            "The reporter's contact is kept by the provincial IOC and cannot be read from this district node; "
            "ask the provincial IOC to reach the reporter.",
            "Thông tin liên hệ của người phản ánh do Trung tâm IOC tỉnh quản lý, không xem được từ nút cấp huyện này; "
            "đề nghị liên hệ Trung tâm IOC tỉnh để liên lạc với người phản ánh.")
