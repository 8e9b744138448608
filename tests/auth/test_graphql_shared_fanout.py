"""A subscription's update is executed and encoded once per view, and each view stays its own.

Subscribers shown the same update share its execution and its JSON (only the
``next`` message's id is theirs); subscribers of different groups are shown
different updates, so sharing never shows one group another's robots. The
world is tests/auth/conftest.py's: alice reads ``alpha_bot``, bob ``bravo_bot``
of ``shared_fleet``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import orjson
import pytest
from aiohttp import ClientWebSocketResponse, WSMsgType

from fleetcore.bus import Bus
from fleetcore.contract.rooms import FLEET_STATE
from tests.auth.conftest import World
from tests.helpers import StandInHub

pytestmark = pytest.mark.integration

FLEET = 'subscription { fleetState(name: "shared_fleet") { seq data } }'
TIMEOUT = 30.0


@asynccontextmanager
async def _subscribed(world: World, user: str, op: str) -> AsyncIterator[ClientWebSocketResponse]:
    """A websocket of ``user`` subscribed as operation ``op``, its sticky first update read."""
    async with world.client.ws_connect("/graphql", protocols=["graphql-transport-ws"]) as ws:
        init = {"Authorization": f"Bearer {world.tokens[user]}"}
        await ws.send_json({"type": "connection_init", "payload": init})
        assert (await _message(ws))["type"] == "connection_ack"
        await ws.send_json({"id": op, "type": "subscribe", "payload": {"query": FLEET}})
        assert (await _message(ws))["type"] == "next"
        yield ws


async def _message(ws: ClientWebSocketResponse) -> dict[str, Any]:
    frame = await ws.receive(timeout=TIMEOUT)
    assert frame.type is WSMsgType.TEXT
    message: dict[str, Any] = orjson.loads(frame.data)
    return message


async def _updates(world: World, bus: Bus, subscribers: dict[str, str]) -> dict[str, Any]:
    """Each operation's ``next`` message for one fleet state published while all are subscribed."""
    async with AsyncExitStack() as stack:
        sockets = {
            op: await stack.enter_async_context(_subscribed(world, user, op))
            for op, user in subscribers.items()
        }
        hub = StandInHub(bus)
        hub.seq = (await bus.position()).seq
        robots = {robot: {"name": robot, "battery": 0.5} for robot in ("alpha_bot", "bravo_bot")}
        await hub.publish(
            FLEET_STATE.format(name="shared_fleet"), {"name": "shared_fleet", "robots": robots}
        )
        return {op: await _message(ws) for op, ws in sockets.items()}


async def test_subscribers_of_different_groups_each_get_only_their_view(
    world: World, bus: Bus
) -> None:
    updates = await _updates(world, bus, {"a": "alice", "b": "bob"})

    alpha = updates["a"]["payload"]["data"]["fleetState"]["data"]["robots"]
    bravo = updates["b"]["payload"]["data"]["fleetState"]["data"]["robots"]
    assert list(alpha) == ["alpha_bot"]
    assert list(bravo) == ["bravo_bot"]


async def test_subscribers_of_one_view_get_identical_payloads_under_their_own_ids(
    world: World, bus: Bus
) -> None:
    updates = await _updates(world, bus, {"first": "alice", "second": "alice"})

    assert [(op, m["id"], m["type"]) for op, m in updates.items()] == [
        ("first", "first", "next"),
        ("second", "second", "next"),
    ]
    assert updates["first"]["payload"] == updates["second"]["payload"]
    assert list(updates["first"]["payload"]["data"]["fleetState"]["data"]["robots"]) == [
        "alpha_bot"
    ]
