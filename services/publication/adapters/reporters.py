"""Who a reporter session stands for, as intake (the only holder of identities) says: a port and its gRPC adapter.

Publication keeps the pseudonymous reporter_ref of each report; before it takes a rating or a request to clarify
it hands the caller's reporter session token to intake's WhoIsReporter and compares the refs it gets back. It
never learns the phone, and it trusts no claim it cannot have checked by intake.
"""
from __future__ import annotations

import logging
from typing import Callable, Protocol

import grpc

from paht.intake.v1 import intake_pb2, intake_pb2_grpc
from paht.runtime.errors import Unauthorized
from paht.runtime.grpcx import bearer_metadata, domain_error

log = logging.getLogger(__name__)
TOKEN_PREFIX = "rpt_"  # intake's reporter session tokens (services/intake/domain/identity.py)


def no_session() -> Unauthorized:
    return Unauthorized("Verify your phone number first (an SMS code): only the reporter may do this.",
                        "Vui lòng xác thực số điện thoại (mã OTP qua tin nhắn): chỉ người gửi phản ánh mới được thực hiện.")


class ReporterIdentity(Protocol):
    async def refs(self, token: str) -> list[str]:
        """The reporter_refs the session stands for; Unauthorized without a live session."""
        ...


class GrpcReporterIdentity:
    """Ask intake's IntakeService.WhoIsReporter; the channel is opened on first use."""

    def __init__(self, channel: Callable[[], grpc.aio.Channel], timeout_s: float):
        self._channel = channel
        self._timeout = timeout_s

    async def refs(self, token: str) -> list[str]:
        if not token.startswith(TOKEN_PREFIX):
            raise no_session()
        stub = intake_pb2_grpc.IntakeServiceStub(self._channel())
        try:
            who = await stub.WhoIsReporter(intake_pb2.WhoIsReporterRequest(), metadata=bearer_metadata(token), timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.UNAUTHENTICATED:
                log.warning("intake could not say whose reporter session this is (%s)", exc.code().name)
            raise domain_error(exc) from None
        return list(who.reporter_refs)
