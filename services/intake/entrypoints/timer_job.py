"""Background task: step 1's 2-day timers. Every half minute it cancels the reports whose edit was not done, or whose
reporter was not reached, within their 2 days (service_layer/timers.py): each exactly once, whatever the number of
replicas, and after a restart the timers still due fire then (they are the reports' own columns)."""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone

from opentelemetry import trace

from services.intake.service_layer import timers

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)
INTERVAL_S = 30.0  # a 2-day timer may fire up to this late; a pass with nothing due is one indexed query


async def run_timers(ctx, interval_s: float = INTERVAL_S) -> None:
    while True:
        with tracer.start_as_current_span("step-1 timers pass") as span:
            cancelled = await asyncio.to_thread(timers.expire_due, ctx.uow, datetime.now(timezone.utc))
            span.set_attribute("paht.intake.cancelled", cancelled)
        if cancelled:
            log.info("step-1 timers: %d report(s) cancelled after 2 days", cancelled)
        await asyncio.sleep(interval_s)
