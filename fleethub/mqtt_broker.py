"""The MQTT broker ``fleethub up`` embeds when no ``FLEETHUB_MQTT_URL`` names a real one.

amqtt (MQTT 3.1.1, pure Python, asyncio) runs in the process, on a listener
fleethub opens itself (``asyncio.start_server``) so a free port can be
chosen and read back. It accepts anonymous clients on the loopback address
it is given: a demo broker. A site with real vehicles runs Mosquitto (or its
vendor's broker) with the ACL in the README and sets ``FLEETHUB_MQTT_URL``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from amqtt.adapters import StreamReaderAdapter, StreamWriterAdapter
from amqtt.broker import Broker

LISTENER = "default"


@contextlib.asynccontextmanager
async def embedded_broker(host: str, port: int = 0) -> AsyncIterator[str]:
    """Run a broker on ``host:port`` (0: a free port); yields its ``mqtt://`` URL."""
    for name in ("amqtt", "transitions"):
        # amqtt logs every connection at INFO; fleethub's own lines say what matters.
        logging.getLogger(name).setLevel(logging.WARNING)
    broker = Broker(
        {
            "listeners": {LISTENER: {"type": "external", "bind": f"{host}:{port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }
    )
    await broker.start()

    async def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await broker.external_connected(
            StreamReaderAdapter(reader), StreamWriterAdapter(writer), LISTENER
        )

    server = await asyncio.start_server(connected, host, port)
    bound = server.sockets[0].getsockname()[1]
    try:
        yield f"mqtt://{host}:{bound}"
    finally:
        server.close()
        await broker.shutdown()
        await server.wait_closed()
