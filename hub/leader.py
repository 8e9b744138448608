"""Leadership of the single writer: a lease row in the database, and fencing.

Exactly one hub writes. Each hub process runs :func:`lead`: as a standby it
keeps its copy of the sticky state warm and polls the lease; once the lease
has expired (the leader died, hung, or handed it over on SIGTERM) it takes
it, and :meth:`Hub.start` takes the next epoch. Every write batch checks
that epoch in its transaction, so a leader that wakes up after losing the
lease cannot write a single row: its batch is refused (``FencedOut``), it
steps down and becomes a standby again.

The lease uses the hubs' own clocks (``expires_ms``): hub nodes must keep
their clocks in sync (NTP) to well within the lease duration.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import os
import socket
from collections.abc import Callable, Sequence
from typing import Protocol

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from fleetcore import metrics
from fleetcore.aio import cancel_and_wait
from fleetcore.backoff import Backoff
from fleetcore.errors import FencedOut, WriterFailed
from fleetcore.log import hub_logger
from fleetcore.outage import Outage
from fleetcore.store import models
from hub.service import Hub, wall_clock_ms

LEASE_NAME = "hub"
ROLE_RETRY_MAX_S = 30.0
"""Longest wait between attempts of a leader role's step that keeps failing."""


def default_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Lease:
    """The leadership lease row; ``holder`` names this process."""

    def __init__(
        self,
        holder: str,
        duration_ms: int,
        *,
        clock_ms: Callable[[], int] = wall_clock_ms,
    ) -> None:
        self.holder = holder
        self.duration_ms = duration_ms
        self._clock_ms = clock_ms

    async def try_acquire(self) -> bool:
        """Take the lease if it is free or expired (or already ours)."""
        now = self._clock_ms()
        async with in_transaction() as conn:
            await models.HubLease.bulk_create(
                [models.HubLease(name=LEASE_NAME, holder="", expires_ms=0)],
                ignore_conflicts=True,
                using_db=conn,
            )
            taken = (
                await models.HubLease.filter(
                    Q(name=LEASE_NAME) & (Q(expires_ms__lt=now) | Q(holder=self.holder))
                )
                .using_db(conn)
                .update(holder=self.holder, expires_ms=now + self.duration_ms)
            )
        return taken == 1

    async def renew(self) -> bool:
        """Extend the lease; False once another hub holds it."""
        now = self._clock_ms()
        renewed = await models.HubLease.filter(name=LEASE_NAME, holder=self.holder).update(
            expires_ms=now + self.duration_ms
        )
        return renewed == 1

    async def release(self) -> None:
        """Hand over at once (graceful shutdown) instead of letting the standby wait out the lease."""
        await models.HubLease.filter(name=LEASE_NAME, holder=self.holder).update(expires_ms=0)


class LeaderRole(Protocol):
    """Work only the leader does (e.g. executing commands), started after the hub, stopped before it."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class PeriodicRole(abc.ABC):
    """A leader role that runs :meth:`step` every ``period_s`` while its hub leads.

    A failing step is tried again, a period later at most, then after longer
    waits while it keeps failing (up to :data:`ROLE_RETRY_MAX_S`): a database
    hiccup must not end work that only the leader does. Failures are logged
    once until a step succeeds again (:class:`~fleetcore.outage.Outage`).
    """

    name = "periodic role"

    def __init__(self, period_s: float) -> None:
        self.period_s = period_s
        self._task: asyncio.Task[None] | None = None

    @abc.abstractmethod
    async def step(self) -> None:
        """One round of the role's work."""

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None

    async def _run(self) -> None:
        outage = Outage(hub_logger, self.name)
        backoff = Backoff(self.period_s, max(self.period_s, ROLE_RETRY_MAX_S))
        while True:
            try:
                await self.step()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                outage.failed(exc)
                await asyncio.sleep(backoff.next())
                continue
            outage.recovered()
            metrics.LEADER_ROLE_STEPS.labels(self.name).inc()
            backoff.reset()
            await asyncio.sleep(self.period_s)


async def lead(
    hub: Hub, lease: Lease, *, poll_s: float = 0.5, roles: Sequence[LeaderRole] = ()
) -> None:
    """Standby until the lease is ours, then lead until it is lost; for ever (until cancelled).

    Raises :class:`WriterFailed` when the writer stopped for good; the lease
    is handed over first, so a standby takes over at once.
    """
    outage = Outage(hub_logger, "reading the leadership lease")
    while True:
        while not await _acquired(lease, outage):
            await hub.warm_up()
            await asyncio.sleep(poll_s)
        hub_logger.info("%s took the leadership lease", lease.holder)
        await hub.start()
        handed_over = False
        started: list[LeaderRole] = []
        try:
            for role in roles:
                await role.start()
                started.append(role)
            await _hold(hub, lease)
        except (asyncio.CancelledError, WriterFailed):
            handed_over = True
            raise
        finally:
            for role in reversed(started):
                with contextlib.suppress(Exception):
                    await role.stop()
            await hub.stop(drain_timeout=5.0 if handed_over else 0.0)
            if handed_over:
                with contextlib.suppress(Exception):
                    await lease.release()
                    hub_logger.info("%s handed the leadership lease over", lease.holder)


async def _acquired(lease: Lease, outage: Outage) -> bool:
    try:
        taken = await lease.try_acquire()
    except Exception as exc:
        outage.failed(exc)
        return False
    outage.recovered()
    return taken


async def _hold(hub: Hub, lease: Lease) -> None:
    """Renew the lease until it is lost, the writer is fenced, or the database is gone too long.

    Raises :class:`WriterFailed` when the writer stopped for another reason than fencing.
    """
    interval = lease.duration_ms / 3000
    loop = asyncio.get_running_loop()
    last_renewed = loop.time()
    outage = Outage(hub_logger, "renewing the leadership lease")
    while True:
        await asyncio.wait([hub.writer_task], timeout=interval)
        if hub.writer_task.done():
            if isinstance(hub.writer_task.exception(), FencedOut):
                hub_logger.warning("the writer was fenced out: stepping down")
                return
            raise await hub.failed()
        try:
            if not await lease.renew():
                hub_logger.warning("%s lost the leadership lease: stepping down", lease.holder)
                return
            outage.recovered()
            last_renewed = loop.time()
        except Exception as exc:
            outage.failed(exc)
            if loop.time() - last_renewed > lease.duration_ms / 1000:
                hub_logger.warning("the lease has expired unrenewed: stepping down")
                return
