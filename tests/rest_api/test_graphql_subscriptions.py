"""GraphQL subscriptions over graphql-transport-ws with gql: live rooms, resume with ``since``.

The tests play the hub on the pass's bus (in-process, or Redis in the second
pass) and subscribe through the REST app's ``/graphql`` websocket. Every
subscription gives ``since``, so a publication made before the server
registered it is replayed rather than raced.
"""

from __future__ import annotations

import asyncio
from typing import Any

from gql import Client as GqlClient
from gql import GraphQLRequest
from gql.transport.aiohttp_websockets import AIOHTTPWebsocketsTransport

from fleetcore.bus import Bus
from fleetcore.contract.envelope import Publication
from fleetcore.contract.rooms import (
    DISPENSER_STATE,
    EVENTS,
    FIRE_ALARM_TRIGGER,
    FLEET_LOG,
    FLEET_STATE,
    INGESTOR_STATE,
    TASK_LOG,
)
from fleetcore.settings import Settings
from rest_api.app import create_app
from tests.rest_api.conftest import EPOCH, AiohttpClient, Client, FakeHub

EVENTS_SINCE = """
subscription($since: Long, $epoch: Long) {
  events(since: $since, epoch: $epoch) { room seq epoch data resync }
}
"""
FLEET = """
subscription($name: String!) { fleetState(name: $name) { seq data resync } }
"""


def _transport(client: Client) -> AIOHTTPWebsocketsTransport:
    url = str(client.make_url("/graphql")).replace("http://", "ws://", 1)
    return AIOHTTPWebsocketsTransport(url=url, subprotocols=["graphql-transport-ws"])


async def _take(client: Client, request: GraphQLRequest, count: int) -> list[dict[str, Any]]:
    """The first ``count`` updates of one subscription; then the websocket closes."""
    updates: list[dict[str, Any]] = []
    async with GqlClient(transport=_transport(client)) as session:
        async for result in session.subscribe(request):
            updates.append(next(iter(result.values())))
            if len(updates) == count:
                break
    return updates


async def _event(hub: FakeHub, index: int) -> Publication:
    return await hub.publish(EVENTS.pattern, {"kind": "robot_offline", "fleet": f"f{index}"})


async def test_a_subscription_resumed_with_since_misses_nothing(
    hub: FakeHub, client: Client
) -> None:
    first = [await _event(hub, index) for index in range(2)]
    seen = await _take(client, GraphQLRequest(EVENTS_SINCE, variable_values={"since": 0}), 2)
    last = seen[-1]["seq"]
    missed = [await _event(hub, index) for index in range(2, 4)]

    resumed = asyncio.create_task(
        _take(
            client,
            GraphQLRequest(EVENTS_SINCE, variable_values={"since": last, "epoch": EPOCH}),
            3,
        )
    )
    live = await _event(hub, 4)
    after = await resumed

    assert [update["seq"] for update in seen] == [pub.seq for pub in first]
    assert [update["seq"] for update in after] == [pub.seq for pub in (*missed, live)]
    assert [update["data"]["fleet"] for update in after] == ["f2", "f3", "f4"]
    assert all(update["resync"] is None for update in seen + after)


async def test_a_task_log_replays_its_entries_since_a_seq(hub: FakeHub, client: Client) -> None:
    await hub.task("t1")
    room = TASK_LOG.format(task_id="t1")
    entries = [await hub.publish(room, {"task_id": "t1", "log": [{"text": n}]}) for n in "ab"]
    request = GraphQLRequest(
        'subscription($since: Long) { taskLog(taskId: "t1", since: $since) { seq data } }',
        variable_values={"since": entries[0].seq - 1},
    )

    updates = await _take(client, request, 2)

    assert [update["seq"] for update in updates] == [pub.seq for pub in entries]


async def test_a_resume_from_another_epoch_is_told_to_resync(hub: FakeHub, client: Client) -> None:
    await _event(hub, 0)
    request = GraphQLRequest(EVENTS_SINCE, variable_values={"since": 1, "epoch": EPOCH + 1})

    (update,) = await _take(client, request, 1)

    assert update["data"] is None
    assert update["resync"] == f"the hub's epoch changed from {EPOCH + 1} to {EPOCH}"


async def test_a_state_room_sends_its_latest_value_then_updates(
    hub: FakeHub, client: Client
) -> None:
    room = FLEET_STATE.format(name="fleet")
    await hub.publish(room, {"name": "fleet", "robots": {"r1": {"name": "r1"}}})
    got: list[dict[str, Any]] = []
    async with GqlClient(transport=_transport(client)) as session:
        async for result in session.subscribe(
            GraphQLRequest(FLEET, variable_values={"name": "fleet"})
        ):
            got.append(result["fleetState"])
            if len(got) == 2:
                break
            # Published once the first value arrived: it can only come as a live update.
            robots = {"r1": {"name": "r1"}, "r2": {"name": "r2"}}
            await hub.publish(room, {"name": "fleet", "robots": robots})

    assert [update["data"]["robots"] for update in got] == [
        {"r1": {"name": "r1"}},
        {"r1": {"name": "r1"}, "r2": {"name": "r2"}},
    ]


async def test_a_dispenser_and_an_ingestor_send_what_rest_serves_then_updates(
    hub: FakeHub, client: Client
) -> None:
    for template, kind in ((DISPENSER_STATE, "dispenser"), (INGESTOR_STATE, "ingestor")):
        room = template.format(guid="w1")
        await hub.publish(room, {"guid": "w1", "mode": 0})
        async with client.get(f"/{kind}s/w1/state") as response:
            rest = await response.json()
        got: list[dict[str, Any]] = []
        request = GraphQLRequest(f'subscription {{ {kind}State(guid: "w1") {{ data }} }}')
        async with GqlClient(transport=_transport(client)) as session:
            async for result in session.subscribe(request):
                got.append(result[f"{kind}State"]["data"])
                if len(got) == 2:
                    break
                await hub.publish(room, {"guid": "w1", "mode": 1})

        assert got == [rest, {"guid": "w1", "mode": 1}]


async def test_the_fire_alarm_trigger_sends_its_latest_state(hub: FakeHub, client: Client) -> None:
    await hub.publish(FIRE_ALARM_TRIGGER.pattern, {"unix_millis_time": 1, "trigger": True})
    request = GraphQLRequest("subscription { fireAlarmTrigger { data } }")

    (update,) = await _take(client, request, 1)

    assert update["data"] == {"unix_millis_time": 1, "trigger": True}


async def test_a_fleet_log_replays_its_entries_since_a_seq(hub: FakeHub, client: Client) -> None:
    room = FLEET_LOG.format(name="fleet")
    entries = [
        await hub.publish(room, {"name": "fleet", "log": [], "robots": {"r1": [{"text": n}]}})
        for n in "ab"
    ]
    request = GraphQLRequest(
        'subscription($since: Long) { fleetLog(name: "fleet", since: $since) { seq data } }',
        variable_values={"since": entries[0].seq - 1},
    )

    updates = await _take(client, request, 2)

    assert [update["seq"] for update in updates] == [pub.seq for pub in entries]
    assert updates[1]["data"]["robots"] == {"r1": [{"text": "b"}]}


async def test_subscriptions_past_the_connections_limit_are_refused(
    aiohttp_client: AiohttpClient, settings: Settings, bus: Bus, database: None
) -> None:
    capped = await aiohttp_client(
        create_app(settings.replace(graphql_max_subscriptions=2), bus, manage_database=False)
    )
    subscribe = {"query": "subscription { events(since: 0) { seq } }"}
    async with capped.ws_connect("/graphql", protocols=["graphql-transport-ws"]) as ws:
        await ws.send_json({"type": "connection_init", "payload": {}})
        assert (await ws.receive_json())["type"] == "connection_ack"
        for key in ("1", "2", "3"):
            await ws.send_json({"id": key, "type": "subscribe", "payload": subscribe})
        answer = await ws.receive_json()
        while answer.get("type") == "ping":
            answer = await ws.receive_json()

    assert answer == {
        "id": "3",
        "type": "error",
        "payload": [{"message": "Subscription limit reached"}],
    }
