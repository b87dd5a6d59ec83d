"""Signed-out tokens reach every service at once: a NATS JetStream key-value bucket per node.

Dispatch keeps each revocation in its `revoked_tokens` table (the source of truth) and puts its
token id (`jti`) in the bucket `PAHT_<NODE>_REVOKED_TOKENS`, whose entries expire with the token
lifetime. Every service's host watches the bucket and feeds its verifier's RevocationList. While
NATS is down, dispatch still refuses the token (it reads its own table); the other services learn
of it when NATS is back, because dispatch publishes what it could not and re-publishes everything
still in force when it starts.
"""
from __future__ import annotations

import asyncio
import logging
import time

from nats.js.errors import BucketNotFoundError

from paht.runtime.auth import RevocationList

log = logging.getLogger(__name__)
WATCH_ROUND_S = 300  # start the watch afresh this often: a consumer lost with a broker restart is re-made


def bucket_name(node_id: str) -> str:
    safe = "".join(c if c.isalnum() else "_" for c in node_id).upper()
    return f"PAHT_{safe}_REVOKED_TOKENS"


async def open_bucket(js, node_id: str, ttl_s: int):
    """Return the node's bucket of revoked tokens, creating it (entries live as long as a token) if missing."""
    name = bucket_name(node_id)
    try:
        return await js.key_value(name)
    except BucketNotFoundError:
        pass
    try:
        return await js.create_key_value(bucket=name, ttl=ttl_s + 60, history=1, description="PAHT: tokens signed out before they expire")
    except Exception:  # another service created it at the same moment
        return await js.key_value(name)


async def publish(kv, jti: str, expires_at: float) -> None:
    await kv.put(jti, str(int(expires_at)).encode())


async def watch(js, node_id: str, ttl_s: int, revoked: RevocationList) -> None:
    """Feed `revoked` with every revocation in force, then with each new one, for one round."""
    kv = await open_bucket(js, node_id, ttl_s)
    watcher = await kv.watchall()
    try:
        async with asyncio.timeout(WATCH_ROUND_S):
            async for entry in watcher:
                if entry is None or entry.operation is not None or not entry.value:
                    continue  # end of the initial values, or a deletion / expiry marker
                try:
                    until = float(entry.value.decode())
                except ValueError:
                    until = time.time() + ttl_s  # no readable expiry: refuse the token for a whole lifetime
                revoked.add(entry.key, until)
    except TimeoutError:
        pass  # the round is over; the caller starts the next one
    finally:
        await watcher.stop()
