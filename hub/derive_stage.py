"""The derive stage inside the hub: restore, derive per message, tick, publish operator alerts, prune.

The hub derives from every accepted message in the order the messages came,
and a derived event is never stored without its cause. From a message a site
numbered (it waits for the acknowledgement) and from every message but a fleet
state, what is derived is committed in the same batch as the message
(:meth:`DeriveStage.derive_now`). From a fleet state it is derived once the
writer has published what it holds (:meth:`DeriveStage.defer`), and what it
yields follows in the next batch: when a whole site's fleets publish at one
instant, their states are no longer held back by looking at each robot first
(a third of the hub's work on such a burst). A hub that dies between the two
batches loses what the last states yielded, as if it had died a moment before
they came (the next states, a moment later, yield it again).

A timer drives the time-based derivations, publishes alert requests and
responses that rest_api stored (rest_api never publishes), and prunes history.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import orjson

from fleetcore.aio import cancel_and_wait
from fleetcore.contract import rooms
from fleetcore.contract.ingest import IngestMessage, IngestType
from fleetcore.log import hub_logger
from fleetcore.outage import Outage
from fleetcore.settings import Settings
from fleetcore.store import models
from hub.changes import Change, PendingPublication, Row
from hub.derive.config import DeriveConfig
from hub.derive.deriver import Deriver
from hub.derive.publish import change_for, merge
from hub.derive_restore import load_snapshot
from hub.retention import Retention
from hub.writer import Writer

BACKLOG_SIZE = 1000
"""Deferred messages (:meth:`DeriveStage.defer`) at most: ten bursts of a 100-fleet site."""


def media_room(media: models.Media) -> str | None:
    """The room of what ``media`` is attached to, where its watchers learn of it as well as on
    ``/media``; None for a robot attachment naming no fleet."""
    if media.attached_to == "alert":
        return rooms.ALERT_MEDIA.pattern
    if media.attached_to == "task":
        return rooms.TASK_MEDIA.format(task_id=media.attached_id)
    if media.attached_to == "event":
        return rooms.EVENT_MEDIA.pattern
    return rooms.FLEET_MEDIA.format(name=media.fleet) if media.fleet else None


class DeriveStage:
    def __init__(self, settings: Settings, clock_ms: Callable[[], int]) -> None:
        self.config = DeriveConfig.from_settings(settings)
        self._clock_ms = clock_ms
        self._tick_s = max(settings.derive_tick_ms, 10) / 1000
        self._retention = Retention(settings)
        self._retention_s = settings.retention_interval_s
        self._deriver: Deriver | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._in_flight: set[tuple[str, str]] = set()
        self._backlog: asyncio.Queue[tuple[IngestMessage, int]] = asyncio.Queue(BACKLOG_SIZE)
        self._deferred = asyncio.Event()

    @property
    def deriver(self) -> Deriver:
        if self._deriver is None:
            raise RuntimeError("the derive stage is not started")
        return self._deriver

    async def start(self, writer: Writer) -> None:
        """Restore from the database and start the timers; the writer commits what they derive."""
        now = self._clock_ms()
        snapshot = await load_snapshot(now, self.config.escalation_window_ms)
        self._deriver = Deriver(self.config, snapshot)
        hub_logger.info(
            "derive: restored %d robots, %d open alerts, %d active tasks",
            len(snapshot.links),
            len(snapshot.open_alerts),
            len(snapshot.tasks),
        )
        self._backlog = asyncio.Queue(BACKLOG_SIZE)
        self._deferred = asyncio.Event()
        self._tasks = [
            asyncio.create_task(self._ticks(writer), name="hub-derive-tick"),
            asyncio.create_task(self._work_off(writer), name="hub-derive-backlog"),
        ]
        if self._retention_s > 0:
            self._tasks.append(asyncio.create_task(self._prune(), name="hub-retention"))

    def _observe(self, message: IngestMessage, received_ms: int) -> Change:
        return change_for(self.deriver.observe(message, received_ms), received_ms)

    @staticmethod
    def deferrable(message: IngestMessage, numbered: bool) -> bool:
        """Whether what ``message`` yields may follow it in a later batch: a fleet state's,
        unless its site waits for it to be durable."""
        return message.type is IngestType.FLEET_STATE and not numbered

    async def defer(self, message: IngestMessage, received_ms: int) -> None:
        """Derive from ``message`` after the messages before it, once its own change was
        submitted; waits while :data:`BACKLOG_SIZE` are waiting already."""
        await self._backlog.put((message, received_ms))
        self._deferred.set()

    async def derive_now(self, message: IngestMessage, received_ms: int, writer: Writer) -> Change:
        """What ``message`` yields, once what the deferred messages before it yield was
        submitted: each derivation sees the messages in the order they came."""
        await self._catch_up(writer)
        return self._observe(message, received_ms)

    async def _catch_up(self, writer: Writer) -> None:
        """Derive from every deferred message now, in order, and submit what each yields; a
        derivation that fails is logged and the others go on."""
        while not self._backlog.empty():
            earlier, at = self._backlog.get_nowait()
            try:
                change = self._observe(earlier, at)
            except Exception:
                hub_logger.exception("deriving from a %s failed", earlier.type.value)
                continue
            finally:
                self._backlog.task_done()
            await writer.submit(change)

    async def drained(self) -> None:
        """Wait until what every deferred message yields is submitted to the writer."""
        await self._backlog.join()

    async def tick(self, writer: Writer) -> None:
        """One timer step: time-based derivations and operator alerts, in one batch, after
        what the messages before it yield (a robot heard just now is not found silent)."""
        await self._catch_up(writer)
        now = self._clock_ms()
        change = change_for(self.deriver.tick(now), now)
        merge(change, await self._operator_rows(now))
        await writer.submit(change)

    async def stop(self) -> None:
        for task in self._tasks:
            await cancel_and_wait(task)
        self._tasks = []

    async def _work_off(self, writer: Writer) -> None:
        """Derive from the deferred messages once the writer has published what it has: the
        commit of a burst's states does not wait for its robots to be looked at."""
        while True:
            await self._deferred.wait()
            self._deferred.clear()
            await writer.drained()
            await self._catch_up(writer)

    async def _ticks(self, writer: Writer) -> None:
        outage = Outage(hub_logger, "a derive tick")
        while True:
            await asyncio.sleep(self._tick_s)
            try:
                await self.tick(writer)
            except Exception as exc:
                outage.failed(exc)
            else:
                outage.recovered()

    async def _prune(self) -> None:
        outage = Outage(hub_logger, "pruning history")
        while True:
            await asyncio.sleep(self._retention_s)
            try:
                deleted = await self._retention.prune(self._clock_ms())
            except Exception as exc:
                outage.failed(exc)
                continue
            outage.recovered()
            if any(deleted.values()):
                hub_logger.info("pruned history: %s", deleted)

    async def _operator_rows(self, now: int) -> Change:
        """Alert requests and responses, and media, rest_api stored and nobody published yet."""
        change = Change(received_ms=now)
        requests = await models.AlertRequest.filter(seq__isnull=True).order_by(
            "unix_millis_alert_time"
        )
        responses = await models.AlertResponse.filter(seq__isnull=True).order_by(
            "unix_millis_response_time"
        )
        media = await models.Media.filter(seq__isnull=True).order_by("unix_millis_upload_time")
        found = (
            {("req", r.id) for r in requests}
            | {("resp", r.id) for r in responses}
            | {("media", m.id) for m in media}
        )
        self._in_flight &= found
        for request in requests:
            if ("req", request.id) not in self._in_flight:
                self._in_flight.add(("req", request.id))
                self._republish(change, rooms.ALERT_REQUESTS.pattern, "AlertRequest", request)
        for response in responses:
            if ("resp", response.id) not in self._in_flight:
                self._in_flight.add(("resp", response.id))
                self._republish(change, rooms.ALERT_RESPONSES.pattern, "AlertResponse", response)
        for item in media:
            if ("media", item.id) not in self._in_flight:
                self._in_flight.add(("media", item.id))
                self._republish(change, rooms.MEDIA.pattern, "Media", item)
                room = media_room(item)
                if room is not None:
                    change.publications.append(
                        PendingPublication(room, change.publications[-1].data_json)
                    )
        return change

    @staticmethod
    def _republish(
        change: Change,
        room: str,
        model: str,
        row: models.AlertRequest | models.AlertResponse | models.Media,
    ) -> None:
        """Publish a stored row as it is (media: its columns); the writer stamps the row with
        the seq (upsert by id)."""
        columns = [f for f in row._meta.fields_map if f != "seq"]
        values = {name: getattr(row, name) for name in columns}
        data = orjson.dumps(values) if isinstance(row, models.Media) else row.data.encode()
        change.publications.append(PendingPublication(room, data))
        change.rows.append(Row(model, values, len(change.publications) - 1))
