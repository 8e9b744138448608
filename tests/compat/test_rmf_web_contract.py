"""rmf-web's api-server contract, checked against a running fleethub: every operation, every room.

The reference is rmf-web's OpenAPI document as its api-client ships it
(``../shared/reference/rmf-web/openapi.json`` beside the checkout; without
it this module skips, saying so). fleethub runs as ``fleethub up`` does, on a
loopback port, with rmf-web's demo login (its stub dashboard's token), a
simulated RMF site, and a second site that reports what the simulator does
not (a robot holding a mutex group, RMF's alerts, a delivery alert, the fire
alarm). Every operation of the document is called as rmf-web's dashboard
would, must answer one of its documented success codes, and its body must
validate against the documented schema; every room rmf-web serves is
subscribed over socket.io, and each payload validated against its model's
schema in the same document.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from fleetcore.settings import Settings
from fleethub.embedded import create_app
from simulator import SimConfig, Simulation, SimulatorService
from tests.auth.test_rmf_web_login import STUB_SETTINGS, stub_token
from tests.conftest import eventually, start_server
from tests.helpers import IngestClient, Subscriber

REFERENCE = Path(__file__).resolve().parents[3] / "shared/reference/rmf-web/openapi.json"

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not REFERENCE.is_file(),
        reason=f"rmf-web's OpenAPI document is not at {REFERENCE} (../shared beside the checkout)",
    ),
]

FLEET, ROBOT = "tinyRobot", "tinyRobot1"
MUTEX_FLEET, MUTEX_ROBOT, MUTEX_GROUP = "mutex_fleet", "m1", "corridor"
DOOR, LIFT, DISPENSER, INGESTOR = "pantry_door", "lift_1", "pantry_dispenser", "lab_ingestor"
BEACON, ALERT, DELIVERY_ALERT = "beacon_1", "compat_alert", "delivery_1"
ROOM_SCHEMAS = {
    "/building_map": "BuildingMap",
    "/building_map/fire_alarm_trigger": "FireAlarmTriggerState",
    f"/doors/{DOOR}/state": "DoorState",
    f"/lifts/{LIFT}/state": "LiftState",
    f"/dispensers/{DISPENSER}/state": "DispenserState",
    f"/ingestors/{INGESTOR}/state": "IngestorState",
    f"/fleets/{FLEET}/state": "FleetState",
    f"/fleets/{MUTEX_FLEET}/log": "FleetLog",
    "/alerts/requests": "AlertRequest",
    "/alerts/responses": "AlertResponse",
    "/beacons": "BeaconState",
    "/delivery_alerts": "DeliveryAlert",
    "/rios": "Rio",
}
"""Every room rmf-web's api-server serves but a task's two, which are added once there is a task."""
TASK_ROOMS = {"/tasks/{id}/state": "TaskState-Output", "/tasks/{id}/log": "TaskEventLog"}


def _document() -> dict[str, Any]:
    return json.loads(REFERENCE.read_text())  # type: ignore[no-any-return]


def _validate(document: dict[str, Any], schema: dict[str, Any], value: Any) -> list[str]:
    """The schema's violations by ``value``, with the document's components to resolve refs."""
    from jsonschema import Draft202012Validator

    root = {**schema, "components": document["components"]}
    validator = Draft202012Validator(root)
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(value)
    ]


@dataclass
class World:
    """What the calls refer to, learnt as they go (the task dispatched, the ids created)."""

    http: aiohttp.ClientSession
    ids: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    """The reference document's path (its template)."""
    concrete: Callable[[World], str] | None = None
    params: Callable[[World], dict[str, str]] = lambda w: {}
    body: Callable[[World], Any] | None = None
    status: int | None = None
    """A success status rmf-web's api-server answers although its document does not list it."""


def _task(world: World) -> str:
    return str(world.ids["task"])


TASK_REQUEST = {"category": "patrol", "description": {"places": ["lobby", "pantry"], "rounds": 1}}
SCHEDULE = {
    "task_request": {**TASK_REQUEST, "fleet_name": FLEET},
    "schedules": [{"period": "monday", "at": "09:00"}],
    "start_from": "2030-01-01T00:00:00Z",
    "until": "2030-12-31T00:00:00Z",
}
WEEK = {"start_before": "2031-01-01T00:00:00Z", "until_after": "2030-01-01T00:00:00Z"}
ALERT_REQUEST = {
    "id": ALERT,
    "unix_millis_alert_time": 1,
    "title": "check",
    "subtitle": "",
    "message": "",
    "display": True,
    "tier": "warning",
    "responses_available": ["ok"],
    "alert_parameters": [],
}
DELIVERY_QUERY = {
    "category": "missing",
    "tier": "warning",
    "action": "resume",
    "message": "found it",
}

CALLS: list[Call] = [
    Call("get", "/user"),
    Call("get", "/permissions"),
    Call("get", "/time"),
    Call("get", "/building_map"),
    Call("get", "/building_map/previous_fire_alarm_trigger"),
    Call("post", "/building_map/reset_fire_alarm_trigger"),
    Call("get", "/doors"),
    Call("get", "/doors/{door_name}/state", lambda w: f"/doors/{DOOR}/state"),
    Call(
        "post",
        "/doors/{door_name}/request",
        lambda w: f"/doors/{DOOR}/request",
        body=lambda w: {"mode": 2},
    ),
    Call("get", "/lifts"),
    Call("get", "/lifts/{lift_name}/state", lambda w: f"/lifts/{LIFT}/state"),
    Call(
        "post",
        "/lifts/{lift_name}/request",
        lambda w: f"/lifts/{LIFT}/request",
        body=lambda w: {"request_type": 1, "door_mode": 2, "destination": "L2"},
    ),
    Call("get", "/dispensers"),
    Call("get", "/dispensers/{guid}/state", lambda w: f"/dispensers/{DISPENSER}/state"),
    Call("get", "/ingestors"),
    Call("get", "/ingestors/{guid}/state", lambda w: f"/ingestors/{INGESTOR}/state"),
    Call("get", "/beacons"),
    Call(
        "post",
        "/beacons",
        params=lambda w: {
            "beacon_id": BEACON,
            "online": "true",
            "category": "visual",
            "activated": "false",
            "level": "L1",
        },
    ),
    Call("get", "/beacons/{beacon_id}", lambda w: f"/beacons/{BEACON}"),
    Call("get", "/fleets"),
    Call("get", "/fleets/{name}/state", lambda w: f"/fleets/{FLEET}/state"),
    Call("get", "/fleets/{name}/log", lambda w: f"/fleets/{MUTEX_FLEET}/log"),
    Call(
        "post",
        "/fleets/{name}/unlock_mutex_group",
        lambda w: f"/fleets/{MUTEX_FLEET}/unlock_mutex_group",
        params=lambda w: {"robot_name": MUTEX_ROBOT, "mutex_group": MUTEX_GROUP},
    ),
    Call(
        "post",
        "/tasks/dispatch_task",
        body=lambda w: {
            "type": "dispatch_task_request",
            "request": {**TASK_REQUEST, "fleet_name": FLEET, "labels": ["app=compat", "urgent"]},
        },
    ),
    Call("get", "/tasks"),
    Call("get", "/tasks/{task_id}/state", lambda w: f"/tasks/{_task(w)}/state"),
    Call("get", "/tasks/{task_id}/request", lambda w: f"/tasks/{_task(w)}/request"),
    Call("get", "/tasks/requests", params=lambda w: {"task_ids": f"{_task(w)},unknown"}),
    Call("get", "/tasks/{task_id}/booking_label", lambda w: f"/tasks/{_task(w)}/booking_label"),
    Call("get", "/tasks/{task_id}/log", lambda w: f"/tasks/{_task(w)}/log"),
    Call(
        "post",
        "/tasks/interrupt_task",
        body=lambda w: {"type": "interrupt_task_request", "task_id": _task(w)},
    ),
    Call(
        "post",
        "/tasks/resume_task",
        body=lambda w: {
            "type": "resume_task_request",
            "for_task": _task(w),
            "for_tokens": [w.ids["interruption"]],
        },
    ),
    Call(
        "post",
        "/tasks/skip_phase",
        body=lambda w: {"type": "skip_phase_request", "task_id": _task(w), "phase_id": 2},
    ),
    Call(
        "post",
        "/tasks/undo_skip_phase",
        body=lambda w: {
            "type": "undo_phase_skip_request",
            "for_task": _task(w),
            "for_tokens": [w.ids["skip"]],
        },
    ),
    Call(
        "post",
        "/tasks/rewind_task",
        body=lambda w: {"type": "rewind_task_request", "task_id": _task(w), "phase_id": 1},
    ),
    Call("post", "/tasks/task_discovery", body=lambda w: {"type": "task_discovery_request"}),
    Call(
        "post",
        "/alerts/request",
        body=lambda w: {**ALERT_REQUEST, "task_id": _task(w)},
    ),
    Call("get", "/alerts/request/{alert_id}", lambda w: f"/alerts/request/{ALERT}"),
    Call("get", "/alerts/unresponded_requests"),
    Call(
        "get",
        "/alerts/requests/task/{task_id}",
        lambda w: f"/alerts/requests/task/{_task(w)}",
    ),
    Call(
        "post",
        "/alerts/request/{alert_id}/respond",
        lambda w: f"/alerts/request/{ALERT}/respond",
        params=lambda w: {"response": "ok"},
    ),
    Call(
        "get", "/alerts/request/{alert_id}/response", lambda w: f"/alerts/request/{ALERT}/response"
    ),
    Call(
        "post",
        "/delivery_alerts/{delivery_alert_id}/response",
        lambda w: f"/delivery_alerts/{DELIVERY_ALERT}/response",
        params=lambda w: {**DELIVERY_QUERY, "task_id": _task(w)},
    ),
    Call(
        "post",
        "/tasks/robot_task",
        body=lambda w: {
            "type": "robot_task_request",
            "robot": ROBOT,
            "fleet": FLEET,
            "request": TASK_REQUEST,
        },
    ),
    Call(
        "post",
        "/tasks/cancel_task",
        body=lambda w: {"type": "cancel_task_request", "task_id": str(w.ids["robot_task"])},
    ),
    Call(
        "post",
        "/tasks/kill_task",
        body=lambda w: {"type": "kill_task_request", "task_id": _task(w)},
    ),
    Call(
        "post",
        "/fleets/{name}/decommission",
        lambda w: f"/fleets/{FLEET}/decommission",
        params=lambda w: {
            "robot_name": ROBOT,
            "reassign_tasks": "true",
            "allow_idle_behavior": "false",
        },
    ),
    Call(
        "post",
        "/fleets/{name}/recommission",
        lambda w: f"/fleets/{FLEET}/recommission",
        params=lambda w: {"robot_name": ROBOT},
    ),
    Call("post", "/scheduled_tasks", body=lambda w: SCHEDULE),
    Call("get", "/scheduled_tasks", params=lambda w: WEEK),
    Call("get", "/scheduled_tasks/{task_id}", lambda w: f"/scheduled_tasks/{w.ids['scheduled']}"),
    Call(
        "post",
        "/scheduled_tasks/{task_id}/except_date",
        lambda w: f"/scheduled_tasks/{w.ids['scheduled']}/except_date",
        body=lambda w: {"except_date": "2030-01-07T09:00:00+00:00"},
    ),
    Call(
        "post",
        "/scheduled_tasks/{task_id}/update",
        lambda w: f"/scheduled_tasks/{w.ids['scheduled']}/update",
        body=lambda w: {**SCHEDULE, "except_dates": ["2030-01-14T09:00:00Z"]},
    ),
    Call(
        "delete", "/scheduled_tasks/{task_id}", lambda w: f"/scheduled_tasks/{w.ids['scheduled']}"
    ),
    Call(
        "post",
        "/favorite_tasks",
        body=lambda w: {
            "id": "",
            "name": "compat",
            "unix_millis_earliest_start_time": 0,
            "priority": None,
            "category": "patrol",
            "description": TASK_REQUEST["description"],
            "user": "",
            "task_definition_id": "patrol",
        },
    ),
    Call("get", "/favorite_tasks"),
    Call(
        "delete",
        "/favorite_tasks/{favorite_task_id}",
        lambda w: f"/favorite_tasks/{w.ids['favorite']}",
    ),
    Call(
        "put", "/rios", body=lambda w: {"id": "rio_1", "type": "cart", "data": {"x": 1}}, status=201
    ),
    Call("get", "/rios", params=lambda w: {"type": "cart"}),
    Call("post", "/admin/users", body=lambda w: {"username": "compat_user"}),
    Call("get", "/admin/users"),
    Call("get", "/admin/users/{username}", lambda w: "/admin/users/compat_user"),
    Call(
        "post",
        "/admin/users/{username}/make_admin",
        lambda w: "/admin/users/compat_user/make_admin",
        body=lambda w: {"admin": False},
    ),
    Call("post", "/admin/roles", body=lambda w: {"name": "compat_role"}),
    Call("get", "/admin/roles"),
    Call(
        "post",
        "/admin/roles/{role}/permissions",
        lambda w: "/admin/roles/compat_role/permissions",
        body=lambda w: {"authz_grp": "any_group_name", "action": "task_read"},
    ),
    Call(
        "get", "/admin/roles/{role}/permissions", lambda w: "/admin/roles/compat_role/permissions"
    ),
    Call(
        "post",
        "/admin/roles/{role}/permissions/remove",
        lambda w: "/admin/roles/compat_role/permissions/remove",
        body=lambda w: {"authz_grp": "any_group_name", "action": "task_read"},
    ),
    Call(
        "post",
        "/admin/users/{username}/roles",
        lambda w: "/admin/users/compat_user/roles",
        body=lambda w: {"name": "compat_role"},
    ),
    Call(
        "put",
        "/admin/users/{username}/roles",
        lambda w: "/admin/users/compat_user/roles",
        body=lambda w: [{"name": "compat_role"}],
    ),
    Call(
        "delete",
        "/admin/users/{username}/roles/{role}",
        lambda w: "/admin/users/compat_user/roles/compat_role",
    ),
    Call("delete", "/admin/roles/{role}", lambda w: "/admin/roles/compat_role"),
    Call("delete", "/admin/users/{username}", lambda w: "/admin/users/compat_user"),
]
"""In the order a dashboard's user could make them: what a call needs, an earlier one made."""
NOT_REST = {("GET", "/socket.io")}
"""rmf-web documents its socket.io endpoint as a GET; it is checked by subscribing below."""


def _learn(world: World, call: Call, body: Any) -> None:
    if call.path == "/tasks/dispatch_task":
        world.ids["task"] = body["state"]["booking"]["id"]
    elif call.path == "/tasks/interrupt_task":
        world.ids["interruption"] = body["token"]
    elif call.path == "/tasks/skip_phase":
        world.ids["skip"] = body["token"]
    elif call.path == "/tasks/robot_task":
        world.ids["robot_task"] = body["state"]["booking"]["id"]
    elif call.path == "/scheduled_tasks" and call.method == "post":
        world.ids["scheduled"] = body["id"]
    elif call.path == "/favorite_tasks" and call.method == "post":
        world.ids["favorite"] = body["id"]


def _success_schemas(document: dict[str, Any], call: Call) -> dict[int, dict[str, Any]]:
    responses = document["paths"][call.path][call.method]["responses"]
    schemas = {
        int(code): (answer.get("content", {}).get("application/json", {}).get("schema", {}))
        for code, answer in responses.items()
        if code.startswith("2")
    }
    if call.status is not None:
        schemas[call.status] = next(iter(schemas.values()))
    return schemas


def _fleet_holding_a_mutex_group() -> dict[str, Any]:
    return {
        "name": MUTEX_FLEET,
        "robots": {
            MUTEX_ROBOT: {
                "name": MUTEX_ROBOT,
                "status": "idle",
                "task_id": "",
                "unix_millis_time": int(time.time() * 1000),
                "battery": 0.9,
                "location": {"map": "L1", "x": 1.0, "y": 1.0, "yaw": 0.0},
                "issues": [],
                "mutex_groups": {"locked": [MUTEX_GROUP], "requesting": []},
            }
        },
    }


async def _report_what_the_simulator_does_not(site: IngestClient) -> None:
    """A second RMF site: a mutex group held, a fleet log, the fire alarm, RMF's alerts."""
    await site.send("fleet_state_update", _fleet_holding_a_mutex_group())
    await site.send(
        "fleet_log_update",
        {
            "name": MUTEX_FLEET,
            "log": [],
            "robots": {
                MUTEX_ROBOT: [
                    {"seq": 0, "tier": "info", "unix_millis_time": 1, "text": "locked corridor"}
                ]
            },
        },
    )
    await site.send("fire_alarm_trigger_update", {"trigger": True})
    await site.send(
        "beacon_state_update",
        {"id": "beacon_0", "online": True, "category": "c", "activated": False, "level": "L1"},
    )


async def _raise_delivery_alert(site: IngestClient, task_id: str) -> None:
    await site.send(
        "delivery_alert_update",
        {
            "id": DELIVERY_ALERT,
            "category": "missing",
            "tier": "warning",
            "action": "waiting",
            "task_id": task_id,
            "message": "no cart",
        },
    )


@contextlib.asynccontextmanager
async def fleethub_with_sites(settings: Settings) -> AsyncIterator[tuple[str, IngestClient]]:
    server: TestServer = await start_server(
        create_app(settings.replace(**STUB_SETTINGS, auth_mode="jwt"))
    )
    base = str(server.make_url("")).rstrip("/")
    simulated = SimulatorService(
        Settings(hub_url=base, sim_rate_hz=20.0, ingest_token=settings.ingest_token),
        simulation=Simulation(SimConfig(robots=2, fleets=1)),
        backoff_initial_s=0.05,
    )
    running = asyncio.create_task(simulated.run())
    try:
        await eventually(lambda: simulated.client.connected, timeout=10)
        async with IngestClient(base, settings.ingest_token) as other_site:
            yield base, other_site
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        await server.close()


async def test_every_rmf_web_operation_and_room_answers_in_rmf_webs_shapes(
    settings: Settings,
) -> None:
    document = _document()
    documented = {(m.upper(), p) for p, ops in document["paths"].items() for m in ops}
    called = {(c.method.upper(), c.path) for c in CALLS}
    assert documented - NOT_REST == called, "call every operation of rmf-web's document once"

    token = stub_token("admin")
    headers = {"Authorization": f"Bearer {token}"}
    async with fleethub_with_sites(settings) as (base, other_site):
        rooms = await Subscriber(token=token).connect(base)
        try:
            for room in ROOM_SCHEMAS:
                assert (await rooms.subscribe(room))["success"], room
            await _report_what_the_simulator_does_not(other_site)
            async with aiohttp.ClientSession(base, headers=headers) as http:
                world = World(http)
                await eventually(lambda: _all_reported(http), timeout=15)
                failures = []
                for call in CALLS:
                    failures += await _check(document, world, call)
                    if call.path == "/tasks/dispatch_task" and "task" in world.ids:
                        # RMF reports the task's state after answering its dispatch.
                        await eventually(lambda: _reported(http, f"/tasks/{_task(world)}/state"))
                        for template in TASK_ROOMS:
                            room = template.format(id=world.ids["task"])
                            assert (await rooms.subscribe(room))["success"], room
                        await _raise_delivery_alert(other_site, world.ids["task"])
                assert failures == [], "\n".join(failures)
                await eventually(lambda: all(rooms.of(r) for r in _rooms(world)), timeout=15)
            failures = [
                f"{room}: {problem}"
                for room, schema in _rooms(world).items()
                for payload in rooms.of(room)
                for problem in _validate(
                    document, {"$ref": f"#/components/schemas/{schema}"}, payload
                )
            ]
            assert failures == []
        finally:
            await rooms.close()


def _rooms(world: World) -> dict[str, str]:
    task_rooms = {t.format(id=world.ids["task"]): s for t, s in TASK_ROOMS.items()}
    return {**ROOM_SCHEMAS, **task_rooms}


async def _reported(http: aiohttp.ClientSession, path: str) -> bool:
    async with http.get(path) as answer:
        return answer.status == 200


async def _all_reported(http: aiohttp.ClientSession) -> bool:
    async with http.get("/fleets") as answer:
        fleets = {f["name"] for f in await answer.json()}
    async with http.get(f"/ingestors/{INGESTOR}/state") as answer:
        ingestor = answer.status == 200
    return {FLEET, MUTEX_FLEET} <= fleets and ingestor


async def _check(document: dict[str, Any], world: World, call: Call) -> list[str]:
    path = call.concrete(world) if call.concrete else call.path
    body = call.body(world) if call.body else None
    async with world.http.request(
        call.method, path, params=call.params(world), json=body
    ) as answer:
        text = await answer.text()
        status = answer.status
    schemas = _success_schemas(document, call)
    name = f"{call.method.upper()} {path}"
    if status not in schemas:
        return [f"{name}: {status} is not one of {sorted(schemas)}: {text[:300]}"]
    value = json.loads(text) if text else None
    _learn(world, call, value)
    return [f"{name}: {problem}" for problem in _validate(document, schemas[status], value)]
