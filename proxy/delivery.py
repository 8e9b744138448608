"""Per-client delivery: the same bytes to every fast client, bounded holding for slow ones.

A publication is encoded once per room into the final websocket frame
(:class:`Frames`), header included; a client whose websocket has room takes
it at once, written straight to its transport inside the broadcast loop
(no coroutine, no copy, no compression per client), which therefore never
waits for anyone. A client without room is *parked*: its own writer task drains what it
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
import time
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
    :param gather_s: see below.
    """

    log_buffer: int = 1000
    engine_backlog: int = 256
    gather_s: float = 0.002
    """After a broadcast, frames that follow within this long are gathered and written
    to each client in one write when it ends: one system call for several messages
    under load; a publication after a quiet spell is written at once. 0: never gather."""


DEFAULT_DELIVERY = DeliveryConfig()


def event_frame(event: str, payload_json: bytes) -> bytes:
    """The websocket frame of socket.io EVENT ``[event, payload]`` on the default namespace."""
    return b"42[" + orjson.dumps(event) + b"," + payload_json + b"]"


def wire_frame(payload: bytes) -> bytes:
    """The unmasked, uncompressed server-to-client websocket TEXT frame of ``payload`` (RFC 6455 5.2)."""
    size = len(payload)
    if size < 126:
        return bytes((0x81, size)) + payload
    if size < 1 << 16:
        return bytes((0x81, 126)) + size.to_bytes(2, "big") + payload
    return bytes((0x81, 127)) + size.to_bytes(8, "big") + payload


class Frames:
    """One publication's frames, each built at most once and shared by every recipient."""

    __slots__ = ("_envelope", "_plain", "_wires", "pub")

    def __init__(self, pub: Publication) -> None:
        self.pub = pub
        self._plain: bytes | None = None
        self._envelope: bytes | None = None
        self._wires: dict[bool, bytes] = {}

    def frame(self, envelope: bool) -> bytes:
        """The socket.io packet: what a websocket message or engine.io packet carries."""
        if envelope:
            if self._envelope is None:
                self._envelope = event_frame(self.pub.room, self.pub.envelope_json())
                FRAMES_ENCODED.inc()
            return self._envelope
        if self._plain is None:
            self._plain = event_frame(self.pub.room, self.pub.data_json)
            FRAMES_ENCODED.inc()
        return self._plain

    def wire(self, envelope: bool) -> bytes:
        """The whole websocket frame of :meth:`frame`, header included, for a direct write."""
        wire = self._wires.get(envelope)
        if wire is None:
            wire = self._wires[envelope] = wire_frame(self.frame(envelope))
        return wire


GATHER_MOST_S = 0.05
"""The longest a gathering window grows to on a busy proxy (see :class:`Gatherer`)."""


class Gatherer:
    """Gathers the frames of broadcasts that follow each other closely into one write per client.

    Writing to a socket is a system call, and on a busy proxy it is most of
    the cost of a message: when broadcasts come back to back, each client's
    frames of the next ``gather_s`` are joined and written together when the
    window ends (:meth:`flush`). A window lasts as long as the last flush took
    if that was longer (at most :data:`GATHER_MOST_S`): with thousands of
    clients a broadcast alone outlasts ``gather_s``, and a window that
    gathers one frame a client saves nothing. Whoever needs what was gathered
    on the wire before it sends something else (a subscribe's ack, an
    unsubscribe's, a resync, a shutdown notice) flushes first.
    """

    __slots__ = ("_delay", "_dirty", "_quiet_at", "_timer", "_window")

    def __init__(self, delay: float) -> None:
        self._delay = delay
        self._window = delay
        self._dirty: list[Connection] = []
        self._quiet_at = 0.0
        self._timer: asyncio.TimerHandle | None = None

    def gathering(self) -> bool:
        """Whether a broadcast starting now follows the last one closely enough to gather."""
        return time.monotonic() < self._quiet_at

    def settle(self) -> None:
        """A broadcast ended: the next one within ``gather_s`` is gathered."""
        if self._delay > 0:
            self._quiet_at = time.monotonic() + self._delay

    def mark(self, conn: Connection) -> None:
        """``conn`` gathered its first frame of this window: flush it when the window ends."""
        self._dirty.append(conn)
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._window, self.flush)

    def flush(self) -> None:
        """Write every client's gathered frames, one write each."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        dirty, self._dirty = self._dirty, []
        start = time.monotonic()
        for conn in dirty:
            conn.flush()
        self._window = max(self._delay, min(GATHER_MOST_S, time.monotonic() - start))
        self.settle()  # a long flush is no quiet spell: what follows it is gathered too


_STATE = -1
_RESYNC = -2
_Key = tuple[str, int]
"""``(room, seq)`` for a log publication, ``(room, _STATE)`` or ``(room, _RESYNC)``."""


class Connection:
    """Delivery to one socket.io client: direct while it keeps up, parked when it does not."""

    def __init__(
        self,
        sid: str,
        eio_sid: str,
        links: EngineLinks,
        config: DeliveryConfig,
        gatherer: Gatherer,
    ) -> None:
        self.sid = sid
        self.eio_sid = eio_sid
        self.rooms: set[str] = set()
        self._links = links
        self._config = config
        self._gatherer = gatherer
        self._gathered: list[bytes] = []
        self._gathered_size = 0
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

    def offer(
        self, frames: Frames, kind: RoomKind, envelope: bool, gather: bool = False
    ) -> int | None:
        """Write now (or gather, see :class:`Gatherer`) if the client keeps up on its websocket,
        else hold: how many frames were written or gathered.

        Synchronous, so a broadcast costs a few attribute tests and at most one
        transport write per client. None: the client is not on websocket yet
        and engine.io has room for it; :meth:`deliver` sends it through engine.io.
        """
        if self._gone:
            return 0
        if self._writer is None:
            link = self._link or self._resolve()
            if link is not None:
                wire = frames.wire(envelope)
                if gather or self._gathered:  # behind what is gathered, never before it
                    if link.has_room(self._gathered_size + len(wire)):
                        if not self._gathered:
                            self._gatherer.mark(self)
                        self._gathered.append(wire)
                        self._gathered_size += len(wire)
                        return 1
                elif link.write(wire):
                    return 1
            elif self._links.backlog(self.eio_sid) < self._config.engine_backlog:
                return None
        self._hold(frames.pub, kind, frames.frame(envelope))
        return 0

    def flush(self) -> None:
        """Write what was gathered, in one write (room for it was checked as it was gathered)."""
        if not self._gathered:
            return
        gathered = self._gathered
        wire = gathered[0] if len(gathered) == 1 else b"".join(gathered)
        self._gathered = []
        self._gathered_size = 0
        if self._link is not None and not self._gone:
            self._link.write_reserved(wire)

    async def deliver(self, frames: Frames, kind: RoomKind, envelope: bool) -> int:
        """:meth:`offer`, or through engine.io's queue when the client is not on websocket yet."""
        written = self.offer(frames, kind, envelope)
        if written is not None:
            return written
        await self._send_engine(frames.frame(envelope))
        return 1

    def drop_room(self, room: str) -> None:
        """Forget what is held for ``room`` (the client left it or subscribes afresh)."""
        for seq in self._log_seqs.pop(room, ()):
            del self._held[(room, seq)]
        self._held.pop((room, _STATE), None)
        self._held.pop((room, _RESYNC), None)

    def close(self) -> None:
        self._gone = True
        self._gathered = []
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
        self.flush()  # what was gathered goes before anything held
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
