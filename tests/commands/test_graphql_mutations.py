"""GraphQL mutations go through REST's command path: a key acts once, answers as REST does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from gql import Client as GqlClient
from gql import GraphQLRequest
from gql.client import AsyncClientSession
from gql.transport.aiohttp import AIOHTTPTransport
from gql.transport.exceptions import TransportQueryError

from fleetcore.contract.commands import request_id_for
from simulator import SimulatorService
from tests.commands.conftest import dispatch_body

DISPATCH = """
mutation($input: JSON!, $key: String) {
  dispatchTask(input: $input, idempotencyKey: $key) { command status response detail }
}
"""


@pytest.fixture
async def graphql(embedded: TestServer) -> AsyncIterator[AsyncClientSession]:
    transport = AIOHTTPTransport(url=str(embedded.make_url("/graphql")))
    async with GqlClient(transport=transport) as session:
        yield session


async def _dispatch(graphql: AsyncClientSession, body: dict[str, Any], key: str) -> Any:
    request = GraphQLRequest(DISPATCH, variable_values={"input": body, "key": key})
    return (await graphql.execute(request))["dispatchTask"]


async def test_a_dispatch_retried_with_its_key_is_executed_once(
    site: SimulatorService, graphql: AsyncClientSession
) -> None:
    first = await _dispatch(graphql, dispatch_body(), "g1")
    again = await _dispatch(graphql, dispatch_body(), "g1")

    assert first["status"] == "done"
    assert first["command"] == "g1"
    assert again == first
    assert site.commands.requests == {request_id_for("g1"): 1}


async def test_a_key_reused_for_another_request_is_refused_as_rest_refuses_it(
    site: SimulatorService, graphql: AsyncClientSession
) -> None:
    await _dispatch(graphql, dispatch_body(), "g2")
    with pytest.raises(TransportQueryError) as refused:
        await _dispatch(graphql, dispatch_body("lobby"), "g2")

    assert refused.value.errors is not None
    error = refused.value.errors[0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "different request" in error["message"]
    assert len(site.commands.requests) == 1


async def test_an_invalid_body_is_refused_before_anything_is_sent(
    site: SimulatorService, graphql: AsyncClientSession
) -> None:
    with pytest.raises(TransportQueryError) as refused:
        await _dispatch(graphql, {"type": "dispatch_task_request"}, "g3")

    assert refused.value.errors is not None
    assert refused.value.errors[0]["message"].startswith("request: Field required")
    assert site.commands.requests == {}


async def test_a_dispatched_task_is_cancelled_with_rmfs_answer(
    site: SimulatorService, graphql: AsyncClientSession
) -> None:
    dispatched = await _dispatch(graphql, dispatch_body(), "g4")
    task_id = dispatched["response"]["state"]["booking"]["id"]
    cancel = GraphQLRequest(
        'mutation($input: JSON!) { cancelTask(input: $input, idempotencyKey: "g5")'
        " { command status response } }",
        variable_values={"input": {"type": "cancel_task_request", "task_id": task_id}},
    )

    answer = (await graphql.execute(cancel))["cancelTask"]

    assert answer["command"] == "g5"
    assert answer["status"] == "done"
    assert answer["response"]["success"] is True
