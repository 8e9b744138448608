"""Two tenants on one system, with authentication on: the world the auth tests run in.

Security group ``alpha`` names the fleet ``alpha_fleet``, one robot of the
shared fleet (``shared_fleet/alpha_bot``), ``alpha_door`` and ``alpha_lift``;
``bravo`` the same with bravo. Role ``alpha_all`` grants every permission but
admin on ``alpha``, and alice has it; bob has ``bravo_all``; root is an
admin. Every object of a tenant has its group's name in it, so "alice saw
nothing of bravo" is "no answer to alice contains 'bravo'".

The REST app runs on a real loopback port over the pass's database and bus
(``database`` and ``bus``: SQLite and the in-process bus, or a PostgreSQL
schema and Redis in the second pass); the tests publish on the bus, playing
the hub.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from argon2 import PasswordHasher

from fleetcore.auth import Permission, users
from fleetcore.auth.tokens import TokenVerifier
from fleetcore.bus import Bus
from fleetcore.contract.rooms import (
    BEACON_STATE,
    BUILDING_MAP,
    DISPENSER_STATE,
    DOOR_STATE,
    FIRE_ALARM_TRIGGER,
    FLEET_STATE,
    INGESTOR_STATE,
    LIFT_STATE,
    TASK_STATE,
)
from fleetcore.settings import Settings
from fleetcore.store import models as db
from rest_api.app import create_app
from tests.conftest import (
    authenticated,
    fresh_database_url,
    fresh_redis_prefix,
    opened_database,
    started_bus,
    suite_settings,
)
from tests.helpers import StandInHub, wall_clock_ms

Client = TestClient[web.Request, web.Application]
GROUPS = ("alpha", "bravo")
USERS = {"alpha": "alice", "bravo": "bob"}
ROOT = "root"
PASSWORD = "correct horse battery"


@dataclass
class World:
    client: Client
    settings: Settings
    tokens: dict[str, str]
    """Bearer tokens by username (alice, bob, root)."""
    ids: dict[str, str]
    """Ids the database chose for seeded objects, by name (``alpha_scheduled``)."""
    bus: Bus
    """The bus the tests publish on, playing the hub."""

    async def call(
        self, method: str, path: str, user: str | None, *, body: Any = None, **params: str
    ) -> tuple[int, str]:
        headers = {"Authorization": f"Bearer {self.tokens[user]}"} if user else {}
        kwargs: dict[str, Any] = {"headers": headers, "params": params}
        if body is not None:
            kwargs["data"] = orjson.dumps(body)
            headers["Content-Type"] = "application/json"
        async with self.client.request(method, path, **kwargs) as response:
            return response.status, await response.text()


async def _grant_all(group: str, user: str) -> None:
    await users.create_group(group)
    for kind, name in (
        ("fleet", f"{group}_fleet"),
        ("robot", f"shared_fleet/{group}_bot"),
        ("door", f"{group}_door"),
        ("lift", f"{group}_lift"),
    ):
        await users.add_member(group, kind, name)
    role = f"{group}_all"
    await users.create_role(role)
    for permission in Permission:
        if permission is not Permission.admin:
            await users.grant(role, permission.value, group)
    await _create_user(user)
    await users.add_user_role(user, role)


@functools.cache
def _password_hash() -> str:
    """One argon2 hash for every seeded user: hashing is slow on purpose, and tests are many."""
    return PasswordHasher().hash(PASSWORD)


async def _create_user(username: str, *, is_admin: bool = False) -> None:
    await users.create_user(username, is_admin=is_admin)
    await db.User.filter(username=username).update(password_hash=_password_hash())


class Hub(StandInHub):
    """Publishes and writes as the hub does, for the seeded world."""

    def __init__(self, bus: Bus) -> None:
        super().__init__(bus)
        self.ids: dict[str, str] = {}

    async def seed(self, group: str, requester: str) -> None:
        fleet, now = f"{group}_fleet", wall_clock_ms()
        await self.publish(FLEET_STATE.format(name=fleet), _fleet(fleet, f"{group}_r1"))
        await self.publish(DOOR_STATE.format(name=f"{group}_door"), {"door_name": f"{group}_door"})
        await self.publish(LIFT_STATE.format(name=f"{group}_lift"), {"lift_name": f"{group}_lift"})
        await self.task(f"{group}_task", fleet, f"{group}_r1", requester)
        await db.Media.create(
            id=f"{group}_media",
            sha256="0" * 64,
            size=1,
            content_type="image/jpeg",
            kind="image",
            attached_to="robot",
            attached_id=f"{fleet}/{group}_r1",
            fleet=fleet,
            robot=f"{group}_r1",
            unix_millis_capture_time=now,
            unix_millis_upload_time=now,
            uploaded_by=requester,
        )
        await self.task(f"{group}_request", None, None, requester)
        for task_id in (f"{group}_task", f"{group}_request"):
            await db.TaskLogEntry.create(
                task_id=task_id, log_seq=0, tier="info", unix_millis_time=now, text=group, seq=1
            )
        for log_fleet, robot in ((fleet, f"{group}_r1"), ("shared_fleet", f"{group}_bot")):
            await db.FleetLogEntry.create(
                fleet=log_fleet,
                robot=robot,
                log_seq=0,
                tier="info",
                unix_millis_time=now,
                text=group,
                seq=1,
            )
        alerts: list[tuple[str, list[tuple[str, str]], str | None]] = [
            (f"{group}_robot_alert", [("fleet", fleet), ("robot", f"{group}_r1")], None),
            (f"{group}_task_alert", [], f"{group}_request"),
        ]
        for alert_id, params, alert_task in alerts:
            data = {
                "id": alert_id,
                "unix_millis_alert_time": now,
                "title": group,
                "subtitle": "",
                "message": "",
                "display": True,
                "tier": "warning",
                "responses_available": ["ok"],
                "alert_parameters": [{"name": n, "value": v} for n, v in params],
                "task_id": alert_task,
            }
            await db.AlertRequest.create(
                id=alert_id,
                unix_millis_alert_time=now,
                task_id=alert_task,
                response_expected=True,
                condition=None,
                data=orjson.dumps(data).decode(),
                seq=None,
            )
        await db.DerivedEvent.create(
            seq=self.seq,
            kind="robot_offline",
            severity="error",
            fleet=fleet,
            robot=f"{group}_r1",
            task_id=None,
            unix_millis_time=now,
            data=orjson.dumps({"kind": "robot_offline", "fleet": fleet}).decode(),
        )
        await db.RobotPositionSample.create(
            fleet=fleet,
            robot=f"{group}_r1",
            unix_millis_time=now,
            map=f"{group}_map",
            x=0.0,
            y=0.0,
            yaw=0.0,
            status="idle",
            battery=1.0,
        )
        await db.AlertResponse.create(
            id=f"{group}_task_alert",
            unix_millis_response_time=now,
            response="ok",
            responder=requester,
            seq=None,
            data=orjson.dumps(
                {
                    "id": f"{group}_task_alert",
                    "unix_millis_response_time": now,
                    "response": "ok",
                    "responder": requester,
                }
            ).decode(),
        )
        request = {"category": "patrol", "description": {}, "fleet_name": fleet}
        await db.TaskRequest.create(
            task_id=f"{group}_task", request=orjson.dumps(request).decode(), command_key=group
        )
        scheduled = await db.ScheduledTask.create(
            task_request=orjson.dumps(request).decode(),
            schedules=orjson.dumps([{"period": "day", "at": "09:00"}]).decode(),
            except_dates="[]",
            created_by=requester,
            created_ms=now,
        )
        self.ids[f"{group}_scheduled"] = str(scheduled.id)
        await db.TaskFavorite.create(
            id=f"{group}_favorite",
            name=f"{group} favorite",
            unix_millis_earliest_start_time=0,
            category="patrol",
            user=requester,
        )
        await db.CommandRecord.create(
            key=f"{group}_command",
            kind="door_request",
            body="{}",
            requester=requester,
            status="done",
            request_id=f"{group}_request_id",
            response=None,
            epoch=1,
            created_ms=now,
            updated_ms=now,
        )

    async def task(
        self, task_id: str, fleet: str | None, robot: str | None, requester: str
    ) -> None:
        data: dict[str, Any] = {
            "booking": {"id": task_id, "requester": requester},
            "category": "patrol",
            "status": "queued",
        }
        if fleet is not None:
            data["assigned_to"] = {"group": fleet, "name": robot}
        pub = await self.publish(TASK_STATE.format(task_id=task_id), data)
        await db.TaskState.create(
            id=task_id,
            category="patrol",
            assigned_group=fleet,
            assigned_to=robot,
            status="queued",
            requester=requester,
            data=pub.data_json.decode(),
            seq=pub.seq,
        )


def _fleet(name: str, *robots: str) -> dict[str, Any]:
    return {
        "name": name,
        "robots": {
            robot: {
                "name": robot,
                "status": "idle",
                "battery": 1.0,
                "location": {"map": "L1", "x": 0.0, "y": 0.0, "yaw": 0.0},
            }
            for robot in robots
        },
    }


async def _seed_shared(hub: Hub) -> None:
    """What both tenants share: the building, the shared fleet, dispensers and ingestors."""
    await hub.publish(
        FLEET_STATE.format(name="shared_fleet"), _fleet("shared_fleet", "alpha_bot", "bravo_bot")
    )
    doors = [{"name": f"{g}_door"} for g in GROUPS]
    await hub.publish(
        BUILDING_MAP.pattern,
        {
            "name": "site",
            "levels": [{"name": "L1", "doors": doors}],
            "lifts": [{"name": f"{g}_lift"} for g in GROUPS],
        },
    )
    await hub.publish(DISPENSER_STATE.format(guid="dispenser_1"), {"guid": "dispenser_1"})
    await hub.publish(INGESTOR_STATE.format(guid="ingestor_1"), {"guid": "ingestor_1"})
    await hub.publish(BEACON_STATE.format(id="beacon_1"), {"id": "beacon_1", "online": True})
    await hub.publish(FIRE_ALARM_TRIGGER.pattern, {"unix_millis_time": 1, "trigger": False})
    await db.MapImage.create(sha256="0" * 64, content_type="image/png", data=b"png")


@contextlib.asynccontextmanager
async def seeded_world(auth_settings: Settings, bus: Bus) -> AsyncIterator[World]:
    """The two tenants seeded on the open database and ``bus``, their REST app on a loopback port."""
    hub = Hub(bus)
    await _seed_shared(hub)
    for group in GROUPS:
        await _grant_all(group, USERS[group])
        await hub.seed(group, USERS[group])
    await _create_user(ROOT, is_admin=True)
    verifier = TokenVerifier(auth_settings)
    tokens = {name: verifier.issue(name, 600)[0] for name in (*USERS.values(), ROOT)}
    app = create_app(auth_settings, bus, manage_database=False)
    client: Client = TestClient(TestServer(app, host="127.0.0.1", port=0))
    await client.start_server()
    try:
        yield World(client, auth_settings, tokens, hub.ids, bus)
    finally:
        await client.close()


@pytest.fixture
async def world(auth_settings: Settings, database: None, bus: Bus) -> AsyncIterator[World]:
    async with seeded_world(auth_settings, bus) as seeded:
        yield seeded


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared_world(
    tmp_path_factory: pytest.TempPathFactory, migrations_sql: str
) -> AsyncIterator[World]:
    """:func:`world` seeded once for a whole module, on stores of its own: for a module whose
    tests only read it, or change nothing another test reads (run it in the module's loop)."""
    directory = tmp_path_factory.mktemp("world")
    async with fresh_database_url(directory) as url, fresh_redis_prefix() as prefix:
        settings = authenticated(suite_settings(directory, url, prefix))
        async with (
            opened_database(settings, migrations_sql),
            started_bus(settings) as bus,
            seeded_world(settings, bus) as seeded,
        ):
            yield seeded
