"""Real brokers for the VDA 5050 tests: a private Mosquitto, and the broker ``fleethub up`` embeds.

The machine's own Mosquitto (port 1883) is never touched: each test that
needs one starts ``mosquitto`` on a unix socket of its own, and stops it.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import os
import shutil
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiomqtt
import pytest

from fleetcore.mqtt import MqttConfig
from fleethub.mqtt_broker import embedded_broker
from tests.processes import Process


class Mosquitto:
    """A private ``mosquitto`` on a unix socket (no port to pick); ``restart`` keeps the socket."""

    def __init__(self, directory: Path, extra: str = "allow_anonymous true\n") -> None:
        # A unix socket path is limited to about 100 bytes: a short directory of its own.
        self.socket = Path(tempfile.mkdtemp(prefix="mosquitto-")) / "mqtt.sock"
        self.directory = directory
        self.config = directory / "mosquitto.conf"
        # ``user``: started as root, mosquitto would switch to its own user, who cannot read
        # the test's files; as anyone else the line has no effect.
        self.config.write_text(
            f"listener 0 {self.socket}\npersistence false\nuser {getpass.getuser()}\n{extra}"
        )
        self.process: Process | None = None

    @property
    def url(self) -> str:
        return f"mqtt+unix://{self.socket}"

    async def start(self) -> None:
        binary = shutil.which("mosquitto") or "mosquitto"
        self.process = await Process(
            "mosquitto", [binary, "-c", str(self.config)], os.environ, self.directory
        ).start()
        deadline = time.monotonic() + 10
        while True:
            try:
                _, writer = await asyncio.open_unix_connection(str(self.socket))
                writer.close()
                await writer.wait_closed()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"mosquitto did not listen: {self.process.output()}"
                    ) from None
                await asyncio.sleep(0.05)

    async def stop(self) -> None:
        if self.process is not None:
            await self.process.stop()
            self.process = None
        self.socket.unlink(missing_ok=True)

    async def restart(self) -> None:
        await self.stop()
        await self.start()


@pytest.fixture
async def mosquitto(tmp_path: Path) -> AsyncIterator[Mosquitto]:
    if shutil.which("mosquitto") is None:
        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
    broker = Mosquitto(tmp_path)
    await broker.start()
    try:
        yield broker
    finally:
        await broker.stop()


@pytest.fixture(params=["mosquitto", "embedded"])
async def broker_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of a real broker: a private Mosquitto, or the broker ``fleethub up`` embeds."""
    if request.param == "embedded":
        async with embedded_broker("127.0.0.1") as url:
            yield url
        return
    if shutil.which("mosquitto") is None:
        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
    broker = Mosquitto(tmp_path)
    await broker.start()
    try:
        yield broker.url
    finally:
        await broker.stop()


@contextlib.asynccontextmanager
async def running(task: asyncio.Task[None]) -> AsyncIterator[None]:
    from fleetcore.aio import cancel_and_wait

    try:
        yield
    finally:
        await cancel_and_wait(task, grace_s=5.0)


def mqtt_client(url: str, identifier: str) -> aiomqtt.Client:
    """A plain aiomqtt client of a test's own on the broker at ``url`` (TCP or unix socket)."""
    config = MqttConfig.from_url(url)
    return aiomqtt.Client(
        config.host,
        config.port,
        identifier=identifier,
        transport="unix" if config.unix else "tcp",
    )
