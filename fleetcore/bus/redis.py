"""The scale-out bus: Redis Streams between the one hub and any number of readers.

Keys, all under ``prefix`` (a deployment's namespace; wrap it in ``{}`` to
keep every key in one Redis Cluster slot, which the Lua scripts need there):

``{prefix}:pubs``
    Every publication, in seq order; entry ID ``<seq>-0``, field ``e`` the
    envelope. Trimmed by seq to roughly ``stream_keep`` entries. Readers tail
    it. A ``gap`` entry marks seqs the hub committed but never published.
``{prefix}:sticky:<template pattern>``
    Hash room → envelope: the latest value of every state room of a template.
``{prefix}:sticky_seq``
    Hash room → seq of that sticky value, so a stale write never moves a room
    backwards without decoding envelopes inside Lua.
``{prefix}:log:<room>``
    A log room's last ``replay_window`` publications, IDs ``<seq>-0``.
``{prefix}:log_trimmed``
    Hash room → the last seq trimmed out of that room's log (seqs are sparse
    per room, so only this tells whether a resume point is still covered).
``{prefix}:top``
    ``<seq>:<epoch>`` of the last publication.
``{prefix}:meta``
    ``run`` (random, created with the first write of a run: a Redis that lost
    its data gets a new one, like centrifuge's epoch), ``origin`` (the seq the
    run started after), ``floor`` (no history before this seq: the origin, or
    a later gap), ``trimmed`` (``pubs`` may have lost entries up to here),
    ``retired`` (the last seq of any log room retired: a room without a log
    stream has no history before it).

Rooms of growing families (tasks, commands) are retired once quiet
(:meth:`RedisStreamsBus.retire`): their sticky value, sticky seq, log stream
and trim mark are deleted, so every key and hash field above is bounded by
the live site; ``pubs`` by ``stream_keep``. A retired state room's value is
read from ``archive`` (the database).

Commands have keys of their own under the same prefix (the
``{prefix}:commands`` stream and the replies, :mod:`fleetcore.bus.commands_redis`);
nothing here assumes ``pubs`` is the only stream under the prefix.

Redis must run with ``maxmemory-policy noeviction``: an evicted key would be
an undetectable loss. Redis ≥ 6.2 (exclusive XRANGE, XTRIM MINID).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import secrets
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError, ResponseError

from fleetcore.aio import cancel_and_wait
from fleetcore.backoff import Backoff
from fleetcore.bus import _redis_scripts as scripts
from fleetcore.bus._listeners import Listeners
from fleetcore.bus.base import Archive, Bus, PublicationHandler, ResyncHandler
from fleetcore.contract.envelope import Publication, StreamPosition
from fleetcore.contract.rooms import RoomKind, RoomTemplate, match_room
from fleetcore.errors import BusError, UnrecoverablePosition
from fleetcore.log import bus_logger
from fleetcore.outage import Outage
from fleetcore.settings import DEFAULTS, Settings

MIN_REDIS_VERSION = (6, 2)
RESTORE_CHUNK = 1000
"""Rooms per restore or retire script call: bounds how long one call blocks Redis."""


@contextlib.contextmanager
def _mapped(action: str) -> Iterator[None]:
    """The one place redis exceptions become fleethub's."""
    try:
        yield
    except ResponseError as exc:
        raise BusError(f"{action} refused by Redis: {exc}") from exc
    except RedisError as exc:
        raise BusError(f"{action} failed: {exc}") from exc


def _top(raw: bytes | None) -> StreamPosition:
    if raw is None:
        return StreamPosition(0, 0)
    seq, epoch = raw.split(b":")
    return StreamPosition(int(seq), int(epoch))


def _seq_of(entry_id: bytes) -> int:
    return int(entry_id.split(b"-", 1)[0])


class RedisStreamsBus:
    """:class:`~fleetcore.bus.base.Bus` on Redis Streams; see the module docstring for keys.

    :param url: ``redis://`` URL.
    :param prefix: namespace of every key.
    :param replay_window: publications kept per log room for ``history``.
    :param stream_keep: publications kept (roughly) in the global stream; a
        reader that falls further behind is told to resync.
    :param block_ms: how long one blocking read waits for new entries.
    :param read_count: most entries taken per read (a tail's delivery batch).
    :param backoff_initial: first wait after a failed read; grows on each
        further failure up to ``backoff_max`` (:class:`~fleetcore.backoff.Backoff`).
    :param archive: where ``sticky`` reads a retired room's value; None: nowhere.
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = DEFAULTS.redis_prefix,
        replay_window: int = DEFAULTS.replay_window,
        stream_keep: int = DEFAULTS.redis_stream_keep,
        block_ms: int = 1000,
        read_count: int = 500,
        backoff_initial: float = 0.05,
        backoff_max: float = 2.0,
        archive: Archive | None = None,
    ) -> None:
        if replay_window < 1 or read_count < 1 or block_ms < 1:
            raise BusError("replay_window, read_count and block_ms must be positive")
        if read_count >= stream_keep:
            raise BusError(
                "read_count must be below stream_keep: a reader trimmed past reads full batches"
            )
        self._prefix = prefix
        self._archive = archive
        self._window = replay_window
        self._keep = stream_keep
        self._block_ms = block_ms
        self._count = read_count
        self._backoff = Backoff(backoff_initial, backoff_max)
        self.client_name = f"fleethub-bus-{os.getpid()}-{secrets.token_hex(4)}"
        """Names this bus's connections in ``CLIENT LIST``: ``<name>:cmd`` and ``<name>:tail``."""
        self._redis = Redis.from_url(url, client_name=f"{self.client_name}:cmd")
        # The tail handles its own reconnects (it must check continuity after
        # each), so redis-py's transparent retries are off on its connection.
        self._tail_redis = Redis.from_url(
            url,
            client_name=f"{self.client_name}:tail",
            single_connection_client=True,
            socket_timeout=block_ms / 1000 + 5.0,
            retry=Retry(NoBackoff(), 0),
        )
        self._publish_script = self._redis.register_script(scripts.PUBLISH)
        self._restore_sticky_script = self._redis.register_script(scripts.RESTORE_STICKY)
        self._restore_top_script = self._redis.register_script(scripts.RESTORE_TOP)
        self._history_script = self._redis.register_script(scripts.HISTORY)
        self._retire_script = self._redis.register_script(scripts.RETIRE)
        self._listeners = Listeners()
        self._tail: asyncio.Task[None] | None = None
        self._from_top = False
        """Set when a tail stopped for want of listeners: the next starts at the top."""
        self._positioned: asyncio.Event | None = None
        """Set once a restarted tail has read the top (:meth:`listening` waits for it)."""
        self._started = False
        self._closing = False
        self._last_seq = 0
        self._run: bytes | None = None
        k = prefix + ":"
        self._pubs, self._meta, self._top_key = k + "pubs", k + "meta", k + "top"
        self._sticky_seq, self._log_trimmed = k + "sticky_seq", k + "log_trimmed"

    @classmethod
    def from_settings(cls, settings: Settings, **tunables: Any) -> RedisStreamsBus:
        """The bus a process builds from its settings; ``tunables`` override constructor defaults."""
        options: dict[str, Any] = {
            "prefix": settings.redis_prefix,
            "replay_window": settings.replay_window,
            "stream_keep": settings.redis_stream_keep,
            **tunables,
        }
        return cls(settings.redis_url, **options)

    def _sticky_key(self, template: RoomTemplate) -> str:
        return f"{self._prefix}:sticky:{template.pattern}"

    def _log_key(self, room: str) -> str:
        return f"{self._prefix}:log:{room}"

    async def start(self) -> None:
        """Check the server, fix the tail's starting point at "now", tail if anyone listens.

        Raises :class:`BusError` when Redis is unreachable: a process should
        not report itself started without its bus.
        """
        if self._started:
            return
        with _mapped("connecting to Redis"):
            info = await self._redis.info("server")
            version = tuple(int(p) for p in str(info["redis_version"]).split(".")[:2])
            if version < MIN_REDIS_VERSION:
                raise BusError(f"the Redis bus needs Redis >= 6.2, the server runs {version}")
            pipe = self._redis.pipeline(transaction=True)
            pipe.get(self._top_key)
            pipe.hget(self._meta, "run")
            top, run = await pipe.execute()
        self._last_seq = _top(top).seq
        self._run = run
        self._started = True
        if self._listeners.any():
            self._start_tail()

    def _start_tail(self) -> None:
        """Tail only while someone listens: the hub publishes and need not read, an API
        process reads only while it has subscriptions. A tail that stopped restarts at the
        top: what was published while nobody listened was for nobody."""
        if self._tail is None and self._started and not self._closing:
            if self._from_top:
                self._from_top = False
                self._positioned = asyncio.Event()
            self._tail = asyncio.create_task(self._follow(), name=f"bus-tail-{self._prefix}")
            self._tail.add_done_callback(_log_tail_exit)

    async def listening(self) -> None:
        positioned = self._positioned
        if positioned is not None:
            await positioned.wait()

    async def publish(self, batch: Sequence[Publication]) -> None:
        """Apply ``batch`` in one script call; refuses seq/epoch not after the top.

        An exact retry of the last applied batch (same last seq, same bytes) is
        accepted without effect, so a caller may retry after a lost reply.
        """
        if not batch:
            return
        for before, after in itertools.pairwise(batch):
            if after.seq <= before.seq:
                raise BusError(f"batch not in ascending seq: {before.seq} then {after.seq}")
        keys = [self._pubs, self._meta, self._top_key, self._sticky_seq, self._log_trimmed]
        args: list[Any] = [self._keep, self._window, secrets.token_hex(8)]
        for pub in batch:
            match = match_room(pub.room)
            if match.kind is RoomKind.STATE:
                keys.append(self._sticky_key(match.template))
                kind = "s"
            else:
                keys.append(self._log_key(pub.room))
                kind = "l"
            args += (kind, pub.seq, pub.epoch, pub.room, pub.envelope_json())
        run = secrets.token_hex(8)
        args[2] = run
        with _mapped(f"publishing seq {batch[0].seq}..{batch[-1].seq}"):
            result = await self._publish_script(keys, args)
        created = isinstance(result, list) and int(result[1]) == 1
        if created and self._run is not None and self._run != run.encode():
            # The publisher sees a reset first: tell this process's resync
            # listeners (the hub restores sticky values from its database).
            known, self._run = self._run, run.encode()
            await self._resync(
                f"the bus was reset (run {known!r} is now {self._run!r}): Redis lost its data"
            )
        elif created:
            self._run = run.encode()

    async def restore(self, sticky: Sequence[Publication], top: StreamPosition) -> None:
        """Write sticky values newer than Redis holds, then the top (never rewound).

        Sticky values go first, in chunks, so a reader may briefly see a value
        newer than :meth:`position`, never the reverse. When Redis is behind
        ``top`` (the hub stopped between commit and publish), the lost seqs
        become unrecoverable and tailing readers are told to resync.
        """
        with _mapped("restoring the bus"):
            for start in range(0, len(sticky), RESTORE_CHUNK):
                chunk = sticky[start : start + RESTORE_CHUNK]
                keys = [self._sticky_seq]
                args: list[Any] = []
                for pub in chunk:
                    keys.append(self._sticky_key(match_room(pub.room).template))
                    args += (pub.seq, pub.room, pub.envelope_json())
                await self._restore_sticky_script(keys, args)
            await self._restore_top_script(
                [self._pubs, self._meta, self._top_key],
                [top.seq, top.epoch, secrets.token_hex(8)],
            )

    def add_listener(self, handler: PublicationHandler) -> None:
        """Deliver every publication after :meth:`start` (not merely after this call)."""
        self._listeners.add(handler)
        self._start_tail()

    def remove_listener(self, handler: PublicationHandler) -> None:
        self._listeners.remove(handler)

    def add_resync_listener(self, handler: ResyncHandler) -> None:
        self._listeners.add_resync(handler)
        self._start_tail()

    def remove_resync_listener(self, handler: ResyncHandler) -> None:
        self._listeners.remove_resync(handler)

    async def retire(self, rooms: Mapping[str, int]) -> None:
        """Retire ``rooms`` in chunks, each one script call (see the RETIRE script)."""
        items = list(rooms.items())
        with _mapped("retiring rooms"):
            for start in range(0, len(items), RESTORE_CHUNK):
                keys = [self._sticky_seq, self._log_trimmed, self._meta]
                args: list[Any] = []
                for room, through in items[start : start + RESTORE_CHUNK]:
                    match = match_room(room)
                    if match.kind is RoomKind.STATE:
                        keys.append(self._sticky_key(match.template))
                        args += ("s", match.room, through)
                    else:
                        keys.append(self._log_key(match.room))
                        args += ("l", match.room, through)
                await self._retire_script(keys, args)

    async def sticky(self, room: str) -> Publication | None:
        match = match_room(room)
        with _mapped(f"reading the sticky value of {room}"):
            raw = await self._redis.hget(self._sticky_key(match.template), match.room)
        if raw is None and self._archive is not None and match.template.retires:
            return await self._archive(match.room)
        return None if raw is None else Publication.from_envelope_json(raw)

    async def sticky_all(self, template: RoomTemplate) -> list[Publication]:
        with _mapped(f"reading the sticky values of {template.pattern}"):
            values = await self._redis.hvals(self._sticky_key(template))
        return sorted((Publication.from_envelope_json(raw) for raw in values), key=_by_seq)

    async def history(self, room: str, since: int) -> list[Publication]:
        with _mapped(f"reading the history of {room}"):
            floor, trimmed, entries = await self._history_script(
                [self._log_key(room), self._meta, self._log_trimmed], [since, room]
            )
        if floor < 0:
            if since > 0:
                raise UnrecoverablePosition(
                    f"{room}: the bus holds no history (Redis lost it, or no hub ran yet)"
                )
            return []
        if since < floor:
            raise UnrecoverablePosition(f"{room}: seq {since} predates this bus (from {floor})")
        if since < trimmed:
            raise UnrecoverablePosition(f"{room}: publications up to seq {trimmed} left the window")
        return [Publication.from_envelope_json(fields[1]) for _, fields in entries]

    async def position(self) -> StreamPosition:
        with _mapped("reading the bus position"):
            raw: Any = await self._redis.get(self._top_key)
        return _top(raw)

    async def aclose(self) -> None:
        self._closing = True
        if self._positioned is not None:
            self._positioned.set()  # nobody waits for a tail that will not come
        if self._tail is not None:
            # redis-py can absorb a cancellation that lands between a reply
            # and its caller: cancel_and_wait cancels again, and the flag ends
            # the tail after its current read, within ``block_ms``.
            await cancel_and_wait(self._tail)
            self._tail = None
        self._listeners.clear()
        await self._tail_redis.aclose()
        await self._redis.aclose()

    async def _follow(self) -> None:
        """Tail ``pubs`` while anyone listens: read, check continuity, deliver; back off on failures.

        Continuity (the run, the trim mark) is read from ``meta`` right after
        a read and before its entries are delivered, whenever a gap could
        have opened since the last check: after (re)connecting (Redis may
        have restarted empty), after a full read (the reader lags, and only a
        reader more than ``stream_keep`` behind, hence reading full batches,
        can be trimmed past), after an idle read, and at least every
        ``block_ms``. The last bound only matters for keys deleted behind a
        running Redis's back under constant load: that reset is reported
        within ``block_ms``, possibly after a few entries of the new run.
        Checking after every read instead costs a second round trip per read,
        which at 1,000 publications/s tripled the median latency.
        """
        check_due = True
        checked_at = 0.0
        # Every Redis error of the tail is expected: a lost connection, or keys deleted under it.
        outage = Outage(
            bus_logger,
            f"bus {self._prefix}: reading the stream",
            expected=lambda exc: isinstance(exc, RedisError),
        )
        while not self._closing:
            if not self._listeners.any():
                if await self._hang_up():
                    return
                continue
            try:
                if self._positioned is not None and not self._positioned.is_set():
                    await self._read_top()
                    self._positioned.set()
                after = self._last_seq
                streams: Any = await self._tail_redis.xread(
                    {self._pubs: f"{after}-0"}, count=self._count, block=self._block_ms
                )
                entries = streams[0][1] if streams else []
                now = time.monotonic()
                if (
                    check_due
                    or len(entries) in (0, self._count)
                    or now - checked_at > self._block_ms / 1000
                ):
                    meta: Any = await self._tail_redis.hmget(
                        self._meta, ["run", "origin", "trimmed"]
                    )
                    run, origin, trimmed = meta
                    check_due, checked_at = False, now
                    await self._check_continuity(after, run, int(origin or 0), int(trimmed or 0))
            except RedisError as exc:
                if self._closing:
                    return
                outage.failed(exc)
                delay = self._backoff.next()
                check_due = True
                await asyncio.sleep(delay)
                continue
            outage.recovered()
            self._backoff.reset()
            await self._deliver(entries)

    async def _hang_up(self) -> bool:
        """Nobody listens any more: close the tail's connection and end, unless someone
        came back meanwhile (then the tail goes on where it was, missing nothing)."""
        with contextlib.suppress(RedisError):
            await self._tail_redis.aclose()
        if self._listeners.any() or self._closing:
            return False
        self._tail, self._from_top = None, True
        return True

    async def _read_top(self) -> None:
        """Start at the top, in the run there is now, as :meth:`start` does."""
        top: Any = await self._tail_redis.get(self._top_key)
        run: Any = await self._tail_redis.hget(self._meta, "run")
        self._run, self._last_seq = run, _top(top).seq

    async def _check_continuity(
        self, after: int, run: bytes | None, origin: int, trimmed: int
    ) -> None:
        if run != self._run:
            known, self._run = self._run, run
            # A reader that started (or resynced) before any run existed joins
            # the first one silently when that run began where the reader is.
            if known is None and run is not None and origin <= after:
                return
            await self._resync(
                f"the bus was reset (run {known!r} is now {run!r}): Redis lost its data"
            )
        elif trimmed > after:
            await self._resync(
                f"publications after seq {after} were trimmed before this reader got them"
            )

    async def _deliver(self, entries: Sequence[tuple[bytes, dict[bytes, bytes]]]) -> None:
        pending: list[Publication] = []
        for entry_id, fields in entries:
            self._last_seq = _seq_of(entry_id)
            envelope = fields.get(b"e")
            if envelope is not None:
                if self._listeners:
                    pending.append(Publication.from_envelope_json(envelope))
                continue
            await self._emit(pending)
            pending = []
            await self._resync(
                f"publications after seq {int(fields[b'gap'])} up to {self._last_seq} "
                "were committed by the hub but never reached the bus"
            )
        await self._emit(pending)

    async def _emit(self, batch: list[Publication]) -> None:
        if batch:
            await self._listeners.emit(batch)

    async def _resync(self, reason: str) -> None:
        bus_logger.warning("bus %s: continuity lost: %s", self._prefix, reason)
        await self._listeners.resync(reason)


def _log_tail_exit(task: asyncio.Task[None]) -> None:
    """A tail that dies silently would leave its readers frozen, so say so loudly."""
    if not task.cancelled() and task.exception() is not None:
        bus_logger.error("bus tail stopped", exc_info=task.exception())


def _by_seq(pub: Publication) -> int:
    return pub.seq


_: type[Bus] = RedisStreamsBus
