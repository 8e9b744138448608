"""One reconnecting MQTT client (aiomqtt), for the VDA 5050 master control and simulated vehicles.

:class:`MqttLink` connects, subscribes, hands every message to ``on_message``
and publishes what it is given, reconnecting forever with backoff
(``backoff_initial_s`` growing to ``backoff_max_s``, :class:`~fleetcore.backoff.Backoff`)
when the broker goes away
or restarts. On every connect it first publishes what ``on_connect``
returns (a vehicle's ``connection ONLINE`` and factsheet) and subscribes
again, since a broker that restarted remembers nothing.

Publishing never blocks the caller: messages are queued and written by one
task. While disconnected they are dropped and counted, on purpose: VDA 5050
messages are state (the next state or order supersedes the last), and what
must arrive is re-sent by its owner until the other side shows it arrived
(the master control re-sends an order update until the vehicle's state
carries its ``orderUpdateId``).

Broker URL: ``mqtt://[user:password@]host[:port]`` (or ``mqtts://`` for TLS,
port 8883 by default), or ``mqtt+unix:///path/to/socket`` for a broker on the
same host listening on a unix socket (Mosquitto's ``listener 0 <path>``);
credentials and client certificates may also come as separate settings. The
password never reaches a log line.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import unquote, urlsplit

import aiomqtt

from fleetcore.aio import cancel_all
from fleetcore.backoff import Backoff
from fleetcore.errors import ConfigError

mqtt_logger = logging.getLogger("fleethub.mqtt")

MessageHandler = Callable[[str, bytes], None]
"""What to do with a message: its topic and payload."""


@dataclass(frozen=True, slots=True)
class Outgoing:
    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False


@dataclass(frozen=True, slots=True)
class MqttConfig:
    """Where the broker is and how to log in; :meth:`from_url` reads the settings' URL."""

    host: str
    """The broker's host name, or the path of its unix socket (``unix``)."""
    port: int
    tls: bool = False
    unix: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: str = ""
    """PEM bundle that verifies the broker; empty: the system's trust store."""
    cert_file: str = ""
    """Client certificate (PEM) for brokers that authenticate clients by certificate."""
    key_file: str = ""
    protocol: Literal["3.1.1", "5"] = "3.1.1"
    keepalive_s: int = 15
    """The spec suggests about 15 s: the broker detects a dead client (and fires its last will)
    after 1.5 keep-alives without a packet."""

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        username: str = "",
        password: str = "",
        ca_file: str = "",
        cert_file: str = "",
        key_file: str = "",
        protocol: str = "3.1.1",
        keepalive_s: int = 15,
    ) -> MqttConfig:
        parts = urlsplit(url)
        unix = parts.scheme == "mqtt+unix"
        if not (unix and parts.path) and (
            parts.scheme not in ("mqtt", "mqtts") or not parts.hostname
        ):
            raise ConfigError(
                "the MQTT URL must be mqtt://host[:port], mqtts://host[:port] or "
                f"mqtt+unix:///socket/path, not {parts.scheme or '(no scheme)'}://"
                f"{parts.hostname or ''}"
            )
        if protocol not in ("3.1.1", "5"):
            raise ConfigError(f"the MQTT protocol must be 3.1.1 or 5, not {protocol!r}")
        if bool(cert_file) != bool(key_file):
            raise ConfigError("an MQTT client certificate needs both its cert and key file")
        tls = parts.scheme == "mqtts"
        try:
            # paho refuses port 0 even where it connects to a unix socket, and ignores it there.
            port = 1883 if unix else parts.port or (8883 if tls else 1883)
        except ValueError as exc:
            raise ConfigError(f"the MQTT URL's port: {exc}") from None
        return cls(
            host=unquote(parts.path) if unix else str(parts.hostname),
            port=port,
            tls=tls,
            unix=unix,
            username=username or (unquote(parts.username) if parts.username else None),
            password=password or (unquote(parts.password) if parts.password else None),
            ca_file=ca_file,
            cert_file=cert_file,
            key_file=key_file,
            protocol="5" if protocol == "5" else "3.1.1",
            keepalive_s=keepalive_s,
        )

    @property
    def display(self) -> str:
        """The broker's address for logs: no credentials."""
        if self.unix:
            return f"mqtt+unix://{self.host}"
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"

    def tls_context(self) -> ssl.SSLContext | None:
        if not self.tls:
            return None
        context = ssl.create_default_context(cafile=self.ca_file or None)
        if self.cert_file:
            context.load_cert_chain(self.cert_file, self.key_file)
        return context


@dataclass(slots=True)
class LinkStats:
    received: int = 0
    published: int = 0
    dropped: int = 0
    """Messages not published because the broker was unreachable (their owner re-sends)."""


class MqttLink:
    """One client identity on one broker, reconnecting as needed; ``await run()`` until cancelled."""

    def __init__(
        self,
        config: MqttConfig,
        *,
        client_id: str,
        subscriptions: Iterable[tuple[str, int]] = (),
        on_message: MessageHandler | None = None,
        on_connect: Callable[[], Iterable[Outgoing]] = tuple,
        will: Outgoing | None = None,
        backoff_initial_s: float = 0.2,
        backoff_max_s: float = 10.0,
        max_queued: int = 10_000,
        logger: logging.Logger = mqtt_logger,
    ) -> None:
        self.config = config
        self.client_id = client_id
        self._subscriptions = list(subscriptions)
        self._on_message = on_message
        self._on_connect = on_connect
        self._will = will
        self._backoff = Backoff(backoff_initial_s, backoff_max_s)
        self._max_queued = max_queued
        self._log = logger
        self._queue: deque[Outgoing] = deque()
        self._wake = asyncio.Event()
        self._up = asyncio.Event()
        self.connections = 0
        """Successful connects so far (a reconnect makes it 2)."""
        self.stats = LinkStats()

    @property
    def connected(self) -> bool:
        return self._up.is_set()

    async def wait_connected(self) -> None:
        """Until connected, subscribed, and the ``on_connect`` messages are sent."""
        await self._up.wait()

    def publish(self, message: Outgoing) -> bool:
        """Queue ``message``; False (and counted) if the broker is unreachable and it was dropped."""
        if not self._up.is_set() or len(self._queue) >= self._max_queued:
            self.stats.dropped += 1
            return False
        self._queue.append(message)
        self._wake.set()
        return True

    async def run(self) -> None:
        """Connect, serve, reconnect; returns only when cancelled."""
        failures = 0
        while True:
            try:
                async with self._client() as client:
                    self._backoff.reset()
                    failures = 0
                    await self._serve(client)
            except aiomqtt.MqttError as exc:
                failures += 1
                # A broker starting beside us is often not listening yet: one miss is
                # routine, more are worth a warning (once per outage, not per retry).
                level = logging.WARNING if failures == 2 else logging.INFO
                self._log.log(level, "MQTT broker %s unreachable: %s", self.config.display, exc)
            finally:
                self._up.clear()
                self._queue.clear()
            await asyncio.sleep(self._backoff.next())

    def _client(self) -> aiomqtt.Client:
        config = self.config
        will = self._will
        return aiomqtt.Client(
            config.host,
            config.port,
            username=config.username,
            password=config.password,
            identifier=self.client_id,
            protocol=aiomqtt.ProtocolVersion.V5
            if config.protocol == "5"
            else aiomqtt.ProtocolVersion.V311,
            will=None
            if will is None
            else aiomqtt.Will(will.topic, will.payload, qos=will.qos, retain=will.retain),
            keepalive=config.keepalive_s,
            tls_context=config.tls_context(),
            timeout=10.0,
            max_queued_incoming_messages=self._max_queued,
            transport="unix" if config.unix else "tcp",
            logger=self._log,
        )

    async def _serve(self, client: aiomqtt.Client) -> None:
        self.connections += 1
        if self._subscriptions:
            await client.subscribe(self._subscriptions)
        for message in self._on_connect():
            await client.publish(
                message.topic, message.payload, qos=message.qos, retain=message.retain
            )
            self.stats.published += 1
        self._up.set()
        self._log.info("connected to MQTT broker %s as %s", self.config.display, self.client_id)
        writer = asyncio.create_task(self._write(client), name=f"mqtt-write-{self.client_id}")
        try:
            async for received in client.messages:
                self.stats.received += 1
                if self._on_message is not None:
                    payload = received.payload
                    self._on_message(
                        received.topic.value,
                        payload if isinstance(payload, bytes) else str(payload).encode(),
                    )
        finally:
            await cancel_all((writer,))

    async def _write(self, client: aiomqtt.Client) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                message = self._queue.popleft()
                await client.publish(
                    message.topic, message.payload, qos=message.qos, retain=message.retain
                )
                self.stats.published += 1
