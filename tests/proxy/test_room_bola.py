"""The room BOLA matrix: two users in different groups x every room template of the registry.

Over real socket.io websockets, Alice (group A: fleet_a, door_a, lift_a) and
Bob (group B: fleet_b, robot fleet_a/a2, door_b, lift_b) subscribe to their
own and each other's rooms; the test then publishes objects of both groups
and checks that each received exactly its own. The cases are generated from
``fleetcore.contract.rooms.TEMPLATES``: a new room template fails here until
it has an authorization rule in ``proxy/access.py`` and a case below.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from fleetcore.contract import rooms
from fleetcore.contract.rooms import RoomTemplate
from proxy.access import NOT_FOUND, RULES
from tests.conftest import eventually
from tests.helpers import Subscriber
from tests.proxy.conftest import AuthProxy

BARRIER_ROOM = rooms.DISPENSER_STATE.format(guid="barrier")
"""A room of its own; a client that received a value in it was sent everything published before."""


def fleet_state(name: str, *robots: str) -> dict[str, Any]:
    return {"name": name, "robots": {r: {"name": r, "battery": 0.5} for r in robots}}


def fleet_log(name: str, *robots: str) -> dict[str, Any]:
    entry = {"seq": 1, "tier": "info", "unix_millis_time": 1, "text": "moved"}
    return {"name": name, "log": [entry], "robots": {r: [entry] for r in robots}}


def task_state(task_id: str, fleet: str, robot: str) -> dict[str, Any]:
    return {"booking": {"id": task_id}, "assigned_to": {"group": fleet, "name": robot}}


def alert(alert_id: str, *, fleet: str = "", robot: str = "", task_id: str = "") -> dict[str, Any]:
    params = [{"name": "fleet", "value": fleet}] if fleet else []
    params += [{"name": "robot", "value": robot}] if robot else []
    return {"id": alert_id, "title": alert_id, "alert_parameters": params, "task_id": task_id}


def event(kind: str, fleet: str, robot: str) -> dict[str, Any]:
    return {"kind": kind, "fleet": fleet, "robot": robot, "task_id": None}


@dataclass
class Case:
    """Subscriptions with their expected answers, then publications and what each user gets."""

    subscribe: dict[str, dict[str, str]]
    """user → room → "ok" or the refusal (``not found``)."""
    publish: list[tuple[str, dict[str, Any]]]
    receive: dict[str, dict[str, list[dict[str, Any]]]]
    """user → room → the payloads received, in order."""
    before: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    """Published before anyone subscribes (e.g. the task a task room needs to exist)."""


def _open_room(room: str, data: dict[str, Any]) -> Case:
    """A room every authenticated user may read: both get everything."""
    return Case(
        subscribe={"alice": {room: "ok"}, "bob": {room: "ok"}},
        publish=[(room, data)],
        receive={"alice": {room: [data]}, "bob": {room: [data]}},
    )


def _device(template: RoomTemplate, kind: str) -> Case:
    a, b = template.format(name=f"{kind}_a"), template.format(name=f"{kind}_b")
    data_a, data_b = {f"{kind}_name": f"{kind}_a"}, {f"{kind}_name": f"{kind}_b"}
    return Case(
        subscribe={"alice": {a: "ok", b: NOT_FOUND}, "bob": {b: "ok", a: NOT_FOUND}},
        publish=[(a, data_a), (b, data_b)],
        receive={"alice": {a: [data_a]}, "bob": {b: [data_b]}},
    )


def _fleet(template: RoomTemplate, payload: Callable[..., dict[str, Any]]) -> Case:
    a, b = template.format(name="fleet_a"), template.format(name="fleet_b")
    full_a, full_b = payload("fleet_a", "a1", "a2"), payload("fleet_b", "b1")
    bobs_a = payload("fleet_a", "a2")
    if template is rooms.FLEET_LOG:
        del bobs_a["log"]  # fleet-wide entries are for readers of the whole fleet
    return Case(
        subscribe={"alice": {a: "ok", b: NOT_FOUND}, "bob": {a: "ok", b: "ok"}},
        publish=[(a, full_a), (b, full_b)],
        receive={"alice": {a: [full_a]}, "bob": {a: [bobs_a], b: [full_b]}},
    )


def _task(template: RoomTemplate) -> Case:
    a, b = template.format(task_id="task_a"), template.format(task_id="task_b")
    state_a, state_b = task_state("task_a", "fleet_a", "a1"), task_state("task_b", "fleet_b", "b1")
    before = [
        (rooms.TASK_STATE.format(task_id="task_a"), state_a),
        (rooms.TASK_STATE.format(task_id="task_b"), state_b),
    ]
    if template is rooms.TASK_STATE:
        data_a, data_b = {**state_a, "status": "underway"}, {**state_b, "status": "underway"}
    else:
        data_a, data_b = {"task_id": "task_a", "log": []}, {"task_id": "task_b", "log": []}
    return Case(
        before=before,
        subscribe={"alice": {a: "ok", b: NOT_FOUND}, "bob": {b: "ok", a: NOT_FOUND}},
        publish=[(a, data_a), (b, data_b)],
        receive={"alice": {a: [data_a]}, "bob": {b: [data_b]}},
    )


def _alerts_and_events(template: RoomTemplate) -> Case:
    room = template.pattern
    before = [(rooms.TASK_STATE.format(task_id="task_a"), task_state("task_a", "fleet_a", "a1"))]
    a1 = alert("alert_a1", fleet="fleet_a", robot="a1")
    a2 = alert("alert_a2", fleet="fleet_a", robot="a2")
    b1 = alert("alert_b1", fleet="fleet_b", robot="b1")
    task_a = alert("alert_task_a", task_id="task_a")
    site = alert("alert_site")
    if template is rooms.ALERT_REQUESTS:
        published = [a1, a2, b1, task_a, site]
        alice, bob = [a1, a2, task_a], [a2, b1]
    elif template is rooms.ALERT_RESPONSES:
        before += [(rooms.ALERT_REQUESTS.pattern, x) for x in (a1, a2, b1, task_a, site)]
        responses = {
            x["id"]: {"id": x["id"], "response": "resolved"} for x in (a1, a2, b1, task_a, site)
        }
        published = list(responses.values())
        alice = [responses[i] for i in ("alert_a1", "alert_a2", "alert_task_a")]
        bob = [responses[i] for i in ("alert_a2", "alert_b1")]
    else:
        e1, e2, e3 = (
            event("robot_offline", "fleet_a", "a1"),
            event("robot_offline", "fleet_a", "a2"),
            event("robot_offline", "fleet_b", "b1"),
        )
        published = [e1, e2, e3]
        alice, bob = [e1, e2], [e2, e3]
    return Case(
        before=before,
        subscribe={"alice": {room: "ok"}, "bob": {room: "ok"}},
        publish=[(room, data) for data in published],
        receive={"alice": {room: alice}, "bob": {room: bob}},
    )


def _command() -> Case:
    """Each user's own outcome; another's existing one is not found, and one not decided yet
    delivers only the subscriber's own outcome."""
    a, b, later = (rooms.COMMAND.format(key=k) for k in ("cmd_a", "cmd_b", "cmd_later"))
    outcome = {"status": "done", "response": {"success": True}}
    data_a, data_b = {**outcome, "requester": "alice"}, {**outcome, "requester": "bob"}
    return Case(
        before=[(a, {"status": "pending", "requester": "alice"}), (b, data_b)],
        subscribe={
            "alice": {a: "ok", b: NOT_FOUND, later: "ok"},
            "bob": {b: "ok", a: NOT_FOUND, later: "ok"},
        },
        publish=[(a, data_a), (later, data_b)],
        receive={"alice": {a: [data_a]}, "bob": {later: [data_b]}},
    )


CASES: dict[RoomTemplate, Callable[[], Case]] = {
    rooms.BUILDING_MAP: lambda: _open_room(
        rooms.BUILDING_MAP.pattern, {"name": "site", "levels": []}
    ),
    rooms.DOOR_STATE: lambda: _device(rooms.DOOR_STATE, "door"),
    rooms.LIFT_STATE: lambda: _device(rooms.LIFT_STATE, "lift"),
    rooms.DISPENSER_STATE: lambda: _open_room(
        rooms.DISPENSER_STATE.format(guid="dispenser_1"), {"guid": "dispenser_1", "mode": 0}
    ),
    rooms.INGESTOR_STATE: lambda: _open_room(
        rooms.INGESTOR_STATE.format(guid="ingestor_1"), {"guid": "ingestor_1", "mode": 0}
    ),
    rooms.FLEET_STATE: lambda: _fleet(rooms.FLEET_STATE, fleet_state),
    rooms.FLEET_LOG: lambda: _fleet(rooms.FLEET_LOG, fleet_log),
    rooms.TASK_STATE: lambda: _task(rooms.TASK_STATE),
    rooms.TASK_LOG: lambda: _task(rooms.TASK_LOG),
    rooms.ALERT_REQUESTS: lambda: _alerts_and_events(rooms.ALERT_REQUESTS),
    rooms.ALERT_RESPONSES: lambda: _alerts_and_events(rooms.ALERT_RESPONSES),
    rooms.BEACONS: lambda: _open_room(rooms.BEACONS.pattern, {"id": "beacon_1", "online": True}),
    rooms.BEACON_STATE: lambda: _open_room(
        rooms.BEACON_STATE.format(id="beacon_1"), {"id": "beacon_1", "online": True}
    ),
    rooms.EVENTS: lambda: _alerts_and_events(rooms.EVENTS),
    rooms.COMMAND: _command,
}


def _delivery_alerts() -> Case:
    """A delivery alert goes to readers of its task's robot."""
    room = rooms.DELIVERY_ALERTS.pattern
    of_task_a = {
        "id": "d1",
        "category": "missing",
        "tier": "warning",
        "action": "waiting",
        "task_id": "task_a",
        "message": "",
    }
    return Case(
        before=[(rooms.TASK_STATE.format(task_id="task_a"), task_state("task_a", "fleet_a", "a1"))],
        subscribe={"alice": {room: "ok"}, "bob": {room: "ok"}},
        publish=[(room, of_task_a)],
        receive={"alice": {room: [of_task_a]}, "bob": {room: []}},
    )


CASES[rooms.FIRE_ALARM_TRIGGER] = lambda: _open_room(
    rooms.FIRE_ALARM_TRIGGER.pattern, {"unix_millis_time": 1, "trigger": True}
)
CASES[rooms.RIOS] = lambda: _open_room(rooms.RIOS.pattern, {"id": "r", "type": "t", "data": {}})
CASES[rooms.DELIVERY_ALERTS] = _delivery_alerts


def _media(template: RoomTemplate) -> Case:
    """New media goes to readers of the robot its attachment concerned."""
    room = template.pattern

    def media(fleet: str, robot: str) -> dict[str, str]:
        return {"id": f"m_{robot}", "attached_to": "robot", "fleet": fleet, "robot": robot}

    a1, a2, b1 = media("fleet_a", "a1"), media("fleet_a", "a2"), media("fleet_b", "b1")
    return Case(
        before=[],
        subscribe={"alice": {room: "ok"}, "bob": {room: "ok"}},
        publish=[(room, data) for data in (a1, a2, b1)],
        receive={"alice": {room: [a1, a2]}, "bob": {room: [a2, b1]}},
    )


def _fleet_media() -> Case:
    """A fleet's media goes to readers of its robot; a fleet none of whose robots the user
    reads is not found."""
    a, b = rooms.FLEET_MEDIA.format(name="fleet_a"), rooms.FLEET_MEDIA.format(name="fleet_b")
    a1, a2, b1 = (
        {"id": f"m_{robot}", "attached_to": "robot", "fleet": fleet, "robot": robot}
        for fleet, robot in (("fleet_a", "a1"), ("fleet_a", "a2"), ("fleet_b", "b1"))
    )
    return Case(
        subscribe={"alice": {a: "ok", b: NOT_FOUND}, "bob": {a: "ok", b: "ok"}},
        publish=[(a, a1), (a, a2), (b, b1)],
        receive={"alice": {a: [a1, a2]}, "bob": {a: [a2], b: [b1]}},
    )


CASES[rooms.MEDIA] = lambda: _media(rooms.MEDIA)
CASES[rooms.ALERT_MEDIA] = lambda: _media(rooms.ALERT_MEDIA)
CASES[rooms.EVENT_MEDIA] = lambda: _media(rooms.EVENT_MEDIA)
CASES[rooms.FLEET_MEDIA] = _fleet_media
CASES[rooms.TASK_MEDIA] = lambda: _task(rooms.TASK_MEDIA)


def test_every_room_template_has_an_authorization_rule() -> None:
    missing = [t.pattern for t in rooms.TEMPLATES if t not in RULES]
    assert not missing, f"room templates without a rule in proxy/access.py: {missing}"


def _has_barrier(client: Subscriber) -> bool:
    return len(client.of(BARRIER_ROOM)) >= 1


async def barrier(proxy: AuthProxy, clients: dict[str, Subscriber]) -> None:
    """Publish to the barrier room and wait until every client has it."""
    seq = await proxy.publish(BARRIER_ROOM, {"guid": "barrier"})
    for client in clients.values():
        await eventually(functools.partial(_has_barrier, client))
    assert seq


@pytest.mark.parametrize("template", rooms.TEMPLATES, ids=lambda t: t.pattern)
async def test_each_user_receives_only_its_own_objects(
    auth_proxy: AuthProxy, template: RoomTemplate
) -> None:
    if template not in CASES:
        pytest.fail(f"no BOLA case for {template.pattern}: add its rule and a case here")
    case = CASES[template]()
    for room, data in case.before:
        await auth_proxy.publish(room, data)
    clients = {user: await auth_proxy.client(user) for user in ("alice", "bob")}
    for user, client in clients.items():
        assert (await client.subscribe(BARRIER_ROOM))["success"]
        for room, expected in case.subscribe[user].items():
            ack = await client.subscribe(room)
            answer = "ok" if ack["success"] else ack["error"]
            assert answer == expected, f"{user} subscribing to {room}"
    await barrier(auth_proxy, clients)  # what subscribing sent (current states) is in
    for client in clients.values():
        client.events.clear()
    for room, data in case.publish:
        await auth_proxy.publish(room, data)
    await barrier(auth_proxy, clients)
    for user, client in clients.items():
        got = {room: events for room, events in client.events.items() if room != BARRIER_ROOM}
        assert got == {room: events for room, events in case.receive[user].items() if events}, user
