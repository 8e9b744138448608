"""Room membership and delivery: each publication is encoded once per room.

The bus listener runs once per published batch. For every room with
subscribers it builds the final websocket frame once (one for rmf-web
clients, whose event carries ``data`` alone, and, only if someone asked for
envelopes, one with the envelope) and writes the same bytes to every
subscriber's websocket (:mod:`proxy.delivery`), synchronously: no coroutine
per subscriber; a slow subscriber never holds up the others.

A subscriber that is still receiving its initial value or replay is
*pending*: live publications for it are buffered and merged afterwards, so it
never sees an older value after a newer one and never misses one.

A subscriber may see only part of a room (:mod:`proxy.access`): its
:class:`~proxy.access.View` renders each publication, once per distinct
view key and publication, so a thousand clients of one security group cost
one filtering and one encoding. Subscribers without a view (admins, open
rooms, authentication off) take the shared frames as before: the only cost
on that path is one attribute test per subscriber.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

from fleetcore import metrics
from fleetcore.bus import recovery
from fleetcore.contract.envelope import Publication
from fleetcore.contract.rooms import RoomKind
from proxy._transport import EngineLinks
from proxy.access import View
from proxy.delivery import DEFAULT_DELIVERY, Connection, DeliveryConfig, Frames, Gatherer


@dataclass(slots=True)
class Subscriber:
    conn: Connection
    kind: RoomKind
    envelope: bool
    view: View | None = None
    """None: every publication as published."""
    last_seq: int = 0
    pending: bool = True
    buffered: list[Publication] = field(default_factory=list)


class Fanout:
    def __init__(self, links: EngineLinks, config: DeliveryConfig = DEFAULT_DELIVERY) -> None:
        self.links = links
        self._config = config
        self.gatherer = Gatherer(config.gather_s)
        self._rooms: dict[str, dict[str, Subscriber]] = {}
        self._connections: dict[str, Connection] = {}

    def footprint(self) -> dict[str, int]:
        """How many clients and rooms it holds delivery state for: none once every client left."""
        return {"connections": len(self._connections), "rooms": len(self._rooms)}

    def rooms_of(self, sid: str) -> list[str]:
        conn = self._connections.get(sid)
        return sorted(conn.rooms) if conn is not None else []

    def subscriptions(self) -> list[tuple[str, str, RoomKind]]:
        """Every (room, sid, kind), a snapshot safe to iterate while subscriptions change."""
        return [
            (room, sid, sub.kind) for room, subs in self._rooms.items() for sid, sub in subs.items()
        ]

    def subscriptions_of(self, sid: str) -> list[tuple[str, Subscriber]]:
        """(room, subscription) of one client, a snapshot safe to iterate while it changes."""
        return [(room, self._rooms[room][sid]) for room in self.rooms_of(sid)]

    def join(
        self,
        sid: str,
        eio_sid: str,
        room: str,
        kind: RoomKind,
        envelope: bool,
        view: View | None = None,
    ) -> Subscriber:
        """Add (or reset) a pending subscription; live publications are buffered until :meth:`activate`."""
        conn = self._connections.get(sid)
        if conn is None:
            conn = self._connections[sid] = Connection(
                sid, eio_sid, self.links, self._config, self.gatherer
            )
        conn.drop_room(room)
        conn.rooms.add(room)
        sub = Subscriber(conn=conn, kind=kind, envelope=envelope, view=view)
        subs = self._rooms.setdefault(room, {})
        if sid not in subs:
            metrics.SUBSCRIPTIONS.inc()
        subs[sid] = sub
        return sub

    async def activate(
        self, sid: str, room: str, initial: Sequence[Publication], since: int
    ) -> None:
        """Send ``initial`` merged with what was buffered, then go live."""
        sub = self._rooms.get(room, {}).get(sid)
        if sub is None:
            return
        sub.last_seq = since
        merged = (
            recovery.latest((*initial, *sub.buffered), since)
            if sub.kind is RoomKind.STATE
            else recovery.merge(initial, sub.buffered, since)
        )
        sub.buffered = []
        for pub in merged:
            sub.last_seq = pub.seq
            shown = pub if sub.view is None else sub.view.render(pub)
            if shown is not None:
                written = await sub.conn.deliver(Frames(shown), sub.kind, sub.envelope)
                metrics.DELIVERED.inc(written)
        sub.conn.flush()  # before the subscribe's ack
        sub.pending = False

    def leave(self, sid: str, room: str) -> bool:
        subs = self._rooms.get(room)
        if subs is None or subs.pop(sid, None) is None:
            return False
        metrics.SUBSCRIPTIONS.dec()
        if not subs:
            del self._rooms[room]
        conn = self._connections[sid]
        conn.flush()  # before the unsubscribe's ack
        conn.rooms.discard(room)
        conn.drop_room(room)
        if not conn.rooms:
            del self._connections[sid]
            conn.close()
        return True

    def leave_all(self, sid: str) -> None:
        for room in self.rooms_of(sid):
            self.leave(sid, room)

    async def on_publications(self, batch: Sequence[Publication]) -> None:
        gather = self.gatherer.gathering()
        for pub in batch:
            subs = self._rooms.get(pub.room)
            if not subs:
                continue
            frames = Frames(pub)
            views: dict[Hashable, Frames | None] = {}
            written = 0
            seq = pub.seq
            # A copy: a delivery through engine.io awaits, and a disconnect may change the room.
            for sub in list(subs.values()):
                if sub.pending:
                    sub.buffered.append(pub)
                    continue
                if seq <= sub.last_seq:
                    continue
                sub.last_seq = seq
                view = sub.view
                if view is None:
                    shown = frames
                else:
                    key = view.key
                    if key in views:
                        found = views[key]
                    else:
                        rendered = view.render(pub)
                        found = views[key] = None if rendered is None else Frames(rendered)
                    if found is None:
                        continue
                    shown = found
                now = sub.conn.offer(shown, sub.kind, sub.envelope, gather)
                if now is None:
                    now = await sub.conn.deliver(shown, sub.kind, sub.envelope)
                written += now
            metrics.DELIVERED.inc(written)
        self.gatherer.settle()
