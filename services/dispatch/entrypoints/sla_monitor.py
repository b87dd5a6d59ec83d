"""Background task: the SLA monitor. Every few seconds it announces the clocks that reached 80 % or 100 %
of their time (each exactly once, whatever the number of replicas) and sends the notices owed."""
from __future__ import annotations

import asyncio
import logging

from opentelemetry import trace

from paht.runtime.notify import notifier_from
from services.dispatch.service_layer import monitor

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)


async def run_monitor(ctx) -> None:
    notifier = notifier_from(ctx.settings)
    interval = max(0.2, ctx.settings.sla_monitor_interval_s)
    while True:
        with tracer.start_as_current_span("sla monitor pass") as span:
            result = await asyncio.to_thread(monitor.monitor_pass, ctx.uow())
            sent = await asyncio.to_thread(monitor.send_notices, ctx.uow(), notifier)
            span.set_attribute("paht.sla.warned", result.warned)
            span.set_attribute("paht.sla.breached", result.breached)
            span.set_attribute("paht.sla.notices_sent", sent)
        if result.warned or result.breached:
            log.info("SLA monitor: %d warning(s), %d breach(es) announced; %d notice(s) sent", result.warned, result.breached, sent)
        await asyncio.sleep(interval)
