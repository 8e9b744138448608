"""The BOLA rules over GraphQL, for every query field, mutation and subscription of the schema.

The same two-tenant world as the REST matrix (tests/auth/conftest.py), seeded
once for the module: every object of a tenant carries its group's name, so
"alice saw nothing of bravo" is "no answer to alice contains 'bravo'". Each
root field has a case in :data:`READS`, :data:`COMMANDS` or :data:`STREAMS`:
alice asking for bravo's object gets null, nothing, NOT_FOUND (FORBIDDEN where
REST needs an administrator) or no update, and asking for her own gets it.
``test_every_field_has_a_bola_case`` reads the served schema, so a field added
without a case fails here. ``nemo``, who holds no permission, is FORBIDDEN every
mutation, as REST's route-level access answers 403.

The world's API has no command channel: a command on one's own object passes
every check and is then UNAVAILABLE (REST's 503).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
import pytest
import pytest_asyncio
from aiohttp import WSMsgType
from gql import Client as GqlClient
from gql import GraphQLRequest
from gql.transport.aiohttp_websockets import AIOHTTPWebsocketsTransport
from gql.transport.exceptions import TransportQueryError

from fleetcore.auth import users
from fleetcore.auth.tokens import TokenVerifier
from fleetcore.contract.rooms import (
    ALERT_MEDIA,
    ALERT_REQUESTS,
    ALERT_RESPONSES,
    BEACONS,
    COMMAND,
    DELIVERY_ALERTS,
    EVENT_MEDIA,
    EVENTS,
    FLEET_LOG,
    FLEET_MEDIA,
    MEDIA,
    RIOS,
    TASK_LOG,
    TASK_MEDIA,
)
from fleetcore.store import models as db
from tests.auth.conftest import World
from tests.helpers import StandInHub

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

ROBOT = "fleet name state status taskId history { map } task { id requester }"
FLEET = f"name state robots {{ {ROBOT} }}"
TASK = (
    "id requester assignedGroup state request log latestLog { text } "
    "robot { name state task { id } } alerts { id data response { responder } }"
)
ALERT = "id taskId data response { responder }"
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


@dataclass(frozen=True)
class Read:
    """A query field: ``others`` (alice asking for bravo's) shows nothing of bravo; ``own`` shows
    alice hers. ``@alpha_scheduled``-style names stand for ids the database chose."""

    others: str
    own: str


@dataclass(frozen=True)
class SiteWide:
    """A query field over what no group owns (the building, its workcells): the same for all."""

    query: str


@dataclass(frozen=True)
class Command:
    """A mutation: ``others`` (alice on bravo's object) is refused with ``refused``; ``own`` (by
    ``owner``) passes the object's checks and ends as ``reached``."""

    others: str
    own: str
    refused: str = "NOT_FOUND"
    reached: str = "UNAVAILABLE"
    owner: str = "alice"


@dataclass(frozen=True)
class SiteWideCommand:
    """A mutation on what no group owns, open to whoever holds its permission anywhere: alice
    and bob both pass its checks and reach ``reached``."""

    mutation: str
    reached: str = "UNAVAILABLE"


@dataclass(frozen=True)
class Stream:
    """A subscription: alice subscribing to bravo's object (``others``) is NOT_FOUND; to her own
    (``own``) gets it. ``published`` (room, data) go on the bus first and ``own`` resumes from
    before them (``$since``): an update of bravo's published first must not be delivered first."""

    others: str | None
    own: str
    published: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class SiteWideStream:
    """A subscription to what no group owns: alice and bob get the same first update."""

    subscription: str


def _alert(group: str) -> dict[str, Any]:
    fleet, robot = f"{group}_fleet", f"{group}_r1"
    return {
        "id": f"{group}_live_alert",
        "unix_millis_alert_time": 1,
        "title": group,
        "responses_available": ["ok"],
        "alert_parameters": [{"name": "fleet", "value": fleet}, {"name": "robot", "value": robot}],
        "task_id": None,
    }


def _media(attached_to: str) -> dict[str, Any]:
    """New media of the group's robot, attached to ``attached_to``."""
    return {
        "id": "@group_media",
        "attached_to": attached_to,
        "attached_id": "@group_attached",
        "fleet": "@group_fleet",
        "robot": "@group_r1",
    }


def _both(room: str, data: Any) -> tuple[tuple[str, Any], ...]:
    """bravo's publication, then alpha's: ``data`` with ``@group`` standing for the group."""
    text = orjson.dumps(data).decode()
    return tuple(
        (room, orjson.loads(text.replace("@group", group))) for group in ("bravo", "alpha")
    )


def _input(body: dict[str, Any]) -> str:
    """A JSON object as a GraphQL input literal (keys unquoted)."""
    fields = ", ".join(f"{key}: {_literal(value)}" for key, value in body.items())
    return f"{{{fields}}}"


def _literal(value: Any) -> str:
    return _input(value) if isinstance(value, dict) else orjson.dumps(value).decode()


def _robot_command(name: str) -> Command:
    """A VDA 5050 control of bravo's robot, and of alice's (whose fleet is RMF's: a 409)."""

    def on(group: str) -> str:
        return f'{name}(fleet: "{group}_fleet", robot: "{group}_r1") {{ status }}'

    return Command(on("bravo"), on("alpha"), reached="CONFLICT")


def _group_command(name: str, arguments: str, body: dict[str, Any]) -> Command:
    """A command on bravo's object, and on alice's: ``@group`` stands for the group."""

    def on(group: str) -> str:
        given = f"{arguments}input: {_input(body)}".replace("@group", group)
        return f"{name}({given}) {{ status }}"

    return Command(on("bravo"), on("alpha"))


def _commission(name: str, **given: Any) -> Command:
    """Administrators only, as REST: alice is refused even on her own robot; root gets through."""

    def on(group: str) -> str:
        args = "".join(f", {key}: {_literal(value)}" for key, value in given.items())
        return f'{name}(fleet: "{group}_fleet", robotName: "{group}_r1"{args}) {{ status }}'

    return Command(on("bravo"), on("alpha"), refused="FORBIDDEN", owner="root")


def _administrators(mutation: str) -> Command:
    """A site-wide change for administrators only, as REST: alice is refused, root gets through."""
    return Command(mutation, mutation, refused="FORBIDDEN", owner="root")


def _delivery_alert(group: str) -> str:
    return (
        f'respondToDeliveryAlert(deliveryAlertId: "{group}_delivery", category: "missing", '
        f'tier: "warning", taskId: "{group}_task", action: "resume", message: "m") {{ status }}'
    )


def _unlock(group: str) -> str:
    return (
        f'unlockMutexGroup(fleet: "{group}_fleet", robotName: "{group}_r1", mutexGroup: "m") '
        "{ status }"
    )


READS: dict[str, Read | SiteWide] = {
    "position": SiteWide("position { seq epoch }"),
    "me": Read(
        "me { username isAdmin roles permissions { authzGrp action } }",
        "me { username isAdmin roles permissions { authzGrp action } }",
    ),
    "fleets": Read(f"fleets {{ {FLEET} }}", f"fleets {{ {FLEET} }}"),
    "fleet": Read(
        f'fleet(name: "bravo_fleet") {{ {FLEET} }} '
        f'shared: fleet(name: "shared_fleet") {{ {FLEET} }}',
        f'fleet(name: "alpha_fleet") {{ {FLEET} }}',
    ),
    "fleetLog": Read(
        'fleetLog(name: "bravo_fleet", between: "-600000") '
        'shared: fleetLog(name: "shared_fleet", between: "-600000")',
        'fleetLog(name: "alpha_fleet", between: "-600000")',
    ),
    "tasks": Read(
        f"tasks {{ edges {{ node {{ {TASK} }} }} }} "
        f'named: tasks(filter: {{taskId: ["bravo_task"]}}) {{ edges {{ node {{ id }} }} }}',
        f"tasks {{ edges {{ node {{ {TASK} }} }} }}",
    ),
    "task": Read(
        f'task(id: "bravo_task") {{ {TASK} }} request: task(id: "bravo_request") {{ id }}',
        f'task(id: "alpha_task") {{ {TASK} }}',
    ),
    "alert": Read(
        f'alert(id: "bravo_robot_alert") {{ {ALERT} }} '
        f'onTask: alert(id: "bravo_task_alert") {{ {ALERT} }}',
        f'alert(id: "alpha_robot_alert") {{ {ALERT} }}',
    ),
    "unrespondedAlerts": Read(
        f"unrespondedAlerts {{ {ALERT} }}", f"unrespondedAlerts {{ {ALERT} }}"
    ),
    "events": Read(
        'events { fleet robot detail } named: events(filter: {fleet: ["bravo_fleet"]}) { seq }',
        "events { fleet robot detail }",
    ),
    "buildingMap": SiteWide("buildingMap"),
    "doors": Read("doors { name map state }", "doors { name map state }"),
    "lifts": Read("lifts { name map state }", "lifts { name map state }"),
    "dispensers": SiteWide("dispensers { guid state }"),
    "dispenser": SiteWide('dispenser(guid: "dispenser_1") { guid state }'),
    "ingestors": SiteWide("ingestors { guid state }"),
    "ingestor": SiteWide('ingestor(guid: "ingestor_1") { guid state }'),
    "beacons": SiteWide("beacons"),
    "beacon": SiteWide('beacon(id: "beacon_1")'),
    "fireAlarmTrigger": SiteWide("fireAlarmTrigger"),
    "scheduledTasks": Read("scheduledTasks", "scheduledTasks"),
    "scheduledTask": Read(
        'scheduledTask(id: "@bravo_scheduled")', 'scheduledTask(id: "@alpha_scheduled")'
    ),
    "favoriteTasks": Read("favoriteTasks", "favoriteTasks"),
    "command": Read('command(key: "bravo_command")', 'command(key: "alpha_command")'),
}
"""Every Query field."""

PATROL = {"category": "patrol", "description": {}}
COMMANDS: dict[str, Command | SiteWideCommand] = {
    "dispatchTask": _group_command(
        "dispatchTask",
        "",
        {"type": "dispatch_task_request", "request": {**PATROL, "fleet_name": "@group_fleet"}},
    ),
    "robotTask": _group_command(
        "robotTask",
        "",
        {
            "type": "robot_task_request",
            "fleet": "@group_fleet",
            "robot": "@group_r1",
            "request": PATROL,
        },
    ),
    "cancelTask": _group_command(
        "cancelTask", "", {"type": "cancel_task_request", "task_id": "@group_task"}
    ),
    "killTask": _group_command(
        "killTask", "", {"type": "kill_task_request", "task_id": "@group_task"}
    ),
    "interruptTask": _group_command(
        "interruptTask", "", {"type": "interrupt_task_request", "task_id": "@group_task"}
    ),
    "resumeTask": _group_command(
        "resumeTask",
        "",
        {"type": "resume_task_request", "for_task": "@group_task", "for_tokens": ["t"]},
    ),
    "rewindTask": _group_command(
        "rewindTask", "", {"type": "rewind_task_request", "task_id": "@group_task", "phase_id": 0}
    ),
    "skipPhase": _group_command(
        "skipPhase", "", {"type": "skip_phase_request", "task_id": "@group_task", "phase_id": 0}
    ),
    "undoSkipPhase": _group_command(
        "undoSkipPhase",
        "",
        {"type": "undo_phase_skip_request", "for_task": "@group_task", "for_tokens": ["t"]},
    ),
    "doorRequest": _group_command("doorRequest", 'doorName: "@group_door", ', {"mode": 2}),
    "liftRequest": _group_command(
        "liftRequest",
        'liftName: "@group_lift", ',
        {"request_type": 1, "door_mode": 2, "destination": "L1"},
    ),
    # A response the alert does not offer: refused after the visibility check, nothing stored.
    "respondToAlert": Command(
        'respondToAlert(alertId: "bravo_robot_alert", response: "nope") { id }',
        'respondToAlert(alertId: "alpha_robot_alert", response: "nope") { id }',
        reached="BAD_REQUEST",
    ),
    "decommissionRobot": _commission(
        "decommissionRobot", reassignTasks=True, allowIdleBehavior=False
    ),
    "recommissionRobot": _commission("recommissionRobot"),
    # alpha_fleet is RMF's: past the robot's checks, a VDA 5050 control is refused (409).
    "pauseRobot": _robot_command("pauseRobot"),
    "resumeRobot": _robot_command("resumeRobot"),
    "chargeRobot": _robot_command("chargeRobot"),
    "clearRobotReservations": Command(
        'clearRobotReservations(fleet: "bravo_fleet", robot: "bravo_r1") { status }',
        'clearRobotReservations(fleet: "alpha_fleet", robot: "alpha_r1") { status }',
        refused="FORBIDDEN",
        reached="CONFLICT",
        owner="root",
    ),
    "taskDiscovery": SiteWideCommand(
        'taskDiscovery(input: {type: "task_discovery_request"}) { status }'
    ),
    # The robot holds no mutex group: past the robot's checks, REST's 400 says so.
    "unlockMutexGroup": Command(_unlock("bravo"), _unlock("alpha"), reached="BAD_REQUEST"),
    "respondToDeliveryAlert": Command(_delivery_alert("bravo"), _delivery_alert("alpha")),
    "resetFireAlarmTrigger": _administrators("resetFireAlarmTrigger { status }"),
    "putRio": _administrators('putRio(input: {id: "r", type: "t", data: {}}) { status }'),
    "saveBeaconState": _administrators(
        'saveBeaconState(beaconId: "b", online: true, category: "c", activated: false, '
        'level: "L1") { status }'
    ),
}
"""Every Mutation."""

UPDATE = "{ room seq data resync }"
STREAMS: dict[str, Stream | SiteWideStream] = {
    "fleetState": Stream('fleetState(name: "bravo_fleet")', 'fleetState(name: "alpha_fleet")'),
    "taskState": Stream('taskState(taskId: "bravo_task")', 'taskState(taskId: "alpha_task")'),
    "taskLog": Stream(
        'taskLog(taskId: "bravo_task")',
        'taskLog(taskId: "alpha_task", since: $since)',
        (
            (
                TASK_LOG.format(task_id="alpha_task"),
                {"id": "alpha_task", "log": [{"text": "alpha"}]},
            ),
        ),
    ),
    "doorState": Stream('doorState(name: "bravo_door")', 'doorState(name: "alpha_door")'),
    "liftState": Stream('liftState(name: "bravo_lift")', 'liftState(name: "alpha_lift")'),
    "alerts": Stream(
        None, "alerts(since: $since)", _both(ALERT_REQUESTS.pattern, _alert("@group"))
    ),
    "alertResponses": Stream(
        None,
        "alertResponses(since: $since)",
        _both(
            ALERT_RESPONSES.pattern,
            {"id": "@group_robot_alert", "response": "ok", "responder": "@group"},
        ),
    ),
    "events": Stream(
        None,
        "events(since: $since)",
        _both(
            EVENTS.pattern, {"kind": "robot_offline", "fleet": "@group_fleet", "robot": "@group_r1"}
        ),
    ),
    "dispenserState": SiteWideStream('dispenserState(guid: "dispenser_1")'),
    "ingestorState": SiteWideStream('ingestorState(guid: "ingestor_1")'),
    "fleetLog": Stream(
        'fleetLog(name: "bravo_fleet")',
        'fleetLog(name: "shared_fleet", since: $since)',
        (
            (
                FLEET_LOG.format(name="shared_fleet"),
                {
                    "name": "shared_fleet",
                    "log": [{"text": "fleet-wide"}],
                    "robots": {f"{g}_bot": [{"text": g}] for g in ("alpha", "bravo")},
                },
            ),
        ),
    ),
    "fireAlarmTrigger": SiteWideStream("fireAlarmTrigger"),
    "beaconState": SiteWideStream('beaconState(id: "beacon_1")'),
    "buildingMap": SiteWideStream("buildingMap"),
    # Site-wide logs, as socket.io's rooms: each user is delivered what is published.
    "beacons": Stream(None, "beacons(since: $since)", ((BEACONS.pattern, {"id": "alpha"}),)),
    "rios": Stream(None, "rios(since: $since)", ((RIOS.pattern, {"id": "alpha", "type": "t"}),)),
    # rmf-web's delivery alerts name only their task: shown to who reads the task.
    "deliveryAlerts": Stream(
        None,
        "deliveryAlerts(since: $since)",
        _both(DELIVERY_ALERTS.pattern, {"id": "@group_delivery", "task_id": "@group_task"}),
    ),
    "media": Stream(None, "media(since: $since)", _both(MEDIA.pattern, _media("robot"))),
    "alertMedia": Stream(
        None, "alertMedia(since: $since)", _both(ALERT_MEDIA.pattern, _media("alert"))
    ),
    "eventMedia": Stream(
        None, "eventMedia(since: $since)", _both(EVENT_MEDIA.pattern, _media("event"))
    ),
    "fleetMedia": Stream(
        'fleetMedia(name: "bravo_fleet")',
        'fleetMedia(name: "shared_fleet", since: $since)',
        tuple(
            (
                FLEET_MEDIA.format(name="shared_fleet"),
                {"id": f"{g}_media", "fleet": "shared_fleet", "robot": f"{g}_bot"},
            )
            for g in ("bravo", "alpha")
        ),
    ),
    "taskMedia": Stream(
        'taskMedia(taskId: "bravo_task")',
        'taskMedia(taskId: "alpha_task", since: $since)',
        (
            (
                TASK_MEDIA.format(task_id="alpha_task"),
                {"id": "alpha_media", "attached_to": "task", "attached_id": "alpha_task"},
            ),
        ),
    ),
    "command": Stream(
        'command(key: "bravo_command")',
        'command(key: "alpha_command")',
        (
            (
                COMMAND.format(key="alpha_command"),
                {"key": "alpha_command", "status": "done", "requester": "alice"},
            ),
        ),
    ),
}
"""Every Subscription."""


NOBODY = "nemo"
"""A user holding no permission on anything: every command route refuses them at once (403)."""


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(shared_world: World) -> World:
    await users.create_user(NOBODY)
    shared_world.tokens[NOBODY] = TokenVerifier(shared_world.settings).issue(NOBODY, 600)[0]
    return shared_world


async def _post(world: World, user: str | None, query: str) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {world.tokens[user]}"} if user else {}
    for name, value in world.ids.items():
        query = query.replace(f"@{name}", value)
    async with world.client.post("/graphql", json={"query": query}, headers=headers) as answer:
        return answer.status, await answer.json()


async def _data(world: World, user: str, query: str) -> Any:
    status, answer = await _post(world, user, query)
    assert (status, answer.get("errors")) == (200, None), answer
    return answer["data"]


async def _error(world: World, user: str, mutation: str) -> dict[str, Any]:
    status, answer = await _post(world, user, f"mutation {{ {mutation} }}")
    assert status == 200
    assert answer["data"] is None, answer
    error: dict[str, Any] = answer["errors"][0]
    return error


def _shows(value: Any, group: str) -> bool:
    return group in orjson.dumps(value).decode()


async def test_every_field_has_a_bola_case(world: World) -> None:
    """Read from the served schema: a field added without a case here fails this test."""
    query = """
    { __schema {
        queryType { fields { name } }
        mutationType { fields { name } }
        subscriptionType { fields { name } }
    } }
    """
    schema = (await _data(world, "root", query))["__schema"]

    def names(root: str) -> set[str]:
        return {field["name"] for field in schema[root]["fields"]}

    assert names("queryType") == set(READS)
    assert names("mutationType") == set(COMMANDS)
    assert names("subscriptionType") == set(STREAMS)


READ_CASES = [(name, case) for name, case in READS.items() if isinstance(case, Read)]


@pytest.mark.parametrize(("field", "case"), READ_CASES, ids=[name for name, _ in READ_CASES])
async def test_a_query_shows_nothing_of_another_group(world: World, field: str, case: Read) -> None:
    data = await _data(world, "alice", f"{{ {case.others} }}")

    assert not _shows(data, "bravo"), data


@pytest.mark.parametrize(("field", "case"), READ_CASES, ids=[name for name, _ in READ_CASES])
async def test_a_query_shows_the_users_own(world: World, field: str, case: Read) -> None:
    data = await _data(world, "alice", f"{{ {case.own} }}")

    assert _shows(data[field], "alpha"), data
    assert not _shows(data, "bravo"), data


SITE_WIDE = [(name, case) for name, case in READS.items() if isinstance(case, SiteWide)]


@pytest.mark.parametrize(("field", "case"), SITE_WIDE, ids=[name for name, _ in SITE_WIDE])
async def test_a_site_wide_query_is_the_same_for_every_group(
    world: World, field: str, case: SiteWide
) -> None:
    alices = await _data(world, "alice", f"{{ {case.query} }}")
    bobs = await _data(world, "bob", f"{{ {case.query} }}")

    assert alices[field] is not None
    assert alices == bobs


OBJECT_COMMANDS = [(name, case) for name, case in COMMANDS.items() if isinstance(case, Command)]


@pytest.mark.parametrize(
    ("field", "case"), OBJECT_COMMANDS, ids=[name for name, _ in OBJECT_COMMANDS]
)
async def test_a_mutation_on_another_groups_object_is_refused(
    world: World, field: str, case: Command
) -> None:
    error = await _error(world, "alice", case.others)

    assert error["extensions"]["code"] == case.refused, error


@pytest.mark.parametrize(
    ("field", "case"), OBJECT_COMMANDS, ids=[name for name, _ in OBJECT_COMMANDS]
)
async def test_a_mutation_on_the_users_own_object_passes_its_checks(
    world: World, field: str, case: Command
) -> None:
    error = await _error(world, case.owner, case.own)

    assert error["extensions"]["code"] == case.reached, error


SITE_WIDE_COMMANDS = [
    (name, case) for name, case in COMMANDS.items() if isinstance(case, SiteWideCommand)
]


@pytest.mark.parametrize(
    ("field", "case"), SITE_WIDE_COMMANDS, ids=[name for name, _ in SITE_WIDE_COMMANDS]
)
async def test_a_site_wide_mutation_passes_its_checks_for_every_group(
    world: World, field: str, case: SiteWideCommand
) -> None:
    for user in ("alice", "bob"):
        error = await _error(world, user, case.mutation)

        assert error["extensions"]["code"] == case.reached, (user, error)


def _mutation(case: Command | SiteWideCommand) -> str:
    return case.mutation if isinstance(case, SiteWideCommand) else case.own


@pytest.mark.parametrize(("field", "case"), COMMANDS.items(), ids=list(COMMANDS))
async def test_a_user_without_the_routes_permission_anywhere_is_forbidden_as_rest_answers_403(
    world: World, field: str, case: Command | SiteWideCommand
) -> None:
    """The REST route's access decides first: no object is looked at, none is named."""
    error = await _error(world, NOBODY, _mutation(case))

    assert error["extensions"]["code"] == "FORBIDDEN", error
    assert error["message"].startswith(f"{NOBODY} may not "), error


async def test_a_dispatch_without_task_submit_anywhere_is_refused_in_rests_words(
    world: World,
) -> None:
    body = {"type": "dispatch_task_request", "request": {**PATROL, "fleet_name": "nemo_fleet"}}
    status, detail = await world.call("POST", "/tasks/dispatch_task", NOBODY, body=body)

    error = await _error(world, NOBODY, f"dispatchTask(input: {_input(body)}) {{ status }}")

    assert status == 403
    assert error["message"] == orjson.loads(detail)["detail"]
    entries = await db.AuditEntry.filter(
        username=NOBODY, action="graphql_post_dispatch_task", detail__contains="nemo_fleet"
    ).values_list("status", "target")
    assert entries == [(403, "/graphql")]


STREAM_CASES = [(name, case) for name, case in STREAMS.items() if isinstance(case, Stream)]
OBJECT_STREAMS = [(name, case) for name, case in STREAM_CASES if case.others is not None]


@pytest.mark.parametrize(
    ("field", "case"), OBJECT_STREAMS, ids=[name for name, _ in OBJECT_STREAMS]
)
async def test_a_subscription_to_another_groups_object_is_not_found(
    world: World, field: str, case: Stream
) -> None:
    assert case.others is not None
    request = GraphQLRequest(f"subscription {{ {case.others} {UPDATE} }}")
    async with GqlClient(transport=_websocket(world, world.tokens["alice"])) as subscribed:
        with pytest.raises(TransportQueryError) as refused:
            async for _ in subscribed.subscribe(request):
                pass

    assert refused.value.errors is not None
    assert refused.value.errors[0]["extensions"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize(("field", "case"), STREAM_CASES, ids=[name for name, _ in STREAM_CASES])
async def test_a_subscription_delivers_the_users_own_and_nothing_of_another_group(
    world: World, field: str, case: Stream
) -> None:
    hub = StandInHub(world.bus)
    hub.seq = (await world.bus.position()).seq
    since = hub.seq
    for room, data in case.published:
        await hub.publish(room, data)
    update = await _first(world, "alice", case.own.replace("$since", str(since)))

    assert update["resync"] is None, update
    assert _shows(update["data"], "alpha"), update
    assert not _shows(update, "bravo"), update


SITE_WIDE_STREAMS = [
    (name, case) for name, case in STREAMS.items() if isinstance(case, SiteWideStream)
]


@pytest.mark.parametrize(
    ("field", "case"), SITE_WIDE_STREAMS, ids=[name for name, _ in SITE_WIDE_STREAMS]
)
async def test_a_site_wide_subscription_is_the_same_for_every_group(
    world: World, field: str, case: SiteWideStream
) -> None:
    alices = await _first(world, "alice", case.subscription)
    bobs = await _first(world, "bob", case.subscription)

    assert alices["data"] is not None
    assert alices == bobs


async def _first(world: World, user: str, subscription: str) -> dict[str, Any]:
    """The first update ``user`` is delivered."""
    request = GraphQLRequest(f"subscription {{ {subscription} {UPDATE} }}")
    async with GqlClient(transport=_websocket(world, world.tokens[user])) as subscribed:
        async for result in subscribed.subscribe(request):
            update: dict[str, Any] = next(iter(result.values()))
            return update
    raise AssertionError(f"{subscription} ended without an update")


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


async def test_a_subscribed_fleet_shows_only_readable_robots(world: World) -> None:
    session = GqlClient(transport=_websocket(world, world.tokens["alice"]))
    request = GraphQLRequest('subscription { fleetState(name: "shared_fleet") { data } }')
    async with session as subscribed:
        async for result in subscribed.subscribe(request):
            assert list(result["fleetState"]["data"]["robots"]) == ["alpha_bot"]
            break


async def test_an_admin_sees_both_groups(world: World) -> None:
    _, answer = await _post(world, "root", OTHERS)

    assert all(value is not None for value in answer["data"].values())


async def test_a_refused_mutation_is_in_the_audit_log(world: World) -> None:
    mutation = 'respondToAlert(alertId: "bravo_task_alert", response: "ok") { id }'
    await _error(world, "alice", mutation)

    entries = await db.AuditEntry.filter(
        username="alice", action="graphql_respond_to_alert", detail__contains="bravo_task_alert"
    ).values_list("status", "target")
    assert entries == [(404, "/graphql")]


async def test_a_robot_control_is_audited_under_its_rest_operation(world: World) -> None:
    await _error(world, "alice", 'clearRobotReservations(fleet: "f", robot: "audited") { status }')

    entries = await db.AuditEntry.filter(
        username="alice", action="graphql_clear_robot_reservations", detail__contains="audited"
    ).values_list("status", "target")
    assert entries == [(403, "/graphql")]


async def test_a_vda_control_of_an_rmf_robot_names_the_reason(world: World) -> None:
    error = await _error(world, "alice", _mutation(COMMANDS["pauseRobot"]))

    assert error["message"] == (
        "fleet alpha_fleet is not run by fleethub's VDA 5050 master control: RMF has no robot_pause"
    )


async def test_without_a_token_graphql_is_refused_as_rest_is(world: World) -> None:
    status, answer = await _post(world, None, "{ position { seq } }")

    assert status == 401
    assert answer == {"detail": "missing_token"}


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
