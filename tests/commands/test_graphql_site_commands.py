"""The rest of REST's commands over GraphQL: sent once per key, refused as REST refuses them.

The embedded system with one simulated RMF site and authentication on:
``root`` is an administrator, ``nemo`` holds no permission. Who may on
which object, mutation by mutation, is in ``tests/auth/test_graphql_bola.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from gql import Client as GqlClient
from gql.client import AsyncClientSession
from gql.transport.aiohttp import AIOHTTPTransport

from fleetcore.auth import users
from fleetcore.auth.tokens import TokenVerifier
from fleetcore.contract.commands import request_id_for
from fleetcore.settings import Settings
from simulator import SimulatorService
from tests.commands.conftest import graphql_field, graphql_refusal
from tests.conftest import eventually, start_embedded
from tests.helpers import IngestClient

DISCOVERY = """
mutation($key: String) {
  taskDiscovery(input: {type: "task_discovery_request"}, idempotencyKey: $key) {
    command status response detail
  }
}
"""
RESET = "mutation($key: String) { resetFireAlarmTrigger(idempotencyKey: $key) { command status } }"
BEACON = """
mutation($key: String) {
  saveBeaconState(beaconId: "b7", online: true, category: "fire", activated: true, level: "L1",
                  idempotencyKey: $key) { command status response }
}
"""
COMMAND = "query($key: String!) { command(key: $key) }"


@pytest.fixture
async def embedded(auth_settings: Settings) -> AsyncIterator[TestServer]:
    """The embedded system with authentication on (the commands fixtures' site connects to it)."""
    server = await start_embedded(auth_settings)
    try:
        yield server
    finally:
        await server.close()


async def _session(
    server: TestServer, settings: Settings, user: str, *, is_admin: bool = False
) -> AsyncIterator[AsyncClientSession]:
    await users.create_user(user, is_admin=is_admin)
    token, _ = TokenVerifier(settings).issue(user, 600)
    headers = {"Authorization": f"Bearer {token}"}
    transport = AIOHTTPTransport(url=str(server.make_url("/graphql")), headers=headers)
    async with GqlClient(transport=transport) as session:
        yield session


@pytest.fixture
async def root(embedded: TestServer, auth_settings: Settings) -> AsyncIterator[AsyncClientSession]:
    async for session in _session(embedded, auth_settings, "root", is_admin=True):
        yield session


@pytest.fixture
async def nemo(embedded: TestServer, auth_settings: Settings) -> AsyncIterator[AsyncClientSession]:
    async for session in _session(embedded, auth_settings, "nemo"):
        yield session


async def test_a_task_discovery_retried_with_its_key_is_executed_once(
    site: SimulatorService, root: AsyncClientSession
) -> None:
    first = await graphql_field(root, DISCOVERY, key="d1")
    again = await graphql_field(root, DISCOVERY, key="d1")

    assert (first["command"], first["status"]) == ("d1", "done")
    assert first["response"]["type"] == "task_discovery_update"
    assert again == first
    assert site.commands.requests == {request_id_for("d1"): 1}


async def test_a_fire_alarm_reset_retried_with_its_key_is_sent_once(
    site: SimulatorService, root: AsyncClientSession
) -> None:
    first = await graphql_field(root, RESET, key="f1")
    again = await graphql_field(root, RESET, key="f1")

    assert first == again == {"command": "f1", "status": "done"}
    assert site.commands.requests == {request_id_for("f1"): 1}


async def test_a_beacon_state_saved_with_its_key_is_recorded_once_and_read_back(
    site: SimulatorService, root: AsyncClientSession
) -> None:
    first = await graphql_field(root, BEACON, key="b1")
    again = await graphql_field(root, BEACON, key="b1")
    beacon = await graphql_field(root, '{ beacon(id: "b7") }')

    assert (first["command"], first["status"]) == ("b1", "done")
    assert again == first
    assert beacon == {
        "id": "b7",
        "online": True,
        "category": "fire",
        "activated": True,
        "level": "L1",
    }


async def test_a_user_without_the_permission_is_refused_and_nothing_is_sent(
    site: SimulatorService, nemo: AsyncClientSession
) -> None:
    for key, document in (("n1", DISCOVERY), ("n2", RESET), ("n3", BEACON)):
        error = await graphql_refusal(nemo, document, key=key)

        assert error["extensions"]["code"] == "FORBIDDEN", error
        assert error["message"].startswith("nemo may not "), error
        assert await graphql_field(nemo, COMMAND, key=key) is None
    assert site.commands.requests == {}


async def test_a_command_no_site_answers_in_time_is_pending_and_read_later_by_its_key(
    settings: Settings,
) -> None:
    """The site takes the command and answers only after the mutation's wait is over."""
    server = await start_embedded(settings.replace(command_reply_timeout_s=0.3))
    try:
        base = str(server.make_url("")).rstrip("/")
        transport = AIOHTTPTransport(url=f"{base}/graphql")
        async with IngestClient(base) as rmf, GqlClient(transport=transport) as graphql:
            answer = await graphql_field(graphql, DISCOVERY, key="slow")
            assert answer == {
                "command": "slow",
                "status": "pending",
                "response": None,
                "detail": None,
            }
            pending = await graphql_field(graphql, COMMAND, key="slow")
            assert (pending["status"], pending["kind"]) == ("pending", "task_discovery")

            command = (await rmf.next_reply())["data"]
            assert command["request_id"] == request_id_for("slow")
            response = {"success": True, "type": "task_discovery_update", "data": {"tasks": []}}
            await rmf.send("command_response", {"request_id": command["request_id"], **response})

            async def done() -> Any:
                record = await graphql_field(graphql, COMMAND, key="slow")
                return record if record["status"] == "done" else None

            record = await eventually(done, timeout=30)
            assert record["response"]["type"] == "task_discovery_update"
    finally:
        await server.close()
