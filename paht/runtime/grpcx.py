"""gRPC plumbing: aio servers with health, reflection and optional (m)TLS; channels with a deadline on every call."""
from __future__ import annotations

import logging
from typing import Iterable

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from paht.runtime.settings import Settings

log = logging.getLogger(__name__)


def _otel_server_interceptors() -> list:
    from opentelemetry.instrumentation.grpc import aio_server_interceptor

    return [aio_server_interceptor()]


def _otel_client_interceptors() -> list:
    from opentelemetry.instrumentation.grpc import aio_client_interceptors

    return list(aio_client_interceptors())


class GrpcServer:
    """A grpc.aio server that reports NOT_SERVING until the service says it is ready."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.server = grpc.aio.server(interceptors=_otel_server_interceptors())
        self.health = health.aio.HealthServicer() if hasattr(health, "aio") else health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        self._names: list[str] = [health_pb2.DESCRIPTOR.services_by_name["Health"].full_name]
        self.port: int | None = None

    def add(self, full_names: Iterable[str]) -> None:
        self._names.extend(full_names)

    async def start(self, host: str, port: int) -> int:
        reflection.enable_server_reflection([*self._names, reflection.SERVICE_NAME], self.server)
        address = f"{host}:{port}"
        creds = server_credentials(self.settings)
        self.port = self.server.add_secure_port(address, creds) if creds else self.server.add_insecure_port(address)
        if not self.port:
            raise RuntimeError(f"cannot listen for gRPC on {address}")
        await self.server.start()
        await self.set_serving(False)
        return self.port

    async def set_serving(self, serving: bool) -> None:
        status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        for name in ["", *self._names]:
            await _maybe_await(self.health.set(name, status))

    async def stop(self, grace: float = 2.0) -> None:
        await self.server.stop(grace)


async def _maybe_await(value):
    if hasattr(value, "__await__"):
        return await value
    return value


def server_credentials(s: Settings) -> grpc.ServerCredentials | None:
    if s.grpc_tls == "off":
        return None
    if not (s.grpc_cert and s.grpc_key):
        raise RuntimeError("PAHT_GRPC_TLS is on but PAHT_GRPC_CERT / PAHT_GRPC_KEY are not set")
    pair = [(s.grpc_key.read_bytes(), s.grpc_cert.read_bytes())]
    if s.grpc_tls == "mtls":
        if not s.grpc_ca:
            raise RuntimeError("mTLS needs PAHT_GRPC_CA to check client certificates")
        return grpc.ssl_server_credentials(pair, root_certificates=s.grpc_ca.read_bytes(), require_client_auth=True)
    return grpc.ssl_server_credentials(pair)


def channel_credentials(s: Settings) -> grpc.ChannelCredentials | None:
    if s.grpc_tls == "off":
        return None
    ca = s.grpc_ca.read_bytes() if s.grpc_ca else None
    if s.grpc_tls == "mtls":
        return grpc.ssl_channel_credentials(ca, s.grpc_key.read_bytes(), s.grpc_cert.read_bytes())
    return grpc.ssl_channel_credentials(ca)


class _DefaultDeadline(grpc.aio.UnaryUnaryClientInterceptor):
    """Give every call a deadline, so a stuck peer never hangs a request."""

    def __init__(self, timeout_s: float):
        self._timeout = timeout_s

    async def intercept_unary_unary(self, continuation, client_call_details, request):
        if client_call_details.timeout is None:
            client_call_details = client_call_details._replace(timeout=self._timeout)
        return await continuation(client_call_details, request)


def open_channel(s: Settings, address: str) -> grpc.aio.Channel:
    interceptors = [_DefaultDeadline(s.grpc_timeout_s), *_otel_client_interceptors()]
    creds = channel_credentials(s)
    if creds:
        return grpc.aio.secure_channel(address, creds, interceptors=interceptors)
    return grpc.aio.insecure_channel(address, interceptors=interceptors)


def _status_table() -> dict:
    from paht.runtime.errors import (
        DomainError,
        Forbidden,
        InvalidInput,
        NotFound,
        StateConflict,
        TooManyRequests,
        Unauthorized,
        Unavailable,
    )

    return {
        NotFound: grpc.StatusCode.NOT_FOUND,
        Forbidden: grpc.StatusCode.PERMISSION_DENIED,
        Unauthorized: grpc.StatusCode.UNAUTHENTICATED,
        StateConflict: grpc.StatusCode.FAILED_PRECONDITION,
        InvalidInput: grpc.StatusCode.INVALID_ARGUMENT,
        TooManyRequests: grpc.StatusCode.RESOURCE_EXHAUSTED,
        Unavailable: grpc.StatusCode.UNAVAILABLE,
        DomainError: grpc.StatusCode.INVALID_ARGUMENT,
    }


def grpc_status(exc: Exception) -> grpc.StatusCode:
    """Return the gRPC status of a domain error, walking its class hierarchy (a subclass takes its nearest ancestor's)."""
    from paht.runtime.errors import by_kind

    return by_kind(exc, _status_table(), grpc.StatusCode.INTERNAL)


DETAIL_VI = "paht-detail-vi-bin"  # trailing metadata: the Vietnamese wording of a refusal (the status details carry the English)


def domain_error(exc: grpc.aio.AioRpcError):
    """Turn another service's refusal back into the domain error it raised, in both languages (the caller shows it
    to a person as if the rule were its own); a status no rule gives (a crash, a timeout) becomes Unavailable."""
    from paht.runtime.errors import DomainError, Unavailable

    kinds = {code: cls for cls, code in _status_table().items() if cls is not DomainError}
    vi = ""
    for key, value in exc.trailing_metadata() or ():
        if key == DETAIL_VI:
            vi = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    kind = kinds.get(exc.code())
    if kind is None or kind is Unavailable:
        return Unavailable("Another part of PAHT did not answer; try again shortly.",
                           "Một thành phần của hệ thống chưa phản hồi; vui lòng thử lại sau ít phút.")
    return kind(exc.details() or kind.__name__, vi or None)


async def run_use_case(context: grpc.aio.ServicerContext, use_case, *args):
    """Run a use case for a servicer (a blocking one in a thread); a rule it breaks ends the call with the matching
    status, its English wording as the details and its Vietnamese in the trailing metadata (`domain_error` reads both)."""
    import asyncio
    import inspect

    from paht.runtime.errors import DomainError

    try:
        if inspect.iscoroutinefunction(use_case):
            return await use_case(*args)
        return await asyncio.to_thread(use_case, *args)
    except DomainError as exc:
        context.set_trailing_metadata(((DETAIL_VI, exc.detail_vi.encode()),))
        await context.abort(grpc_status(exc), exc.detail_en)


def bearer_metadata(token: str) -> tuple[tuple[str, str], ...]:
    """The call metadata that carries a person's staff token to another service (which checks it itself)."""
    return (("authorization", f"Bearer {token}"),)


async def staff_of(context: grpc.aio.ServicerContext, verifier):
    """The person whose staff token came with the call; a missing or bad token ends the call UNAUTHENTICATED."""
    from paht.runtime.auth import TokenError

    token = dict(context.invocation_metadata()).get("authorization", "")
    try:
        return verifier.verify(token.removeprefix("Bearer ").strip())
    except TokenError as exc:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, f"staff token required: {exc}")
