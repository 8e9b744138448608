"""The Bus contract.

Only the hub publishes. A publish is atomic: the stream entries and the
sticky values of their rooms change together, so a reader never sees one
without the other. Publications reach listeners in ``seq`` order, each once;
a bus may regroup them into other batches than the ones published (the Redis
bus delivers what one read returns).

A publish whose first seq is not after the bus's top, or whose epoch is older
than the top's, is refused with :class:`~fleetcore.errors.BusError`: a
deposed hub replaying old batches cannot corrupt the stream.

A bus that crosses a network can lose continuity (its store lost data, or a
reader fell behind what it keeps); it then tells its resync listeners, in
order with the publications, so a reader can make its clients resync.

Recovery rules (after centrifuge): ``history(room, since)`` returns the
publications of a log room strictly after ``since``; it raises
:class:`~fleetcore.errors.UnrecoverablePosition` when the window no longer
holds everything after ``since`` (trimmed), so the client must resync.

Rooms of families that grow with history (``RoomTemplate.retires``) leave
the bus once quiet (:meth:`Bus.retire`); their last values stay in the
database (:mod:`fleetcore.store.archive`), so the bus holds the live site.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Protocol

from fleetcore.contract.envelope import Publication, StreamPosition
from fleetcore.contract.rooms import RoomTemplate

PublicationHandler = Callable[[Sequence[Publication]], Awaitable[None]]
"""Receives each published batch, in seq order."""

ResyncHandler = Callable[[str], Awaitable[None]]
"""Told (with a reason for humans) that publications may have been missed.

Everything delivered before the call preceded the gap and everything after
follows it: the reader must treat whatever its clients hold as possibly
stale (state rooms: send the sticky value again; log rooms: resync).
"""


Archive = Callable[[str], Awaitable[Publication | None]]
"""Where a bus reads the last value of a state room retired from it (the database's)."""


class Bus(Protocol):
    async def start(self) -> None:
        """Connect; idempotent."""

    async def publish(self, batch: Sequence[Publication]) -> None:
        """Append ``batch`` (ascending seq) and update the rooms' sticky values. Hub only."""

    async def restore(self, sticky: Sequence[Publication], top: StreamPosition) -> None:
        """Hub only, on start: reinstate sticky values from the database, tell no listener.

        ``top`` is the last persisted position; history before it that the bus
        does not hold is unrecoverable.
        """

    def add_listener(self, handler: PublicationHandler) -> None:
        """Deliver every publication after :meth:`listening` returns to ``handler``."""

    def remove_listener(self, handler: PublicationHandler) -> None: ...

    async def listening(self) -> None:
        """Returns once every later publication reaches the listeners.

        A bus may stop reading while nobody listens and start again at its
        top when someone does; a reader that merges the listeners' deliveries
        with a sticky value or history read from the bus waits for this first.
        """

    def add_resync_listener(self, handler: ResyncHandler) -> None:
        """Call ``handler`` whenever this bus loses continuity (never, in process)."""

    def remove_resync_listener(self, handler: ResyncHandler) -> None: ...

    async def retire(self, rooms: Mapping[str, int]) -> None:
        """Hub only: remove each room (state or log) published at or before its given seq.

        A room published since keeps its value. A log room's entries go with
        it: ``history`` from before its last entry then raises
        :class:`~fleetcore.errors.UnrecoverablePosition` (the client reads the
        log from REST). A retired state room's value is read from the bus's
        archive (``sticky``), if it has one.
        """

    async def sticky(self, room: str) -> Publication | None:
        """The latest publication of a state room; a retired room's from the archive."""

    async def sticky_all(self, template: RoomTemplate) -> list[Publication]:
        """The latest publication of every room of one template (e.g. every fleet)."""

    async def history(self, room: str, since: int) -> list[Publication]:
        """Publications of ``room`` with seq > ``since``, oldest first."""

    async def position(self) -> StreamPosition:
        """The last published position (seq 0 before anything was published)."""

    async def aclose(self) -> None: ...
