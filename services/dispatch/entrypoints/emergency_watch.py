"""Background task: re-alert the IOC when a forwarded urgent report is not acknowledged in time (to be built)."""
from __future__ import annotations

import asyncio


async def watch_acknowledgements(ctx, js) -> None:
    await asyncio.Event().wait()  # placeholder: wait for ever
