"""Ending background tasks for sure.

On Python 3.11, ``asyncio.wait_for`` swallows a cancellation that arrives just
as the operation it awaits completes (CPython gh-86296; 3.12 rebuilt
``wait_for`` on ``asyncio.timeout``). redis-py sends every command through
``wait_for`` when a socket timeout is set, so a reader task cancelled at that
instant runs on as if never cancelled, and a caller awaiting it waits forever.
asyncpg and aiohttp use ``wait_for`` too, so a command handler can do the same.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

RECANCEL_S = 0.05
"""How long to wait for a cancelled task before cancelling it again."""


async def cancel_and_wait(task: asyncio.Task[Any]) -> None:
    """Cancel ``task`` until it has ended; re-raise what it failed with, if not cancelled."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=RECANCEL_S)
    with contextlib.suppress(asyncio.CancelledError):
        await task
