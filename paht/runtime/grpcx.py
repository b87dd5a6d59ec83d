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


def grpc_status(exc: Exception) -> grpc.StatusCode:
    """Return the gRPC status of a domain error, walking its class hierarchy (a subclass takes its nearest ancestor's)."""
    from paht.runtime.errors import (
        DomainError,
        Forbidden,
        InvalidInput,
        NotFound,
        StateConflict,
        TooManyRequests,
        Unauthorized,
        Unavailable,
        by_kind,
    )

    table = {
        NotFound: grpc.StatusCode.NOT_FOUND,
        Forbidden: grpc.StatusCode.PERMISSION_DENIED,
        Unauthorized: grpc.StatusCode.UNAUTHENTICATED,
        StateConflict: grpc.StatusCode.FAILED_PRECONDITION,
        InvalidInput: grpc.StatusCode.INVALID_ARGUMENT,
        TooManyRequests: grpc.StatusCode.RESOURCE_EXHAUSTED,
        Unavailable: grpc.StatusCode.UNAVAILABLE,
        DomainError: grpc.StatusCode.INVALID_ARGUMENT,
    }
    return by_kind(exc, table, grpc.StatusCode.INTERNAL)


async def run_use_case(context: grpc.aio.ServicerContext, use_case, *args):
    """Run a (blocking) use case for a servicer; a rule it breaks ends the call with the matching status."""
    import asyncio

    from paht.runtime.errors import DomainError

    try:
        return await asyncio.to_thread(use_case, *args)
    except DomainError as exc:
        await context.abort(grpc_status(exc), exc.detail_en)
