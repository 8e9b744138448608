"""A site's link to the hub: one reconnecting websocket client to ``/_internal``.

Every site process speaks to the hub the way RMF's fleet adapters do: the
simulator (``fleethub sim``) and the site bridge (``fleethub bridge``) both
use this client, so both reconnect, re-send and redact alike.

It reconnects forever with backoff (``backoff_initial_s`` growing to
``backoff_max_s``, :class:`~fleetcore.backoff.Backoff`) and, on every
connect, first sends the full state the caller provides (``on_connect``),
as RMF's ``BroadcastClient`` does, because the hub may have restarted and
lost nothing only if the site re-sends.
While disconnected, non-durable frames are dropped (the next state or the
``on_connect`` snapshot replaces them) and durable ones (logs, command
answers) are kept, bounded, since one never sent is lost for good.

Everything the hub sends back is read: rejections (``{"error": ...}``) are
counted and logged as warnings, anything else goes to ``on_message`` (the
hub's commands). The site token travels in the URL's query; no log line
ever carries it.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import orjson

from fleetcore.backoff import Backoff
from fleetcore.tasks import cancel_all

site_logger = logging.getLogger("fleethub.site")
"""The default logger; the simulator and the bridge pass their own."""

MessageHandler = Callable[[dict[str, Any]], Awaitable[None] | None]
"""What a site does with a frame the hub sent it (a command), awaited if it is a coroutine."""


@dataclass(slots=True)
class SiteClientStats:
    sent: int = 0
    rejected: int = 0
    """Frames the hub answered with ``{"error": ...}``."""
    rejections: dict[str, int] = field(default_factory=dict)
    dropped: int = 0
    """Durable frames dropped because the backlog was full while disconnected."""


class SiteClient:
    """Sends frames to the hub over one websocket at a time, reconnecting as needed."""

    def __init__(
        self,
        url: str,
        *,
        on_connect: Callable[[], Iterable[bytes]],
        on_message: MessageHandler | None = None,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 10.0,
        max_backlog: int = 10_000,
        logger: logging.Logger = site_logger,
    ) -> None:
        self.url = url
        self._on_connect = on_connect
        self.on_message = on_message
        self._backoff = Backoff(backoff_initial_s, backoff_max_s)
        self._queue: deque[tuple[bytes, bool]] = deque()
        self._max_backlog = max_backlog
        self._wake = asyncio.Event()
        self._up = asyncio.Event()
        self._log = logger
        self.connected = False
        self.connections = 0
        """Successful connects so far (a reconnect makes it 2)."""
        self.stats = SiteClientStats()

    def send(self, frame: bytes, *, durable: bool = False) -> None:
        """Queue a frame; while disconnected only ``durable`` frames are kept (bounded)."""
        if not self.connected and not durable:
            return
        if len(self._queue) >= self._max_backlog:
            self._queue.popleft()
            self.stats.dropped += 1
        self._queue.append((frame, durable))
        self._wake.set()

    async def wait_connected(self) -> None:
        """Until connected and the ``on_connect`` state is sent."""
        await self._up.wait()

    async def run(self) -> None:
        """Connect, serve, reconnect; returns only when cancelled."""
        failures = 0
        async with aiohttp.ClientSession() as session:
            while True:
                try:
                    async with session.ws_connect(self.url, heartbeat=15.0) as ws:
                        self._backoff.reset()
                        failures = 0
                        await self._serve(ws)
                    self._log.warning("hub closed the ingest websocket (code %s)", ws.close_code)
                except aiohttp.WSServerHandshakeError as exc:
                    # Not the exception itself: its text carries the URL, with the site token.
                    refused = "the hub refused the site token" if exc.status == 401 else exc.message
                    self._log.warning("ingest connection refused (%s %s)", exc.status, refused)
                except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                    failures += 1
                    # A hub starting next to us (``fleethub up``) is often not listening
                    # yet: one miss is routine, a second one is worth a warning.
                    level = logging.INFO if failures == 1 else logging.WARNING
                    self._log.log(level, "hub unreachable at %s: %s", _redact(self.url), exc)
                finally:
                    self._disconnected()
                delay = self._backoff.next()
                self._log.info("reconnecting to the hub in %.1f s", delay)
                await asyncio.sleep(delay)

    def _disconnected(self) -> None:
        self.connected = False
        self._up.clear()
        self._queue = deque(item for item in self._queue if item[1])

    async def _serve(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.connected = True
        self.connections += 1
        self._log.info("connected to the hub at %s", _redact(self.url))
        backlog, self._queue = self._queue, deque()
        for frame in self._on_connect():
            await ws.send_str(frame.decode())
            self.stats.sent += 1
        self._queue.extendleft(reversed(backlog))
        self._up.set()
        reader = asyncio.create_task(self._read(ws))
        writer = asyncio.create_task(self._write(ws))
        try:
            done, _ = await asyncio.wait({reader, writer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            await cancel_all((reader, writer))
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                self._log.warning("ingest websocket failed: %r", task.exception())

    async def _write(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        while not ws.closed:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                frame, durable = self._queue.popleft()
                try:
                    await ws.send_str(frame.decode())
                except Exception:
                    if durable:
                        self._queue.appendleft((frame, durable))
                    raise
                self.stats.sent += 1

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                await self._handle(msg.data)
            elif msg.type == aiohttp.WSMsgType.ERROR:
                self._log.warning("ingest websocket error: %s", ws.exception())
                return
            else:
                self._log.warning("unexpected %s frame from the hub", msg.type.name)

    async def _handle(self, text: str) -> None:
        try:
            doc = orjson.loads(text)
        except orjson.JSONDecodeError:
            self._log.warning("hub sent a frame that is not JSON: %.200s", text)
            return
        if not isinstance(doc, dict):
            self._log.warning("hub sent a frame that is not an object: %.200s", text)
        elif "error" in doc:
            reason = str(doc["error"])
            self.stats.rejected += 1
            self.stats.rejections[reason] = self.stats.rejections.get(reason, 0) + 1
            self._log.warning("hub rejected a frame: %s (%s)", reason, doc.get("detail", ""))
        elif self.on_message is not None:
            handled = self.on_message(doc)
            if inspect.isawaitable(handled):
                await handled
        else:
            self._log.info("hub sent %.200s", text)


def _redact(url: str) -> str:
    """The URL without its query, so the ingest token never reaches a log."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
