"""Background task: deliver forwarded urgent reports to 113/114/115, and alert the IOC again when a desk does
not acknowledge within PAHT_EMERGENCY_ACK_TIMEOUT_S (once per timeout, announced by EmergencyNotAcknowledged).

Every replica runs it; claims are conditional writes (service_layer/emergency.py), so a forward is
delivered by one sender and a re-alert sent by one watcher. Deliveries of one round go out side by side:
a slow desk never holds another desk's emergency back.
"""
from __future__ import annotations

import asyncio
import logging

from paht.runtime.notify import notifier_from
from services.dispatch.adapters.forwarding import forwarders_from
from services.dispatch.service_layer import emergency

log = logging.getLogger(__name__)
POLL_S = 1.0  # an urgent forward waits at most about this long for its first delivery attempt


async def deliver_round(ctx, forwarders) -> int:
    """Claim the deliveries due now and send them concurrently; return how many the desks took."""
    claimed = await asyncio.to_thread(emergency.claim_deliveries, ctx.uow, None, ctx.settings.public_url)

    async def one(delivery) -> bool:
        reference, problem = await asyncio.to_thread(emergency.send, forwarders, delivery)
        if problem:
            log.warning("emergency forward %s to %s not delivered: %s", delivery.forward_id, delivery.service, problem)
        await asyncio.to_thread(emergency.record_delivery, ctx.uow, delivery.forward_id, reference, problem)
        return reference is not None

    return sum(await asyncio.gather(*(one(d) for d in claimed)))


async def watch_acknowledgements(ctx, poll_s: float = POLL_S) -> None:
    """Run for ever: each round delivers what is due and re-alerts what waited too long (no NATS needed)."""
    forwarders = forwarders_from(ctx.settings)
    notifier = notifier_from(ctx.settings)
    while True:
        try:
            await deliver_round(ctx, forwarders)
            await asyncio.to_thread(emergency.alert_unacknowledged, ctx.uow, notifier)
        except asyncio.CancelledError:
            raise
        except Exception:  # the database may be briefly unreachable: try again next round
            log.exception("emergency watch round failed")
        await asyncio.sleep(poll_s)
