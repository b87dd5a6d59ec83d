"""Background task: the sweeper of handling's attachments. Every few minutes it removes the files uploaded for a case
or a support request that no step took (`attached_to = ''`) within `media_unattached_keep_h` hours — the same
keeping time as intake's uploads (services/intake/entrypoints/media_sweeper.py): a draft given up after choosing
files, a client that never posted the step. Rows and blobs go; an attached file is never touched. It needs only the
database and the storage, so it runs whether or not NATS is up; any number of replicas may run it at once (each
file is removed by exactly one, see files.sweep_unattached)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from paht.runtime.storage import BlobStorage
from paht.runtime.uploads import sweep_periodically
from services.handling.service_layer import files


def sweep_once(ctx, storage: BlobStorage, now: datetime | None = None) -> int:
    """One pass: remove what is older than the keeping time; return how many files went."""
    now = now or datetime.now(timezone.utc)
    return files.sweep_unattached(ctx.engine, storage, now - timedelta(hours=ctx.settings.media_unattached_keep_h))


async def run_sweeper(ctx, storage: BlobStorage) -> None:
    await sweep_periodically("case file sweeper", ctx.settings.media_unattached_keep_h, lambda: sweep_once(ctx, storage))
