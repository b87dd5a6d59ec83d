"""Background task: the sender of reporters' notices. Every couple of seconds (PAHT_REPORTER_NOTIFY_INTERVAL_S) it sends
the notices due through the SMS gateway, the mail server and Web Push (service_layer/notices.py), and tries again later
the ones a gateway refused. It needs only the database and the gateways, so it runs whether or not NATS is up; every
replica runs it, and each notice is taken by exactly one of them."""
from __future__ import annotations

import asyncio
import logging

from opentelemetry import trace

from services.intake.service_layer import notices

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)


async def run_sender(ctx, ports: notices.Ports) -> None:
    interval = max(0.2, ctx.settings.reporter_notify_interval_s)
    while True:
        try:
            with tracer.start_as_current_span("reporter notices pass") as span:
                sent = await asyncio.to_thread(notices.send_due, ctx.uow, ports, ctx.settings.public_url)
                span.set_attribute("paht.intake.notices_sent", sent)
            if sent:
                log.info("reporter notices: %d sent", sent)
        except Exception:  # the database away for a moment: the rows wait, the next pass tries again
            log.exception("reporter notices: the pass failed; trying again")
        await asyncio.sleep(interval)
