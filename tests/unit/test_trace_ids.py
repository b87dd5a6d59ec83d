"""With spans not recorded (PAHT_OTEL_EXPORTER=none), every request still runs in a trace: its caller's or a new one."""
from __future__ import annotations

import httpx
import pytest
from opentelemetry import trace
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from paht.runtime.telemetry import TraceIds

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def _app() -> TraceIds:
    async def here(request):
        ctx = trace.get_current_span().get_span_context()
        return JSONResponse({"valid": ctx.is_valid, "trace_id": format(ctx.trace_id, "032x"), "recording": trace.get_current_span().is_recording()})

    return TraceIds(Starlette(routes=[Route("/", here)]))


@pytest.mark.anyio
async def test_a_request_runs_in_its_callers_trace_or_a_new_one_without_recording_spans():
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_app()), base_url="http://t") as http:
        joined = (await http.get("/", headers={"traceparent": f"00-{CALLER_TRACE}-00f067aa0ba902b7-01"})).json()
        first = (await http.get("/")).json()
        second = (await http.get("/")).json()
    assert joined == {"valid": True, "trace_id": CALLER_TRACE, "recording": False}
    assert first["valid"] and second["valid"] and not first["recording"]
    assert first["trace_id"] != second["trace_id"] != CALLER_TRACE


@pytest.mark.anyio
async def test_a_malformed_traceparent_starts_a_new_trace():
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_app()), base_url="http://t") as http:
        got = (await http.get("/", headers={"traceparent": "00-zz-not-a-trace"})).json()
    assert got["valid"] and got["trace_id"] != CALLER_TRACE


def test_an_event_is_handled_in_the_trace_of_the_request_that_caused_it_when_spans_are_not_recorded(monkeypatch):
    from paht.common.v1 import common_pb2
    from paht.runtime import telemetry
    from paht.runtime.events.consumer import consume_span
    from paht.runtime.events.envelope import Envelope

    monkeypatch.setattr(telemetry, "_spans_recorded", False)
    envelope = Envelope.for_event(common_pb2.Actor(subject="x"), node_id="province", service="intake", report_id="r-1", version=1,
                                  traceparent=f"00-{CALLER_TRACE}-00f067aa0ba902b7-01")
    with consume_span(envelope, "publication") as span:
        inside = trace.get_current_span().get_span_context()
        assert span is trace.get_current_span() and not span.is_recording()
    assert format(inside.trace_id, "032x") == CALLER_TRACE and inside.span_id != 0x00f067aa0ba902b7
    assert not trace.get_current_span().get_span_context().is_valid  # detached after the block
