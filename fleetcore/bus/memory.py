"""The in-process bus of the embedded system.

Publishing calls the listeners directly, in the publisher's task, so a
listener that awaits slows the hub: the proxy's listener only enqueues.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence

from fleetcore.bus._listeners import Listeners
from fleetcore.bus.base import Archive, Bus, PublicationHandler, ResyncHandler
from fleetcore.contract.envelope import Publication, StreamPosition
from fleetcore.contract.rooms import RoomKind, RoomTemplate, match_room
from fleetcore.errors import BusError, UnrecoverablePosition
from fleetcore.settings import DEFAULTS


class _LogWindow:
    """The last N publications of one log room and the highest seq dropped."""

    __slots__ = ("items", "trimmed_through")

    def __init__(self, size: int, floor: int) -> None:
        self.items: deque[Publication] = deque(maxlen=size)
        self.trimmed_through = floor

    def append(self, pub: Publication) -> None:
        if len(self.items) == self.items.maxlen:
            self.trimmed_through = self.items[0].seq
        self.items.append(pub)


class InMemoryBus:
    """:class:`~fleetcore.bus.base.Bus` in one process; ``archive`` answers for retired rooms."""

    def __init__(
        self, replay_window: int = DEFAULTS.replay_window, *, archive: Archive | None = None
    ) -> None:
        self._window = replay_window
        self._archive = archive
        self._listeners = Listeners()
        self._sticky: dict[str, dict[str, Publication]] = {}
        self._logs: dict[str, _LogWindow] = {}
        self._top = StreamPosition(0, 0)
        self._floor = 0
        self._retired_through = 0
        """The last seq of any log room retired: history from before it is unknown."""

    async def start(self) -> None:
        return None

    async def publish(self, batch: Sequence[Publication]) -> None:
        if not batch:
            return
        if batch[0].seq <= self._top.seq or batch[0].epoch < self._top.epoch:
            raise BusError(f"publication {batch[0].position} is not after the top {self._top}")
        for pub in batch:
            match = match_room(pub.room)
            if match.kind is RoomKind.STATE:
                self._set_sticky(match.template.pattern, pub)
            else:
                window = self._logs.get(pub.room)
                if window is None:
                    window = self._logs[pub.room] = _LogWindow(
                        self._window, max(self._floor, self._retired_through)
                    )
                window.append(pub)
        self._top = batch[-1].position
        await self._listeners.emit(batch)

    async def restore(self, sticky: Sequence[Publication], top: StreamPosition) -> None:
        for pub in sticky:
            self._set_sticky(match_room(pub.room).template.pattern, pub)
        if top.seq > self._top.seq:
            # What was committed up to ``top`` never reached this bus.
            self._floor = top.seq
        if (top.seq, top.epoch) > (self._top.seq, self._top.epoch):
            self._top = top

    def _set_sticky(self, pattern: str, pub: Publication) -> None:
        """Newest wins: a stale value never moves a room backwards."""
        rooms = self._sticky.setdefault(pattern, {})
        held = rooms.get(pub.room)
        if held is None or held.seq < pub.seq:
            rooms[pub.room] = pub

    async def listening(self) -> None:
        """Publications reach the listeners as they are published."""

    def add_listener(self, handler: PublicationHandler) -> None:
        self._listeners.add(handler)

    def remove_listener(self, handler: PublicationHandler) -> None:
        self._listeners.remove(handler)

    def add_resync_listener(self, handler: ResyncHandler) -> None:
        """Kept for the contract; never called: an in-process bus cannot lose publications."""
        self._listeners.add_resync(handler)

    def remove_resync_listener(self, handler: ResyncHandler) -> None:
        self._listeners.remove_resync(handler)

    async def retire(self, rooms: Mapping[str, int]) -> None:
        for room, through in rooms.items():
            match = match_room(room)
            if match.kind is RoomKind.STATE:
                held = self._sticky.get(match.template.pattern, {})
                pub = held.get(match.room)
                if pub is not None and pub.seq <= through:
                    del held[match.room]
                continue
            window = self._logs.get(match.room)
            if window is not None and window.items and window.items[-1].seq <= through:
                del self._logs[match.room]
                self._retired_through = max(self._retired_through, window.items[-1].seq)

    async def sticky(self, room: str) -> Publication | None:
        match = match_room(room)
        pub = self._sticky.get(match.template.pattern, {}).get(match.room)
        if pub is None and self._archive is not None and match.template.retires:
            return await self._archive(match.room)
        return pub

    async def sticky_all(self, template: RoomTemplate) -> list[Publication]:
        return list(self._sticky.get(template.pattern, {}).values())

    async def history(self, room: str, since: int) -> list[Publication]:
        window = self._logs.get(room)
        if window is None:
            if since < self._floor:
                raise UnrecoverablePosition(
                    f"{room}: seq {since} predates this bus (from {self._floor})"
                )
            if since < self._retired_through:
                raise UnrecoverablePosition(
                    f"{room}: seq {since} predates rooms retired up to seq {self._retired_through}"
                )
            return []
        if since < window.trimmed_through:
            raise UnrecoverablePosition(
                f"{room}: publications up to seq {window.trimmed_through} left the window"
            )
        return [pub for pub in window.items if pub.seq > since]

    async def position(self) -> StreamPosition:
        return self._top

    async def aclose(self) -> None:
        self._listeners.clear()


_: Bus = InMemoryBus()
