"""Acknowledged ingest end to end: a SiteClient and the real hub, through a forwarder that can hang.

The forwarder stands for the network: :meth:`Forwarder.blackhole` makes the
open connection swallow bytes, as a hub that hangs (or a cut link) does, so
frames are written and never arrive, or stored and never acknowledged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import WSMsgType
from aiohttp.test_utils import TestServer
from prometheus_client import REGISTRY

from fleetcore.aio import cancel_and_wait
from fleetcore.contract.commands import CommandKind
from fleetcore.contract.ingest import IngestType, encode, ingest_url
from fleetcore.contract.site_link import REPLACED, Serves, hello_frame, number_frame
from fleetcore.settings import Settings
from fleetcore.site_client import SiteClient
from fleetcore.store import models
from tests.conftest import eventually, start_embedded
from tests.forwarder import Forwarder, Target
from tests.helpers import TEST_SITE_TOKEN, IngestClient, running_site

HEARTBEAT_S = 0.3
"""Short, so a silent hub is left within half a second."""
TASK = "acked-task"


def log_frame(entry: int, task_id: str = TASK) -> bytes:
    line = {"seq": entry, "tier": "info", "unix_millis_time": 1, "text": f"entry {entry}"}
    return encode(IngestType.TASK_LOG, {"task_id": task_id, "log": [line]})


async def stored_entries(task_id: str = TASK) -> list[int]:
    rows = await models.TaskLogEntry.filter(task_id=task_id).values_list("log_seq", flat=True)
    return sorted(int(row) for row in rows)  # type: ignore[call-overload]


async def stored_count(expected: int, task_id: str = TASK) -> bool:
    return len(await stored_entries(task_id)) == expected


def duplicates() -> float:
    return REGISTRY.get_sample_value("fleethub_ingest_duplicates_total") or 0.0


def site_client(forwarder: Forwarder, **options: Any) -> SiteClient:
    return SiteClient(
        ingest_url(f"http://127.0.0.1:{forwarder.port}", TEST_SITE_TOKEN),
        on_connect=list,
        backoff_initial_s=0.05,
        heartbeat_s=HEARTBEAT_S,
        **options,
    )


def to(server: TestServer) -> Callable[[], Any]:
    async def target() -> Target:
        return ("127.0.0.1", server.port or 0)

    return target


@pytest.fixture
async def forwarder(embedded: TestServer) -> AsyncIterator[Forwarder]:
    async with Forwarder(to(embedded)) as running_forwarder:
        yield running_forwarder


async def test_durable_frames_are_acknowledged_once_stored(forwarder: Forwarder) -> None:
    async with running_site(site_client(forwarder)) as client:
        for entry in range(20):
            client.send(log_frame(entry), durable=True)
        await eventually(lambda: client.unacked == 0)
        assert await stored_entries() == list(range(20)), "acked means stored"
        assert client.stats.acked == 20


async def test_frames_lost_on_the_way_to_a_hung_hub_are_sent_again_after_the_reconnect(
    forwarder: Forwarder, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="fleethub.site")
    async with running_site(site_client(forwarder)) as client:
        forwarder.blackhole(to_hub=True, to_site=True)
        for entry in range(10):
            client.send(log_frame(entry), durable=True)
        await eventually(lambda: client.connections == 2 and client.unacked == 0, timeout=10)
        assert await stored_entries() == list(range(10))
        assert client.stats.resent == 10
        assert "the hub went silent" in caplog.text


async def test_frames_stored_but_not_acknowledged_are_not_stored_twice(
    forwarder: Forwarder,
) -> None:
    before = duplicates()
    async with running_site(site_client(forwarder)) as client:
        forwarder.blackhole(to_hub=False, to_site=True)
        for entry in range(10):
            client.send(log_frame(entry), durable=True)
        await eventually(lambda: client.connections == 2 and client.unacked == 0, timeout=10)
        assert client.stats.resent == 10
        assert await stored_entries() == list(range(10))
        assert duplicates() == before + 10


async def test_a_hub_that_takes_over_drops_what_its_predecessor_stored(
    settings: Settings, tmp_path: Path
) -> None:
    """The second hub is a new leadership term on the same database: only the database knows."""

    hub: list[TestServer] = [await start_embedded(settings)]

    async def current() -> Target | None:
        return ("127.0.0.1", hub[0].port or 0) if hub else None

    before = duplicates()
    try:
        async with Forwarder(current) as forwarder, running_site(site_client(forwarder)) as client:
            forwarder.blackhole(to_hub=False, to_site=True)
            for entry in range(10):
                client.send(log_frame(entry), durable=True)
            await eventually(lambda: stored_count(10), timeout=10)
            await hub.pop().close()
            hub.append(await start_embedded(settings))
            await eventually(lambda: client.unacked == 0, timeout=10)
            assert client.connections == 2 and client.stats.resent == 10
            assert await stored_entries() == list(range(10))
            assert duplicates() == before + 10
    finally:
        for server in hub:
            await server.close()


async def test_a_site_without_hello_is_served_as_before(embedded: TestServer) -> None:
    """RMF's BroadcastClient: no acks, a frame that looks numbered is just a frame, no session."""
    async with IngestClient(str(embedded.make_url("")).rstrip("/")) as adapter:
        await adapter.send_raw(number_frame(1, log_frame(0, "legacy")).decode())
        await adapter.send_raw(log_frame(1, "legacy").decode())
        await eventually(lambda: stored_count(2, "legacy"))
        await adapter.send_raw("{")
        assert await adapter.next_reply() == {
            "error": "malformed_json",
            "detail": "unexpected end of data: line 1 column 2 (char 1)",
        }


async def test_a_newer_connection_of_a_session_replaces_the_older(embedded: TestServer) -> None:
    url = ingest_url(str(embedded.make_url("")).rstrip("/"), TEST_SITE_TOKEN)
    hello = hello_frame("one-site", Serves()).decode()
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(url) as older, http.ws_connect(url) as newer:
            await older.send_str(hello)
            assert (await older.receive_json(timeout=5))["type"] == "welcome"
            await newer.send_str(hello)
            assert (await newer.receive_json(timeout=5))["type"] == "welcome"
            closed = await older.receive(timeout=5)
            assert closed.type is WSMsgType.CLOSE and closed.data == REPLACED


async def test_a_command_answered_while_the_hub_hangs_is_recorded_after_the_reconnect(
    forwarder: Forwarder, embedded: TestServer
) -> None:
    answers: list[str] = []

    def perform(doc: dict[str, Any]) -> None:
        """Answer each command as RMF would, but the link hangs just as the answer leaves."""
        if doc.get("type") != "command":
            return
        forwarder.blackhole(to_hub=True, to_site=True)
        answers.append(doc["data"]["request_id"])
        answer = {"request_id": doc["data"]["request_id"], "success": True, "state": {}}
        client.send(orjson.dumps({"type": "command_response", "data": answer}), durable=True)

    serves = Serves(commands=(CommandKind.DOOR_REQUEST,), doors=("door_1",))
    client = site_client(forwarder, on_message=perform, serves=serves)
    async with (
        running_site(client),
        aiohttp.ClientSession(str(embedded.make_url(""))) as http,
    ):
        posting = asyncio.create_task(
            http.post("/doors/door_1/request", json={"mode": 2}, headers={"Idempotency-Key": "k1"})
        )
        await eventually(lambda: client.connections == 2 and client.unacked == 0, timeout=10)
        record = await models.CommandRecord.get(key="k1")
        assert (record.status, answers) == ("done", [record.request_id]), "acked means recorded"
        assert client.stats.resent == 1
        (await posting).close()


async def test_a_hub_refusing_the_hello_is_logged_and_the_site_tries_again(
    embedded: TestServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="fleethub.site")
    client = SiteClient(
        ingest_url(str(embedded.make_url("")).rstrip("/"), TEST_SITE_TOKEN),
        on_connect=list,
        backoff_initial_s=0.05,
        heartbeat_s=HEARTBEAT_S,
    )
    client.session = "not a valid session"
    task = asyncio.create_task(client.run())
    try:
        await eventually(lambda: caplog.text.count("the hub refused the hello") >= 2)
    finally:
        await cancel_and_wait(task)
    assert "data.session" in caplog.text and not client.connected
