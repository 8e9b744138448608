"""A VDA 5050 vehicle's controls as GraphQL mutations: through the hub to a vehicle on a real broker.

The site of ``test_controls_end_to_end.py`` (the embedded system, the master
control, simulated vehicles on a private Mosquitto; authentication off, so the
caller is an administrator), driven with gql. Who may use the controls, and
an RMF robot's control refused, are in ``tests/auth/test_graphql_bola.py``.
"""

from __future__ import annotations

from typing import Any

import pytest
from gql import Client as GqlClient
from gql import GraphQLRequest
from gql.client import AsyncClientSession
from gql.transport.aiohttp import AIOHTTPTransport

from fleetcore.settings import Settings
from tests.conftest import eventually
from tests.vda5050.conftest import Mosquitto
from tests.vda5050.test_controls_end_to_end import robot_state, vehicle
from tests.vda5050.test_end_to_end import FLEET, VdaSite, vda_site

pytestmark = pytest.mark.integration


async def _control(session: AsyncClientSession, control: str, robot: str, key: str) -> Any:
    document = (
        f'mutation($robot: String!, $key: String) {{ {control}(fleet: "{FLEET}", robot: $robot,'
        " idempotencyKey: $key) { command status response detail } }"
    )
    request = GraphQLRequest(document, variable_values={"robot": robot, "key": key})
    return (await session.execute(request))[control]


def _graphql(site: VdaSite) -> GqlClient:
    return GqlClient(transport=AIOHTTPTransport(url=str(site.server.make_url("/graphql"))))


async def test_a_vehicle_paused_and_resumed_over_graphql_each_once_per_key(
    settings: Settings, mosquitto: Mosquitto
) -> None:
    async with vda_site(settings, mosquitto.url) as site, _graphql(site) as session:
        paused = await _control(session, "pauseRobot", "agv3", "p1")
        again = await _control(session, "pauseRobot", "agv3", "p1")

        assert (paused["command"], paused["status"]) == ("p1", "done"), paused
        assert paused["response"]["success"] is True
        assert again == paused

        async def shown_paused() -> bool:
            state = await robot_state(site, "agv3")
            return bool(state.get("vda5050", {}).get("paused"))

        await eventually(shown_paused, timeout=10)
        assert vehicle(site, "agv3").paused

        resumed = await _control(session, "resumeRobot", "agv3", "r1")
        assert (resumed["status"], resumed["response"]["success"]) == ("done", True), resumed
        await eventually(lambda: not vehicle(site, "agv3").paused, timeout=10)


async def test_a_control_the_master_control_refuses_answers_its_reason(
    settings: Settings, mosquitto: Mosquitto
) -> None:
    async with vda_site(settings, mosquitto.url) as site, _graphql(site) as session:
        # agv1 and agv2 stand on the only chargers of the level.
        answer = await _control(session, "chargeRobot", "agv3", "c1")

    assert (answer["command"], answer["status"]) == ("c1", "failed"), answer
    assert "no free charger is reachable for agv3" in answer["response"]["errors"][0]["detail"]
