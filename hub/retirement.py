"""Retiring quiet rooms of growing families from the live bus.

A year of a busy site is a million finished tasks. Restoring the sticky value
of every task state room ever seen at each start, and keeping it in Redis and
the in-process bus for ever, made the hub's start, memory and Redis grow with
history, not with the site. So rooms of families that grow with history
(``RoomTemplate.retires``: tasks, commands) leave the bus once quiet for
``Settings.retire_after_s``; their last values stay in ``room_state``, marked
``retired``, where readers find them (:mod:`fleetcore.store.archive`), and the
hub restores only rooms that are not (:func:`live_rooms`).

The leading hub sweeps every ``retire_interval_s``, in chunks of
:data:`CHUNK` rooms: it removes them from the bus, with the log rooms of the
same object (a task's log with its state), unless published since, then marks
them retired. Bus first: a hub that stops between the two leaves rows the next
sweep retires again, while the other order would leave values in Redis that
no sweep finds.
"""

from __future__ import annotations

from collections.abc import Callable

from tortoise.expressions import Q

from fleetcore.bus.base import Bus
from fleetcore.contract.envelope import Publication
from fleetcore.contract.rooms import TEMPLATES, RoomKind, match_room
from fleetcore.settings import Settings
from fleetcore.store import models
from fleetcore.store.archive import publication_of

CHUNK = 1000
"""Rooms per statement and per bus call: no query carries a parameter per row beyond this."""

_STATE_PREFIXES = tuple(
    t.pattern.partition("{")[0] for t in TEMPLATES if t.retires and t.kind is RoomKind.STATE
)
"""What every retiring state room's name starts with (``/tasks/``, ``/commands/``)."""
_LOGS = tuple(t for t in TEMPLATES if t.retires and t.kind is RoomKind.LOG)


def _retiring() -> Q:
    query = Q(room__startswith=_STATE_PREFIXES[0])
    for prefix in _STATE_PREFIXES[1:]:
        query |= Q(room__startswith=prefix)
    return query


class Retirement:
    """When rooms count as quiet, and the sweep that retires them."""

    def __init__(self, settings: Settings, clock_ms: Callable[[], int]) -> None:
        self._after_ms = round(settings.retire_after_s * 1000)
        self._clock_ms = clock_ms
        self.interval_s = settings.retire_interval_s

    @property
    def enabled(self) -> bool:
        return self._after_ms > 0

    def _cutoff_ms(self) -> int:
        """Rooms of a retiring family last published before this are quiet (no cutoff: 0)."""
        return self._clock_ms() - self._after_ms if self.enabled else 0

    def is_live(self, pub: Publication) -> bool:
        """Whether a room the hub holds belongs in the bus it restores."""
        return pub.received_ms >= self._cutoff_ms() or not match_room(pub.room).template.retires

    async def live_rooms(self, after_seq: int = 0) -> list[Publication]:
        """The rooms a hub restores, published after ``after_seq``, oldest first.

        Rows not marked retired are read through the (retired, seq) index;
        those of a retiring family that went quiet since are left out too, so
        even a hub whose rooms were never swept (the first start after an
        upgrade) loads only the live site.
        """
        query = models.RoomState.filter(retired=False, seq__gt=after_seq)
        if self.enabled:
            query = query.filter(Q(received_ms__gte=self._cutoff_ms()) | ~_retiring())
        return [publication_of(row) for row in await query.order_by("seq")]

    async def sweep(self, bus: Bus, top_seq: int) -> int:
        """Retire every quiet room of a retiring family; returns how many state rooms went.

        ``top_seq`` is the last seq committed: a log room goes with its state
        room unless published after it (the bus checks, atomically).
        """
        if not self.enabled:
            return 0
        cutoff = self._cutoff_ms()
        retired = 0
        while True:
            rows = (
                await models.RoomState.filter(retired=False, received_ms__lt=cutoff)
                .filter(_retiring())
                .order_by("seq")
                .limit(CHUNK)
                .values_list("room", "seq")
            )
            if not rows:
                return retired
            rooms: dict[str, int] = {}
            for room, seq in rows:
                rooms[room] = seq
                match = match_room(room)
                for log in _LOGS:
                    if log.resource == match.template.resource:
                        rooms[log.format(**match.params)] = top_seq
            await bus.retire(rooms)
            # A room published again since it was read has a newer received_ms and stays live.
            await models.RoomState.filter(
                room__in=[room for room, _ in rows], received_ms__lt=cutoff
            ).update(retired=True)
            retired += len(rows)
            if len(rows) < CHUNK:
                return retired
