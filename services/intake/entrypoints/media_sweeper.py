"""Background task: the media sweeper. Every few minutes it removes the uploads that were never attached to a report
within `media_unattached_keep_h` hours (a form abandoned after choosing photos, a client that gave up): their rows
and their blobs. It needs only the database and the storage, so it runs whether or not NATS is up; any number of
replicas may run it at once (each upload is removed by exactly one)."""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone

from opentelemetry import trace

from paht.runtime.storage import BlobStorage
from services.intake.service_layer import media

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)
INTERVAL_S = 300.0  # far shorter than the keeping time: an upload outlives it by at most this


def sweep_once(ctx, storage: BlobStorage, now: datetime | None = None) -> int:
    """One pass: remove what is older than the keeping time; return how many uploads went."""
    now = now or datetime.now(timezone.utc)
    return media.sweep_unattached(ctx.engine, storage, now - timedelta(hours=ctx.settings.media_unattached_keep_h))


async def run_sweeper(ctx, storage: BlobStorage) -> None:
    interval = min(INTERVAL_S, max(1.0, ctx.settings.media_unattached_keep_h * 3600 / 4))
    while True:
        with tracer.start_as_current_span("media sweeper pass") as span:
            swept = await asyncio.to_thread(sweep_once, ctx, storage)
            span.set_attribute("paht.media.swept", swept)
        if swept:
            log.info("media sweeper: %d upload(s) never attached removed", swept)
        await asyncio.sleep(interval)
