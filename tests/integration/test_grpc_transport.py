"""gRPC servers: health and reflection, a deadline on every call, and TLS / mTLS switched by settings."""
from __future__ import annotations

import asyncio
import datetime as dt

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from paht.runtime.grpcx import GrpcServer, open_channel
from paht.runtime.settings import Settings
from paht.runtime.supervisor import free_port

pytestmark = pytest.mark.integration


def _cert(subject: str, issuer_key, issuer_name, key, ca: bool, sans=()):
    now = dt.datetime.now(dt.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(issuer_name or x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(s) for s in sans]), critical=False)
    return builder.sign(issuer_key or key, hashes.SHA256())


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    pem = lambda c: c.public_bytes(serialization.Encoding.PEM)  # noqa: E731
    keypem = lambda k: k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())  # noqa: E731
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert("paht-test-ca", None, None, ca_key, True)
    for name in ("server", "client"):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _cert(name, ca_key, ca.subject, key, False, sans=("localhost",))
        (d / f"{name}.pem").write_bytes(pem(cert))
        (d / f"{name}.key").write_bytes(keypem(key))
    (d / "ca.pem").write_bytes(pem(ca))
    return d


async def _serve(settings: Settings) -> tuple[GrpcServer, int]:
    server = GrpcServer(settings)
    port = await server.start("127.0.0.1", free_port())
    return server, port


def test_health_reports_not_serving_until_ready_and_reflection_lists_services():
    async def scenario():
        server, port = await _serve(Settings(env="test"))
        try:
            channel = open_channel(Settings(env="test"), f"127.0.0.1:{port}")
            health = health_pb2_grpc.HealthStub(channel)
            reply = await health.Check(health_pb2.HealthCheckRequest(service=""))
            assert reply.status == health_pb2.HealthCheckResponse.NOT_SERVING
            await server.set_serving(True)
            reply = await health.Check(health_pb2.HealthCheckRequest(service=""))
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
            stub = reflection_pb2_grpc.ServerReflectionStub(channel)
            async for answer in stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")])):
                names = {s.name for s in answer.list_services_response.service}
                assert "grpc.health.v1.Health" in names
                break
            await channel.close()
        finally:
            await server.stop(0)

    asyncio.run(scenario())


def test_every_call_gets_a_deadline():
    """A peer that never answers cannot hang the caller: the default deadline ends the call."""

    async def scenario():
        silent = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)  # accepts, never speaks HTTP/2
        port = silent.sockets[0].getsockname()[1]
        channel = open_channel(Settings(env="test", grpc_timeout_s=0.3), f"127.0.0.1:{port}")
        started = asyncio.get_running_loop().time()
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
        assert err.value.code() in (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNAVAILABLE)
        assert asyncio.get_running_loop().time() - started < 3
        await channel.close()
        silent.close()

    asyncio.run(scenario())


def test_mtls_accepts_a_client_with_a_certificate_and_refuses_one_without(pki):
    server_settings = Settings(env="test", grpc_tls="mtls", grpc_cert=pki / "server.pem", grpc_key=pki / "server.key", grpc_ca=pki / "ca.pem")
    client_settings = Settings(env="test", grpc_tls="mtls", grpc_cert=pki / "client.pem", grpc_key=pki / "client.key", grpc_ca=pki / "ca.pem", grpc_timeout_s=2)
    tls_only = Settings(env="test", grpc_tls="tls", grpc_ca=pki / "ca.pem", grpc_timeout_s=2)

    async def scenario():
        server, port = await _serve(server_settings)
        try:
            good = open_channel(client_settings, f"localhost:{port}")
            reply = await health_pb2_grpc.HealthStub(good).Check(health_pb2.HealthCheckRequest())
            assert reply.status == health_pb2.HealthCheckResponse.NOT_SERVING
            await good.close()
            anonymous = open_channel(tls_only, f"localhost:{port}")
            with pytest.raises(grpc.aio.AioRpcError):
                await health_pb2_grpc.HealthStub(anonymous).Check(health_pb2.HealthCheckRequest())
            await anonymous.close()
            plain = open_channel(Settings(env="test", grpc_timeout_s=2), f"localhost:{port}")
            with pytest.raises(grpc.aio.AioRpcError):
                await health_pb2_grpc.HealthStub(plain).Check(health_pb2.HealthCheckRequest())
            await plain.close()
        finally:
            await server.stop(0)

    asyncio.run(scenario())


def test_tls_without_certificates_refuses_to_start():
    with pytest.raises(RuntimeError, match="PAHT_GRPC_CERT"):
        asyncio.run(_serve(Settings(env="test", grpc_tls="tls")))
