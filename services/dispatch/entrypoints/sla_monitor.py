"""Background task: the SLA monitor (to be built)."""
from __future__ import annotations

import asyncio


async def run_monitor(ctx, js) -> None:
    await asyncio.Event().wait()  # placeholder: wait for ever
