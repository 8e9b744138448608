"""Who may use a VDA 5050 robot's controls, and for which fleets: decided before the hub is asked.

The REST app alone, with authentication on, over the pass's database and
bus; the test publishes fleet states as the hub would. What the controls
do to vehicles is in ``tests/vda5050/test_controls_end_to_end.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from fleetcore.auth import Permission, users
from fleetcore.auth.tokens import TokenVerifier
from fleetcore.bus import Bus
from fleetcore.contract.rooms import FLEET_STATE
from fleetcore.contract.vda5050.marks import MARK
from fleetcore.settings import Settings
from rest_api.app import create_app
from tests.helpers import StandInHub

pytestmark = pytest.mark.integration

VDA = "agvs"
RMF = "rmf_fleet"


@dataclass
class Site:
    client: TestClient[web.Request, web.Application]
    verifier: TokenVerifier

    async def post(self, path: str, user: str) -> int:
        headers = {"Authorization": f"Bearer {self.verifier.issue(user, 600)[0]}"}
        async with self.client.post(path, headers=headers) as answer:
            return answer.status

    async def audit(self) -> list[tuple[str, str, str, int]]:
        headers = {"Authorization": f"Bearer {self.verifier.issue('root', 600)[0]}"}
        async with self.client.get("/audit", headers=headers) as answer:
            entries = await answer.json()
        return sorted((e["username"], e["action"], e["target"], e["status"]) for e in entries)


@pytest.fixture
async def site(auth_settings: Settings, database: None, bus: Bus) -> AsyncIterator[Site]:
    """Fleet ``agvs`` (VDA 5050: agv1, agv2) and ``rmf_fleet`` (r1). carol may read agv1 and
    give tasks to r1; dave may give tasks to agv1 and r1."""
    hub = StandInHub(bus)
    robot = {MARK: {"vehicle": "acme/1", "paused": False}}
    await hub.publish(
        FLEET_STATE.format(name=VDA),
        {"name": VDA, "robots": {"agv1": robot, "agv2": robot}, MARK: True},
    )
    await hub.publish(FLEET_STATE.format(name=RMF), {"name": RMF, "robots": {"r1": {}}})
    for group, members in (("readers", [f"{VDA}/agv1"]), ("movers", [f"{VDA}/agv1", f"{RMF}/r1"])):
        await users.create_group(group)
        for member in members:
            await users.add_member(group, "robot", member)
    for role, grants in (
        ("reader", [(Permission.robot_read, "readers")]),
        ("mover", [(Permission.robot_read, "movers"), (Permission.task_submit, "movers")]),
    ):
        await users.create_role(role)
        for permission, group in grants:
            await users.grant(role, permission.value, group)
    for user, roles in (("carol", ["reader"]), ("dave", ["mover"])):
        await users.create_user(user)
        for role in roles:
            await users.add_user_role(user, role)
    await users.create_user("root", is_admin=True)
    client: TestClient[web.Request, web.Application] = TestClient(
        TestServer(create_app(auth_settings, bus, manage_database=False), host="127.0.0.1", port=0)
    )
    await client.start_server()
    try:
        yield Site(client, TokenVerifier(auth_settings))
    finally:
        await client.close()


async def test_a_user_without_task_submit_on_the_robot_is_refused_and_audited(site: Site) -> None:
    assert await site.post(f"/fleets/{VDA}/robots/agv1/pause", "carol") == 403
    assert await site.audit() == [("carol", "pause_robot", f"/fleets/{VDA}/robots/agv1/pause", 403)]


async def test_a_robot_outside_the_users_groups_is_not_found(site: Site) -> None:
    assert await site.post(f"/fleets/{VDA}/robots/agv2/charge", "dave") == 404


async def test_a_robot_that_never_reported_is_not_found(site: Site) -> None:
    assert await site.post(f"/fleets/{VDA}/robots/agv9/pause", "root") == 404


async def test_a_robot_of_a_fleet_the_master_control_does_not_run_is_a_conflict(
    site: Site,
) -> None:
    assert await site.post(f"/fleets/{RMF}/robots/r1/resume", "dave") == 409


async def test_clearing_reservations_is_for_administrators(site: Site) -> None:
    assert await site.post(f"/fleets/{VDA}/robots/agv1/clear_reservations", "dave") == 403
