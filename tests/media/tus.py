"""A small tus 1.0 client for the tests: create, ask the offset, append, and drop a link midway."""

from __future__ import annotations

import asyncio
import base64
import io
import random
from typing import Any

import aiohttp
from PIL import Image

from fleetcore.aio import cancel_all

TUS = {"Tus-Resumable": "1.0.0"}
TAKEN = 1 << 20
"""What the server must have written of a PATCH before the test drops its connection."""


def metadata(**values: str) -> str:
    return ",".join(
        f"{key} {base64.b64encode(value.encode()).decode()}" for key, value in values.items()
    )


def jpeg(size: int, seed: int = 0) -> bytes:
    """A real JPEG of at least ``size`` bytes (noise compresses badly, so it is big)."""
    side = 64
    while True:
        image = Image.frombytes("RGB", (side, side), _noise(side * side * 3, seed))
        out = io.BytesIO()
        image.save(out, "JPEG", quality=95)
        if out.tell() >= size:
            return out.getvalue()
        side *= 2


def _noise(length: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(length)


class TusClient:
    def __init__(self, session: aiohttp.ClientSession, base: str, token: str | None = None) -> None:
        self.session = session
        self.base = base.rstrip("/")
        self.auth = {"Authorization": f"Bearer {token}"} if token else {}

    async def create(self, length: int, **meta: str) -> tuple[int, str, dict[str, Any]]:
        """(status, upload URL, body when refused)."""
        headers = {
            **TUS,
            **self.auth,
            "Upload-Length": str(length),
            "Upload-Metadata": metadata(**meta),
        }
        async with self.session.post(self.base + "/media/uploads", headers=headers) as response:
            body = await response.json() if response.status >= 400 else {}
            return response.status, self.base + response.headers.get("Location", ""), body

    async def offset(self, url: str) -> int:
        async with self.session.head(url, headers={**TUS, **self.auth}) as response:
            assert response.status == 200, response.status
            return int(response.headers["Upload-Offset"])

    async def patch(
        self, url: str, offset: int, body: bytes, **extra: str
    ) -> aiohttp.ClientResponse:
        headers = {
            **TUS,
            **self.auth,
            "Upload-Offset": str(offset),
            "Content-Type": "application/offset+octet-stream",
            **extra,
        }
        async with self.session.patch(url, data=io.BytesIO(body), headers=headers) as response:
            await response.read()
            return response

    async def resume(self, url: str, data: bytes) -> aiohttp.ClientResponse:
        """Send the rest from the server's offset, as a tus client does after a drop."""
        for _ in range(20):
            offset = await self.offset(url)
            response = await self.patch(url, offset, data[offset:])
            if response.status != 409:
                return response
        raise AssertionError("the offset kept moving")

    async def drop_midway(self, url: str, data: bytes, sent: int) -> int:
        """PATCH the rest but close the connection after ``sent`` bytes, once the server has
        written at least :data:`TAKEN` of them; the offset that PATCH started from.

        A PATCH whose offset was stale (the previous dropped one was still being written) is
        answered 409 at once: then it asks the offset again and retries.
        """
        host, _, port = self.base.removeprefix("http://").partition(":")
        path = url.removeprefix(self.base)
        auth = "".join(f"{k}: {v}\r\n" for k, v in self.auth.items())
        for _ in range(20):
            start = await self.offset(url)
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(
                (
                    f"PATCH {path} HTTP/1.1\r\nHost: {host}\r\nTus-Resumable: 1.0.0\r\n{auth}"
                    f"Upload-Offset: {start}\r\nContent-Type: application/offset+octet-stream\r\n"
                    f"Content-Length: {len(data) - start}\r\n\r\n"
                ).encode()
                + data[start : start + sent]
            )
            taken = asyncio.create_task(self._grown(url, start + TAKEN))
            answered = asyncio.create_task(reader.read(1))
            done, _ = await asyncio.wait({taken, answered}, return_when=asyncio.FIRST_COMPLETED)
            await cancel_all([taken, answered])
            writer.close()
            await writer.wait_closed()
            if taken in done:
                return start
        raise AssertionError("every PATCH was refused")

    async def _grown(self, url: str, offset: int) -> None:
        while await self.offset(url) < offset:
            await asyncio.sleep(0.01)
