"""The BOLA matrix: two tenants by every REST operation the router serves.

Operations are enumerated from the route tables the app mounts; each needs
a case below, so a new route fails here until someone has said what its
objects are. For every operation that is not public: no token is 401; an
admin-only one is 403 for a user and open to an admin; every other one lets
a user act on their own group's objects, never shows them anything of the
other group, and answers 404 for the other group's object (no existence
leak). ``GRP`` in a case is replaced by the group under test, ``@name@`` by
an id the database chose for a seeded object.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest

from fleetcore.map_images import MapImageUrls
from fleetcore.media import MEDIA_UPLOADS_PATH
from fleetcore.settings import Settings
from rest_api.app import ROUTE_TABLES
from rest_api.graphql.context import GRAPHQL_PATH
from rest_api.registry import Operation
from tests.auth.conftest import GROUPS, PASSWORD, ROOT, USERS, World
from tests.helpers import JWT_SECRET

pytestmark = pytest.mark.integration

AUTHORIZED_NOT = (401, 403, 404)
"""An own object may still be answered 400/409/422/503 (no hub here): what counts is that
authorization let the request through."""


@dataclass(frozen=True)
class Case:
    path: str
    body: Any = None
    params: tuple[tuple[str, str], ...] = ()
    owned: bool = False
    """The path or body names one object of group GRP: the other group's is a 404."""
    shared: bool = False
    """Every authenticated user sees the same thing (the building, dispensers...)."""


def _task_command(kind: str, **fields: Any) -> Case:
    return Case(f"/tasks/{kind}", body={"type": f"{kind}_request", **fields}, owned=True)


DISPATCH = {"category": "patrol", "description": {}, "fleet_name": "GRP_fleet"}
SCHEDULE = {"task_request": DISPATCH, "schedules": [{"period": "day", "at": "09:00"}]}

IMAGE = "/building_map/images/" + "0" * 64
MEDIA = "/media/ghost/content"
MEDIA_THUMB = "/media/ghost/thumbnail"


def _signed(path: str) -> tuple[tuple[str, str], ...]:
    """The query of a signed image URL (the map gives it; no token is needed with it)."""
    urls = MapImageUrls.from_settings(Settings(jwt_secret=JWT_SECRET))
    query = parse_qs(urlsplit(urls.url(path, "", urls.period())).query)
    return tuple((name, values[0]) for name, values in query.items())


CASES: dict[str, Case] = {
    "get_building_map": Case("/building_map", shared=True),
    "get_building_map_image": Case(IMAGE, params=_signed(IMAGE), shared=True),
    "get_doors": Case("/doors"),
    "query_media": Case("/media"),
    "get_media": Case("/media/GRP_media", owned=True),
    "get_media_content": Case(MEDIA, params=_signed(MEDIA), shared=True),
    "get_media_thumbnail": Case(MEDIA_THUMB, params=_signed(MEDIA_THUMB), shared=True),
    "issue_device_token": Case("/admin/device_tokens", body={"fleet": "alpha_fleet"}),
    "get_device_tokens": Case("/admin/device_tokens"),
    "revoke_device_token": Case("/admin/device_tokens/ghost"),
    "get_door_state": Case("/doors/GRP_door/state", owned=True),
    "get_lifts": Case("/lifts"),
    "get_lift_state": Case("/lifts/GRP_lift/state", owned=True),
    "get_dispensers": Case("/dispensers", shared=True),
    "get_dispenser_state": Case("/dispensers/dispenser_1/state", shared=True),
    "get_ingestors": Case("/ingestors", shared=True),
    "get_ingestor_state": Case("/ingestors/ingestor_1/state", shared=True),
    "get_beacons": Case("/beacons", shared=True),
    "save_beacon_state": Case(
        "/beacons",
        params=(
            ("beacon_id", "b"),
            ("online", "true"),
            ("category", "c"),
            ("activated", "false"),
            ("level", "L1"),
        ),
    ),
    "get_previous_fire_alarm_trigger": Case(
        "/building_map/previous_fire_alarm_trigger", shared=True
    ),
    "reset_fire_alarm_trigger": Case("/building_map/reset_fire_alarm_trigger"),
    "query_rios": Case("/rios", shared=True),
    "put_rio": Case("/rios", body={"id": "r", "type": "t", "data": {}}),
    "unlock_mutex_group": Case(
        "/fleets/GRP_fleet/unlock_mutex_group",
        params=(("robot_name", "GRP_r1"), ("mutex_group", "m")),
        owned=True,
    ),
    "respond_to_delivery_alert": Case(
        "/delivery_alerts/d1/response",
        params=(
            ("category", "missing"),
            ("tier", "warning"),
            ("task_id", "GRP_task"),
            ("action", "resume"),
            ("message", ""),
        ),
        owned=True,
    ),
    "get_beacon": Case("/beacons/beacon_1", shared=True),
    "get_fleets": Case("/fleets"),
    "get_fleet_state": Case("/fleets/GRP_fleet/state", owned=True),
    "get_fleet_log": Case("/fleets/GRP_fleet/log", owned=True),
    "query_task_states": Case("/tasks"),
    "get_task_state": Case("/tasks/GRP_task/state", owned=True),
    "get_task_log": Case("/tasks/GRP_request/log", owned=True),
    "create_new_alert": Case("/alerts/request", body={"id": "x"}),
    "get_alert": Case("/alerts/request/GRP_robot_alert", owned=True),
    "respond_to_alert": Case(
        "/alerts/request/GRP_robot_alert/respond", params=(("response", "ok"),), owned=True
    ),
    "get_alert_response": Case("/alerts/request/GRP_task_alert/response", owned=True),
    "get_alerts_of_task": Case(
        "/alerts/requests/task/GRP_request", params=(("unresponded", "false"),)
    ),
    "get_unresponded_alerts": Case("/alerts/unresponded_requests"),
    "query_events": Case("/events"),
    "get_robot_history": Case("/robots/GRP_fleet/GRP_r1/history", owned=True),
    "post_dispatch_task": Case(
        "/tasks/dispatch_task",
        body={"type": "dispatch_task_request", "request": DISPATCH},
        owned=True,
    ),
    "post_robot_task": Case(
        "/tasks/robot_task",
        body={
            "type": "robot_task_request",
            "robot": "GRP_r1",
            "fleet": "GRP_fleet",
            "request": {"category": "patrol", "description": {}},
        },
        owned=True,
    ),
    "post_cancel_task": _task_command("cancel_task", task_id="GRP_task"),
    "post_kill_task": _task_command("kill_task", task_id="GRP_task"),
    "post_interrupt_task": _task_command("interrupt_task", task_id="GRP_task"),
    "post_resume_task": _task_command("resume_task", for_task="GRP_task", for_tokens=["t"]),
    "post_rewind_task": _task_command("rewind_task", task_id="GRP_task", phase_id=0),
    "post_skip_phase": Case(
        "/tasks/skip_phase",
        body={"type": "skip_phase_request", "task_id": "GRP_task", "phase_id": 0},
        owned=True,
    ),
    "post_undo_skip_phase": Case(
        "/tasks/undo_skip_phase",
        body={"type": "undo_phase_skip_request", "for_task": "GRP_task", "for_tokens": ["t"]},
        owned=True,
    ),
    "post_task_discovery": Case("/tasks/task_discovery", body={"type": "task_discovery_request"}),
    "post_door_request": Case("/doors/GRP_door/request", body={"mode": 2}, owned=True),
    "post_lift_request": Case(
        "/lifts/GRP_lift/request",
        body={"request_type": 1, "door_mode": 2, "destination": "L1"},
        owned=True,
    ),
    "get_command": Case("/commands/GRP_command", owned=True),
    "decommission_robot": Case(
        "/fleets/GRP_fleet/decommission", params=(("robot_name", "GRP_r1"),)
    ),
    "recommission_robot": Case(
        "/fleets/GRP_fleet/recommission", params=(("robot_name", "GRP_r1"),)
    ),
    "pause_robot": Case("/fleets/GRP_fleet/robots/GRP_r1/pause", owned=True),
    "resume_robot": Case("/fleets/GRP_fleet/robots/GRP_r1/resume", owned=True),
    "charge_robot": Case("/fleets/GRP_fleet/robots/GRP_r1/charge", owned=True),
    "clear_robot_reservations": Case("/fleets/GRP_fleet/robots/GRP_r1/clear_reservations"),
    "get_task_request": Case("/tasks/GRP_task/request", owned=True),
    "query_task_requests": Case("/tasks/requests", params=(("task_ids", "GRP_task"),)),
    "post_scheduled_task": Case("/scheduled_tasks", body=SCHEDULE, owned=True),
    "get_scheduled_tasks": Case("/scheduled_tasks"),
    "get_scheduled_task": Case("/scheduled_tasks/@GRP_scheduled@", owned=True),
    "del_scheduled_task": Case("/scheduled_tasks/@GRP_scheduled@", owned=True),
    "del_scheduled_tasks_event": Case(
        "/scheduled_tasks/@GRP_scheduled@/clear",
        params=(("event_date", "2030-01-01T00:00:00Z"),),
        owned=True,
    ),
    "add_except_date": Case(
        "/scheduled_tasks/@GRP_scheduled@/except_date",
        body={"except_date": "2030-01-01T00:00:00Z"},
        owned=True,
    ),
    "get_task_booking_label": Case("/tasks/GRP_task/booking_label", owned=True),
    "update_schedule_task": Case(
        "/scheduled_tasks/@GRP_scheduled@/update", body=SCHEDULE, owned=True
    ),
    "post_favorite_task": Case(
        "/favorite_tasks",
        body={
            "id": "GRP_favorite",
            "name": "GRP favorite",
            "unix_millis_earliest_start_time": 0,
            "category": "patrol",
        },
        owned=True,
    ),
    "get_favorites_tasks": Case("/favorite_tasks"),
    "delete_favorite_task": Case("/favorite_tasks/GRP_favorite", owned=True),
    "get_time": Case("/time"),
    "get_healthz": Case("/healthz"),
    "get_readyz": Case("/readyz"),
    "get_metrics": Case("/metrics"),
    "post_token": Case("/auth/token", body={"username": "alice", "password": PASSWORD}),
    "get_user": Case("/user"),
    "get_permissions": Case("/permissions"),
    "get_users": Case("/admin/users"),
    "create_user": Case("/admin/users", body={"username": "carol"}),
    "get_admin_user": Case("/admin/users/alice"),
    "delete_user": Case("/admin/users/ghost"),
    "make_admin": Case("/admin/users/alice/make_admin", body={"admin": False}),
    "set_user_password": Case("/admin/users/alice/password", body={"password": "a new password"}),
    "add_user_role": Case("/admin/users/alice/roles", body={"name": "alpha_all"}),
    "delete_user_role": Case("/admin/users/alice/roles", body={"name": "alpha_all"}),
    "delete_user_role_by_path": Case("/admin/users/alice/roles/alpha_all"),
    "set_user_roles": Case("/admin/users/alice/roles", body=[{"name": "alpha_all"}]),
    "get_roles": Case("/admin/roles"),
    "create_role": Case("/admin/roles", body={"name": "new_role"}),
    "delete_role": Case("/admin/roles/ghost"),
    "get_role_permissions": Case("/admin/roles/alpha_all/permissions"),
    "add_role_permission": Case(
        "/admin/roles/alpha_all/permissions", body={"action": "robot_read", "authz_grp": "alpha"}
    ),
    "remove_role_permission": Case(
        "/admin/roles/alpha_all/permissions/remove",
        body={"action": "robot_read", "authz_grp": "alpha"},
    ),
    "delete_role_permission": Case(
        "/admin/roles/alpha_all/permissions", body={"action": "robot_read", "authz_grp": "alpha"}
    ),
    "get_security_groups": Case("/admin/security_groups"),
    "create_security_group": Case("/admin/security_groups", body={"name": "gamma"}),
    "get_security_group": Case("/admin/security_groups/alpha"),
    "delete_security_group": Case("/admin/security_groups/ghost"),
    "add_security_group_member": Case(
        "/admin/security_groups/alpha/members", body={"kind": "door", "name": "x"}
    ),
    "delete_security_group_member": Case(
        "/admin/security_groups/alpha/members", body={"kind": "door", "name": "x"}
    ),
    "get_audit": Case("/audit"),
    "get_openapi": Case("/openapi.json"),
    "get_dashboard": Case("/"),
    "get_dashboard_asset": Case("/assets/missing.js"),
    "get_dashboard_manifest": Case("/manifest.webmanifest"),
    "get_dashboard_icon": Case("/icons/missing.png"),
    "get_docs": Case("/docs"),
}

OPERATIONS: list[Operation] = [op for table in ROUTE_TABLES for op in table]


def _fill(text: str, group: str, ids: dict[str, str]) -> str:
    named = text.replace("GRP", group)
    return re.sub(r"@(\w+)@", lambda match: ids[match.group(1)], named)


def _body(body: Any, group: str, ids: dict[str, str]) -> Any:
    if body is None:
        return None
    return orjson.loads(_fill(orjson.dumps(body).decode(), group, ids))


async def _call(world: World, op: Operation, user: str | None, group: str) -> tuple[int, str]:
    case = CASES[op.operation_id]
    return await world.call(
        op.method,
        _fill(case.path, group, world.ids),
        user,
        body=_body(case.body, group, world.ids),
        **{k: _fill(v, group, world.ids) for k, v in case.params},
    )


def _other(group: str) -> str:
    return next(g for g in GROUPS if g != group)


def _guarded() -> list[Operation]:
    return [op for op in OPERATIONS if op.access is not None and not op.access.public]


def _tenant_operations() -> list[Operation]:
    """Deletions last, so every other operation still finds the object it names."""
    tenant = [op for op in _guarded() if op.access is not None and not op.access.admin]
    return sorted(tenant, key=lambda op: op.method == "delete")


def test_every_rest_operation_has_a_matrix_case_and_every_route_is_an_operation(
    world: World,
) -> None:
    missing = sorted(op.operation_id for op in OPERATIONS if op.operation_id not in CASES)
    assert not missing, f"add a BOLA matrix case for {missing}"
    declared = {(op.method.upper(), op.path) for op in OPERATIONS}
    # The tus upload routes authenticate devices as well as users; tests/media covers them.
    served = {
        (route.method, route.resource.canonical)
        for route in world.client.app.router.routes()
        if route.method != "HEAD"
        and route.resource is not None
        and not route.resource.canonical.startswith(MEDIA_UPLOADS_PATH)
    }
    # GraphQL authenticates itself, as REST does: tests/auth/test_graphql_bola.py.
    graphql = {("*", GRAPHQL_PATH), ("GET", f"{GRAPHQL_PATH}/schema.graphql")}
    assert served - declared == graphql


async def test_without_a_token_every_guarded_operation_is_401(world: World) -> None:
    answers = {op.operation_id: (await _call(world, op, None, "alpha"))[0] for op in _guarded()}
    assert {op: s for op, s in answers.items() if s != 401} == {}


async def test_public_operations_answer_without_a_token(world: World) -> None:
    public = [op for op in OPERATIONS if op.access is not None and op.access.public]
    answers = {op.operation_id: (await _call(world, op, None, "alpha"))[0] for op in public}
    assert {op: s for op, s in answers.items() if s in (401, 403)} == {}


async def test_admin_operations_are_403_for_users_and_open_to_admins(world: World) -> None:
    admin_only = [op for op in _guarded() if op.access is not None and op.access.admin]
    for_users = {
        op.operation_id: (await _call(world, op, "alice", "alpha"))[0] for op in admin_only
    }
    for_root = {op.operation_id: (await _call(world, op, ROOT, "alpha"))[0] for op in admin_only}
    assert {op: s for op, s in for_users.items() if s != 403} == {}
    assert {op: s for op, s in for_root.items() if s in (401, 403)} == {}


@pytest.mark.parametrize("group", GROUPS)
async def test_a_user_may_act_on_its_own_objects_and_sees_nothing_of_the_other_group(
    world: World, group: str
) -> None:
    user, other = USERS[group], _other(group)
    refused, leaked = {}, {}
    for op in _tenant_operations():
        status, text = await _call(world, op, user, group)
        if status in AUTHORIZED_NOT:
            refused[op.operation_id] = (status, text[:200])
        if other in text and not CASES[op.operation_id].shared:
            leaked[op.operation_id] = text[:300]
    assert refused == {}
    assert leaked == {}


@pytest.mark.parametrize("group", GROUPS)
async def test_another_groups_object_is_404_and_a_list_of_it_is_empty_of_it(
    world: World, group: str
) -> None:
    user, other = USERS[group], _other(group)
    wrong = {}
    for op in _tenant_operations():
        case = CASES[op.operation_id]
        status, text = await _call(world, op, user, other)
        if case.owned and status != 404:
            wrong[op.operation_id] = (status, text[:200])
        elif not case.owned and not case.shared and other in text and status < 400:
            wrong[op.operation_id] = (status, text[:200])
    assert wrong == {}
