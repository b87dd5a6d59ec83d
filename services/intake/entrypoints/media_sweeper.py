"""Background task: the media sweeper. Every few minutes it removes the uploads that were never attached to a report
within `media_unattached_keep_h` hours (a form abandoned after choosing photos, a client that gave up): their rows
and their blobs. It needs only the database and the storage, so it runs whether or not NATS is up; any number of
replicas may run it at once (each upload is removed by exactly one)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from paht.runtime.storage import BlobStorage
from paht.runtime.uploads import sweep_periodically
from services.intake.service_layer import media


def sweep_once(ctx, storage: BlobStorage, now: datetime | None = None) -> int:
    """One pass: remove what is older than the keeping time; return how many uploads went."""
    now = now or datetime.now(timezone.utc)
    return media.sweep_unattached(ctx.engine, storage, now - timedelta(hours=ctx.settings.media_unattached_keep_h))


async def run_sweeper(ctx, storage: BlobStorage) -> None:
    await sweep_periodically("media sweeper", ctx.settings.media_unattached_keep_h, lambda: sweep_once(ctx, storage))
