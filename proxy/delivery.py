"""Per-client delivery: the same bytes to every fast client, bounded holding for slow ones.

A publication is encoded once per room into the final websocket frame
(:class:`Frames`); a client whose websocket has room takes it at once with
``send_frame``, inside the broadcast loop, which therefore never waits for
anyone. A client without room is *parked*: its own writer task drains what it
holds while the broadcast goes on. What a parked client holds is bounded:

- state rooms keep only the newest frame (coalescing); it moves behind
  everything held before it, so the client still receives in seq order and
  never an older value after a newer one;
- log rooms keep at most ``log_buffer`` frames; one more drops them all and
  holds a ``resync`` event ``{room, reason, seq, epoch}`` instead, ``seq`` being
  the last dropped publication: everything after it still follows.

Clients on a non-websocket transport (long-polling, or not yet upgraded) go
through engine.io's packet queue, parked the same way when engine.io holds
too many packets; engine.io then encodes per client, as it always does.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque
from dataclasses import dataclass

import orjson
from aiohttp import WSMsgType
from prometheus_client import Counter, Gauge

from fleetcore import metrics
from fleetcore.contract.envelope import Publication
from fleetcore.contract.rooms import RoomKind
from fleetcore.log import proxy_logger
from proxy._transport import EngineLinks, TrackedPacket, WebSocketLink, engine_packet

RESYNC_EVENT = "resync"

FRAMES_ENCODED = Counter(
    "fleethub_socket_frames_encoded_total",
    "Publication frames encoded (once per room and variant, not per client).",
)
COALESCED = Counter(
    "fleethub_socket_coalesced_total",
    "State-room values replaced by a newer one before a slow client took them.",
)
DROPPED = Counter(
    "fleethub_socket_dropped_total",
    "Log-room publications dropped from a slow client's buffer on overflow.",
)
OVERFLOW_RESYNCS = Counter(
    "fleethub_socket_overflow_resyncs_total",
    "Slow clients told to resync a log room whose buffer overflowed.",
)
PARKED = Gauge("fleethub_socket_parked_clients", "Clients whose own writer is draining a backlog.")


@dataclass(frozen=True, slots=True)
class DeliveryConfig:
    """Limits of what the proxy holds for one slow client.

    :param log_buffer: publications of one log room held for a client that
        does not keep up; one more makes it resync that room instead.
    :param engine_backlog: packets engine.io may hold for a long-polling client
        before the proxy parks it (a websocket client is parked as soon as its
        transport buffer passes asyncio's high-water mark).
    """

    log_buffer: int = 1000
    engine_backlog: int = 256


DEFAULT_DELIVERY = DeliveryConfig()


def event_frame(event: str, payload_json: bytes) -> bytes:
    """The websocket frame of socket.io EVENT ``[event, payload]`` on the default namespace."""
    return b"42[" + orjson.dumps(event) + b"," + payload_json + b"]"


class Frames:
    """One publication's frames, each built at most once and shared by every recipient."""

    __slots__ = ("_envelope", "_plain", "pub")

    def __init__(self, pub: Publication) -> None:
        self.pub = pub
        self._plain: bytes | None = None
        self._envelope: bytes | None = None

    def frame(self, envelope: bool) -> bytes:
        if envelope:
            if self._envelope is None:
                self._envelope = event_frame(self.pub.room, self.pub.envelope_json())
                FRAMES_ENCODED.inc()
            return self._envelope
        if self._plain is None:
            self._plain = event_frame(self.pub.room, self.pub.data_json)
            FRAMES_ENCODED.inc()
        return self._plain


_STATE = -1
_RESYNC = -2
_Key = tuple[str, int]
"""``(room, seq)`` for a log publication, ``(room, _STATE)`` or ``(room, _RESYNC)``."""


class Connection:
    """Delivery to one socket.io client: direct while it keeps up, parked when it does not."""

    def __init__(self, sid: str, eio_sid: str, links: EngineLinks, config: DeliveryConfig) -> None:
        self.sid = sid
        self.eio_sid = eio_sid
        self.rooms: set[str] = set()
        self._links = links
        self._config = config
        self._link: WebSocketLink | None = None
        self._engine_last: TrackedPacket | None = None
        self._held: OrderedDict[_Key, bytes] = OrderedDict()
        self._log_seqs: dict[str, deque[int]] = {}
        self._writer: asyncio.Task[None] | None = None
        self._gone = False

    @property
    def parked(self) -> bool:
        return self._writer is not None

    def held(self) -> int:
        """How many frames are waiting for this client (bounded by rooms and ``log_buffer``)."""
        return len(self._held)

    async def deliver(
        self, pub: Publication, kind: RoomKind, frames: Frames, envelope: bool
    ) -> int:
        """Write now if the client keeps up, else hold; returns how many frames were written."""
        if self._gone:
            return 0
        frame = frames.frame(envelope)
        if self._writer is None:
            link = self._link or self._resolve()
            if link is not None:
                if link.has_room(len(frame)):
                    try:
                        await link.ws.send_frame(frame, WSMsgType.TEXT)
                    except ConnectionError:
                        self._gone = True
                        return 0
                    return 1
            elif self._links.backlog(self.eio_sid) < self._config.engine_backlog:
                await self._send_engine(frame)
                return 1
        self._hold(pub, kind, frame)
        return 0

    def drop_room(self, room: str) -> None:
        """Forget what is held for ``room`` (the client left it or subscribes afresh)."""
        for seq in self._log_seqs.pop(room, ()):
            del self._held[(room, seq)]
        self._held.pop((room, _STATE), None)
        self._held.pop((room, _RESYNC), None)

    def close(self) -> None:
        self._gone = True
        self._held.clear()
        self._log_seqs.clear()
        if self._writer is not None:
            self._writer.cancel()

    def _resolve(self) -> WebSocketLink | None:
        """Go direct once the client is on websocket and engine.io wrote all it was given."""
        if self._engine_last is not None and not self._engine_last.written:
            return None
        self._link = self._links.websocket(self.sid, self.eio_sid)
        return self._link

    async def _send_engine(self, frame: bytes) -> None:
        """Through engine.io (polling, or upgrading): per client, so its progress can be told."""
        self._engine_last = engine_packet(frame)
        await self._links.send_packet(self.eio_sid, self._engine_last)

    def _hold(self, pub: Publication, kind: RoomKind, frame: bytes) -> None:
        room = pub.room
        if kind is RoomKind.STATE:
            key = (room, _STATE)
            if key in self._held:
                COALESCED.inc()
                self._held.move_to_end(key)
            self._held[key] = frame
        else:
            seqs = self._log_seqs.setdefault(room, deque())
            if len(seqs) >= self._config.log_buffer:
                self._overflow(room, seqs, pub.epoch)
            seqs.append(pub.seq)
            self._held[(room, pub.seq)] = frame
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._drain())

    def _overflow(self, room: str, seqs: deque[int], epoch: int) -> None:
        last = seqs[-1]
        for seq in seqs:
            del self._held[(room, seq)]
        DROPPED.inc(len(seqs))
        seqs.clear()
        OVERFLOW_RESYNCS.inc()
        metrics.RESYNCS.inc()
        reason = f"client fell more than {self._config.log_buffer} publications behind"
        proxy_logger.info("client %s must resync %s: %s", self.sid, room, reason)
        key = (room, _RESYNC)
        self._held.pop(key, None)
        self._held[key] = event_frame(
            RESYNC_EVENT,
            orjson.dumps({"room": room, "reason": reason, "seq": last, "epoch": epoch}),
        )

    def _take(self) -> bytes:
        (room, seq), frame = self._held.popitem(last=False)
        if seq >= 0:
            self._log_seqs[room].popleft()
        return frame

    async def _drain(self) -> None:
        """The parked client's writer: hand over what is held, oldest first, at the client's pace."""
        PARKED.inc()  # here, not at creation: a task cancelled before it starts never runs finally
        try:
            while self._held:
                link = self._link or self._resolve()
                if link is not None:
                    await link.ws.send_frame(self._take(), WSMsgType.TEXT)
                    metrics.DELIVERED.inc()
                    continue
                await self._links.drained(self.eio_sid)
                while self._held:
                    await self._send_engine(self._take())
                    metrics.DELIVERED.inc()
        except ConnectionError:
            self._gone = True
            self._held.clear()
            self._log_seqs.clear()
        finally:
            self._writer = None
            PARKED.dec()
