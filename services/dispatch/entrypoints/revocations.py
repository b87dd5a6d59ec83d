"""Publish signed-out tokens to the node's bucket, so every service refuses them (see paht.runtime.revocation)."""
from __future__ import annotations

import asyncio
import logging

from paht.runtime import revocation
from services.dispatch.service_layer import sign_in

log = logging.getLogger(__name__)
POLL_S = 1.0  # a revocation the request could not publish itself goes out within this


async def publish_now(ctx, jti: str, expires_at: float) -> None:
    """Publish one revocation at once when NATS is there; otherwise the publisher job sends it when NATS is back."""
    nc = ctx.nats
    if nc is None or not nc.is_connected:
        return
    try:
        async with asyncio.timeout(2):
            kv = await revocation.open_bucket(nc.jetstream(timeout=2), ctx.settings.node_id, ctx.settings.token_ttl_s)
            await revocation.publish(kv, jti, expires_at)
        await asyncio.to_thread(sign_in.published, ctx.uow(), [jti])
    except Exception as exc:  # the row stays unpublished: the job retries it
        log.warning("revocation not published yet (%s); retrying in the background", exc.__class__.__name__)


async def publish_revocations(ctx, js) -> None:
    """Re-publish every revocation still in force (the bucket may have been lost), then each new one as it comes."""
    kv = await revocation.open_bucket(js, ctx.settings.node_id, ctx.settings.token_ttl_s)
    everything = True
    while True:
        pending = await asyncio.to_thread(sign_in.to_publish, ctx.uow(), everything)
        for jti, expires_at in pending:
            await revocation.publish(kv, jti, expires_at)
        if pending:
            await asyncio.to_thread(sign_in.published, ctx.uow(), [jti for jti, _ in pending])
        everything = False
        await asyncio.sleep(POLL_S)
