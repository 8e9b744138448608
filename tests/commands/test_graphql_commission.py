"""A robot's (de)commission over GraphQL: REST's checks and answers, executed once per key.

The embedded system with one simulated RMF fleet, as in ``test_task_control.py``
(authentication off: the caller is an administrator). Who may (de)commission and
use a robot's controls, and an RMF robot's VDA 5050 control refused with its
reason, are in ``tests/auth/test_graphql_bola.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestServer
from gql import Client as GqlClient
from gql import GraphQLRequest
from gql.client import AsyncClientSession
from gql.transport.aiohttp import AIOHTTPTransport

from fleetcore.contract.commands import request_id_for
from simulator import SimulatorService
from tests.commands.conftest import graphql_field, graphql_refusal
from tests.conftest import eventually

FLEET, ROBOT = "tinyRobot", "tinyRobot1"
DECOMMISSION = """
mutation($robot: String!, $key: String) {
  decommissionRobot(fleet: "tinyRobot", robotName: $robot, reassignTasks: true,
                    allowIdleBehavior: false, idempotencyKey: $key) {
    command status response detail
  }
}
"""
RECOMMISSION = """
mutation($key: String) {
  recommissionRobot(fleet: "tinyRobot", robotName: "tinyRobot1", idempotencyKey: $key) {
    command status response
  }
}
"""


@pytest.fixture
async def graphql(
    embedded: TestServer, site: SimulatorService
) -> AsyncIterator[AsyncClientSession]:
    """A gql session to the embedded system once the simulated fleet has reported."""
    await eventually(lambda: FLEET in site.simulation.fleets)
    transport = AIOHTTPTransport(url=str(embedded.make_url("/graphql")))
    async with GqlClient(transport=transport) as session:
        await eventually(lambda: _reported(session))
        yield session


async def _reported(session: AsyncClientSession) -> bool:
    answer = await session.execute(GraphQLRequest(f'{{ fleet(name: "{FLEET}") {{ name }} }}'))
    return answer["fleet"] is not None


async def test_a_decommission_retried_with_its_key_is_executed_once(
    site: SimulatorService, graphql: AsyncClientSession
) -> None:
    first = await graphql_field(graphql, DECOMMISSION, robot=ROBOT, key="c1")
    again = await graphql_field(graphql, DECOMMISSION, robot=ROBOT, key="c1")

    assert (first["command"], first["status"]) == ("c1", "done")
    assert first["response"]["commission"] == {"success": True}
    assert again == first
    assert site.commands.requests == {request_id_for("c1"): 1}


async def test_a_recommission_answers_rmfs_commission_response(
    site: SimulatorService, graphql: AsyncClientSession
) -> None:
    await graphql_field(graphql, DECOMMISSION, robot=ROBOT, key="c2")

    answer = await graphql_field(graphql, RECOMMISSION, key="c3")

    assert (answer["command"], answer["status"]) == ("c3", "done")
    assert answer["response"]["commission"] == {"success": True}


async def test_decommissioning_a_robot_never_seen_is_not_found_as_rest_answers(
    site: SimulatorService, graphql: AsyncClientSession
) -> None:
    error = await graphql_refusal(graphql, DECOMMISSION, robot="ghost", key="c4")

    assert error["extensions"]["code"] == "NOT_FOUND"
    assert error["message"] == f"Robot ghost not found in fleet {FLEET}"
    assert site.commands.requests == {}
