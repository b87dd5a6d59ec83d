"""Intake's Open311 command, asked over gRPC (IntakeService.SubmitOpen311Request): a port and its adapter.

Intake checks the partner's api_key, counts it against the partner's rate and stores the report; its
answer carries no personal data, only what publication's record needs.
"""
from __future__ import annotations

import logging
from datetime import timezone
from typing import Callable, Mapping, Protocol

import grpc

from paht.intake.v1 import intake_pb2, intake_pb2_grpc
from paht.runtime.grpcx import domain_error
from services.publication.domain.public_report import Submission
from services.publication.service_layer.open311 import NewRequest

log = logging.getLogger(__name__)
FIELDS = tuple(f.name for f in intake_pb2.Open311Request.DESCRIPTOR.fields if f.name not in ("api_key", "idempotency_key"))


class Open311Intake(Protocol):
    async def submit(self, api_key: str, form: Mapping[str, str], idempotency_key: str = "") -> tuple[NewRequest, str]: ...


def new_request(reply: intake_pb2.Open311Submitted) -> NewRequest:
    located = reply.HasField("location")
    return NewRequest(reply.report_id, Submission(
        tracking_code=reply.tracking_code, title=reply.title, description=reply.description, topic_code=reply.topic_code,
        address_text=reply.address_text, area_code=reply.area_code, private_result=reply.private_result, urgent=reply.urgent,
        received_at=reply.received_at.ToDatetime(tzinfo=timezone.utc),
        lat=reply.location.lat if located else None, lon=reply.location.lon if located else None,
    ))


class GrpcOpen311Intake:
    """The channel is opened on first use."""

    def __init__(self, channel: Callable[[], grpc.aio.Channel], timeout_s: float):
        self._channel = channel
        self._timeout = timeout_s

    async def submit(self, api_key: str, form: Mapping[str, str], idempotency_key: str = "") -> tuple[NewRequest, str]:
        """Return the stored report and intake's notice to the client (e.g. that media_url was not fetched)."""
        stub = intake_pb2_grpc.IntakeServiceStub(self._channel())
        request = intake_pb2.Open311Request(api_key=api_key, idempotency_key=idempotency_key,
                                            **{name: str(form.get(name) or "") for name in FIELDS})
        try:
            reply = await stub.SubmitOpen311Request(request, timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            log.info("intake refused an Open311 request (%s)", exc.code().name)
            raise domain_error(exc) from None
        return new_request(reply), reply.service_notice
