"""A site's link to the hub: one reconnecting, acknowledged websocket client to ``/_internal``.

Every site process speaks to the hub through this client: the simulator
(``fleethub sim``), the site bridge (``fleethub bridge``) and any other
master control that is a site, so all of them reconnect, re-send and redact
alike. It speaks the acknowledged link of :mod:`fleetcore.contract.site_link`:

- ``send(frame, durable=True)`` (log entries, answers to commands): the
  frame is numbered and kept until the hub acknowledges it, which it does
  once the frame is durable; it is sent again after every reconnect, and the
  hub drops a copy it stored already, even after a failover. So it is stored
  exactly once, while this process lives and ``max_backlog`` frames are not
  outstanding (beyond, the oldest is dropped and counted).
- ``send(frame)`` (states): sent while connected, dropped otherwise; the
  next state, or the full state sent on every connect, replaces it.
- A silent hub (hung, frozen, cut off) is noticed within ``1.5 x
  heartbeat_s``: the client pings it after ``heartbeat_s`` without a word
  and reconnects unless it answers within half of that. Behind a load
  balancer, the new connection reaches the hub that leads by then, so a hung
  leader costs about its lease, not the length of the hang.
- On every connect it says ``hello`` (its session, and what it serves: the
  hub routes commands by it), waits for the ``welcome``, sends the full state
  the caller provides (``on_connect``), as RMF's ``BroadcastClient`` does,
  then every frame not acknowledged, then new frames in order.

Everything the hub sends back is read: acks; rejections (``{"error": ...}``)
are counted and logged as warnings; anything else goes to ``on_message``
(the hub's commands). The site token travels in the URL's query; no log
line ever carries it.

It reconnects for ever with backoff (``backoff_initial_s`` growing to
``backoff_max_s``, :class:`~fleetcore.backoff.Backoff`). An unexpected error, here or in a callback, is logged
at ERROR with its traceback at once and the connection is started again:
:meth:`SiteClient.run` ends only when cancelled.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import orjson

from fleetcore.aio import cancel_all
from fleetcore.backoff import Backoff
from fleetcore.contract.site_link import (
    ACK,
    HELLO_QUERY,
    WELCOME,
    Serves,
    hello_frame,
    number_frame,
)
from fleetcore.errors import ConfigError
from fleetcore.log import loggable_url

site_logger = logging.getLogger("fleethub.site")
"""The default logger; the simulator and the bridge pass their own."""

MessageHandler = Callable[[dict[str, Any]], Awaitable[None] | None]
"""What a site does with a frame the hub sent it (a command), awaited if it is a coroutine."""


@dataclass(slots=True)
class SiteClientStats:
    sent: int = 0
    resent: int = 0
    """Durable frames sent again after a reconnect because the hub had not acknowledged them."""
    acked: int = 0
    """Durable frames the hub acknowledged."""
    rejected: int = 0
    """Frames the hub answered with ``{"error": ...}``."""
    rejections: dict[str, int] = field(default_factory=dict)
    dropped: int = 0
    """Frames given up: durable ones beyond ``max_backlog``, states while the link lags
    ``max_backlog`` frames behind, and frames larger than the hub takes."""


class SiteClient:
    """Sends frames to the hub over one websocket at a time, reconnecting as needed.

    :param on_connect: the site's full state, sent first on every connect.
    :param on_message: takes each frame the hub sends that is not an ack or a rejection.
    :param serves: what the site performs commands for (see :class:`Serves`); default nothing.
    :param heartbeat_s: silence from the hub after which it is pinged; it is deemed
        gone, and the client reconnects, when it has not answered half of this later.
    """

    def __init__(
        self,
        url: str,
        *,
        on_connect: Callable[[], Iterable[bytes]],
        on_message: MessageHandler | None = None,
        serves: Serves | None = None,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 10.0,
        max_backlog: int = 10_000,
        heartbeat_s: float = 2.0,
        logger: logging.Logger = site_logger,
    ) -> None:
        if not heartbeat_s > 0:
            raise ConfigError(f"the site heartbeat must be positive, not {heartbeat_s} s")
        self.url = url
        self.session = uuid.uuid4().hex
        """Names this client's link to the hub across reconnects and failovers."""
        self.serves = serves or Serves()
        self._on_connect = on_connect
        self.on_message = on_message
        self._backoff = Backoff(backoff_initial_s, backoff_max_s)
        self._max_backlog = max_backlog
        self._heartbeat_s = heartbeat_s
        self._silence_s = heartbeat_s * 1.5
        self._log = logger
        self._numbered = 0
        self._sent_up_to = 0
        self._unacked: deque[tuple[int, bytes]] = deque()
        self._outbox: deque[tuple[int, bytes]] = deque()
        """Frames to write on this connection, with their number (0: unnumbered)."""
        self._max_frame_bytes = 0
        self._overflowing = False
        self._wake = asyncio.Event()
        self._up = asyncio.Event()
        self.connected = False
        self.connections = 0
        """Successful connects so far (a reconnect makes it 2)."""
        self.stats = SiteClientStats()

    @property
    def unacked(self) -> int:
        """Durable frames the hub has not acknowledged yet."""
        return len(self._unacked)

    def send(self, frame: bytes, *, durable: bool = False) -> None:
        """Queue a frame (a JSON object); ``durable`` ones are kept until the hub acknowledges them."""
        if durable:
            self._numbered += 1
            numbered = (self._numbered, number_frame(self._numbered, frame))
            self._keep(numbered)
            if not self.connected:
                return
            self._outbox.append(numbered)
        elif not self.connected:
            return
        elif len(self._outbox) >= self._max_backlog:
            self.stats.dropped += 1
            return
        else:
            self._outbox.append((0, frame))
        self._wake.set()

    async def wait_connected(self) -> None:
        """Until connected and the ``on_connect`` state is sent."""
        await self._up.wait()

    async def run(self) -> None:
        """Connect, serve, reconnect; returns only when cancelled."""
        failures = 0
        timeout = aiohttp.ClientTimeout(sock_connect=self._silence_s, sock_read=self._silence_s)
        link = _saying_hello(self.url)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                try:
                    async with session.ws_connect(link, heartbeat=self._heartbeat_s) as ws:
                        welcomed = await self._serve(ws)
                    if welcomed:
                        self._backoff.reset()
                        failures = 0
                    self._log_close(ws, welcomed)
                except aiohttp.WSServerHandshakeError as exc:
                    # Not the exception itself: its text carries the URL, with the site token.
                    refused = "the hub refused the site token" if exc.status == 401 else exc.message
                    self._log.warning("ingest connection refused (%s %s)", exc.status, refused)
                except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                    failures += 1
                    # A hub starting next to us (``fleethub up``) is often not listening
                    # yet: one miss is routine, a second one is worth a warning.
                    level = logging.INFO if failures == 1 else logging.WARNING
                    self._log.log(level, "hub unreachable at %s: %s", loggable_url(self.url), exc)
                except Exception:
                    self._log.exception("the link to the hub failed; starting it again")
                finally:
                    self._disconnected()
                delay = self._backoff.next()
                self._log.info("reconnecting to the hub in %.1f s", delay)
                await asyncio.sleep(delay)

    def _keep(self, numbered: tuple[int, bytes]) -> None:
        if len(self._unacked) >= self._max_backlog:
            self._unacked.popleft()
            self.stats.dropped += 1
            if not self._overflowing:
                self._overflowing = True
                self._log.warning(
                    "%d frames await the hub's acknowledgement: dropping the oldest",
                    self._max_backlog,
                )
        self._unacked.append(numbered)

    def _disconnected(self) -> None:
        self.connected = False
        self._up.clear()
        self._outbox.clear()

    def _log_close(self, ws: aiohttp.ClientWebSocketResponse, welcomed: bool) -> None:
        error = ws.exception()
        if isinstance(error, aiohttp.ServerTimeoutError):
            self._log.warning("the hub went silent (no answer within %.1f s)", self._silence_s)
        elif error is not None:
            self._log.warning("ingest websocket failed: %r", error)
        elif welcomed:
            self._log.warning("hub closed the ingest websocket (code %s)", ws.close_code)
        elif ws.close_code is not None:
            self._log.warning(
                "hub closed the ingest websocket before its welcome (code %s)", ws.close_code
            )

    async def _serve(self, ws: aiohttp.ClientWebSocketResponse) -> bool:
        """Say hello, then send and read until the connection ends; False if the hub never welcomed."""
        await ws.send_str(hello_frame(self.session, self.serves).decode())
        try:
            welcome = await asyncio.wait_for(self._welcome(ws), self._silence_s)
        except TimeoutError:
            self._log.warning("the hub did not answer the hello within %.1f s", self._silence_s)
            return False
        if welcome is None:
            return False
        self._max_frame_bytes = int(welcome.get("max_frame_bytes", 0))
        resend = list(self._unacked)
        self.connected = True
        self.connections += 1
        self._log.info("connected to the hub at %s", loggable_url(self.url))
        for frame in self._on_connect():
            if self._fits(0, frame):
                await ws.send_str(frame.decode())
                self.stats.sent += 1
        self.stats.resent += sum(1 for number, _ in resend if number <= self._sent_up_to)
        self._outbox.extendleft(reversed(resend))
        self._up.set()
        self._wake.set()
        reader = asyncio.create_task(self._read(ws))
        writer = asyncio.create_task(self._write(ws))
        try:
            done, _ = await asyncio.wait({reader, writer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            await cancel_all((reader, writer))
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                self._log.warning("ingest websocket failed: %r", task.exception())
        return True

    async def _welcome(self, ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any] | None:
        """The hub's welcome; None if it refused the hello or closed. Commands before it are taken."""
        async for msg in ws:
            if msg.type is not aiohttp.WSMsgType.TEXT:
                break
            doc = _parse(msg.data)
            if isinstance(doc, dict) and doc.get("type") == WELCOME:
                data = doc.get("data")
                return data if isinstance(data, dict) else {}
            if isinstance(doc, dict) and "error" in doc:
                self._log.warning(
                    "the hub refused the hello: %s (%s)", doc["error"], doc.get("detail")
                )
                return None
            await self._handle(msg.data)
        return None

    def _fits(self, number: int, frame: bytes) -> bool:
        """Whether the hub can ever take ``frame``; one it cannot is dropped for good, loudly."""
        if not self._max_frame_bytes or len(frame) <= self._max_frame_bytes:
            return True
        self.stats.dropped += 1
        self._log.error(
            "dropped a frame of %d bytes: the hub takes at most %d (%.100s)",
            len(frame),
            self._max_frame_bytes,
            frame,
        )
        if number:
            self._unacked = deque(kept for kept in self._unacked if kept[0] != number)
        return False

    async def _write(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        while not ws.closed:
            await self._wake.wait()
            self._wake.clear()
            while self._outbox:
                number, frame = self._outbox.popleft()
                if not self._fits(number, frame):
                    continue
                await ws.send_str(frame.decode())
                self.stats.sent += 1
                self._sent_up_to = max(self._sent_up_to, number)

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type is aiohttp.WSMsgType.TEXT:
                await self._handle(msg.data)
            elif msg.type is aiohttp.WSMsgType.ERROR:
                return
            else:
                self._log.warning("unexpected %s frame from the hub", msg.type.name)

    async def _handle(self, text: str) -> None:
        doc = _parse(text)
        if not isinstance(doc, dict):
            self._log.warning("hub sent a frame that is not a JSON object: %.200s", text)
        elif doc.get("type") == ACK:
            self._acknowledged(doc.get("data"))
        elif "error" in doc:
            reason = str(doc["error"])
            self.stats.rejected += 1
            self.stats.rejections[reason] = self.stats.rejections.get(reason, 0) + 1
            frame = f" frame {doc['n']}" if "n" in doc else " a frame"
            self._log.warning("hub rejected%s: %s (%s)", frame, reason, doc.get("detail", ""))
        elif self.on_message is not None:
            try:
                handled = self.on_message(doc)
                if inspect.isawaitable(handled):
                    await handled
            except Exception:
                self._log.exception("handling a frame from the hub failed: %.200s", text)
        else:
            self._log.info("hub sent %.200s", text)

    def _acknowledged(self, data: Any) -> None:
        number = data.get("n") if isinstance(data, dict) else None
        if not isinstance(number, int):
            self._log.warning("hub sent an ack without a frame number: %.200r", data)
            return
        while self._unacked and self._unacked[0][0] <= number:
            self._unacked.popleft()
            self.stats.acked += 1
        if self._overflowing and len(self._unacked) < self._max_backlog:
            self._overflowing = False
            self._log.info("the hub caught up: %d frames await acknowledgement", self.unacked)


def _parse(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return None


def _saying_hello(url: str) -> str:
    """The URL with ``?hello=1``: the hub holds commands until the hello says what this site serves."""
    parts = urlsplit(url)
    query = "&".join(part for part in (parts.query, f"{HELLO_QUERY}=1") if part)
    return urlunsplit(parts._replace(query=query))
