"""Every kind of domain error reaches HTTP and gRPC callers with the status of its kind, subclasses included."""
from __future__ import annotations

import grpc
import pytest

from paht.runtime import errors
from paht.runtime.grpcx import grpc_status
from paht.runtime.http import http_status


class DirectoryAway(errors.Unavailable):
    """A service's own subclass, as handling's DirectoryUnavailable is."""


@pytest.mark.parametrize(("error", "http", "rpc"), [
    (errors.InvalidInput("x"), 422, grpc.StatusCode.INVALID_ARGUMENT),
    (errors.NotFound("x"), 404, grpc.StatusCode.NOT_FOUND),
    (errors.Forbidden("x"), 403, grpc.StatusCode.PERMISSION_DENIED),
    (errors.OutOfScope("x"), 403, grpc.StatusCode.PERMISSION_DENIED),
    (errors.Unauthorized("x"), 401, grpc.StatusCode.UNAUTHENTICATED),
    (errors.StateConflict("x"), 409, grpc.StatusCode.FAILED_PRECONDITION),
    (errors.ConcurrentChange("x"), 409, grpc.StatusCode.FAILED_PRECONDITION),
    (errors.TooManyRequests("x", retry_after_s=30), 429, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (errors.Unavailable("x"), 503, grpc.StatusCode.UNAVAILABLE),
    (DirectoryAway("x"), 503, grpc.StatusCode.UNAVAILABLE),
])
def test_each_kind_maps_along_its_class_hierarchy(error, http, rpc):
    assert http_status(error) == http
    assert grpc_status(error) == rpc


def test_domain_errors_carry_no_transport_status():
    assert not hasattr(errors.NotFound("x"), "status")
    assert errors.TooManyRequests("x", retry_after_s=0).retry_after_s == 1  # never "retry in 0 s"


def test_a_value_the_database_refuses_is_a_422_not_a_500():
    """The net behind the text cleaner: e.g. PostgreSQL refusing a NUL that some boundary let through."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from sqlalchemy.exc import DataError

    from paht.runtime.http import install_error_handlers

    app = FastAPI()
    install_error_handlers(app)

    @app.get("/store")
    async def store():
        raise DataError("INSERT …", {}, ValueError("A string literal cannot contain NUL (0x00) characters."))

    r = TestClient(app).get("/store")
    assert r.status_code == 422 and r.json()["error"]["detail"]["vi"]
