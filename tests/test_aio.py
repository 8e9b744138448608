"""Stopping background tasks: a swallowed cancellation must not leave the stopper waiting."""

from __future__ import annotations

import asyncio

import pytest

from fleetcore.aio import cancel_all, cancel_and_wait


async def _swallows_one_cancel(swallowed: list[int]) -> None:
    """Does what a loop does when a library turned its cancellation into a normal return."""
    while True:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            if swallowed:
                raise
            swallowed.append(1)
            asyncio.current_task().uncancel()  # type: ignore[union-attr]


async def test_a_task_that_swallows_its_cancellation_is_cancelled_again_until_it_ends() -> None:
    swallowed: list[int] = []
    task = asyncio.create_task(_swallows_one_cancel(swallowed))
    await asyncio.sleep(0)

    await asyncio.wait_for(cancel_and_wait(task), 2)

    assert swallowed == [1]
    assert task.cancelled()


async def test_what_a_stopped_task_failed_with_is_raised_to_the_stopper() -> None:
    async def fails() -> None:
        raise ValueError("broken")

    task = asyncio.create_task(fails())
    await asyncio.sleep(0)

    with pytest.raises(ValueError, match="broken"):
        await cancel_and_wait(task)


async def test_cancel_all_ends_every_task_whatever_each_ended_with() -> None:
    async def fails() -> None:
        raise ValueError("reported elsewhere")

    swallowed: list[int] = []
    tasks = [
        asyncio.create_task(_swallows_one_cancel(swallowed)),
        asyncio.create_task(fails()),
        asyncio.create_task(asyncio.sleep(3600)),
    ]
    await asyncio.sleep(0)

    await asyncio.wait_for(cancel_all(tasks), 2)

    assert all(task.done() for task in tasks)


async def test_a_cleanup_on_cancel_runs_to_its_end_within_the_grace() -> None:
    cleaned: list[str] = []

    async def hands_over() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.sleep(0.3)  # drains and releases, as a leader handing over does
            cleaned.append("done")

    task = asyncio.create_task(hands_over())
    await asyncio.sleep(0)

    await cancel_and_wait(task, grace_s=2.0)

    assert cleaned == ["done"]
