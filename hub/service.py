"""The hub's lifetime: restore on start, accept ingest, drain on stop.

On start the hub takes the next epoch (its leadership term), reloads the
last persisted ``seq`` and puts every live room's last value back on the bus,
so the first subscriber after a restart sees the last known state and the
sequence continues without reuse. Rooms retired from the bus
(:mod:`hub.retirement`) stay in the database, so what a start loads is the
size of the live site, not of its history.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence

from tortoise.expressions import F
from tortoise.transactions import in_transaction

from fleetcore.aio import cancel_all, cancel_and_wait
from fleetcore.bus.base import Bus, PublicationHandler
from fleetcore.contract.envelope import Publication, StreamPosition
from fleetcore.contract.ingest import IngestMessage
from fleetcore.errors import FencedOut, NotLeading, PartFailed, WriterFailed
from fleetcore.log import hub_logger
from fleetcore.outage import Outage, describe
from fleetcore.settings import Settings
from fleetcore.store import models
from hub.changes import SiteFrame, changes_for, site_frame_row
from hub.derive.publish import merge
from hub.derive_stage import DeriveStage
from hub.retirement import Retirement
from hub.writer import Writer


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class Hub:
    def __init__(
        self, settings: Settings, bus: Bus, *, clock_ms: Callable[[], int] = wall_clock_ms
    ) -> None:
        self._settings = settings
        self._bus = bus
        self._clock_ms = clock_ms
        self._writer: Writer | None = None
        self._task: asyncio.Task[None] | None = None
        self._warm: dict[str, Publication] = {}
        self._warm_seq = 0
        self._derive = DeriveStage(settings, clock_ms)
        self._retirement = Retirement(settings, clock_ms)
        self._retiring: asyncio.Task[None] | None = None
        self._accepting = False
        self._fatal: WriterFailed | PartFailed | None = None
        self._failed = asyncio.Event()

    @property
    def ready(self) -> bool:
        """Whether this hub takes messages: from the end of :meth:`start` until it stops or is fenced."""
        return self._accepting and self._task is not None and not self._task.done()

    @property
    def problem(self) -> str | None:
        """Why this hub takes no messages (for readiness probes and refused sites), or None."""
        if self.ready:
            return None
        if isinstance(self._fatal, PartFailed):
            return str(self._fatal)
        if self._fatal is not None:
            return f"the writer stopped: {describe(self._fatal)}"
        return "this hub is a standby; connect to the active hub"

    @property
    def has_failed(self) -> bool:
        """Whether the writer stopped for good (the leadership hands the lease over by itself),
        or leading failed: either way the process must end."""
        return self._fatal is not None

    async def failed(self) -> WriterFailed | PartFailed:
        """Wait until the writer stops for good (not fenced out) or leading fails: the process
        must end."""
        while self._fatal is None:
            await self._failed.wait()
        return self._fatal

    @property
    def position(self) -> StreamPosition:
        return self.writer.position

    @property
    def writer_task(self) -> asyncio.Task[None]:
        if self._task is None:
            raise RuntimeError("the hub is not started")
        return self._task

    @property
    def writer(self) -> Writer:
        if self._writer is None:
            raise RuntimeError("the hub is not started")
        return self._writer

    def add_publication_listener(self, handler: PublicationHandler) -> None:
        """Hear each batch this hub publishes, while it leads.

        A standby's bus carries the leader's publications too; they are not
        this hub's to act on, so the handler hears nothing until it leads.
        """

        async def while_leading(batch: Sequence[Publication]) -> None:
            if self.ready:
                await handler(batch)

        self._bus.add_listener(while_leading)

    async def warm_up(self) -> None:
        """Load live rooms' values written since the last call: a standby stays ready to take over."""
        for pub in await self._retirement.live_rooms(self._warm_seq):
            self._warm[pub.room] = pub
            self._warm_seq = pub.seq

    async def start(self) -> None:
        position = await _take_next_epoch()
        await self._republish_outbox()
        await self.warm_up()
        # Rooms that went quiet while this hub stood by are not restored (nor kept).
        self._warm = {
            room: pub for room, pub in self._warm.items() if self._retirement.is_live(pub)
        }
        sticky = sorted(self._warm.values(), key=lambda pub: pub.seq)
        await self._bus.restore(sticky, position)
        self._bus.add_resync_listener(self._on_bus_reset)
        self._writer = Writer(
            self._bus,
            position,
            max_rows=self._settings.batch_max_rows,
            max_delay=self._settings.batch_max_delay_ms / 1000,
        )
        self._fatal = None
        self._failed.clear()
        self._task = asyncio.create_task(self._writer.run(), name="hub-writer")
        self._task.add_done_callback(self._on_writer_exit)
        await self._derive.start(self._writer)
        if self._retirement.enabled:
            self._retiring = asyncio.create_task(self._retire(), name="hub-retirement")
        self._accepting = True
        hub_logger.info(
            "hub started: epoch %d, seq %d, %d sticky rooms restored",
            position.epoch,
            position.seq,
            len(sticky),
        )

    async def _on_bus_reset(self, reason: str) -> None:
        """The bus lost its data (e.g. Redis restarted empty): put every live room's last value back."""
        sticky = await self._retirement.live_rooms()
        await self._bus.restore(sticky, self.writer.position)
        hub_logger.warning("bus reset (%s): %d sticky rooms restored", reason, len(sticky))

    async def _republish_outbox(self) -> None:
        """Publish what an earlier hub committed but may not have published."""
        top = await self._bus.position()
        pending = [
            Publication(r.room, r.seq, r.epoch, r.received_ms, r.data.encode())
            for r in await models.Outbox.filter(seq__gt=top.seq).order_by("seq")
        ]
        if pending:
            hub_logger.info(
                "republishing seq %d..%d committed before the last stop",
                pending[0].seq,
                pending[-1].seq,
            )
            await self._bus.publish(pending)

    async def ingest(
        self,
        message: IngestMessage,
        received_at: float | None = None,
        *,
        site_frame: SiteFrame | None = None,
    ) -> None:
        """Accept one validated message; returns once it is queued for the writer.

        A ``site_frame``'s number is committed with the message's rows and its
        future resolved then. Raises :class:`NotLeading` on a standby or a hub
        that just stepped down.
        """
        if not self.ready:
            raise NotLeading("this hub is not the leader; reconnect to the active hub")
        received_ms = self._clock_ms()
        change = changes_for(message, received_ms)
        deferred = self._derive.deferrable(message, numbered=site_frame is not None)
        if not deferred:
            merge(change, await self._derive.derive_now(message, received_ms, self.writer))
        change.received_at = received_at if received_at is not None else time.monotonic()
        if site_frame is not None:
            change.rows.append(site_frame_row(site_frame, received_ms))
            change.committed = site_frame.committed
        writer = self.writer_task
        await self.writer.submit(change)
        if writer.done() and change.committed is not None:
            # It stopped while this waited for room in its queue: nothing will commit it.
            change.committed.cancel()
        if deferred:
            await self._derive.defer(message, received_ms)

    async def drained(self) -> None:
        """Wait until everything accepted so far, and what it yields, is committed and published."""
        await self._derive.drained()
        await self.writer.drained()

    async def stop(self, drain_timeout: float = 5.0) -> None:
        """Stop after committing and publishing what was accepted, waiting at most ``drain_timeout``."""
        if self._task is None:
            return
        self._accepting = False
        self._bus.remove_resync_listener(self._on_bus_reset)
        if self._retiring is not None:
            await cancel_and_wait(self._retiring)
            self._retiring = None
        if not self._task.done() and drain_timeout > 0:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._derive.drained(), timeout=drain_timeout)
        await self._derive.stop()
        if not self._task.done() and drain_timeout > 0:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.writer.drained(), timeout=drain_timeout)
        # Whatever the writer failed with was reported when it stopped (_on_writer_exit).
        await cancel_all([self._task])
        self._task = None

    def leadership_ended(self, task: asyncio.Task[None]) -> None:
        """Done callback of the task that leads (:func:`hub.leader.lead`).

        Leading ends only when cancelled or when the writer failed (reported
        already); anything else, a start-up that failed on a row it cannot
        restore say, would leave the process standing by without a word. It is
        logged at once and ends the process, to be restarted.
        """
        error = None if task.cancelled() else task.exception()
        if error is None or self._fatal is not None:
            return
        hub_logger.error("the hub cannot lead and the process ends to be restarted", exc_info=error)
        self._fatal = PartFailed(f"the hub cannot lead: {describe(error)}")
        self._fatal.__cause__ = error
        self._failed.set()

    async def _retire(self) -> None:
        """Retire quiet rooms from the bus while leading; a failed sweep is logged and retried."""
        outage = Outage(hub_logger, "retiring rooms")
        while True:
            try:
                retired = await self._retirement.sweep(self._bus, self.writer.position.seq)
            except Exception as exc:
                outage.failed(exc)
            else:
                outage.recovered()
                if retired:
                    hub_logger.info("retired %d quiet rooms from the bus", retired)
            await asyncio.sleep(self._retirement.interval_s)

    def _on_writer_exit(self, task: asyncio.Task[None]) -> None:
        """Report why the writer stopped: a fenced-out writer steps down, any other failure is fatal."""
        error = None if task.cancelled() else task.exception()
        if error is None:
            return
        if isinstance(error, FencedOut):
            hub_logger.warning("the hub writer stopped: %s", error)
            return
        hub_logger.error(
            "the hub writer stopped and cannot go on; the process ends to be restarted",
            exc_info=error,
        )
        if isinstance(error, WriterFailed):
            self._fatal = error
        else:
            self._fatal = WriterFailed(f"the writer stopped: {describe(error)}")
            self._fatal.__cause__ = error
        self._failed.set()


async def _take_next_epoch() -> StreamPosition:
    """Increment the persisted epoch and read the persisted seq, in one transaction.

    The increment locks the epoch row, so it waits for a batch of the old
    leader that is committing, and every later batch of that leader is refused.
    """
    async with in_transaction() as conn:
        for key in ("seq", "epoch"):
            await models.HubMeta.bulk_create(
                [models.HubMeta(key=key, value=0)], ignore_conflicts=True, using_db=conn
            )
        await models.HubMeta.filter(key="epoch").using_db(conn).update(value=F("value") + 1)
        epoch = await models.HubMeta.get(key="epoch", using_db=conn)
        seq = await models.HubMeta.get(key="seq", using_db=conn)
        return StreamPosition(seq.value, epoch.value)
