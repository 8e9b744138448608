"""Ending background tasks for sure.

On Python 3.11, ``asyncio.wait_for`` swallows a cancellation that arrives just
as the operation it awaits completes (CPython gh-86296; 3.12 rebuilt
``wait_for`` on ``asyncio.timeout``). redis-py sends every command through
``wait_for`` when a socket timeout is set, and asyncpg and aiohttp use it too,
so a task cancelled at that instant runs on as if never cancelled: a loop
that waits for its next item waits for ever, and so does whoever awaits it
to stop. Every part stops its background tasks through :func:`cancel_and_wait`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Collection, Iterable
from typing import Any, NoReturn

from fleetcore.errors import PartFailed

RECANCEL_S = 0.05
"""How long to wait for a cancelled task before cancelling it again."""


CLEANUP_GRACE_S = 10.0
"""What a task that cleans up when cancelled (hands over, drains, closes) gets before the next cancel."""


async def cancel_and_wait(task: asyncio.Task[Any], *, grace_s: float = RECANCEL_S) -> None:
    """Cancel ``task`` until it has ended; re-raise what it failed with, if not cancelled.

    The first cancel leaves it ``grace_s`` to finish: a task whose cancellation
    starts a graceful cleanup passes :data:`CLEANUP_GRACE_S`, so that a second
    cancel does not cut the cleanup short. Later cancels come every :data:`RECANCEL_S`.
    """
    task.cancel()
    await asyncio.wait({task}, timeout=grace_s)
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=RECANCEL_S)
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def cancel_all(tasks: Iterable[asyncio.Task[Any]]) -> None:
    """Cancel every task and wait until each has ended, whatever it ended with.

    For tasks whose failures were reported already (a done callback, a log line).
    """
    await asyncio.gather(*(cancel_and_wait(task) for task in tasks), return_exceptions=True)


async def until_one_ends(tasks: Collection[asyncio.Task[Any]], logger: logging.Logger) -> NoReturn:
    """Wait on tasks that run for ever; the first that ends is a failure, logged at once.

    Logged at ERROR with its traceback the moment it happens (not when the
    process stops), then raised as :class:`PartFailed`, so that the process
    ends rather than runs on without the part. The caller stops the others.
    """
    done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    task = next(iter(done))
    error = None if task.cancelled() else task.exception()
    logger.error("%s stopped: %r", task.get_name(), error, exc_info=error)
    raise PartFailed(f"{task.get_name()} stopped: {error!r}") from error
