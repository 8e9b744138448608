"""The derive stage inside the hub: restore, derive per message, tick, publish operator alerts, prune.

The hub calls :meth:`DeriveStage.observe` for every accepted message and
commits what it returns in the same batch as the message, so a derived
event is never stored without its cause. A timer drives the time-based
derivations, publishes alert requests and responses that rest_api stored
(rest_api never publishes), and prunes history.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import orjson

from fleetcore.aio import cancel_and_wait
from fleetcore.contract import rooms
from fleetcore.contract.ingest import IngestMessage
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
        self._tasks = [asyncio.create_task(self._ticks(writer), name="hub-derive-tick")]
        if self._retention_s > 0:
            self._tasks.append(asyncio.create_task(self._prune(), name="hub-retention"))

    def observe(self, message: IngestMessage, received_ms: int) -> Change:
        return change_for(self.deriver.observe(message, received_ms), received_ms)

    async def tick(self, writer: Writer) -> None:
        """One timer step: time-based derivations and operator alerts, in one batch."""
        now = self._clock_ms()
        change = change_for(self.deriver.tick(now), now)
        merge(change, await self._operator_rows(now))
        await writer.submit(change)

    async def stop(self) -> None:
        for task in self._tasks:
            await cancel_and_wait(task)
        self._tasks = []

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
