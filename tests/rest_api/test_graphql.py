"""GraphQL queries over real HTTP with gql, against REST's answers on the same seeded data.

The REST app runs on a loopback port over the pass's database and bus
(``client``); the tests play the hub (``hub``) and ask both front doors.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from gql import GraphQLRequest, gql
from gql.client import AsyncClientSession
from gql.transport.exceptions import TransportQueryError

from fleetcore.bus import Bus
from fleetcore.contract.rooms import (
    BEACON_STATE,
    DISPENSER_STATE,
    FIRE_ALARM_TRIGGER,
    FLEET_STATE,
    INGESTOR_STATE,
)
from fleetcore.settings import Settings
from fleetcore.store import models as db
from rest_api.app import create_app
from rest_api.graphql.schema import INTERNAL_ERROR, SDL_PATH, build_schema, sdl
from tests.rest_api.conftest import NOW_MS, AiohttpClient, Client, FakeHub

TASKS = """
query Tasks($filter: TaskFilter, $first: Int!, $after: String) {
  tasks(filter: $filter, first: $first, after: $after) {
    edges { cursor node { id status state robot { name status } latestLog { text } } }
    pageInfo { hasNextPage endCursor }
    position { seq epoch }
  }
}
"""


async def _seed(hub: FakeHub) -> None:
    await hub.publish(
        FLEET_STATE.format(name="fleet"),
        {"name": "fleet", "robots": {"r1": {"name": "r1", "status": "working"}}},
    )
    for index, status in enumerate(("queued", "underway", "completed", "underway", "failed")):
        await hub.task(
            f"t{index}", status=status, assigned_to="r1" if index % 2 else None, requested=NOW_MS
        )
        await db.TaskLogEntry.create(
            task_id=f"t{index}",
            log_seq=0,
            tier="info",
            unix_millis_time=NOW_MS,
            text=f"log of t{index}",
            seq=1,
        )


def test_the_checked_in_sdl_is_the_schema() -> None:
    """Run scripts/graphql_schema after changing the schema, and commit the file."""
    assert SDL_PATH.read_text() == sdl()


def test_the_limits_do_not_change_the_schema() -> None:
    schema = build_schema(Settings(graphql_introspection=False))
    assert schema.as_str() + "\n" == sdl()


async def test_the_sdl_is_published(client: Client) -> None:
    async with client.get("/graphql/schema.graphql") as response:
        assert response.status == 200
        assert await response.text() == SDL_PATH.read_text()


async def test_a_filtered_task_list_is_what_rest_lists(
    hub: FakeHub, client: Client, graphql: AsyncClientSession
) -> None:
    await _seed(hub)
    async with client.get("/tasks", params={"status": "underway,failed"}) as response:
        rest = await response.json()

    answer = await graphql.execute(
        GraphQLRequest(
            TASKS, variable_values={"filter": {"status": ["underway", "failed"]}, "first": 10}
        )
    )

    nodes = [edge["node"] for edge in answer["tasks"]["edges"]]
    assert [node["state"] for node in nodes] == rest
    assert [node["id"] for node in nodes] == ["t1", "t3", "t4"]


async def test_task_pages_follow_their_cursors_without_gaps_or_overlaps(
    hub: FakeHub, graphql: AsyncClientSession
) -> None:
    await _seed(hub)
    seen: list[str] = []
    after = None
    while True:
        answer = await graphql.execute(
            GraphQLRequest(TASKS, variable_values={"first": 2, "after": after})
        )
        page = answer["tasks"]
        seen += [edge["node"]["id"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == ["t0", "t1", "t2", "t3", "t4"]


async def test_a_task_brings_its_robot_and_latest_log_line(
    hub: FakeHub, graphql: AsyncClientSession
) -> None:
    await _seed(hub)
    answer = await graphql.execute(
        GraphQLRequest(TASKS, variable_values={"filter": {"taskId": ["t1", "t2"]}, "first": 10})
    )
    nodes = {edge["node"]["id"]: edge["node"] for edge in answer["tasks"]["edges"]}
    assert nodes["t1"]["robot"] == {"name": "r1", "status": "working"}
    assert nodes["t1"]["latestLog"] == {"text": "log of t1"}
    assert nodes["t2"]["robot"] is None


async def test_a_bad_filter_is_refused_with_the_field_named(
    graphql: AsyncClientSession,
) -> None:
    with pytest.raises(TransportQueryError) as refused:
        await graphql.execute(
            GraphQLRequest(TASKS, variable_values={"filter": {"status": ["sleeping"]}, "first": 10})
        )
    error = _error(refused.value)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"].startswith("status.0:")


async def test_fleets_and_the_task_log_are_what_rest_serves(
    hub: FakeHub, client: Client, graphql: AsyncClientSession
) -> None:
    await _seed(hub)
    async with client.get("/fleets") as response:
        fleets = await response.json()
    between = f"{NOW_MS - 1},{NOW_MS + 1}"
    async with client.get("/tasks/t1/log", params={"between": between}) as response:
        log = await response.json()

    answer = await graphql.execute(
        GraphQLRequest(
            'query($between: String!) { fleets { state } task(id: "t1") { log(between: $between) } }',
            variable_values={"between": between},
        )
    )

    assert [fleet["state"] for fleet in answer["fleets"]] == fleets
    assert answer["task"]["log"] == log


async def test_devices_beacons_and_a_fleet_log_are_what_rest_serves(
    hub: FakeHub, client: Client, graphql: AsyncClientSession
) -> None:
    await _seed(hub)
    await hub.publish(DISPENSER_STATE.format(guid="d1"), {"guid": "d1", "mode": 1})
    await hub.publish(INGESTOR_STATE.format(guid="i1"), {"guid": "i1", "mode": 2})
    await hub.publish(BEACON_STATE.format(id="b1"), {"id": "b1", "online": True})
    await hub.publish(FIRE_ALARM_TRIGGER.pattern, {"unix_millis_time": 1, "trigger": True})
    for robot in (None, "r1"):
        await db.FleetLogEntry.create(
            fleet="fleet",
            robot=robot,
            log_seq=0,
            tier="info",
            unix_millis_time=NOW_MS,
            text="x",
            seq=1,
        )
    between = f"{NOW_MS - 1},{NOW_MS + 1}"
    rest: dict[str, Any] = {}
    fire_alarm = "/building_map/previous_fire_alarm_trigger"
    for path in (
        "/dispensers/d1/state",
        "/ingestors/i1/state",
        "/beacons",
        "/beacons/b1",
        fire_alarm,
    ):
        async with client.get(path) as response:
            rest[path] = await response.json()
    async with client.get("/fleets/fleet/log", params={"between": between}) as response:
        rest["log"] = await response.json()

    answer = await graphql.execute(
        GraphQLRequest(
            """query($between: String!) {
              dispensers { guid state } dispenser(guid: "d1") { state }
              ingestors { guid state } ingestor(guid: "i1") { state }
              beacons beacon(id: "b1") fleetLog(name: "fleet", between: $between)
              fireAlarmTrigger
            }""",
            variable_values={"between": between},
        )
    )

    assert answer["dispensers"] == [{"guid": "d1", "state": rest["/dispensers/d1/state"]}]
    assert answer["dispenser"]["state"] == rest["/dispensers/d1/state"]
    assert answer["ingestors"] == [{"guid": "i1", "state": rest["/ingestors/i1/state"]}]
    assert answer["ingestor"]["state"] == rest["/ingestors/i1/state"]
    assert (answer["beacons"], answer["beacon"]) == (rest["/beacons"], rest["/beacons/b1"])
    assert answer["fleetLog"] == rest["log"]
    assert answer["fireAlarmTrigger"] == rest[fire_alarm]


async def test_scheduled_and_favorite_tasks_are_what_rest_serves(
    client: Client, graphql: AsyncClientSession
) -> None:
    request = {"category": "patrol", "description": {}}
    async with client.post(
        "/scheduled_tasks",
        json={"task_request": request, "schedules": [{"period": "day", "at": "09:00"}]},
    ) as response:
        scheduled_id = (await response.json())["id"]
    favorite = {
        "id": "",
        "name": "rounds",
        "unix_millis_earliest_start_time": 0,
        "category": "patrol",
    }
    async with client.post("/favorite_tasks", json=favorite) as response:
        assert response.status == 200
    rest: dict[str, Any] = {}
    for path in ("/scheduled_tasks", f"/scheduled_tasks/{scheduled_id}", "/favorite_tasks"):
        async with client.get(path) as response:
            rest[path] = await response.json()

    answer = await graphql.execute(
        GraphQLRequest(
            "query($id: String!) { scheduledTasks scheduledTask(id: $id) favoriteTasks }",
            variable_values={"id": str(scheduled_id)},
        )
    )

    assert answer["scheduledTasks"] == rest["/scheduled_tasks"]
    assert answer["scheduledTask"] == rest[f"/scheduled_tasks/{scheduled_id}"]
    assert answer["favoriteTasks"] == rest["/favorite_tasks"]


async def test_queries_deeper_than_the_limit_are_refused(graphql: AsyncClientSession) -> None:
    nested = "robot { task { " * 5 + "id" + " } }" * 5
    deep = "{ tasks { edges { node { " + nested + " } } } }"
    with pytest.raises(TransportQueryError) as refused:
        await graphql.execute(gql(deep))
    assert "exceeds maximum operation depth of 10" in _error(refused.value)["message"]


async def test_too_many_aliases_are_refused(graphql: AsyncClientSession) -> None:
    aliased = "{ " + " ".join(f"a{i}: position {{ seq }}" for i in range(16)) + " }"
    with pytest.raises(TransportQueryError) as refused:
        await graphql.execute(gql(aliased))
    assert _error(refused.value)["message"] == "16 aliases found. Allowed: 15"


async def test_a_document_over_the_token_limit_is_refused(client: Client) -> None:
    huge = "{ " + "position { seq } " * 600 + "}"
    async with client.post("/graphql", json={"query": huge}) as response:
        body = await response.json()
    assert "more than 2000 tokens" in body["errors"][0]["message"]
    assert "data" not in body or body["data"] is None


async def test_a_batch_over_the_limit_is_refused(client: Client) -> None:
    batch = [{"query": "{ position { seq } }"}] * 11
    async with client.post("/graphql", json=batch) as response:
        assert response.status == 400
        assert "Too many operations" in await response.text()


async def test_an_internal_failure_tells_nothing_of_itself(
    client: Client, graphql: AsyncClientSession
) -> None:
    # The store's tables gone: the query fails inside the database driver.
    await db.TaskState.raw("DROP TABLE task_label")
    with pytest.raises(TransportQueryError) as refused:
        await graphql.execute(gql('{ tasks(filter: {label: ["a=b"]}) { edges { cursor } } }'))
    error = _error(refused.value)
    assert error["message"] == INTERNAL_ERROR
    assert set(error) <= {"message", "locations", "path"}


async def test_introspection_can_be_turned_off(
    aiohttp_client: AiohttpClient, settings: Settings, bus: Bus, database: None
) -> None:
    closed = await aiohttp_client(
        create_app(settings.replace(graphql_introspection=False), bus, manage_database=False)
    )
    async with closed.post("/graphql", json={"query": "{ __schema { types { name } } }"}) as r:
        body = await r.json()
    assert "introspection" in body["errors"][0]["message"]


async def test_the_graphiql_page_is_off_unless_enabled(client: Client) -> None:
    async with client.get("/graphql", headers={"Accept": "text/html"}) as response:
        assert response.status == 404


def _error(exc: TransportQueryError) -> dict[str, Any]:
    assert exc.errors is not None
    error: dict[str, Any] = exc.errors[0]
    return error


async def test_the_graphiql_page_is_served_when_enabled(
    aiohttp_client: AiohttpClient, settings: Settings, bus: Bus, database: None
) -> None:
    ide = await aiohttp_client(
        create_app(settings.replace(graphql_ide=True), bus, manage_database=False)
    )
    async with ide.get("/graphql", headers={"Accept": "text/html"}) as response:
        assert response.status == 200
        assert "graphiql" in (await response.text()).lower()


async def test_a_robots_history_is_what_rest_serves(
    hub: FakeHub, client: Client, graphql: AsyncClientSession
) -> None:
    await _seed(hub)
    for index in range(3):
        await db.RobotPositionSample.create(
            fleet="fleet",
            robot="r1",
            unix_millis_time=NOW_MS + index,
            map="L1",
            x=float(index),
            y=0.0,
            yaw=0.0,
            status="working",
            battery=0.5,
        )
    between = f"{NOW_MS},{NOW_MS + 10}"
    async with client.get("/robots/fleet/r1/history", params={"between": between}) as response:
        rest = await response.json()

    answer = await graphql.execute(
        GraphQLRequest(
            'query($between: String!) { fleet(name: "fleet") { robots { history(between: $between)'
            " { unixMillisTime map x y yaw status battery } } } }",
            variable_values={"between": between},
        )
    )

    (robot,) = answer["fleet"]["robots"]
    assert [
        {
            "unix_millis_time": sample["unixMillisTime"],
            **{k: sample[k] for k in ("map", "x", "y", "yaw", "status", "battery")},
        }
        for sample in robot["history"]
    ] == rest


async def test_nested_fields_cost_the_same_queries_for_one_task_or_a_page(
    hub: FakeHub, graphql: AsyncClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    """DataLoader: a page's robots, requests, log lines and alerts are one query each."""
    await _seed(hub)
    nested = (
        "query($first: Int!) { tasks(first: $first) { edges { node {"
        " id request latestLog { text } alerts { id } robot { name task { id } } } } } }"
    )

    one = await _sql_selects(graphql, caplog, nested, first=1)
    page = await _sql_selects(graphql, caplog, nested, first=5)

    assert 0 < one == page


async def _sql_selects(
    graphql: AsyncClientSession, caplog: pytest.LogCaptureFixture, query: str, **variables: Any
) -> int:
    """How many SELECTs answering ``query`` costs."""
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="tortoise.db_client"):
        await graphql.execute(GraphQLRequest(query, variable_values=variables))
    return sum("SELECT" in record.getMessage() for record in caplog.records)


async def _seed_phases(hub: FakeHub) -> None:
    """Beyond ``_seed``'s task-level lines: phase and event lines, one outside the period."""
    await _seed(hub)
    for index in range(5):
        for log_seq, (phase, event, at) in enumerate(
            (("1", None, NOW_MS), ("1", "0", NOW_MS), ("10", "2", NOW_MS), ("2", None, 0))
        ):
            await db.TaskLogEntry.create(
                task_id=f"t{index}",
                phase=phase,
                event=event,
                log_seq=log_seq + 1,
                tier="info",
                unix_millis_time=at,
                text=f"{phase}/{event} of t{index}",
                seq=2,
            )


async def test_every_tasks_log_in_a_page_is_what_rest_serves(
    hub: FakeHub, client: Client, graphql: AsyncClientSession
) -> None:
    await _seed_phases(hub)
    await hub.task("t9", requested=NOW_MS)
    between = f"{NOW_MS - 1},{NOW_MS + 1}"
    answer = await graphql.execute(
        GraphQLRequest(
            "query($between: String!) { tasks { edges { node { id log(between: $between) } } } }",
            variable_values={"between": between},
        )
    )

    for edge in answer["tasks"]["edges"]:
        node = edge["node"]
        async with client.get(f"/tasks/{node['id']}/log", params={"between": between}) as rest:
            assert node["log"] == await rest.json()


async def test_task_logs_cost_the_same_queries_for_one_task_or_a_page(
    hub: FakeHub, graphql: AsyncClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    """DataLoader: the logs of a page's tasks asking one period are read together."""
    await _seed_phases(hub)
    logs = "query($first: Int!) { tasks(first: $first) { edges { node { log } } } }"

    one = await _sql_selects(graphql, caplog, logs, first=1)
    page = await _sql_selects(graphql, caplog, logs, first=5)

    assert 0 < one == page


async def _seed_histories(hub: FakeHub, fleets: dict[str, int]) -> None:
    """Fleets of robots named r0, r1..., robot i with i + 1 samples (the first fleet's: none)."""
    for fleet, robots in fleets.items():
        names = [f"r{index}" for index in range(robots)]
        await hub.publish(
            FLEET_STATE.format(name=fleet),
            {"name": fleet, "robots": {name: {"name": name} for name in names}},
        )
        for index, name in enumerate(names):
            for sample in range(index + 1 if fleet != "empty" else 0):
                await db.RobotPositionSample.create(
                    fleet=fleet,
                    robot=name,
                    unix_millis_time=NOW_MS + 10 - sample,
                    map="L1",
                    x=float(sample),
                    y=float(index),
                    yaw=0.0,
                    status=None,
                    battery=None,
                )


HISTORIES = (
    "query($between: String!, $first: Int!) { fleets { name robots { name"
    " history(between: $between, first: $first) { unixMillisTime map x y yaw status battery } } } }"
)


async def test_every_robots_history_in_a_list_is_what_rest_serves(
    hub: FakeHub, client: Client, graphql: AsyncClientSession
) -> None:
    """Each robot's samples, oldest first, cut at ``first`` per robot, not for the whole list."""
    await _seed_histories(hub, {"empty": 1, "fleet": 4, "other": 3})
    between = f"{NOW_MS},{NOW_MS + 10}"
    answer = await graphql.execute(
        GraphQLRequest(HISTORIES, variable_values={"between": between, "first": 2})
    )

    for fleet in answer["fleets"]:
        for robot in fleet["robots"]:
            url = f"/robots/{fleet['name']}/{robot['name']}/history"
            async with client.get(url, params={"between": between, "limit": "2"}) as rest:
                assert [
                    {
                        "unix_millis_time": sample["unixMillisTime"],
                        **{k: sample[k] for k in ("map", "x", "y", "yaw", "status", "battery")},
                    }
                    for sample in robot["history"]
                ] == await rest.json()
    lengths = {
        (fleet["name"], robot["name"]): len(robot["history"])
        for fleet in answer["fleets"]
        for robot in fleet["robots"]
    }
    assert lengths[("fleet", "r0")] == 1
    assert lengths[("fleet", "r3")] == 2
    assert lengths[("empty", "r0")] == 0


async def test_robot_histories_cost_the_same_queries_for_one_robot_or_many(
    hub: FakeHub, graphql: AsyncClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    """DataLoader: the histories of a fleet's robots asking one period are one query."""
    await _seed_histories(hub, {"one": 1, "many": 5})
    histories = (
        "query($name: String!) { fleet(name: $name) { robots { history { unixMillisTime } } } }"
    )

    one = await _sql_selects(graphql, caplog, histories, name="one")
    many = await _sql_selects(graphql, caplog, histories, name="many")

    assert 0 < one == many
