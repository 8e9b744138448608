"""The embedded hub the property tests drive, and its clients: a site, HTTP and socket.io."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from tests.helpers import IngestClient, Subscriber


@pytest.fixture
def base(embedded: TestServer) -> str:
    return str(embedded.make_url("")).rstrip("/")


@pytest.fixture
async def site(base: str) -> AsyncIterator[IngestClient]:
    async with IngestClient(base) as client:
        yield client


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def subscriber(base: str) -> AsyncIterator[Subscriber]:
    client = await Subscriber().connect(base)
    try:
        yield client
    finally:
        await client.close()
