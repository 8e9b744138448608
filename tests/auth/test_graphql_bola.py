"""The BOLA rules over GraphQL: another group's object is null, lists and rooms show only one's own.

The same two-tenant world as the REST matrix (tests/auth/conftest.py): every
object of a tenant carries its group's name, so "alice saw nothing of
bravo" is "no answer to alice contains 'bravo'".
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from aiohttp import WSMsgType
from gql import Client as GqlClient
from gql import GraphQLRequest
from gql.transport.aiohttp_websockets import AIOHTTPWebsocketsTransport
from gql.transport.exceptions import TransportQueryError

from fleetcore.auth.tokens import TokenVerifier
from fleetcore.bus import Bus
from fleetcore.contract.rooms import FLEET_LOG
from fleetcore.store import models as db
from tests.auth.conftest import World
from tests.helpers import StandInHub

pytestmark = pytest.mark.integration

EVERYTHING = """
{
  me { username isAdmin permissions { authzGrp action } }
  fleets { name robots { name task { id } } }
  tasks { edges { node { id requester request robot { name } latestLog { text } alerts { id } } } }
  unrespondedAlerts { id data }
  events { fleet robot detail }
  doors { name state }
  lifts { name state }
  dispensers { guid }
  ingestors { guid }
  beacons
  fleetLog(name: "shared_fleet", between: "-600000")
  scheduledTasks
  favoriteTasks
  fireAlarmTrigger
}
"""
OTHERS = """
{
  task(id: "bravo_task") { id }
  request: task(id: "bravo_request") { id }
  fleet(name: "bravo_fleet") { name }
  alert(id: "bravo_robot_alert") { id }
  command(key: "bravo_command")
  fleetLog(name: "bravo_fleet", between: "-600000")
}
"""


async def _post(world: World, user: str | None, query: str) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {world.tokens[user]}"} if user else {}
    async with world.client.post("/graphql", json={"query": query}, headers=headers) as answer:
        return answer.status, await answer.json()


async def test_a_user_sees_nothing_of_another_group_in_any_list(world: World) -> None:
    status, answer = await _post(world, "alice", EVERYTHING)

    assert status == 200
    assert "errors" not in answer
    assert "bravo" not in orjson.dumps(answer).decode()
    data = answer["data"]
    assert {edge["node"]["id"] for edge in data["tasks"]["edges"]} == {
        "alpha_task",
        "alpha_request",
    }
    robots = {fleet["name"]: [r["name"] for r in fleet["robots"]] for fleet in data["fleets"]}
    assert robots == {"alpha_fleet": ["alpha_r1"], "shared_fleet": ["alpha_bot"]}
    assert [door["name"] for door in data["doors"]] == ["alpha_door"]
    assert [lift["name"] for lift in data["lifts"]] == ["alpha_lift"]
    assert list(data["fleetLog"]["robots"]) == ["alpha_bot"]
    assert [str(row["id"]) for row in data["scheduledTasks"]] == [world.ids["alpha_scheduled"]]
    assert [row["id"] for row in data["favoriteTasks"]] == ["alpha_favorite"]


async def test_another_groups_objects_are_null(world: World) -> None:
    status, answer = await _post(world, "alice", OTHERS)

    assert status == 200
    assert "errors" not in answer
    assert set(answer["data"].values()) == {None}


async def test_another_users_scheduled_task_is_null(world: World) -> None:
    query = f'{{ scheduledTask(id: "{world.ids["bravo_scheduled"]}") }}'
    status, answer = await _post(world, "alice", query)

    assert (status, answer) == (200, {"data": {"scheduledTask": None}})


async def test_an_admin_sees_both_groups(world: World) -> None:
    _, answer = await _post(world, "root", OTHERS)

    assert all(value is not None for value in answer["data"].values())


async def test_a_command_on_another_groups_object_is_not_found(world: World) -> None:
    mutation = """
    mutation {
      cancelTask(input: {type: "cancel_task_request", task_id: "bravo_task"}) { status }
    }
    """
    _, answer = await _post(world, "alice", mutation)

    assert answer["data"] is None
    assert answer["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_a_refused_mutation_is_in_the_audit_log(world: World) -> None:
    mutation = 'mutation { respondToAlert(alertId: "bravo_robot_alert", response: "ok") { id } }'
    await _post(world, "alice", mutation)

    entry = await db.AuditEntry.get(username="alice", action="graphql_respond_to_alert")
    assert (entry.status, entry.target) == (404, "/graphql")
    assert "bravo_robot_alert" in entry.detail


async def test_a_response_to_another_groups_alert_is_not_found(world: World) -> None:
    mutation = 'mutation { respondToAlert(alertId: "bravo_robot_alert", response: "ok") { id } }'
    _, answer = await _post(world, "alice", mutation)

    assert answer["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_without_a_token_graphql_is_refused_as_rest_is(world: World) -> None:
    status, answer = await _post(world, None, "{ position { seq } }")

    assert status == 401
    assert answer == {"detail": "missing_token"}


async def test_a_subscribed_fleet_shows_only_readable_robots(world: World) -> None:
    session = GqlClient(transport=_websocket(world, world.tokens["alice"]))
    request = GraphQLRequest('subscription { fleetState(name: "shared_fleet") { data } }')
    async with session as subscribed:
        async for result in subscribed.subscribe(request):
            assert list(result["fleetState"]["data"]["robots"]) == ["alpha_bot"]
            break


async def test_a_subscribed_fleet_log_shows_only_readable_robots(world: World, bus: Bus) -> None:
    robots = {f"{group}_bot": [{"text": group}] for group in ("alpha", "bravo")}
    hub = StandInHub(bus)
    hub.seq = (await bus.position()).seq
    published = await hub.publish(
        FLEET_LOG.format(name="shared_fleet"),
        {"name": "shared_fleet", "log": [{"text": "fleet-wide"}], "robots": robots},
    )
    request = GraphQLRequest(
        'subscription($since: Long) { fleetLog(name: "shared_fleet", since: $since) { data } }',
        variable_values={"since": published.seq - 1},
    )
    async with GqlClient(transport=_websocket(world, world.tokens["alice"])) as subscribed:
        async for result in subscribed.subscribe(request):
            assert result["fleetLog"]["data"] == {
                "name": "shared_fleet",
                "robots": {"alpha_bot": [{"text": "alpha"}]},
            }
            break


@pytest.mark.parametrize(
    "subscription",
    [
        'taskState(taskId: "bravo_task")',
        'taskLog(taskId: "bravo_task")',
        'fleetState(name: "bravo_fleet")',
        'doorState(name: "bravo_door")',
        'liftState(name: "bravo_lift")',
        'fleetLog(name: "bravo_fleet")',
    ],
)
async def test_a_subscription_to_another_groups_object_is_not_found(
    world: World, subscription: str
) -> None:
    request = GraphQLRequest(f"subscription {{ {subscription} {{ seq }} }}")
    async with GqlClient(transport=_websocket(world, world.tokens["alice"])) as subscribed:
        with pytest.raises(TransportQueryError) as refused:
            async for _ in subscribed.subscribe(request):
                pass

    assert refused.value.errors is not None
    assert refused.value.errors[0]["extensions"]["code"] == "NOT_FOUND"


async def test_a_websocket_without_a_valid_token_is_closed_at_its_init(world: World) -> None:
    """Closed with graphql-transport-ws's 4403 (Forbidden): no subscription can start."""
    async with world.client.ws_connect("/graphql", protocols=["graphql-transport-ws"]) as ws:
        await ws.send_json(
            {"type": "connection_init", "payload": {"Authorization": "Bearer not-a-token"}}
        )
        message = await ws.receive()

    assert message.type is WSMsgType.CLOSE
    assert (message.data, message.extra) == (4403, "Forbidden")


def _websocket(world: World, token: str) -> AIOHTTPWebsocketsTransport:
    url = str(world.client.make_url("/graphql")).replace("http://", "ws://", 1)
    return AIOHTTPWebsocketsTransport(
        url=url,
        subprotocols=["graphql-transport-ws"],
        init_payload={"Authorization": f"Bearer {token}"},
    )


async def test_a_websocket_is_closed_when_its_token_expires(world: World) -> None:
    # Long enough to be valid at connection_init on a loaded machine.
    token, _ = TokenVerifier(world.settings).issue("alice", 3)
    async with world.client.ws_connect("/graphql", protocols=["graphql-transport-ws"]) as ws:
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
        await ws.send_json(init)
        assert (await ws.receive_json())["type"] == "connection_ack"
        message = await ws.receive()
        while message.type is WSMsgType.TEXT:
            message = await ws.receive()

    assert message.type is WSMsgType.CLOSE
    assert (message.data, message.extra) == (4401, "token expired")
